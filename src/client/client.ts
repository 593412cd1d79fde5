/**
 * connect(url | options) -> Client: one TCP connection, NEGOTIATE, an authenticated session, and shares.
 * Layers (as go-smb2): Share/FileHandle -> Tree (TreeId, share encryption) -> Session (SessionId, keys) ->
 * Connection (message ids, credits, signing, TRANSFORM).
 */
import { Status } from '../protocol/nt-status.js';
import { Cipher } from '../protocol/smb2/constants.js';
import { Connection } from './connection.js';
import { clientError } from './errors.js';
import {
  authenticate,
  CIPHERS,
  DIALECTS,
  negotiate,
  type CipherName,
  type DialectName,
  type Negotiated,
  type Protection,
  type Session,
} from './session.js';
import { Share } from './share.js';
import { Tree } from './tree.js';

export interface ConnectOptions {
  host: string;
  /** Default 445. */
  port?: number;
  /** Default share for client.share(). */
  share?: string;
  domain?: string;
  user?: string;
  password?: string;
  /** The NT hash (16 bytes, or 32 hex digits) instead of a password. */
  ntHash?: Buffer | string;
  /** Default '2.0.2'. */
  minDialect?: DialectName;
  /** Default '3.1.1'. */
  maxDialect?: DialectName;
  /** 'desired' (default): sign whenever the session has a key; 'required': also demand it of the server. */
  signing?: Protection;
  /**
   * 'off' (default): encrypt only where the server demands it (session or share ENCRYPT_DATA); 'desired':
   * encrypt whenever the server can; 'required': fail unless everything is encrypted.
   */
  encryption?: Protection;
  /** 3.1.1 ciphers in order of preference; default GCM-128, CCM-128, GCM-256, CCM-256. */
  ciphers?: CipherName[];
  /** Per-request timeout (and connect timeout), ms; default 30 s. 0 = none. */
  timeoutMs?: number;
  /** Largest READ/WRITE the client issues (capped by the server's maxima); default 1 MiB. */
  ioSize?: number;
  /** READ/WRITE requests kept in flight by large transfers and streams; default 8. */
  concurrency?: number;
}

/** Facts about the connection after connect(). */
export interface ClientInfo {
  dialect: DialectName;
  signing: boolean;
  encryption: boolean;
  cipher: CipherName | undefined;
  maxReadSize: number;
  maxWriteSize: number;
  sessionId: bigint;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_IO_SIZE = 1024 * 1024;
const DEFAULT_CONCURRENCY = 8;
const SMALL_MTU = 65536;

/** Parses `smb://[domain;]user:pass@host[:port]/share[/...]` into options (percent-escapes decoded). */
export function parseSmbUrl(url: string | URL): ConnectOptions {
  const u = typeof url === 'string' ? new URL(url) : url;
  if (u.protocol !== 'smb:') throw new TypeError(`not an smb:// URL: ${u.protocol}`);
  const o: ConnectOptions = { host: u.hostname.replace(/^\[|\]$/g, '') };
  if (u.port) o.port = Number(u.port);
  let user = decodeURIComponent(u.username);
  const semi = user.indexOf(';');
  if (semi >= 0) {
    o.domain = user.slice(0, semi);
    user = user.slice(semi + 1);
  }
  if (user) o.user = user;
  if (u.password) o.password = decodeURIComponent(u.password);
  const share = decodeURIComponent(u.pathname).split('/').filter((s) => s !== '')[0];
  if (share) o.share = share;
  return o;
}

function dialectName(d: number): DialectName {
  const e = Object.entries(DIALECTS).find(([, v]) => v === d);
  return (e?.[0] ?? '3.1.1') as DialectName;
}

function parseNtHash(h: Buffer | string): Buffer {
  const b = typeof h === 'string' ? Buffer.from(h, 'hex') : h;
  if (b.length !== 16) throw new TypeError('ntHash must be 16 bytes (32 hex digits)');
  return b;
}

/** An SMB client: one connection and one session; shares are connected on first use. */
export class Client {
  private readonly shares = new Map<string, Share>();
  private closing: Promise<void> | undefined;

  /** @internal use connect(). */
  constructor(
    private readonly conn: Connection,
    private readonly session: Session,
    private readonly negotiated: Negotiated,
    private readonly options: Required<Pick<ConnectOptions, 'encryption' | 'ioSize' | 'concurrency'>> & { share: string | undefined },
  ) {}

