import type { Reader } from '../../../util/reader.js';
import type { Writer } from '../../../util/writer.js';
import { bufferAt, expectStructureSize, padBody, writeBuffer } from './common.js';
import { decodeFileId, encodeFileId, type FileId } from './file-id.js';

/** SMB2 READ request (MS-SMB2 2.2.19). */
export interface ReadRequest {
  /** Padding: the offset the client would like the data at in the response (a hint). */
  padding: number;
  flags: number;
  length: number;
  offset: bigint;
  fileId: FileId;
  minimumCount: number;
  channel: number;
  remainingBytes: number;
  /** RDMA channel descriptors (a view), empty for the TCP channel. */
  readChannelInfo: Buffer;
}

/** SMB2 READ response (MS-SMB2 2.2.20). */
export interface ReadResponse {
  dataRemaining: number;
  /** 3.1.1 Flags (SMB2_READFLAG_RESPONSE_RDMA_TRANSFORM), else 0. */
  flags: number;
  data: Buffer;
}

/** The DataOffset of a READ response whose data follows the fixed part: 64-byte header + 16 bytes. */
export const READ_RESPONSE_DATA_OFFSET = 0x50;

export function decodeReadRequest(r: Reader): ReadRequest {
  expectStructureSize(r, 49, 'READ');
  const padding = r.u8();
  const flags = r.u8();
  const length = r.u32();
  const offset = r.u64();
  const fileId = decodeFileId(r);
  const minimumCount = r.u32();
  const channel = r.u32();
  const remainingBytes = r.u32();
  const infoOffset = r.u16();
  const infoLength = r.u16();
  const readChannelInfo = bufferAt(r, infoOffset, infoLength);
  return { padding, flags, length, offset, fileId, minimumCount, channel, remainingBytes, readChannelInfo };
}

export function encodeReadRequest(w: Writer, m: ReadRequest): void {
  const start = w.pos;
  w.u16(49);
  w.u8(m.padding);
  w.u8(m.flags);
  w.u32(m.length);
  w.u64(m.offset);
  encodeFileId(w, m.fileId);
  w.u32(m.minimumCount);
  w.u32(m.channel);
  w.u32(m.remainingBytes);
  const offsetAt = w.reserveU16();
  const lengthAt = w.reserveU16();
  writeBuffer(w, m.readChannelInfo, offsetAt, 2, lengthAt, 2, 0);
  padBody(w, start, 49); // StructureSize 49 counts one byte of Buffer
}

export function decodeReadResponse(r: Reader): ReadResponse {
  expectStructureSize(r, 17, 'READ response');
  const dataOffset = r.u8();
  r.skip(1); // Reserved
  const dataLength = r.u32();
  const dataRemaining = r.u32();
  const flags = r.u32();
  return { dataRemaining, flags, data: bufferAt(r, dataOffset, dataLength) };
}

/**
 * Writes only the fixed 16 bytes of a READ response; the caller sends the data as a separate chunk right after
 * (no copy). DataOffset defaults to 0x50, where that chunk lands.
 */
export function encodeReadResponseHeader(
  w: Writer,
  m: { dataLength: number; dataRemaining: number; dataOffset?: number; flags?: number },
): void {
  w.u16(17);
  w.u8(m.dataOffset ?? READ_RESPONSE_DATA_OFFSET);
  w.u8(0);
  w.u32(m.dataLength);
  w.u32(m.dataRemaining);
  w.u32(m.flags ?? 0);
}

/** The whole READ response with the data copied in (for small reads). */
export function encodeReadResponse(w: Writer, m: ReadResponse): void {
  const start = w.pos;
  w.u16(17);
  const offsetAt = w.pos;
  w.u8(0);
  w.u8(0);
  w.u32(m.data.length);
  w.u32(m.dataRemaining);
  w.u32(m.flags);
  const dataOffset = m.data.length === 0 ? 0 : w.offset;
  if (dataOffset > 0xff) throw new RangeError('READ response data offset does not fit a byte');
  w.patchU16(offsetAt, dataOffset);
  w.bytes(m.data);
  padBody(w, start, 17);
}
