import { WireError } from '../errors.js';
import { NegState, Oid, decodeSpnego, encodeMechTypeList, encodeNegTokenInit, encodeNegTokenResp } from '../protocol/auth/spnego.js';
import { NtlmClient } from './ntlm-client.js';
import type { ClientCredentials } from './ntlm-client.js';

export type { ClientCredentials } from './ntlm-client.js';

/** Authentication refused by the server's SPNEGO answer (the SMB status usually says more). */
export class AuthenticationError extends Error {
  override readonly name = 'AuthenticationError';
}

/**
 * The client side of SESSION_SETUP authentication: SPNEGO-wrapped NTLMv2 with key exchange, MIC and mechListMIC.
 * `initial()` gives the first security buffer; `step()` takes each server buffer and gives the next one.
 */
export class ClientAuthenticator {
  private readonly ntlm: NtlmClient;
  private readonly mechTypes = [Oid.NTLMSSP];
  private readonly mechTypesDer = encodeMechTypeList([Oid.NTLMSSP]);
  private state: 'new' | 'negotiated' | 'authenticated' | 'done' = 'new';
  private sentMechListMIC = false;

  constructor(creds: ClientCredentials) {
    this.ntlm = new NtlmClient(creds);
  }

  initial(): Buffer {
    if (this.state !== 'new') throw new Error('initial() called twice');
    this.state = 'negotiated';
    return encodeNegTokenInit({ mechTypes: this.mechTypes, mechToken: this.ntlm.negotiate() });
  }

  /**
   * Takes the server's security buffer. After the CHALLENGE it returns the AUTHENTICATE token (done false); after
   * the final accept-completed (or an empty final buffer) it returns an empty token with done true.
   */
  step(serverToken: Buffer): { token: Buffer; done: boolean } {
    if (this.state === 'negotiated') {
      const resp = decodeSpnego(serverToken);
      if (resp.kind !== 'resp') throw new WireError('SPNEGO: expected NegTokenResp from the server');
      if (resp.negState === NegState.REJECT) throw new AuthenticationError('server rejected the negotiation');
      if (resp.supportedMech !== undefined && resp.supportedMech !== Oid.NTLMSSP) {
        throw new AuthenticationError(`server chose an unsupported mechanism ${resp.supportedMech}`);
      }
      if (resp.responseToken === undefined) throw new WireError('SPNEGO: no NTLM CHALLENGE in the server answer');
      const auth = this.ntlm.authenticate(resp.responseToken);
      const signer = this.ntlm.signer('client');
      const mechListMIC = signer?.mac(this.mechTypesDer);
      this.sentMechListMIC = mechListMIC !== undefined;
      this.state = 'authenticated';
      return {
        token: encodeNegTokenResp({ responseToken: auth, ...(mechListMIC !== undefined ? { mechListMIC } : {}) }),
        done: false,
      };
    }
    if (this.state === 'authenticated') {
      if (serverToken.length > 0) {
        const resp = decodeSpnego(serverToken);
        if (resp.kind !== 'resp') throw new WireError('SPNEGO: expected NegTokenResp from the server');
        if (resp.negState !== undefined && resp.negState !== NegState.ACCEPT_COMPLETED) {
          throw new AuthenticationError(`server answered negState ${resp.negState}`);
        }
        if (resp.mechListMIC !== undefined) {
          const verifier = this.ntlm.signer('server');
          if (verifier !== undefined && !verifier.verify(this.mechTypesDer, resp.mechListMIC)) {
            throw new AuthenticationError('server mechListMIC does not verify');
          }
        } else if (this.sentMechListMIC && resp.negState === undefined) {
          throw new AuthenticationError('incomplete final SPNEGO answer');
        }
      }
      this.state = 'done';
      return { token: Buffer.alloc(0), done: true };
    }
    throw new Error(`step() in state ${this.state}`);
  }

  get done(): boolean {
    return this.state === 'done';
  }

  /** The exported session key (16 bytes; empty for anonymous): the SMB session key. */
  sessionKey(): Buffer {
    return this.ntlm.exportedSessionKey;
  }
}
