import { WireError } from '../../../errors.js';
import { Reader } from '../../../util/reader.js';
import type { Writer } from '../../../util/writer.js';
import { Status } from '../../nt-status.js';
import { NegotiateContextType } from '../constants.js';

/** SMB 3.1.1 negotiate contexts (MS-SMB2 2.2.3.1 and 2.2.4.1), both directions. */

export interface PreauthIntegrityContext {
  kind: 'preauthIntegrity';
  hashAlgorithms: number[];
  salt: Buffer;
}
export interface EncryptionContext {
  kind: 'encryption';
  ciphers: number[];
}
export interface CompressionContext {
  kind: 'compression';
  flags: number;
  compressionAlgorithms: number[];
}
export interface NetnameContext {
  kind: 'netname';
  netName: string;
}
export interface TransportContext {
  kind: 'transport';
  flags: number;
}
export interface RdmaTransformContext {
  kind: 'rdmaTransform';
  transformIds: number[];
}
export interface SigningContext {
  kind: 'signing';
  signingAlgorithms: number[];
}
/** A context type we do not interpret, kept as its raw data. */
export interface UnknownNegotiateContext {
  kind: 'unknown';
  type: number;
  data: Buffer;
}
export type NegotiateContext =
  | PreauthIntegrityContext
  | EncryptionContext
  | CompressionContext
  | NetnameContext
  | TransportContext
  | RdmaTransformContext
  | SigningContext
  | UnknownNegotiateContext;

export const CompressionCapabilitiesFlags = { NONE: 0, CHAINED: 1 } as const;
export const CompressionAlgorithm = { NONE: 0, LZNT1: 1, LZ77: 2, LZ77_HUFFMAN: 3, PATTERN_V1: 4, LZ4: 5 } as const;
export const TransportCapabilitiesFlags = { ACCEPT_TRANSPORT_LEVEL_SECURITY: 1 } as const;

/** The largest number of contexts we accept in one message (Windows sends at most a handful). */
export const MAX_NEGOTIATE_CONTEXTS = 64;

export function negotiateContextType(c: NegotiateContext): number {
  switch (c.kind) {
    case 'preauthIntegrity':
      return NegotiateContextType.PREAUTH_INTEGRITY_CAPABILITIES;
    case 'encryption':
      return NegotiateContextType.ENCRYPTION_CAPABILITIES;
    case 'compression':
      return NegotiateContextType.COMPRESSION_CAPABILITIES;
    case 'netname':
      return NegotiateContextType.NETNAME_NEGOTIATE_CONTEXT_ID;
    case 'transport':
      return NegotiateContextType.TRANSPORT_CAPABILITIES;
    case 'rdmaTransform':
      return NegotiateContextType.RDMA_TRANSFORM_CAPABILITIES;
    case 'signing':
      return NegotiateContextType.SIGNING_CAPABILITIES;
    case 'unknown':
      return c.type;
  }
}

function u16List(r: Reader, count: number): number[] {
  if (count * 2 > r.remaining) throw new WireError('negotiate context count exceeds its data', Status.INVALID_PARAMETER);
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(r.u16());
  return out;
}

