import { Status } from '../../protocol/nt-status.js';
import { LockFlags } from '../../protocol/smb2/constants.js';
import { decodeLockRequest, encodeLockResponse, type LockElement, type LockRequest } from '../../protocol/smb2/commands/lock.js';
import { requesterOf, type Outcome, type RequestContext } from '../context.js';
import { isValidLockRange, type LockRange } from '../state/locks.js';
import type { Open } from '../state/open.js';

const { SHARED_LOCK, EXCLUSIVE_LOCK, UNLOCK, FAIL_IMMEDIATELY } = LockFlags;

/** Flag combinations a lock element may carry (MS-SMB2 2.2.26.1); anything else is STATUS_INVALID_PARAMETER. */
const LOCK_FLAGS = new Set<number>([SHARED_LOCK, EXCLUSIVE_LOCK, SHARED_LOCK | FAIL_IMMEDIATELY, EXCLUSIVE_LOCK | FAIL_IMMEDIATELY]);

/** LockSequenceIndex values with an entry in Open.LockSequenceArray (MS-SMB2 2.2.26: 1..64; 0 is reserved). */
const MAX_LOCK_SEQUENCE_INDEX = 64;

const ok = (): Outcome => ({ body: (w) => encodeLockResponse(w) });

/** LOCK (MS-SMB2 3.3.5.14): byte-range locks and unlocks; a blocking lock goes async until granted or cancelled. */
export async function handleLock(ctx: RequestContext): Promise<Outcome> {
  const req = decodeLockRequest(ctx.r);
  const open = ctx.open(req.fileId);
  if (!open) return Status.FILE_CLOSED;
  if (open.pipe) return Status.NOT_SUPPORTED;
  // MS-FSA 2.1.5.8: directories take no byte-range locks.
  if (open.isDirectory) return Status.INVALID_PARAMETER;
  const checksSequence = sequenceChecked(ctx, open, req);
  if (checksSequence) {
    // MS-SMB2 3.3.5.14: a replay of the last LOCK that succeeded in this slot succeeds without doing anything.
    if (open.lockSequences[req.lockSequenceIndex] === req.lockSequenceNumber) return ok();
    open.lockSequences[req.lockSequenceIndex] = undefined;
  }
  const first = req.locks[0]!;
  const status = first.flags & UNLOCK ? unlock(open, req.locks) : await lock(ctx, open, req.locks);
  if (status !== Status.SUCCESS) return status;
  if (checksSequence) open.lockSequences[req.lockSequenceIndex] = req.lockSequenceNumber;
  // A persistent open's locks are journalled: they outlive a restart of the server.
  await ctx.conn.server.durables.changed(open);
  return ok();
}

/**
 * MS-SMB2 3.3.5.14: lock sequences are checked on dialects after 2.0.2 for resilient and durable handles (as
 * Windows does, note <314>, which skips the spec's SMB 3 multichannel case too), and only for
 * indexes that name an entry of the array.
 */
function sequenceChecked(ctx: RequestContext, open: Open, req: LockRequest): boolean {
  if (ctx.conn.dialect === 0x0202 || ctx.conn.dialect === undefined) return false;
  if (!open.isResilient && !open.isDurable) return false;
  return req.lockSequenceIndex >= 1 && req.lockSequenceIndex <= MAX_LOCK_SEQUENCE_INDEX;
}

/**
 * MS-SMB2 3.3.5.14.1: each element must be a plain UNLOCK of a range this open locked exactly; processing stops at
 * the first failure, and what was already unlocked stays unlocked.
 */
function unlock(open: Open, elements: readonly LockElement[]): number {
  const locks = open.node.locksOf(open);
  let status: number = Status.SUCCESS;
  for (const e of elements) {
    if (e.flags !== UNLOCK) {
      status = Status.INVALID_PARAMETER;
      break;
    }
    if (!isValidLockRange(e.offset, e.length)) {
      status = Status.INVALID_LOCK_RANGE;
      break;
    }
    if (!locks.unlock(open, e.offset, e.length)) {
      status = Status.RANGE_NOT_LOCKED;
      break;
    }
  }
  locks.grantWaiters();
  open.node.pruneLocks(open);
  return status;
}

/**
 * MS-SMB2 3.3.5.14.2: every element is a shared or exclusive lock; several elements must all fail immediately.
 * The ranges are taken all together or not at all. A single element without FAIL_IMMEDIATELY waits (async) for
 * the range.
 */
async function lock(ctx: RequestContext, open: Open, elements: readonly LockElement[]): Promise<number> {
  const ranges: LockRange[] = [];
  for (const e of elements) {
    if (!LOCK_FLAGS.has(e.flags)) return Status.INVALID_PARAMETER;
    if (elements.length > 1 && !(e.flags & FAIL_IMMEDIATELY)) return Status.INVALID_PARAMETER;
  }
  for (const e of elements) {
    if (!isValidLockRange(e.offset, e.length)) return Status.INVALID_LOCK_RANGE;
    ranges.push({ offset: e.offset, length: e.length, exclusive: (e.flags & EXCLUSIVE_LOCK) !== 0 });
  }
  // MS-FSA 2.1.5.7: taking a byte-range lock first breaks the caching of other opens that a lock invalidates.
  const broken = await ctx.conn.server.caching.beforeLock(requesterOf(ctx), open);
  if (broken !== undefined) return broken;
  const locks = open.node.locksOf(open);
  if (locks.tryLock(open, ranges)) return Status.SUCCESS;
  const failNow = (elements[0]!.flags & FAIL_IMMEDIATELY) !== 0;
  const session = ctx.session!;
  const cap = ctx.conn.server.access.policy.maxPendingLocksPerSession;
  if (failNow || session.pendingLocks >= cap) {
    open.node.pruneLocks(open);
    return failNow ? Status.LOCK_NOT_GRANTED : Status.INSUFFICIENT_RESOURCES;
  }
  const waiter = locks.wait(open, ranges);
  ctx.goAsync(() => waiter.cancel());
  if (ctx.asyncId === undefined) {
    // Not the last request of a compound: it cannot wait, so it fails as if it had asked to fail at once.
    waiter.cancel();
    open.node.pruneLocks(open);
    return Status.LOCK_NOT_GRANTED;
  }
  session.pendingLocks++;
  try {
    return await waiter.done;
  } finally {
    session.pendingLocks--;
    open.node.pruneLocks(open);
  }
}
