import { Status } from '../../protocol/nt-status.js';
import { AccessMask, CreateDisposition, OplockLevel } from '../../protocol/smb2/constants.js';
import { LeaseBreakFlags } from '../../protocol/smb2/commands/oplock-break.js';
import { CreateContextName, decodeLease, encodeLease, findCreateContext, LeaseFlags, LeaseState, type CreateContext, type Lease as LeaseRequest } from '../../protocol/smb2/contexts/create-contexts.js';
import type { AccessPolicy } from '../access.js';
import { NO_CLIENTS, type ClientAddress, type ClientEvents, type Requester } from './client-events.js';
import { isDataAccess, sharingCompatible, type FileNode } from './file-node.js';
import { Lease, LeaseTable, PendingBreak, validLeaseState } from './leases.js';
import type { Open } from './open.js';
import type { DiskCachingWatch } from './disk-caching.js';

const R = LeaseState.READ_CACHING;
const H = LeaseState.HANDLE_CACHING;
const W = LeaseState.WRITE_CACHING;

/** Access that only reads or sets attributes: such "stat opens" neither break nor count against caching (MS-FSA 2.1.5.17). */
const STAT_ACCESS = AccessMask.FILE_READ_ATTRIBUTES | AccessMask.FILE_WRITE_ATTRIBUTES | AccessMask.SYNCHRONIZE;

export function isStatOpen(access: number): boolean {
  return (access & ~STAT_ACCESS) === 0;
}

/** Leases also let READ_CONTROL-only opens pass without a break (Windows; smbtorture smb2.lease.statopen4). */
function isLeaseStatOpen(access: number): boolean {
  return (access & ~(STAT_ACCESS | AccessMask.READ_CONTROL)) === 0;
}

/** What a break asks of each holder: the oplock level and lease state it may keep (undefined = unchanged). */
interface BreakRule {
  oplock(open: Open): number | undefined;
  lease(lease: Lease): number | undefined;
  /** Whether the request waits for a lease's break (default: always); decided on the state before the break. */
  leaseWaits?(lease: Lease): boolean;
}

/** An open about to happen on an existing file (MS-SMB2 3.3.5.9, MS-FSA 2.1.5.1.2). */
export interface OpenIntent {
  access: number;
  share: number;
  disposition: number;
  stream: string | undefined;
  /** The requester's lease, when its LeaseKey already names one: its opens are never broken by it. */
  leaseId: string | undefined;
  /** FILE_DELETE_ON_CLOSE was asked for. */
  deleteOnClose?: boolean;
}

/** The CREATE's caching request as decoded from RequestedOplockLevel and RqLs. */
export interface CachingRequest {
  oplockLevel: number;
  lease: LeaseRequest | undefined;
}

/** Who changed a directory's entry: its own directory lease (its ParentLeaseKey) is not broken. */
export type DirectoryChangeActor = Pick<Open, 'parentLeaseKey' | 'clientGuid'>;

/** Breaks waited for at most this many rounds (a break can reveal a further one: batch -> II -> none). */
const MAX_BREAK_ROUNDS = 4;

/**
 * Oplocks and leases (MS-SMB2 3.3.1.4, 3.3.4.6/3.3.4.7, 3.3.5.9.8/.11, 3.3.5.22): granting them at CREATE, breaking
 * them before a conflicting open, write, truncate, rename, delete or byte-range lock, and their acknowledgments.
 * A request that conflicts waits (async) until the holders acknowledge or the break times out.
 */
export class CachingManager {
  readonly leases = new LeaseTable();
  private readonly policy: AccessPolicy;
  /** Oplock breaks waiting for an acknowledgment, by open. */
  private readonly oplockBreaks = new Map<Open, PendingBreak>();
  /** Closes a disconnected durable open that a break would have to reach. */
  private readonly purge: (open: Open) => Promise<void>;
  /** Watches cached files for changes by other programs (set by the server when its stores can watch). */
  disk: DiskCachingWatch | undefined;
  /** Where breaks go: the clients, reached by address (never by connection, so the owner can live elsewhere). */
  private readonly clients: ClientEvents;

