import { Status } from '../../protocol/nt-status.js';
import { AccessMask, ChangeNotifyFlags } from '../../protocol/smb2/constants.js';
import { decodeChangeNotifyRequest, encodeChangeNotifyResponse } from '../../protocol/smb2/commands/change-notify.js';
import type { Outcome, RequestContext } from '../context.js';
import type { NotifyResult } from '../state/notify.js';

/**
 * CHANGE_NOTIFY (MS-SMB2 3.3.5.19): answers at once with changes kept since the last request, else goes async
 * until a change, CANCEL (CANCELLED), the handle's close (NOTIFY_CLEANUP) or the directory's deletion
 * (DELETE_PENDING).
 */
export async function handleChangeNotify(ctx: RequestContext): Promise<Outcome> {
  const req = decodeChangeNotifyRequest(ctx.r);
  const open = ctx.open(req.fileId);
  if (!open) return Status.FILE_CLOSED;
  if (!open.isDirectory) return Status.INVALID_PARAMETER;
  if (!(open.grantedAccess & AccessMask.FILE_READ_DATA)) return Status.ACCESS_DENIED;
  if (req.outputBufferLength > ctx.conn.maxTransactSize) return Status.INVALID_PARAMETER;
  if (open.node.deletePending) return Status.DELETE_PENDING;
  const hub = ctx.conn.server.notify;
  const tree = (req.flags & ChangeNotifyFlags.WATCH_TREE) !== 0;
  if (tree) {
    // With workers, the others tell this one of changes below the directory too, once they know of the watch.
    const told = ctx.conn.server.workers?.interest(open.tree.share, open.node.path, true);
    if (told) await told;
  }
  const watch = hub.watch(open, req.completionFilter, tree, req.outputBufferLength);
  const ready = watch.take(req.outputBufferLength);
  if (ready !== undefined) return reply(ready);
  const session = ctx.session!;
  if (session.pendingNotifies >= ctx.conn.server.access.policy.maxPendingNotifiesPerSession) return Status.INSUFFICIENT_RESOURCES;
  const waiting = watch.wait(req.outputBufferLength);
  ctx.goAsync(waiting.cancel);
  if (ctx.asyncId === undefined) {
    // Not the last request of a compound, so it cannot wait: Windows fails such a request (MS-SMB2 3.3.5.2.7
    // lets a server fail compounded requests that need async processing; smbtorture compound.interim2).
    waiting.cancel();
    return Status.INTERNAL_ERROR;
  }
  session.pendingNotifies++;
  try {
    return reply(await waiting.done);
  } finally {
    session.pendingNotifies--;
  }
}

function reply(r: NotifyResult): Outcome {
  if (typeof r === 'number') return r;
  return { body: (w) => encodeChangeNotifyResponse(w, { outputBuffer: r.data }) };
}