/** Decodes one context's data (the bytes after its 8-byte header). */
export function decodeNegotiateContextData(type: number, data: Buffer): NegotiateContext {
  const r = new Reader(data);
  switch (type) {
    case NegotiateContextType.PREAUTH_INTEGRITY_CAPABILITIES: {
      const count = r.u16();
      const saltLength = r.u16();
      const hashAlgorithms = u16List(r, count);
      const salt = r.bytes(saltLength);
      return { kind: 'preauthIntegrity', hashAlgorithms, salt };
    }
    case NegotiateContextType.ENCRYPTION_CAPABILITIES: {
      const count = r.u16();
      return { kind: 'encryption', ciphers: u16List(r, count) };
    }
    case NegotiateContextType.COMPRESSION_CAPABILITIES: {
      const count = r.u16();
      r.skip(2); // Padding
      const flags = r.u32();
      return { kind: 'compression', flags, compressionAlgorithms: u16List(r, count) };
    }
    case NegotiateContextType.NETNAME_NEGOTIATE_CONTEXT_ID:
      return { kind: 'netname', netName: r.utf16(data.length) };
    case NegotiateContextType.TRANSPORT_CAPABILITIES:
      return { kind: 'transport', flags: r.u32() };
    case NegotiateContextType.RDMA_TRANSFORM_CAPABILITIES: {
      const count = r.u16();
      r.skip(6); // Reserved1, Reserved2
      return { kind: 'rdmaTransform', transformIds: u16List(r, count) };
    }
    case NegotiateContextType.SIGNING_CAPABILITIES: {
      const count = r.u16();
      return { kind: 'signing', signingAlgorithms: u16List(r, count) };
    }
    default:
      return { kind: 'unknown', type, data };
  }
}

export function encodeNegotiateContextData(w: Writer, c: NegotiateContext): void {
  switch (c.kind) {
    case 'preauthIntegrity':
      w.u16(c.hashAlgorithms.length).u16(c.salt.length);
      for (const a of c.hashAlgorithms) w.u16(a);
      w.bytes(c.salt);
      return;
    case 'encryption':
      w.u16(c.ciphers.length);
      for (const a of c.ciphers) w.u16(a);
      return;
    case 'compression':
      w.u16(c.compressionAlgorithms.length).u16(0).u32(c.flags);
      for (const a of c.compressionAlgorithms) w.u16(a);
      return;
    case 'netname':
      w.utf16(c.netName);
      return;
    case 'transport':
      w.u32(c.flags);
      return;
    case 'rdmaTransform':
      w.u16(c.transformIds.length).u16(0).u32(0);
      for (const a of c.transformIds) w.u16(a);
      return;
    case 'signing':
      w.u16(c.signingAlgorithms.length);
      for (const a of c.signingAlgorithms) w.u16(a);
      return;
    case 'unknown':
      w.bytes(c.data);
      return;
  }
}

/**
 * Decodes `count` contexts starting at header-relative `offset`; each starts 8-byte aligned (from the header)
 * and must lie inside the message.
 */
export function decodeNegotiateContextList(r: Reader, offset: number, count: number): NegotiateContext[] {
  if (count === 0) return [];
  if (count > MAX_NEGOTIATE_CONTEXTS) throw new WireError('too many negotiate contexts', Status.INVALID_PARAMETER);
  if (offset % 8 !== 0) throw new WireError('NegotiateContextOffset not 8-byte aligned', Status.INVALID_PARAMETER);
  // Each context needs at least its 8-byte header: reject counts the message cannot hold before looping.
  if (r.base + offset + count * 8 > r.end) {
    throw new WireError('negotiate context count exceeds the message', Status.INVALID_PARAMETER);
  }
  const out: NegotiateContext[] = [];
  let pos = offset;
  for (let i = 0; i < count; i++) {
    if (i > 0) pos += (8 - (pos % 8)) % 8;
    const h = r.subAt(pos, 8);
    const type = h.u16();
    const dataLength = h.u16();
    const data = r.at(pos + 8, dataLength);
    out.push(decodeNegotiateContextData(type, data));
    pos += 8 + dataLength;
  }
  return out;
}

/** Writes the contexts at the current position (aligned to 8 first); returns the header-relative offset of the first. */
export function encodeNegotiateContextList(w: Writer, contexts: readonly NegotiateContext[]): number {
  w.align(8);
  const first = w.offset;
  contexts.forEach((c, i) => {
    if (i > 0) w.align(8);
    w.u16(negotiateContextType(c));
    const lengthAt = w.reserveU16();
    w.u32(0); // Reserved
    const start = w.pos;
    encodeNegotiateContextData(w, c);
    const len = w.pos - start;
    if (len > 0xffff) throw new RangeError('negotiate context too large');
    w.patchU16(lengthAt, len);
  });
  return first;
}
