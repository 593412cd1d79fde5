import type { Reader } from '../../../util/reader.js';
import type { Writer } from '../../../util/writer.js';
import { expectStructureSize } from './common.js';

/** SMB2 TREE_DISCONNECT request and response (MS-SMB2 2.2.11/2.2.12): StructureSize 4 and a reserved u16. */
export type TreeDisconnectRequest = Record<string, never>;
export type TreeDisconnectResponse = Record<string, never>;

export function decodeTreeDisconnectRequest(r: Reader): TreeDisconnectRequest {
  expectStructureSize(r, 4, 'TREE_DISCONNECT');
  r.skip(2); // Reserved
  return {};
}

export function encodeTreeDisconnectRequest(w: Writer, _m: TreeDisconnectRequest = {}): void {
  w.u16(4).u16(0);
}

export function decodeTreeDisconnectResponse(r: Reader): TreeDisconnectResponse {
  expectStructureSize(r, 4, 'TREE_DISCONNECT response');
  r.skip(2); // Reserved
  return {};
}

export function encodeTreeDisconnectResponse(w: Writer, _m: TreeDisconnectResponse = {}): void {
  w.u16(4).u16(0);
}
