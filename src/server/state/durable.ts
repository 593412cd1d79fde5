import { Status } from '../../protocol/nt-status.js';
import { OplockLevel } from '../../protocol/smb2/constants.js';
import type { FileId } from '../../protocol/smb2/commands/file-id.js';
import {
  CreateContextName,
  decodeDurableHandleReconnect,
  decodeDurableHandleReconnectV2,
  decodeDurableHandleRequest,
  decodeDurableHandleRequestV2,
  DurableHandleV2Flags,
  encodeDurableHandleResponse,
  encodeDurableHandleResponseV2,
  findCreateContext,
  LeaseState,
  type CreateContext,
} from '../../protocol/smb2/contexts/create-contexts.js';
import { WireError } from '../../errors.js';
import type { Open } from './open.js';

/** How durable handles are offered (config: [server] durable_handles, durable_handle_timeout, durable_handle_max_timeout). */
export interface DurablePolicy {
  enabled: boolean;
  /** What a durable open waits for its client when the client names no timeout (v1 opens, DH2Q Timeout 0). */
  defaultTimeoutMs: number;
  /** The longest wait a DH2Q may ask for (longer requests are cut to it). */
  maxTimeoutMs: number;
}

/** What a CREATE asks about durability, decoded from its contexts (MS-SMB2 3.3.5.9.6, .7, .10, .12). */
export type DurableRequest =
  | { kind: 'none' }
  | { kind: 'open'; version: 1 }
  | { kind: 'open'; version: 2; timeoutMs: number; persistent: boolean; createGuid: Buffer }
  | { kind: 'reconnect'; version: 1; fileId: FileId }
  | { kind: 'reconnect'; version: 2; fileId: FileId; createGuid: Buffer; persistent: boolean };

/**
 * The durability contexts of a CREATE, or INVALID_PARAMETER for combinations the spec refuses. The v2 contexts
 * exist only in the 3.x dialects; older dialects ignore them like any unknown context.
 */
export function decodeDurableRequest(contexts: readonly CreateContext[], dialect: number): DurableRequest | number {
  const v2 = dialect >= 0x0300;
  const dhnq = findCreateContext(contexts, CreateContextName.DURABLE_HANDLE_REQUEST);
  const dhnc = findCreateContext(contexts, CreateContextName.DURABLE_HANDLE_RECONNECT);
  const dh2q = v2 ? findCreateContext(contexts, CreateContextName.DURABLE_HANDLE_REQUEST_V2) : undefined;
  const dh2c = v2 ? findCreateContext(contexts, CreateContextName.DURABLE_HANDLE_RECONNECT_V2) : undefined;
  try {
    if (dh2c) {
      // 3.3.5.9.12: a v2 reconnect beside any other durability context is refused.
      if (dhnq || dhnc || dh2q) return Status.INVALID_PARAMETER;
      const c = decodeDurableHandleReconnectV2(dh2c.data);
      return { kind: 'reconnect', version: 2, fileId: c.fileId, createGuid: c.createGuid, persistent: (c.flags & DurableHandleV2Flags.PERSISTENT) !== 0 };
    }
    if (dhnc) {
      // 3.3.5.9.7: a DHnQ beside a DHnC is ignored; a DH2Q is refused.
      if (dh2q) return Status.INVALID_PARAMETER;
      return { kind: 'reconnect', version: 1, fileId: decodeDurableHandleReconnect(dhnc.data).fileId };
    }
    if (dh2q) {
      if (dhnq) return Status.INVALID_PARAMETER; // 3.3.5.9.10
      const q = decodeDurableHandleRequestV2(dh2q.data);
      return { kind: 'open', version: 2, timeoutMs: q.timeout, persistent: (q.flags & DurableHandleV2Flags.PERSISTENT) !== 0, createGuid: q.createGuid };
    }
    if (dhnq) {
      decodeDurableHandleRequest(dhnq.data);
      return { kind: 'open', version: 1 };
    }
  } catch (err) {
    if (err instanceof WireError) return Status.INVALID_PARAMETER;
    throw err;
  }
  return { kind: 'none' };
}

/** Keys a CreateGuid by the client that sent it (Open.CreateGuid is unique per ClientGuid). */
function guidKey(clientGuid: Buffer, createGuid: Buffer): string {
  return clientGuid.toString('hex') + createGuid.toString('hex');
}

/**
 * Whether an open's caching keeps it durable (MS-SMB2 3.3.5.9.6, 3.3.7.1): a batch oplock, or a lease with handle
 * caching.
 */
export function keepsHandle(oplockLevel: number, leaseState: number | undefined): boolean {
  return oplockLevel === OplockLevel.BATCH || ((leaseState ?? 0) & LeaseState.HANDLE_CACHING) !== 0;
}

