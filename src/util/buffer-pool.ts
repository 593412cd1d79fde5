/**
 * Reusable large buffers. On these machines a fresh multi-megabyte allocation costs far more than the copy it
 * holds (every page faults in), so READ payloads and reassembled WRITE frames come from here and go back once
 * the socket has written them or the request has finished. Buffers below MIN_POOLED are plain allocations.
 */
export const MIN_POOLED = 256 * 1024;
const MAX_CLASS = 32 * 1024 * 1024;

export interface BufferPoolOptions {
  /** Free memory the pool keeps at most (default 128 MiB). */
  maxPooledBytes?: number;
  /**
   * SharedArrayBuffer memory, which worker threads see without a copy (crypto-pool.ts). Making one costs more than an
   * ordinary allocation, so shared requests below the smallest class are rounded up to it and pooled too.
   */
  shared?: boolean;
  /** The smallest size class (default MIN_POOLED); ordinary requests below it are plain allocations. */
  minClass?: number;
}

export class BufferPool {
  private readonly free = new Map<number, ArrayBufferLike[]>();
  /** Memory this pool made: only these are ever taken back. */
  private readonly owned = new WeakSet<ArrayBufferLike>();
  /** Memory on the free lists (a second release of the same buffer is ignored). */
  private readonly isFree = new WeakSet<ArrayBufferLike>();
  private pooledBytes = 0;
  private readonly maxPooledBytes: number;
  private readonly shared: boolean;
  private readonly minClass: number;

  constructor(opts: BufferPoolOptions = {}) {
    this.maxPooledBytes = opts.maxPooledBytes ?? 128 * 1024 * 1024;
    this.shared = opts.shared === true;
    this.minClass = opts.minClass ?? MIN_POOLED;
  }

  /** A buffer of exactly `size` bytes (contents undefined). */
  acquire(size: number): Buffer {
    if (size > MAX_CLASS || (size < this.minClass && !this.shared)) return Buffer.from(this.allocate(size), 0, size);
    let cls = this.minClass;
    while (cls < size) cls *= 2;
    const ab = this.free.get(cls)?.pop();
    if (ab) {
      this.isFree.delete(ab);
      this.pooledBytes -= cls;
      return Buffer.from(ab, 0, size);
    }
    const fresh = this.allocate(cls);
    this.owned.add(fresh);
    return Buffer.from(fresh, 0, size);
  }

  /** Gives back a buffer from acquire() once nothing uses it; other buffers are ignored. */
  release(buf: Buffer): void {
    const ab = buf.buffer;
    if (!this.owned.has(ab) || this.isFree.has(ab)) return;
    const cls = ab.byteLength;
    if (this.pooledBytes + cls > this.maxPooledBytes) return;
    let list = this.free.get(cls);
    if (!list) {
      list = [];
      this.free.set(cls, list);
    }
    list.push(ab);
    this.isFree.add(ab);
    this.pooledBytes += cls;
  }

  /** Not `new ArrayBuffer(n)` for ordinary memory: that zero-fills, and the caller overwrites every byte it uses. */
  private allocate(n: number): ArrayBufferLike {
    return this.shared ? new SharedArrayBuffer(n) : Buffer.allocUnsafeSlow(n).buffer;
  }
}

/** The process-wide pool of ordinary memory: the client's large frames, and the server's decrypted messages. */
export const sharedPool = new BufferPool();

/**
 * The server's READ payloads that go out in the clear, from one page up: a small-file workload reads thousands of
 * files of a few KiB to 64 KiB, and a fresh buffer for each (memory outside the JavaScript heap) kept the garbage
 * collector's threads busy for a third of the server's time (smbclient -Tc of 4,000 such files).
 */
export const readPool = new BufferPool({ minClass: 4096, maxPooledBytes: 64 * 1024 * 1024 });