  constructor(policy: AccessPolicy, purge: (open: Open) => Promise<void>, clients: ClientEvents = NO_CLIENTS) {
    this.policy = policy;
    this.purge = purge;
    this.clients = clients;
  }

  /** Decodes what a CREATE asks for; leases need 2.1 (v2 needs 3.x), else the context is ignored (3.3.5.9.8/.11). */
  request(by: Requester, requestedOplockLevel: number, contexts: readonly CreateContext[]): CachingRequest | number {
    const dialect = by.dialect;
    if (requestedOplockLevel !== OplockLevel.LEASE) return { oplockLevel: requestedOplockLevel, lease: undefined };
    const rq = findCreateContext(contexts, CreateContextName.REQUEST_LEASE);
    if (!rq || dialect < 0x0210) return { oplockLevel: OplockLevel.NONE, lease: undefined };
    let lease: LeaseRequest;
    try {
      lease = decodeLease(rq.data);
    } catch {
      return Status.INVALID_PARAMETER;
    }
    if (lease.version === 2 && dialect < 0x0300) lease = { version: 1, leaseKey: lease.leaseKey, leaseState: lease.leaseState, leaseFlags: 0, leaseDuration: lease.leaseDuration };
    return { oplockLevel: OplockLevel.LEASE, lease };
  }

  /** The requester's existing lease, or a status when its key already leases another file (MS-SMB2 3.3.5.9.8). */
  existingLease(by: Requester, node: FileNode, req: CachingRequest): Lease | undefined | number {
    if (!req.lease) return undefined;
    const lease = this.leases.get(by.clientGuid, req.lease.leaseKey);
    if (lease && lease.node !== node) return Status.INVALID_PARAMETER;
    return lease;
  }

  /**
   * Before an existing file is opened: batch/exclusive oplocks break to level II (none when overwriting), W leaves
   * other leases, H leaves leases whose opens the new open's share mode conflicts with (so their client can close
   * them), and overwriting breaks everything (MS-FSA 2.1.5.17, MS-SMB2 3.3.5.9). Waits for the acknowledgments.
   */
  async beforeOpen(by: Requester, node: FileNode, intent: OpenIntent): Promise<number | undefined> {
    const d = intent.disposition;
    const overwrite = d === CreateDisposition.OVERWRITE || d === CreateDisposition.OVERWRITE_IF || d === CreateDisposition.SUPERSEDE;
    if (overwrite) node.noteLocalChange();
    const statOpen = isStatOpen(intent.access);
    const leaseStatOpen = isLeaseStatOpen(intent.access) && !overwrite;
    // Overwriting through an attribute-only open truncates nothing the holder caches beyond what level II allows.
    const dataOverwrite = overwrite && !statOpen;
    const sameStream = (o: Open) => o.stream === intent.stream;
    // Opens without data or delete access take no part in sharing, so they never cause a sharing violation.
    const conflicts = (o: Open) =>
      isDataAccess(o.grantedAccess) && isDataAccess(intent.access) && !sharingCompatible(o.grantedAccess, o.shareAccess, intent.access, intent.share);
    const rule: BreakRule = {
      oplock: (o) => {
        if (!sameStream(o) || (statOpen && !overwrite)) return undefined;
        if (dataOverwrite) return OplockLevel.NONE;
        if (o.oplockLevel === OplockLevel.BATCH) return OplockLevel.II;
        // An exclusive oplock breaks only for an open that passes the share check (MS-FSA 2.1.5.1.2).
        if (o.oplockLevel === OplockLevel.EXCLUSIVE && !conflicts(o)) return OplockLevel.II;
        return undefined;
      },
      lease: (l) => {
        if (l.id === intent.leaseId || leaseStatOpen) return undefined;
        const opens = [...l.opens].filter(sameStream);
        if (opens.length === 0) return undefined;
        // An open headed for a sharing violation only asks the conflicting holders to give up H (so their client
        // may close); what it would have taken otherwise stays, as the open fails anyway.
        if ([...node.opens].some((o) => sameStream(o) && conflicts(o))) return opens.some(conflicts) ? l.state & ~H : undefined;
        if (dataOverwrite) return LeaseState.NONE;
        // An open that will delete the file on close takes handle caching away too, like a delete-pending
        // (smbtorture smb2.lease.unlink).
        return l.state & ~W & (intent.deleteOnClose ? ~H : ~0);
      },
      // The open waits for cached writes to be flushed (W), or for handles in its way to close (H with a sharing
      // conflict); giving up H or R alone is the holder's business (smbtorture smb2.lease.breaking4, as Windows).
      leaseWaits: (l) => (l.state & W) !== 0 || [...l.opens].some((o) => sameStream(o) && conflicts(o)),
    };
    const durableHolder = (o: Open) => !o.closed && !o.disconnected && o.durable !== undefined && (o.lease !== undefined || o.oplockLevel !== OplockLevel.NONE);
    if ([...node.opens].some((o) => durableHolder(o) && o.session.id !== by.sessionId)) {
      // A durable holder whose connection has just closed (its client coming back on another one, as smbtorture's
      // durable tests do) is seen disconnected before it is asked to break: its open is then kept for its
      // reconnect or purged, not waited for until the break times out.
      await pollOnce();
    }
    return this.breakAndWait(by, node, rule);
  }

