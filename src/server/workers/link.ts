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
import { Mesh } from './mesh.js';

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
  | { t: 'interest'; key: string; tree: boolean; on: boolean }
  | { t: 'interests' }
  | { t: 'claim'; key: string }
  | { t: 'revoke'; key: string }
  | { t: 'release'; keys: string[] }
  | { t: 'held' }
  | { t: 'open-below'; prefix: string }
  | { t: 'previous-session'; sessionId: bigint; user: { user: string; guest: boolean } }
  | { t: 'has-session'; sessionId: bigint }
  | { t: 'join'; share: string }
  | { t: 'leave'; share: string }
  | { t: 'dissolve'; share: string }
  | { t: 'solo'; share: string };

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
  /** Keys this worker may create nodes for without asking. */
  private readonly held = new Set<string>();
  /** Keys in use by a request running here (never given up meanwhile). */
  private readonly pins = new Map<string, number>();
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
  /** As a master (claims, below): the owner of each key, decisions in progress, and what they wait for at start. */
  private readonly owners = new Map<string, number>();
  private readonly claimChains = new Map<string, Promise<unknown>>();
  private directoryReady: Promise<void> = Promise.resolve();
  /** Settles once this worker's recovered opens are back: forwarded requests (a reconnect among them) wait for it. */
  private recovered: Promise<void>;
  private markRecovered!: () => void;
  /** This worker's standing in each share it uses (absent: it joins first), joins under way, claims under way by share. */
  private readonly shareModes = new Map<string, ShareMode>();
  private readonly joining = new Map<string, Promise<void>>();
  private readonly claimsIn = new Map<string, number>();
  /** As a share's master: the workers that use it, and the one that uses it alone. */
  private readonly shareUsers = new Map<string, Set<number>>();
  private readonly soloUser = new Map<string, number>();
  private readonly shareChains = new Map<string, Promise<unknown>>();
  /** Directories this worker told the others it has open, and whether it watches their subtrees; `told` while not all know. */
  private readonly interests = new Map<string, { tree: boolean; told: Promise<void> | undefined }>();
  /** The other workers' (bit masks) by directory key: those with it open, those that watch its subtree. */
  private readonly peerDirs = new Map<string, number>();
  private readonly peerTrees = new Map<string, number>();
  /** How many directories of each share (upper case) the others have open, and watch with their subtrees. */
  private readonly peerShares = new Map<string, number>();
  private readonly peerTreeShares = new Map<string, number>();

  constructor(server: SmbServer, group: string, index: number, count: number) {
    this.recovered = new Promise<void>((r) => (this.markRecovered = r));
    this.server = server;
    this.index = index;
    this.count = count;
    this.mesh = new Mesh(group, index, {
      onMessage: (from, body) => this.onMessage(from, body as LinkMessage),
      onRequest: (from, body) => this.onRequest(from, body as LinkMessage),
    });
    process.on('message', (m: ClaimFromPrimary) => this.fromPrimary(m));
    // Keys whose files closed here go back to their masters in batches, so their tables stay the size of what is open.
    this.releaseTimer = setInterval(() => this.releaseIdle(), 1000);
    this.releaseTimer.unref();
  }

  /** Listens for the other workers, then learns which directories they have open or watch. */
  async listen(): Promise<void> {
    await this.mesh.listen();
    let ready!: () => void;
    this.directoryReady = new Promise<void>((r) => (ready = r));
    await this.learnOwners().finally(ready);
    // A worker not started yet asks us in turn.
    for (const [i, list] of await this.askPeers({ t: 'interests' })) {
      for (const { key, tree } of list as { key: string; tree: boolean }[]) this.peerInterest(i, key, tree, true);
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
      const key = nodeKey(share, r.path);
      this.held.add(key);
      this.pin(key);
      if (this.master(key) === this.index) this.owners.set(key, this.index);
    }
    return mine;
  }

  /** A reserved key's open is being recovered: its master learns it is here. Undefined: another worker has it. */
  async recovering(key: string): Promise<(() => void) | undefined> {
    // Its share counts this worker as a user, so no other worker takes the share alone.
    await this.useShare(shareOf(key));
    const owner = await this.claimAt(key);
    if (owner === this.index) this.unpin(key); // the claim's own pin; the reservation's is the caller's
    const release = (): void => this.unpin(key);
    if (owner === this.index) return release;
    release();
    return undefined;
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
      else if (this.held.has(key)) {
        this.pin(key);
        return { local: true, done: () => this.unpin(key) };
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
      const owner = await this.own(key);
      if (owner === this.index) {
        return { local: true, done: () => this.unpin(key) };
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
      const r = (retryMs > 0 ? await this.requestRetrying(to, msg, retryMs) : await this.mesh.request(to, msg)) as RunResult;
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
        this.peerInterest(from, m.key, m.tree, m.on);
        return true;
      case 'interests':
        // A worker (re)started: what it knew of `from` went with the process it replaces.
        this.forgetPeer(from);
        return [...this.interests].map(([key, i]) => ({ key, tree: i.tree }));
      case 'claim':
        return this.decide(from, m.key);
      case 'revoke':
        return this.giveUp(m.key);
      case 'held':
        return {
          keys: [...this.held].filter((k) => this.master(k) === from),
          shares: [...this.shareModes].filter(([share]) => this.shareMaster(share) === from),
        };
      case 'join':
        return this.admit(from, m.share);
      case 'dissolve':
        await this.dissolve(m.share);
        return true;
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
        const owner = await this.own(k);
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
      if (key !== undefined) this.unpin(key);
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
        this.peerInterest(from, m.key, m.tree, m.on);
        return;
      case 'release':
        this.released(from, m.keys);
        return;
      case 'leave':
        this.leave(from, m.share);
        return;
      case 'solo':
        this.becomeSolo(m.share);
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
    if (this.peerDirs.size === 0) return;
    const by = new Map<number, Change[]>();
    for (const c of changes) {
      const mask = this.interested(share, c.path);
      for (let i = 0; mask >> i; i++) if (mask & (1 << i)) (by.get(i) ?? by.set(i, []).get(i)!).push(c);
    }
    for (const [i, list] of by) this.mesh.send(i, { t: 'notify', share: share.name, changes: list } satisfies LinkMessage);
  }

  /** Whether another worker watches anything in the share (otherwise changes need not be described for them). */
  peersWatch(share: ShareDef): boolean {
    return (this.peerShares.get(share.name.toUpperCase()) ?? 0) > 0;
  }

  entryChangedElsewhere(share: ShareDef, path: string, actor: DirectoryChangeActor | undefined): void {
    const mask = this.interested(share, path);
    if (mask === 0) return;
    const a = actor && { parentLeaseKey: actor.parentLeaseKey, clientGuid: actor.clientGuid };
    this.sendTo(mask, { t: 'entry-changed', share: share.name, path, actor: a });
  }

  childRemovedElsewhere(share: ShareDef, path: string): void {
    const mask = this.interested(share, path);
    if (mask !== 0) this.sendTo(mask, { t: 'child-removed', share: share.name, path });
  }

  private sendTo(mask: number, m: LinkMessage): void {
    for (let i = 0; mask >> i; i++) if (mask & (1 << i)) this.mesh.send(i, m);
  }

  // ---- interest: the directories each worker has open or watches ----
  //
  // A change to an entry concerns only the workers that have its directory open (its directory leases, enumerations
  // and watches) or watch a directory above it with its subtree. Each worker tells the others what it has open or
  // watches, and waits until they all know before it answers the request that opened or watched it: a change made
  // elsewhere before that is already on the disk when the client looks, and one made after it is told. What a worker
  // no longer has open is withdrawn with the idle claims (a withdrawn directory costs only messages nobody needs).

  /**
   * Tells the other workers that this one has a directory open (`tree`: watches it with its subtree). Undefined
   * when they know already, else a promise that settles when they all do.
   */
  interest(share: ShareDef, path: string, tree: boolean): Promise<void> | undefined {
    const key = nodeKey(share, path);
    const had = this.interests.get(key);
    if (had && (had.tree || !tree)) return had.told;
    const i = { tree, told: undefined as Promise<void> | undefined };
    this.interests.set(key, i);
    i.told = this.askPeers({ t: 'interest', key, tree, on: true }).then(() => {
      i.told = undefined;
    });
    return i.told;
  }

  /** `on`: `from` has the directory open (and watches its subtree: `tree`); off: it no longer watches the subtree, or (not `tree`) has nothing there. */
  private peerInterest(from: number, key: string, tree: boolean, on: boolean): void {
    const bit = 1 << from;
    if (on) {
      setBit(this.peerDirs, this.peerShares, key, bit, true);
      if (tree) setBit(this.peerTrees, this.peerTreeShares, key, bit, true);
    } else {
      setBit(this.peerTrees, this.peerTreeShares, key, bit, false);
      if (!tree) setBit(this.peerDirs, this.peerShares, key, bit, false);
    }
  }

  private forgetPeer(from: number): void {
    for (const key of [...this.peerDirs.keys()]) this.peerInterest(from, key, false, false);
    // It stays a user of the shares it used (as their master knows): its successor may be recovering persistent
    // opens there, so no other worker may take that share alone meanwhile.
  }

  /** The workers (a bit mask) that have the directory of `path` open, or watch a directory above it with its subtree. */
  private interested(share: ShareDef, path: string): number {
    const slash = path.lastIndexOf('/');
    let mask = this.peerDirs.get(nodeKey(share, slash < 0 ? '' : path.slice(0, slash))) ?? 0;
    if ((this.peerTreeShares.get(share.name.toUpperCase()) ?? 0) > 0) {
      for (let at = slash; at >= 0; at = path.lastIndexOf('/', at - 1)) mask |= this.peerTrees.get(nodeKey(share, path.slice(0, at))) ?? 0;
      mask |= this.peerTrees.get(nodeKey(share, '')) ?? 0;
    }
    return mask;
  }

  /** Withdraws what this worker no longer has open or watches. */
  private withdrawIdle(): void {
    for (const [key, i] of this.interests) {
      if (i.told !== undefined) continue;
      const node = this.server.nodes.get(key);
      if (node && node.opens.size > 0) {
        if (i.tree && !this.server.notify.watchesTree(key)) {
          i.tree = false;
          this.broadcast({ t: 'interest', key, tree: true, on: false });
        }
        continue;
      }
      this.interests.delete(key);
      this.broadcast({ t: 'interest', key, tree: false, on: false });
    }
  }

  // ---- claims ----
  //
  // Each key has a master among the workers, by hash (as CTDB's location master): the master decides who owns the
  // key's state. The first to ask gets it; a later asker gets it only if the holder gives it up (nothing open
  // there), else it sends its request to the holder. A worker asks one worker, or none when it is the key's master,
  // and the primary is not involved. A master that restarts learns again from the others what they hold.

  /** The worker that decides who owns `key`. */
  private master(key: string): number {
    return masterOf(key, this.count);
  }

  /**
   * The worker that owns `key`: this one when it holds it or its master grants it, and then the key is pinned (in
   * use, so never given up) from the moment that is known: the caller unpins it when done.
   */
  async own(key: string): Promise<number> {
    if (this.held.has(key)) {
      this.pin(key);
      return this.index;
    }
    const share = shareOf(key);
    // Counted from here, so that the share is not left while the claim is under way.
    this.claimsIn.set(share, (this.claimsIn.get(share) ?? 0) + 1);
    try {
      if (!this.shareModes.has(share)) await this.useShare(share);
      if (this.shareModes.get(share) === 'solo') {
        this.held.add(key);
        this.pin(key);
        return this.index;
      }
      return await this.claimAt(key);
    } finally {
      const n = (this.claimsIn.get(share) ?? 1) - 1;
      if (n > 0) this.claimsIn.set(share, n);
      else this.claimsIn.delete(share);
    }
  }

  // ---- shares that one worker uses alone ----
  //
  // While only one worker uses a share, it claims the share's keys without asking anyone ("solo"). The share's
  // master (by hash of its name) knows which workers use it. The first other worker that needs a key there joins
  // the share: the solo worker registers the keys it uses with their masters before the join is answered, and from
  // then on each worker claims that share's keys one by one. A worker leaves a share once it holds nothing there;
  // the one left alone is told it is solo again.

  /** Joins `share` unless this worker uses it already. */
  private async useShare(share: string): Promise<void> {
    while (!this.shareModes.has(share)) {
      let j = this.joining.get(share);
      if (!j) {
        j = this.join(share).finally(() => this.joining.delete(share));
        this.joining.set(share, j);
      }
      await j;
    }
  }

  private async join(share: string): Promise<void> {
    const m = this.shareMaster(share);
    if (m === this.index) {
      await this.admit(this.index, share);
      return;
    }
    // Taken in as the answer is read: a dissolve the master sends after it must find it.
    await this.requestRetrying(m, { t: 'join', share }, 15_000, (mode) => this.shareModes.set(share, mode as ShareMode));
  }

  /** As a share's master: `asker` uses the share from now on; alone there, or with others (a solo worker shares first). */
  private admit(asker: number, share: string): Promise<ShareMode> {
    return this.inShareOrder(share, async () => {
      const users = this.shareUsers.get(share) ?? new Set<number>();
      this.shareUsers.set(share, users);
      const alone = this.soloUser.get(share);
      if (alone !== undefined && alone !== asker) {
        if (alone === this.index) await this.dissolve(share);
        else await this.requestRetrying(alone, { t: 'dissolve', share }, 10_000).catch(() => {}); // never back: nothing to share
        this.soloUser.delete(share);
      }
      users.add(asker);
      const mode: ShareMode = users.size === 1 ? 'solo' : 'shared';
      if (mode === 'solo') this.soloUser.set(share, asker);
      if (asker === this.index) this.shareModes.set(share, mode);
      return mode;
    });
  }

  /** As a share's master: `from` no longer uses it; a worker left alone there is solo again. */
  private leave(from: number, share: string): void {
    void this.inShareOrder(share, async () => {
      const users = this.shareUsers.get(share);
      if (!users?.delete(from)) return;
      if (this.soloUser.get(share) === from) this.soloUser.delete(share);
      if (users.size === 0) {
        this.shareUsers.delete(share);
        return;
      }
      const [last] = users;
      if (users.size !== 1 || last === undefined || this.soloUser.has(share)) return;
      this.soloUser.set(share, last);
      if (last === this.index) this.becomeSolo(share);
      else this.mesh.send(last, { t: 'solo', share } satisfies LinkMessage);
    });
  }

  private inShareOrder<T>(share: string, step: () => Promise<T>): Promise<T> {
    return inOrder(this.shareChains, share, this.directoryReady, step);
  }

  private becomeSolo(share: string): void {
    if (this.shareModes.get(share) === 'shared') this.shareModes.set(share, 'solo');
  }

  /** Another worker joins a share this one used alone: what it uses there is registered with the keys' masters. */
  private async dissolve(share: string): Promise<void> {
    // Also when this worker does not use the share yet: it may be the successor of the solo one, with the keys of
    // the persistent opens it recovers.
    if (this.shareModes.get(share) === 'shared') return;
    if (this.shareModes.has(share)) this.shareModes.set(share, 'shared');
    const used: string[] = [];
    for (const k of this.held) {
      if (shareOf(k) !== share) continue;
      if (this.inUse(k)) used.push(k);
      else this.held.delete(k);
    }
    await Promise.all(
      used.map(async (k) => {
        const owner = await this.claimAt(k);
        if (owner === this.index) this.unpin(k);
        else this.server.log.error('a key used alone was owned elsewhere', { key: k, owner });
      }),
    );
  }

  /** Leaves the shares where this worker holds nothing and claims nothing. */
  private leaveIdleShares(): void {
    const busy = new Set<string>();
    for (const k of this.held) busy.add(shareOf(k));
    for (const share of [...this.shareModes.keys()]) {
      if (busy.has(share) || this.claimsIn.has(share) || this.joining.has(share)) continue;
      this.shareModes.delete(share);
      const m = this.shareMaster(share);
      if (m === this.index) this.leave(this.index, share);
      else this.mesh.send(m, { t: 'leave', share } satisfies LinkMessage);
    }
  }

  private shareMaster(share: string): number {
    return masterOf(`${share}\u0001`, this.count);
  }

  /** Where `key` is decided: here when this worker is its master, else by asking the master. */
  private claimAt(key: string): Promise<number> {
    const m = this.master(key);
    if (m === this.index) return this.decide(this.index, key);
    // Held and pinned from the moment the answer is read: a revoke the master sends after it must find it so.
    const held = (owner: unknown): void => {
      if (owner !== this.index) return;
      this.held.add(key);
      this.pin(key);
    };
    return this.requestRetrying(m, { t: 'claim', key }, 15_000, held) as Promise<number>;
  }

  /** As the master of `key`: who owns it now that `asker` wants it. Decisions about one key come one after another. */
  private decide(asker: number, key: string): Promise<number> {
    return inOrder(this.claimChains, key, this.directoryReady, async () => {
      const holder = this.owners.get(key);
      if (holder !== undefined && holder !== asker) {
        const released = holder === this.index ? this.giveUp(key) : await this.askRevoke(holder, key);
        if (!released || this.owners.get(key) !== holder) return this.owners.get(key) ?? holder;
      }
      this.owners.set(key, asker);
      if (asker === this.index) {
        this.held.add(key);
        this.pin(key);
      }
      return asker;
    });
  }

  /**
   * Asks a holder to give a key up. A holder that cannot be reached is being replaced (the primary starts another
   * in its place): its successor answers, and keeps the keys of the persistent opens it recovers.
   */
  private async askRevoke(holder: number, key: string): Promise<boolean> {
    return ((await this.requestRetrying(holder, { t: 'revoke', key }, 10_000).catch(() => undefined)) as boolean | undefined) ?? true;
  }

  /**
   * A request to a worker that may be restarting (its requests fail until it is back): tried again every 100 ms;
   * the last failure is thrown once `ms` have passed.
   */
  private async requestRetrying(to: number, m: LinkMessage, ms: number, onAnswer?: (body: unknown) => void): Promise<unknown> {
    const deadline = Date.now() + ms;
    for (;;) {
      try {
        return await this.mesh.request(to, m, onAnswer);
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** Gives a key up unless something here uses it. */
  private giveUp(key: string): boolean {
    if (this.held.has(key) && this.inUse(key)) return false;
    this.held.delete(key);
    return true;
  }

  /** As a master: keys that `from` no longer uses. */
  private released(from: number, keys: string[]): void {
    for (const k of keys) if (this.owners.get(k) === from) this.owners.delete(k);
  }

  /** At start: the keys the others hold, and the shares they use, that this worker is the master of (a master that restarts lost its tables). */
  private async learnOwners(): Promise<void> {
    // A worker not started yet holds nothing.
    for (const [i, answer] of await this.askPeers({ t: 'held' })) {
      const { keys, shares } = answer as { keys: string[]; shares: [string, ShareMode][] };
      for (const k of keys) if (!this.owners.has(k)) this.owners.set(k, i);
      for (const [share, mode] of shares) {
        const users = this.shareUsers.get(share) ?? new Set<number>();
        this.shareUsers.set(share, users);
        users.add(i);
        if (mode === 'solo') this.soloUser.set(share, i);
      }
    }
  }

  /** Claims a key for a request running here (a rename's destination): its unpin, or undefined when another worker has it. */
  async claimHere(key: string): Promise<(() => void) | undefined> {
    const owner = await this.own(key);
    return owner === this.index ? () => this.unpin(key) : undefined;
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

  private pin(key: string): void {
    this.pins.set(key, (this.pins.get(key) ?? 0) + 1);
  }

  private unpin(key: string): void {
    const n = (this.pins.get(key) ?? 1) - 1;
    if (n <= 0) this.pins.delete(key);
    else this.pins.set(key, n);
  }

  private inUse(key: string): boolean {
    return (this.pins.get(key) ?? 0) > 0 || this.server.nodes.has(key);
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
    this.withdrawIdle();
    const byMaster = new Map<number, string[]>();
    for (const k of this.held) {
      if (this.inUse(k)) continue;
      this.held.delete(k);
      // A key taken while alone in its share was never registered with its master.
      if (this.shareModes.get(shareOf(k)) === 'solo') continue;
      const m = this.master(k);
      (byMaster.get(m) ?? byMaster.set(m, []).get(m)!).push(k);
    }
    for (const [m, keys] of byMaster) {
      if (m === this.index) this.released(this.index, keys);
      else this.mesh.send(m, { t: 'release', keys } satisfies LinkMessage);
    }
    this.leaveIdleShares();
  }
}

type ShareMode = 'solo' | 'shared';

/** Runs `step` after the steps chained under `key` before it (or after `first`), whether they succeeded or not. */
function inOrder<T>(chains: Map<string, Promise<unknown>>, key: string, first: Promise<unknown>, step: () => Promise<T>): Promise<T> {
  const next = (chains.get(key) ?? first).then(step, step);
  chains.set(key, next);
  void next
    .finally(() => {
      if (chains.get(key) === next) chains.delete(key);
    })
    .catch(() => {});
  return next;
}

/** The share part of a file key (nodeKey: the share's name, NUL, the path). */
function shareOf(key: string): string {
  return key.slice(0, key.indexOf('\u0000'));
}

/** Which of `count` workers is the master of a key (FNV-1a of its UTF-16 code units). */
export function masterOf(key: string, count: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h >>> 0) % count;
}

function fileIdAt(b: Buffer, at: number): FileId {
  return decodeFileId(new Reader(b, at, at + 16));
}

function leaseId(clientGuid: Buffer, key: Buffer): string {
  return clientGuid.toString('hex') + key.toString('hex');
}

/** Sets or clears a worker's bit of a directory key, and counts the share's keys that have any. */
function setBit(map: Map<string, number>, counts: Map<string, number>, key: string, bit: number, on: boolean): void {
  const had = map.get(key) ?? 0;
  const next = on ? had | bit : had & ~bit;
  if (next === had) return;
  const share = shareOf(key);
  if (next === 0) {
    map.delete(key);
    const n = (counts.get(share) ?? 1) - 1;
    if (n > 0) counts.set(share, n);
    else counts.delete(share);
  } else {
    map.set(key, next);
    if (had === 0) counts.set(share, (counts.get(share) ?? 0) + 1);
  }
}
