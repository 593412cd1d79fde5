/**
 * FSCTLs on one file's data (MS-FSA 2.1.5.10): sparse flag, zeroing, allocated ranges, compression, integrity,
 * trim. Stores have no holes to punch and no extents to report, so a sparse file's allocation is derived from
 * its data in 64 KiB units (the unit NTFS allocates sparse files in): a unit that reads as all zeros is a hole.
 */
import { Status } from '../../protocol/nt-status.js';
import { AccessMask, FileAttributes } from '../../protocol/smb2/constants.js';
import { encodeIoctlResponse, type IoctlRequest } from '../../protocol/smb2/commands/ioctl.js';
import {
  allocatedRangesThatFit,
  ChecksumAlgorithm,
  CompressionFormat,
  decodeAllocatedRangeRequest,
  decodeCompressionState,
  decodeFileLevelTrim,
  decodeSetSparse,
  decodeZeroDataInformation,
  encodeAllocatedRanges,
  encodeCompressionState,
  encodeFileLevelTrimOutput,
  encodeIntegrityInformation,
  encodeObjectIdBuffer,
  type AllocatedRange,
} from '../../protocol/smb2/fscc/fsctl.js';
import { Reader } from '../../util/reader.js';
import { Writer } from '../../util/writer.js';
import type { Outcome } from '../context.js';
import { CLUSTER_SIZE } from '../state/file-node.js';
import type { Open } from '../state/open.js';
import { storeErrorToStatus } from '../status-map.js';
import { volumeSerial } from './query-info.js';

/** The unit a sparse file's allocation is reported in. */
export const SPARSE_ALLOCATION_UNIT = 64 * 1024;

const WRITE_LIKE = AccessMask.FILE_WRITE_DATA | AccessMask.FILE_WRITE_ATTRIBUTES | AccessMask.FILE_APPEND_DATA;

export async function isSparse(open: Open): Promise<boolean> {
  const st = await open.tree.share.store!.stat(open.path);
  return (st.dosAttributes & FileAttributes.SPARSE_FILE) !== 0;
}

/** FSCTL_SET_SPARSE (MS-FSA 2.1.5.10.39): the flag is a DOS attribute the store keeps. */
export async function setSparse(open: Open, req: IoctlRequest): Promise<Outcome> {
  if (open.isDirectory) return Status.INVALID_PARAMETER;
  if (!(open.grantedAccess & WRITE_LIKE)) return Status.ACCESS_DENIED;
  const sparse = decodeSetSparse(new Reader(req.input));
  const store = open.tree.share.store!;
  try {
    const st = await store.stat(open.path);
    const attrs = sparse ? st.dosAttributes | FileAttributes.SPARSE_FILE : st.dosAttributes & ~FileAttributes.SPARSE_FILE;
    if (attrs !== st.dosAttributes) await store.setAttributes(open.path, attrs);
  } catch (err) {
    return storeErrorToStatus(err);
  }
  return respond(req);
}

/**
 * FSCTL_SET_ZERO_DATA (MS-FSA 2.1.5.10.36): zeros [FileOffset, BeyondFinalZero) within the file, never past its
 * end. Zero-filling is how a store without hole punching deallocates; a sparse file then reports the range as a hole.
 */
export async function setZeroData(open: Open, req: IoctlRequest): Promise<Outcome> {
  if (open.isDirectory || !open.handle) return Status.INVALID_PARAMETER;
  if (!(open.grantedAccess & AccessMask.FILE_WRITE_DATA)) return Status.ACCESS_DENIED;
  const z = decodeZeroDataInformation(new Reader(req.input));
  // Zeroing writes: another open's byte-range lock over the range refuses it (MS-FSA 2.1.5.10.34, as WRITE does).
  if (z.beyondFinalZero > z.fileOffset && open.node.existingLocks(open)?.ioConflicts(open, z.fileOffset, z.beyondFinalZero - z.fileOffset, true)) {
    return Status.FILE_LOCK_CONFLICT;
  }
  try {
    const size = BigInt((await open.handle.stat()).size);
    const end = z.beyondFinalZero < size ? z.beyondFinalZero : size;
    if (end > z.fileOffset) await open.node.beforeDataWrite(open);
    const zeros = Buffer.alloc(Math.min(SPARSE_ALLOCATION_UNIT * 16, Number(end > z.fileOffset ? end - z.fileOffset : 0n)));
    for (let at = z.fileOffset; at < end; ) {
      const n = Number(end - at < BigInt(zeros.length) ? end - at : BigInt(zeros.length));
      await open.handle.write(zeros.subarray(0, n), Number(at));
      at += BigInt(n);
    }
  } catch (err) {
    return storeErrorToStatus(err);
  }
  return respond(req);
}

