import type { Reader } from '../../../util/reader.js';
import type { Writer } from '../../../util/writer.js';
import { expectStructureSize } from './common.js';

/** SMB2 LOGOFF request and response (MS-SMB2 2.2.7/2.2.8): StructureSize 4 and a reserved u16. */
export type LogoffRequest = Record<string, never>;
export type LogoffResponse = Record<string, never>;

export function decodeLogoffRequest(r: Reader): LogoffRequest {
  expectStructureSize(r, 4, 'LOGOFF');
  r.skip(2); // Reserved
  return {};
}

export function encodeLogoffRequest(w: Writer, _m: LogoffRequest = {}): void {
  w.u16(4).u16(0);
}

export function decodeLogoffResponse(r: Reader): LogoffResponse {
  expectStructureSize(r, 4, 'LOGOFF response');
  r.skip(2); // Reserved
  return {};
}

export function encodeLogoffResponse(w: Writer, _m: LogoffResponse = {}): void {
  w.u16(4).u16(0);
}
