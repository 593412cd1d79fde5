import { Status } from '../../protocol/nt-status.js';
import {
  AccessMask,
  CreateAction,
  CreateDisposition,
  CreateOptions,
  FileAttributes,
  ImpersonationLevel,
  OplockLevel,
} from '../../protocol/smb2/constants.js';
import { decodeCreateRequest, encodeCreateResponse, type CreateRequest } from '../../protocol/smb2/commands/create.js';
import {
  CreateContextName,
  decodeAllocationSize,
  decodeMaximalAccessRequest,
  encodeMaximalAccessResponse,
  encodeQueryOnDiskIdResponse,
  findCreateContext,
  type CreateContext,
} from '../../protocol/smb2/contexts/create-contexts.js';
import { noteCreated, resolveCaseInsensitive } from '../../store/resolve.js';
import type { FileStore, StoreHandle, StoreStat } from '../../store/types.js';
import { defaultAttributes } from '../../store/types.js';
import { requesterOf, type Outcome, type RequestContext } from '../context.js';
import { attributesOf, isQuotaFakeFile, parseSmbName, QUOTA_FAKE_PATH, SETTABLE_ATTRIBUTES, timesOf } from '../files.js';
import { storeErrorToStatus } from '../status-map.js';
import { isDataAccess, roundToClusters, type FileNode } from '../state/file-node.js';
import type { FileId } from '../../protocol/smb2/commands/file-id.js';
import { Open } from '../state/open.js';
import {
  allowedAccess,
  checkClientSecurity,
  fallbackSecurity,
  fileAccess,
  mapGenericRights,
  newFileSecurity,
  parentPath,
  privilegeNotHeld,
  readSecurity,
  sessionToken,
  type Token,
} from '../acl.js';
import { decodeSecurityDescriptor, SecurityInformation, securityDescriptorToBytes, type SecurityDescriptor } from '../../protocol/smb2/fscc/security.js';
import { WireError } from '../../errors.js';
import type { PipeEndpoint } from '../ipc/pipe.js';
import { openPipeEndpoint, pipeCreateResponse } from '../ipc/smb-pipe.js';
import { printCreate, printCreateResponse } from '../print/smb-print.js';
import type { PrintJob } from '../print/spooler.js';
import { CompletionFilter } from '../../protocol/smb2/commands/change-notify.js';
import { NotifyAction } from '../../protocol/smb2/fscc/notify-info.js';
import { nameFilter } from '../state/notify.js';
import { decodeDurableRequest, type DurableRequest } from '../state/durable.js';
import { channelSequenceOf, replayCreate } from '../replay.js';
import { reconnectDurable } from './create-durable.js';
import { createEaBuffer, needsEaKnowledge } from '../ea.js';

/** FILE_CREATE_TREE_CONNECTION (MS-SMB2 2.2.13: "ignored" by the spec; Windows refuses it). */
const CREATE_TREE_CONNECTION = 0x00000080;
/** FileAttributes a CREATE may carry: MS-FSCC 2.6 bits below 0x10000 but VOLUME 0x8, DEVICE 0x40, INTEGRITY 0x8000. */
const VALID_CREATE_ATTRIBUTES = 0x00007fb7;
/** DesiredAccess bits a CREATE is refused with ACCESS_DENIED for (MS-SMB2 3.3.5.9). */
const RESERVED_ACCESS = 0x0ce0fe00;

/** What MAXIMUM_ALLOWED grants on a pipe: reading, writing and the attributes. */
const PIPE_MAXIMUM_ACCESS = AccessMask.FILE_READ_DATA | AccessMask.FILE_WRITE_DATA | AccessMask.FILE_APPEND_DATA | AccessMask.FILE_READ_ATTRIBUTES | AccessMask.FILE_WRITE_ATTRIBUTES | AccessMask.READ_CONTROL | AccessMask.SYNCHRONIZE;

/** What an overwrite or supersede changes, for CHANGE_NOTIFY. */
const OVERWRITE_FILTER = CompletionFilter.SIZE | CompletionFilter.LAST_WRITE | CompletionFilter.ATTRIBUTES;

/** Marks a create that lost a race with another create of the same name. */
const RACED = Symbol('raced');

