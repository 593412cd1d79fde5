/**
 * Server-side copy (MS-SMB2 3.3.5.15.5, 3.3.5.15.6): FSCTL_SRV_REQUEST_RESUME_KEY names a source open, and
 * FSCTL_SRV_COPYCHUNK / FSCTL_SRV_COPYCHUNK_WRITE copy ranges of it into the open the IOCTL is sent on.
 */
import { randomBytes } from 'node:crypto';
import { Status } from '../../protocol/nt-status.js';
import { AccessMask, Fsctl } from '../../protocol/smb2/constants.js';
import { encodeIoctlResponse, type IoctlRequest } from '../../protocol/smb2/commands/ioctl.js';
import {
  COPYCHUNK_LIMITS,
  decodeCopyChunkRequest,
  encodeCopyChunkResponse,
  encodeResumeKeyResponse,
  type CopyChunkResponse,
} from '../../protocol/smb2/fscc/fsctl.js';
import { Reader } from '../../util/reader.js';
import { Writer } from '../../util/writer.js';
import type { Outcome } from '../context.js';
import type { Open } from '../state/open.js';
import type { Session } from '../session.js';
import { storeErrorToStatus } from '../status-map.js';
import { MAX_FILE_SIZE } from './io-checks.js';

/** SRV_COPYCHUNK_COPY without chunks: SourceKey(24), ChunkCount, Reserved. */
const COPYCHUNK_COPY_HEADER = 32;
/** SRV_COPYCHUNK_RESPONSE. */
const COPYCHUNK_RESPONSE_SIZE = 12;
/** SRV_REQUEST_RESUME_KEY response: ResumeKey(24), ContextLength, and no context. */
const RESUME_KEY_RESPONSE_SIZE = 32;

/**
 * The status a copy of [offset, offset + length) through `open` meets: FILE_LOCK_CONFLICT when another open's
 * byte-range lock is in the way (the same question READ and WRITE ask), else undefined.
 */
export function copyChunkLockConflict(open: Open, offset: number, length: number, write: boolean): number | undefined {
  if (length === 0) return undefined;
  return open.node.existingLocks(open)?.ioConflicts(open, BigInt(offset), BigInt(length), write) ? Status.FILE_LOCK_CONFLICT : undefined;
}

export function requestResumeKey(open: Open, req: IoctlRequest): Outcome {
  if (req.maxOutputResponse < RESUME_KEY_RESPONSE_SIZE) return Status.INVALID_PARAMETER;
  // 24 opaque bytes; random, so a client cannot guess another open's key.
  open.resumeKey ??= randomBytes(24);
  const key = open.resumeKey;
  return respond(req, (w) => encodeResumeKeyResponse(w, key));
}

/** The open a resume key names, among the opens of the same session (keys do not cross sessions). */
function findBySessionKey(session: Session, key: Buffer): Open | undefined {
  for (const o of session.opens.values()) {
    if (!o.closed && o.resumeKey?.equals(key)) return o;
  }
  return undefined;
}

export async function copyChunk(session: Session, target: Open, req: IoctlRequest): Promise<Outcome> {
  // MS-SMB2 3.3.5.15.6: buffer sizes first.
  if (req.input.length < COPYCHUNK_COPY_HEADER || req.maxOutputResponse < COPYCHUNK_RESPONSE_SIZE) return Status.INVALID_PARAMETER;
  const copy = decodeCopyChunkRequest(new Reader(req.input));
  // FSCTL_SRV_COPYCHUNK reads the target too (for the copy engine); COPYCHUNK_WRITE needs only write access.
  const needed = AccessMask.FILE_WRITE_DATA | (req.ctlCode === Fsctl.SRV_COPYCHUNK ? AccessMask.FILE_READ_DATA : 0);
  if ((target.grantedAccess & needed) !== needed) return Status.ACCESS_DENIED;
  if (target.isDirectory || !target.handle) return Status.INVALID_DEVICE_REQUEST;
  const source = findBySessionKey(session, copy.sourceKey);
  if (!source) return Status.OBJECT_NAME_NOT_FOUND;
  // Execute access reads data too (Windows accepts a source opened for execute only).
  if (!(source.grantedAccess & (AccessMask.FILE_READ_DATA | AccessMask.FILE_EXECUTE)) || !source.handle) return Status.ACCESS_DENIED;
  // Limits (Windows' defaults): a refusal carries them in the response so the client can size its next try.
  const total = copy.chunks.reduce((n, c) => n + c.length, 0);
  if (
    copy.chunks.length > COPYCHUNK_LIMITS.maxChunks ||
    copy.chunks.some((c) => c.length > COPYCHUNK_LIMITS.maxChunkSize || c.length === 0) ||
    total > COPYCHUNK_LIMITS.maxTotalBytes
  ) {
    return respond(
      req,
      (w) =>
        encodeCopyChunkResponse(w, {
          chunksWritten: COPYCHUNK_LIMITS.maxChunks,
          chunkBytesWritten: COPYCHUNK_LIMITS.maxChunkSize,
          totalBytesWritten: COPYCHUNK_LIMITS.maxTotalBytes,
        }),
      Status.INVALID_PARAMETER,
    );
  }
  const result: CopyChunkResponse = { chunksWritten: 0, chunkBytesWritten: 0, totalBytesWritten: 0 };
  const sourceSize = (await source.handle.stat()).size;
  const buf = Buffer.allocUnsafe(Math.max(...copy.chunks.map((c) => c.length), 0));
  try {
    for (const c of copy.chunks) {
      // A chunk past the source's end stops the copy (Windows: INVALID_VIEW_SIZE); the answer still says what was copied.
      if (c.sourceOffset + BigInt(c.length) > BigInt(sourceSize)) return respond(req, (w) => encodeCopyChunkResponse(w, result), Status.INVALID_VIEW_SIZE);
      if (c.targetOffset + BigInt(c.length) > MAX_FILE_SIZE) return Status.INVALID_PARAMETER;
      const from = Number(c.sourceOffset);
      const to = Number(c.targetOffset);
      const conflict = copyChunkLockConflict(source, from, c.length, false) ?? copyChunkLockConflict(target, to, c.length, true);
      // The answer to a lock conflict still says what was copied (smbtorture smb2.ioctl.copy_chunk_src_lock).
      if (conflict !== undefined) return respond(req, (w) => encodeCopyChunkResponse(w, result), conflict);
      // The chunk is read whole before it is written, so overlapping ranges of one file copy as if through a buffer.
      const data = buf.subarray(0, c.length);
      let got = 0;
      while (got < c.length) {
        const n = await source.handle.read(data, got, c.length - got, from + got);
        if (n === 0) break;
        got += n;
      }
      if (got < c.length) return respond(req, (w) => encodeCopyChunkResponse(w, result), Status.INVALID_VIEW_SIZE);
      await target.node.beforeDataWrite(target);
      await target.handle.write(data, to);
      result.chunksWritten++;
      result.totalBytesWritten += c.length;
    }
  } catch (err) {
    return storeErrorToStatus(err);
  }
  return respond(req, (w) => encodeCopyChunkResponse(w, result));
}

function respond(req: IoctlRequest, write: (w: Writer) => void, status?: number): Outcome {
  const w = new Writer(64);
  write(w);
  const output = w.finish();
  return {
    ...(status !== undefined ? { status } : {}),
    body: (bw) => encodeIoctlResponse(bw, { ctlCode: req.ctlCode, fileId: req.fileId, input: Buffer.alloc(0), output, flags: 0 }),
  };
}
