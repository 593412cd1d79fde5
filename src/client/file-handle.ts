/**
 * An open file on a share (fs/promises FileHandle-like): positioned reads and writes split into maxRead/maxWrite
 * requests with several in flight, stat, truncate, close, and Node streams that keep a window of requests going.
 */
import { Readable, Writable } from 'node:stream';
import { Status } from '../protocol/nt-status.js';
import type { FileId } from '../protocol/smb2/commands/file-id.js';
import { encodeLockRequest } from '../protocol/smb2/commands/lock.js';
import { encodeOplockBreakRequest, type OplockBreakRequest } from '../protocol/smb2/commands/oplock-break.js';
import { decodeReadResponse } from '../protocol/smb2/commands/read.js';
import { decodeQueryInfoResponse } from '../protocol/smb2/commands/query-info.js';
import { decodeWriteResponse } from '../protocol/smb2/commands/write.js';
import { Command, InfoType, LockFlags } from '../protocol/smb2/constants.js';
import { decodeFileInfo, FileInfoClass } from '../protocol/smb2/fscc/file-info.js';
import { TransportError } from '../errors.js';
import { totalLength } from '../util/chunks.js';
import { Reader } from '../util/reader.js';
import type { SmbRequest, SmbResponse } from './connection.js';
import { durableReconnect, leaseStateOf, type DurableOpen, type Durability, type Granted } from './durable.js';
import { clientError, smbError } from './errors.js';
import { SmbStats } from './stats.js';
import type { CreateSpec, Tree, TreeTuning } from './tree.js';

