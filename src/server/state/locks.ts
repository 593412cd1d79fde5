import { Status } from '../../protocol/nt-status.js';
import type { Open } from './open.js';

/**
 * Byte-range locks of one stream of a file (MS-FSA 2.1.1.x Stream.ByteRangeLockList), with the queue of blocking
 * lock requests waiting on it. Locks belong to the open that took them; ranges are unsigned 64-bit, and a
 * zero-length range locks no byte but still conflicts with a range that strictly contains its offset.
 */

/** One byte range of a LOCK request, or one held lock. */
export interface LockRange {
  offset: bigint;
  length: bigint;
  exclusive: boolean;
}

export interface ByteRangeLock extends LockRange {
  readonly owner: Open;
}

/** A blocking LOCK waiting for its ranges. `done` settles with SUCCESS, CANCELLED or RANGE_NOT_LOCKED. */
export interface LockWaiter {
  readonly owner: Open;
  readonly ranges: readonly LockRange[];
  readonly done: Promise<number>;
  /** Gives up waiting (CANCEL): `done` settles with STATUS_CANCELLED. No effect once settled. */
  cancel(): void;
}

const MAX_U64 = 0xffffffffffffffffn;

/** MS-FSA 2.1.5.8: a range whose last byte lies past 2^64 - 1 is STATUS_INVALID_LOCK_RANGE. */
export function isValidLockRange(offset: bigint, length: bigint): boolean {
  return length === 0n || offset + length - 1n <= MAX_U64;
}

/** Whether two ranges overlap, with MS-FSA 2.1.4.10's rules for {0, 0} and zero-length ranges. */
export function rangesOverlap(aOffset: bigint, aLength: bigint, bOffset: bigint, bLength: bigint): boolean {
  if (aOffset === 0n && aLength === 0n) return false;
  if (bOffset === 0n && bLength === 0n) return false;
  // Last byte offsets; for a zero-length range this is offset - 1, which makes it overlap only a range that
  // strictly contains its offset (a lock at 10 of length 0 conflicts with [9, 11) but not with [10, 12)).
  const aLast = aOffset + aLength - 1n;
  const bLast = bOffset + bLength - 1n;
  return aOffset <= bLast && aLast >= bOffset;
}

/**
 * MS-FSA 2.1.4.10: whether `owner` accessing a range conflicts with `held`. An exclusive lock blocks everyone but
 * its owner, and blocks its owner's further exclusive locks; a shared lock blocks writes and exclusive locks by
 * everyone, its owner included.
 */
export function lockConflicts(held: ByteRangeLock, owner: Open, r: LockRange, lockIntent: boolean): boolean {
  if (!rangesOverlap(r.offset, r.length, held.offset, held.length)) return false;
  if (held.exclusive) return held.owner !== owner || (lockIntent && r.exclusive);
  return r.exclusive;
}

interface Waiting {
  owner: Open;
  ranges: LockRange[];
  settle: (status: number) => void;
}

export class ByteRangeLocks {
  private readonly held: ByteRangeLock[] = [];
  private readonly waiting: Waiting[] = [];

  get size(): number {
    return this.held.length;
  }

  get waiters(): number {
    return this.waiting.length;
  }

  /** The locks held, oldest first (a copy). */
  list(): ByteRangeLock[] {
    return [...this.held];
  }

  /** Whether a read (`write` false) or write of the range by `owner` conflicts with a lock (MS-FSA 2.1.5.2/2.1.5.3). */
  ioConflicts(owner: Open, offset: bigint, length: bigint, write: boolean): boolean {
    const r = { offset, length, exclusive: write };
    return this.held.some((l) => lockConflicts(l, owner, r, false));
  }

  /**
   * Takes every range or none (MS-SMB2 3.3.5.14.2: a failed element undoes the ones this request already took).
   * Ranges of one request are checked against each other too.
   */
  tryLock(owner: Open, ranges: readonly LockRange[]): boolean {
    const taken = this.held.length;
    for (const r of ranges) {
      if (this.held.some((l) => lockConflicts(l, owner, r, true))) {
        this.held.length = taken;
        return false;
      }
      this.held.push({ owner, offset: r.offset, length: r.length, exclusive: r.exclusive });
    }
    return true;
  }

  /**
   * MS-FSA 2.1.5.9: removes the owner's lock of exactly this range, an exclusive one before a shared one. Returns
   * false when there is none (STATUS_RANGE_NOT_LOCKED). Waiters are not retried here: call `grantWaiters`.
   */
  unlock(owner: Open, offset: bigint, length: bigint): boolean {
    let found = -1;
    for (let i = 0; i < this.held.length; i++) {
      const l = this.held[i]!;
      if (l.owner !== owner || l.offset !== offset || l.length !== length) continue;
      found = i;
      if (l.exclusive) break;
    }
    if (found < 0) return false;
    this.held.splice(found, 1);
    return true;
  }

  /** Queues a blocking request; it is granted by `grantWaiters` once no lock stands in its way. */
  wait(owner: Open, ranges: readonly LockRange[]): LockWaiter {
    let settle!: (status: number) => void;
    const done = new Promise<number>((resolve) => {
      settle = resolve;
    });
    const entry: Waiting = { owner, ranges: ranges.map((r) => ({ ...r })), settle };
    this.waiting.push(entry);
    return {
      owner,
      ranges: entry.ranges,
      done,
      cancel: () => {
        if (this.removeWaiting(entry)) settle(Status.CANCELLED);
      },
    };
  }

  /** Grants, in arrival order, every waiting request whose ranges are now free. */
  grantWaiters(): void {
    for (let i = 0; i < this.waiting.length; ) {
      const w = this.waiting[i]!;
      if (this.tryLock(w.owner, w.ranges)) {
        this.waiting.splice(i, 1);
        w.settle(Status.SUCCESS);
      } else {
        i++;
      }
    }
  }

  /**
   * An open is going away: its locks are released and its waiting requests end with STATUS_RANGE_NOT_LOCKED
   * (as Windows answers a blocking lock whose handle was closed); then others' waiters are retried.
   */
  releaseOpen(owner: Open): void {
    for (let i = this.held.length - 1; i >= 0; i--) if (this.held[i]!.owner === owner) this.held.splice(i, 1);
    for (let i = this.waiting.length - 1; i >= 0; i--) {
      const w = this.waiting[i]!;
      if (w.owner !== owner) continue;
      this.waiting.splice(i, 1);
      w.settle(Status.RANGE_NOT_LOCKED);
    }
    this.grantWaiters();
  }

  private removeWaiting(entry: Waiting): boolean {
    const i = this.waiting.indexOf(entry);
    if (i < 0) return false;
    this.waiting.splice(i, 1);
    return true;
  }
}
