import type { Reader } from '../../../util/reader.js';
import type { Writer } from '../../../util/writer.js';
import { expectStructureSize } from './common.js';

/** SMB2 ECHO request and response (MS-SMB2 2.2.28/2.2.29): StructureSize 4 and a reserved u16. */
export type EchoRequest = Record<string, never>;
export type EchoResponse = Record<string, never>;

export function decodeEchoRequest(r: Reader): EchoRequest {
  expectStructureSize(r, 4, 'ECHO');
  r.skip(2); // Reserved
  return {};
}

export function encodeEchoRequest(w: Writer, _m: EchoRequest = {}): void {
  w.u16(4).u16(0);
}

export function decodeEchoResponse(r: Reader): EchoResponse {
  expectStructureSize(r, 4, 'ECHO response');
  r.skip(2); // Reserved
  return {};
}

export function encodeEchoResponse(w: Writer, _m: EchoResponse = {}): void {
  w.u16(4).u16(0);
}
