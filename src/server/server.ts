import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import type { ServerAuthOptions } from '../auth/spnego-server.js';
import type { UserStore } from '../auth/users.js';
import type { FileStore } from '../store/types.js';
import { noteRemoved } from '../store/resolve.js';
import { TcpTransport, normalizeAddress } from '../transport/tcp.js';
import { Status } from '../protocol/nt-status.js';
import type { CidrRange } from '../util/cidr.js';
import { AccessControl, descriptorWarning, hostAllowed, openFileLimit, type AccessPolicy } from './access.js';
import { AuditLog } from './audit.js';
import { serverDomainSid } from './acl.js';
import { createLogger, type Logger, type LogLevel } from '../util/log.js';
import { Connection, type NegotiatedState } from './connection.js';
import { Discovery, type DiscoveryOptions } from './discovery/index.js';
import { PipeRegistry } from './ipc/registry.js';
import { Spooler, type PrinterOptions } from './print/spooler.js';
import { builtInPipes } from './ipc/services.js';
import { ipcShare, type ShareDef } from './shares.js';
import { FileNode } from './state/file-node.js';
import { ConnectionClients } from './clients.js';
import { WorkerLink } from './workers/link.js';
import { sharedMemoryPool } from '../crypto/crypto-pool.js';
import type { DirectoryChangeActor } from './state/oplocks.js';
import { NotifyHub, nameFilter } from './state/notify.js';
import { CachingManager } from './state/oplocks.js';
import { DurableHandles, type DurablePolicy } from './state/durable.js';
import { FileJournal, type PersistedOpen } from './state/journal.js';
import { DiskCachingWatch } from './state/disk-caching.js';
import { recoverPersistentOpens } from './persistent.js';
import { Open } from './state/open.js';
import { CompletionFilter } from '../protocol/smb2/commands/change-notify.js';
import { NotifyAction } from '../protocol/smb2/fscc/notify-info.js';
import { Session } from './session.js';
import type { Tree } from './tree.js';

export interface ListenAddress {
  host: string;
  port: number;
}

export interface ShareOptions {
  name: string;
  /** The files of a disk share (give this or `printer`). */
  store?: FileStore;
  /** A printer share: its spool directory and print command (give this or `store`). */
  printer?: PrinterOptions;
  readOnly?: boolean;
  guest?: boolean;
  /** User names allowed; absent = every configured user. */
  users?: string[];
  comment?: string;
  /** Requests to the share must be encrypted. */
  encrypt?: boolean;
  hostsAllow?: CidrRange[];
  hostsDeny?: CidrRange[];
  /** Continuously available: persistent handles are offered (SMB 3.x), journalled under the server's stateDir. */
  continuousAvailability?: boolean;
}

/** The resolved server configuration (the TOML schema in config/ produces it; the API takes it directly). */
export interface ServerConfig {
  name: string;
  domain: string;
  listen: ListenAddress[];
  netbiosListen: ListenAddress[];
  minDialect: number;
  maxDialect: number;
  signingRequired: boolean;
  /** SMB 3 encryption (see config/schema.ts): 'desired' encrypts every session whose client can. */
  encryption: 'off' | 'enabled' | 'desired' | 'required';
  /** Cipher ids for 3.1.1, in preference order. */
  ciphers: number[];
  maxIoSize: number;
  /** Crypto worker threads for large messages ('auto' when absent; 0 = inline; config/schema.ts crypto_threads). */
  cryptoThreads?: number | 'auto';
  maxCredits: number;
  users: UserStore;
  /** Unknown users and "guest" get guest sessions (only guest shares admit them). */
  allowGuest: boolean;
  /** Null sessions may use IPC$ (list shares); guest shares admit them whatever this says. */
  allowAnonymous: boolean;
  /** SMB 3 multichannel: session binding is offered (config/schema.ts gives the default; absent = not offered). */
  multichannel?: boolean;
  shares: ShareOptions[];
  logLevel: LogLevel;
  logger?: Logger;
  /** Host lists, limits, deadlines and brute-force settings (config/'s defaultAccessPolicy() gives the defaults). */
  access: AccessPolicy;
  /** JSON-lines audit log destination (a path, or "-" for standard output). */
  auditLog?: string;
  /** NetBIOS name service, mDNS and WS-Discovery (absent = none). */
  discovery?: DiscoveryOptions;
  /** Durable handles (absent = offered, 60 s by default, at most 300 s). */
  durable?: DurablePolicy;
  /** Where the state that outlives a restart is kept (the journal of persistent handles); needed by CA shares. */
  stateDir?: string;
}

