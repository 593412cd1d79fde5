import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { WireError } from '../errors.js';
import { SigningAlgorithm } from '../protocol/smb2/constants.js';
import { TRANSFORM_HEADER_SIZE } from '../protocol/smb2/transform.js';
import { BufferPool } from '../util/buffer-pool.js';

/**
 * Messages at least this large are encrypted, decrypted, signed and verified in worker threads, so that the thread
 * that runs the protocol (every connection's requests) never waits behind the cipher of one large READ or WRITE.
 * Smaller ones cost less inline than the hand-off.
 */
export const OFFLOAD_MIN = 64 * 1024;

/**
 * Whether signing or verifying `size` bytes with `algorithm` goes to the pool. AES-GMAC is GHASH alone, several
 * GB/s with no output: a whole 8 MiB message costs less inline than copying it for the hand-off.
 */
export function signsInPool(algorithm: number, size: number): boolean {
  return algorithm !== SigningAlgorithm.AES_GMAC && size >= OFFLOAD_MIN;
}

/**
 * What a worker is asked to do (crypto-worker.ts). Message bytes are views of shared memory; seal and open work on
 * them in place. Keys and headers are small copies.
 */
export type CryptoRequest =
  | { op: 'seal'; cipher: number; key: Uint8Array; header: Uint8Array; chunks: Uint8Array[] }
  | { op: 'open'; cipher: number; key: Uint8Array; transform: Uint8Array }
  | { op: 'sign'; algorithm: number; key: Uint8Array; message: Uint8Array[] }
  | { op: 'verify'; algorithm: number; key: Uint8Array; message: Uint8Array[] };

export type CryptoReply =
  | { id: number; ok: true; value: Uint8Array | boolean | undefined }
  /** `wire`: the input was at fault (a message that does not authenticate), not the worker. */
  | { id: number; ok: false; error: string; wire: boolean };

/**
 * Reusable buffers in memory that worker threads see without a copy (SharedArrayBuffer): READ payloads that go
 * out signed or encrypted are read into them, and large messages in ordinary memory are copied into them.
 * Sizes round up to powers of two from OFFLOAD_MIN; larger requests than the pool's classes are plain shared
 * allocations.
 */
export class SharedBufferPool extends BufferPool {
  constructor(maxPooledBytes = 128 * 1024 * 1024) {
    super({ maxPooledBytes, shared: true, minClass: OFFLOAD_MIN });
  }
}

/** The process-wide shared-memory pool. */
export const sharedMemoryPool = new SharedBufferPool();

/** Worker threads for the `crypto_threads` setting: 'auto' leaves one processor to the protocol thread (1 to 4). */
export function cryptoThreadCount(setting: number | 'auto'): number {
  if (setting !== 'auto') return setting;
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}

interface Slot {
  worker: Worker;
  pending: Map<number, { resolve: (v: CryptoReply) => void; reject: (e: Error) => void }>;
}

/** Ciphertext ready to send, and what to do once the socket no longer needs it. */
export interface Sealed {
  chunks: Buffer[];
  release: () => void;
}

/**
 * A small pool of worker threads doing the cipher and MAC work of large messages. Callers keep what must stay on
 * one thread (nonces, keys' lifetimes, message order); a job only turns bytes into bytes. Chunks in shared memory
 * are seen by the worker as they are; others are copied into shared memory first.
 */
export class CryptoPool {
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private closed = false;

  constructor(readonly threads: number) {
    if (!Number.isInteger(threads) || threads < 1) throw new RangeError('a crypto pool needs at least one thread');
  }

  /**
   * Encrypts the chunks under `header` (from transformHeader, which took the nonce) and writes the tag into the
   * header. Chunks in shared memory are encrypted in place, so they must be the caller's own; the others are
   * encrypted in copies. The result lists the ciphertext chunks in order; release() once they are sent.
   */
  async seal(cipher: number, key: Uint8Array, header: Buffer, chunks: readonly Buffer[]): Promise<Sealed> {
    const staged = new Staging();
    const shared = chunks.map((c) => staged.add(c));
    try {
      const tag = await this.value({ op: 'seal', cipher, key: copyOf(key), header: copyOf(header), chunks: shared });
      header.set(tag as Uint8Array, 4);
      return { chunks: shared, release: () => staged.release() };
    } catch (err) {
      staged.release();
      throw err;
    }
  }

