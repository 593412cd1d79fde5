import { Status } from '../../protocol/nt-status.js';
import { AccessMask, FileAttributes, InfoType, ShareAccess } from '../../protocol/smb2/constants.js';
import { decodeSetInfoRequest, encodeSetInfoResponse } from '../../protocol/smb2/commands/set-info.js';
import {
  decodeSetFileInfoBuffer,
  DispositionExFlags,
  FileInfoClass,
  RenameExFlags,
  type SetBasicInfo,
  type SetFileInfo,
} from '../../protocol/smb2/fscc/file-info.js';
import { noteCreated, noteRemoved, resolveCaseInsensitive } from '../../store/resolve.js';
import { WireError } from '../../errors.js';
import { filetimeToMs } from '../../util/filetime.js';
import { requesterOf, type Outcome, type RequestContext } from '../context.js';
import { parseSmbName, QUOTA_FAKE_PATH, SETTABLE_ATTRIBUTES } from '../files.js';
import { checkClientSecurity, mergeSecurity, readSecurity, sessionToken } from '../acl.js';
import {
  ALL_SECURITY_INFORMATION,
  decodeSecurityDescriptor,
  SecurityInformation,
  securityDescriptorToBytes,
  type SecurityDescriptor,
} from '../../protocol/smb2/fscc/security.js';
import { MAX_EA_REQUEST_BYTES, setFullEaInformation } from '../ea.js';
import { nodeKey } from '../server.js';
import type { Open } from '../state/open.js';
import { roundToClusters } from '../state/file-node.js';
import { MAX_FILE_SIZE } from './io-checks.js';
import { storeErrorToStatus } from '../status-map.js';
import { pipeSetInfo } from '../ipc/smb-pipe.js';
import { printSetInfo } from '../print/smb-print.js';
import { CompletionFilter } from '../../protocol/smb2/commands/change-notify.js';
import { NotifyAction } from '../../protocol/smb2/fscc/notify-info.js';
import { nameFilter, type Change } from '../state/notify.js';
import { parentPath } from '../../store/resolve.js';
import { staleChannel } from '../replay.js';

/** SET_INFO (MS-SMB2 3.3.5.21, MS-FSA 2.1.5.14). */
export async function handleSetInfo(ctx: RequestContext): Promise<Outcome> {
  const req = decodeSetInfoRequest(ctx.r);
  const open = ctx.open(req.fileId);
  if (!open) return Status.FILE_CLOSED;
  if (staleChannel(ctx)) return Status.FILE_NOT_AVAILABLE;
  if (req.buffer.length > ctx.conn.maxTransactSize) return Status.INVALID_PARAMETER;
  if (open.pipe) {
    const s = pipeSetInfo(open.pipe, req.infoType, req.fileInfoClass, req.buffer);
    return s === Status.SUCCESS ? { body: (w) => encodeSetInfoResponse(w) } : s;
  }
  if (open.tree.share.kind === 'printer') {
    const s = await printSetInfo(open, req.infoType, req.fileInfoClass, req.buffer);
    return s === Status.SUCCESS ? { body: (w) => encodeSetInfoResponse(w) } : s;
  }
  let status: number;
  switch (req.infoType) {
    case InfoType.FILE: {
      if (req.fileInfoClass === FileInfoClass.FileFullEaInformation && req.buffer.length > MAX_EA_REQUEST_BYTES) return Status.EA_TOO_LARGE;
      let info: SetFileInfo;
      try {
        info = decodeSetFileInfoBuffer(req.buffer, req.fileInfoClass);
      } catch (err) {
        if (err instanceof WireError) return err.status ?? Status.INVALID_PARAMETER;
        throw err;
      }
      try {
        status = await setFileInfo(ctx, open, info);
      } catch (err) {
        status = storeErrorToStatus(err);
      }
      break;
    }
    case InfoType.FILESYSTEM:
      status = open.tree.readOnly ? Status.ACCESS_DENIED : Status.NOT_SUPPORTED;
      break;
    case InfoType.SECURITY:
      try {
        status = await setSecurityInfo(open, req.additionalInformation, req.buffer);
      } catch (err) {
        status = storeErrorToStatus(err);
      }
      break;
    case InfoType.QUOTA:
      status = Status.NOT_SUPPORTED;
      break;
    default:
      status = Status.INVALID_PARAMETER;
  }
  if (status !== Status.SUCCESS) return status;
  return { body: (w) => encodeSetInfoResponse(w) };
}