export const DEFAULT_DURABLE_POLICY: DurablePolicy = { enabled: true, defaultTimeoutMs: 60_000, maxTimeoutMs: 300_000 };

/**
 * The SMB server: listeners, shares, the global session table and the per-path file nodes. Connections do the
 * protocol; this class owns what outlives a single request.
 */
export class SmbServer {
  readonly config: ServerConfig;
  readonly log: Logger;
  readonly events = new EventEmitter();
  readonly access: AccessControl;
  private readonly audit: AuditLog | undefined;
  /** ServerGuid; kept in the state directory when there is one, so that a restarted server is the same to clients. */
  serverGuid: Buffer = randomBytes(16);
  readonly sessions = new Map<bigint, Session>();
  readonly connections = new Set<Connection>();
  /** FileNode per share + case-folded path. */
  readonly nodes = new Map<string, FileNode>();
  /** CHANGE_NOTIFY watches and the changes they see. */
  readonly notify: NotifyHub;
  /** Oplocks and leases of every open, and their breaks. */
  readonly caching: CachingManager;
  /** Durable, resilient and persistent opens: kept across disconnects, reclaimed by reconnects. */
  readonly durables: DurableHandles;
  /** The other workers, when this server is one of several (joinWorkers). */
  workers: WorkerLink | undefined;
  private readonly shares = new Map<string, ShareDef>();
  /** The named pipes served on IPC$: the built-in RPC services and those the application registers. */
  readonly pipes: PipeRegistry;
  private readonly listeners: NetServer[] = [];
  /** Accepted sockets waiting for their address's connection rate, and the timers that will serve them. */
  private readonly waiting = new Map<Socket, NodeJS.Timeout>();
  private discovery: Discovery | undefined;
  /** The journal of persistent opens (only when a share is continuously available). */
  private journal: FileJournal | undefined;
  private journalLoaded = false;
  private nextConnId = 1;
  private nextPersistentId = 1n;

  constructor(config: ServerConfig) {
    this.config = config;
    this.log = config.logger ?? createLogger(config.logLevel);
    this.access = new AccessControl(config.access);
    this.notify = new NotifyHub(config.access.maxDiskWatchers, this.log);
    // A disconnected durable open in the way of a break is closed rather than waited for (as Windows and Samba do).
    this.caching = new CachingManager(
      config.access,
      (open) => this.closeOpen(open).then(() => undefined),
      new ConnectionClients((id) => this.sessions.get(id) ?? this.workers?.shadowSession(id), () => this.connections, config.access.maxBreaksPerConnection),
    );
    this.caching.disk = new DiskCachingWatch(config.access.maxDiskWatchers, this.log, (node) => this.caching.diskChanged(node));
    this.durables = new DurableHandles(config.durable ?? DEFAULT_DURABLE_POLICY, (open) => {
      this.log.info('durable handle expired', { path: open.path, share: open.tree.share.name });
      void this.closeOpen(open);
    });
    if (config.auditLog !== undefined) {
      this.audit = new AuditLog(config.auditLog);
      this.audit.attach(this.events);
    }
    this.pipes = new PipeRegistry(
      this.log,
      builtInPipes({
        serverName: config.name.toUpperCase(),
        domain: config.domain.toUpperCase(),
        machineSid: serverDomainSid(config.name),
        listShares: () => this.listShares(),
        findUser: (name) => config.users.lookup(name)?.name,
        userNames: () => config.users.names?.() ?? [],
      }),
    );
    if (config.shares.some((s) => s.continuousAvailability)) {
      if (config.stateDir === undefined) throw new TypeError('a continuously available share needs a state directory (stateDir, [server] state_dir)');
      this.journal = new FileJournal(config.stateDir, this.log);
      this.durables.journal = this.journal;
    }
    const ipc = ipcShare();
    this.shares.set(ipc.name.toUpperCase(), ipc);
    for (const s of config.shares) {
      if ((s.store === undefined) === (s.printer === undefined)) throw new TypeError(`share ${s.name}: give either a store or printer options`);
      this.shares.set(s.name.toUpperCase(), {
        name: s.name,
        kind: s.printer ? 'printer' : 'disk',
        store: s.store,
        spooler: s.printer ? new Spooler(s.name, s.printer, this.log, this.events) : undefined,
        readOnly: s.printer ? false : (s.readOnly ?? false),
        guest: s.guest ?? false,
        users: s.users ? new Set(s.users.map((u) => u.toLowerCase())) : undefined,
        comment: s.comment ?? '',
        encrypt: s.encrypt ?? false,
        hostsAllow: s.hostsAllow,
        hostsDeny: s.hostsDeny ?? [],
        continuousAvailability: s.continuousAvailability ?? false,
      });
    }
  }

