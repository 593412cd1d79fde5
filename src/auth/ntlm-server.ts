import { randomBytes } from 'node:crypto';
import {
  NtlmSigner,
  bytesEqual,
  computeMic,
  decryptExportedSessionKey,
  ntowfv2,
  sealKey,
  signKey,
  verifyNtlmv2Response,
} from '../crypto/ntlm.js';
import type { NtlmRole } from '../crypto/ntlm.js';
import { Status } from '../protocol/nt-status.js';
import {
  AvFlags,
  AvId,
  DEFAULT_VERSION,
  NegotiateFlags,
  avString,
  decodeAuthenticate,
  decodeChallenge,
  decodeNegotiate,
  decodeNtlmv2Response,
  encodeAvPairs,
  encodeChallenge,
  findAv,
} from '../protocol/auth/ntlmssp.js';
import { nowFiletime } from '../util/filetime.js';
import type { UserStore } from './users.js';

/** Who a completed authentication says the peer is. */
export interface AuthIdentity {
  user: string;
  domain: string;
  /** The server's guest: a name that is no account (or "guest"), with or without a response. */
  guest: boolean;
  /** No credential at all: a null session (empty name), or a name that is no account with no response. */
  anonymous: boolean;
  /** The 16-byte exported session key; empty for anonymous and guest sessions (nothing to sign with). */
  sessionKey: Buffer;
}

export interface ServerAuthOptions {
  users: UserStore;
  netbiosName: string;
  netbiosDomain: string;
  dnsName: string;
  dnsDomain: string;
  /** An unknown user, or the user "guest", gets a guest session when true; else LOGON_FAILURE. */
  allowGuest: boolean;
  /** Null sessions (empty user, empty responses) log on when true; else LOGON_FAILURE. What they reach is the server's rule. */
  allowAnonymous: boolean;
}

export type NtlmServerResult =
  | { ok: true; identity: AuthIdentity }
  | { ok: false; status: number; reason: string };

/** The flags a client may ask for that this server grants when asked (MS-NLMP 3.2.5.1.1). */
const GRANTABLE =
  NegotiateFlags.REQUEST_TARGET |
  NegotiateFlags.SIGN |
  NegotiateFlags.SEAL |
  NegotiateFlags.ALWAYS_SIGN |
  NegotiateFlags.EXTENDED_SESSIONSECURITY |
  NegotiateFlags.VERSION |
  NegotiateFlags.NEGOTIATE_128 |
  NegotiateFlags.KEY_EXCH |
  NegotiateFlags.NEGOTIATE_56;

function fail(reason: string, status: number = Status.LOGON_FAILURE): NtlmServerResult {
  return { ok: false, status, reason };
}

/**
 * The server side of one NTLM exchange (NTLMv2 only): NEGOTIATE -> CHALLENGE, then AUTHENTICATE -> identity.
 * Malformed messages throw WireError; authentication failures are results.
 */
export class NtlmServer {
  private readonly opts: ServerAuthOptions;
  private readonly serverChallenge: Buffer;
  private negotiateMsg: Buffer | undefined;
  private challengeMsg: Buffer | undefined;
  private challengeFlags = 0;
  /** Flags in effect after AUTHENTICATE (challenge flags and the client's final flags). */
  negotiatedFlags = 0;
  /** The exported session key once authenticated with a known user; undefined otherwise. */
  exportedSessionKey: Buffer | undefined;
  /** `DOMAIN\user` named by the AUTHENTICATE message, once one arrived (for logs and throttling). */
  claimedUser: string | undefined;

  /** `serverChallenge` is for tests only; normally it is random. */
  constructor(opts: ServerAuthOptions, serverChallenge?: Buffer) {
    this.opts = opts;
    this.serverChallenge = serverChallenge ?? randomBytes(8);
  }