/** SET_INFO for SECURITY (MS-SMB2 3.3.5.21.3, MS-FSA 2.1.5.17). */
async function setSecurityInfo(open: Open, info: number, buffer: Buffer): Promise<number> {
  const granted = open.grantedAccess;
  const ownerParts = SecurityInformation.OWNER_SECURITY_INFORMATION | SecurityInformation.GROUP_SECURITY_INFORMATION | SecurityInformation.LABEL_SECURITY_INFORMATION;
  if (info & ownerParts && !(granted & AccessMask.WRITE_OWNER)) return Status.ACCESS_DENIED;
  if (info & SecurityInformation.DACL_SECURITY_INFORMATION && !(granted & AccessMask.WRITE_DAC)) return Status.ACCESS_DENIED;
  if (info & SecurityInformation.SACL_SECURITY_INFORMATION && !(granted & AccessMask.ACCESS_SYSTEM_SECURITY)) return Status.ACCESS_DENIED;
  // MS-FSA 2.1.5.17: a descriptor belongs to the file or directory, never to one of its named streams.
  if (open.stream !== undefined) return Status.INVALID_PARAMETER;
  const store = open.tree.share.store!;
  if (!store.setSecurity || open.path === QUOTA_FAKE_PATH) return Status.NOT_SUPPORTED;
  if (!(info & ALL_SECURITY_INFORMATION)) return Status.SUCCESS;
  let given: SecurityDescriptor;
  try {
    given = decodeSecurityDescriptor(buffer);
  } catch (err) {
    if (err instanceof WireError || err instanceof TypeError || err instanceof RangeError) return Status.INVALID_PARAMETER;
    throw err;
  }
  const token = sessionToken(open.session);
  const current = await readSecurity(store, open.path, open.isDirectory, token, !open.tree.readOnly);
  const refused = checkClientSecurity(given, info, token, current.sd.owner);
  if (refused !== undefined) return refused;
  await store.setSecurity(open.path, securityDescriptorToBytes(mergeSecurity(current.sd, given, info)));
  notifyModified(open, CompletionFilter.SECURITY);
  return Status.SUCCESS;
}

