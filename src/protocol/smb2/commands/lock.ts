import { WireError } from '../../../errors.js';
import type { Reader } from '../../../util/reader.js';
import type { Writer } from '../../../util/writer.js';
import { Status } from '../../nt-status.js';
import { expectStructureSize } from './common.js';
import { decodeFileId, encodeFileId, type FileId } from './file-id.js';

/** SMB2_LOCK_ELEMENT (MS-SMB2 2.2.26.1). */
export interface LockElement {
  offset: bigint;
  length: bigint;
  flags: number;
}

/** SMB2 LOCK request (MS-SMB2 2.2.26). */
export interface LockRequest {
  /** LockSequenceNumber: the low 4 bits of the 32-bit field. */
  lockSequenceNumber: number;
  /** LockSequenceIndex: the upper 28 bits. */
  lockSequenceIndex: number;
  fileId: FileId;
  locks: LockElement[];
}

/** SMB2 LOCK response (MS-SMB2 2.2.27). */
export type LockResponse = Record<string, never>;

export function decodeLockRequest(r: Reader): LockRequest {
  expectStructureSize(r, 48, 'LOCK');
  const lockCount = r.u16();
  const seq = r.u32();
  const fileId = decodeFileId(r);
  // MS-SMB2 3.3.5.14: LockCount 0 is invalid; each element is 24 bytes and must be in the message.
  if (lockCount === 0) throw new WireError('LOCK with LockCount 0', Status.INVALID_PARAMETER);
  if (lockCount * 24 > r.remaining) throw new WireError('LockCount exceeds the message', Status.INVALID_PARAMETER);
  const locks: LockElement[] = [];
  for (let i = 0; i < lockCount; i++) {
    const offset = r.u64();
    const length = r.u64();
    const flags = r.u32();
    r.skip(4); // Reserved
    locks.push({ offset, length, flags });
  }
  return { lockSequenceNumber: seq & 0xf, lockSequenceIndex: seq >>> 4, fileId, locks };
}

export function encodeLockRequest(w: Writer, m: LockRequest): void {
  if (m.locks.length === 0) throw new RangeError('LOCK needs at least one element');
  w.u16(48);
  w.u16(m.locks.length);
  w.u32(((m.lockSequenceIndex << 4) | (m.lockSequenceNumber & 0xf)) >>> 0);
  encodeFileId(w, m.fileId);
  for (const l of m.locks) w.u64(l.offset).u64(l.length).u32(l.flags).u32(0);
}

export function decodeLockResponse(r: Reader): LockResponse {
  expectStructureSize(r, 4, 'LOCK response');
  r.skip(2);
  return {};
}

export function encodeLockResponse(w: Writer, _m: LockResponse = {}): void {
  w.u16(4).u16(0);
}
