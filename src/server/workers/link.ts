import { Status } from '../../protocol/nt-status.js';
import { Command } from '../../protocol/smb2/constants.js';
import { decodeCreateRequest } from '../../protocol/smb2/commands/create.js';
import { CreateContextName, findCreateContext } from '../../protocol/smb2/contexts/create-contexts.js';
import { decodeFileId, isRelatedFileId, type FileId } from '../../protocol/smb2/commands/file-id.js';
import type { Smb2Header } from '../../protocol/smb2/header.js';
import { Reader } from '../../util/reader.js';
import { Writer } from '../../util/writer.js';
import type { Connection, NegotiatedState } from '../connection.js';
import { resolveOpen, type CompoundState, type Outcome, type RequestContext } from '../context.js';
import { dialectTraits } from '../dialects.js';
import { HANDLERS, runHandler } from '../dispatch.js';
import { completeChannelSequence } from '../replay.js';
import { isQuotaFakeFile, parseSmbName } from '../files.js';
import { nodeKey, type SmbServer } from '../server.js';
import { Session } from '../session.js';
import type { ShareDef } from '../shares.js';
import { replacedBy } from '../handlers/session-setup.js';
import type { Change } from '../state/notify.js';
import type { DirectoryChangeActor } from '../state/oplocks.js';
import type { Open } from '../state/open.js';
import { Tree } from '../tree.js';
import { Claims, type ClaimMessage } from './claims.js';
import { Interests, type InterestMessage } from './interest.js';
import { Mesh } from './mesh.js';

export { masterOf } from './claims.js';

/**
 * One worker's part of a multi-worker server: every file's state has one owner among the workers, and a request
 * about a file runs where its state is. A path-based request (CREATE) asks the key's master (one of the workers, by
 * hash) which worker holds the file's key (claims: the first to open a file holds it, and gives it up on demand once
 * it has nothing open there);
 * a FileId-based one goes to the worker whose number is in the FileId. Elsewhere the request runs as if it came on
 * a connection of the owner's: with the facts of the original connection, session and tree ("shadows"), its reply
 * relayed back for the connection to sign or encrypt and send. Breaks for a shadow session go back to its home
 * worker, and sessions and trees that end are announced to every worker.
 */

/** Where the FileId sits in each request body that names one (MS-SMB2 2.2.x), by command. */
const FILE_ID_OFFSET: Partial<Record<number, number>> = {
  [Command.CLOSE]: 8,
  [Command.FLUSH]: 8,
  [Command.READ]: 16,
  [Command.WRITE]: 16,
  [Command.LOCK]: 8,
  [Command.IOCTL]: 8,
  [Command.QUERY_DIRECTORY]: 8,
  [Command.CHANGE_NOTIFY]: 8,
  [Command.QUERY_INFO]: 24,
  [Command.SET_INFO]: 16,
};
const OPLOCK_ACK_SIZE = 24;
/** How long a durable reconnect waits for the worker that has its open to be back (started again after a crash). */
const RECONNECT_WAIT_MS = 10_000;
const LEASE_ACK_SIZE = 36;

/** FileIds carry the number of the worker that made them in their top 16 bits (plus one: 0 is the primary's). */
const WORKER_SHIFT = 48n;

/** The facts of a connection, session and tree that a forwarded request runs with. */
interface ConnFacts {
  id: number;
  dialect: number;
  clientGuid: Buffer;
  cipher: number;
  signingAlgorithm: number;
  serverCapabilities: number;
  maxTransactSize: number;
  maxReadSize: number;
  maxWriteSize: number;
  remoteAddress: string;
}
interface SessionFacts {
  id: bigint;
  identity: Session['identity'];
  signingRequired: boolean;
  encryptData: boolean;
}
interface TreeFacts {
  id: number;
  share: string;
  maximalAccess: number;
  readOnly: boolean;
  encrypt: boolean;
}