  /** Starts every listener; rejects with a plain message when an address cannot be bound. */
  async listen(): Promise<ListenAddress[]> {
    if (this.journal && !this.journalLoaded) {
      // Persistent opens of the previous run come back first, before any client can ask for their files.
      await this.recoverPersistent(await this.loadJournal());
    }
    const fdWarning = descriptorWarning(this.access.policy.maxConnections, openFileLimit());
    if (fdWarning !== undefined) this.log.warn(fdWarning);
    const bound: ListenAddress[] = [];
    const all = [
      ...this.config.listen.map((a) => ({ ...a, kind: 'direct' as const })),
      ...this.config.netbiosListen.map((a) => ({ ...a, kind: 'netbios' as const })),
    ];
    for (const a of all) {
      const srv = createServer({ noDelay: true, pauseOnConnect: true }, (socket) => this.accept(socket, a.kind));
      await new Promise<void>((resolve, reject) => {
        srv.once('error', (err: NodeJS.ErrnoException) => reject(bindError(err, a)));
        srv.listen({ host: a.host, port: a.port, exclusive: true }, () => resolve());
      });
      srv.on('error', (err) => this.log.error('listener error', { error: err.message }));
      this.listeners.push(srv);
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : a.port;
      bound.push({ host: a.host, port });
      this.log.info('listening', { address: a.host, port, transport: a.kind === 'direct' ? 'direct-tcp' : 'netbios' });
    }
    const d = this.config.discovery;
    if (d && (d.netbiosNameService || d.mdns || d.wsDiscovery)) {
      this.discovery = await Discovery.start(d, {
        name: this.config.name,
        workgroup: this.config.domain,
        hosts: all.map((a) => a.host),
        smbPort: bound.find((_b, i) => all[i]!.kind === 'direct')?.port ?? 445,
        log: this.log,
        admits: (address) => hostAllowed(address, this.access.policy.hostsAllow, this.access.policy.hostsDeny).ok,
      });
    }
    return bound;
  }

  /**
   * Serves an accepted socket (from a server made with pauseOnConnect, or any socket in tests). A socket whose
   * address connects faster than its rate waits, unread but counted, until its turn; undefined then, and when refused.
   */
  accept(socket: Socket, kind: 'direct' | 'netbios'): Connection | undefined {
    // Host lists, blocks, connection limits and rates are decided before any byte of the connection is read.
    const remote = normalizeAddress(socket.remoteAddress ?? '');
    const verdict = this.access.admit(remote);
    if (!verdict.ok) {
      this.log.info('connection refused', { remote, reason: verdict.reason });
      this.events.emit('refused', { remote, reason: verdict.reason });
      socket.destroy();
      return undefined;
    }
    this.access.opened(remote);
    if (verdict.delayMs === 0) return this.serveOrHandOff(socket, kind, remote);
    this.log.debug('connection delayed: address over its connection rate', { remote, ms: verdict.delayMs });
    const ignoreError = (): void => {};
    const gaveUp = (): void => {
      clearTimeout(this.waiting.get(socket));
      this.waiting.delete(socket);
      this.access.closed(remote);
    };
    socket.on('error', ignoreError);
    socket.once('close', gaveUp);
    const timer = setTimeout(() => {
      this.waiting.delete(socket);
      socket.off('close', gaveUp);
      socket.off('error', ignoreError);
      this.serveOrHandOff(socket, kind, remote);
    }, verdict.delayMs);
    this.waiting.set(socket, timer);
    return undefined;
  }

