/**
 * connect(url | options) -> Client: one TCP connection, NEGOTIATE, an authenticated session, and shares.
 * Layers (as go-smb2): Share/FileHandle -> Tree (TreeId, share encryption) -> Session (SessionId, keys) ->
 * Connection (message ids, credits, signing, TRANSFORM).
 */
import { TransportError, WireError } from '../errors.js';
import { decodeOplockBreakResponse, LeaseBreakFlags, type OplockBreakResponse } from '../protocol/smb2/commands/oplock-break.js';
import { MIN_POOLED } from '../util/buffer-pool.js';
import { Reader } from '../util/reader.js';
import { Status } from '../protocol/nt-status.js';
import { decodeNetrShareEnumResponse, encodeNetrShareEnumRequest, SRVSVC_SYNTAX, SrvsvcOpnum, StypeFlags, WinError } from '../protocol/rpc/srvsvc.js';
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
  type Credentials,
  type Negotiated,
  type NegotiateParams,
  type Protection,
  type Session,
} from './session.js';
import { SmbPipe, type PipeLimits } from './pipe.js';
import { RpcError, RpcPipe } from './rpc.js';
import { Share } from './share.js';
import { Tree } from './tree.js';

/** One share of `Client.listShares()`. */
export interface ShareEntry {
  name: string;
  /** The share's kind: shi1_type & STYPE_MASK (MS-SRVS 2.2.2.4). */
  type: 'disk' | 'printer' | 'device' | 'ipc';
  /** STYPE_SPECIAL: an administrative share (IPC$, ADMIN$, C$). */
  special: boolean;
  comment: string;
}

const SHARE_KINDS = ['disk', 'printer', 'device', 'ipc'] as const;

function shareEntry(name: string, type: number, comment: string): ShareEntry {
  // STYPE_MASK is the low byte; only the four values of MS-SRVS 2.2.2.4 exist there.
  const kind = SHARE_KINDS[type & 0xff] ?? 'disk';
  return { name, type: kind, special: (type & StypeFlags.SPECIAL) !== 0, comment };
}

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
  /** Largest READ/WRITE the client issues (capped by the server's maxima); default 8 MiB. */
  ioSize?: number;
  /**
   * READ/WRITE requests kept in flight by large transfers and streams; default enough for 16 MiB (2 of 8 MiB), and
   * for 32 MiB (4 of 8 MiB) in `upload`, at most 16.
   */
  concurrency?: number;
  /**
   * Reconnect when the connection is lost (MS-SMB2 3.2.4.4): a new connection with the same ClientGuid, a session
   * naming the old one as PreviousSessionId, the shares connected again and every durable or persistent handle
   * re-established (other handles fail with EBADF from then on). Requests made meanwhile wait for it. `true`
   * tries 30 times 1 s apart (a server restart); default off.
   */
  reconnect?: boolean | ReconnectOptions;
}

/** How long a reconnect keeps trying. */
export interface ReconnectOptions {
  /** Connection attempts before giving up; default 30. */
  attempts?: number;
  /** Pause between attempts, ms; default 1000. */
  delayMs?: number;
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
const DEFAULT_RECONNECT: Required<ReconnectOptions> = { attempts: 30, delayMs: 1000 };
// Few large requests cost far less CPU per byte than many small ones (Samba offers 8 MiB, as smbclient uses).
const DEFAULT_IO_SIZE = 8 * 1024 * 1024;
// Streams hand each chunk on (or hold the chunks written to them) until its request is done: more of them alive at
// once costs garbage collection (a 1 GiB write stream: ~0.15 s of user CPU with 16 MiB in flight, ~0.5-1.1 s with
// 32 MiB). upload reuses its buffers, and more WRITEs in flight keep the server's disk writes going (1 GiB to Samba:
// ~700 -> ~850 MB/s); download measured no better with more than 16 MiB.
const DEFAULT_IN_FLIGHT_BYTES = 16 * 1024 * 1024;
const DEFAULT_UPLOAD_IN_FLIGHT_BYTES = 32 * 1024 * 1024;
const MAX_DEFAULT_CONCURRENCY = 16;
const SMALL_MTU = 65536;
/** A page: more than the 80 bytes of headers (SMB2 and READ response) that come with a READ's data. */
const READ_HEADROOM = 4096;

/**
 * The READ length for a limit: responses are received into pooled buffers whose sizes are powers of two, so a READ
 * of exactly a power of two would take a buffer twice its size once its headers are added. One page less fits
 * (and offsets stay page-aligned): half the memory per READ in flight, and streams, whose every chunk is fresh
 * memory, allocate half as much (measured: a third less CPU for a 1 GiB read stream).
 */
function readLengthWithin(limit: number): number {
  return limit >= MIN_POOLED && (limit & (limit - 1)) === 0 ? limit - READ_HEADROOM : limit;
}

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

/** What a Client needs to connect again: the negotiate and authentication it did, and the reconnect policy. */
interface ClientParams {
  port: number;
  timeoutMs: number;
  negotiate: NegotiateParams;
  credentials: Credentials;
  signing: Protection;
  encryption: Protection;
  ioSize: number;
  /** Undefined: per tree, from its READ size. */
  concurrency: number | undefined;
  share: string | undefined;
  /** Undefined: no automatic reconnect. */
  reconnect: Required<ReconnectOptions> | undefined;
}

const DROP_CONNECTION = Symbol.for('smbkit.dropConnection');

/** An SMB client: one connection and one session; shares are connected on first use. */
export class Client {
  private readonly shares = new Map<string, Share>();
  private readonly pipes = new Set<SmbPipe>();
  /** The IPC$ tree that openPipe() uses, connected on first use. */
  private ipc: Promise<Tree> | undefined;
  private closing: Promise<void> | undefined;
  private reconnecting: Promise<void> | undefined;
  /** Why the last reconnect gave up: requests fail with it until a reconnect() succeeds. */
  private gaveUp: Error | undefined;