  /**
   * Before data changes through `open` (write, end of file, byte-range lock): read caching breaks to none, the
   * writer's own level II oplock included (other leases only: a lease covers its own key's writes).
   */
  async beforeWrite(by: Requester, open: Open): Promise<number | undefined> {
    open.node.noteLocalChange();
    const rule: BreakRule = {
      oplock: (o) => (o.stream !== open.stream || (o === open && o.oplockLevel !== OplockLevel.II) ? undefined : OplockLevel.NONE),
      lease: (l) => (open.lease === l || ![...l.opens].some((o) => o.stream === open.stream) ? undefined : LeaseState.NONE),
    };
    return this.breakAndWait(by, open.node, rule);
  }

  /** Byte-range locks break caching like writes do (MS-FSA 2.1.5.7); the lock code calls this before granting. */
  beforeLock(by: Requester, open: Open): Promise<number | undefined> {
    return this.beforeWrite(by, open);
  }

  /** Before a rename or delete-pending of `open`'s file: other leases lose handle caching (MS-FSA 2.1.5.14.11). */
  async beforeNamespaceChange(by: Requester, open: Open): Promise<number | undefined> {
    open.node.noteLocalChange();
    const rule: BreakRule = {
      oplock: (o) => (o !== open && o.oplockLevel === OplockLevel.BATCH ? OplockLevel.II : undefined),
      lease: (l) => (open.lease === l ? undefined : l.state & ~H),
    };
    return this.breakAndWait(by, open.node, rule);
  }

