import { WireError } from '../errors.js';
import { Reader } from '../util/reader.js';

/**
 * Stream framing. Direct TCP (port 445, MS-SMB2 2.1): every message is preceded by a 4-byte header, a zero byte
 * and a 24-bit big-endian length. NetBIOS session service (port 139, RFC 1002 4.3): the first byte is a packet
 * type, the second holds flags whose low bit (E) extends the length to 17 bits, then a 16-bit big-endian length.
 */

/** NetBIOS session service packet types (RFC 1002 4.3.1). */
export const NetbiosPacketType = {
  SESSION_MESSAGE: 0x00,
  SESSION_REQUEST: 0x81,
  POSITIVE_SESSION_RESPONSE: 0x82,
  NEGATIVE_SESSION_RESPONSE: 0x83,
  RETARGET_SESSION_RESPONSE: 0x84,
  SESSION_KEEP_ALIVE: 0x85,
} as const;

/** NEGATIVE SESSION RESPONSE error codes (RFC 1002 4.3.4). */
export const NetbiosNegativeCode = {
  NOT_LISTENING_ON_CALLED_NAME: 0x80,
  NOT_LISTENING_FOR_CALLING_NAME: 0x81,
  CALLED_NAME_NOT_PRESENT: 0x82,
  CALLED_NAME_PRESENT_INSUFFICIENT_RESOURCES: 0x83,
  UNSPECIFIED_ERROR: 0x8f,
} as const;

export type FrameKind =
  | 'message'
  | 'session-request'
  | 'positive-response'
  | 'negative-response'
  | 'retarget'
  | 'keep-alive';

const KIND_BY_TYPE: ReadonlyMap<number, FrameKind> = new Map<number, FrameKind>([
  [NetbiosPacketType.SESSION_MESSAGE, 'message'],
  [NetbiosPacketType.SESSION_REQUEST, 'session-request'],
  [NetbiosPacketType.POSITIVE_SESSION_RESPONSE, 'positive-response'],
  [NetbiosPacketType.NEGATIVE_SESSION_RESPONSE, 'negative-response'],
  [NetbiosPacketType.RETARGET_SESSION_RESPONSE, 'retarget'],
  [NetbiosPacketType.SESSION_KEEP_ALIVE, 'keep-alive'],
]);

/** One frame taken off the stream: its packet type, kind and payload (a view when it lay in one chunk). */
export interface Frame {
  type: number;
  kind: FrameKind;
  payload: Buffer;
}

export interface FrameAccumulatorOptions {
  /** Largest payload accepted; a larger length throws WireError as soon as its header arrives. */
  maxFrameSize?: number;
  /** Allocates the buffer of a frame that spans chunks (a pool, to avoid fresh large allocations). */
  alloc?: (size: number) => Buffer;
  /** NetBIOS session service framing (port 139): typed packets and 17-bit lengths. Default: direct TCP. */
  netbios?: boolean;
}

/** Default cap: 8 MiB of payload plus room for headers (a LARGE_MTU read/write of 8 MiB with its SMB2 header). */
export const DEFAULT_MAX_FRAME_SIZE = 8 * 1024 * 1024 + 4096;
/** The largest length a direct-TCP header can carry. */
export const MAX_DIRECT_TCP_LENGTH = 0xffffff;
const NETBIOS_MAX_LENGTH = 0x1ffff;

/**
 * The 4-byte frame header: direct TCP (a zero byte, then a 24-bit length) or NetBIOS session service (type,
 * flags, 16-bit length; E flag extends to 17 bits). Throws WireError on a header the framing forbids.
 */
export function parseFrameHeader(b0: number, b1: number, b2: number, b3: number, netbios: boolean): { type: number; length: number } {
  if (netbios) {
    const type = b0;
    if (!KIND_BY_TYPE.has(type)) throw new WireError(`unknown NetBIOS session packet type 0x${type.toString(16)}`);
    if (type === NetbiosPacketType.SESSION_MESSAGE) {
      // SMB2 over NetBIOS uses the whole 24 bits for session messages (MS-SMB2 2.1), as Windows and Samba do.
      return { type, length: (b1 << 16) | (b2 << 8) | b3 };
    }
    if ((b1 & 0xfe) !== 0) throw new WireError('NetBIOS session packet flags reserved bits set');
    return { type, length: ((b1 & 1) << 16) | (b2 << 8) | b3 };
  }
  // MS-SMB2 2.1: the first byte is zero.
  if (b0 !== 0) throw new WireError(`direct TCP frame starts with 0x${b0.toString(16)}, not 0`);
  return { type: NetbiosPacketType.SESSION_MESSAGE, length: (b1 << 16) | (b2 << 8) | b3 };
}