  /** @internal use connect(). */
  constructor(
    private readonly session: Session,
    private readonly params: ClientParams,
  ) {
    this.watch(session.conn);
    if (params.reconnect) {
      session.onLost = () => (this.gaveUp ? Promise.reject(this.gaveUp) : this.reconnect());
    }
  }

  private get conn(): Connection {
    return this.session.conn;
  }

  private get negotiated(): Negotiated {
    return this.session.negotiated;
  }

  private watch(conn: Connection): void {
    conn.onUnsolicited = (_header, message) => this.onBreak(message);
    conn.onClose(() => {
      // A connection this client ended itself, or one that broke the protocol, is not reconnected.
      if (conn !== this.session.conn || this.closing || !this.params.reconnect || conn.closeReason?.code === 'EPROTO') return;
      this.reconnect().catch(() => undefined);
    });
  }

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
    const n = name ?? this.params.share;
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

  private connectTree(name: string): Promise<Tree> {
    return this.connectTreeOn(this.session, name);
  }

  private async connectTreeOn(session: Session, name: string): Promise<Tree> {
    const info = await session.treeConnect(name, this.params.encryption);
    const largeMtu = session.conn.largeMtu;
    const negotiated = session.negotiated;
    const cap = (serverMax: number) => Math.max(4096, Math.min(serverMax, largeMtu ? this.params.ioSize : SMALL_MTU));
    const readLimit = cap(negotiated.maxReadSize);
    const readSize = readLengthWithin(readLimit);
    const writeSize = cap(negotiated.maxWriteSize);
    const requestsFor = (bytes: number, each: number) => Math.min(MAX_DEFAULT_CONCURRENCY, Math.max(2, Math.ceil(bytes / each)));
    return new Tree(session, info, {
      readSize,
      writeSize,
      concurrency: this.params.concurrency ?? requestsFor(DEFAULT_IN_FLIGHT_BYTES, readLimit),
      uploadConcurrency: this.params.concurrency ?? requestsFor(DEFAULT_UPLOAD_IN_FLIGHT_BYTES, writeSize),
      listSize: Math.max(4096, Math.min(negotiated.maxTransactSize, largeMtu ? 256 * 1024 : SMALL_MTU)),
    });
  }

  /**
   * Drops the connection (no LOGOFF, so the server keeps durable handles) and connects again as an automatic
   * reconnect does (MS-SMB2 3.2.4.4): same ClientGuid, PreviousSessionId, shares, durable handles re-established.
   * Requests wait meanwhile. Retries per the `reconnect` option (default 30 attempts 1 s apart); rejects with a
   * TransportError when every attempt failed. Concurrent calls share one reconnect.
   */
  reconnect(): Promise<void> {
    if (this.closing) return Promise.reject(clientError(Status.CONNECTION_DISCONNECTED, 'ECONNRESET', `\\\\${this.conn.host}`));
    if (!this.reconnecting) {
      let settle!: { resolve: () => void; reject: (e: Error) => void };
      const p = new Promise<void>((resolve, reject) => {
        settle = { resolve, reject };
      });
      p.catch(() => undefined); // waiters see the error through their own await
      this.reconnecting = p;
      this.session.gate = p;
      this.gaveUp = undefined;
      this.runReconnect().then(
        () => {
          this.reconnecting = undefined;
          this.session.gate = undefined;
          settle.resolve();
        },
        (e: Error) => {
          this.reconnecting = undefined;
          this.session.gate = undefined;
          this.gaveUp = e;
          settle.reject(e);
        },
      );
    }
    return this.reconnecting;
  }