  /**
   * The primary of a multi-worker server hands admitted sockets to its workers (server/workers/pool.ts); a server
   * without workers serves them itself.
   */
  handOff: ((socket: Socket, kind: 'direct' | 'netbios', remote: string) => boolean) | undefined;

  private serveOrHandOff(socket: Socket, kind: 'direct' | 'netbios', remote: string): Connection | undefined {
    if (!this.handOff) return this.serve(socket, kind, remote);
    if (this.handOff(socket, kind, remote)) return undefined;
    this.log.warn('connection refused: no worker can take it', { remote });
    this.access.closed(remote);
    socket.destroy();
    return undefined;
  }

  /**
   * Serves a socket its primary admitted and handed over (a worker of a multi-worker server). A connection moved
   * from another worker comes with the message that worker received but did not answer (`first`).
   */
  adopt(socket: Socket, kind: 'direct' | 'netbios', remote: string, moved?: { first: Buffer; established: boolean; state?: NegotiatedState }): Connection {
    this.access.opened(remote);
    const conn = this.serve(socket, kind, remote, moved?.established ?? false);
    if (moved?.state) conn.restoreNegotiated(moved.state);
    if (moved) conn.transport.onMessage(moved.first);
    return conn;
  }

  /** A connection went to another worker (server/workers/link.ts): it is no longer served here. */
  connectionMoved(conn: Connection): void {
    this.connections.delete(conn);
    this.access.closed(conn.transport.remoteAddress);
    this.log.debug('connection moved to another worker', { conn: conn.id });
  }

  private serve(socket: Socket, kind: 'direct' | 'netbios', remote: string, established = false): Connection {
    // Large frames (WRITEs) land in shared memory: a crypto thread decrypts or verifies them there without a copy.
    const transport = new TcpTransport(socket, kind, this.config.maxIoSize + 64 * 1024, established, sharedMemoryPool);
    const conn = new Connection(this, transport, this.nextConnId++);
    this.connections.add(conn);
    this.log.info('connection', { conn: conn.id, remote: `${transport.remoteAddress}:${transport.remotePort}`, transport: kind });
    this.events.emit('connect', { conn: conn.id, remote, port: transport.localPort, transport: kind });
    return conn;
  }

  connectionClosed(conn: Connection, reason: string): void {
    this.connections.delete(conn);
    this.access.closed(conn.transport.remoteAddress);
    this.log.info('disconnected', { conn: conn.id, reason, seconds: Math.round((Date.now() - conn.startedAt) / 1000) });
    this.events.emit('disconnect', { conn: conn.id, remote: conn.transport.remoteAddress, reason });
  }

  /** Stops listening, closes every open file and connection. */
  async close(): Promise<void> {
    // Stop accepting first, then end what is open: a listener only reports closed once its sockets are gone.
    await this.discovery?.close();
    this.discovery = undefined;
    const closed = this.listeners.map((l) => new Promise<void>((r) => l.close(() => r())));
    this.listeners.length = 0;
    for (const socket of [...this.waiting.keys()]) socket.destroy();
    // Persistent opens stay in the journal for the next start: only their files are closed here.
    for (const o of [...[...this.sessions.values()].flatMap((s) => [...s.opens.values()]), ...this.durables.all()]) {
      if (o.durable?.persistent && !o.closed) await this.suspendPersistent(o);
    }
    await this.journal?.flush();
    for (const s of [...this.sessions.values()]) await this.destroySession(s, false);
    for (const o of this.durables.all()) await this.closeOpen(o);
    this.durables.close();
    for (const c of [...this.connections]) c.close('server shutting down');
    this.notify.close();
    this.caching.disk?.close();
    await Promise.all(closed);
    for (const s of this.shares.values()) await s.store?.close?.();
    await this.audit?.close();
  }

  findShare(name: string): ShareDef | undefined {
    return this.shares.get(name.toUpperCase());
  }

  listShares(): ShareDef[] {
    return [...this.shares.values()];
  }

