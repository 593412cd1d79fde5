import type { Reader } from '../../../util/reader.js';
import type { Writer } from '../../../util/writer.js';
import { bufferAt, expectStructureSize, padBody, writeBuffer } from './common.js';
import { decodeFileId, encodeFileId, type FileId } from './file-id.js';
import { decodeOutputBufferResponse, encodeOutputBufferResponse, type OutputBufferResponse } from './output-buffer.js';

/** QUERY_INFO Flags (MS-SMB2 2.2.37), used with FileFullEaInformation. */
export const QueryInfoFlags = {
  RESTART_SCAN: 0x00000001,
  RETURN_SINGLE_ENTRY: 0x00000002,
  INDEX_SPECIFIED: 0x00000004,
} as const;

/** SMB2 QUERY_INFO request (MS-SMB2 2.2.37). */
export interface QueryInfoRequest {
  infoType: number;
  fileInfoClass: number;
  outputBufferLength: number;
  /** SecurityInformation for SECURITY, else 0. */
  additionalInformation: number;
  flags: number;
  fileId: FileId;
  /** Input for quota queries or FileFullEaInformation (a view). */
  inputBuffer: Buffer;
}

/** SMB2 QUERY_INFO response (MS-SMB2 2.2.38). */
export type QueryInfoResponse = OutputBufferResponse;

export function decodeQueryInfoRequest(r: Reader): QueryInfoRequest {
  expectStructureSize(r, 41, 'QUERY_INFO');
  const infoType = r.u8();
  const fileInfoClass = r.u8();
  const outputBufferLength = r.u32();
  const inputOffset = r.u16();
  r.skip(2); // Reserved
  const inputLength = r.u32();
  const additionalInformation = r.u32();
  const flags = r.u32();
  const fileId = decodeFileId(r);
  const inputBuffer = bufferAt(r, inputOffset, inputLength);
  return { infoType, fileInfoClass, outputBufferLength, additionalInformation, flags, fileId, inputBuffer };
}

export function encodeQueryInfoRequest(w: Writer, m: QueryInfoRequest): void {
  const start = w.pos;
  w.u16(41);
  w.u8(m.infoType);
  w.u8(m.fileInfoClass);
  w.u32(m.outputBufferLength);
  const offsetAt = w.reserveU16();
  w.u16(0);
  const lengthAt = w.reserveU32();
  w.u32(m.additionalInformation);
  w.u32(m.flags);
  encodeFileId(w, m.fileId);
  writeBuffer(w, m.inputBuffer, offsetAt, 2, lengthAt, 4, 0);
  padBody(w, start, 41);
}

export function decodeQueryInfoResponse(r: Reader): QueryInfoResponse {
  return decodeOutputBufferResponse(r, 'QUERY_INFO response');
}

export function encodeQueryInfoResponse(w: Writer, m: QueryInfoResponse): void {
  encodeOutputBufferResponse(w, m);
}
