import { randomBytes } from 'node:crypto';
import {
  computeMic,
  computeNtlmv2Response,
  encryptExportedSessionKey,
  lmv2Response,
  ntowfv1,
  ntowfv2,
} from '../crypto/ntlm.js';
import type { NtlmRole, NtlmSigner } from '../crypto/ntlm.js';
import { WireError } from '../errors.js';
import {
  AvFlags,
  AvId,
  DEFAULT_VERSION,
  NegotiateFlags,
  decodeAvPairs,
  decodeChallenge,
  encodeAuthenticate,
  encodeAvPairs,
  encodeNegotiate,
  findAv,
} from '../protocol/auth/ntlmssp.js';
import type { AvPair } from '../protocol/auth/ntlmssp.js';
import { nowFiletime } from '../util/filetime.js';
import { makeSigner } from './ntlm-server.js';

export interface ClientCredentials {
  /** Empty for an anonymous (null) session. */
  user: string;
  password?: string;
  /** The NT hash (NTOWFv1), instead of a password. */
  ntHash?: Buffer;
  domain?: string;
  workstation?: string;
  /** Written as MsvAvTargetName (e.g. "cifs/server"), when given. */
  targetName?: string;
}

const CLIENT_FLAGS =
  NegotiateFlags.UNICODE |
  NegotiateFlags.OEM |
  NegotiateFlags.REQUEST_TARGET |
  NegotiateFlags.SIGN |
  NegotiateFlags.SEAL |
  NegotiateFlags.NTLM |
  NegotiateFlags.ALWAYS_SIGN |
  NegotiateFlags.EXTENDED_SESSIONSECURITY |
  NegotiateFlags.VERSION |
  NegotiateFlags.NEGOTIATE_128 |
  NegotiateFlags.KEY_EXCH |
  NegotiateFlags.NEGOTIATE_56;

/** The client side of one NTLMv2 exchange, with key exchange and a MIC (MS-NLMP 3.1.5). */
export class NtlmClient {
  private readonly creds: ClientCredentials;
  private negotiateMsg: Buffer | undefined;
  /** Flags in effect after the CHALLENGE. */
  negotiatedFlags = 0;
  /** The exported session key after `authenticate`; empty for anonymous. */
  exportedSessionKey: Buffer = Buffer.alloc(0);

  constructor(creds: ClientCredentials) {
    if (creds.user !== '' && creds.password === undefined && creds.ntHash === undefined) {
      throw new RangeError('a password or an NT hash is needed');
    }
    this.creds = creds;
  }

  private get anonymous(): boolean {
    return this.creds.user === '';
  }

  negotiate(): Buffer {
    const flags = this.anonymous ? CLIENT_FLAGS | NegotiateFlags.ANONYMOUS : CLIENT_FLAGS;
    this.negotiateMsg = encodeNegotiate({ flags, domain: '', workstation: '', version: DEFAULT_VERSION });
    return this.negotiateMsg;
  }

  /** Answers the server's CHALLENGE_MESSAGE with an AUTHENTICATE_MESSAGE. */
  authenticate(challenge: Buffer): Buffer {
    if (this.negotiateMsg === undefined) throw new Error('negotiate() first');
    const chal = decodeChallenge(challenge);
    if ((chal.flags & NegotiateFlags.UNICODE) === 0) throw new WireError('server does not speak Unicode NTLMSSP');
    let flags = (chal.flags & CLIENT_FLAGS & ~NegotiateFlags.OEM) | NegotiateFlags.UNICODE;
    const c = this.creds;
    const domain = c.domain ?? '';
    const workstation = c.workstation ?? '';

    if (this.anonymous) {
      flags = (flags | NegotiateFlags.ANONYMOUS) & ~NegotiateFlags.KEY_EXCH;
      this.negotiatedFlags = flags >>> 0;
      return encodeAuthenticate({
        flags: flags >>> 0,
        lmChallengeResponse: Buffer.alloc(1),
        ntChallengeResponse: Buffer.alloc(0),
        domain: '',
        user: '',
        workstation,
        encryptedRandomSessionKey: Buffer.alloc(0),
        version: DEFAULT_VERSION,
        withMic: false,
      });
    }

    const serverPairs = chal.targetInfo.length > 0 ? decodeAvPairs(chal.targetInfo) : [];
    const serverTime = findAv(serverPairs, AvId.MsvAvTimestamp);
    const time = serverTime !== undefined && serverTime.length === 8 ? serverTime.readBigUInt64LE(0) : nowFiletime();
    // A MIC goes with a server timestamp (MS-NLMP 3.1.5.1.2); the client's pairs follow the server's.
    const withMic = serverTime !== undefined;
    const pairs: AvPair[] = serverPairs.filter((p) => p.id !== AvId.MsvAvFlags && p.id !== AvId.MsvAvTargetName);
    const oldFlags = findAv(serverPairs, AvId.MsvAvFlags);
    let avFlags = oldFlags !== undefined && oldFlags.length >= 4 ? oldFlags.readUInt32LE(0) : 0;
    if (withMic) avFlags |= AvFlags.MIC_PRESENT;
    if (avFlags !== 0) {
      const v = Buffer.alloc(4);
      v.writeUInt32LE(avFlags >>> 0);
      pairs.push({ id: AvId.MsvAvFlags, value: v });
    }
    if (c.targetName !== undefined) pairs.push({ id: AvId.MsvAvTargetName, value: Buffer.from(c.targetName, 'utf16le') });
    const targetInfo = encodeAvPairs(pairs);

    const ntHash = c.ntHash ?? ntowfv1(c.password ?? '');
    const responseKey = ntowfv2(ntHash, c.user, domain);
    const clientChallenge = randomBytes(8);
    const nt = computeNtlmv2Response(responseKey, chal.serverChallenge, clientChallenge, time, targetInfo);
    // With a timestamp the LM response is Z(24) (MS-NLMP 3.3.2).
    const lm = serverTime !== undefined ? Buffer.alloc(24) : lmv2Response(responseKey, chal.serverChallenge, clientChallenge);

    let exported: Buffer = nt.sessionBaseKey;
    let encryptedKey: Buffer = Buffer.alloc(0);
    if ((flags & NegotiateFlags.KEY_EXCH) !== 0) {
      exported = randomBytes(16);
      encryptedKey = encryptExportedSessionKey(nt.sessionBaseKey, exported);
    }
    this.exportedSessionKey = exported;
    this.negotiatedFlags = flags >>> 0;

    const msg = encodeAuthenticate({
      flags: flags >>> 0,
      lmChallengeResponse: lm,
      ntChallengeResponse: nt.ntChallengeResponse,
      domain,
      user: c.user,
      workstation,
      encryptedRandomSessionKey: encryptedKey,
      version: DEFAULT_VERSION,
      withMic,
    });
    if (withMic) computeMic(exported, this.negotiateMsg, challenge, msg).copy(msg, 72);
    return msg;
  }

  /** A fresh NTLM signer for messages sent by `role` (for SPNEGO's mechListMIC). */
  signer(role: NtlmRole): NtlmSigner | undefined {
    return makeSigner(this.exportedSessionKey, this.negotiatedFlags, role);
  }
}