/** Worker-to-worker messages. */
type LinkMessage =
  | { t: 'run'; conn: ConnFacts; session: SessionFacts | undefined; tree: TreeFacts | undefined; header: Smb2Header; message: Buffer; related: boolean; encrypted: boolean; compound: CompoundState; last: boolean; rid: number }
  | { t: 'interim'; rid: number; survives: boolean }
  | { t: 'cancel'; rid: number }
  | { t: 'break'; sessionId: bigint; body: Buffer }
  | { t: 'session-end'; sessionId: bigint; keepDurable: boolean }
  | { t: 'tree-end'; sessionId: bigint; treeId: number }
  | { t: 'notify'; share: string; changes: Change[] }
  | { t: 'entry-changed'; share: string; path: string; actor: { parentLeaseKey: Buffer | undefined; clientGuid: Buffer } | undefined }
  | { t: 'child-removed'; share: string; path: string }
  | { t: 'interests' }
  | { t: 'open-below'; prefix: string }
  | { t: 'previous-session'; sessionId: bigint; user: { user: string; guest: boolean } }
  | { t: 'has-session'; sessionId: bigint }
  | ClaimMessage
  | InterestMessage;

/** What a forwarded request answers. */
interface RunResult {
  status: number | undefined;
  /** The reply body (undefined: an error status alone). */
  body: Buffer | undefined;
  tail: Buffer | undefined;
  fileId: FileId | undefined;
  /** The lease key a CREATE granted (lease acknowledgments then go to this worker). */
  leaseKey: Buffer | undefined;
  /** The key moved to another worker meanwhile: ask that one. */
  moved?: number;
}

/** Where a request runs: here (`done` once it finished), or it ran elsewhere with this outcome. */
export type Routed = { local: true; done: () => void } | { local: false; outcome: Outcome };
const HERE: Routed = { local: true, done: () => {} };

/** Messages between a worker and its primary about claims. */
export type ClaimToPrimary =
  | { t: 'place'; id: number; client: string }
  | { t: 'client-gone'; client: string }
  | { t: 'migrate'; to: number; kind: 'direct' | 'netbios'; remote: string; first: Buffer; established: boolean; state?: NegotiatedState };
export type ClaimFromPrimary = { t: 'placed'; id: number; worker: number };

export class WorkerLink {
  readonly index: number;
  readonly count: number;
  private readonly server: SmbServer;
  private readonly mesh: Mesh;
  private readonly claimWaits = new Map<number, (owner: number) => void>();
  private nextClaim = 1;
  /** Shadows of other workers' sessions, by home worker and id. */
  private readonly shadows = new Map<string, Session>();
  private readonly shadowHome = new Map<Session, number>();
  /** The same, by session id: breaks for their opens are routed home by it (never seen by this worker's clients). */
  private readonly shadowById = new Map<bigint, Session>();
  /** Forwarded requests running here (by origin and request id), for CANCEL. */
  private readonly running = new Map<string, RequestContext | undefined>();
  /** Forwarded requests cancelled before they went async. */
  private readonly cancelledEarly = new Set<string>();
  /** Forwarded requests sent from here that went async there: their cancel. */
  private readonly sent = new Map<number, { to: number; ctx: RequestContext }>();
  private nextRid = 1;
  /** Where leases live, by ClientGuid and LeaseKey (lease acknowledgments go there). */
  private readonly leaseHomes = new Map<string, number>();
  private releaseTimer: NodeJS.Timeout;
  /** Settles once this worker's recovered opens are back: forwarded requests (a reconnect among them) wait for it. */
  private recovered: Promise<void>;
  private markRecovered!: () => void;
  /** Which directories the workers have open or watch (where changes are told). */
  private readonly interests: Interests;
  /** Who owns each file's state (workers/claims.ts). */
  private readonly claims: Claims;

