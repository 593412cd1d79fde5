import { Status } from '../../protocol/nt-status.js';
import { AccessMask } from '../../protocol/smb2/constants.js';
import { decodeChangeNotifyRequest } from '../../protocol/smb2/commands/change-notify.js';
import type { Outcome, RequestContext } from '../context.js';

/**
 * CHANGE_NOTIFY (MS-SMB2 3.3.5.19): goes async and completes on CANCEL (CANCELLED) or when the handle closes
 * (NOTIFY_CLEANUP). Change reporting itself arrives with the notify manager.
 */
export function handleChangeNotify(ctx: RequestContext): Outcome | Promise<Outcome> {
  const req = decodeChangeNotifyRequest(ctx.r);
  const open = ctx.open(req.fileId);
  if (!open) return Status.FILE_CLOSED;
  if (!open.isDirectory) return Status.INVALID_PARAMETER;
  if (!(open.grantedAccess & AccessMask.FILE_READ_DATA)) return Status.ACCESS_DENIED;
  if (req.outputBufferLength > ctx.conn.maxTransactSize) return Status.INVALID_PARAMETER;
  return new Promise<Outcome>((resolve) => {
    const cleanup = () => resolve(Status.NOTIFY_CLEANUP);
    open.onClose.add(cleanup);
    ctx.goAsync(() => {
      open.onClose.delete(cleanup);
      resolve(Status.CANCELLED);
    });
    if (ctx.asyncId === undefined) {
      // Could not go async (inside a compound): answer at once that nothing is reported.
      open.onClose.delete(cleanup);
      resolve(Status.NOTIFY_ENUM_DIR);
    }
  });
}
