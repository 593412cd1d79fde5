import { Status } from '../../protocol/nt-status.js';
import { AccessMask, InfoType } from '../../protocol/smb2/constants.js';
import { encodeErrorResponse } from '../../protocol/smb2/commands/error.js';
import { decodeQueryInfoRequest, encodeQueryInfoResponse } from '../../protocol/smb2/commands/query-info.js';
import { FileInfoClass, queryFileInfo } from '../../protocol/smb2/fscc/file-info.js';
import {
  DeviceCharacteristics,
  DeviceType,
  FileSystemAttributes,
  queryFsInfo,
  type FsFacts,
} from '../../protocol/smb2/fscc/fs-info.js';
import { SecurityInformation, securityDescriptorToBytes } from '../../protocol/smb2/fscc/security.js';
import { fallbackSecurity, READ_CONTROL_PARTS, readSecurity, sessionToken } from '../acl.js';
import type { Outcome, RequestContext } from '../context.js';
import { queryFullEaInformation } from '../ea.js';
import { fileFacts, QUOTA_FAKE_PATH, shortNameOf, smbPathOf } from '../files.js';
import type { Open } from '../state/open.js';
import { storeErrorToStatus } from '../status-map.js';
import { checkCreditCharge } from './io-checks.js';
import { pipeQueryInfo } from '../ipc/smb-pipe.js';
import { printQueryInfo } from '../print/smb-print.js';

/** Classes that read attributes need FILE_READ_ATTRIBUTES (MS-SMB2 3.3.5.20.1). */
const NEEDS_READ_ATTRIBUTES = new Set<number>([
  FileInfoClass.FileBasicInformation,
  FileInfoClass.FileAllInformation,
  FileInfoClass.FileNetworkOpenInformation,
  FileInfoClass.FileAttributeTagInformation,
]);

/** QUERY_INFO (MS-SMB2 3.3.5.20). */
export async function handleQueryInfo(ctx: RequestContext): Promise<Outcome> {
  const req = decodeQueryInfoRequest(ctx.r);
  const open = ctx.open(req.fileId);
  if (!open) return Status.FILE_CLOSED;
  if (req.outputBufferLength > ctx.conn.maxTransactSize) return Status.INVALID_PARAMETER;
  const charge = checkCreditCharge(ctx, Math.max(req.outputBufferLength, req.inputBuffer.length));
  if (charge !== undefined) return charge;
  if (open.pipe) return pipeQueryInfo(open, open.pipe, req);
  if (open.tree.share.kind === 'printer') return printQueryInfo(open, req);
  let result: { status: number; data: Buffer };
  try {
    switch (req.infoType) {
      case InfoType.FILE:
        if (NEEDS_READ_ATTRIBUTES.has(req.fileInfoClass) && !(open.grantedAccess & AccessMask.FILE_READ_ATTRIBUTES)) {
          return Status.ACCESS_DENIED;
        }
        if (req.fileInfoClass === FileInfoClass.FileFullEaInformation && !(open.grantedAccess & AccessMask.FILE_READ_EA)) {
          return Status.ACCESS_DENIED;
        }
        // MS-SMB2 3.3.5.20.1: FileNormalizedNameInformation exists from 3.1.1 on.
        if (req.fileInfoClass === FileInfoClass.FileNormalizedNameInformation && (ctx.conn.dialect ?? 0) < 0x0311) {
          return Status.NOT_SUPPORTED;
        }
        result =
          req.fileInfoClass === FileInfoClass.FileFullEaInformation
            ? await queryFullEaInformation(open, req)
            : queryFileInfo(req.fileInfoClass, await factsOf(open, req.fileInfoClass), req.outputBufferLength);
        break;
      case InfoType.FILESYSTEM:
        result = queryFsInfo(req.fileInfoClass, await fsFacts(open), req.outputBufferLength);
        break;
      case InfoType.SECURITY: {
        // MS-SMB2 3.3.5.20.3: the SACL needs ACCESS_SYSTEM_SECURITY; the other parts READ_CONTROL. Asking for no
        // part needs neither and returns an empty descriptor (smbtorture smb2.sdread, as Windows does).
        if (req.additionalInformation & READ_CONTROL_PARTS && !(open.grantedAccess & AccessMask.READ_CONTROL)) return Status.ACCESS_DENIED;
        if (req.additionalInformation & SecurityInformation.SACL_SECURITY_INFORMATION && !(open.grantedAccess & AccessMask.ACCESS_SYSTEM_SECURITY)) {
          return Status.ACCESS_DENIED;
        }
        const token = sessionToken(open.session);
        const writable = !open.tree.readOnly;
        const current =
          open.path === QUOTA_FAKE_PATH
            ? fallbackSecurity(token, true, writable)
            : (await readSecurity(open.tree.share.store!, open.path, open.isDirectory, token, writable)).sd;
        const sd = securityDescriptorToBytes(current, req.additionalInformation);
        if (sd.length > req.outputBufferLength) {
          // MS-SMB2 3.3.5.20.3: BUFFER_TOO_SMALL carries the needed size as its error data.
          const need = Buffer.alloc(4);
          need.writeUInt32LE(sd.length);
          return { status: Status.BUFFER_TOO_SMALL, body: (w) => encodeErrorResponse(w, { data: need }) };
        }
        result = { status: Status.SUCCESS, data: sd };
        break;
      }
      case InfoType.QUOTA:
        return Status.NOT_SUPPORTED;
      default:
        return Status.INVALID_PARAMETER;
    }
  } catch (err) {
    return storeErrorToStatus(err);
  }
  if (result.status !== Status.SUCCESS && result.status !== Status.BUFFER_OVERFLOW) return result.status;
  const data = result.data;
  return { status: result.status, body: (w) => encodeQueryInfoResponse(w, { outputBuffer: data }) };
}