  constructor(server: SmbServer, group: string, index: number, count: number) {
    this.recovered = new Promise<void>((r) => (this.markRecovered = r));
    this.server = server;
    this.index = index;
    this.count = count;
    this.mesh = new Mesh(group, index, {
      onMessage: (from, body) => this.onMessage(from, body as LinkMessage),
      onRequest: (from, body) => this.onRequest(from, body as LinkMessage),
    });
    this.claims = new Claims({
      index,
      count,
      mesh: this.mesh,
      log: server.log,
      askPeers: (m) => this.askPeers(m),
      hasNode: (key) => this.server.nodes.has(key),
    });
    this.interests = new Interests({
      ask: (m) => this.askPeers(m),
      broadcast: (m) => this.broadcast(m),
      hasOpen: (key) => (this.server.nodes.get(key)?.opens.size ?? 0) > 0,
      watchesTree: (key) => this.server.notify.watchesTree(key),
    });
    process.on('message', (m: ClaimFromPrimary) => this.fromPrimary(m));
    // Keys whose files closed here go back to their masters in batches, so their tables stay the size of what is open.
    this.releaseTimer = setInterval(() => this.releaseIdle(), 1000);
    this.releaseTimer.unref();
  }

  /** Listens for the other workers, then learns which directories they have open or watch. */
  async listen(): Promise<void> {
    await this.mesh.listen();
    await this.claims.learnOwners();
    // A worker not started yet asks us in turn.
    for (const [i, list] of await this.askPeers({ t: 'interests' })) {
      for (const { key, tree } of list as { key: string; tree: boolean }[]) this.interests.peer(i, key, tree, true);
    }
  }

  /** Its journalled and memo'd opens are back (or there were none): forwarded requests run from now on. */
  recoveryDone(): void {
    this.markRecovered();
  }

