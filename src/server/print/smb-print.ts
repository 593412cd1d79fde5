/**
 * SMB2 commands on printer shares (MS-SMB2 2.2.10 SMB2_SHARE_TYPE_PRINT). A CREATE of a file makes a new print
 * job whatever the name and disposition ("In case of a named pipe or printer, the server MUST create a new
 * file", MS-SMB2 2.2.13): the client chooses neither where it lands nor what it replaces. WRITE and FLUSH serve
 * the job's handle like any file's; the job is never readable. The share's root opens as the print queue, which
 * cannot be listed (STATUS_NOT_SUPPORTED, as Samba answers). Every rule about print opens sits in this file.
 */
import { Status } from '../../protocol/nt-status.js';
import { AccessMask, CreateAction, CreateOptions, FileAttributes, InfoType } from '../../protocol/smb2/constants.js';
import type { CreateRequest, CreateResponse } from '../../protocol/smb2/commands/create.js';
import type { FileId } from '../../protocol/smb2/commands/file-id.js';
import { encodeQueryInfoResponse, type QueryInfoRequest } from '../../protocol/smb2/commands/query-info.js';
import { decodeSetFileInfoBuffer, queryFileInfo } from '../../protocol/smb2/fscc/file-info.js';
import { DeviceCharacteristics, DeviceType, FileSystemAttributes, queryFsInfo } from '../../protocol/smb2/fscc/fs-info.js';
import { securityDescriptorToBytes } from '../../protocol/smb2/fscc/security.js';
import { WireError } from '../../errors.js';
import type { StoreStat } from '../../store/types.js';
import { fallbackSecurity, mapGenericRights, sessionToken } from '../acl.js';
import type { Outcome, RequestContext } from '../context.js';
import { fileFacts, timesOf } from '../files.js';
import { MAX_FILE_SIZE } from '../handlers/io-checks.js';
import type { Open } from '../state/open.js';
import { storeErrorToStatus } from '../status-map.js';
import type { PrintJob } from './spooler.js';

/** What a print job's handle may do: write its data and read or write its attributes. */
const JOB_ACCESS =
  AccessMask.FILE_WRITE_DATA |
  AccessMask.FILE_APPEND_DATA |
  AccessMask.FILE_READ_ATTRIBUTES |
  AccessMask.FILE_WRITE_ATTRIBUTES |
  AccessMask.READ_CONTROL |
  AccessMask.SYNCHRONIZE;
/** What the print queue (the share's root) grants: its attributes only. */
const QUEUE_ACCESS = AccessMask.FILE_READ_ATTRIBUTES | AccessMask.READ_CONTROL | AccessMask.SYNCHRONIZE;

/** The queue's stat: an empty directory with no times. */
const QUEUE_STAT: StoreStat = { type: 'directory', size: 0, allocationSize: 0, birthtimeMs: 0, mtimeMs: 0, atimeMs: 0, ctimeMs: 0, dosAttributes: 0, fileId: 0n, nlink: 1 };

export type PrintCreate = { queue: true; granted: number } | { queue: false; granted: number; job: PrintJob };

/** The open a CREATE on a printer share makes: a new job, or the queue for a directory open of the root. */
export async function printCreate(ctx: RequestContext, req: CreateRequest): Promise<PrintCreate | number> {
  const spooler = ctx.tree!.share.spooler!;
  const requested = mapGenericRights(req.desiredAccess & ~AccessMask.MAXIMUM_ALLOWED);
  const maximum = (req.desiredAccess & AccessMask.MAXIMUM_ALLOWED) !== 0;
  const writes = maximum || (requested & (AccessMask.FILE_WRITE_DATA | AccessMask.FILE_APPEND_DATA)) !== 0;
  if (req.createOptions & CreateOptions.DIRECTORY_FILE || (!writes && req.name === '')) {
    if (req.name !== '') return Status.OBJECT_NAME_NOT_FOUND;
    return { queue: true, granted: (maximum ? QUEUE_ACCESS : requested & QUEUE_ACCESS) | AccessMask.SYNCHRONIZE };
  }
  if (!writes) return Status.ACCESS_DENIED;
  if (req.createOptions & CreateOptions.DELETE_ON_CLOSE) return Status.ACCESS_DENIED;
  const id = ctx.session!.identity;
  const owner = { user: id?.guest ? 'guest' : (id?.user ?? ''), domain: id?.domain ?? '', client: ctx.conn.transport.remoteAddress };
  let job: PrintJob;
  try {
    job = await spooler.create(owner, req.name);
  } catch (err) {
    ctx.conn.server.log.warn('print job could not be created', { share: spooler.share, error: (err as Error).message });
    return storeErrorToStatus(err);
  }
  return { queue: false, granted: (maximum ? JOB_ACCESS : requested & JOB_ACCESS) | AccessMask.SYNCHRONIZE, job };
}

