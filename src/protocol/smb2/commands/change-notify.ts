import type { Reader } from '../../../util/reader.js';
import type { Writer } from '../../../util/writer.js';
import { expectStructureSize } from './common.js';
import { decodeFileId, encodeFileId, type FileId } from './file-id.js';
import { decodeOutputBufferResponse, encodeOutputBufferResponse, type OutputBufferResponse } from './output-buffer.js';

/** CompletionFilter bits (MS-SMB2 2.2.35). */
export const CompletionFilter = {
  FILE_NAME: 0x00000001,
  DIR_NAME: 0x00000002,
  ATTRIBUTES: 0x00000004,
  SIZE: 0x00000008,
  LAST_WRITE: 0x00000010,
  LAST_ACCESS: 0x00000020,
  CREATION: 0x00000040,
  EA: 0x00000080,
  SECURITY: 0x00000100,
  STREAM_NAME: 0x00000200,
  STREAM_SIZE: 0x00000400,
  STREAM_WRITE: 0x00000800,
} as const;

/** SMB2 CHANGE_NOTIFY request (MS-SMB2 2.2.35). */
export interface ChangeNotifyRequest {
  /** SMB2_WATCH_TREE. */
  flags: number;
  outputBufferLength: number;
  fileId: FileId;
  completionFilter: number;
}

/** SMB2 CHANGE_NOTIFY response (MS-SMB2 2.2.36): FILE_NOTIFY_INFORMATION entries (fscc/). */
export type ChangeNotifyResponse = OutputBufferResponse;

export function decodeChangeNotifyRequest(r: Reader): ChangeNotifyRequest {
  expectStructureSize(r, 32, 'CHANGE_NOTIFY');
  const flags = r.u16();
  const outputBufferLength = r.u32();
  const fileId = decodeFileId(r);
  const completionFilter = r.u32();
  r.skip(4); // Reserved
  return { flags, outputBufferLength, fileId, completionFilter };
}

export function encodeChangeNotifyRequest(w: Writer, m: ChangeNotifyRequest): void {
  w.u16(32).u16(m.flags).u32(m.outputBufferLength);
  encodeFileId(w, m.fileId);
  w.u32(m.completionFilter).u32(0);
}

export function decodeChangeNotifyResponse(r: Reader): ChangeNotifyResponse {
  return decodeOutputBufferResponse(r, 'CHANGE_NOTIFY response');
}

export function encodeChangeNotifyResponse(w: Writer, m: ChangeNotifyResponse): void {
  encodeOutputBufferResponse(w, m);
}
