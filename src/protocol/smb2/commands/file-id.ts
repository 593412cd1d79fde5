import type { Reader } from '../../../util/reader.js';
import type { Writer } from '../../../util/writer.js';

/** SMB2_FILEID (MS-SMB2 2.2.14.1): the persistent and volatile halves of an open's handle. */
export interface FileId {
  persistent: bigint;
  volatile: bigint;
}

const ALL_ONES = 0xffffffffffffffffn;

/** The FileId a related compound request uses to mean "the handle of the previous operation" (MS-SMB2 3.3.5.2.7.2). */
export const RELATED_FILE_ID: Readonly<FileId> = Object.freeze({ persistent: ALL_ONES, volatile: ALL_ONES });

export function isRelatedFileId(id: FileId): boolean {
  return id.persistent === ALL_ONES && id.volatile === ALL_ONES;
}

export function decodeFileId(r: Reader): FileId {
  const persistent = r.u64();
  const volatile = r.u64();
  return { persistent, volatile };
}

export function encodeFileId(w: Writer, id: FileId): void {
  w.u64(id.persistent);
  w.u64(id.volatile);
}

export function fileIdEquals(a: FileId, b: FileId): boolean {
  return a.persistent === b.persistent && a.volatile === b.volatile;
}

/** 16 wire bytes of a FileId (e.g. for DHnC/DH2C create contexts). */
export function fileIdToBytes(id: FileId): Buffer {
  const b = Buffer.allocUnsafe(16);
  b.writeBigUInt64LE(id.persistent, 0);
  b.writeBigUInt64LE(id.volatile, 8);
  return b;
}