  /**
   * Who may use a share: a guest share admits everyone when guests are allowed, null sessions too (as Samba's guest
   * ok); IPC$ admits null sessions only when the server allows anonymous access; other shares admit users by their list.
   */
  shareAccess(session: Session, share: ShareDef): 'denied' | 'read' | 'full' {
    const id = session.identity;
    if (!id) return 'denied';
    if (!hostAllowed(session.connection.transport.remoteAddress, share.hostsAllow, share.hostsDeny).ok) return 'denied';
    if (share.kind === 'ipc') return id.anonymous && !this.config.allowAnonymous ? 'denied' : 'read';
    if (id.anonymous || id.guest) return share.guest && this.config.allowGuest ? (share.readOnly ? 'read' : 'full') : 'denied';
    if (share.users && !share.users.has(id.user.toLowerCase())) return 'denied';
    return share.readOnly ? 'read' : 'full';
  }

  authOptions(): ServerAuthOptions {
    const name = this.config.name.toUpperCase();
    return {
      users: this.config.users,
      netbiosName: name,
      netbiosDomain: this.config.domain.toUpperCase(),
      dnsName: name.toLowerCase(),
      dnsDomain: '',
      allowGuest: this.config.allowGuest,
      // A null session logs on where something admits it: IPC$ (anonymous access), or a guest share.
      allowAnonymous: this.config.allowAnonymous || (this.config.allowGuest && this.config.shares.some((s) => s.guest === true)),
    };
  }

  /** A status when the connection may not start another session, else undefined. */
  admitSession(conn: Connection): number | undefined {
    return conn.sessions.size >= this.access.policy.maxSessionsPerConnection ? Status.REQUEST_NOT_ACCEPTED : undefined;
  }

  createSession(conn: Connection): Session {
    let id: bigint;
    do id = randomBytes(8).readBigUInt64LE(0) & 0x7fffffffffffffffn;
    while (id === 0n || this.sessions.has(id));
    const s = new Session(id, conn);
    this.sessions.set(id, s);
    conn.sessions.set(id, s);
    return s;
  }

  /** The session has not ended: it is in the session table (or, on a worker, a shadow of another worker's). */
  sessionLive(s: Session): boolean {
    return this.sessions.get(s.id) === s || (this.workers?.shadowSession(s.id) === s && s.state !== 'expired');
  }

  /**
   * Ends a session (logoff, lost connection, replaced by a reconnecting client, shutdown). Its durable opens that
   * may survive are kept for a reconnect (`keepDurable`, MS-SMB2 3.3.7.1); every other open closes.
   */
  async destroySession(s: Session, keepDurable = true): Promise<void> {
    this.workers?.sessionEnded(s, keepDurable);
    s.state = 'expired';
    if (this.sessions.get(s.id) === s) this.sessions.delete(s.id);
    for (const c of s.channels) {
      if (c.connection.sessions.get(s.id) === s) c.connection.sessions.delete(s.id);
      c.connection.sessionEnded(s);
    }
    for (const t of [...s.trees.values()]) await this.closeTree(t, keepDurable);
  }

  /**
   * A connection of a session went away (MS-SMB2 3.3.7.1): only its channel goes while another channel remains;
   * the session, its trees and opens stay and are served on the others. The last channel takes the session with it.
   */
  async connectionLost(s: Session, conn: Connection): Promise<void> {
    if (conn.sessions.get(s.id) === s) conn.sessions.delete(s.id);
    const last = s.removeChannel(conn);
    if (last && this.sessions.get(s.id) === s) await this.destroySession(s);
    else if (!last) this.log.info('channel lost', { conn: conn.id, session: s.id.toString(16), channels: s.channels.length });
  }

  /** Ends a tree connect; TREE_DISCONNECT closes durable opens too (smbtorture smb2.durable-open.reopen3). */
  async closeTree(tree: Tree, keepDurable = false): Promise<void> {
    tree.session.trees.delete(tree.id);
    for (const o of [...tree.session.opens.values()]) {
      if (o.tree !== tree) continue;
      if (keepDurable && this.durables.survives(o)) {
        this.durables.detach(o);
        this.notify.openClosed(o);
        this.log.debug('durable handle kept', { path: o.path, share: tree.share.name });
      } else {
        await this.closeOpen(o);
      }
    }
  }

  allocPersistentId(): bigint {
    return this.nextPersistentId++;
  }