/** CREATE (MS-SMB2 3.3.5.9, MS-FSA 2.1.5.1). */
export async function handleCreate(ctx: RequestContext): Promise<Outcome> {
  const req = decodeCreateRequest(ctx.r);
  const dialect = ctx.conn.dialect ?? 0;
  const durable = decodeDurableRequest(req.createContexts, dialect);
  if (typeof durable === 'number') return durable;
  // A durable reconnect ignores the rest of the request (MS-SMB2 3.3.5.9.7, 3.3.5.9.12).
  if (durable.kind === 'reconnect') return reconnectDurable(ctx, req, durable);
  const invalid = validateRequest(req);
  if (invalid !== undefined) return invalid;
  const appInstanceId = dialect >= 0x0300 ? decodeAppInstanceId(req.createContexts) : undefined;
  if (durable.kind === 'open' && durable.version === 2) {
    const server = ctx.conn.server;
    const found = server.durables.findReplayable(ctx.conn.clientGuid, durable.createGuid);
    if (found) {
      const cachingRequest = server.caching.request(requesterOf(ctx), req.requestedOplockLevel, req.createContexts);
      if (typeof cachingRequest === 'number') return cachingRequest;
      return replayCreate(ctx, found, cachingRequest, {
        lease: (lease) => server.caching.leaseContext(lease),
        durable: (open) => server.durables.responseContexts(open),
      });
    }
    // Its client may replay it on another channel of the session: it goes on if this one is lost meanwhile.
    ctx.survivesChannelLoss = true;
    return server.durables.whileCreating(ctx.conn.clientGuid, durable.createGuid, () => openOrCreate(ctx, req, durable, appInstanceId));
  }
  return openOrCreate(ctx, req, durable, appInstanceId);
}

