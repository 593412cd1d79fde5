import { Status } from '../../protocol/nt-status.js';
import { AccessMask } from '../../protocol/smb2/constants.js';
import { decodeWriteRequest, encodeWriteResponse, type WriteRequest } from '../../protocol/smb2/commands/write.js';
import type { Open } from '../state/open.js';
import { requesterOf, type Outcome, type RequestContext } from '../context.js';
import { storeErrorToStatus } from '../status-map.js';
import { pipeWrite } from '../ipc/smb-pipe.js';
import { CompletionFilter } from '../../protocol/smb2/commands/change-notify.js';
import { NotifyAction } from '../../protocol/smb2/fscc/notify-info.js';
import { checkCreditCharge, MAX_FILE_OFFSET, MAX_FILE_SIZE } from './io-checks.js';
import { staleChannel } from '../replay.js';

/** What a write changes, for CHANGE_NOTIFY. */
const WRITE_FILTER = CompletionFilter.LAST_WRITE | CompletionFilter.SIZE;
const STREAM_WRITE_FILTER = CompletionFilter.STREAM_WRITE | CompletionFilter.STREAM_SIZE;

/** Offset meaning "append at the end of file" for handles with FILE_APPEND_DATA (MS-SMB2 2.2.21). */
const APPEND_OFFSET = 0xffffffffffffffffn;

/** WRITE (MS-SMB2 3.3.5.13): the payload is a view of the received frame, written without a copy. */
export async function handleWrite(ctx: RequestContext): Promise<Outcome> {
  const req = decodeWriteRequest(ctx.r);
  const open = ctx.open(req.fileId);
  if (!open) return Status.FILE_CLOSED;
  if (staleChannel(ctx)) return Status.FILE_NOT_AVAILABLE;
  if (open.pipe) return pipeWrite(ctx, open.pipe, req);
  if (open.isDirectory || !open.handle) return Status.INVALID_DEVICE_REQUEST;
  const canWrite = (open.grantedAccess & AccessMask.FILE_WRITE_DATA) !== 0;
  const canAppend = (open.grantedAccess & AccessMask.FILE_APPEND_DATA) !== 0;
  if (!canWrite && !canAppend) return Status.ACCESS_DENIED;
  if (req.data.length > ctx.conn.maxWriteSize) return Status.INVALID_PARAMETER;
  const charge = checkCreditCharge(ctx, req.data.length);
  if (charge !== undefined) return charge;
  // A break acknowledgment that arrives after this WRITE waits for it (oplock-break.ts): a client flushes its cached
  // data before it acknowledges, without always waiting for the WRITEs' answers (cifs.ko, breaking to read caching),
  // and the open that waited for the break must then find that data in the file.
  const ticket = open.node.beginWrite();
  try {
    return await writeData(ctx, open, req, canWrite, canAppend, ticket);
  } finally {
    ticket.end();
  }
}

async function writeData(
  ctx: RequestContext,
  open: Open,
  req: WriteRequest,
  canWrite: boolean,
  canAppend: boolean,
  ticket: { waiting(on: boolean): void },
): Promise<Outcome> {
  if (!open.handle) return Status.INVALID_DEVICE_REQUEST;
  const by = requesterOf(ctx);
  const goAsync = by.goAsync;
  // While it waits for other holders' breaks, their acknowledgments must not wait for it.
  const broken = await ctx.conn.server.caching.beforeWrite({ ...by, goAsync: (cancel) => (ticket.waiting(true), goAsync(cancel)) }, open);
  ticket.waiting(false);
  if (broken !== undefined) return broken;
  let position: number;
  try {
    if (req.offset === APPEND_OFFSET && canAppend) {
      position = (await open.handle.stat()).size;
    } else {
      if (req.offset > MAX_FILE_OFFSET || req.offset + BigInt(req.data.length) > MAX_FILE_OFFSET) return Status.INVALID_PARAMETER;
      if (req.data.length === 0) return { body: (w) => encodeWriteResponse(w, { count: 0, remaining: 0 }) };
      if (req.offset + BigInt(req.data.length) > MAX_FILE_SIZE) return Status.INVALID_PARAMETER;
      position = Number(req.offset);
      if (!canWrite) {
        // Append-only handles may write only at or past the end.
        const size = (await open.handle.stat()).size;
        if (position < size) return Status.ACCESS_DENIED;
      }
    }
    // MS-FSA 2.1.5.3: a write may not touch a range locked by another open, nor one locked shared by anyone.
    if (req.data.length > 0 && open.node.existingLocks(open)?.ioConflicts(open, BigInt(position), BigInt(req.data.length), true)) {
      return Status.FILE_LOCK_CONFLICT;
    }
    if (req.data.length > 0) await open.node.beforeDataWrite(open);
    const n = req.data.length === 0 ? 0 : await open.handle.write(req.data, position);
    open.currentByteOffset = BigInt(position + n);
    const share = open.tree.share;
    const notify = ctx.conn.server.notify;
    if (notify.watching(share)) {
      notify.report(share, [
        open.stream === undefined
          ? { action: NotifyAction.MODIFIED, path: open.path, filter: WRITE_FILTER }
          : { action: NotifyAction.MODIFIED_STREAM, path: open.path, stream: open.stream, filter: STREAM_WRITE_FILTER },
      ]);
    }
    return { body: (w) => encodeWriteResponse(w, { count: n, remaining: 0 }) };
  } catch (err) {
    return storeErrorToStatus(err);
  }
}
