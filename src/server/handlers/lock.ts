import { Status } from '../../protocol/nt-status.js';
import { decodeLockRequest } from '../../protocol/smb2/commands/lock.js';
import type { Outcome, RequestContext } from '../context.js';

/** LOCK (MS-SMB2 3.3.5.14): byte-range locks come with the lock manager (state/locks.ts); until then refused. */
export function handleLock(ctx: RequestContext): Outcome {
  const req = decodeLockRequest(ctx.r);
  if (!ctx.open(req.fileId)) return Status.FILE_CLOSED;
  if (req.locks.length === 0) return Status.INVALID_PARAMETER;
  return Status.NOT_SUPPORTED;
}