/** The CREATE proper, once durability and replays are sorted out. */
async function openOrCreate(ctx: RequestContext, req: CreateRequest, durable: Exclude<DurableRequest, { kind: 'reconnect' }>, appInstanceId: Buffer | undefined): Promise<Outcome> {
  const tree = ctx.tree!;
  const share = tree.share;
  const dialect = ctx.conn.dialect ?? 0;
  if (share.kind === 'ipc') return openPipe(ctx, req);
  if (share.kind === 'printer') return openPrint(ctx, req);
  const store = share.store!;

  // MS-SMB2 3.3.5.9.7: no previous versions are kept, so no version at a timewarp token's time exists.
  if (findCreateContext(req.createContexts, CreateContextName.TIMEWARP_TOKEN)) return Status.OBJECT_NAME_NOT_FOUND;
  const caching = ctx.conn.server.caching;
  const cachingRequest = caching.request(requesterOf(ctx), req.requestedOplockLevel, req.createContexts);
  if (typeof cachingRequest === 'number') return cachingRequest;
  const alsi = findCreateContext(req.createContexts, CreateContextName.ALLOCATION_SIZE);
  const requestedAllocation = alsi ? decodeAllocationSize(alsi.data) : undefined;
  const quota = isQuotaFakeFile(req.name);
  const parsed = quota ? { path: QUOTA_FAKE_PATH, stream: undefined } : parseSmbName(req.name);
  if (typeof parsed === 'number') return parsed;

  const wantDir = (req.createOptions & CreateOptions.DIRECTORY_FILE) !== 0;
  const wantFile = (req.createOptions & CreateOptions.NON_DIRECTORY_FILE) !== 0;
  // MS-FSA 2.1.5.1: a data stream (named, or "::$DATA") is never a directory.
  if (wantDir && (parsed.stream !== undefined || parsed.unnamedData)) return Status.NOT_A_DIRECTORY;
  const deleteOnClose = (req.createOptions & CreateOptions.DELETE_ON_CLOSE) !== 0;
  const disposition = req.createDisposition;
  const maximumAllowed = (req.desiredAccess & AccessMask.MAXIMUM_ALLOWED) !== 0;
  let granted = mapGenericRights(req.desiredAccess & ~AccessMask.MAXIMUM_ALLOWED);
  if (granted & ~tree.maximalAccess & ~AccessMask.SYNCHRONIZE) {
    if (tree.readOnly) return Status.ACCESS_DENIED;
    granted &= tree.maximalAccess | AccessMask.SYNCHRONIZE;
  }
  /** What the client named (MAXIMUM_ALLOWED adds what the descriptors allow on top). */
  const requested = granted;
  if (deleteOnClose && !(granted & AccessMask.DELETE) && !maximumAllowed) return Status.ACCESS_DENIED;
  if (quota) return openQuotaFakeFile(ctx, req, maximumAllowed ? granted | tree.maximalAccess : granted);
  const creatorSd = decodeCreatorSecurity(req.createContexts);
  if (typeof creatorSd === 'number') return creatorSd;
  const setCreateEas = createEaBuffer(req.createContexts, store);
  if (typeof setCreateEas === 'number') return setCreateEas;
  const token = sessionToken(ctx.session!);
  const writableTree = !tree.readOnly;
  const wantsMaximal = maximumAllowed || findCreateContext(req.createContexts, CreateContextName.QUERY_MAXIMAL_ACCESS) !== undefined;
  /** What the descriptors allow this open (MS-FSA 2.1.5.1.2), capped by the share; set by each attempt. */
  let allowed = 0;
  /** The descriptor to store for a created file, when it isn't the fallback. */
  let newSd: SecurityDescriptor | undefined;

  // Nodes an attempt looked up: dropped again afterwards unless an open now holds them (a failed CREATE leaves none).
  const touched: FileNode[] = [];
  // Creating races with other connections creating the same name; a lost race is retried as an open.
  const attempt = async (): Promise<Outcome | typeof RACED> => {
    let resolved;
    try {
      resolved = await resolveCaseInsensitive(store, parsed.path);
    } catch (err) {
      return storeErrorToStatus(err, 'parent');
    }
    const path = resolved.path;
    let stat = resolved.stat;
    let action: number = CreateAction.OPENED;
    /** A named stream of an existing file that this create brings into being (reported as created). */
    let newStream = false;
    const node = ctx.conn.server.node(share, path);
    node.pendingCreates++;
    touched.push(node);
    const stream = parsed.stream;
    const ownLease = caching.existingLease(requesterOf(ctx), node, cachingRequest);
    if (typeof ownLease === 'number') return ownLease;

    if (resolved.exists && stat) {
      if (disposition === CreateDisposition.CREATE && stream === undefined) return Status.OBJECT_NAME_COLLISION;
      const isDir = stat.type === 'directory';
      if (stream === undefined) {
        if (isDir && (wantFile || parsed.unnamedData)) return Status.FILE_IS_A_DIRECTORY;
        if (!isDir && wantDir) return Status.NOT_A_DIRECTORY;
        if (isDir && disposition !== CreateDisposition.OPEN && disposition !== CreateDisposition.OPEN_IF) {
          return Status.INVALID_PARAMETER;
        }
      }
      if (node.deletePending) return Status.DELETE_PENDING;
      if (needsEaKnowledge(req.createOptions, stat, stream)) return Status.ACCESS_DENIED;
      const overwriting =
        disposition === CreateDisposition.OVERWRITE ||
        disposition === CreateDisposition.OVERWRITE_IF ||
        disposition === CreateDisposition.SUPERSEDE;
      // MS-FSA 2.1.5.1.2.1: overwriting needs FILE_WRITE_DATA besides what was asked.
      const needed = granted | (overwriting && stream === undefined ? AccessMask.FILE_WRITE_DATA : 0);
      allowed = await fileAccess(store, path, isDir, token, writableTree, wantsMaximal ? 0xffffffff : needed);
      if (needed & ~allowed & ~AccessMask.SYNCHRONIZE) return Status.ACCESS_DENIED;
      if (maximumAllowed) granted |= allowed & tree.maximalAccess;
      if (deleteOnClose && !(granted & AccessMask.DELETE)) return Status.ACCESS_DENIED;
      const readOnlyAttr = (stat.dosAttributes & FileAttributes.READONLY) !== 0;
      if (readOnlyAttr && deleteOnClose) return Status.CANNOT_DELETE;
      // MAXIMUM_ALLOWED on a read-only file leaves out writing the data rather than failing.
      if (readOnlyAttr && !isDir) granted &= ~((AccessMask.FILE_WRITE_DATA | AccessMask.FILE_APPEND_DATA) & ~requested);
      if (readOnlyAttr && !isDir && granted & (AccessMask.FILE_WRITE_DATA | AccessMask.FILE_APPEND_DATA)) {
        return Status.ACCESS_DENIED;
      }
      const overwrite = overwriting;
      if (overwrite && tree.readOnly) return Status.ACCESS_DENIED;
      const deletionsBefore = node.deletions;
      // MS-SMB2 3.3.5.9.13: the same application instance opening the file from another client (a failover)
      // closes the open its previous instance left, before anything else looks at it.
      if (appInstanceId) {
        for (const o of [...node.opens]) {
          if (o.appInstanceId?.equals(appInstanceId) && !o.clientGuid.equals(ctx.conn.clientGuid) && o.tree.share === share) await ctx.conn.server.closeOpen(o);
        }
      }
      const broken = await caching.beforeOpen(requesterOf(ctx), node, { access: granted, share: req.shareAccess, disposition, stream, leaseId: ownLease?.id, deleteOnClose });
      if (broken !== undefined) return broken;
      // While the holders were asked to give up caching, they may have closed the file (and its node) or deleted it
      // (a disconnected durable delete-on-close open purged by the break, smbtorture durable-open.delete_on_close1).
      if (ctx.conn.server.nodes.get(node.key) !== node || node.deletePending || node.deletions !== deletionsBefore) return RACED;
      if (isDataAccess(granted) && !node.shareAllows(granted, req.shareAccess, stream)) return Status.SHARING_VIOLATION;
      if (overwrite) {
        // MS-FSA 2.1.5.1.2.1: overwrite truncates and replaces the attributes (keeping HIDDEN/SYSTEM as asked).
        if (readOnlyAttr || ((stat.dosAttributes & FileAttributes.HIDDEN) && !(req.fileAttributes & FileAttributes.HIDDEN)) || ((stat.dosAttributes & FileAttributes.SYSTEM) && !(req.fileAttributes & FileAttributes.SYSTEM))) {
          return Status.ACCESS_DENIED;
        }
        action = disposition === CreateDisposition.SUPERSEDE ? CreateAction.SUPERSEDED : CreateAction.OVERWRITTEN;
      }
      if (stream !== undefined && store.listStreams) {
        const streams = await store.listStreams(path).catch(() => []);
        newStream = !streams.some((s) => s.name.toUpperCase() === stream.toUpperCase());
        if (!newStream && disposition === CreateDisposition.CREATE) return Status.OBJECT_NAME_COLLISION;
      }
    } else {
      if (disposition === CreateDisposition.OPEN || disposition === CreateDisposition.OVERWRITE) {
        return Status.OBJECT_NAME_NOT_FOUND;
      }
      if (tree.readOnly) return Status.ACCESS_DENIED;
      if (req.fileAttributes & FileAttributes.READONLY && deleteOnClose) return Status.CANNOT_DELETE;
      const created = await newFileAccess(store, path, wantDir, token, writableTree, creatorSd);
      if (typeof created === 'number') return created;
      allowed = created.allowed;
      newSd = created.sd;
      // The creator gets what it asked for, whatever the new descriptor says (MS-FSA 2.1.5.1.1).
      if (maximumAllowed) granted |= allowed & tree.maximalAccess;
      if (deleteOnClose && !(granted & AccessMask.DELETE)) return Status.ACCESS_DENIED;
      action = CreateAction.CREATED;
    }

    // Do it.
    let handle: StoreHandle | undefined;
    const isDirectory = stream === undefined && (stat ? stat.type === 'directory' : wantDir);
    const writable = (granted & (AccessMask.FILE_WRITE_DATA | AccessMask.FILE_APPEND_DATA)) !== 0 || action !== CreateAction.OPENED;
    try {
      if (action === CreateAction.CREATED) {
        node.noteLocalChange(); // the disk will echo the new entry: not another program's change
        if (isDirectory) {
          await store.mkdir(path);
          handle = undefined;
        } else if (stream !== undefined) {
          // Creating a stream of a missing file creates the file too (its unnamed data stays empty).
          handle = await store.open(path, { write: true, create: 'always', stream });
        } else {
          handle = await store.open(path, { write: true, create: 'new' });
        }
        await noteCreated(store, path);
        const attrs = req.fileAttributes & SETTABLE_ATTRIBUTES;
        const wanted = isDirectory ? attrs : attrs | FileAttributes.ARCHIVE;
        // A new file already has the default attributes (ARCHIVE; none for a directory).
        if (wanted !== defaultAttributes(isDirectory ? 'directory' : 'file')) await store.setAttributes(path, wanted);
        if (newSd && store.setSecurity) await store.setSecurity(path, securityDescriptorToBytes(newSd));
      } else if (!isDirectory) {
        const openOpts: Parameters<FileStore['open']>[1] = { write: writable && !tree.readOnly };
        if (stream !== undefined) {
          openOpts.stream = stream;
          openOpts.create = disposition === CreateDisposition.OPEN || disposition === CreateDisposition.OVERWRITE ? 'never' : 'always';
        }
        if (action === CreateAction.OVERWRITTEN || action === CreateAction.SUPERSEDED) openOpts.truncate = true;
        handle = await store.open(path, openOpts);
        if (action === CreateAction.OVERWRITTEN || action === CreateAction.SUPERSEDED) {
          if (stream === undefined) {
            await store.setAttributes(path, (req.fileAttributes & SETTABLE_ATTRIBUTES) | FileAttributes.ARCHIVE);
          }
        }
      }
      if (action !== CreateAction.OPENED && stream === undefined) await setCreateEas?.(path);
      stat = handle ? await handle.stat() : await store.stat(path);
      if (stream !== undefined && handle) {
        // The handle's stat describes the stream; attributes and times are the file's.
        const fileStat = await store.stat(path);
        stat = { ...fileStat, size: stat.size, allocationSize: stat.allocationSize };
      }
    } catch (err) {
      await handle?.close().catch(() => {});
      if (action === CreateAction.CREATED && (err as { code?: string }).code === 'EEXIST') {
        // Another request created it after we looked: CREATE collides; the other dispositions look again.
        return disposition === CreateDisposition.CREATE ? Status.OBJECT_NAME_COLLISION : RACED;
      }
      return storeErrorToStatus(err, 'leaf');
    }

    if (requestedAllocation !== undefined && action !== CreateAction.OPENED && !isDirectory) {
      // MS-SMB2 2.2.13.2.6: the initial allocation of a created or overwritten file, in whole clusters.
      node.allocationSize = roundToClusters(requestedAllocation);
    }
    // With workers, the others learn that this one has the directory open before the client hears of it, so that
    // they tell it of changes to its entries from then on (server/workers/link.ts, interest).
    if (isDirectory) {
      const told = ctx.conn.server.workers?.interest(share, path, false);
      if (told) await told;
    }
    // A second check: another open may have appeared while we awaited the store.
    if (isDataAccess(granted) && !node.shareAllows(granted, req.shareAccess, stream)) {
      await handle?.close().catch(() => {});
      return Status.SHARING_VIOLATION;
    }
    const session = ctx.session!;
    const server = ctx.conn.server;
    // A CREATE that waited while its session ended (a logoff, or the loss of its last channel: a DH2Q CREATE
    // outlives the loss of its own, see Connection.teardown) makes no open.
    if (!server.sessionLive(session)) {
      await handle?.close().catch(() => {});
      return Status.USER_SESSION_DELETED;
    }
    const fileId = registerOpen(ctx, { node, isDirectory, granted, req, stream, handle, deleteOnClose });
    const open = session.opens.get(fileId.volatile)!;
    open.appInstanceId = appInstanceId;
    const cached = caching.grant(requesterOf(ctx), open, cachingRequest);
    const durableContexts = server.durables.grant(open, durable, { persistentAllowed: share.continuousAvailability && dialect >= 0x0300 && server.persistentHandles });
    await server.durables.changed(open);
    if (action === CreateAction.CREATED) server.events.emit('create', { user: session.userName, share: share.name, path });
    if (action !== CreateAction.OPENED && stream === undefined) server.entryChanged(share, path, open);
    if (action === CreateAction.CREATED && stream === undefined) {
      server.notify.report(share, [{ action: NotifyAction.ADDED, path, filter: nameFilter(isDirectory) }]);
    } else if (action !== CreateAction.OPENED) {
      server.notify.report(share, [{ action: NotifyAction.MODIFIED, path, filter: OVERWRITE_FILTER }]);
    }
    server.log.debug('create', { path, action, dir: isDirectory, access: granted.toString(16) });

    const contexts = [...responseContexts(req.createContexts, granted, allowed & tree.maximalAccess, stat), ...cached.contexts, ...durableContexts];
    const answer = {
      createAction: newStream && action === CreateAction.OPENED ? CreateAction.CREATED : action,
      ...timesOf(stat, node),
      allocationSize: stat.type === 'directory' ? 0n : BigInt(node.reportedAllocation(stat.allocationSize)),
      endOfFile: stat.type === 'directory' ? 0n : BigInt(stat.size),
      fileAttributes: attributesOf(stat),
    };
    // A replay of this CREATE is answered the same (MS-SMB2 3.3.5.9.10).
    if (open.createGuid) open.original = answer;
    return { body: (w) => encodeCreateResponse(w, { ...answer, oplockLevel: cached.oplockLevel, flags: 0, fileId, createContexts: contexts }) };
  };
  for (let tries = 1; ; tries++) {
    let out: Outcome | typeof RACED;
    try {
      out = await attempt();
    } finally {
      for (const n of touched.splice(0)) {
        n.pendingCreates--;
        ctx.conn.server.dropNodeIfUnused(n);
      }
    }
    if (out !== RACED) return out;
    if (tries === 5) return Status.OBJECT_NAME_COLLISION;
  }
}