/** Journal hooks for persistent opens (server/state/journal.ts implements them). */
export interface PersistentJournal {
  /** Resolves once the open's record is on disk. */
  save(open: Open): Promise<void>;
  /** Resolves once the open's record is gone from the disk. */
  remove(open: Open): Promise<void>;
  /** The same by the open's id (a record found unusable when rebuilding). */
  forget(persistentId: string): Promise<void>;
}

/**
 * Durable, resilient and persistent opens (MS-SMB2 3.3.1.10, 3.3.5.9.6-.12, 3.3.7.1): which opens get durability,
 * the table a reconnect looks them up in (by FileId.Persistent, and by CreateGuid for replays), keeping an open
 * when its connection or session goes, and closing it when nobody reclaims it in time (the scavenger).
 */
export class DurableHandles {
  readonly policy: DurablePolicy;
  /** Durable and resilient opens by FileId.Persistent (the part of GlobalOpenTable a reconnect searches). */
  private readonly byId = new Map<bigint, Open>();
  /** Opens created with a DH2Q CreateGuid, connected ones only (replay detection). */
  private readonly byCreateGuid = new Map<string, Open>();
  /** DH2Q CREATEs in progress (waiting for a break, say), by client and CreateGuid. */
  private readonly creating = new Set<string>();
  /** Scavenger timers of disconnected opens. */
  private readonly timers = new Map<Open, NodeJS.Timeout>();
  private readonly expire: (open: Open) => void;
  journal: PersistentJournal | undefined;
  /**
   * Where the records of plain durable opens go with several workers: the primary, which hands a dead worker's
   * records to the worker that replaces it (workers/pool.ts). Kept in memory only: a durable open does not outlive
   * the server, but it outlives its worker.
   */
  memo: PersistentJournal | undefined;

  constructor(policy: DurablePolicy, expire: (open: Open) => void) {
    this.policy = policy;
    this.expire = expire;
  }

  /**
   * Decides whether a new open is durable (3.3.5.9.6 and 3.3.5.9.10 "Successful Open Initialization") and returns
   * the response context. Durability needs a batch oplock or a lease with handle caching, except that a persistent
   * open on a continuously available share needs neither. Directories and pipes are never durable.
   */
  grant(open: Open, req: DurableRequest, opts: { persistentAllowed: boolean }): CreateContext[] {
    if (req.kind !== 'open') return [];
    if (req.version === 2) {
      open.createGuid = Buffer.from(req.createGuid);
      this.byCreateGuid.set(guidKey(open.clientGuid, open.createGuid), open);
    }
    if (!this.policy.enabled || open.isDirectory || open.pipe || open.printJob) return [];
    const persistent = req.version === 2 && req.persistent && opts.persistentAllowed;
    const caching = keepsHandle(open.oplockLevel, open.lease?.state);
    if (!persistent && !caching) return [];
    const asked = req.version === 2 ? req.timeoutMs : 0;
    const timeoutMs = asked === 0 ? this.policy.defaultTimeoutMs : Math.min(asked, this.policy.maxTimeoutMs);
    open.durable = { version: req.version, persistent, timeoutMs };
    this.byId.set(open.persistentId, open);
    return this.responseContexts(open);
  }

  /** The DHnQ/DH2Q response context of a durable open (none for others). */
  responseContexts(open: Open): CreateContext[] {
    const d = open.durable;
    if (!d) return [];
    return d.version === 1
      ? [{ name: CreateContextName.DURABLE_HANDLE_REQUEST, data: encodeDurableHandleResponse() }]
      : [{ name: CreateContextName.DURABLE_HANDLE_REQUEST_V2, data: encodeDurableHandleResponseV2({ timeout: d.timeoutMs, flags: d.persistent ? DurableHandleV2Flags.PERSISTENT : 0 }) }];
  }

  /** FSCTL_LMR_REQUEST_RESILIENCY made an open resilient: a reconnect may find it too. */
  resilient(open: Open): void {
    this.byId.set(open.persistentId, open);
  }

  /** The connected open a DH2Q's CreateGuid names for this client (a replayed CREATE), if any. */
  findByCreateGuid(clientGuid: Buffer, createGuid: Buffer): Open | undefined {
    const o = this.byCreateGuid.get(guidKey(clientGuid, createGuid));
    return o && !o.closed ? o : undefined;
  }

  /**
   * What a DH2Q's CreateGuid names for a possible replay (MS-SMB2 3.3.5.9.10): this client's connected open made with
   * it while still replay-eligible, or a CREATE with it still in progress; undefined when a new open is to be made.
   */
  findReplayable(clientGuid: Buffer, createGuid: Buffer): Open | 'in-progress' | undefined {
    const o = this.findByCreateGuid(clientGuid, createGuid);
    if (o?.replayEligible) return o;
    return this.creating.has(guidKey(clientGuid, createGuid)) ? 'in-progress' : undefined;
  }