async function setFileInfo(ctx: RequestContext, open: Open, info: SetFileInfo): Promise<number> {
  const access = open.grantedAccess;
  switch (info.kind) {
    case 'basic':
      if (!(access & AccessMask.FILE_WRITE_ATTRIBUTES)) return Status.ACCESS_DENIED;
      return setBasic(open, info);
    case 'endOfFile':
      if (!(access & AccessMask.FILE_WRITE_DATA)) return Status.ACCESS_DENIED;
      if (open.isDirectory || !open.handle) return Status.INVALID_PARAMETER;
      if (info.endOfFile > 0x7fffffffffffffffn) return Status.INVALID_PARAMETER;
      {
        const broken = await ctx.conn.server.caching.beforeWrite(requesterOf(ctx), open);
        if (broken !== undefined) return broken;
      }
      await open.handle.truncate(Number(info.endOfFile));
      // Setting the end of file moves the last-write time at once, even to the same size (as Windows does).
      if (open.stream === undefined) open.node.writeTime.touch(open, open.stickyWriteTime);
      notifyModified(open, CompletionFilter.SIZE);
      return Status.SUCCESS;
    case 'allocation': {
      if (!(access & AccessMask.FILE_WRITE_DATA)) return Status.ACCESS_DENIED;
      if (open.isDirectory || !open.handle) return Status.INVALID_PARAMETER;
      if (info.allocationSize > MAX_FILE_SIZE) return Status.INVALID_PARAMETER; // MS-FSCC 2.4.4
      {
        const broken = await ctx.conn.server.caching.beforeWrite(requesterOf(ctx), open);
        if (broken !== undefined) return broken;
      }
      // MS-FSA 2.1.5.14.1: an allocation below the end of file truncates it; above it is a hint.
      const size = (await open.handle.stat()).size;
      if (info.allocationSize < BigInt(size)) {
        await open.handle.truncate(Number(info.allocationSize));
        if (open.stream === undefined) open.node.writeTime.touch(open, open.stickyWriteTime);
        notifyModified(open, CompletionFilter.SIZE);
      }
      if (open.stream === undefined) {
        open.node.allocationSize = roundToClusters(info.allocationSize);
      }
      return Status.SUCCESS;
    }
    case 'validDataLength':
      if (!(access & AccessMask.FILE_WRITE_DATA)) return Status.ACCESS_DENIED;
      return Status.SUCCESS;
    case 'disposition':
      return setDisposition(ctx, open, info.deletePending, false);
    case 'dispositionEx':
      if (info.flags & DispositionExFlags.FILE_DISPOSITION_ON_CLOSE) {
        open.deleteOnClose = (info.flags & DispositionExFlags.FILE_DISPOSITION_DELETE) !== 0;
        return Status.SUCCESS;
      }
      return setDisposition(
        ctx,
        open,
        (info.flags & DispositionExFlags.FILE_DISPOSITION_DELETE) !== 0,
        (info.flags & DispositionExFlags.FILE_DISPOSITION_IGNORE_READONLY_ATTRIBUTE) !== 0,
      );
    case 'rename':
      return rename(ctx, open, info.fileName, info.replaceIfExists);
    case 'renameEx':
      return rename(ctx, open, info.fileName, (info.flags & RenameExFlags.FILE_RENAME_REPLACE_IF_EXISTS) !== 0);
    case 'position':
      open.currentByteOffset = info.currentByteOffset;
      return Status.SUCCESS;
    case 'mode':
      // MS-FSA 2.1.5.14.8: only the synchronous/sequential/write-through bits may be set.
      if (info.mode & ~0x0000003e) return Status.INVALID_PARAMETER;
      open.mode = info.mode;
      return Status.SUCCESS;
    case 'fullEa': {
      const status = await setFullEaInformation(open, info.eas);
      if (status === Status.SUCCESS) notifyModified(open, CompletionFilter.EA);
      return status;
    }
    case 'link':
    case 'linkEx':
    case 'shortName':
      return Status.NOT_SUPPORTED;
    default:
      return Status.INVALID_INFO_CLASS;
  }
}

async function setBasic(open: Open, info: SetBasicInfo): Promise<number> {
  const store = open.tree.share.store!;
  const attrs = info.fileAttributes;
  if (attrs !== 0) {
    if (attrs & FileAttributes.DIRECTORY && !open.isDirectory) return Status.INVALID_PARAMETER;
    if (open.isDirectory && attrs & FileAttributes.TEMPORARY) return Status.INVALID_PARAMETER;
    // The sparse flag is FSCTL_SET_SPARSE's to change, not FileBasicInformation's (MS-FSA 2.1.5.14.2).
    const sparse = (await store.stat(open.path)).dosAttributes & FileAttributes.SPARSE_FILE;
    open.node.noteLocalChange();
    await store.setAttributes(open.path, (attrs & SETTABLE_ATTRIBUTES) | sparse);
  }
  const times: { birthtimeMs?: number; atimeMs?: number; mtimeMs?: number; ctimeMs?: number } = {};
  const pick = (v: bigint): number | undefined => (v > 0n ? filetimeToMs(v) : undefined);
  const b = pick(info.creationTime);
  const a = pick(info.lastAccessTime);
  const m = pick(info.lastWriteTime);
  const c = pick(info.changeTime);
  if (b !== undefined) times.birthtimeMs = b;
  if (a !== undefined) times.atimeMs = a;
  if (m !== undefined) times.mtimeMs = m;
  if (c !== undefined) times.ctimeMs = c;
  // -1: this handle's writes no longer move the last-write time; -2: they do again (MS-FSCC 2.4.7).
  if (info.lastWriteTime === -1n || info.lastWriteTime === 0xffffffffffffffffn) open.stickyWriteTime = true;
  if (info.lastWriteTime === -2n || info.lastWriteTime === 0xfffffffffffffffen) open.stickyWriteTime = false;
  if (m !== undefined) open.stickyWriteTime = true; // an explicit time wins over the close-time stamp
  if (Object.keys(times).length > 0) {
    open.node.noteLocalChange();
    await store.setTimes(open.path, times);
  }
  // Any FileBasicInformation, even all zero, makes a pending delayed update happen (Windows behaviour).
  open.node.writeTime.flushPending();
  if (m !== undefined) open.node.writeTime.set(m);
  const changed =
    (attrs !== 0 ? CompletionFilter.ATTRIBUTES : 0) |
    (b !== undefined ? CompletionFilter.CREATION : 0) |
    (a !== undefined ? CompletionFilter.LAST_ACCESS : 0) |
    (m !== undefined ? CompletionFilter.LAST_WRITE : 0);
  if (changed !== 0) notifyModified(open, changed);
  return Status.SUCCESS;
}

