import type { Reader } from '../../../util/reader.js';
import type { Writer } from '../../../util/writer.js';
import { bufferAt, expectStructureSize, padBody, writeBuffer } from './common.js';
import { decodeFileId, encodeFileId, type FileId } from './file-id.js';

/** SMB2 WRITE request (MS-SMB2 2.2.21). */
export interface WriteRequest {
  offset: bigint;
  fileId: FileId;
  channel: number;
  remainingBytes: number;
  flags: number;
  /** The payload: a view of the received frame, never a copy. */
  data: Buffer;
  writeChannelInfo: Buffer;
}

/** SMB2 WRITE response (MS-SMB2 2.2.22). */
export interface WriteResponse {
  count: number;
  remaining: number;
}

export function decodeWriteRequest(r: Reader): WriteRequest {
  expectStructureSize(r, 49, 'WRITE');
  const dataOffset = r.u16();
  const length = r.u32();
  const offset = r.u64();
  const fileId = decodeFileId(r);
  const channel = r.u32();
  const remainingBytes = r.u32();
  const infoOffset = r.u16();
  const infoLength = r.u16();
  const flags = r.u32();
  const data = bufferAt(r, dataOffset, length);
  const writeChannelInfo = bufferAt(r, infoOffset, infoLength);
  return { offset, fileId, channel, remainingBytes, flags, data, writeChannelInfo };
}

export function encodeWriteRequest(w: Writer, m: WriteRequest): void {
  const start = w.pos;
  w.u16(49);
  const dataOffsetAt = w.reserveU16();
  const lengthAt = w.reserveU32();
  w.u64(m.offset);
  encodeFileId(w, m.fileId);
  w.u32(m.channel);
  w.u32(m.remainingBytes);
  const infoOffsetAt = w.reserveU16();
  const infoLengthAt = w.reserveU16();
  w.u32(m.flags);
  // DataOffset is 0x70 (right after the fixed part) even for a zero-length write.
  w.patchU16(dataOffsetAt, w.offset);
  w.patchU32(lengthAt, m.data.length);
  w.bytes(m.data);
  writeBuffer(w, m.writeChannelInfo, infoOffsetAt, 2, infoLengthAt, 2, 0);
  padBody(w, start, 49);
}

/** The 48 fixed bytes of a WRITE request whose data the caller sends as a separate chunk (client side, no copy). */
export function encodeWriteRequestHeader(w: Writer, m: Omit<WriteRequest, 'data' | 'writeChannelInfo'> & { dataLength: number }): void {
  w.u16(49);
  w.u16(0x70);
  w.u32(m.dataLength);
  w.u64(m.offset);
  encodeFileId(w, m.fileId);
  w.u32(m.channel);
  w.u32(m.remainingBytes);
  w.u16(0).u16(0);
  w.u32(m.flags);
}

export function decodeWriteResponse(r: Reader): WriteResponse {
  expectStructureSize(r, 17, 'WRITE response');
  r.skip(2); // Reserved
  const count = r.u32();
  const remaining = r.u32();
  r.skip(4); // WriteChannelInfoOffset/Length, unused
  return { count, remaining };
}

export function encodeWriteResponse(w: Writer, m: WriteResponse): void {
  w.u16(17).u16(0).u32(m.count).u32(m.remaining).u16(0).u16(0);
}
