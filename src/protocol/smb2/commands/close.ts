import type { Reader } from '../../../util/reader.js';
import type { Writer } from '../../../util/writer.js';
import { expectStructureSize } from './common.js';
import { readNetworkOpenFacts, writeNetworkOpenFacts, type NetworkOpenFacts } from '../fscc/file-info.js';
import { decodeFileId, encodeFileId, type FileId } from './file-id.js';

/** SMB2 CLOSE request (MS-SMB2 2.2.15). */
export interface CloseRequest {
  /** SMB2_CLOSE_FLAG_POSTQUERY_ATTRIB. */
  flags: number;
  fileId: FileId;
}

/** SMB2 CLOSE response (MS-SMB2 2.2.16); the attributes are zero unless POSTQUERY_ATTRIB was asked. */
export interface CloseResponse extends NetworkOpenFacts {
  flags: number;
}

export function decodeCloseRequest(r: Reader): CloseRequest {
  expectStructureSize(r, 24, 'CLOSE');
  const flags = r.u16();
  r.skip(4); // Reserved
  return { flags, fileId: decodeFileId(r) };
}

export function encodeCloseRequest(w: Writer, m: CloseRequest): void {
  w.u16(24).u16(m.flags).u32(0);
  encodeFileId(w, m.fileId);
}

export function decodeCloseResponse(r: Reader): CloseResponse {
  expectStructureSize(r, 60, 'CLOSE response');
  const flags = r.u16();
  r.skip(4); // Reserved
  return { flags, ...readNetworkOpenFacts(r) };
}

export function encodeCloseResponse(w: Writer, m: CloseResponse): void {
  w.u16(60).u16(m.flags).u32(0);
  writeNetworkOpenFacts(w, m);
}
