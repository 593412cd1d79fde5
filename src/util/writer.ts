/**
 * A growing little-endian writer. Offsets/lengths that depend on later content are written as placeholders
 * with `reserveU16/U32` and filled with `patch*`, so no offset is computed twice by hand.
 */
export class Writer {
  private buf: Buffer;
  pos = 0;
  /** Position that `offset` counts from (e.g. the SMB2 header start). */
  base: number;

  constructor(initial = 256, base = 0) {
    this.buf = Buffer.allocUnsafe(initial);
    this.base = base;
  }

  /** Position relative to base. */
  get offset(): number {
    return this.pos - this.base;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.pos++] = v & 0xff;
    return this;
  }
  u16(v: number): this {
    this.ensure(2);
    this.buf.writeUInt16LE(v & 0xffff, this.pos);
    this.pos += 2;
    return this;
  }
  u16be(v: number): this {
    this.ensure(2);
    this.buf.writeUInt16BE(v & 0xffff, this.pos);
    this.pos += 2;
    return this;
  }
  u32(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32LE(v >>> 0, this.pos);
    this.pos += 4;
    return this;
  }
  u32be(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.pos);
    this.pos += 4;
    return this;
  }
  i32(v: number): this {
    this.ensure(4);
    this.buf.writeInt32LE(v | 0, this.pos);
    this.pos += 4;
    return this;
  }
  u64(v: bigint | number): this {
    this.ensure(8);
    this.buf.writeBigUInt64LE(BigInt.asUintN(64, BigInt(v)), this.pos);
    this.pos += 8;
    return this;
  }
  i64(v: bigint | number): this {
    this.ensure(8);
    this.buf.writeBigInt64LE(BigInt.asIntN(64, BigInt(v)), this.pos);
    this.pos += 8;
    return this;
  }
  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }
  zeros(n: number): this {
    this.ensure(n);
    this.buf.fill(0, this.pos, this.pos + n);
    this.pos += n;
    return this;
  }
  utf16(s: string): this {
    const n = Buffer.byteLength(s, 'utf16le');
    this.ensure(n);
    this.buf.write(s, this.pos, n, 'utf16le');
    this.pos += n;
    return this;
  }
  /** Pads with zeros to a multiple of n relative to base. */
  align(n: number): this {
    const pad = (n - (this.offset % n)) % n;
    return this.zeros(pad);
  }

  /** Writes a zero u16 and returns its absolute position for patchU16. */
  reserveU16(): number {
    const p = this.pos;
    this.u16(0);
    return p;
  }
  reserveU32(): number {
    const p = this.pos;
    this.u32(0);
    return p;
  }
  patchU16(at: number, v: number): void {
    this.buf.writeUInt16LE(v & 0xffff, at);
  }
  patchU32(at: number, v: number): void {
    this.buf.writeUInt32LE(v >>> 0, at);
  }

  /** The written bytes (a view of the internal buffer: do not write more afterwards if you keep it). */
  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}