/** The AppInstanceId of an SMB2_CREATE_APP_INSTANCE_ID context (MS-SMB2 2.2.13.2.13); a malformed one is ignored. */
function decodeAppInstanceId(contexts: readonly CreateContext[]): Buffer | undefined {
  const c = findCreateContext(contexts, CreateContextName.APP_INSTANCE_ID);
  if (!c || c.data.length !== 20 || c.data.readUInt16LE(0) !== 20) return undefined;
  return Buffer.from(c.data.subarray(4, 20));
}

/** The SecD create context's descriptor (MS-SMB2 2.2.13.2.1), a status when it is malformed, or undefined. */
function decodeCreatorSecurity(contexts: readonly CreateContext[]): SecurityDescriptor | number | undefined {
  const ctx = findCreateContext(contexts, CreateContextName.SD_BUFFER);
  if (!ctx) return undefined;
  try {
    return decodeSecurityDescriptor(ctx.data);
  } catch (err) {
    if (err instanceof WireError || err instanceof TypeError || err instanceof RangeError) return Status.INVALID_PARAMETER;
    throw err;
  }
}

/**
 * The checks and the descriptor of a file about to be created (MS-FSA 2.1.5.1.1): the parent must grant
 * FILE_ADD_FILE or FILE_ADD_SUBDIRECTORY; the new descriptor comes from the SecD context and inheritance, and is
 * only stored when one of them says something (a parent without a stored descriptor passes on the fallback).
 */