async function factsOf(open: Open, infoClass: number) {
  const store = open.tree.share.store!;
  const st = open.handle ? await open.handle.stat() : await store.stat(open.path);
  // A stream's handle describes the stream: the file's attributes and times come from the file.
  const fileStat = open.stream !== undefined && open.handle ? await store.stat(open.path) : st;
  const data = open.stream !== undefined ? { ...fileStat, size: st.size, allocationSize: st.allocationSize } : st;
  const base = open.stream !== undefined ? data : { ...data, allocationSize: open.node.reportedAllocation(data.allocationSize) };
  const facts = fileFacts(base, {
    name: smbPathOf(open.path) + (open.stream !== undefined ? `:${open.stream}` : ''),
    deletePending: open.node.deletePending,
    node: open.node,
    accessFlags: open.grantedAccess,
    currentByteOffset: open.currentByteOffset,
    mode: open.mode,
  });
  const leaf = open.path.slice(open.path.lastIndexOf('/') + 1);
  if (leaf !== '') facts.shortName = shortNameOf(leaf); // the share root has none (OBJECT_NAME_NOT_FOUND)
  if (infoClass === FileInfoClass.FileNormalizedNameInformation) {
    // MS-FSCC 2.4.30: the share-relative path with the stored spelling of each component (and of the stream).
    let name = open.path.split('/').filter(Boolean).join('\\');
    if (open.stream !== undefined) {
      const named = store.listStreams ? await store.listStreams(open.path) : [];
      const stored = named.find((s) => s.name.toUpperCase() === open.stream!.toUpperCase());
      name += `:${stored?.name ?? open.stream}`;
    }
    facts.name = name;
  }
  if (infoClass === FileInfoClass.FileStreamInformation) {
    const named = store.listStreams ? await store.listStreams(open.path) : [];
    const streams = named.map((s) => ({ name: s.name, size: BigInt(s.size), allocationSize: BigInt(s.size) }));
    if (fileStat.type !== 'directory') streams.unshift({ name: '', size: BigInt(fileStat.size), allocationSize: BigInt(fileStat.allocationSize) });
    facts.streams = streams;
  }
  return facts;
}

async function fsFacts(open: Open): Promise<FsFacts> {
  const store = open.tree.share.store!;
  const fs = await store.statfs();
  const bytesPerSector = 512;
  const sectorsPerUnit = Math.max(1, Math.floor(fs.blockSize / bytesPerSector));
  const unit = bytesPerSector * sectorsPerUnit;
  // Names are case-insensitive to clients whatever the disk; sparse files yes (FSCTL_SET_SPARSE), no object ids.
  let attrs =
    FileSystemAttributes.FILE_CASE_PRESERVED_NAMES |
    FileSystemAttributes.FILE_SUPPORTS_SPARSE_FILES |
    FileSystemAttributes.FILE_UNICODE_ON_DISK |
    FileSystemAttributes.FILE_PERSISTENT_ACLS |
    // Every file has a (derived) object id: FSCTL_CREATE_OR_GET_OBJECT_ID (fsctl-file.ts).
    FileSystemAttributes.FILE_SUPPORTS_OBJECT_IDS;
  if (store.listStreams) attrs |= FileSystemAttributes.FILE_NAMED_STREAMS;
  if (store.setEas) attrs |= FileSystemAttributes.FILE_SUPPORTS_EXTENDED_ATTRIBUTES;
  if (open.tree.readOnly) attrs |= FileSystemAttributes.FILE_READ_ONLY_VOLUME;
  return {
    volumeCreationTime: 0n,
    volumeSerialNumber: volumeSerial(open.tree.share.name),
    volumeLabel: open.tree.share.name,
    totalAllocationUnits: BigInt(Math.floor(fs.totalBytes / unit)),
    callerAvailableAllocationUnits: BigInt(Math.floor(fs.availableBytes / unit)),
    actualAvailableAllocationUnits: BigInt(Math.floor(fs.freeBytes / unit)),
    sectorsPerAllocationUnit: sectorsPerUnit,
    bytesPerSector,
    fileSystemAttributes: attrs,
    maximumComponentNameLength: 255,
    fileSystemName: 'NTFS',
    deviceType: DeviceType.FILE_DEVICE_DISK,
    deviceCharacteristics: DeviceCharacteristics.FILE_DEVICE_IS_MOUNTED,
    objectId: Buffer.alloc(16),
  };
}

/** A stable serial number per share name. */
export function volumeSerial(name: string): number {
  let h = 0x811c9dc5;
  for (const c of name.toUpperCase()) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return h >>> 0;
}