/**
 * Tells CHANGE_NOTIFY watchers that the open's file changed in the `filter` ways; a size change through a stream
 * open is the stream's (MODIFIED_STREAM), anything else the file's.
 */
function notifyModified(open: Open, filter: number): void {
  const share = open.tree.share;
  const notify = open.session.connection.server.notify;
  if (!notify.watching(share)) return;
  const stream = open.stream;
  const change: Change =
    stream !== undefined && filter === CompletionFilter.SIZE
      ? { action: NotifyAction.MODIFIED_STREAM, path: open.path, stream, filter: CompletionFilter.STREAM_SIZE }
      : { action: NotifyAction.MODIFIED, path: open.path, filter };
  notify.report(share, [change]);
}

async function setDisposition(ctx: RequestContext, open: Open, deletePending: boolean, ignoreReadOnly: boolean): Promise<number> {
  if (!(open.grantedAccess & AccessMask.DELETE)) return Status.ACCESS_DENIED;
  if (!deletePending) {
    open.node.clearDeletePending();
    return Status.SUCCESS;
  }
  const store = open.tree.share.store!;
  const st = await store.stat(open.path);
  if (!ignoreReadOnly && st.dosAttributes & FileAttributes.READONLY) return Status.CANNOT_DELETE;
  if (open.isDirectory && open.stream === undefined) {
    if ((await store.readdirNames(open.path, 1)).length > 0) return Status.DIRECTORY_NOT_EMPTY;
  }
  if (open.path === '') return Status.CANNOT_DELETE; // the share root
  const broken = await ctx.conn.server.caching.beforeNamespaceChange(requesterOf(ctx), open);
  if (broken !== undefined) return broken;
  open.node.markDeletePending(open.stream);
  return Status.SUCCESS;
}

/** FileRenameInformation (MS-FSA 2.1.5.14.11): names are share-relative; case-only renames allowed. */
/**
 * A rename to ":name[:$DATA]" renames the open's named stream within its file (MS-FSA 2.1.5.14.11). Renaming the
 * unnamed data stream, or a named stream onto it, is not offered.
 */
async function renameStream(open: Open, rawName: string, replace: boolean): Promise<number> {
  const store = open.tree.share.store!;
  // The stream part is checked by the same parser as a full name, with a stand-in file name before it.
  const parsed = parseSmbName(`f${rawName}`);
  if (typeof parsed === 'number') return parsed;
  if (open.stream === undefined || parsed.stream === undefined || !store.renameStream) return Status.NOT_SUPPORTED;
  const to = parsed.stream;
  const sameStream = to.toUpperCase() === open.stream.toUpperCase();
  if (!sameStream) {
    const existing = store.listStreams ? await store.listStreams(open.path) : [];
    if (existing.some((s) => s.name.toUpperCase() === to.toUpperCase())) {
      if (!replace) return Status.OBJECT_NAME_COLLISION;
      for (const o of open.node.opens) if (o.stream?.toUpperCase() === to.toUpperCase()) return Status.SHARING_VIOLATION;
    }
  }
  try {
    await store.renameStream(open.path, open.stream, to, { replace });
  } catch (err) {
    return storeErrorToStatus(err);
  }
  open.stream = to;
  return Status.SUCCESS;
}