  get info(): ClientInfo {
    const cipher = Object.entries(CIPHERS).find(([, v]) => v === this.conn.cipher)?.[0] as CipherName | undefined;
    return {
      dialect: dialectName(this.negotiated.dialect),
      signing: this.session.signing,
      encryption: this.session.encryptAll,
      cipher,
      maxReadSize: this.negotiated.maxReadSize,
      maxWriteSize: this.negotiated.maxWriteSize,
      sessionId: this.session.id,
    };
  }

  get host(): string {
    return this.conn.host;
  }

  /** The share `name` (or the URL's share); connected on first use. */
  share(name?: string): Share {
    const n = name ?? this.options.share;
    if (n === undefined || n === '') throw new TypeError('no share name given and none in the URL');
    if (this.closing) throw clientError(Status.CONNECTION_DISCONNECTED, 'ECONNRESET', `\\\\${this.conn.host}\\${n}`);
    const key = n.toLowerCase();
    let s = this.shares.get(key);
    if (!s) {
      s = new Share(n, (x) => this.connectTree(x));
      this.shares.set(key, s);
    }
    return s;
  }

  private async connectTree(name: string): Promise<Tree> {
    const info = await this.session.treeConnect(name, this.options.encryption);
    const largeMtu = this.conn.largeMtu;
    const cap = (serverMax: number) => Math.max(4096, Math.min(serverMax, largeMtu ? this.options.ioSize : SMALL_MTU));
    const transact = this.negotiated.maxTransactSize;
    return new Tree(this.session, info, {
      readSize: cap(this.negotiated.maxReadSize),
      writeSize: cap(this.negotiated.maxWriteSize),
      concurrency: this.options.concurrency,
      listSize: Math.max(4096, Math.min(transact, largeMtu ? 256 * 1024 : SMALL_MTU)),
    });
  }

  /** Share enumeration needs the srvsvc RPC interface over IPC$ (NetrShareEnum), which is not implemented yet. */
  async listShares(): Promise<never> {
    throw clientError(
      Status.NOT_SUPPORTED,
      'ENOTSUP',
      `\\\\${this.conn.host}: listing shares needs srvsvc (NetrShareEnum over IPC$), which smbkit's client does not implement yet`,
    );
  }

  /** Closes every handle and tree, logs off and closes the connection. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (!this.conn.closed) {
        await Promise.allSettled([...this.shares.values()].map((s) => s.disconnect()));
        await this.session.logoff().catch(() => undefined);
      }
      await this.conn.close();
    })();
    return this.closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Connects, negotiates and authenticates: `connect('smb://user:pass@host/share')` or `connect({ host, ... })`. */
export async function connect(target: string | URL | ConnectOptions, extra: Partial<ConnectOptions> = {}): Promise<Client> {
  const base = typeof target === 'string' || target instanceof URL ? parseSmbUrl(target) : target;
  const o: ConnectOptions = { ...base, ...extra };
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const signing = o.signing ?? 'desired';
  const encryption = o.encryption ?? 'off';
  const minDialect = DIALECTS[o.minDialect ?? '2.0.2'];
  const maxDialect = DIALECTS[o.maxDialect ?? '3.1.1'];
  if (minDialect === undefined || maxDialect === undefined) throw new TypeError('unknown dialect');
  const ciphers = (o.ciphers ?? ['aes-128-gcm', 'aes-128-ccm', 'aes-256-gcm', 'aes-256-ccm']).map((c) => {
    const v = CIPHERS[c];
    if (v === undefined) throw new TypeError(`unknown cipher ${c}`);
    return v;
  });
  if (o.password === undefined && o.ntHash === undefined && o.user) throw new TypeError('password or ntHash is required');
  const conn = await Connection.open({ host: o.host, port: o.port ?? 445, timeoutMs });
  try {
    const negotiated = await negotiate(conn, { minDialect, maxDialect, signing, encryption, ciphers: ciphers.length ? ciphers : [Cipher.AES128_GCM] });
    const session = await authenticate(
      conn,
      negotiated,
      {
        user: o.user ?? '',
        domain: o.domain ?? '',
        ...(o.password !== undefined ? { password: o.password } : {}),
        ...(o.ntHash !== undefined ? { ntHash: parseNtHash(o.ntHash) } : {}),
      },
      { signing, encryption },
    );
    return new Client(conn, session, negotiated, {
      encryption,
      ioSize: o.ioSize ?? DEFAULT_IO_SIZE,
      concurrency: Math.max(1, o.concurrency ?? DEFAULT_CONCURRENCY),
      share: o.share,
    });
  } catch (e) {
    conn.destroy();
    throw e;
  }
}