  /**
   * Decrypts and authenticates a TRANSFORM message; resolves to its plaintext in shared memory (a view of the pool's
   * buffer: give it back with sharedMemoryPool.release), or rejects with WireError when it does not authenticate, as
   * decryptMessage throws. A message in shared memory is decrypted in place; any other is copied first.
   */
  async open(cipher: number, key: Uint8Array, transform: Buffer): Promise<Buffer> {
    if (transform.length < TRANSFORM_HEADER_SIZE) throw new WireError('transform header truncated');
    const staged = new Staging();
    const shared = staged.add(transform);
    try {
      await this.value({ op: 'open', cipher, key: copyOf(key), transform: shared });
      return shared.subarray(TRANSFORM_HEADER_SIZE);
    } catch (err) {
      staged.release();
      throw err;
    }
  }

  /** The signature of a message whose Signature field is zero (signing.ts sign()). */
  async sign(algorithm: number, key: Uint8Array, message: readonly Buffer[]): Promise<Buffer> {
    const staged = new Staging();
    try {
      const sig = await this.value({ op: 'sign', algorithm, key: copyOf(key), message: message.map((c) => staged.add(c)) });
      return Buffer.from(sig as Uint8Array);
    } finally {
      staged.release();
    }
  }

  /** signing.ts verifyMessage(), in a worker. */
  async verify(algorithm: number, key: Uint8Array, message: readonly Buffer[]): Promise<boolean> {
    const staged = new Staging();
    try {
      return (await this.value({ op: 'verify', algorithm, key: copyOf(key), message: message.map((c) => staged.add(c)) })) === true;
    } finally {
      staged.release();
    }
  }

  /** Stops the workers; jobs still running reject. */
  async close(): Promise<void> {
    this.closed = true;
    const slots = this.slots.splice(0);
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  private async value(req: CryptoRequest): Promise<Uint8Array | boolean | undefined> {
    const reply = await this.run(req);
    if (reply.ok) return reply.value;
    throw reply.wire ? new WireError(reply.error) : new Error(`crypto worker: ${reply.error}`);
  }

  private run(req: CryptoRequest): Promise<CryptoReply> {
    if (this.closed) return Promise.reject(new Error('crypto pool closed'));
    const slot = this.pick();
    const id = this.nextId++;
    return new Promise<CryptoReply>((resolve, reject) => {
      if (slot.pending.size === 0) slot.worker.ref();
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage({ id, req });
    });
  }

  /** The least busy worker; a new one while all are busy and the pool is not full. */
  private pick(): Slot {
    let best: Slot | undefined;
    for (const s of this.slots) if (best === undefined || s.pending.size < best.pending.size) best = s;
    if (best !== undefined && (best.pending.size === 0 || this.slots.length >= this.threads)) return best;
    return this.spawn();
  }

  private spawn(): Slot {
    const worker = new Worker(new URL('./crypto-worker.js', import.meta.url));
    const slot: Slot = { worker, pending: new Map() };
    // An idle worker does not keep the process alive; one with work does (run() refs it).
    worker.unref();
    worker.on('message', (reply: CryptoReply) => {
      const p = slot.pending.get(reply.id);
      if (p === undefined) return;
      slot.pending.delete(reply.id);
      if (slot.pending.size === 0) worker.unref();
      p.resolve(reply);
    });
    const fail = (err: Error): void => {
      const at = this.slots.indexOf(slot);
      if (at >= 0) this.slots.splice(at, 1);
      for (const p of slot.pending.values()) p.reject(err);
      slot.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`crypto worker exited (${code})`)));
    this.slots.push(slot);
    return slot;
  }
}

/** A small key or header as its own copy (a view of a larger buffer would send all of that buffer). */
function copyOf(b: Uint8Array): Uint8Array {
  return new Uint8Array(b);
}

/** Chunks put where a worker can work on them: shared memory as it is, others copied into shared memory. */
class Staging {
  private readonly held: Buffer[] = [];

  add(chunk: Buffer): Buffer {
    if (chunk.buffer instanceof SharedArrayBuffer) return chunk;
    if (chunk.length < OFFLOAD_MIN) {
      const copy = Buffer.from(new SharedArrayBuffer(chunk.length));
      chunk.copy(copy);
      return copy;
    }
    const copy = sharedMemoryPool.acquire(chunk.length);
    chunk.copy(copy);
    this.held.push(copy);
    return copy;
  }

  release(): void {
    for (const b of this.held) sharedMemoryPool.release(b);
  }
}

let processPool: CryptoPool | undefined;

/** The process's pool, made on first use with `threads` workers (later callers share it). */
export function sharedCryptoPool(threads: number): CryptoPool {
  processPool ??= new CryptoPool(threads);
  return processPool;
}