async function rename(ctx: RequestContext, open: Open, rawName: string, replace: boolean): Promise<number> {
  if (!(open.grantedAccess & AccessMask.DELETE)) return Status.ACCESS_DENIED;
  if (rawName.startsWith(':')) return renameStream(open, rawName, replace);
  if (open.stream !== undefined) return Status.NOT_SUPPORTED;
  if (open.path === '') return Status.ACCESS_DENIED;
  const name = rawName.replace(/^\\+/, '');
  const parsed = parseSmbName(name);
  if (typeof parsed === 'number') return parsed;
  if (parsed.stream !== undefined || parsed.path === '') return Status.OBJECT_NAME_INVALID;
  const share = open.tree.share;
  const store = share.store!;
  const server = ctx.conn.server;
  let target;
  try {
    target = await resolveCaseInsensitive(store, parsed.path);
  } catch (err) {
    return storeErrorToStatus(err, 'parent');
  }
  const sameFile = target.exists && target.stat && target.path.toUpperCase() === open.path.toUpperCase();
  // Renaming a directory with open files below it is refused (as Windows does).
  if (open.isDirectory) {
    const prefix = nodeKey(share, open.path) + '/';
    for (const key of server.nodes.keys()) if (key.startsWith(prefix)) return Status.ACCESS_DENIED;
    if (await server.workers?.openBelow(share, open.path)) return Status.ACCESS_DENIED;
  }
  if (target.exists && !sameFile) {
    if (!replace) return Status.OBJECT_NAME_COLLISION;
    if (target.stat?.type === 'directory') return Status.ACCESS_DENIED;
    const other = server.nodes.get(nodeKey(share, target.path));
    if (other && other.opens.size > 0) return Status.ACCESS_DENIED;
  }
  // The destination keeps the caller's spelling of the last component.
  const destParent = target.path.includes('/') ? target.path.slice(0, target.path.lastIndexOf('/')) : '';
  const leaf = parsed.path.slice(parsed.path.lastIndexOf('/') + 1);
  const dest = destParent ? `${destParent}/${leaf}` : leaf;
  if (dest === open.path) return Status.SUCCESS;
  // With workers, the destination's state must be here too: another worker has it only while something is open
  // there, which a rename cannot replace (workers/link.ts, claims).
  let unpin: (() => void) | undefined;
  if (server.workers && dest.toUpperCase() !== open.path.toUpperCase()) {
    unpin = await server.workers.claimHere(nodeKey(share, dest));
    if (!unpin) return replace ? Status.ACCESS_DENIED : Status.OBJECT_NAME_COLLISION;
  }
  try {
    return await renameTo(ctx, open, dest, replace, sameFile === true);
  } finally {
    unpin?.();
  }
}

async function renameTo(ctx: RequestContext, open: Open, dest: string, replace: boolean, sameFile: boolean): Promise<number> {
  const share = open.tree.share;
  const store = share.store!;
  const server = ctx.conn.server;
  const broken = await server.caching.beforeNamespaceChange(requesterOf(ctx), open);
  if (broken !== undefined) return broken;
  // MS-FSA 2.1.5.14.11: the rename opens the destination directory to add an entry (FILE_ADD_FILE or
  // FILE_ADD_SUBDIRECTORY, sharing read and write), so opens of that directory that deny it fail the rename.
  const parentNode = server.nodes.get(nodeKey(share, parentPath(dest)));
  const addAccess = open.isDirectory ? AccessMask.FILE_APPEND_DATA : AccessMask.FILE_WRITE_DATA;
  if (parentNode && !parentNode.shareAllows(addAccess, ShareAccess.READ | ShareAccess.WRITE)) return Status.SHARING_VIOLATION;
  if (open.isDirectory) {
    // With workers, the others tell this one of changes in the directory under its new name (workers/link.ts).
    const told = server.workers?.interest(share, dest, false);
    if (told) await told;
  }
  await store.rename(open.path, dest, { replace: replace && !sameFile });
  const from = open.path;
  await noteRemoved(store, from);
  await noteCreated(store, dest);
  server.renameNode(share, open.node, dest);
  server.noteChildRemoved(share, from);
  server.entryChanged(share, from, open);
  server.entryChanged(share, dest, open);
  // MS-FSCC 2.7.1: a rename within a directory is an old name/new name pair; across directories, a removal and
  // an addition.
  const filter = nameFilter(open.isDirectory);
  const sameDir = parentPath(from).toUpperCase() === parentPath(dest).toUpperCase();
  server.notify.report(share, [
    { action: sameDir ? NotifyAction.RENAMED_OLD_NAME : NotifyAction.REMOVED, path: from, filter },
    { action: sameDir ? NotifyAction.RENAMED_NEW_NAME : NotifyAction.ADDED, path: dest, filter },
  ]);
  if (!open.isDirectory) open.renamed = true;
  server.events.emit('rename', { user: open.session.userName, share: share.name, from, to: dest });
  return Status.SUCCESS;
}