/**
 * FSCTL_QUERY_ALLOCATED_RANGES (MS-FSA 2.1.5.10.22): a non-sparse file is allocated throughout; a sparse file's
 * allocated units are those holding data. Ranges are clipped to the query and to the end of file.
 */
export async function queryAllocatedRanges(open: Open, req: IoctlRequest): Promise<Outcome> {
  if (open.isDirectory || !open.handle) return Status.INVALID_PARAMETER;
  if (!(open.grantedAccess & AccessMask.FILE_READ_DATA)) return Status.ACCESS_DENIED;
  const q = decodeAllocatedRangeRequest(new Reader(req.input));
  const fit = allocatedRangesThatFit(req.maxOutputResponse);
  let ranges: AllocatedRange[];
  let overflow = false;
  try {
    const size = BigInt((await open.handle.stat()).size);
    const end = q.fileOffset + q.length < size ? q.fileOffset + q.length : size;
    if (q.length === 0n || q.fileOffset >= end) ranges = [];
    else if (!(await isSparse(open))) ranges = [{ fileOffset: q.fileOffset, length: end - q.fileOffset }];
    else {
      ranges = await dataRanges(open, q.fileOffset, end, fit + 1);
    }
  } catch (err) {
    return storeErrorToStatus(err);
  }
  if (ranges.length > 0 && fit === 0) return Status.BUFFER_TOO_SMALL;
  if (ranges.length > fit) {
    ranges = ranges.slice(0, fit);
    overflow = true;
  }
  const w = new Writer(16 * ranges.length);
  encodeAllocatedRanges(w, ranges);
  return respond(req, w.finish(), overflow ? Status.BUFFER_OVERFLOW : undefined);
}

/** Runs of 64 KiB units in [from, to) that hold a non-zero byte, clipped to [from, to); at most `limit` of them. */
async function dataRanges(open: Open, from: bigint, to: bigint, limit: number): Promise<AllocatedRange[]> {
  const unit = BigInt(SPARSE_ALLOCATION_UNIT);
  const buf = Buffer.allocUnsafe(SPARSE_ALLOCATION_UNIT);
  const out: AllocatedRange[] = [];
  let run: AllocatedRange | undefined;
  for (let u = (from / unit) * unit; u < to && out.length < limit; u += unit) {
    const n = await open.handle!.read(buf, 0, SPARSE_ALLOCATION_UNIT, Number(u));
    const hasData = buf.subarray(0, n).some((b) => b !== 0);
    if (!hasData) {
      run = undefined;
      continue;
    }
    const start = u > from ? u : from;
    const stop = u + unit < to ? u + unit : to;
    if (run) run.length = stop - run.fileOffset;
    else {
      run = { fileOffset: start, length: stop - start };
      out.push(run);
    }
  }
  return out;
}

/**
 * FSCTL_GET_COMPRESSION / FSCTL_SET_COMPRESSION (MS-FSA 2.1.5.10.7, 2.1.5.10.37): files are never compressed here,
 * as on a volume without FILE_FILE_COMPRESSION; setting NONE succeeds, asking for compression is not supported.
 */
export function getCompression(req: IoctlRequest): Outcome {
  if (req.maxOutputResponse < 2) return Status.INVALID_PARAMETER;
  const w = new Writer(2);
  encodeCompressionState(w, CompressionFormat.NONE);
  return respond(req, w.finish());
}

