import type { Reader } from '../../../util/reader.js';
import type { Writer } from '../../../util/writer.js';
import { expectStructureSize } from './common.js';
import { decodeFileId, encodeFileId, type FileId } from './file-id.js';

/** SMB2 FLUSH request (MS-SMB2 2.2.17). */
export interface FlushRequest {
  fileId: FileId;
}
/** SMB2 FLUSH response (MS-SMB2 2.2.18): StructureSize 4 and a reserved u16. */
export type FlushResponse = Record<string, never>;

export function decodeFlushRequest(r: Reader): FlushRequest {
  expectStructureSize(r, 24, 'FLUSH');
  r.skip(6); // Reserved1, Reserved2
  return { fileId: decodeFileId(r) };
}

export function encodeFlushRequest(w: Writer, m: FlushRequest): void {
  w.u16(24).u16(0).u32(0);
  encodeFileId(w, m.fileId);
}

export function decodeFlushResponse(r: Reader): FlushResponse {
  expectStructureSize(r, 4, 'FLUSH response');
  r.skip(2);
  return {};
}

export function encodeFlushResponse(w: Writer, _m: FlushResponse = {}): void {
  w.u16(4).u16(0);
}
