import type { Reader } from '../../../util/reader.js';
import type { Writer } from '../../../util/writer.js';
import { bufferAt, expectStructureSize, writeBuffer } from './common.js';
import { decodeFileId, encodeFileId, type FileId } from './file-id.js';

/** SMB2 IOCTL request (MS-SMB2 2.2.31). FSCTL payloads are decoded in fscc/. */
export interface IoctlRequest {
  ctlCode: number;
  fileId: FileId;
  input: Buffer;
  maxInputResponse: number;
  /** OutputCount on the wire: output data the client sends (normally empty). */
  output: Buffer;
  maxOutputResponse: number;
  /** SMB2_0_IOCTL_IS_FSCTL. */
  flags: number;
}

/** SMB2 IOCTL response (MS-SMB2 2.2.32). */
export interface IoctlResponse {
  ctlCode: number;
  fileId: FileId;
  input: Buffer;
  output: Buffer;
  flags: number;
}

export function decodeIoctlRequest(r: Reader): IoctlRequest {
  expectStructureSize(r, 57, 'IOCTL');
  r.skip(2); // Reserved
  const ctlCode = r.u32();
  const fileId = decodeFileId(r);
  const inputOffset = r.u32();
  const inputCount = r.u32();
  const maxInputResponse = r.u32();
  const outputOffset = r.u32();
  const outputCount = r.u32();
  const maxOutputResponse = r.u32();
  const flags = r.u32();
  r.skip(4); // Reserved2
  const input = bufferAt(r, inputOffset, inputCount);
  const output = bufferAt(r, outputOffset, outputCount);
  return { ctlCode, fileId, input, maxInputResponse, output, maxOutputResponse, flags };
}

export function encodeIoctlRequest(w: Writer, m: IoctlRequest): void {
  w.u16(57);
  w.u16(0);
  w.u32(m.ctlCode);
  encodeFileId(w, m.fileId);
  const inOffsetAt = w.reserveU32();
  const inCountAt = w.reserveU32();
  w.u32(m.maxInputResponse);
  const outOffsetAt = w.reserveU32();
  const outCountAt = w.reserveU32();
  w.u32(m.maxOutputResponse);
  w.u32(m.flags);
  w.u32(0);
  // MS-SMB2 2.2.31: an absent input or output buffer has offset 0.
  writeBuffer(w, m.input, inOffsetAt, 4, inCountAt, 4, 0);
  writeBuffer(w, m.output, outOffsetAt, 4, outCountAt, 4, 0, 8);
}

export function decodeIoctlResponse(r: Reader): IoctlResponse {
  expectStructureSize(r, 49, 'IOCTL response');
  r.skip(2); // Reserved
  const ctlCode = r.u32();
  const fileId = decodeFileId(r);
  const inputOffset = r.u32();
  const inputCount = r.u32();
  const outputOffset = r.u32();
  const outputCount = r.u32();
  const flags = r.u32();
  r.skip(4); // Reserved2
  const input = bufferAt(r, inputOffset, inputCount);
  const output = bufferAt(r, outputOffset, outputCount);
  return { ctlCode, fileId, input, output, flags };
}

export function encodeIoctlResponse(w: Writer, m: IoctlResponse): void {
  w.u16(49);
  w.u16(0);
  w.u32(m.ctlCode);
  encodeFileId(w, m.fileId);
  const inOffsetAt = w.reserveU32();
  const inCountAt = w.reserveU32();
  const outOffsetAt = w.reserveU32();
  const outCountAt = w.reserveU32();
  w.u32(m.flags);
  w.u32(0);
  writeBuffer(w, m.input, inOffsetAt, 4, inCountAt, 4);
  // MS-SMB2 3.3.5.15: OutputOffset is 8-byte aligned after the input.
  writeBuffer(w, m.output, outOffsetAt, 4, outCountAt, 4, undefined, 8);
}
