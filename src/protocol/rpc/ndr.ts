/**
 * NDR 2.0 transfer syntax (C706 chapter 14, MS-RPCE 2.2.5), little-endian only: primitive alignment, unique and
 * ref pointers with referent ids, conformant varying UTF-16 strings, conformant arrays, and the deferral of
 * embedded pointees to the end of the construct that holds them (C706 14.3.12.3). Reading goes through Reader,
 * so a malformed stub is a WireError.
 */
import { WireError } from '../../errors.js';
import { Reader } from '../../util/reader.js';
import { Writer } from '../../util/writer.js';

/** First referent id used for unique pointers (what Windows uses too; any non-zero value is valid). */
const FIRST_REFERENT = 0x00020000;

/**
 * Builds an NDR stub. Pointees of embedded pointers are queued with `pointer` and written when the enclosing
 * construct ends: call `deferred` (or use `top`) to flush them, nested pointees after each of their parents.
 */
export class NdrWriter {
  readonly w = new Writer(256);
  private nextReferent = FIRST_REFERENT;
  private queue: (() => void)[] = [];

  u8(v: number): this {
    this.w.u8(v);
    return this;
  }
  u16(v: number): this {
    this.w.align(2).u16(v);
    return this;
  }
  u32(v: number): this {
    this.w.align(4).u32(v);
    return this;
  }
  i32(v: number): this {
    this.w.align(4).i32(v);
    return this;
  }
  u64(v: bigint): this {
    this.w.align(8).u64(v);
    return this;
  }

  /** An embedded unique pointer: a referent id now and the pointee later, or 0 for NULL. */
  pointer<T>(value: T | undefined | null, writePointee: (v: T) => void): this {
    if (value === undefined || value === null) return this.u32(0);
    this.u32(this.nextReferent);
    this.nextReferent += 4;
    this.queue.push(() => writePointee(value));
    return this;
  }

  /** A unique pointer to a [string] wchar_t*. */
  stringPointer(s: string | undefined | null): this {
    return this.pointer(s, (v) => this.string(v));
  }

  /** Writes the queued pointees, each followed by the pointees it queued itself. */
  deferred(): this {
    const pending = this.queue;
    this.queue = [];
    for (const write of pending) {
      write();
      this.deferred();
    }
    return this;
  }

  /** A top-level construct (one parameter): the body, then its deferred pointees. */
  top(body: () => void): this {
    body();
    return this.deferred();
  }

  /** A conformant varying string of UTF-16 characters with its terminating NUL (C706 14.3.4.2). */
  string(s: string): this {
    const n = s.length + 1;
    this.u32(n).u32(0).u32(n);
    this.w.utf16(s).u16(0);
    return this;
  }

  /** A conformant array: max_count, then each element through `item`. */
  array<T>(items: readonly T[], item: (v: T) => void): this {
    this.u32(items.length);
    for (const v of items) item(v);
    return this;
  }

  finish(): Buffer {
    this.deferred();
    return Buffer.from(this.w.finish());
  }
}

/** Upper bound of elements or characters read from any one length field (the stub bounds it too). */
const MAX_COUNT = 1 << 20;

/** Reads an NDR stub; alignment counts from the start of the stub. */
export class NdrReader {
  readonly r: Reader;
  private queue: (() => void)[] = [];

  constructor(stub: Buffer | Reader) {
    this.r = stub instanceof Reader ? stub : new Reader(stub);
  }

  get remaining(): number {
    return this.r.remaining;
  }

  private aligned(n: number): Reader {
    const rel = this.r.offset % n;
    if (rel !== 0) this.r.skip(n - rel);
    return this.r;
  }

  u8(): number {
    return this.r.u8();
  }
  u16(): number {
    return this.aligned(2).u16();
  }
  u32(): number {
    return this.aligned(4).u32();
  }
  i32(): number {
    return this.aligned(4).i32();
  }
  u64(): bigint {
    return this.aligned(8).u64();
  }

  /** An embedded unique pointer: returns whether it is non-NULL and queues `readPointee` for later. */
  pointer(readPointee: () => void): boolean {
    const id = this.u32();
    if (id !== 0) this.queue.push(readPointee);
    return id !== 0;
  }

  /** A unique pointer to a [string]; `set` receives the string once the deferred data is read. */
  stringPointer(set: (s: string) => void): boolean {
    return this.pointer(() => set(this.string()));
  }

  /** A top-level unique pointer: its referent follows at once (C706 14.3.11.1). */
  topUnique<T>(read: () => T): T | undefined {
    return this.u32() === 0 ? undefined : this.top(read);
  }

  deferred(): this {
    const pending = this.queue;
    this.queue = [];
    for (const read of pending) {
      read();
      this.deferred();
    }
    return this;
  }

  top<T>(body: () => T): T {
    const v = body();
    this.deferred();
    return v;
  }

  /** A conformant varying string of UTF-16 characters; a trailing NUL is dropped. */
  string(): string {
    const maxCount = this.u32();
    const offset = this.u32();
    const actual = this.u32();
    if (offset !== 0 || actual > maxCount || actual > MAX_COUNT) throw new WireError('bad conformant varying string bounds');
    const s = this.r.utf16(actual * 2);
    return s.endsWith('\0') ? s.slice(0, -1) : s;
  }

  /** A conformant array whose elements take at least `minSize` bytes each. */
  array<T>(minSize: number, item: () => T): T[] {
    const n = this.u32();
    if (n > MAX_COUNT || n * minSize > this.r.remaining) throw new WireError('conformant array longer than the stub');
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(item());
    return out;
  }
}
