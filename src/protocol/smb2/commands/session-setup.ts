import type { Reader } from '../../../util/reader.js';
import type { Writer } from '../../../util/writer.js';
import { bufferAt, expectStructureSize, padBody, writeBuffer } from './common.js';

/** SMB2 SESSION_SETUP request (MS-SMB2 2.2.5). */
export interface SessionSetupRequest {
  /** SMB2_SESSION_FLAG_BINDING (3.x). */
  flags: number;
  securityMode: number;
  capabilities: number;
  channel: number;
  previousSessionId: bigint;
  securityBuffer: Buffer;
}

/** SMB2 SESSION_SETUP response (MS-SMB2 2.2.6). */
export interface SessionSetupResponse {
  sessionFlags: number;
  securityBuffer: Buffer;
}

export function decodeSessionSetupRequest(r: Reader): SessionSetupRequest {
  expectStructureSize(r, 25, 'SESSION_SETUP');
  const flags = r.u8();
  const securityMode = r.u8();
  const capabilities = r.u32();
  const channel = r.u32();
  const offset = r.u16();
  const length = r.u16();
  const previousSessionId = r.u64();
  const securityBuffer = bufferAt(r, offset, length);
  return { flags, securityMode, capabilities, channel, previousSessionId, securityBuffer };
}

export function encodeSessionSetupRequest(w: Writer, m: SessionSetupRequest): void {
  const start = w.pos;
  w.u16(25);
  w.u8(m.flags);
  w.u8(m.securityMode);
  w.u32(m.capabilities);
  w.u32(m.channel);
  const offsetAt = w.reserveU16();
  const lengthAt = w.reserveU16();
  w.u64(m.previousSessionId);
  writeBuffer(w, m.securityBuffer, offsetAt, 2, lengthAt, 2);
  padBody(w, start, 25);
}

export function decodeSessionSetupResponse(r: Reader): SessionSetupResponse {
  expectStructureSize(r, 9, 'SESSION_SETUP response');
  const sessionFlags = r.u16();
  const offset = r.u16();
  const length = r.u16();
  return { sessionFlags, securityBuffer: bufferAt(r, offset, length) };
}

export function encodeSessionSetupResponse(w: Writer, m: SessionSetupResponse): void {
  const start = w.pos;
  w.u16(9);
  w.u16(m.sessionFlags);
  const offsetAt = w.reserveU16();
  const lengthAt = w.reserveU16();
  writeBuffer(w, m.securityBuffer, offsetAt, 2, lengthAt, 2);
  padBody(w, start, 9);
}