/**
 * Collects received chunks and yields whole frames. Chunks are kept in a list (never concatenated on each push);
 * a frame that lies in one chunk is returned as a view, one that spans chunks is copied once.
 */
export class FrameAccumulator {
  private readonly chunks: Buffer[] = [];
  /** Read position inside chunks[0]. */
  private head = 0;
  /** Unconsumed bytes over all chunks. */
  private buffered = 0;
  private readonly maxFrameSize: number;
  private readonly netbios: boolean;
  private readonly alloc: (size: number) => Buffer;
  /** The kind of the frame last returned by next(). */
  kind: FrameKind = 'message';
  /** The packet type of the frame last returned by next(). */
  type = 0;

  constructor(options: FrameAccumulatorOptions = {}) {
    this.maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    this.netbios = options.netbios ?? false;
    this.alloc = options.alloc ?? Buffer.allocUnsafe;
  }

  /** Bytes received but not yet returned as frames. */
  get pending(): number {
    return this.buffered;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /** The next frame's payload, or undefined until one is complete; `kind` and `type` describe it. */
  next(): Buffer | undefined {
    const f = this.nextFrame();
    if (f === undefined) return undefined;
    this.kind = f.kind;
    this.type = f.type;
    return f.payload;
  }

  /** The next whole frame with its type, or undefined until one is complete. Throws WireError on a bad header. */
  nextFrame(): Frame | undefined {
    if (this.buffered < 4) return undefined;
    const b0 = this.peekByte(0);
    const b1 = this.peekByte(1);
    const b2 = this.peekByte(2);
    const b3 = this.peekByte(3);
    const { type, length } = parseFrameHeader(b0, b1, b2, b3, this.netbios);
    if (length > this.maxFrameSize) throw new WireError(`frame of ${length} bytes exceeds the limit ${this.maxFrameSize}`);
    if (this.buffered < 4 + length) return undefined;
    this.consume(4);
    const payload = this.take(length);
    return { type, kind: KIND_BY_TYPE.get(type) ?? 'message', payload };
  }

  private peekByte(i: number): number {
    let idx = this.head + i;
    for (const c of this.chunks) {
      if (idx < c.length) return c[idx]!;
      idx -= c.length;
    }
    throw new Error('peek past buffered data');
  }

  private consume(n: number): void {
    this.buffered -= n;
    while (n > 0) {
      const first = this.chunks[0]!;
      const avail = first.length - this.head;
      if (n < avail) {
        this.head += n;
        return;
      }
      n -= avail;
      this.chunks.shift();
      this.head = 0;
    }
  }

  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0]!;
    if (first.length - this.head >= n) {
      const view = first.subarray(this.head, this.head + n);
      this.consume(n);
      return view;
    }
    const out = this.alloc(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0]!;
      const count = Math.min(c.length - this.head, n - filled);
      c.copy(out, filled, this.head, this.head + count);
      filled += count;
      this.consume(count);
    }
    return out;
  }
}

/** The 4-byte direct-TCP header for a message of `length` bytes (MS-SMB2 2.1). */
export function frameHeader(length: number): Buffer {
  if (!Number.isInteger(length) || length < 0 || length > MAX_DIRECT_TCP_LENGTH) {
    throw new RangeError(`frame length ${length} out of range`);
  }
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(length, 0);
  return b;
}

/** The 4-byte NetBIOS session service header for a packet of `type` carrying `length` bytes (RFC 1002 4.3.1). */
export function netbiosHeader(type: number, length: number): Buffer {
  if (!Number.isInteger(length) || length < 0 || length > NETBIOS_MAX_LENGTH) {
    throw new RangeError(`NetBIOS length ${length} out of range`);
  }
  const b = Buffer.allocUnsafe(4);
  b[0] = type;
  b[1] = length > 0xffff ? 1 : 0;
  b.writeUInt16BE(length & 0xffff, 2);
  return b;
}

/** A whole NetBIOS session packet (header + payload). */
export function netbiosPacket(type: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([netbiosHeader(type, payload.length), payload]);
}

export interface NetbiosName {
  /** Up to 15 characters; stored upper-case by convention but kept as given. */
  name: string;
  /** The 16th byte: 0x20 file server service, 0x00 workstation. */
  suffix: number;
  /** Scope id (dot-separated labels), '' for none. */
  scope: string;
}

