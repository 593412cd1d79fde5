import type { AuthIdentity, ServerAuthenticator } from '../auth/spnego-server.js';
import type { Connection } from './connection.js';
import type { Open } from './state/open.js';
import type { Tree } from './tree.js';

/**
 * One connection of a session (MS-SMB2 3.3.1.14, Session.ChannelList). The session's first connection is its first
 * channel; SMB 3.x clients bind more (multichannel, MS-SMB2 3.3.5.5.2). A channel is usable once it has its signing
 * key; until then a binding exchange is in progress on it.
 */
export interface Channel {
  readonly connection: Connection;
  /** Channel.SigningKey: the session's own key on its first channel, a key of the binding's own exchange on others. */
  signingKey: Buffer | undefined;
  /** The binding exchange in progress on this connection (absent on the first channel). */
  binding: { authenticator: ServerAuthenticator; preauthHash: Buffer | undefined } | undefined;
}

/** One SMB2 session (MS-SMB2 3.3.1.8). Keys are set once authentication completes. */
export class Session {
  readonly id: bigint;
  /** The dialect, signing algorithm and cipher of the connection that established the session (Session.Connection). */
  readonly dialect: number;
  readonly signingAlgorithm: number;
  readonly cipher: number;
  /** Session.ChannelList: the first entry is the connection the session was established on, while it lasts. */
  readonly channels: Channel[] = [];
  /** Where breaks went last; kept for a session whose channels are all gone (its opens may be durable). */
  private lastConnection: Connection;
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
    this.dialect = connection.dialect ?? 0;
    this.signingAlgorithm = connection.signingAlgorithm;
    this.cipher = connection.cipher;
    this.channels.push({ connection, signingKey: undefined, binding: undefined });
    this.lastConnection = connection;
  }

  /**
   * A live connection of the session: where its oplock and lease breaks go. The first usable channel; once every
   * channel is gone, the last one the session had.
   */
  get connection(): Connection {
    const live = this.channels.find((c) => c.binding === undefined);
    if (live) this.lastConnection = live.connection;
    return this.lastConnection;
  }

  /** The channel of a connection (usable or still binding), if the connection is one of the session's. */
  channel(conn: Connection): Channel | undefined {
    return this.channels.find((c) => c.connection === conn);
  }

  /** The session is served on this connection: its first channel, or a channel whose binding completed. */
  isBoundTo(conn: Connection): boolean {
    const c = this.channel(conn);
    return c !== undefined && c.binding === undefined;
  }

  /**
   * The key that signs on a connection (MS-SMB2 3.3.5.2.4, 3.3.4.1.1): Channel.SigningKey of the connection's
   * channel. 2.x sessions have one channel and sign with the session key.
   */
  signingKeyOn(conn: Connection): Buffer | undefined {
    const c = this.channel(conn);
    return c && c.binding === undefined ? c.signingKey : undefined;
  }

  /** Drops a connection's channel; true when no usable channel remains. */
  removeChannel(conn: Connection): boolean {
    const i = this.channels.findIndex((c) => c.connection === conn);
    if (i >= 0) this.channels.splice(i, 1);
    return !this.channels.some((c) => c.binding === undefined);
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