/** Runs `task(i)` for i in [0, count) with at most `limit` running at once; rejects on the first failure. */
export async function runWindow(count: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async (): Promise<void> => {
    while (next < count && failed === undefined) {
      const i = next++;
      try {
        await task(i);
      } catch (e) {
        failed ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
  if (failed !== undefined) throw failed;
}

/** What a durable open keeps to be re-established after a connection loss. */
export interface DurableHandleState {
  open: DurableOpen;
  /** The CREATE as first sent (repeated on reconnect, MS-SMB2 3.2.4.4). */
  spec: CreateSpec;
  granted: Granted;
}

export class FileHandle {
  private closed = false;
  /** The connection was lost and this open could not be (or was not to be) re-established. */
  private lost = false;
  private closing: Promise<void> | undefined;
  /** Where a read or write with position null goes next (fs semantics); appends track the end. */
  private position: number;
  private id: FileId;
  private readonly durableState: DurableHandleState | undefined;

  constructor(
    private readonly tree: Tree,
    fileId: FileId,
    /** Share-relative SMB path. */
    readonly path: string,
    private readonly opts: { append: boolean; size: number; onClose: (h: FileHandle) => void; durable?: DurableHandleState },
  ) {
    this.id = fileId;
    this.position = opts.append ? opts.size : 0;
    this.durableState = opts.durable;
  }

  /** The open's FileId (a new one after a reconnect re-established it). */
  get fileId(): FileId {
    return this.id;
  }

  /** What the server granted: 'durable' and 'persistent' opens survive a connection loss (with reconnect on). */
  get durable(): Durability {
    return this.durableState?.granted.durability ?? 'none';
  }

  /** The lease state held (LeaseState bits: R 1, H 2, W 4), undefined without a lease; updated by lease breaks. */
  get leaseState(): number | undefined {
    return this.durableState?.granted.leaseState;
  }

  /** The oplock level held (OplockLevel: 0 none, 1 II, 8 exclusive, 9 batch, 0xff lease); updated by oplock breaks. */
  get oplockLevel(): number {
    return this.durableState?.granted.oplockLevel ?? 0;
  }

  /** @internal The lease key, to match lease break notifications. */
  get leaseKey(): Buffer | undefined {
    return this.durableState?.open.lease?.key;
  }

  /** @internal Sends an OPLOCK_BREAK acknowledgment (MS-SMB2 2.2.24.1 / 2.2.24.2) on this handle's tree. */
  async acknowledgeBreak(ack: OplockBreakRequest): Promise<void> {
    await this.tree.send({ command: Command.OPLOCK_BREAK, body: (w) => encodeOplockBreakRequest(w, ack) });
  }

  /** @internal The connection was lost and this open will not come back. */
  markLost(): void {
    this.lost = true;
  }

  /** @internal A lease break notification for this handle's lease: the new state is held from now on. */
  leaseBroken(newState: number): void {
    if (this.durableState) this.durableState.granted.leaseState = newState;
  }

  /** @internal An oplock break: the new level is held from now on. */
  oplockBroken(newLevel: number): void {
    if (this.durableState) this.durableState.granted.oplockLevel = newLevel;
  }

  /**
   * @internal After a reconnect: re-establishes a durable open on `tree` (a tree of the new session) and takes
   * its FileId; any other open is lost (its calls fail with EBADF). Resolves true when the open is back.
   */
  async reestablish(tree: Tree): Promise<boolean> {
    const d = this.durableState;
    if (this.closed || this.lost) return false;
    if (!d || d.granted.durability === 'none') {
      this.lost = true;
      return false;
    }
    const again = durableReconnect(d.open, this.id, d.granted.oplockLevel, d.granted.leaseState);
    try {
      const res = await tree.create(this.path, { ...d.spec, oplockLevel: again.oplockLevel, contexts: again.contexts });
      this.id = res.fileId;
      d.granted.oplockLevel = res.oplockLevel;
      const leaseState = leaseStateOf(d.open, res);
      if (leaseState !== undefined) d.granted.leaseState = leaseState;
      return true;
    } catch (e) {
      if (e instanceof TransportError) throw e; // this reconnect attempt failed; the next one tries again
      this.lost = true;
      return false;
    }
  }

  get tuning(): TreeTuning {
    return this.tree.tuning;
  }

  get unc(): string {
    return this.tree.unc(this.path);
  }

  private ensureOpen(): void {
    if (this.closed) throw clientError(Status.FILE_CLOSED, 'EBADF', this.unc);
    if (this.lost) throw clientError(Status.FILE_CLOSED, 'EBADF', `${this.unc} (not durable: lost with the connection)`);
  }

  /**
   * Sends a request on this open, built once it can go (so a reconnect's new FileId is used). `retry`: an
   * idempotent request (READ, WRITE at an offset, QUERY_INFO, SET_INFO of the end of file) that the connection
   * loss failed in flight is sent again once a reconnect re-established this durable open; LOCK is not (a lock
   * that was granted would conflict with itself).
   */
  private async call(build: (fileId: FileId) => SmbRequest, retry = false): Promise<SmbResponse> {
    const send = () =>
      this.tree.send(() => {
        this.ensureOpen();
        return build(this.id);
      });
    try {
      return await send();
    } catch (e) {
      const session = this.tree.session;
      const lostConnection = e instanceof TransportError && session.onLost !== undefined && (session.gate !== undefined || session.conn.closed);
      if (!retry || !lostConnection || this.durable === 'none') throw e;
      return send();
    }
  }

  /** One READ: the bytes at `offset` (fewer at end of file; empty past it). */
  async readChunk(offset: number, length: number): Promise<Buffer> {
    const res = await this.call((id) => this.tree.readRequest(id, offset, length), true);
    if (res.status === Status.END_OF_FILE) return Buffer.alloc(0);
    this.tree.check(res, this.path);
    return decodeReadResponse(res.body).data;
  }

  /**
   * One READ whose data stays in the response's memory: call `release()` once done with `data` (it is reused).
   * Empty at or past the end of file.
   */
  async readChunkView(offset: number, length: number): Promise<{ data: Buffer; release: () => void }> {
    const res = await this.call((id) => this.tree.readRequest(id, offset, length), true);
    try {
      if (res.status === Status.END_OF_FILE) {
        res.release();
        return { data: Buffer.alloc(0), release: () => {} };
      }
      this.tree.check(res, this.path);
      return { data: decodeReadResponse(res.body).data, release: () => res.release() };
    } catch (e) {
      res.release();
      throw e;
    }
  }

  /** One READ copied into `target` at `at`; the response's memory is reused. Returns the byte count. */
  async readChunkInto(offset: number, length: number, target: Buffer, at: number): Promise<number> {
    const res = await this.call((id) => this.tree.readRequest(id, offset, length), true);
    try {
      if (res.status === Status.END_OF_FILE) return 0;
      this.tree.check(res, this.path);
      const data = decodeReadResponse(res.body).data;
      data.copy(target, at);
      return data.length;
    } finally {
      res.release();
    }
  }

  /** One WRITE of all of `data` (or of its buffers, in order) at `offset` (a short count is continued). */
  async writeChunk(offset: number, data: Buffer | readonly Buffer[]): Promise<void> {
    const parts = Buffer.isBuffer(data) ? [data] : data;
    const total = totalLength(parts);
    let done = 0;
    while (done < total) {
      const rest = done === 0 ? parts : partsFrom(parts, done);
      const res = await this.call((id) => this.tree.writeRequest(id, offset + done, rest), true);
      this.tree.check(res, this.path);
      const n = decodeWriteResponse(res.body).count;
      if (n <= 0) throw clientError(Status.DISK_FULL, 'ENOSPC', this.unc);
      done += n;
    }
  }

  /**
   * Reads up to `length` bytes at `position` into `buffer[offset..]` with several requests in flight; returns the
   * count of contiguous bytes read (short only at end of file).
   */
  async readInto(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    this.ensureOpen();
    const size = this.tree.tuning.readSize;
    const target = Buffer.isBuffer(buffer) ? buffer : Buffer.from(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    let total = 0;
    while (total < length) {
      const want = length - total;
      const count = Math.ceil(want / size);
      const got = new Array<number>(count).fill(0);
      const base = position + total;
      let eofChunk = Infinity;
      await runWindow(count, this.tree.tuning.concurrency, async (i) => {
        if (i > eofChunk) return;
        const len = Math.min(size, want - i * size);
        const n = await this.readChunkInto(base + i * size, len, target, offset + total + i * size);
        got[i] = n;
        if (n < len) eofChunk = Math.min(eofChunk, i);
      });
      let contiguous = 0;
      let emptyChunk = false;
      for (let i = 0; i < count; i++) {
        contiguous += got[i]!;
        if (got[i]! < Math.min(size, want - i * size)) {
          emptyChunk = got[i] === 0;
          break;
        }
      }
      total += contiguous;
      // An empty answer is the end of file; a short one with data may be a partial read, so ask again from there.
      if (emptyChunk) break;
    }
    return total;
  }

  /** Writes `data` at `position` with several requests in flight. */
  async writeAt(data: Buffer, position: number): Promise<void> {
    this.ensureOpen();
    const size = this.tree.tuning.writeSize;
    const count = Math.max(1, Math.ceil(data.length / size));
    if (data.length === 0) return;
    await runWindow(count, this.tree.tuning.uploadConcurrency, (i) => this.writeChunk(position + i * size, data.subarray(i * size, (i + 1) * size)));
  }

  /** Where a read or write with position null goes next. */
  get currentPosition(): number {
    return this.position;
  }

  /** fs FileHandle.read: `position` null reads at the handle's position and advances it. */
  async read<T extends Uint8Array>(
    buffer: T,
    offset = 0,
    length: number = buffer.byteLength - offset,
    position: number | bigint | null = null,
  ): Promise<{ bytesRead: number; buffer: T }> {
    if (offset < 0 || length < 0 || offset + length > buffer.byteLength) throw new RangeError('offset/length outside the buffer');
    const at = position === null || position === -1 ? this.position : Number(position);
    const bytesRead = await this.readInto(buffer, offset, length, at);
    if (position === null || position === -1) this.position += bytesRead;
    return { bytesRead, buffer };
  }

  /** fs FileHandle.write: `position` null writes at the handle's position (the end for append handles). */
  async write<T extends Uint8Array>(
    buffer: T,
    offset = 0,
    length: number = buffer.byteLength - offset,
    position: number | bigint | null = null,
  ): Promise<{ bytesWritten: number; buffer: T }> {
    if (offset < 0 || length < 0 || offset + length > buffer.byteLength) throw new RangeError('offset/length outside the buffer');
    const at = position === null || position === -1 || this.opts.append ? this.position : Number(position);
    const data = Buffer.from(buffer.buffer, buffer.byteOffset + offset, length);
    await this.writeAt(data, at);
    if (position === null || position === -1 || this.opts.append) this.position = at + length;
    return { bytesWritten: length, buffer };
  }

  /** Reads from the handle's position to the end of the file. */
  async readFile(): Promise<Buffer> {
    const st = await this.stat();
    let buf = Buffer.allocUnsafe(Math.max(0, st.size - this.position) || this.tree.tuning.readSize);
    let filled = 0;
    for (;;) {
      if (filled === buf.length) {
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, filled);
        buf = bigger;
      }
      const n = await this.readInto(buf, filled, buf.length - filled, this.position);
      this.position += n;
      filled += n;
      if (n === 0 || filled < buf.length) break;
    }
    return buf.subarray(0, filled);
  }

  async stat(): Promise<SmbStats> {
    this.ensureOpen();
    const res = this.tree.check(
      await this.call((id) => this.tree.queryInfoRequest(id, InfoType.FILE, FileInfoClass.FileAllInformation, 4096), true),
      this.path,
    );
    return statsFromAllInformation(res.body);
  }

  /** Sets the end of file (fs truncate: shorter cuts, longer zero-fills). */
  async truncate(len = 0): Promise<void> {
    this.ensureOpen();
    this.tree.check(await this.call((id) => this.tree.setInfoRequest(id, { kind: 'endOfFile', endOfFile: BigInt(len) }), true), this.path);
  }

  /**
   * Locks `length` bytes at `offset` (MS-SMB2 LOCK): exclusive by default, else shared. It fails at once with
   * EAGAIN (STATUS_LOCK_NOT_GRANTED) when the range is taken, unless `wait`, which waits for as long as it takes.
   * Locks belong to this handle and go with it.
   */
  async lock(offset: number | bigint, length: number | bigint, o: { exclusive?: boolean; wait?: boolean } = {}): Promise<void> {
    this.ensureOpen();
    const flags = (o.exclusive === false ? LockFlags.SHARED_LOCK : LockFlags.EXCLUSIVE_LOCK) | (o.wait ? 0 : LockFlags.FAIL_IMMEDIATELY);
    await this.lockRequest(offset, length, flags, o.wait ? 0 : undefined);
  }

  /** Unlocks a range locked through this handle, exactly as it was locked (ENOLCK when there is none). */
  async unlock(offset: number | bigint, length: number | bigint): Promise<void> {
    this.ensureOpen();
    await this.lockRequest(offset, length, LockFlags.UNLOCK, undefined);
  }

  private async lockRequest(offset: number | bigint, length: number | bigint, flags: number, timeoutMs: number | undefined): Promise<void> {
    const locks = [{ offset: BigInt(offset), length: BigInt(length), flags }];
    const res = await this.call((fileId) => ({
      command: Command.LOCK,
      body: (w) => encodeLockRequest(w, { lockSequenceIndex: 0, lockSequenceNumber: 0, fileId, locks }),
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    }));
    this.tree.check(res, this.path);
  }

  async close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.opts.onClose(this);
    this.closing = (async () => {
      if (this.lost) return; // the server closed it with the connection
      const res = await this.tree.send(() => this.tree.closeRequest(this.id));
      if (res.status !== Status.SUCCESS && res.status !== Status.FILE_CLOSED) throw smbError(res.status, this.unc);
    })();
    return this.closing;
  }

  /** A Readable of the file from `start` to `end` (inclusive, like fs), keeping `concurrency` reads in flight. */
  createReadStream(o: { start?: number; end?: number; highWaterMark?: number; autoClose?: boolean } = {}): Readable {
    return readStream(this, o, o.autoClose ?? true);
  }

  /** A Writable into the file from `start` (default: the handle's position), keeping writes in flight. */
  createWriteStream(o: { start?: number; highWaterMark?: number; autoClose?: boolean } = {}): Writable {
    return writeStream(this, o.start ?? this.position, o.highWaterMark, o.autoClose ?? true);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** The buffers of `parts` from byte `from` on (views, not copies). */
function partsFrom(parts: readonly Buffer[], from: number): Buffer[] {
  const out: Buffer[] = [];
  let skip = from;
  for (const p of parts) {
    if (skip >= p.length) {
      skip -= p.length;
      continue;
    }
    out.push(skip > 0 ? p.subarray(skip) : p);
    skip = 0;
  }
  return out;
}

export function statsFromAllInformation(body: Reader): SmbStats {
  const out = decodeQueryInfoResponse(body).outputBuffer;
  const f = decodeFileInfo(new Reader(out), FileInfoClass.FileAllInformation);
  return new SmbStats({
    creationTime: f.creationTime ?? 0n,
    lastAccessTime: f.lastAccessTime ?? 0n,
    lastWriteTime: f.lastWriteTime ?? 0n,
    changeTime: f.changeTime ?? 0n,
    endOfFile: f.endOfFile ?? 0n,
    allocationSize: f.allocationSize ?? 0n,
    fileAttributes: f.fileAttributes ?? 0,
    fileId: f.indexNumber ?? 0n,
    numberOfLinks: f.numberOfLinks ?? 1,
  });
}

const DEFAULT_STREAM_HIGH_WATER_MARK = 1024 * 1024;

/** One READ's data in the response's memory; `release()` hands the memory back for reuse. */
export interface ChunkView {
  data: Buffer;
  release: () => void;
}

/**
 * The file's bytes from `start` up to `stop` in order, as READs of the tree's read size with `window` of them in
 * flight. The next READ goes out before a chunk is handed on, so the server keeps sending while the consumer writes
 * the chunk somewhere. Ends at end of file; after a short read the rest is asked for again from where it stopped.
 */
export async function* readAhead(h: FileHandle, start: number, stop: number, window: number): AsyncGenerator<ChunkView> {
  const size = h.tuning.readSize;
  const inFlight: { offset: number; length: number; view: Promise<ChunkView> }[] = [];
  let next = start;
  const issue = (): void => {
    while (inFlight.length < window && next < stop) {
      const length = Math.min(size, stop - next);
      const view = h.readChunkView(next, length);
      view.catch(() => {});
      inFlight.push({ offset: next, length, view });
      next += length;
    }
  };
  const drain = async (): Promise<void> => {
    for (const r of inFlight.splice(0)) (await r.view.catch(() => undefined))?.release();
  };
  try {
    issue();
    while (inFlight.length > 0) {
      const head = inFlight.shift()!;
      const chunk = await head.view;
      if (chunk.data.length === 0) {
        chunk.release();
        break; // end of file
      }
      if (chunk.data.length < head.length) {
        await drain();
        next = head.offset + chunk.data.length;
      }
      issue();
      yield chunk;
    }
  } finally {
    await drain();
  }
}

function readStream(
  handle: FileHandle | (() => Promise<FileHandle>),
  o: { start?: number; end?: number; highWaterMark?: number },
  autoClose: boolean,
): Readable {
  async function* chunks(): AsyncGenerator<Buffer> {
    const h = typeof handle === 'function' ? await handle() : handle;
    try {
      const stop = o.end === undefined ? Infinity : o.end + 1;
      // The consumer may keep each chunk, so none is released: the pool never hands that memory out again.
      for await (const chunk of readAhead(h, o.start ?? 0, stop, h.tuning.concurrency)) yield chunk.data;
    } finally {
      if (autoClose) await h.close();
    }
  }
  return Readable.from(chunks(), { objectMode: false, highWaterMark: o.highWaterMark ?? DEFAULT_STREAM_HIGH_WATER_MARK });
}

function writeStream(
  handle: FileHandle | (() => Promise<FileHandle>),
  start: number | undefined,
  highWaterMark: number | undefined,
  autoClose: boolean,
): Writable {
  let h: FileHandle | undefined;
  let size = 0;
  let window = 1;
  let position = start ?? 0;
  let parts: Buffer[] = [];
  let partsBytes = 0;
  const inFlight: Promise<void>[] = [];
  /** The next `n` bytes written to the stream, as views of the chunks (one WRITE sends them gathered). */
  const take = (n: number): Buffer[] => {
    const out: Buffer[] = [];
    let taken = 0;
    while (taken < n) {
      const p = parts[0]!;
      const k = Math.min(p.length, n - taken);
      out.push(k === p.length ? p : p.subarray(0, k));
      taken += k;
      if (k === p.length) parts.shift();
      else parts[0] = p.subarray(k);
    }
    partsBytes -= n;
    return out;
  };
  const issue = (data: Buffer[]) => {
    const p = h!.writeChunk(position, data);
    p.catch(() => {});
    inFlight.push(p);
    for (const d of data) position += d.length;
  };
  return new Writable({
    highWaterMark: highWaterMark ?? DEFAULT_STREAM_HIGH_WATER_MARK,
    construct(cb) {
      const ready = (x: FileHandle) => {
        h = x;
        size = x.tuning.writeSize;
        window = x.tuning.uploadConcurrency;
        if (start === undefined) position = x.currentPosition;
      };
      if (typeof handle !== 'function') {
        ready(handle);
        cb();
        return;
      }
      handle().then(
        (x) => {
          ready(x);
          cb();
        },
        (e: Error) => cb(e),
      );
    },
    write(chunk: Buffer, _enc, cb) {
      parts.push(chunk);
      partsBytes += chunk.length;
      // A full window holds up only a WRITE that is ready to go: meanwhile the next one's bytes are taken in, so
      // that it leaves the moment one of the window's answers comes back.
      (async () => {
        while (partsBytes >= size) {
          while (inFlight.length >= window) await inFlight.shift()!;
          issue(take(size));
        }
      })().then(() => cb(), (e: Error) => cb(e));
    },
    final(cb) {
      (async () => {
        if (partsBytes > 0) issue(take(partsBytes));
        while (inFlight.length > 0) await inFlight.shift()!;
        if (autoClose) await h!.close();
      })().then(() => cb(), (e: Error) => cb(e));
    },
    destroy(err, cb) {
      parts = [];
      partsBytes = 0;
      (async () => {
        for (const p of inFlight.splice(0)) await p.catch(() => undefined);
        if (autoClose && h) await h.close().catch(() => undefined);
      })().then(() => cb(err), () => cb(err));
    },
  });
}

export { readStream, writeStream };
