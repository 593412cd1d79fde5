import { WireError } from '../errors.js';

/**
 * A bounds-checked little-endian cursor over a byte view. Every read checks the remaining length and throws
 * WireError past the end; `bytes()` and `sub()` return views, never copies. All decoders read through this.
 */
export class Reader {
  readonly buf: Buffer;
  /** Absolute position inside `buf`. */
  pos: number;
  /** Absolute end (exclusive) of the readable region. */
  readonly end: number;
  /** Absolute position that offsets in this structure count from (e.g. the SMB2 header start). */
  readonly base: number;

  constructor(buf: Buffer, start = 0, end = buf.length, base = start) {
    if (start < 0 || end > buf.length || start > end) throw new WireError('reader range outside buffer');
    this.buf = buf;
    this.pos = start;
    this.end = end;
    this.base = base;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  /** Position relative to `base`. */
  get offset(): number {
    return this.pos - this.base;
  }

  need(n: number): void {
    if (n < 0 || this.pos + n > this.end) {
      throw new WireError(`truncated: need ${n} bytes at offset ${this.pos - this.base}, have ${this.end - this.pos}`);
    }
  }

  skip(n: number): this {
    this.need(n);
    this.pos += n;
    return this;
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }
  u16be(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  u32be(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  i32(): number {
    this.need(4);
    const v = this.buf.readInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  u64(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64LE(this.pos);
    this.pos += 8;
    return v;
  }
  /** A u64 that must fit a JS number exactly (sizes, offsets); larger values are a WireError. */
  u64n(): number {
    const v = this.u64();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new WireError('64-bit value too large');
    return Number(v);
  }
  i64(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64LE(this.pos);
    this.pos += 8;
    return v;
  }

  /** A view of the next n bytes (no copy). */
  bytes(n: number): Buffer {
    this.need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  /** A view of `length` bytes at `offset` counted from `base`, checked to lie inside this reader's region. */
  at(offset: number, length: number): Buffer {
    const start = this.base + offset;
    if (offset < 0 || length < 0 || start < this.base || start + length > this.end) {
      throw new WireError(`offset ${offset} + length ${length} outside the message`);
    }
    return this.buf.subarray(start, start + length);
  }

  /** A sub-reader over `length` bytes at `offset` from base, with the same base (so nested offsets still work). */
  subAt(offset: number, length: number): Reader {
    const view = this.at(offset, length);
    const start = view.byteOffset - this.buf.byteOffset;
    return new Reader(this.buf, start, start + length, this.base);
  }

  /** A sub-reader over the next n bytes; its base is its own start. Advances this reader. */
  sub(n: number): Reader {
    this.need(n);
    const r = new Reader(this.buf, this.pos, this.pos + n, this.pos);
    this.pos += n;
    return r;
  }

  /** UTF-16LE string of `byteLength` bytes. Odd lengths are malformed. */
  utf16(byteLength: number): string {
    if (byteLength % 2 !== 0) throw new WireError('odd UTF-16 length');
    return this.bytes(byteLength).toString('utf16le');
  }

  /** Moves to the next multiple of `n` relative to base (not past end). */
  align(n: number): this {
    const rel = this.pos - this.base;
    const pad = (n - (rel % n)) % n;
    this.pos = Math.min(this.pos + pad, this.end);
    return this;
  }

  /** Moves to an absolute offset from base (must lie inside the region). */
  seek(offset: number): this {
    const p = this.base + offset;
    if (offset < 0 || p > this.end) throw new WireError(`seek to ${offset} outside the message`);
    this.pos = p;
    return this;
  }
}