  private async runReconnect(): Promise<void> {
    const old = this.session.conn;
    if (!old.closed) old.abort();
    const policy = this.params.reconnect ?? DEFAULT_RECONNECT;
    let last: Error | undefined;
    for (let attempt = 0; attempt < policy.attempts; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, policy.delayMs));
      if (this.closing) break;
      try {
        await this.reconnectOnce();
        return;
      } catch (e) {
        last = e as Error;
      }
    }
    const why = this.closing ? 'the client was closed' : `${policy.attempts} attempts failed, the last: ${last?.message ?? 'none'}`;
    throw new TransportError(`could not reconnect to ${old.host}:${old.port}: ${why}`, (last as { code?: string } | undefined)?.code ?? 'ECONNRESET');
  }

  /** One reconnect attempt: all of it is done on the new session, which the client adopts at the end. */
  private async reconnectOnce(): Promise<void> {
    const p = this.params;
    const conn = await Connection.open({ host: this.conn.host, port: p.port, timeoutMs: p.timeoutMs });
    conn.onUnsolicited = (_header, message) => this.onBreak(message);
    try {
      const negotiated = await negotiate(conn, { ...p.negotiate, clientGuid: this.negotiated.sent.clientGuid });
      const fresh = await authenticate(conn, negotiated, p.credentials, {
        signing: p.signing,
        encryption: p.encryption,
        previousSessionId: this.session.id,
      });
      const apply: (() => void)[] = [];
      for (const share of this.shares.values()) {
        const done = await share.reconnect((name) => this.connectTreeOn(fresh, name));
        if (done) apply.push(done);
      }
      // Named pipes are not durable: their handles are gone; the next openPipe() connects IPC$ again.
      for (const pipe of this.pipes) pipe.markLost();
      this.ipc = undefined;
      this.session.adopt(fresh);
      for (const f of apply) f();
      this.watch(conn);
    } catch (e) {
      conn.destroy();
      throw e;
    }
  }

  /**
   * An oplock or lease break notification (MS-SMB2 3.2.5.19): the client caches nothing, so it records the new
   * state on the handles and acknowledges when the server asks for it (2.2.24.1, 2.2.24.2).
   */
  private onBreak(message: Buffer): void {
    let m: OplockBreakResponse;
    try {
      m = decodeOplockBreakResponse(new Reader(message, 64, message.length, 0));
    } catch {
      return; // a malformed notification is ignored: the server times the break out
    }
    const handles = [...this.shares.values()].flatMap((s) => [...s.openHandles()]);
    if (m.kind === 'leaseBreakNotification') {
      const key = Buffer.from(m.leaseKey);
      const holders = handles.filter((h) => h.leaseKey?.equals(key));
      for (const h of holders) h.leaseBroken(m.newLeaseState);
      if ((m.flags & LeaseBreakFlags.ACK_REQUIRED) !== 0 && holders[0]) {
        holders[0].acknowledgeBreak({ kind: 'lease', flags: 0, leaseKey: key, leaseState: m.newLeaseState, leaseDuration: 0n }).catch(() => undefined);
      }
    } else if (m.kind === 'oplock') {
      const id = m.fileId;
      const h = handles.find((x) => x.fileId.persistent === id.persistent && x.fileId.volatile === id.volatile);
      if (!h) return;
      h.oplockBroken(m.oplockLevel);
      h.acknowledgeBreak({ kind: 'oplock', oplockLevel: m.oplockLevel, fileId: id }).catch(() => undefined);
    }
  }

  /**
   * @internal Test hook, `client[Symbol.for('smbkit.dropConnection')]()`: resets the TCP connection as a network
   * failure would (no LOGOFF); with `reconnect` on, the client reconnects at once.
   */
  [DROP_CONNECTION](): void {
    this.conn.abort();
  }

  /**
   * The server's shares, as `net view` / `smbclient -L` list them: srvsvc NetrShareEnum level 1 (MS-SRVS 3.1.4.8)
   * over the `srvsvc` pipe on IPC$. Works on anonymous sessions where the server allows them. A refused bind,
   * an RPC fault or an error the call returns rejects with an RpcError (an SmbError).
   */
  async listShares(): Promise<ShareEntry[]> {
    if (this.closing) throw clientError(Status.CONNECTION_DISCONNECTED, 'ECONNRESET', `\\${this.conn.host}\IPC$`);
    const tree = await this.connectTree('IPC$');
    try {
      const pipe = new RpcPipe(await SmbPipe.open(tree, 'srvsvc', this.pipeLimits()));
      try {
        await pipe.bind(SRVSVC_SYNTAX);
        const out: ShareEntry[] = [];
        let resumeHandle = 0;
        // MORE_DATA: the rest follows from the resume handle (never seen with PreferedMaximumLength unlimited).
        for (let round = 0; round < 64; round++) {
          const stub = encodeNetrShareEnumRequest({
            serverName: `\\${this.conn.host}`,
            level: 1,
            shares: [],
            preferedMaximumLength: 0xffffffff,
            resumeHandle,
          });
          const path = `${pipe.path} (NetrShareEnum)`;
          let res;
          try {
            res = decodeNetrShareEnumResponse(await pipe.call(SrvsvcOpnum.NetrShareEnum, stub, 'NetrShareEnum'));
          } catch (e) {
            if (e instanceof WireError) throw RpcError.protocol(e.message, path);
            throw e;
          }
          if (res.status !== WinError.SUCCESS && res.status !== WinError.MORE_DATA) throw RpcError.werror(res.status, path);
          if (res.level !== 1) throw RpcError.protocol(`answered level ${res.level} to level 1`, path);
          for (const s of res.shares ?? []) out.push(shareEntry(s.netname, s.type, s.remark));
          if (res.status === WinError.SUCCESS || res.resumeHandle === undefined || (res.shares ?? []).length === 0) return out;
          resumeHandle = res.resumeHandle;
        }
        throw RpcError.protocol('NetrShareEnum kept answering MORE_DATA', `${pipe.path} (NetrShareEnum)`);
      } finally {
        await pipe.close();
      }
    } finally {
      await this.session.treeDisconnect(tree.info.treeId, tree.info.encrypt).catch(() => undefined);
    }
  }

  /**
   * Opens the named pipe `name` on the server's IPC$ share (e.g. one a Node service registered with
   * `server.pipes.register`): message-mode write(), read() and transact(). Rejects with an SmbError:
   * ENOENT (OBJECT_NAME_NOT_FOUND) when there is no such pipe, EACCES when this user may not open it.
   */
  async openPipe(name: string): Promise<SmbPipe> {
    if (this.closing) throw clientError(Status.CONNECTION_DISCONNECTED, 'ECONNRESET', `\\${this.conn.host}\IPC$\${name}`);
    if (!this.ipc) {
      this.ipc = this.connectTree('IPC$');
      this.ipc.catch(() => {
        this.ipc = undefined;
      });
    }
    const tree = await this.ipc;
    const pipe: SmbPipe = await SmbPipe.open(tree, name, this.pipeLimits(), () => this.pipes.delete(pipe));
    this.pipes.add(pipe);
    return pipe;
  }

  private pipeLimits(): PipeLimits {
    return { maxWrite: this.negotiated.maxWriteSize, maxTransact: this.negotiated.maxTransactSize };
  }

  /** Closes every handle and tree, logs off and closes the connection. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.session.onLost = undefined;
      await this.reconnecting?.catch(() => undefined);
      if (!this.conn.closed) {
        await Promise.allSettled([...this.pipes].map((p) => p.close()));
        const ipc = await this.ipc?.catch(() => undefined);
        if (ipc) await this.session.treeDisconnect(ipc.info.treeId, ipc.info.encrypt).catch(() => undefined);
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

function reconnectPolicy(r: boolean | ReconnectOptions | undefined): Required<ReconnectOptions> | undefined {
  if (r === undefined || r === false) return undefined;
  const attempts = r === true ? DEFAULT_RECONNECT.attempts : (r.attempts ?? DEFAULT_RECONNECT.attempts);
  const delayMs = r === true ? DEFAULT_RECONNECT.delayMs : (r.delayMs ?? DEFAULT_RECONNECT.delayMs);
  if (!Number.isInteger(attempts) || attempts < 1) throw new TypeError('reconnect.attempts must be a positive integer');
  if (!(delayMs >= 0)) throw new TypeError('reconnect.delayMs must be 0 or more');
  return { attempts, delayMs };
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
    const negotiateParams: NegotiateParams = { minDialect, maxDialect, signing, encryption, ciphers: ciphers.length ? ciphers : [Cipher.AES128_GCM] };
    const negotiated = await negotiate(conn, negotiateParams);
    const credentials: Credentials = {
      user: o.user ?? '',
      domain: o.domain ?? '',
      ...(o.password !== undefined ? { password: o.password } : {}),
      ...(o.ntHash !== undefined ? { ntHash: parseNtHash(o.ntHash) } : {}),
    };
    const session = await authenticate(conn, negotiated, credentials, { signing, encryption });
    return new Client(session, {
      port: o.port ?? 445,
      timeoutMs,
      negotiate: negotiateParams,
      credentials,
      signing,
      encryption,
      ioSize: o.ioSize ?? DEFAULT_IO_SIZE,
      concurrency: o.concurrency === undefined ? undefined : Math.max(1, o.concurrency),
      share: o.share,
      reconnect: reconnectPolicy(o.reconnect),
    });
  } catch (e) {
    conn.destroy();
    throw e;
  }
}