async function newFileAccess(
  store: FileStore,
  path: string,
  directory: boolean,
  token: Token,
  writable: boolean,
  creator: SecurityDescriptor | undefined,
): Promise<number | { allowed: number; sd: SecurityDescriptor | undefined }> {
  const parent = await readSecurity(store, parentPath(path), true, token, writable);
  const parentAllowed = allowedAccess(parent.sd, token);
  if (!(parentAllowed & (directory ? AccessMask.FILE_APPEND_DATA : AccessMask.FILE_WRITE_DATA))) return Status.ACCESS_DENIED;
  if (creator) {
    const bad = checkClientSecurity(creator, SecurityInformation.OWNER_SECURITY_INFORMATION | SecurityInformation.SACL_SECURITY_INFORMATION, token);
    if (bad !== undefined) return bad;
  }
  const sd = creator || parent.stored ? newFileSecurity(parent.sd, creator, token, directory) : undefined;
  let allowed = allowedAccess(sd ?? fallbackSecurity(token, directory, writable), token);
  if (parentAllowed & AccessMask.FILE_DELETE_CHILD) allowed |= AccessMask.DELETE;
  if (parentAllowed & AccessMask.FILE_READ_DATA) allowed |= AccessMask.FILE_READ_ATTRIBUTES;
  return { allowed: allowed >>> 0, sd };
}

