import { WireError } from '../../errors.js';
import type { Reader } from '../../util/reader.js';
import type { Writer } from '../../util/writer.js';
import { SMB2_COMPRESSION_MAGIC, SMB2_TRANSFORM_MAGIC } from './constants.js';

/** SMB2 TRANSFORM_HEADER (MS-SMB2 2.2.41): 52 bytes in front of an encrypted message. */
export interface TransformHeader {
  /** 16 bytes: the AEAD tag. */
  signature: Buffer;
  /** 16 bytes: 11 used for CCM, 12 for GCM, the rest zero. */
  nonce: Buffer;
  originalMessageSize: number;
  /** 3.0/3.0.2: EncryptionAlgorithm (1 = AES-128-CCM); 3.1.1: Flags (1 = Encrypted). */
  flags: number;
  sessionId: bigint;
}

export const TRANSFORM_HEADER_SIZE = 52;
/** The authenticated data is the header from Nonce to its end (MS-SMB2 3.1.4.3). */
export const TRANSFORM_AAD_OFFSET = 20;
export const TRANSFORM_SIGNATURE_OFFSET = 4;

export function decodeTransformHeader(r: Reader): TransformHeader {
  if (r.u32be() !== SMB2_TRANSFORM_MAGIC) throw new WireError('not an SMB2 TRANSFORM header');
  const signature = r.bytes(16);
  const nonce = r.bytes(16);
  const originalMessageSize = r.u32();
  r.skip(2); // Reserved
  const flags = r.u16();
  const sessionId = r.u64();
  return { signature, nonce, originalMessageSize, flags, sessionId };
}

export function encodeTransformHeader(w: Writer, h: TransformHeader): void {
  if (h.signature.length !== 16 || h.nonce.length !== 16) throw new RangeError('signature and nonce are 16 bytes');
  w.u32be(SMB2_TRANSFORM_MAGIC);
  w.bytes(h.signature);
  w.bytes(h.nonce);
  w.u32(h.originalMessageSize);
  w.u16(0);
  w.u16(h.flags);
  w.u64(h.sessionId);
}

/** True when the frame starts with 0xFD 'SMB'. */
export function isTransformFrame(frame: Buffer): boolean {
  return frame.length >= 4 && frame.readUInt32BE(0) === SMB2_TRANSFORM_MAGIC;
}

/** True when the frame starts with 0xFC 'SMB' (SMB2 COMPRESSION_TRANSFORM_HEADER, MS-SMB2 2.2.42); not decoded here. */
export function isCompressionTransformFrame(frame: Buffer): boolean {
  return frame.length >= 4 && frame.readUInt32BE(0) === SMB2_COMPRESSION_MAGIC;
}
