import { WireError } from '../../../errors.js';
import type { Reader } from '../../../util/reader.js';
import type { Writer } from '../../../util/writer.js';
import { Status } from '../../nt-status.js';
import { Dialect } from '../constants.js';
import {
  decodeNegotiateContextList,
  encodeNegotiateContextList,
  type NegotiateContext,
} from '../contexts/negotiate-contexts.js';
import { bufferAt, expectStructureSize, writeBuffer } from './common.js';

/** SMB2 NEGOTIATE request (MS-SMB2 2.2.3). */
export interface NegotiateRequest {
  securityMode: number;
  capabilities: number;
  /** 16 bytes. */
  clientGuid: Buffer;
  dialects: number[];
  /** Present on the wire only when `dialects` includes 3.1.1 (else ClientStartTime, reserved, is sent as 0). */
  negotiateContexts: NegotiateContext[];
}

/** SMB2 NEGOTIATE response (MS-SMB2 2.2.4). */
export interface NegotiateResponse {
  securityMode: number;
  dialectRevision: number;
  /** 16 bytes. */
  serverGuid: Buffer;
  capabilities: number;
  maxTransactSize: number;
  maxReadSize: number;
  maxWriteSize: number;
  systemTime: bigint;
  serverStartTime: bigint;
  securityBuffer: Buffer;
  /** Only when dialectRevision is 3.1.1. */
  negotiateContexts: NegotiateContext[];
}

/** More dialects than any client sends; bounds the loop before it runs. */
export const MAX_DIALECTS = 64;

export function decodeNegotiateRequest(r: Reader): NegotiateRequest {
  expectStructureSize(r, 36, 'NEGOTIATE');
  const dialectCount = r.u16();
  const securityMode = r.u16();
  r.skip(2); // Reserved
  const capabilities = r.u32();
  const clientGuid = r.bytes(16);
  const contextOffset = r.u32();
  const contextCount = r.u16();
  r.skip(2); // Reserved2
  if (dialectCount > MAX_DIALECTS || dialectCount * 2 > r.remaining) {
    throw new WireError('DialectCount exceeds the message', Status.INVALID_PARAMETER);
  }
  const dialects: number[] = [];
  for (let i = 0; i < dialectCount; i++) dialects.push(r.u16());
  // The 8 bytes after ClientGuid are NegotiateContextOffset/Count only when 3.1.1 is offered (MS-SMB2 2.2.3).
  const negotiateContexts = dialects.includes(Dialect.SMB311)
    ? decodeNegotiateContextList(r, contextOffset, contextCount)
    : [];
  return { securityMode, capabilities, clientGuid, dialects, negotiateContexts };
}

export function encodeNegotiateRequest(w: Writer, m: NegotiateRequest): void {
  const with311 = m.dialects.includes(Dialect.SMB311);
  w.u16(36);
  w.u16(m.dialects.length);
  w.u16(m.securityMode);
  w.u16(0);
  w.u32(m.capabilities);
  w.bytes(guid16(m.clientGuid));
  const offsetAt = w.reserveU32();
  w.u16(with311 ? m.negotiateContexts.length : 0);
  w.u16(0);
  for (const d of m.dialects) w.u16(d);
  if (with311 && m.negotiateContexts.length > 0) {
    w.patchU32(offsetAt, encodeNegotiateContextList(w, m.negotiateContexts));
  }
}

export function decodeNegotiateResponse(r: Reader): NegotiateResponse {
  expectStructureSize(r, 65, 'NEGOTIATE response');
  const securityMode = r.u16();
  const dialectRevision = r.u16();
  const contextCount = r.u16();
  const serverGuid = r.bytes(16);
  const capabilities = r.u32();
  const maxTransactSize = r.u32();
  const maxReadSize = r.u32();
  const maxWriteSize = r.u32();
  const systemTime = r.u64();
  const serverStartTime = r.u64();
  const securityBufferOffset = r.u16();
  const securityBufferLength = r.u16();
  const contextOffset = r.u32();
  const securityBuffer = bufferAt(r, securityBufferOffset, securityBufferLength);
  const negotiateContexts =
    dialectRevision === Dialect.SMB311 ? decodeNegotiateContextList(r, contextOffset, contextCount) : [];
  return {
    securityMode,
    dialectRevision,
    serverGuid,
    capabilities,
    maxTransactSize,
    maxReadSize,
    maxWriteSize,
    systemTime,
    serverStartTime,
    securityBuffer,
    negotiateContexts,
  };
}

export function encodeNegotiateResponse(w: Writer, m: NegotiateResponse): void {
  const with311 = m.dialectRevision === Dialect.SMB311;
  w.u16(65);
  w.u16(m.securityMode);
  w.u16(m.dialectRevision);
  w.u16(with311 ? m.negotiateContexts.length : 0);
  w.bytes(guid16(m.serverGuid));
  w.u32(m.capabilities);
  w.u32(m.maxTransactSize);
  w.u32(m.maxReadSize);
  w.u32(m.maxWriteSize);
  w.u64(m.systemTime);
  w.u64(m.serverStartTime);
  const sbOffsetAt = w.reserveU16();
  const sbLengthAt = w.reserveU16();
  const ctxOffsetAt = w.reserveU32();
  writeBuffer(w, m.securityBuffer, sbOffsetAt, 2, sbLengthAt, 2);
  if (m.securityBuffer.length === 0) w.u8(0); // StructureSize 65 counts one byte of Buffer
  if (with311 && m.negotiateContexts.length > 0) {
    w.patchU32(ctxOffsetAt, encodeNegotiateContextList(w, m.negotiateContexts));
  }
}

function guid16(b: Buffer): Buffer {
  if (b.length !== 16) throw new RangeError('GUID must be 16 bytes');
  return b;
}