/** First-level encoding of a NetBIOS name (RFC 1001 14.1), as the length-prefixed label sequence of RFC 1002 4.1. */
export function encodeNetbiosName(n: NetbiosName): Buffer {
  const raw = Buffer.alloc(16, 0x20);
  const nameBytes = Buffer.from(n.name, 'latin1');
  if (nameBytes.length > 15) throw new RangeError('NetBIOS name longer than 15 bytes');
  nameBytes.copy(raw, 0);
  raw[15] = n.suffix & 0xff;
  const parts: Buffer[] = [Buffer.from([32])];
  const enc = Buffer.allocUnsafe(32);
  for (let i = 0; i < 16; i++) {
    enc[2 * i] = 0x41 + (raw[i]! >> 4);
    enc[2 * i + 1] = 0x41 + (raw[i]! & 0x0f);
  }
  parts.push(enc);
  if (n.scope !== '') {
    for (const label of n.scope.split('.')) {
      const lb = Buffer.from(label, 'latin1');
      if (lb.length === 0 || lb.length > 63) throw new RangeError('bad NetBIOS scope label');
      parts.push(Buffer.from([lb.length]), lb);
    }
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

/** Decodes a first-level encoded NetBIOS name at r.pos; trailing spaces of the 15-byte name are removed. */
export function decodeNetbiosName(r: Reader): NetbiosName {
  const len = r.u8();
  if (len !== 32) throw new WireError('NetBIOS name label is not 32 bytes');
  const enc = r.bytes(32);
  const raw = Buffer.allocUnsafe(16);
  for (let i = 0; i < 16; i++) {
    const hi = enc[2 * i]! - 0x41;
    const lo = enc[2 * i + 1]! - 0x41;
    if (hi < 0 || hi > 15 || lo < 0 || lo > 15) throw new WireError('bad NetBIOS name encoding');
    raw[i] = (hi << 4) | lo;
  }
  const labels: string[] = [];
  let total = 33;
  for (;;) {
    const l = r.u8();
    total += 1;
    if (l === 0) break;
    if (l > 63) throw new WireError('bad NetBIOS scope label length');
    total += l;
    if (total > 255) throw new WireError('NetBIOS name too long');
    labels.push(r.bytes(l).toString('latin1'));
  }
  return { name: raw.subarray(0, 15).toString('latin1').replace(/ +$/, ''), suffix: raw[15]!, scope: labels.join('.') };
}

export interface NetbiosSessionRequest {
  called: NetbiosName;
  calling: NetbiosName;
}

/** SESSION REQUEST payload (RFC 1002 4.3.2): called name then calling name. */
export function decodeNetbiosSessionRequest(payload: Buffer): NetbiosSessionRequest {
  const r = new Reader(payload);
  const called = decodeNetbiosName(r);
  const calling = decodeNetbiosName(r);
  return { called, calling };
}

export function encodeNetbiosSessionRequest(m: NetbiosSessionRequest): Buffer {
  return netbiosPacket(
    NetbiosPacketType.SESSION_REQUEST,
    Buffer.concat([encodeNetbiosName(m.called), encodeNetbiosName(m.calling)]),
  );
}

export function encodePositiveSessionResponse(): Buffer {
  return netbiosHeader(NetbiosPacketType.POSITIVE_SESSION_RESPONSE, 0);
}

export function encodeNegativeSessionResponse(code: number): Buffer {
  return netbiosPacket(NetbiosPacketType.NEGATIVE_SESSION_RESPONSE, Buffer.from([code & 0xff]));
}

/** The error code of a NEGATIVE SESSION RESPONSE payload. */
export function decodeNegativeSessionResponse(payload: Buffer): number {
  return new Reader(payload).u8();
}

export interface NetbiosRetarget {
  /** IPv4 address in dotted form. */
  ip: string;
  port: number;
}

export function encodeRetargetSessionResponse(m: NetbiosRetarget): Buffer {
  const parts = m.ip.split('.').map((p) => Number(p));
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new RangeError(`not an IPv4 address: ${m.ip}`);
  }
  const payload = Buffer.allocUnsafe(6);
  for (let i = 0; i < 4; i++) payload[i] = parts[i]!;
  payload.writeUInt16BE(m.port, 4);
  return netbiosPacket(NetbiosPacketType.RETARGET_SESSION_RESPONSE, payload);
}

export function decodeRetargetSessionResponse(payload: Buffer): NetbiosRetarget {
  const r = new Reader(payload);
  const ip = [r.u8(), r.u8(), r.u8(), r.u8()].join('.');
  return { ip, port: r.u16be() };
}

export function encodeKeepAlive(): Buffer {
  return netbiosHeader(NetbiosPacketType.SESSION_KEEP_ALIVE, 0);
}