/** The CREATE response: a new empty file for a job, the queue as a directory. */
export async function printCreateResponse(created: PrintCreate, fileId: FileId): Promise<CreateResponse> {
  const st = created.queue ? QUEUE_STAT : await created.job.handle.stat();
  return {
    oplockLevel: 0,
    flags: 0,
    createAction: created.queue ? CreateAction.OPENED : CreateAction.CREATED,
    ...timesOf(st),
    allocationSize: 0n,
    endOfFile: 0n,
    fileAttributes: created.queue ? FileAttributes.DIRECTORY : FileAttributes.NORMAL,
    fileId,
    createContexts: [],
  };
}

async function statOf(open: Open): Promise<StoreStat> {
  return open.printJob ? open.printJob.handle.stat() : QUEUE_STAT;
}

/** QUERY_INFO on a print open: file classes from the job's file, a plain volume, a default descriptor. */
export async function printQueryInfo(open: Open, req: QueryInfoRequest): Promise<Outcome> {
  let result: { status: number; data: Buffer };
  try {
    switch (req.infoType) {
      case InfoType.FILE: {
        const st = await statOf(open);
        const facts = fileFacts(st, { name: open.printJob?.documentName ?? '', deletePending: false, accessFlags: open.grantedAccess, currentByteOffset: open.currentByteOffset, mode: open.mode });
        result = queryFileInfo(req.fileInfoClass, facts, req.outputBufferLength);
        break;
      }
      case InfoType.FILESYSTEM:
        result = queryFsInfo(
          req.fileInfoClass,
          {
            volumeCreationTime: 0n,
            volumeSerialNumber: 0,
            volumeLabel: open.tree.share.name,
            totalAllocationUnits: 0n,
            callerAvailableAllocationUnits: 0n,
            actualAvailableAllocationUnits: 0n,
            sectorsPerAllocationUnit: 8,
            bytesPerSector: 512,
            fileSystemAttributes: FileSystemAttributes.FILE_CASE_PRESERVED_NAMES | FileSystemAttributes.FILE_UNICODE_ON_DISK,
            maximumComponentNameLength: 255,
            fileSystemName: 'NTFS',
            deviceType: DeviceType.FILE_DEVICE_DISK,
            deviceCharacteristics: DeviceCharacteristics.FILE_DEVICE_IS_MOUNTED,
            objectId: Buffer.alloc(16),
          },
          req.outputBufferLength,
        );
        break;
      case InfoType.SECURITY: {
        if (!(open.grantedAccess & AccessMask.READ_CONTROL)) return Status.ACCESS_DENIED;
        const sd = securityDescriptorToBytes(fallbackSecurity(sessionToken(open.session), !open.printJob, true), req.additionalInformation);
        if (sd.length > req.outputBufferLength) return Status.BUFFER_TOO_SMALL;
        result = { status: Status.SUCCESS, data: sd };
        break;
      }
      default:
        return Status.NOT_SUPPORTED;
    }
  } catch (err) {
    return storeErrorToStatus(err);
  }
  if (result.status !== Status.SUCCESS && result.status !== Status.BUFFER_OVERFLOW) return result.status;
  const data = result.data;
  return { status: result.status, body: (w) => encodeQueryInfoResponse(w, { outputBuffer: data }) };
}

/**
 * SET_INFO on a print open: a job's size may be set (Windows' CopyFile sets it first), its times and attributes
 * are accepted and ignored; it can be neither renamed nor deleted, and the queue takes nothing.
 */
export async function printSetInfo(open: Open, infoType: number, infoClass: number, buffer: Buffer): Promise<number> {
  const job = open.printJob;
  if (!job || infoType !== InfoType.FILE) return Status.ACCESS_DENIED;
  let info;
  try {
    info = decodeSetFileInfoBuffer(buffer, infoClass);
  } catch (err) {
    if (err instanceof WireError) return err.status ?? Status.INVALID_PARAMETER;
    throw err;
  }
  switch (info.kind) {
    case 'endOfFile':
      if (!(open.grantedAccess & AccessMask.FILE_WRITE_DATA)) return Status.ACCESS_DENIED;
      if (info.endOfFile > MAX_FILE_SIZE) return Status.INVALID_PARAMETER;
      try {
        await job.handle.truncate(Number(info.endOfFile));
      } catch (err) {
        return storeErrorToStatus(err);
      }
      return Status.SUCCESS;
    case 'allocation':
    case 'basic':
    case 'position':
    case 'mode':
      return Status.SUCCESS;
    case 'rename':
    case 'renameEx':
    case 'link':
    case 'linkEx':
    case 'disposition':
    case 'dispositionEx':
      return Status.ACCESS_DENIED;
    default:
      return Status.INVALID_PARAMETER;
  }
}
