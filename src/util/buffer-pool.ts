/**
 * Reusable large buffers. On these machines a fresh multi-megabyte allocation costs far more than the copy it
 * holds (every page faults in), so READ payloads and reassembled WRITE frames come from here and go back once
 * the socket has written them or the request has finished. Buffers below MIN_POOLED are plain allocations.
 */
export const MIN_POOLED = 256 * 1024;
const MAX_CLASS = 32 * 1024 * 1024;

export class BufferPool {
  private readonly free = new Map<number, ArrayBuffer[]>();
  /** Memory this pool made: only these are ever taken back. */
  private readonly owned = new WeakSet<ArrayBuffer>();
  private pooledBytes = 0;
  private readonly maxPooledBytes: number;

  constructor(maxPooledBytes = 128 * 1024 * 1024) {
    this.maxPooledBytes = maxPooledBytes;
  }

  /** A buffer of exactly `size` bytes (contents undefined). */
  acquire(size: number): Buffer {
    if (size < MIN_POOLED || size > MAX_CLASS) return Buffer.allocUnsafeSlow(size);
    const cls = classOf(size);
    const list = this.free.get(cls);
    const ab = list?.pop();
    if (ab) {
      this.pooledBytes -= cls;
      return Buffer.from(ab, 0, size);
    }
    // Not `new ArrayBuffer(cls)`: that zero-fills, and the caller overwrites every byte it uses.
    const fresh = Buffer.allocUnsafeSlow(cls).buffer as ArrayBuffer;
    this.owned.add(fresh);
    return Buffer.from(fresh, 0, size);
  }

  /** Gives back a buffer from acquire() once nothing uses it; other buffers are ignored. */
  release(buf: Buffer): void {
    const ab = buf.buffer;
    if (!(ab instanceof ArrayBuffer) || !this.owned.has(ab)) return;
    const cls = ab.byteLength;
    if (this.pooledBytes + cls > this.maxPooledBytes) return;
    let list = this.free.get(cls);
    if (!list) {
      list = [];
      this.free.set(cls, list);
    }
    if (list.includes(ab)) return;
    list.push(ab);
    this.pooledBytes += cls;
  }
}

function classOf(size: number): number {
  let c = MIN_POOLED;
  while (c < size) c *= 2;
  return c;
}

/** The process-wide pool used by the transport and the READ path. */
export const sharedPool = new BufferPool();
