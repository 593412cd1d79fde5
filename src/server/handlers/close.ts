import { Status } from '../../protocol/nt-status.js';
import { CloseFlags } from '../../protocol/smb2/constants.js';
import { decodeCloseRequest, encodeCloseResponse, type CloseResponse } from '../../protocol/smb2/commands/close.js';
import type { Outcome, RequestContext } from '../context.js';
import { attributesOf, timesOf } from '../files.js';
import { msToFiletime } from '../../util/filetime.js';

const ZERO_ATTRS: Omit<CloseResponse, 'flags'> = {
  creationTime: 0n,
  lastAccessTime: 0n,
  lastWriteTime: 0n,
  changeTime: 0n,
  allocationSize: 0n,
  endOfFile: 0n,
  fileAttributes: 0,
};

/** CLOSE (MS-SMB2 3.3.5.10): with POSTQUERY_ATTRIB the attributes are read before the close. */
export async function handleClose(ctx: RequestContext): Promise<Outcome> {
  const req = decodeCloseRequest(ctx.r);
  const open = ctx.open(req.fileId);
  if (!open) return Status.FILE_CLOSED;
  const server = ctx.conn.server;
  if (open.pipe || open.tree.share.kind === 'printer') {
    // A pipe or print job has no attributes to report. Closing a pipe breaks it (Open's onClose); closing a
    // print job completes it, and it is printed once its handle is closed.
    if (open.printJob) open.printJob.completed = true;
    await server.closeOpen(open);
    return { body: (w) => encodeCloseResponse(w, { flags: 0, ...ZERO_ATTRS }) };
  }
  const store = open.tree.share.store!;
  // A handle that wrote stamps the last-write time as it closes; the last open stores the time clients saw.
  const node = open.node;
  const lastOpen = node.opens.size === 1 && node.opens.has(open);
  const writeTime = node.writeTime;
  const toStore = writeTime.close(open, open.stickyWriteTime || open.stream !== undefined, lastOpen);
  if (toStore !== undefined) {
    await store.setTimes(open.path, { mtimeMs: toStore }).catch(() => {});
    server.notify.touched(open.tree.share, open.path);
  }
  let res: CloseResponse = { flags: 0, ...ZERO_ATTRS };
  if (req.flags & CloseFlags.POSTQUERY_ATTRIB) {
    try {
      const st = open.handle ? await open.handle.stat() : await store.stat(open.path);
      const base = open.stream !== undefined ? await store.stat(open.path) : st;
      res = {
        flags: CloseFlags.POSTQUERY_ATTRIB,
        ...timesOf(base, node),
        // The time just stored, exactly (the store's mtime may round it).
        ...(toStore !== undefined ? { lastWriteTime: msToFiletime(toStore) } : {}),
        allocationSize: st.type === 'directory' ? 0n : BigInt(st.allocationSize),
        endOfFile: st.type === 'directory' ? 0n : BigInt(st.size),
        fileAttributes: attributesOf(base),
      };
    } catch {
      res = { flags: 0, ...ZERO_ATTRS };
    }
  }
  const path = open.path;
  const { deleted } = await server.closeOpen(open);
  if (deleted) server.events.emit('delete', { user: open.session.userName, share: open.tree.share.name, path });
  if (deleted && res.flags) res = { flags: 0, ...ZERO_ATTRS };
  return { body: (w) => encodeCloseResponse(w, res) };
}