  /**
   * This server is one worker of several (server/workers/): requests about files whose state another worker owns
   * run there. Its FileIds start at the worker's own base, so any worker can tell whose a FileId is.
   */
  joinWorkers(link: WorkerLink): void {
    this.workers = link;
    this.nextPersistentId = WorkerLink.idBase(link.index);
    this.notify.peers = { report: (share, changes) => link.notifyPeers(share, changes), watching: (share) => link.peersWatch(share) };
  }

  /** A persistent id in use since before a restart: new opens get ids above it (in this worker's range of ids). */
  notePersistentId(id: bigint): void {
    if (id >> 48n !== this.nextPersistentId >> 48n) return;
    if (id >= this.nextPersistentId) this.nextPersistentId = id + 1n;
  }

  /**
   * Reads the journal of persistent opens: the server GUID it keeps (clients see the same server after a restart)
   * and its records, not yet recovered. A multi-worker primary only takes the GUID, for its workers.
   */
  async loadJournal(): Promise<PersistedOpen[]> {
    if (!this.journal) return [];
    const { serverGuid, opens } = await this.journal.load();
    this.serverGuid = serverGuid;
    this.journalLoaded = true;
    return opens;
  }

  /**
   * Rebuilds journalled persistent opens, and with workers the durable ones of the worker this one replaces; each
   * claims its file's key first (else it is skipped).
   */
  async recoverPersistent(records: readonly PersistedOpen[], claim?: (share: ShareDef, path: string) => Promise<(() => void) | undefined>): Promise<void> {
    if (records.length === 0) return;
    const n = await recoverPersistentOpens(this, records, claim);
    this.log.info('durable and persistent handles recovered', { recovered: n, records: records.length });
  }

  /** Persistent handles are offered (SMB2_GLOBAL_CAP_PERSISTENT_HANDLES): a share is continuously available. */
  get persistentHandles(): boolean {
    return this.journal !== undefined;
  }

  /** Shutdown: a persistent open's last state goes to the journal and its file closes; its record stays. */
  private async suspendPersistent(open: Open): Promise<void> {
    await this.journal?.save(open);
    open.closed = true;
    try {
      await open.handle?.close();
    } catch (err) {
      this.log.warn('close failed', { path: open.path, error: (err as Error).message });
    }
  }

  /** The FileNode of a path in a share, created on first use. */
  node(share: ShareDef, path: string): FileNode {
    const key = nodeKey(share, path);
    let n = this.nodes.get(key);
    if (!n) {
      n = new FileNode(key, path);
      this.nodes.set(key, n);
    }
    return n;
  }

  /** Re-keys a node after a rename (renames of directories with open children are refused before this). */
  renameNode(share: ShareDef, node: FileNode, newPath: string): void {
    if (this.nodes.get(node.key) === node) this.nodes.delete(node.key);
    node.key = nodeKey(share, newPath);
    node.path = newPath;
    this.nodes.set(node.key, node);
    // A cached file that moved is watched in its new directory.
    if (node.diskWatched !== undefined && this.caching.disk) {
      this.caching.disk.untrack(node);
      this.caching.disk.track(share, node);
    }
  }

  /**
   * An entry of a directory changed (created, removed, renamed, rewritten): the directory's leases hear of it,
   * wherever its state is (the other workers are told, unless this came from one: `announce` false).
   */
  entryChanged(share: ShareDef, path: string, actor: DirectoryChangeActor | undefined, announce = true): void {
    const parent = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';
    const node = this.nodes.get(nodeKey(share, parent));
    if (node && !(actor instanceof Open && node === actor.node)) this.caching.directoryChanged(node, actor);
    if (announce) this.workers?.entryChangedElsewhere(share, path, actor);
  }

  /** Tells an open parent directory that an entry left it, so its enumerations skip the entry (on every worker). */
  noteChildRemoved(share: ShareDef, path: string, announce = true): void {
    const parent = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';
    const node = this.nodes.get(nodeKey(share, parent));
    if (node) node.childrenRemoved++;
    if (announce) this.workers?.childRemovedElsewhere(share, path);
  }

  dropNodeIfUnused(node: FileNode): void {
    if (node.opens.size === 0 && node.pendingCreates === 0 && this.nodes.get(node.key) === node) this.nodes.delete(node.key);
  }