/** A CREATE on IPC$ opens a named pipe (server/ipc/ serves it). */
function openPipe(ctx: RequestContext, req: CreateRequest): Outcome {
  const pipe = openPipeEndpoint(ctx, req.name);
  if (typeof pipe === 'number') return pipe;
  const node = ctx.conn.server.node(ctx.tree!.share, `\\PIPE\\${pipe.name}`);
  const granted = mapGenericRights(req.desiredAccess & ~AccessMask.MAXIMUM_ALLOWED) | (req.desiredAccess & AccessMask.MAXIMUM_ALLOWED ? PIPE_MAXIMUM_ACCESS : 0);
  const fileId = registerOpen(ctx, { node, isDirectory: false, granted, req, stream: undefined, handle: undefined, deleteOnClose: false, pipe });
  return { body: (w) => encodeCreateResponse(w, pipeCreateResponse(fileId)) };
}

/** A CREATE on a printer share makes a print job, or opens the queue (server/print/ serves both). */
async function openPrint(ctx: RequestContext, req: CreateRequest): Promise<Outcome> {
  const created = await printCreate(ctx, req);
  if (typeof created === 'number') return created;
  const server = ctx.conn.server;
  const share = ctx.tree!.share;
  const node = server.node(share, created.queue ? '' : `\\print\\${created.job.id}`);
  const fileId = registerOpen(ctx, {
    node,
    isDirectory: created.queue,
    granted: created.granted,
    req,
    stream: undefined,
    handle: created.queue ? undefined : created.job.handle,
    deleteOnClose: false,
    ...(created.queue ? {} : { printJob: created.job }),
  });
  const res = await printCreateResponse(created, fileId);
  return { body: (w) => encodeCreateResponse(w, res) };
}

