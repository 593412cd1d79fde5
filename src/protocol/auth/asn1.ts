import { WireError } from '../../errors.js';

/**
 * A minimal DER reader/writer: single-byte tags, definite lengths up to 4 length bytes. Enough for SPNEGO
 * (RFC 4178, MS-SPNG). Every element is checked to lie inside its parent; anything else is a WireError.
 */

export const Tag = {
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  OID: 0x06,
  ENUMERATED: 0x0a,
  GENERAL_STRING: 0x1b,
  SEQUENCE: 0x30,
  /** [APPLICATION 0] constructed: the GSS-API InitialContextToken (RFC 2743 3.1). */
  APPLICATION_0: 0x60,
} as const;

/** The tag byte of a context-specific constructed [n] (n < 31). */
export function contextTag(n: number): number {
  return 0xa0 | n;
}

/** One decoded element. `content` is a view of its value bytes; `raw` a view of the whole TLV. */
export interface Der {
  tag: number;
  content: Buffer;
  raw: Buffer;
}

/** A cursor over a run of DER elements (the content of a constructed element, or a whole token). */
export class DerReader {
  private pos: number;
  private readonly end: number;
  private readonly buf: Buffer;

  constructor(buf: Buffer, start = 0, end = buf.length) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  peekTag(): number | undefined {
    return this.pos < this.end ? this.buf[this.pos] : undefined;
  }

  /** Reads the next element. */
  next(): Der {
    const start = this.pos;
    if (start + 2 > this.end) throw new WireError('DER: truncated element');
    const tag = this.buf[start]!;
    if ((tag & 0x1f) === 0x1f) throw new WireError('DER: multi-byte tags are not supported');
    let p = start + 1;
    const first = this.buf[p++]!;
    let length: number;
    if (first < 0x80) {
      length = first;
    } else {
      const n = first & 0x7f;
      if (n === 0) throw new WireError('DER: indefinite length');
      if (n > 4) throw new WireError('DER: length too long');
      if (p + n > this.end) throw new WireError('DER: truncated length');
      length = 0;
      for (let i = 0; i < n; i++) length = length * 256 + this.buf[p++]!;
    }
    if (length > this.end - p) throw new WireError('DER: element overruns its container');
    const content = this.buf.subarray(p, p + length);
    this.pos = p + length;
    return { tag, content, raw: this.buf.subarray(start, this.pos) };
  }

  /** Reads the next element and checks its tag. */
  expect(tag: number, what: string): Der {
    const el = this.next();
    if (el.tag !== tag) throw new WireError(`DER: expected ${what} (tag 0x${tag.toString(16)}), got 0x${el.tag.toString(16)}`);
    return el;
  }
}

/** A reader over an element's content. */
export function children(el: Der): DerReader {
  return new DerReader(el.content);
}

/** Decodes exactly one element filling `buf` (trailing bytes are a WireError). */
export function decodeOne(buf: Buffer): Der {
  const r = new DerReader(buf);
  const el = r.next();
  if (!r.done) throw new WireError('DER: trailing bytes');
  return el;
}

// ---- values ----

export function decodeOid(content: Buffer): string {
  if (content.length === 0) throw new WireError('DER: empty OID');
  const parts: number[] = [];
  let v = 0;
  let started = false;
  for (let i = 0; i < content.length; i++) {
    const b = content[i]!;
    if (!started && b === 0x80) throw new WireError('DER: OID arc with leading zero');
    started = true;
    v = v * 128 + (b & 0x7f);
    if (v > Number.MAX_SAFE_INTEGER / 256) throw new WireError('DER: OID arc too large');
    if ((b & 0x80) === 0) {
      if (parts.length === 0) {
        const first = v < 80 ? Math.floor(v / 40) : 2;
        parts.push(first, v - first * 40);
      } else {
        parts.push(v);
      }
      v = 0;
      started = false;
    } else if (i === content.length - 1) {
      throw new WireError('DER: truncated OID');
    }
  }
  return parts.join('.');
}

export function encodeOidContent(oid: string): Buffer {
  const arcs = oid.split('.').map((s) => {
    if (!/^\d+$/.test(s)) throw new RangeError(`bad OID ${oid}`);
    return Number(s);
  });
  if (arcs.length < 2) throw new RangeError(`bad OID ${oid}`);
  const out: number[] = [];
  const push = (v: number): void => {
    const bytes = [v & 0x7f];
    v = Math.floor(v / 128);
    while (v > 0) {
      bytes.unshift((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    out.push(...bytes);
  };
  push(arcs[0]! * 40 + arcs[1]!);
  for (const a of arcs.slice(2)) push(a);
  return Buffer.from(out);
}

/** A small non-negative INTEGER/ENUMERATED value (up to 4 bytes). */
export function decodeSmallInt(content: Buffer): number {
  if (content.length === 0 || content.length > 4) throw new WireError('DER: bad integer length');
  if ((content[0]! & 0x80) !== 0) throw new WireError('DER: negative integer');
  let v = 0;
  for (const b of content) v = v * 256 + b;
  return v;
}

// ---- writer ----

function encodeLength(n: number): Buffer {
  if (n < 0x80) return Buffer.of(n);
  const bytes: number[] = [];
  while (n > 0) {
    bytes.unshift(n & 0xff);
    n = Math.floor(n / 256);
  }
  if (bytes.length > 4) throw new RangeError('DER length too large');
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** Encodes one TLV from its tag and content parts. */
export function tlv(tag: number, ...content: Uint8Array[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.of(tag), encodeLength(body.length), body]);
}

export function oid(o: string): Buffer {
  return tlv(Tag.OID, encodeOidContent(o));
}
export function octetString(b: Uint8Array): Buffer {
  return tlv(Tag.OCTET_STRING, b);
}
export function enumerated(v: number): Buffer {
  if (v < 0 || v > 127) throw new RangeError('enumerated out of range');
  return tlv(Tag.ENUMERATED, Buffer.of(v));
}
export function sequence(...items: Uint8Array[]): Buffer {
  return tlv(Tag.SEQUENCE, ...items);
}
export function explicit(n: number, ...items: Uint8Array[]): Buffer {
  return tlv(contextTag(n), ...items);
}
