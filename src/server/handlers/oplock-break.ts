import { Status } from '../../protocol/nt-status.js';
import { decodeOplockBreakRequest } from '../../protocol/smb2/commands/oplock-break.js';
import type { Outcome, RequestContext } from '../context.js';

/** OPLOCK_BREAK acknowledgments (MS-SMB2 3.3.5.22): no oplock or lease is granted yet, so none can be acknowledged. */
export function handleOplockBreak(ctx: RequestContext): Outcome {
  const req = decodeOplockBreakRequest(ctx.r);
  if (req.kind === 'oplock') {
    if (!ctx.open(req.fileId)) return Status.FILE_CLOSED;
    return Status.INVALID_OPLOCK_PROTOCOL;
  }
  return Status.OBJECT_NAME_NOT_FOUND;
}
