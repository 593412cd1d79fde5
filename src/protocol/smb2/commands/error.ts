import type { Reader } from '../../../util/reader.js';
import type { Writer } from '../../../util/writer.js';
import { expectStructureSize } from './common.js';

/** SMB2 ERROR response (MS-SMB2 2.2.2). */
export interface ErrorResponse {
  /** 3.1.1: number of error contexts in `data`; otherwise 0. */
  errorContextCount: number;
  /** ErrorData (raw: error contexts for 3.1.1, or e.g. the symbolic link error response). */
  data: Buffer;
}

export function decodeErrorResponse(r: Reader): ErrorResponse {
  expectStructureSize(r, 9, 'ERROR');
  const errorContextCount = r.u8();
  r.skip(1); // Reserved
  const byteCount = r.u32();
  const data = r.bytes(byteCount);
  return { errorContextCount, data };
}

export function encodeErrorResponse(w: Writer, m: { errorContextCount?: number; data?: Buffer } = {}): void {
  const data = m.data ?? Buffer.alloc(0);
  w.u16(9);
  w.u8(m.errorContextCount ?? 0);
  w.u8(0);
  w.u32(data.length);
  // ByteCount 0 still carries one byte of ErrorData (MS-SMB2 2.2.2).
  if (data.length === 0) w.u8(0);
  else w.bytes(data);
}