  /** Answers a NEGOTIATE_MESSAGE with a CHALLENGE_MESSAGE carrying the target info AV pairs. */
  challenge(negotiate: Buffer): Buffer {
    const neg = decodeNegotiate(negotiate);
    let flags = NegotiateFlags.NTLM | NegotiateFlags.TARGET_INFO | NegotiateFlags.TARGET_TYPE_SERVER;
    flags |= neg.flags & GRANTABLE;
    // Unicode whenever the client allows it; OEM only for a client that asks for nothing else.
    flags |= (neg.flags & NegotiateFlags.UNICODE) !== 0 || (neg.flags & NegotiateFlags.OEM) === 0
      ? NegotiateFlags.UNICODE
      : NegotiateFlags.OEM;
    const o = this.opts;
    const timestamp = Buffer.alloc(8);
    timestamp.writeBigUInt64LE(nowFiletime());
    const targetInfo = encodeAvPairs([
      avString(AvId.MsvAvNbDomainName, o.netbiosDomain),
      avString(AvId.MsvAvNbComputerName, o.netbiosName),
      avString(AvId.MsvAvDnsDomainName, o.dnsDomain),
      avString(AvId.MsvAvDnsComputerName, o.dnsName),
      { id: AvId.MsvAvTimestamp, value: timestamp },
    ]);
    const msg = encodeChallenge({
      flags: flags >>> 0,
      targetName: o.netbiosName,
      serverChallenge: this.serverChallenge,
      targetInfo,
      ...((flags & NegotiateFlags.VERSION) !== 0 ? { version: DEFAULT_VERSION } : {}),
    });
    this.negotiateMsg = Buffer.from(negotiate);
    this.challengeMsg = msg;
    this.challengeFlags = flags >>> 0;
    return msg;
  }

  /**
   * Resumes after a NEGOTIATE/CHALLENGE pair exchanged elsewhere (a captured exchange in tests): the next
   * `authenticate` checks against that CHALLENGE's server challenge and bytes.
   */
  static resume(opts: ServerAuthOptions, negotiate: Buffer, challenge: Buffer): NtlmServer {
    const chal = decodeChallenge(challenge);
    const s = new NtlmServer(opts, Buffer.from(chal.serverChallenge));
    s.negotiateMsg = Buffer.from(negotiate);
    s.challengeMsg = Buffer.from(challenge);
    s.challengeFlags = chal.flags;
    return s;
  }