  /** Runs a DH2Q CREATE, marked in progress for its CreateGuid meanwhile (a replay then finds it). */
  async whileCreating<T>(clientGuid: Buffer, createGuid: Buffer, create: () => Promise<T>): Promise<T> {
    const key = guidKey(clientGuid, createGuid);
    this.creating.add(key);
    try {
      return await create();
    } finally {
      this.creating.delete(key);
    }
  }

  /** The durable or resilient open with this persistent id. */
  find(persistentId: bigint): Open | undefined {
    const o = this.byId.get(persistentId);
    return o && !o.closed ? o : undefined;
  }

  /** Entries of the durable table (closed opens must not linger there). */
  get size(): number {
    return this.byId.size + this.byCreateGuid.size;
  }

  /** Every durable or resilient open (connected or not). */
  all(): Open[] {
    return [...this.byId.values()].filter((o) => !o.closed);
  }

  /**
   * Whether an open outlives the loss of its session (MS-SMB2 3.3.7.1): a persistent open always, a durable one
   * while it still holds a batch oplock or a lease with handle caching, a resilient one always.
   */
  survives(open: Open): boolean {
    if (open.closed || open.pipe || open.printJob) return false;
    if (open.isResilient) return true;
    const d = open.durable;
    if (!d) return false;
    if (d.persistent) return true;
    return keepsHandle(open.oplockLevel, open.lease?.state);
  }

  /** Keeps an open whose session went: no session serves it until a reconnect; the scavenger closes it in time. */
  detach(open: Open): void {
    open.session.opens.delete(open.volatileId);
    open.disconnected = true;
    if (open.createGuid) this.byCreateGuid.delete(guidKey(open.clientGuid, open.createGuid));
    this.byId.set(open.persistentId, open);
    const ms = open.durable ? open.durable.timeoutMs : open.resiliencyTimeoutMs;
    this.startTimer(open, ms);
  }

  /** Starts (or restarts) the scavenger of a disconnected open. */
  startTimer(open: Open, ms: number): void {
    this.stopTimer(open);
    const t = setTimeout(() => {
      this.timers.delete(open);
      if (open.disconnected && !open.closed) this.expire(open);
    }, ms);
    t.unref();
    this.timers.set(open, t);
  }

  private stopTimer(open: Open): void {
    const t = this.timers.get(open);
    if (t) clearTimeout(t);
    this.timers.delete(open);
  }

  /** A persistent open rebuilt after a restart (or a durable one after its worker's): disconnected until its client reclaims it. */
  recovered(open: Open): void {
    open.disconnected = true;
    this.byId.set(open.persistentId, open);
    this.startTimer(open, open.durable?.timeoutMs ?? this.policy.defaultTimeoutMs);
  }

  /** A reconnect reclaimed the open: it is connected again. */
  attach(open: Open): void {
    this.stopTimer(open);
    open.disconnected = false;
    if (open.createGuid) this.byCreateGuid.set(guidKey(open.clientGuid, open.createGuid), open);
  }

  /** The open closed for good; resolves once a persistent open's record is gone (a restart cannot bring it back). */
  forget(open: Open): Promise<void> {
    this.stopTimer(open);
    if (this.byId.get(open.persistentId) === open) this.byId.delete(open.persistentId);
    if (open.createGuid && this.byCreateGuid.get(guidKey(open.clientGuid, open.createGuid)) === open) {
      this.byCreateGuid.delete(guidKey(open.clientGuid, open.createGuid));
    }
    return this.recordOf(open)?.remove(open) ?? Promise.resolve();
  }

  /** Drops a record that could not be rebuilt (persistent ones from the journal, durable ones from the memo). */
  dropRecord(rec: { persistentId: string; persistent?: boolean }): void {
    void ((rec.persistent ?? true) ? this.journal : this.memo)?.forget(rec.persistentId);
  }

  /** Where an open's record is kept: the journal (persistent), the primary's memo (durable, with workers), or none. */
  private recordOf(open: Open): PersistentJournal | undefined {
    const d = open.durable;
    if (!d) return undefined;
    return d.persistent ? this.journal : this.memo;
  }

  /**
   * State that a durable open records is new or changed (granted, reconnected, a lock, the lease): resolves once a
   * persistent open's record is on disk, so that the reply saying so can go (a crash after it loses nothing).
   */
  async changed(open: Open): Promise<void> {
    if (!open.closed) await this.recordOf(open)?.save(open);
  }

  /** Stops every scavenger (server shutdown). */
  close(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
}
