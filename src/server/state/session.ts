import type { AuthIdentity, ServerAuthenticator } from '../../auth/spnego-server.js';
import type { Connection } from '../connection.js';
import type { Open } from './open.js';
import type { Tree } from './tree.js';

/** One SMB2 session (MS-SMB2 3.3.1.8). Keys are set once authentication completes. */
export class Session {
  readonly id: bigint;
  readonly connection: Connection;
  state: 'in-progress' | 'valid' | 'expired' = 'in-progress';
  identity: AuthIdentity | undefined;
  authenticator: ServerAuthenticator | undefined;
  /** SHA-512 chain over this session's SESSION_SETUP exchange (3.1.1 only). */
  preauthHash: Buffer | undefined;
  signingKey: Buffer | undefined;
  /** Client-to-server key (the server decrypts with it). */
  decryptionKey: Buffer | undefined;
  /** Server-to-client key. */
  encryptionKey: Buffer | undefined;
  applicationKey: Buffer | undefined;
  signingRequired = false;
  encryptData = false;
  readonly trees = new Map<number, Tree>();
  readonly opens = new Map<bigint, Open>();
  /** Blocking LOCKs of this session waiting for their ranges (capped by the access policy). */
  pendingLocks = 0;
  /** CHANGE_NOTIFYs of this session waiting for a change (capped by the access policy). */
  pendingNotifies = 0;
  private nextTreeId = 1;

  constructor(id: bigint, connection: Connection) {
    this.id = id;
    this.connection = connection;
  }

  allocTreeId(): number {
    while (this.trees.has(this.nextTreeId) || this.nextTreeId === 0 || this.nextTreeId === 0xffffffff) {
      this.nextTreeId = (this.nextTreeId + 1) >>> 0;
    }
    return this.nextTreeId++;
  }

  /**
   * Who the session's user is, as a durable open records it (Open.DurableOwner): the account name, upper-cased
   * (accounts are the server's own, whatever domain name the client sent).
   */
  get owner(): string {
    const id = this.identity;
    if (!id || id.anonymous) return '(ANONYMOUS)';
    if (id.guest) return '(GUEST)';
    return id.user.toUpperCase();
  }

  get userName(): string {
    return this.identity ? (this.identity.anonymous ? '(anonymous)' : this.identity.user) : '(none)';
  }
}