/** Creates the Open of a successful CREATE and makes it the compound's current file. */
function registerOpen(
  ctx: RequestContext,
  o: {
    node: FileNode;
    isDirectory: boolean;
    granted: number;
    req: CreateRequest;
    stream: string | undefined;
    handle: StoreHandle | undefined;
    deleteOnClose: boolean;
    pipe?: PipeEndpoint;
    printJob?: PrintJob;
  },
): FileId {
  const session = ctx.session!;
  const persistentId = ctx.conn.server.allocPersistentId();
  const open = new Open({
    persistentId,
    volatileId: persistentId,
    session,
    tree: ctx.tree!,
    node: o.node,
    isDirectory: o.isDirectory,
    grantedAccess: o.granted,
    shareAccess: o.req.shareAccess,
    createOptions: o.req.createOptions,
    clientGuid: Buffer.from(ctx.conn.clientGuid),
    owner: session.owner,
    stream: o.stream,
    handle: o.handle,
    deleteOnClose: o.deleteOnClose,
    ...(o.pipe ? { pipe: o.pipe } : {}),
    ...(o.printJob ? { printJob: o.printJob } : {}),
  });
  open.channel.sequence = channelSequenceOf(ctx.header);
  o.node.opens.add(open);
  session.opens.set(open.volatileId, open);
  const fileId = { persistent: open.persistentId, volatile: open.volatileId };
  ctx.compound.fileId = fileId;
  return fileId;
}

/**
 * The NTFS quota file `$Extend\$Quota:$Q:$INDEX_ALLOCATION`, which Windows clients open to manage quotas: a
 * virtual directory-like object with no data and zero times, whatever the store (MS-FSCC 2.1.5.4 names it).
 */