  /** Grants what a new open may hold and returns its OplockLevel, CREATE flags and response context (3.3.5.9.8). */
  grant(by: Requester, open: Open, req: CachingRequest): { oplockLevel: number; contexts: CreateContext[] } {
    if (open.pipe || (req.oplockLevel === OplockLevel.NONE && !req.lease)) return { oplockLevel: OplockLevel.NONE, contexts: [] };
    // Every other open of the stream counts, attribute-only ones too (they break nothing, but they share the file).
    const others = [...open.node.opens].filter((o) => o !== open && o.stream === open.stream);
    if (!req.lease) {
      if (open.isDirectory) return { oplockLevel: OplockLevel.NONE, contexts: [] };
      let level = req.oplockLevel;
      if (level !== OplockLevel.II && level !== OplockLevel.EXCLUSIVE && level !== OplockLevel.BATCH) level = OplockLevel.NONE;
      if (others.length > 0 && level !== OplockLevel.NONE) {
        // Another open with batch, exclusive, or a lease with W or H caching leaves no oplock to share.
        const exclusiveElsewhere = others.some(
          (o) => o.oplockLevel === OplockLevel.BATCH || o.oplockLevel === OplockLevel.EXCLUSIVE || (o.lease !== undefined && (o.lease.state & (W | H)) !== 0),
        );
        level = exclusiveElsewhere ? OplockLevel.NONE : OplockLevel.II;
      }
      open.oplockLevel = level;
      if (level !== OplockLevel.NONE) this.disk?.track(open.tree.share, open.node);
      return { oplockLevel: level, contexts: [] };
    }
    const rq = req.lease;
    // The open's ParentLeaseKey: its changes to the directory do not break that directory's lease (3.3.5.9.11).
    if (rq.version === 2 && rq.leaseFlags & LeaseFlags.PARENT_LEASE_KEY_SET) open.parentLeaseKey = Buffer.from(rq.parentLeaseKey);
    // Directory leases (3.x, v2 contexts; SMB2_GLOBAL_CAP_DIRECTORY_LEASING): read and handle caching, never write.
    if (open.isDirectory && (rq.version !== 2 || !by.directoryLeasing)) {
      return { oplockLevel: OplockLevel.NONE, contexts: [] };
    }
    const kindMask = open.isDirectory ? R | H : R | H | W;
    let lease = this.leases.get(by.clientGuid, rq.leaseKey);
    // Attribute-only opens without a lease of their own do not keep a lease from caching writes.
    const foreign = others.filter((o) => (o.lease === undefined && !isLeaseStatOpen(o.grantedAccess)) || (o.lease !== undefined && o.lease !== lease));
    const allowed = (state: number) => {
      let s = validLeaseState(state) & kindMask;
      if (foreign.length > 0) s &= ~W;
      // Beside an oplock (level II after its break) a lease gets read caching only.
      if (foreign.some((o) => o.lease === undefined && o.oplockLevel !== OplockLevel.NONE)) s &= R;
      return s;
    };
    if (!lease) {
      lease = new Lease({
        id: LeaseTable.idOf(by.clientGuid, rq.leaseKey),
        key: Buffer.from(rq.leaseKey),
        clientGuid: Buffer.from(by.clientGuid),
        version: rq.version,
        parentKey: rq.version === 2 && rq.leaseFlags & LeaseFlags.PARENT_LEASE_KEY_SET ? Buffer.from(rq.parentLeaseKey) : undefined,
        node: open.node,
        epoch: rq.version === 2 ? rq.epoch : 0,
      });
      this.leases.add(lease);
      lease.state = allowed(rq.leaseState);
      if (lease.version === 2) lease.epoch = (lease.epoch + 1) & 0xffff;
    } else if (!lease.breaking) {
      // A second open with the same key may upgrade the lease to a superset it can hold whole (beside other
      // clients' opens, W cannot be had, so asking for it changes nothing); never downgrade or sidegrade it.
      const want = validLeaseState(rq.leaseState) & kindMask;
      if ((want & lease.state) === lease.state && want !== lease.state && allowed(want) === want) {
        lease.state = want;
        if (lease.version === 2) lease.epoch = (lease.epoch + 1) & 0xffff;
      }
    }
    lease.opens.add(open);
    open.lease = lease;
    open.oplockLevel = OplockLevel.LEASE;
    this.disk?.track(open.tree.share, open.node);
    return { oplockLevel: OplockLevel.LEASE, contexts: [this.leaseContext(lease)] };
  }

  /** The RqLs response context describing a lease now (a new open, a durable reconnect, a replay). */
  leaseContext(lease: Lease): CreateContext {
    const flags = lease.breaking ? LeaseFlags.BREAK_IN_PROGRESS : 0;
    // The response has the shape of the lease as first created, whatever version this request used.
    const data =
      lease.version === 2
        ? encodeLease({
            version: 2,
            leaseKey: lease.key,
            leaseState: lease.state,
            leaseFlags: flags | (lease.parentKey ? LeaseFlags.PARENT_LEASE_KEY_SET : 0),
            leaseDuration: 0n,
            parentLeaseKey: lease.parentKey ?? Buffer.alloc(16),
            epoch: lease.epoch,
          })
        : encodeLease({ version: 1, leaseKey: lease.key, leaseState: lease.state, leaseFlags: flags, leaseDuration: 0n });
    return { name: CreateContextName.REQUEST_LEASE, data };
  }

