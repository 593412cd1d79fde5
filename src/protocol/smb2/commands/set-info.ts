import type { Reader } from '../../../util/reader.js';
import type { Writer } from '../../../util/writer.js';
import { bufferAt, expectStructureSize, padBody, writeBuffer } from './common.js';
import { decodeFileId, encodeFileId, type FileId } from './file-id.js';

/** SMB2 SET_INFO request (MS-SMB2 2.2.39). */
export interface SetInfoRequest {
  infoType: number;
  fileInfoClass: number;
  additionalInformation: number;
  fileId: FileId;
  /** The information-class payload (a view; decoded by fscc/). */
  buffer: Buffer;
}

/** SMB2 SET_INFO response (MS-SMB2 2.2.40): StructureSize 2 only. */
export type SetInfoResponse = Record<string, never>;

export function decodeSetInfoRequest(r: Reader): SetInfoRequest {
  expectStructureSize(r, 33, 'SET_INFO');
  const infoType = r.u8();
  const fileInfoClass = r.u8();
  const bufferLength = r.u32();
  const bufferOffset = r.u16();
  r.skip(2); // Reserved
  const additionalInformation = r.u32();
  const fileId = decodeFileId(r);
  const buffer = bufferAt(r, bufferOffset, bufferLength);
  return { infoType, fileInfoClass, additionalInformation, fileId, buffer };
}

export function encodeSetInfoRequest(w: Writer, m: SetInfoRequest): void {
  const start = w.pos;
  w.u16(33);
  w.u8(m.infoType);
  w.u8(m.fileInfoClass);
  const lengthAt = w.reserveU32();
  const offsetAt = w.reserveU16();
  w.u16(0);
  w.u32(m.additionalInformation);
  encodeFileId(w, m.fileId);
  writeBuffer(w, m.buffer, offsetAt, 2, lengthAt, 4);
  padBody(w, start, 33);
}

export function decodeSetInfoResponse(r: Reader): SetInfoResponse {
  expectStructureSize(r, 2, 'SET_INFO response');
  return {};
}

export function encodeSetInfoResponse(w: Writer, _m: SetInfoResponse = {}): void {
  w.u16(2);
}
