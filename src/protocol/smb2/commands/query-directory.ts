import type { Reader } from '../../../util/reader.js';
import type { Writer } from '../../../util/writer.js';
import { expectStructureSize, padBody, utf16At, writeBuffer } from './common.js';
import { decodeFileId, encodeFileId, type FileId } from './file-id.js';
import { decodeOutputBufferResponse, encodeOutputBufferResponse, type OutputBufferResponse } from './output-buffer.js';

/** SMB2 QUERY_DIRECTORY request (MS-SMB2 2.2.33). */
export interface QueryDirectoryRequest {
  fileInformationClass: number;
  flags: number;
  fileIndex: number;
  fileId: FileId;
  /** Search pattern ('*' for all); may be empty. */
  fileName: string;
  outputBufferLength: number;
}

/** SMB2 QUERY_DIRECTORY response (MS-SMB2 2.2.34): the entries in the information class's format (fscc/). */
export type QueryDirectoryResponse = OutputBufferResponse;

export function decodeQueryDirectoryRequest(r: Reader): QueryDirectoryRequest {
  expectStructureSize(r, 33, 'QUERY_DIRECTORY');
  const fileInformationClass = r.u8();
  const flags = r.u8();
  const fileIndex = r.u32();
  const fileId = decodeFileId(r);
  const nameOffset = r.u16();
  const nameLength = r.u16();
  const outputBufferLength = r.u32();
  const fileName = utf16At(r, nameOffset, nameLength);
  return { fileInformationClass, flags, fileIndex, fileId, fileName, outputBufferLength };
}

export function encodeQueryDirectoryRequest(w: Writer, m: QueryDirectoryRequest): void {
  const start = w.pos;
  w.u16(33);
  w.u8(m.fileInformationClass);
  w.u8(m.flags);
  w.u32(m.fileIndex);
  encodeFileId(w, m.fileId);
  const offsetAt = w.reserveU16();
  const lengthAt = w.reserveU16();
  w.u32(m.outputBufferLength);
  writeBuffer(w, Buffer.from(m.fileName, 'utf16le'), offsetAt, 2, lengthAt, 2);
  padBody(w, start, 33);
}

export function decodeQueryDirectoryResponse(r: Reader): QueryDirectoryResponse {
  return decodeOutputBufferResponse(r, 'QUERY_DIRECTORY response');
}

export function encodeQueryDirectoryResponse(w: Writer, m: QueryDirectoryResponse): void {
  encodeOutputBufferResponse(w, m);
}
