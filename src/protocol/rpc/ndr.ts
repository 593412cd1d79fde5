/**
 * NDR 2.0 transfer syntax (C706 chapter 14, MS-RPCE 2.2.5), little-endian only: primitive alignment, unique and
 * ref pointers with referent ids, conformant varying UTF-16 strings, conformant arrays, and the deferral of
 * embedded pointees to the end of the construct that holds them (C706 14.3.12.3). Reading goes through Reader,
 * so a malformed stub is a WireError.
 */
import { WireError } from '../../errors.js';
import { Reader } from '../../util/reader.js';
import { Writer } from '../../util/writer.js';
import { decodeSid, encodeSid, parseSid } from '../smb2/fscc/security.js';

/** Sub-authorities a SID may have (MS-DTYP 2.4.2.3). */
const MAX_SID_SUB_AUTHORITIES = 15;

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

  /**
   * An RPC_UNICODE_STRING (MS-DTYP 2.3.10): Length and MaximumLength in bytes, and a unique pointer to a
   * conformant varying array of UTF-16 characters without a terminator.
   */
  unicodeString(s: string): this {
    const bytes = s.length * 2;
    this.w.align(4);
    this.u16(bytes).u16(bytes);
    return this.pointer(s, (v) => {
      this.u32(v.length).u32(0).u32(v.length);
      this.w.utf16(v);
    });
  }

  /** An RPC_SID (MS-DTYP 2.4.2.3), a conformant structure: the sub-authority count first, then the SID. */
  sid(text: string): this {
    this.u32(parseSid(text).subAuthorities.length);
    encodeSid(this.w, text);
    return this;
  }

  /** A unique pointer to an RPC_SID. */
  sidPointer(text: string | undefined): this {
    return this.pointer(text, (v) => this.sid(v));
  }

  /** Raw bytes (a context handle, a GUID): no alignment. */
  bytes(b: Uint8Array): this {
    this.w.bytes(b);
    return this;
  }

  align(n: number): this {
    this.w.align(n);
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

  /** An RPC_UNICODE_STRING; `set` receives the characters once the deferred array is read. */
  unicodeString(set: (s: string) => void): void {
    this.align(4);
    const length = this.u16();
    const maximumLength = this.u16();
    if (length % 2 !== 0 || length > maximumLength) throw new WireError('bad RPC_UNICODE_STRING lengths');
    this.pointer(() => {
      const maxCount = this.u32();
      const offset = this.u32();
      const actual = this.u32();
      if (offset !== 0 || actual > maxCount || actual * 2 !== length || maxCount * 2 > maximumLength) {
        throw new WireError('RPC_UNICODE_STRING array does not match its lengths');
      }
      set(this.r.utf16(actual * 2));
    });
  }

  /** An RPC_SID in its string form (S-1-5-21-...). */
  sid(): string {
    const count = this.u32();
    if (count > MAX_SID_SUB_AUTHORITIES) throw new WireError('RPC_SID with too many sub-authorities');
    const bytes = this.r.bytes(8 + 4 * count);
    if (bytes[1] !== count) throw new WireError('RPC_SID conformance does not match its SubAuthorityCount');
    return decodeSid(new Reader(bytes));
  }

  /** A unique pointer to an RPC_SID; `set` receives it once the deferred data is read. */
  sidPointer(set: (sid: string) => void): boolean {
    return this.pointer(() => set(this.sid()));
  }

  bytes(n: number): Buffer {
    return this.r.bytes(n);
  }

  align(n: number): this {
    this.aligned(n);
    return this;
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
