import type { Reader } from '../../../util/reader.js';
import type { Writer } from '../../../util/writer.js';
import { expectStructureSize } from './common.js';

/** SMB2 CANCEL request (MS-SMB2 2.2.30): StructureSize 4 and a reserved u16. There is no CANCEL response. */
export type CancelRequest = Record<string, never>;

export function decodeCancelRequest(r: Reader): CancelRequest {
  expectStructureSize(r, 4, 'CANCEL');
  r.skip(2); // Reserved
  return {};
}

export function encodeCancelRequest(w: Writer, _m: CancelRequest = {}): void {
  w.u16(4).u16(0);
}