  /** An open closed (CLOSE, logoff, tree disconnect, lost connection): it holds nothing any more. */
  release(open: Open): void {
    this.oplockBreaks.get(open)?.finish();
    this.oplockBreaks.delete(open);
    open.oplockLevel = OplockLevel.NONE;
    open.oplockBreakTo = undefined;
    const lease = open.lease;
    if (lease) {
      lease.opens.delete(open);
      open.lease = undefined;
      this.leases.removeIfUnused(lease);
    }
    if (![...open.node.opens].some((o) => o !== open && !o.closed && (o.lease !== undefined || o.oplockLevel !== OplockLevel.NONE))) {
      this.disk?.untrack(open.node);
    }
  }

  /**
   * An entry of directory `dir` was added, removed, renamed, overwritten or written (seen at its close): the
   * directory's leases break to none, except the one the acting open names as its parent lease (its client knows
   * of the change). Nobody waits for the acknowledgments (MS-SMB2 3.3.4.7, smbtorture smb2.lease.v2_request).
   */
  directoryChanged(dir: FileNode, actor: DirectoryChangeActor | undefined): void {
    const seen = new Set<Lease>();
    for (const o of [...dir.opens]) {
      const l = o.lease;
      if (!l || o.closed || seen.has(l)) continue;
      seen.add(l);
      if (actor?.parentLeaseKey?.equals(l.key) && actor.clientGuid.equals(l.clientGuid)) continue;
      this.breakLease(l, LeaseState.NONE);
    }
  }

  /**
   * Another program changed the file on the disk: every oplock and lease on it breaks to none (the holders'
   * cached data is stale); nobody waits for the acknowledgments.
   */
  diskChanged(node: FileNode): void {
    const seen = new Set<Lease>();
    for (const o of [...node.opens]) {
      if (o.closed) continue;
      if (o.lease) {
        if (seen.has(o.lease)) continue;
        seen.add(o.lease);
        this.breakLease(o.lease, LeaseState.NONE);
      } else if (o.oplockLevel !== OplockLevel.NONE) {
        this.breakOplock(o, OplockLevel.NONE);
      }
    }
  }

  /** OPLOCK_BREAK acknowledgment of an oplock (MS-SMB2 3.3.5.22.1); returns the new level or an error status. */
  acknowledgeOplock(open: Open, level: number): { level: number } | number {
    const breakTo = open.oplockBreakTo;
    if (open.lease || breakTo === undefined) return Status.INVALID_OPLOCK_PROTOCOL;
    const finish = (newLevel: number) => {
      open.oplockLevel = newLevel;
      open.oplockBreakTo = undefined;
      this.oplockBreaks.get(open)?.finish();
      this.oplockBreaks.delete(open);
    };
    if (level === OplockLevel.LEASE) {
      finish(OplockLevel.NONE);
      return Status.INVALID_PARAMETER;
    }
    if ((level !== OplockLevel.II && level !== OplockLevel.NONE) || (breakTo === OplockLevel.NONE && level !== OplockLevel.NONE)) {
      finish(OplockLevel.NONE);
      return Status.INVALID_OPLOCK_PROTOCOL;
    }
    finish(level);
    return { level };
  }

  /**
   * Lease break acknowledgment (MS-SMB2 3.3.5.22.2). When requests that arrived during the break need the lease
   * lower still, the next step goes out at once (keeping R while W or H go, as Windows does: smb2.lease.breaking3),
   * and the requests keep waiting until the whole break is over. Returns the lease and the state acknowledged.
   */
  acknowledgeLease(by: Requester, key: Buffer, state: number): { lease: Lease; state: number } | number {
    const lease = this.leases.get(by.clientGuid, key);
    if (!lease) return Status.OBJECT_NAME_NOT_FOUND;
    if (lease.breakTo === undefined) return Status.UNSUCCESSFUL;
    if ((state & ~lease.breakTo) !== 0) return Status.REQUEST_NOT_ACCEPTED;
    lease.state = state;
    const required = lease.breakRequired ?? lease.breakTo;
    if ((state & ~required) !== 0) {
      const next = validLeaseState((required | (state & (W | H) ? R : 0)) & state);
      const ack = this.notifyLeaseBreak(lease, next, true);
      if (ack) {
        lease.breakTo = next;
        lease.pending?.arm();
        return { lease, state };
      }
      lease.state = next;
    }
    lease.breakTo = undefined;
    lease.breakRequired = undefined;
    lease.pending?.finish();
    lease.pending = undefined;
    return { lease, state };
  }