  private peers(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.count; i++) if (i !== this.index) out.push(i);
    return out;
  }

  /** Asks every other worker; the answers of those that gave one (one not started yet gives none), by worker. */
  private async askPeers(m: LinkMessage): Promise<Map<number, unknown>> {
    const answers = new Map<number, unknown>();
    await Promise.all(this.peers().map((p) => this.mesh.request(p, m).then((a) => void answers.set(p, a), () => {})));
    return answers;
  }

  close(): void {
    clearInterval(this.releaseTimer);
    this.mesh.close();
  }

  /** The first persistent id of this worker's FileIds. */
  static idBase(index: number): bigint {
    return BigInt(index + 1) << WORKER_SHIFT;
  }

  /** The worker a FileId's state is on (ids of a run with more workers went to the worker their number wraps to). */
  private workerOf(id: FileId): number | undefined {
    const w = Number(id.volatile >> WORKER_SHIFT) - 1;
    return w >= 0 && w < 0xfffe ? w % this.count : undefined;
  }

  /**
   * The journalled persistent opens this worker recovers (those whose FileIds name it). Their keys are held from
   * now on, before the others can ask, so that no other worker takes a file whose open is coming back here.
   */
  reserve<T extends { persistentId: string; share: string; path: string }>(records: readonly T[]): T[] {
    const mine = records.filter((r) => this.workerOf({ persistent: BigInt(r.persistentId), volatile: BigInt(r.persistentId) }) === this.index);
    for (const r of mine) {
      const share = this.server.findShare(r.share);
      if (!share) continue;
      this.claims.reserve(nodeKey(share, r.path));
    }
    return mine;
  }

  /** A reserved key's open is being recovered: its master learns it is here. Undefined: another worker has it. */
  async recovering(key: string): Promise<(() => void) | undefined> {
    return this.claims.recovering(key);
  }

  // ---- routing (the connection's side) ----

  /**
   * Runs a request here or where its file's state is. Returns undefined to run it here (with `done` to call once
   * it finished), or the outcome of running it elsewhere.
   */
  route(conn: Connection, ctx: RequestContext, h: Smb2Header): Routed | Promise<Routed> {
    const here = HERE;
    if (!ctx.tree || ctx.tree.share.kind !== 'disk') return here;
    let target: number | undefined;
    if (h.command === Command.CREATE) {
      const key = this.createTarget(ctx);
      if (key === undefined) return here;
      if (typeof key === 'number') target = key;
      else if (this.claims.pinIfHeld(key)) {
        return { local: true, done: () => this.claims.unpin(key) };
      } else {
        return this.routeByClaim(key, conn, ctx, h);
      }
    } else if (h.command === Command.OPLOCK_BREAK) {
      const size = ctx.message.length >= 66 ? ctx.message.readUInt16LE(64) : 0;
      if (size === OPLOCK_ACK_SIZE && ctx.message.length >= 64 + 24) target = this.workerOf(fileIdAt(ctx.message, 64 + 8));
      else if (size === LEASE_ACK_SIZE && ctx.message.length >= 64 + 24) target = this.leaseHomes.get(leaseId(conn.clientGuid, ctx.message.subarray(72, 88)));
    } else {
      const at = FILE_ID_OFFSET[h.command];
      if (at === undefined || ctx.message.length < 64 + at + 16) return here;
      let id: FileId | undefined = fileIdAt(ctx.message, 64 + at);
      if (isRelatedFileId(id)) id = ctx.related ? ctx.compound.fileId : undefined;
      if (id) target = this.workerOf(id);
    }
    if (target === undefined || target === this.index) return here;
    // A durable reconnect may come while the worker its FileId names is being replaced: its successor has the open.
    const reconnect = h.command === Command.CREATE;
    return this.forward(target, conn, ctx, h, reconnect ? RECONNECT_WAIT_MS : 0).then((r) => ({ local: false as const, outcome: this.outcomeOf(r) }));
  }

  private async routeByClaim(key: string, conn: Connection, ctx: RequestContext, h: Smb2Header): Promise<Routed> {
    for (let attempt = 0; attempt < 4; attempt++) {
      const owner = await this.claims.own(key);
      if (owner === this.index) {
        return { local: true, done: () => this.claims.unpin(key) };
      }
      const r = await this.forward(owner, conn, ctx, h);
      if (r.moved === undefined) return { local: false, outcome: this.outcomeOf(r) };
    }
    return { local: false, outcome: Status.INSUFFICIENT_RESOURCES };
  }

  /** A CREATE's file key, or the worker a durable reconnect's FileId names; undefined: run it here. */
  private createTarget(ctx: RequestContext): string | number | undefined {
    let req;
    try {
      req = decodeCreateRequest(new Reader(ctx.message, 64, ctx.message.length, 0));
    } catch {
      return undefined;
    }
    for (const name of [CreateContextName.DURABLE_HANDLE_RECONNECT, CreateContextName.DURABLE_HANDLE_RECONNECT_V2]) {
      const c = findCreateContext(req.createContexts, name);
      if (c && c.data.length >= 16) return this.workerOf(fileIdAt(c.data, 0));
    }
    if (isQuotaFakeFile(req.name)) return undefined;
    const parsed = parseSmbName(req.name);
    if (typeof parsed === 'number') return undefined;
    return nodeKey(ctx.tree!.share, parsed.path);
  }

  /** Runs a request on worker `to`; `retryMs`: while `to` is gone (restarting), try again for that long. */
  private async forward(to: number, conn: Connection, ctx: RequestContext, h: Smb2Header, retryMs = 0): Promise<RunResult> {
    const rid = this.nextRid++;
    const s = ctx.session;
    const t = ctx.tree;
    const msg: LinkMessage = {
      t: 'run',
      rid,
      conn: {
        id: conn.id,
        dialect: conn.dialect ?? 0,
        clientGuid: conn.clientGuid,
        cipher: conn.cipher,
        signingAlgorithm: conn.signingAlgorithm,
        serverCapabilities: conn.serverCapabilities,
        maxTransactSize: conn.maxTransactSize,
        maxReadSize: conn.maxReadSize,
        maxWriteSize: conn.maxWriteSize,
        remoteAddress: conn.transport.remoteAddress,
      },
      session: s && { id: s.id, identity: s.identity, signingRequired: s.signingRequired, encryptData: s.encryptData },
      tree: t && { id: t.id, share: t.share.name, maximalAccess: t.maximalAccess, readOnly: t.readOnly, encrypt: t.encrypt },
      header: h,
      message: ctx.message,
      related: ctx.related,
      encrypted: ctx.encrypted,
      compound: ctx.compound,
      last: true,
    };
    this.sent.set(rid, { to, ctx });
    conn.forwarded.set(h.messageId, () => this.mesh.send(to, { t: 'cancel', rid } satisfies LinkMessage));
    try {
      const r = (retryMs > 0 ? await this.mesh.requestRetrying(to, msg, retryMs) : await this.mesh.request(to, msg)) as RunResult;
      if (r.fileId) ctx.compound.fileId = r.fileId;
      if (r.leaseKey) this.leaseHomes.set(leaseId(conn.clientGuid, r.leaseKey), to);
      return r;
    } catch (err) {
      this.server.log.warn('forwarded request failed', { to, error: (err as Error).message });
      return { status: Status.FILE_CLOSED, body: undefined, tail: undefined, fileId: undefined, leaseKey: undefined };
    } finally {
      this.sent.delete(rid);
      conn.forwarded.delete(h.messageId);
    }
  }

  private outcomeOf(r: RunResult): Outcome {
    if (r.body === undefined) return r.status ?? Status.INTERNAL_ERROR;
    const body = r.body;
    return { ...(r.status !== undefined ? { status: r.status } : {}), body: (w) => void w.bytes(body), ...(r.tail ? { tail: r.tail } : {}) };
  }

  // ---- running what another worker forwarded (the owner's side) ----

  private async onRequest(from: number, m: LinkMessage): Promise<unknown> {
    switch (m.t) {
      case 'run':
        await this.recovered;
        return this.run(from, m);
      case 'interest':
        this.interests.peer(from, m.key, m.tree, m.on);
        return true;
      case 'interests':
        // A worker (re)started: what it knew of `from` went with the process it replaces. It stays a user of the
        // shares it used (as their master knows): its successor may be recovering persistent opens there, so no
        // other worker may take that share alone meanwhile.
        this.interests.forgetPeer(from);
        return this.interests.announced();
      case 'claim':
      case 'revoke':
      case 'held':
      case 'join':
      case 'dissolve':
        return this.claims.onRequest(from, m);
      case 'open-below':
        for (const k of this.server.nodes.keys()) if (k.startsWith(m.prefix)) return true;
        return false;
      case 'has-session': {
        const s = this.server.sessions.get(m.sessionId);
        return s !== undefined && !this.isShadow(s);
      }
      case 'previous-session': {
        // MS-SMB2 3.3.5.5.3: the previous session of a reconnecting client goes, if it is here and the same user's.
        const s = this.server.sessions.get(m.sessionId);
        if (s && !this.isShadow(s) && replacedBy(s, m.user)) {
          this.server.log.info('previous session replaced', { session: s.id.toString(16), from: from });
          await this.server.destroySession(s);
        }
        return true;
      }
      default:
        throw new Error(`unexpected request ${m.t}`);
    }
  }

  private async run(from: number, m: Extract<LinkMessage, { t: 'run' }>): Promise<RunResult> {
    const runKey = `${from}:${m.rid}`;
    // Known from the start, so that a CANCEL arriving while it waits (for a claim) is remembered.
    this.running.set(runKey, undefined);
    try {
      return await this.runHere(from, m, runKey);
    } finally {
      this.running.delete(runKey);
      this.cancelledEarly.delete(runKey);
    }
  }

  private async runHere(from: number, m: Extract<LinkMessage, { t: 'run' }>, runKey: string): Promise<RunResult> {
    const handler = HANDLERS[m.header.command];
    if (!handler) return { status: Status.INVALID_PARAMETER, body: undefined, tail: undefined, fileId: undefined, leaseKey: undefined };
    let key: string | undefined;
    const conn = this.remoteConnection(from, m.conn);
    const session = m.session ? this.shadow(from, m.session, conn) : undefined;
    const tree = session && m.tree ? this.shadowTree(session, m.tree) : undefined;
    if (m.header.command === Command.CREATE && tree) {
      const k = this.createTarget({ message: m.message, tree } as RequestContext);
      if (typeof k === 'string') {
        const owner = await this.claims.own(k);
        if (owner !== this.index) return { status: undefined, body: undefined, tail: undefined, fileId: undefined, leaseKey: undefined, moved: owner };
        key = k;
      }
    }
    const compound = { ...m.compound };
    const ctx: RequestContext = {
      conn,
      header: m.header,
      message: m.message,
      r: new Reader(m.message, 64, m.message.length, 0),
      related: m.related,
      encrypted: m.encrypted,
      compound,
      session,
      tree,
      asyncId: undefined,
      onCancel: undefined,
      channel: undefined,
      survivesChannelLoss: false,
      // The channel sequence is the open's: counted here, where the open is (MS-SMB2 3.3.5.2.10).
      open: (fileId: FileId): Open | undefined => resolveOpen(ctx, fileId, m.conn.dialect),
      goAsync: (onCancel: () => void): void => {
        if (ctx.asyncId !== undefined) return;
        ctx.asyncId = 1n;
        ctx.onCancel = onCancel;
        // Cancelled before it went async: it is cancelled now, as the client asked.
        if (this.cancelledEarly.delete(runKey)) {
          queueMicrotask(onCancel);
          return;
        }
        // A DH2Q CREATE outlives the loss of the channel it came on: its home must not cancel it then either.
        this.mesh.send(from, { t: 'interim', rid: m.rid, survives: ctx.survivesChannelLoss } satisfies LinkMessage);
      },
    };
    this.running.set(runKey, ctx);
    try {
      const outcome = await runHandler(handler, ctx);
      const fileId = compound.fileId;
      let leaseKey: Buffer | undefined;
      if (m.header.command === Command.CREATE && fileId) leaseKey = session?.opens.get(fileId.volatile)?.lease?.key;
      if (typeof outcome === 'number') return { status: outcome, body: undefined, tail: undefined, fileId, leaseKey };
      // Offsets in a body count from its SMB2 header, 64 bytes before it (MS-SMB2 2.2.1).
      const w = new Writer(256, -64);
      outcome.body(w);
      const body = w.finish();
      // The tail (READ data) is copied into the message, so its memory can go back at once.
      const tail = outcome.tail ? Buffer.from(outcome.tail) : undefined;
      outcome.onSent?.();
      return { status: outcome.status, body, tail, fileId, leaseKey };
    } finally {
      if (ctx.channel) completeChannelSequence(ctx.channel.open.channel, ctx.channel.admission);
      if (key !== undefined) this.claims.unpin(key);
    }
  }

  /** The connection a forwarded request came on, as handlers see it; its breaks go back to the home worker. */
  private remoteConnection(home: number, f: ConnFacts): Connection {
    const link = this;
    const conn = {
      server: this.server,
      id: f.id,
      dialect: f.dialect,
      traits: f.dialect ? dialectTraits(f.dialect) : undefined,
      clientGuid: Buffer.from(f.clientGuid),
      cipher: f.cipher,
      signingAlgorithm: f.signingAlgorithm,
      serverCapabilities: f.serverCapabilities,
      maxTransactSize: f.maxTransactSize,
      maxReadSize: f.maxReadSize,
      maxWriteSize: f.maxWriteSize,
      transport: { remoteAddress: f.remoteAddress, localAddress: '', remotePort: 0, localPort: 0 },
      sessions: new Map<bigint, Session>(),
      outstandingBreaks: 0,
      log: this.server.log,
      sessionEnded: () => {},
      sendBreakNotification(session: Session, body: (w: Writer) => void): void {
        const w = new Writer(64, 64);
        body(w);
        link.mesh.send(home, { t: 'break', sessionId: session.id, body: w.finish() } satisfies LinkMessage);
      },
    };
    return conn as unknown as Connection;
  }

  private shadow(home: number, f: SessionFacts, conn: Connection): Session {
    const k = `${home}:${f.id}`;
    let s = this.shadows.get(k);
    if (!s) {
      s = new Session(f.id, conn);
      s.state = 'valid';
      this.shadows.set(k, s);
      this.shadowHome.set(s, home);
      this.shadowById.set(f.id, s);
    } else {
      // The latest connection's facts (a multichannel or reconnected client).
      s.channels[0] = { connection: conn, signingKey: undefined, binding: undefined };
    }
    s.identity = f.identity;
    s.signingRequired = f.signingRequired;
    s.encryptData = f.encryptData;
    return s;
  }

  private shadowTree(s: Session, f: TreeFacts): Tree | undefined {
    const t = s.trees.get(f.id);
    if (t) return t;
    const share = this.server.findShare(f.share);
    if (!share) return undefined;
    const tree = new Tree(f.id, s, share, f.maximalAccess, f.readOnly, f.encrypt);
    s.trees.set(f.id, tree);
    return tree;
  }

  // ---- events ----

  private onMessage(from: number, m: LinkMessage): void {
    switch (m.t) {
      case 'interim': {
        const s = this.sent.get(m.rid);
        if (!s) return;
        s.ctx.survivesChannelLoss = m.survives;
        s.ctx.goAsync(() => this.mesh.send(s.to, { t: 'cancel', rid: m.rid } satisfies LinkMessage));
        return;
      }
      case 'cancel': {
        const k = `${from}:${m.rid}`;
        if (!this.running.has(k)) return;
        const ctx = this.running.get(k);
        if (ctx?.onCancel) ctx.onCancel();
        else this.cancelledEarly.add(k);
        return;
      }
      case 'break': {
        const s = this.server.sessions.get(m.sessionId);
        if (!s || this.shadowHome.has(s)) return;
        const body = m.body;
        s.connection.sendBreakNotification(s, (w) => void w.bytes(body));
        return;
      }
      case 'session-end': {
        const k = `${from}:${m.sessionId}`;
        const s = this.shadows.get(k);
        if (!s) return;
        // Still a shadow while it ends, so its end is not announced again from here.
        void this.server.destroySession(s, m.keepDurable).finally(() => {
          if (this.shadows.get(k) === s) this.shadows.delete(k);
          if (this.shadowById.get(s.id) === s) this.shadowById.delete(s.id);
          this.shadowHome.delete(s);
        });
        return;
      }
      case 'tree-end': {
        const t = this.shadows.get(`${from}:${m.sessionId}`)?.trees.get(m.treeId);
        if (t) void this.server.closeTree(t);
        return;
      }
      case 'notify': {
        const share = this.server.findShare(m.share);
        if (share) this.server.notify.report(share, m.changes, false);
        return;
      }
      case 'entry-changed': {
        const share = this.server.findShare(m.share);
        const a = m.actor;
        const actor = a && { parentLeaseKey: a.parentLeaseKey && Buffer.from(a.parentLeaseKey), clientGuid: Buffer.from(a.clientGuid) };
        if (share) this.server.entryChanged(share, m.path, actor, false);
        return;
      }
      case 'child-removed': {
        const share = this.server.findShare(m.share);
        if (share) this.server.noteChildRemoved(share, m.path, false);
        return;
      }
      case 'interest':
        this.interests.peer(from, m.key, m.tree, m.on);
        return;
      case 'release':
      case 'leave':
      case 'solo':
        this.claims.onMessage(from, m);
        return;
      case 'run':
      case 'interests':
      case 'claim':
      case 'revoke':
      case 'held':
      case 'open-below':
      case 'previous-session':
      case 'join':
      case 'dissolve':
        return;
    }
  }

  /** Tells every other worker (sessions and trees that end, changes for their watches and directory leases). */
  broadcast(m: LinkMessage): void {
    for (const p of this.peers()) this.mesh.send(p, m);
  }

  /** A shadow session by id (where breaks for its opens go). */
  shadowSession(id: bigint): Session | undefined {
    return this.shadowById.get(id);
  }

  /** Whether a session is a shadow of another worker's (its end is announced by its home, not here). */
  isShadow(s: Session): boolean {
    return this.shadowHome.has(s);
  }

  sessionEnded(s: Session, keepDurable: boolean): void {
    if (!this.isShadow(s)) this.broadcast({ t: 'session-end', sessionId: s.id, keepDurable });
  }

  treeEnded(t: Tree): void {
    if (!this.isShadow(t.session)) this.broadcast({ t: 'tree-end', sessionId: t.session.id, treeId: t.id });
  }

  /** Changes made here, for the watches of the workers that watch where they happened. */
  notifyPeers(share: ShareDef, changes: readonly Change[]): void {
    if (!this.interests.any) return;
    const by = new Map<number, Change[]>();
    for (const c of changes) {
      const mask = this.interests.interested(share, c.path);
      for (let i = 0; mask >> i; i++) if (mask & (1 << i)) (by.get(i) ?? by.set(i, []).get(i)!).push(c);
    }
    for (const [i, list] of by) this.mesh.send(i, { t: 'notify', share: share.name, changes: list } satisfies LinkMessage);
  }

  /** Whether another worker watches anything in the share (otherwise changes need not be described for them). */
  peersWatch(share: ShareDef): boolean {
    return this.interests.inShare(share);
  }

  entryChangedElsewhere(share: ShareDef, path: string, actor: DirectoryChangeActor | undefined): void {
    const mask = this.interests.interested(share, path);
    if (mask === 0) return;
    const a = actor && { parentLeaseKey: actor.parentLeaseKey, clientGuid: actor.clientGuid };
    this.sendTo(mask, { t: 'entry-changed', share: share.name, path, actor: a });
  }

  childRemovedElsewhere(share: ShareDef, path: string): void {
    const mask = this.interests.interested(share, path);
    if (mask !== 0) this.sendTo(mask, { t: 'child-removed', share: share.name, path });
  }

  private sendTo(mask: number, m: LinkMessage): void {
    for (let i = 0; mask >> i; i++) if (mask & (1 << i)) this.mesh.send(i, m);
  }

  /**
   * Tells the other workers that this one has a directory open (`tree`: watches it with its subtree). Undefined
   * when they know already, else a promise that settles when they all do (workers/interest.ts).
   */
  interest(share: ShareDef, path: string, tree: boolean): Promise<void> | undefined {
    return this.interests.announce(share, path, tree);
  }

  /** Whether this worker uses the share alone now (no other worker touches its files). */
  aloneIn(share: { name: string }): boolean {
    return this.claims.isSolo(share.name.toUpperCase());
  }

  /** Claims a key for a request running here (a rename's destination): its unpin, or undefined when another worker has it. */
  claimHere(key: string): Promise<(() => void) | undefined> {
    return this.claims.claimHere(key);
  }

  /** A reconnecting client named a previous session that is not here: the worker that has it ends it. */
  async endPreviousSession(sessionId: bigint, user: { user: string; guest: boolean }): Promise<void> {
    await this.askPeers({ t: 'previous-session', sessionId, user });
  }

  /** Whether another worker has something open below a directory (nodes with keys under its key). */
  async openBelow(share: ShareDef, path: string): Promise<boolean> {
    const prefix = nodeKey(share, path) + '/';
    return [...(await this.askPeers({ t: 'open-below', prefix })).values()].some(Boolean);
  }

  // ---- clients ----

  /** The worker that serves a client's connections (by ClientGuid, hex): the first to ask, while it has any. */
  placeClient(client: string): Promise<number> {
    const id = this.nextClaim++;
    return new Promise<number>((resolve) => {
      this.claimWaits.set(id, resolve);
      process.send?.({ t: 'place', id, client } satisfies ClaimToPrimary);
    });
  }

  clientGone(client: string): void {
    process.send?.({ t: 'client-gone', client } satisfies ClaimToPrimary);
  }

  /** Hands a connection's socket to another worker through the primary, with the message it brought. */
  moveConnection(
    to: number,
    socket: import('node:net').Socket,
    kind: 'direct' | 'netbios',
    remote: string,
    first: Buffer,
    established: boolean,
    state?: NegotiatedState,
  ): void {
    process.send?.({ t: 'migrate', to, kind, remote, first, established, ...(state ? { state } : {}) } satisfies ClaimToPrimary, socket);
  }

  /** The worker where a session lives (not as a shadow), if any. */
  async sessionHome(sessionId: bigint): Promise<number | undefined> {
    for (const [w, has] of await this.askPeers({ t: 'has-session', sessionId })) if (has === true) return w;
    return undefined;
  }

  private fromPrimary(m: ClaimFromPrimary): void {
    const w = this.claimWaits.get(m.id);
    this.claimWaits.delete(m.id);
    w?.(m.worker);
  }

  private releaseIdle(): void {
    this.interests.withdrawIdle();
    this.claims.releaseIdle();
  }
}

function fileIdAt(b: Buffer, at: number): FileId {
  return decodeFileId(new Reader(b, at, at + 16));
}

function leaseId(clientGuid: Buffer, key: Buffer): string {
  return clientGuid.toString('hex') + key.toString('hex');
}