  /**
   * Closes an open: the store handle, then delete-on-close when this was the last open of a delete-pending file
   * (MS-FSA 2.1.5.4).
   */
  async closeOpen(open: Open): Promise<{ deleted: boolean }> {
    if (open.closed) return { deleted: false };
    open.closed = true;
    // A close may stamp times or delete the file: the disk's echo of it is not another program's change.
    open.node.noteLocalChange();
    for (const f of open.onClose) f();
    open.onClose.clear();
    this.caching.release(open);
    const unjournalled = this.durables.forget(open);
    if (open.session.opens.get(open.volatileId) === open) open.session.opens.delete(open.volatileId);
    const node = open.node;
    node.opens.delete(open);
    // Every lock of the handle goes with it, and its waiting LOCKs end; others' waiting LOCKs may now be granted.
    node.releaseLocks(open);
    this.notify.openClosed(open);
    if (open.deleteOnClose) node.markDeletePending(open.stream);
    const share = open.tree.share;
    // A directory about to go takes its watchers' waiting CHANGE_NOTIFYs with it.
    if (node.deletePending && open.isDirectory && open.stream === undefined && node.opens.size > 0) {
      this.notify.directoryDeletePending(node.opens);
    }
    try {
      await open.handle?.close();
    } catch (err) {
      this.log.warn('close failed', { path: open.path, error: (err as Error).message });
    }
    // As a persistent open's changes are on the disk before their answers, so is its end (MS-SMB2 3.3.5.10).
    await unjournalled;
    // A print job is published when its client closed it, discarded when the client went away.
    await open.printJob?.settle();
    let deleted = false;
    if (node.deletePending && node.opens.size === 0) {
      const store = open.tree.share.store!;
      try {
        if (open.stream !== undefined && !node.deletesFile) await store.deleteStream?.(node.path, open.stream);
        else if (open.isDirectory) await store.rmdir(node.path);
        else await store.unlink(node.path);
        if (open.stream === undefined || node.deletesFile) await noteRemoved(store, node.path);
        deleted = true;
        node.deletions++;
        this.noteChildRemoved(open.tree.share, node.path);
        this.entryChanged(open.tree.share, node.path, open);
        this.notify.report(
          share,
          open.stream !== undefined && !node.deletesFile
            ? [{ action: NotifyAction.REMOVED_STREAM, path: node.path, stream: open.stream, filter: CompletionFilter.STREAM_NAME }]
            : [{ action: NotifyAction.REMOVED, path: node.path, filter: nameFilter(open.isDirectory) }],
        );
        this.log.debug('deleted on close', { path: node.path });
      } catch (err) {
        this.log.warn('delete on close failed', { path: node.path, error: (err as Error).message });
      }
      node.clearDeletePending();
    } else {
      // The entry's size and times changed: what a leased directory listing cached is stale.
      if (open.wroteData && open.stream === undefined && !open.pipe && !open.printJob) this.entryChanged(share, node.path, open);
      if (open.renamed) {
        // Windows reports a renamed file's attributes and creation time as changed when its handle closes.
        this.notify.report(share, [
          { action: NotifyAction.MODIFIED, path: node.path, filter: CompletionFilter.ATTRIBUTES | CompletionFilter.CREATION },
        ]);
      }
    }
    this.dropNodeIfUnused(node);
    return { deleted };
  }
}

/** Names are case-insensitive to clients whatever the store, so nodes are keyed by the upper-cased path. */
export function nodeKey(share: ShareDef, path: string): string {
  return `${share.name.toUpperCase()}\u0000${path.toUpperCase()}`;
}

function bindError(err: NodeJS.ErrnoException, a: ListenAddress): Error {
  if (err.code === 'EACCES' && a.port < 1024) {
    return new Error(
      `cannot listen on ${a.host}:${a.port}: ports below 1024 need privilege. Run as root, grant the capability ` +
        `(sudo setcap cap_net_bind_service=+ep "$(command -v node)"), or listen on a high port (--listen ${a.host}:4445).`,
    );
  }
  if (err.code === 'EADDRINUSE') return new Error(`cannot listen on ${a.host}:${a.port}: the address is already in use (another SMB server, e.g. smbd?)`);
  if (err.code === 'EADDRNOTAVAIL') return new Error(`cannot listen on ${a.host}:${a.port}: no such local address`);
  return new Error(`cannot listen on ${a.host}:${a.port}: ${err.message}`);
}