  /**
   * Applies `rule` to every holder on `node`, sends the notifications, and waits (async, cancellable) for the breaks
   * that need an acknowledgment; repeats while a round reveals more to break.
   */
  private async breakAndWait(by: Requester, node: FileNode, rule: BreakRule): Promise<number | undefined> {
    for (let round = 0; round < MAX_BREAK_ROUNDS; round++) {
      const waits: PendingBreak[] = [];
      const purges: Open[] = [];
      const leasesSeen = new Set<Lease>();
      for (const o of [...node.opens]) {
        if (o.closed) continue;
        if (o.lease) {
          if (leasesSeen.has(o.lease)) continue;
          leasesSeen.add(o.lease);
          const to = rule.lease(o.lease);
          if (to === undefined || validLeaseState(o.lease.state & to) === o.lease.state) continue;
          if (![...o.lease.opens].some((x) => !x.disconnected || x.durable?.persistent)) {
            // Nobody could acknowledge: the disconnected durable opens of the lease go (MS-SMB2 3.3.4.7).
            purges.push(...o.lease.opens);
            continue;
          }
          const waits4 = rule.leaseWaits?.(o.lease) ?? true;
          const p = this.breakLease(o.lease, to);
          if (p && waits4) waits.push(p);
        } else if (o.oplockLevel !== OplockLevel.NONE) {
          const to = rule.oplock(o);
          if (to === undefined || to >= o.oplockLevel) continue;
          if (o.disconnected && !o.durable?.persistent) {
            purges.push(o);
            continue;
          }
          const p = this.breakOplock(o, to);
          if (p) waits.push(p);
        }
      }
      for (const o of purges) await this.purge(o);
      if (purges.length > 0 && waits.length === 0) continue;
      if (waits.length === 0) return undefined;
      const cancelled = await this.waitFor(by, waits);
      if (cancelled) return Status.CANCELLED;
    }
    return undefined;
  }

  /** Waits for the breaks, going async first; resolves true when the request was cancelled. */
  private async waitFor(by: Requester, waits: PendingBreak[]): Promise<boolean> {
    let cancel!: () => void;
    const cancelled = new Promise<true>((resolve) => (cancel = () => resolve(true)));
    by.goAsync(() => cancel());
    const all = Promise.all(waits.map((w) => w.done)).then(() => false as const);
    return Promise.race([all, cancelled]);
  }

  /** Sends an oplock break (MS-SMB2 3.3.4.6); returns what to wait for when the client must acknowledge. */
  private breakOplock(open: Open, to: number): PendingBreak | undefined {
    const existing = this.oplockBreaks.get(open);
    if (existing) return existing;
    if (open.oplockLevel === OplockLevel.NONE || to >= open.oplockLevel) return undefined;
    const to_ = addressOf(open);
    const fileId = { persistent: open.persistentId, volatile: open.volatileId };
    // A disconnected persistent open hears nothing; its break times out unless its client reconnects in time.
    if (!open.disconnected) this.clients.sendBreak(to_, { kind: 'oplock', oplockLevel: to, fileId });
    // A level II oplock breaks to none without an acknowledgment (MS-SMB2 2.2.24.1).
    if (open.oplockLevel === OplockLevel.II || !this.clients.mayAwaitAck(to_)) {
      open.oplockLevel = to;
      return undefined;
    }
    open.oplockBreakTo = to;
    const p = new PendingBreak(this.policy.breakTimeoutMs, () => {
      // No acknowledgment in time: the holder keeps nothing (MS-SMB2 3.3.2.4).
      open.oplockLevel = OplockLevel.NONE;
      open.oplockBreakTo = undefined;
      this.oplockBreaks.delete(open);
    });
    this.clients.awaitingAck(to_, p.done);
    this.oplockBreaks.set(open, p);
    return p;
  }