export function setCompression(open: Open, req: IoctlRequest): Outcome {
  if (!(open.grantedAccess & (AccessMask.FILE_WRITE_DATA | AccessMask.FILE_WRITE_ATTRIBUTES))) return Status.ACCESS_DENIED;
  const format = decodeCompressionState(new Reader(req.input));
  if (format === CompressionFormat.NONE) return respond(req);
  if (format === CompressionFormat.DEFAULT || format === CompressionFormat.LZNT1) return Status.NOT_SUPPORTED;
  return Status.INVALID_PARAMETER;
}

/** FSCTL_GET_INTEGRITY_INFORMATION (MS-FSA 2.1.5.10.10): no integrity streams, so no checksums. */
export function getIntegrityInformation(req: IoctlRequest): Outcome {
  if (req.maxOutputResponse < 16) return Status.INVALID_PARAMETER;
  const w = new Writer(16);
  encodeIntegrityInformation(w, {
    checksumAlgorithm: ChecksumAlgorithm.NONE,
    flags: 0,
    checksumChunkSizeInBytes: 0,
    clusterSizeInBytes: CLUSTER_SIZE,
  });
  return respond(req, w.finish());
}

/** Size of FILE_OBJECTID_BUFFER (MS-FSCC 2.1.3). */
const OBJECT_ID_BUFFER_SIZE = 64;

/**
 * FSCTL_CREATE_OR_GET_OBJECT_ID and FSCTL_GET_OBJECT_ID (MS-FSA 2.1.5.10.4, 2.1.5.10.11). Stores keep no object
 * ids, so each file's is derived from what already names it for good (its file id and the volume): the same
 * file answers the same id on every call, as if it had been created on the first. BirthObjectId is the ObjectId,
 * BirthVolumeId the volume's, DomainId zero, as MS-FSA prescribes for a new id.
 */
export async function getObjectId(open: Open, req: IoctlRequest): Promise<Outcome> {
  if (req.maxOutputResponse < OBJECT_ID_BUFFER_SIZE) return Status.INVALID_PARAMETER;
  const store = open.tree.share.store!;
  let fileId: bigint;
  try {
    fileId = (await store.stat(open.path)).fileId;
  } catch (err) {
    return storeErrorToStatus(err);
  }
  const volume = Buffer.alloc(16);
  volume.writeUInt32LE(volumeSerial(open.tree.share.name), 0);
  const objectId = Buffer.alloc(16);
  objectId.writeBigUInt64LE(BigInt.asUintN(64, fileId), 0);
  volume.copy(objectId, 8, 0, 8);
  const w = new Writer(OBJECT_ID_BUFFER_SIZE);
  encodeObjectIdBuffer(w, { objectId, birthVolumeId: volume, birthObjectId: objectId, domainId: Buffer.alloc(16) });
  return respond(req, w.finish());
}

/**
 * FSCTL_FILE_LEVEL_TRIM (MS-FSA 2.1.5.10.8): a hint that ranges are no longer needed. The data must stay as it
 * is (trim does not zero), so every range is "processed" by leaving it alone.
 */
export function fileLevelTrim(open: Open, req: IoctlRequest): Outcome {
  if (open.isDirectory || !open.handle) return Status.INVALID_PARAMETER;
  if (!(open.grantedAccess & AccessMask.FILE_WRITE_DATA)) return Status.ACCESS_DENIED;
  const trim = decodeFileLevelTrim(new Reader(req.input));
  if (req.maxOutputResponse < 4) return respond(req);
  const w = new Writer(4);
  encodeFileLevelTrimOutput(w, trim.ranges.length);
  return respond(req, w.finish());
}

function respond(req: IoctlRequest, output: Buffer = Buffer.alloc(0), status?: number): Outcome {
  return {
    ...(status !== undefined ? { status } : {}),
    body: (w) => encodeIoctlResponse(w, { ctlCode: req.ctlCode, fileId: req.fileId, input: Buffer.alloc(0), output, flags: 0 }),
  };
}