function openQuotaFakeFile(ctx: RequestContext, req: CreateRequest, granted: number): Outcome {
  const d = req.createDisposition;
  if (d !== CreateDisposition.OPEN && d !== CreateDisposition.OPEN_IF) return Status.ACCESS_DENIED;
  if (req.createOptions & CreateOptions.DELETE_ON_CLOSE) return Status.ACCESS_DENIED;
  const node = ctx.conn.server.node(ctx.tree!.share, QUOTA_FAKE_PATH);
  const fileId = registerOpen(ctx, { node, isDirectory: true, granted, req, stream: undefined, handle: undefined, deleteOnClose: false });
  return {
    body: (w) =>
      encodeCreateResponse(w, {
        oplockLevel: OplockLevel.NONE,
        flags: 0,
        createAction: CreateAction.OPENED,
        creationTime: 0n,
        lastAccessTime: 0n,
        lastWriteTime: 0n,
        changeTime: 0n,
        allocationSize: 0n,
        endOfFile: 0n,
        fileAttributes: FileAttributes.HIDDEN | FileAttributes.SYSTEM | FileAttributes.DIRECTORY | FileAttributes.ARCHIVE,
        fileId,
        createContexts: [],
      }),
  };
}

function validateRequest(req: CreateRequest): number | undefined {
  if (req.impersonationLevel > ImpersonationLevel.DELEGATE) return Status.BAD_IMPERSONATION_LEVEL;
  if (req.createDisposition > CreateDisposition.OVERWRITE_IF) return Status.INVALID_PARAMETER;
  const o = req.createOptions;
  if (o & CreateOptions.DIRECTORY_FILE && o & CreateOptions.NON_DIRECTORY_FILE) return Status.INVALID_PARAMETER;
  if (o & 0xff000000) return Status.INVALID_PARAMETER; // reserved option bits (MS-SMB2 2.2.13)
  // MS-SMB2 3.3.5.9: opening by file id, opfilter reservation and tree connections are not offered (as Windows).
  if (o & (CreateOptions.OPEN_BY_FILE_ID | CreateOptions.RESERVE_OPFILTER | CREATE_TREE_CONNECTION)) return Status.NOT_SUPPORTED;
  if (req.desiredAccess & RESERVED_ACCESS) return Status.ACCESS_DENIED;
  const privilege = privilegeNotHeld(req.desiredAccess);
  if (privilege !== undefined) return privilege;
  // MS-FSA 2.1.5.1: attribute bits a file can't take (volume label, device, integrity, undefined) are invalid.
  if (req.fileAttributes & ~VALID_CREATE_ATTRIBUTES) return Status.INVALID_PARAMETER;
  if (req.shareAccess & ~0x7) return Status.INVALID_PARAMETER;
  if (o & CreateOptions.DIRECTORY_FILE) {
    // MS-FSA 2.1.5.1: a directory can only be opened or created, not overwritten.
    const d = req.createDisposition;
    if (d !== CreateDisposition.CREATE && d !== CreateDisposition.OPEN && d !== CreateDisposition.OPEN_IF) {
      return Status.INVALID_PARAMETER;
    }
    if (req.fileAttributes & FileAttributes.TEMPORARY) return Status.INVALID_PARAMETER;
  }
  return undefined;
}

function responseContexts(reqs: readonly CreateContext[], granted: number, maximal: number, stat: StoreStat): CreateContext[] {
  const out: CreateContext[] = [];
  const mxac = findCreateContext(reqs, CreateContextName.QUERY_MAXIMAL_ACCESS);
  if (mxac) {
    let ok = true;
    try {
      decodeMaximalAccessRequest(mxac.data);
    } catch {
      ok = false;
    }
    out.push({
      name: CreateContextName.QUERY_MAXIMAL_ACCESS,
      data: encodeMaximalAccessResponse({ queryStatus: ok ? Status.SUCCESS : Status.INVALID_PARAMETER, maximalAccess: maximal | (granted & AccessMask.SYNCHRONIZE) }),
    });
  }
  if (findCreateContext(reqs, CreateContextName.QUERY_ON_DISK_ID)) {
    out.push({ name: CreateContextName.QUERY_ON_DISK_ID, data: encodeQueryOnDiskIdResponse({ diskFileId: stat.fileId, volumeId: 0n }) });
  }
  return out;
}