  /** Checks an AUTHENTICATE_MESSAGE (MS-NLMP 3.2.5.1.2). */
  authenticate(authenticate: Buffer): NtlmServerResult {
    if (this.challengeMsg === undefined || this.negotiateMsg === undefined) {
      return fail('AUTHENTICATE before CHALLENGE', Status.INVALID_PARAMETER);
    }
    const auth = decodeAuthenticate(authenticate);
    this.claimedUser = auth.domain ? `${auth.domain}\\${auth.user}` : auth.user;
    this.negotiatedFlags = (auth.flags & this.challengeFlags) >>> 0;
    const lm = auth.lmChallengeResponse;
    const nt = auth.ntChallengeResponse;

    // MS-NLMP 3.2.5.1.2: anonymous is an empty user with an empty NT response and an empty (or Z(1)) LM response.
    // A name that is no account, with no response at all, offers no credential either (smbclient -N sends the local
    // user's name): a null session too, which the client, having given a name, hears as a guest logon (as Samba
    // answers it).
    const noResponse = nt.length === 0 && (lm.length === 0 || (lm.length === 1 && lm[0] === 0));
    if (noResponse && (auth.user === '' || this.opts.users.lookup(auth.user) === undefined)) {
      if (!this.opts.allowAnonymous) return fail('anonymous logon refused');
      return { ok: true, identity: { user: '', domain: '', guest: auth.user !== '', anonymous: true, sessionKey: Buffer.alloc(0) } };
    }
    if (nt.length === 0) return fail(`LM-only response from ${auth.domain}\\${auth.user} refused`);
    if (nt.length === 24) return fail(`NTLMv1 response from ${auth.domain}\\${auth.user} refused`);
    if (nt.length < 16 + 28) return fail(`malformed NT response from ${auth.domain}\\${auth.user}`);

    const guest = (): NtlmServerResult => ({
      ok: true,
      identity: { user: auth.user, domain: auth.domain, guest: true, anonymous: false, sessionKey: Buffer.alloc(0) },
    });
    if (auth.user.toLowerCase() === 'guest' && this.opts.allowGuest) return guest();
    const record = this.opts.users.lookup(auth.user);
    if (record === undefined) {
      if (this.opts.allowGuest) return guest();
      return fail(`unknown user ${auth.domain}\\${auth.user}`);
    }

    const blob = decodeNtlmv2Response(nt);
    // The client keys its response with the domain it typed; accept the common spellings of it.
    const domains = [...new Set([auth.domain, auth.domain.toUpperCase(), ''])];
    let sessionBaseKey: Buffer | undefined;
    for (const d of domains) {
      sessionBaseKey = verifyNtlmv2Response(ntowfv2(record.ntHash, record.name, d), this.serverChallenge, nt);
      if (sessionBaseKey !== undefined) break;
    }
    if (sessionBaseKey === undefined) return fail(`wrong password for ${auth.domain}\\${auth.user}`);

    // NTLMv2: KeyExchangeKey = SessionBaseKey.
    let exported = sessionBaseKey;
    if ((this.negotiatedFlags & NegotiateFlags.KEY_EXCH) !== 0) {
      if (auth.encryptedRandomSessionKey.length !== 16) return fail('KEY_EXCH without a 16-byte EncryptedRandomSessionKey');
      exported = decryptExportedSessionKey(sessionBaseKey, auth.encryptedRandomSessionKey);
    }

    const avFlags = findAv(blob.avPairs, AvId.MsvAvFlags);
    const micPresent = avFlags !== undefined && avFlags.length >= 4 && (avFlags.readUInt32LE(0) & AvFlags.MIC_PRESENT) !== 0;
    if (micPresent) {
      if (auth.mic === undefined || auth.micOffset === undefined) return fail('MsvAvFlags announces a MIC the message lacks');
      const zeroed = Buffer.from(authenticate);
      zeroed.fill(0, auth.micOffset, auth.micOffset + 16);
      const mic = computeMic(exported, this.negotiateMsg, this.challengeMsg, zeroed);
      if (!bytesEqual(mic, auth.mic)) return fail(`MIC mismatch for ${auth.domain}\\${auth.user}`);
    }

    this.exportedSessionKey = exported;
    return {
      ok: true,
      identity: { user: record.name, domain: auth.domain, guest: false, anonymous: false, sessionKey: exported },
    };
  }

  /**
   * The NTLM signer for messages sent by `role` (MS-NLMP 3.4.4.2), used for SPNEGO's mechListMIC. Undefined without
   * a session key or without extended session security.
   */
  signer(role: NtlmRole): NtlmSigner | undefined {
    return makeSigner(this.exportedSessionKey, this.negotiatedFlags, role);
  }
}

/** A fresh NtlmSigner for one direction, or undefined when there is nothing to sign with. */
export function makeSigner(exportedSessionKey: Buffer | undefined, flags: number, role: NtlmRole): NtlmSigner | undefined {
  if (exportedSessionKey === undefined || exportedSessionKey.length === 0) return undefined;
  if ((flags & NegotiateFlags.EXTENDED_SESSIONSECURITY) === 0) return undefined;
  const strength = (flags & NegotiateFlags.NEGOTIATE_128) !== 0 ? 128 : (flags & NegotiateFlags.NEGOTIATE_56) !== 0 ? 56 : 40;
  return new NtlmSigner(
    signKey(exportedSessionKey, role),
    sealKey(exportedSessionKey, role, strength),
    (flags & NegotiateFlags.KEY_EXCH) !== 0,
  );
}
