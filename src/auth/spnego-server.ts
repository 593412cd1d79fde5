import { WireError } from '../errors.js';
import { Status } from '../protocol/nt-status.js';
import { MessageType, ntlmMessageType } from '../protocol/auth/ntlmssp.js';
import { NEG_HINT_NAME, NegState, Oid, decodeSpnego, encodeNegTokenInit, encodeNegTokenResp } from '../protocol/auth/spnego.js';
import { NtlmServer } from './ntlm-server.js';
import type { AuthIdentity, ServerAuthOptions } from './ntlm-server.js';

export type { AuthIdentity, ServerAuthOptions } from './ntlm-server.js';

/** Largest security buffer accepted in one step. */
const MAX_TOKEN = 64 * 1024;

export type AuthStep =
  | { kind: 'continue'; token: Buffer }
  | { kind: 'done'; token: Buffer; identity: AuthIdentity }
  | { kind: 'fail'; status: number; reason: string };

/** The SecurityBuffer of the SMB2 NEGOTIATE response: a NegTokenInit2 advertising NTLMSSP (MS-SPNG 3.2.5.2). */
export function spnegoInitToken(): Buffer {
  return encodeNegTokenInit({ mechTypes: [Oid.NTLMSSP], hintName: NEG_HINT_NAME });
}

type State = 'start' | 'await-negotiate' | 'challenged' | 'done' | 'failed';

/**
 * The server side of SESSION_SETUP authentication: SPNEGO (RFC 4178, MS-SPNG) around NTLMSSP, or raw NTLMSSP.
 * One instance per session setup; every step returns a result and never throws.
 */
export class ServerAuthenticator {
  private readonly ntlm: NtlmServer;
  private state: State = 'start';
  private raw = false;
  private mechTypesDer: Buffer | undefined;
  /** Set when the client's preferred mech was not NTLM: the mechListMIC then guards against downgrade. */
  private micRequired = false;

  /** `serverChallenge` is for tests only. */
  constructor(opts: ServerAuthOptions, serverChallenge?: Buffer) {
    this.ntlm = new NtlmServer(opts, serverChallenge);
  }

  /** The user the client claimed in its AUTHENTICATE message (undefined before it). */
  get claimedUser(): string | undefined {
    return this.ntlm.claimedUser;
  }

  step(token: Buffer): AuthStep {
    if (this.state === 'done' || this.state === 'failed') return this.fail('authentication already finished', Status.INVALID_PARAMETER);
    if (token.length === 0) return this.fail('empty security buffer', Status.INVALID_PARAMETER);
    if (token.length > MAX_TOKEN) return this.fail('security buffer too large', Status.INVALID_PARAMETER);
    try {
      return this.stepInner(token);
    } catch (e) {
      if (e instanceof WireError) return this.fail(`malformed token: ${e.message}`, Status.INVALID_PARAMETER);
      return this.fail(`authentication error: ${(e as Error).message}`, Status.LOGON_FAILURE);
    }
  }

  private fail(reason: string, status: number): AuthStep {
    this.state = 'failed';
    return { kind: 'fail', status, reason };
  }

  private stepInner(token: Buffer): AuthStep {
    const ntlmType = ntlmMessageType(token);
    if (ntlmType !== undefined) {
      if (this.state === 'start') this.raw = true;
      if (!this.raw) return this.fail('raw NTLMSSP inside a SPNEGO exchange', Status.INVALID_PARAMETER);
      return this.ntlmStep(token);
    }
    if (this.raw) return this.fail('SPNEGO inside a raw NTLMSSP exchange', Status.INVALID_PARAMETER);
    const neg = decodeSpnego(token);
    if (neg.kind === 'init') {
      if (this.state !== 'start') return this.fail('unexpected NegTokenInit', Status.INVALID_PARAMETER);
      if (!neg.mechTypes.includes(Oid.NTLMSSP)) return this.fail('client offers no NTLMSSP', Status.LOGON_FAILURE);
      this.mechTypesDer = neg.mechTypesDer;
      if (neg.mechTypes[0] === Oid.NTLMSSP && neg.mechToken !== undefined) {
        const r = this.ntlmStep(neg.mechToken);
        if (r.kind !== 'continue') return r;
        return { kind: 'continue', token: encodeNegTokenResp({ negState: NegState.ACCEPT_INCOMPLETE, supportedMech: Oid.NTLMSSP, responseToken: r.token }) };
      }
      // The optimistic token (if any) is for a mechanism we decline: pick NTLMSSP and ask for its first token.
      this.micRequired = neg.mechTypes[0] !== Oid.NTLMSSP;
      this.state = 'await-negotiate';
      return { kind: 'continue', token: encodeNegTokenResp({ negState: NegState.REQUEST_MIC, supportedMech: Oid.NTLMSSP }) };
    }
    if (this.state === 'start') return this.fail('NegTokenResp before NegTokenInit', Status.INVALID_PARAMETER);
    if (neg.negState === NegState.REJECT) return this.fail('client rejected the negotiation', Status.LOGON_FAILURE);
    if (neg.responseToken === undefined) return this.fail('NegTokenResp without a responseToken', Status.INVALID_PARAMETER);
    const r = this.ntlmStep(neg.responseToken);
    if (r.kind === 'fail') return r;
    if (r.kind === 'continue') {
      return { kind: 'continue', token: encodeNegTokenResp({ negState: NegState.ACCEPT_INCOMPLETE, responseToken: r.token }) };
    }
    // NTLM accepted: check the client's mechListMIC and answer with ours (RFC 4178 5, MS-SPNG 3.3.5.1).
    const clientSigner = this.ntlm.signer('client');
    const serverSigner = this.ntlm.signer('server');
    let mechListMIC: Buffer | undefined;
    if (clientSigner !== undefined && serverSigner !== undefined && this.mechTypesDer !== undefined) {
      if (neg.mechListMIC !== undefined) {
        if (!clientSigner.verify(this.mechTypesDer, neg.mechListMIC)) return this.fail('mechListMIC mismatch', Status.LOGON_FAILURE);
        mechListMIC = serverSigner.mac(this.mechTypesDer);
      } else if (this.micRequired) {
        return this.fail('mechListMIC required after mechanism renegotiation', Status.LOGON_FAILURE);
      }
    }
    return {
      kind: 'done',
      token: encodeNegTokenResp({ negState: NegState.ACCEPT_COMPLETED, ...(mechListMIC !== undefined ? { mechListMIC } : {}) }),
      identity: r.identity,
    };
  }

  /** One NTLMSSP message in; the raw NTLM answer out (CHALLENGE, or an empty buffer when done). */
  private ntlmStep(token: Buffer): AuthStep {
    const type = ntlmMessageType(token);
    if (type === MessageType.NEGOTIATE && (this.state === 'start' || this.state === 'await-negotiate')) {
      const challenge = this.ntlm.challenge(token);
      this.state = 'challenged';
      return { kind: 'continue', token: challenge };
    }
    if (type === MessageType.AUTHENTICATE && this.state === 'challenged') {
      const res = this.ntlm.authenticate(token);
      if (!res.ok) return this.fail(res.reason, res.status);
      this.state = 'done';
      return { kind: 'done', token: Buffer.alloc(0), identity: res.identity };
    }
    return this.fail(`unexpected NTLMSSP message (type ${type ?? 'none'}) in state ${this.state}`, Status.INVALID_PARAMETER);
  }
}