  /**
   * Starts a lease break (MS-SMB2 3.3.4.7); breaks from R alone need no acknowledgment. During a break in progress
   * nothing is sent: what the new request needs narrows the break's goal, reached in steps as the client acknowledges.
   */
  private breakLease(lease: Lease, to: number): PendingBreak | undefined {
    const target = validLeaseState(lease.state & to);
    if (lease.pending) {
      lease.breakRequired = validLeaseState((lease.breakRequired ?? lease.breakTo ?? lease.state) & target);
      return lease.pending;
    }
    if (target === lease.state) return undefined;
    const holder = this.holderOf(lease);
    if (!holder) return undefined;
    if (!this.notifyLeaseBreak(lease, target, false)) {
      lease.state = target;
      return undefined;
    }
    lease.breakTo = target;
    lease.breakRequired = target;
    const p = new PendingBreak(this.policy.breakTimeoutMs, () => {
      lease.state = LeaseState.NONE;
      lease.breakTo = undefined;
      lease.breakRequired = undefined;
      lease.pending = undefined;
    });
    this.clients.awaitingAck(leaseAddressOf(holder), p.done);
    lease.pending = p;
    return p;
  }

  /**
   * The open a lease's break goes to: where the lease was last used. A lease whose opens are all disconnected
   * (persistent) hears nothing, and its break times out unless the client reconnects and acknowledges in time.
   */
  private holderOf(lease: Lease): Open | undefined {
    const opens = [...lease.opens].filter((o) => !o.closed);
    return [...opens].reverse().find((o) => !o.disconnected) ?? opens[opens.length - 1];
  }

  /**
   * Sends LEASE_BREAK_NOTIFICATION from the lease's state to `target` and says whether the client must acknowledge
   * it. A further `step` of a break goes after the current reply (the acknowledgment's response goes first) and
   * keeps the epoch the break started with (smbtorture smb2.lease.v2_breaking3).
   */
  private notifyLeaseBreak(lease: Lease, target: number, step: boolean): boolean {
    const holder = this.holderOf(lease);
    if (!holder) return false;
    const to = leaseAddressOf(holder);
    const ackRequired = (lease.state & (W | H)) !== 0 && this.clients.mayAwaitAck(to);
    if (lease.version === 2 && !step) lease.epoch = (lease.epoch + 1) & 0xffff;
    if (holder.disconnected) return ackRequired;
    const n = {
      kind: 'leaseBreakNotification' as const,
      newEpoch: lease.version === 2 ? lease.epoch : 0,
      flags: ackRequired ? LeaseBreakFlags.ACK_REQUIRED : 0,
      leaseKey: lease.key,
      currentLeaseState: lease.state,
      newLeaseState: target,
      breakReason: 0,
      accessMaskHint: 0,
      shareMaskHint: 0,
    };
    const send = () => this.clients.sendBreak(to, n);
    if (step) setImmediate(send);
    else send();
    return ackRequired;
  }
}

/** Where an oplock break of an open goes: the session holding the open. */
function addressOf(open: Open): ClientAddress {
  return { clientGuid: open.clientGuid, sessionId: open.session.id, anySession: false };
}

/**
 * Where a lease's break goes: a lease belongs to a client (ClientGuid), not to one of its connections, so any of the
 * client's connections with a logged-on session may get it (as Samba does: smbtorture smb2.lease.v2_complex1); the
 * session of the open that last used the lease is the first choice. A disconnected holder's break is not sent.
 */
function leaseAddressOf(holder: Open): ClientAddress {
  return { clientGuid: holder.clientGuid, sessionId: holder.session.id, anySession: !holder.disconnected };
}

/** Lets the event loop poll for I/O once (two turns of setImmediate always span a poll phase). */
function pollOnce(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}
