import { Status } from '../../protocol/nt-status.js';
import { AccessMask } from '../../protocol/smb2/constants.js';
import { decodeFlushRequest, encodeFlushResponse } from '../../protocol/smb2/commands/flush.js';
import type { Outcome, RequestContext } from '../context.js';
import { storeErrorToStatus } from '../status-map.js';

/** FLUSH (MS-SMB2 3.3.5.11): needs write or append access. */
export async function handleFlush(ctx: RequestContext): Promise<Outcome> {
  const req = decodeFlushRequest(ctx.r);
  const open = ctx.open(req.fileId);
  if (!open) return Status.FILE_CLOSED;
  if (!(open.grantedAccess & (AccessMask.FILE_WRITE_DATA | AccessMask.FILE_APPEND_DATA))) return Status.ACCESS_DENIED;
  try {
    await open.handle?.sync();
    // A flush makes a pending delayed last-write-time update happen now (Windows behaviour).
    open.node.writeTime.flushPending();
  } catch (err) {
    return storeErrorToStatus(err);
  }
  return { body: (w) => encodeFlushResponse(w) };
}
