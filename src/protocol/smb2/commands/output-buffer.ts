import type { Reader } from '../../../util/reader.js';
import type { Writer } from '../../../util/writer.js';
import { bufferAt, expectStructureSize, padBody, writeBuffer } from './common.js';

/**
 * The response shape shared by QUERY_DIRECTORY, CHANGE_NOTIFY and QUERY_INFO (MS-SMB2 2.2.34, 2.2.36, 2.2.38):
 * StructureSize 9, OutputBufferOffset u16, OutputBufferLength u32, Buffer.
 */
export interface OutputBufferResponse {
  outputBuffer: Buffer;
}

export function decodeOutputBufferResponse(r: Reader, what: string): OutputBufferResponse {
  expectStructureSize(r, 9, what);
  const offset = r.u16();
  const length = r.u32();
  return { outputBuffer: bufferAt(r, offset, length) };
}

export function encodeOutputBufferResponse(w: Writer, m: OutputBufferResponse): void {
  const start = w.pos;
  w.u16(9);
  const offsetAt = w.reserveU16();
  const lengthAt = w.reserveU32();
  writeBuffer(w, m.outputBuffer, offsetAt, 2, lengthAt, 4);
  padBody(w, start, 9);
}
