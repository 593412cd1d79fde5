import { Socket } from 'node:net';
import { WireError } from '../errors.js';
import { encodePositiveSessionResponse, frameHeader, NetbiosPacketType, parseFrameHeader } from '../protocol/framing.js';
import { sharedPool, type BufferPool } from '../util/buffer-pool.js';
import type { Transport } from './types.js';

/** Size of the buffer small frames are read into; frames are views of it, so it is never reused. */
const STAGE_SIZE = 256 * 1024;
/** Room below which a new stage buffer is started. */
const MIN_ROOM = 16 * 1024;
/** Frames at least this large are read straight into a buffer of their own (from the pool). */
const LARGE_FRAME = 128 * 1024;
/**
 * After a large frame the next read takes at most this much: enough for the headers of another large frame (READ
 * response, WRITE request), so that its payload lands in its own buffer instead of being copied out of the stage.
 */
const LEAD_AFTER_LARGE = 128;

/**
 * Reads frames off a socket with the kernel writing straight into their final buffers (Node's `onread`): small
 * frames land in a stage buffer and are handed on as views; a large frame (a WRITE payload) gets a pooled buffer
 * of its exact size, and the socket reads into it until it is complete. No payload is copied in user space.
 */
export class FrameReader {
  private stage = Buffer.allocUnsafe(STAGE_SIZE);
  private start = 0;
  private end = 0;
  private large: Buffer | undefined;
  private largeFilled = 0;
  private largeType = 0;
  private afterLarge = false;

  constructor(
    private readonly netbios: boolean,
    private readonly maxFrameSize: number,
    /** Receives each whole frame; may be set after construction (before the first read). */
    public deliver: (type: number, payload: Buffer) => void,
    private readonly pool: BufferPool = sharedPool,
  ) {}

  /** Where the next read goes. */
  nextBuffer(): Buffer {
    if (this.large) return this.large.subarray(this.largeFilled);
    if (this.stage.length - this.end < MIN_ROOM) this.roll(STAGE_SIZE);
    if (this.afterLarge && this.start === this.end) return this.stage.subarray(this.end, this.end + LEAD_AFTER_LARGE);
    return this.stage.subarray(this.end);
  }

  /** `n` bytes arrived in the buffer nextBuffer() gave. Throws WireError on bad framing. */
  received(n: number): void {
    if (this.large) {
      this.largeFilled += n;
      if (this.largeFilled === this.large.length) {
        const frame = this.large;
        this.large = undefined;
        this.afterLarge = true;
        this.deliver(this.largeType, frame);
      }
      return;
    }
    this.afterLarge = false;
    this.end += n;
    while (this.end - this.start >= 4) {
      const s = this.stage;
      const { type, length } = parseFrameHeader(s[this.start]!, s[this.start + 1]!, s[this.start + 2]!, s[this.start + 3]!, this.netbios);
      if (length > this.maxFrameSize) throw new WireError(`frame of ${length} bytes exceeds the limit ${this.maxFrameSize}`);
      const have = this.end - this.start - 4;
      if (have >= length) {
        const payload = s.subarray(this.start + 4, this.start + 4 + length);
        this.start += 4 + length;
        this.deliver(type, payload);
        continue;
      }
      if (length >= LARGE_FRAME) {
        this.large = this.pool.acquire(length);
        s.copy(this.large, 0, this.start + 4, this.end);
        this.largeFilled = have;
        this.largeType = type;
        this.start = this.end;
        return;
      }
      // A small frame still incomplete: make sure the stage can hold all of it.
      if (this.stage.length - this.start < 4 + length) this.roll(Math.max(STAGE_SIZE, 4 + length));
      return;
    }
  }

  /** Starts a new stage buffer, carrying over the unparsed bytes (earlier frames keep viewing the old one). */
  private roll(size: number): void {
    const next = Buffer.allocUnsafe(size);
    const tail = this.end - this.start;
    this.stage.copy(next, 0, this.start, this.end);
    this.stage = next;
    this.start = 0;
    this.end = tail;
  }
}

/**
 * A Transport over a TCP socket. Direct TCP (445) or NetBIOS session service (139, RFC 1002): on 139 the first
 * packet must be a SESSION REQUEST, answered positively; keep-alives are dropped. Writes are corked per message.
 */
export class TcpTransport implements Transport {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly kind: 'direct' | 'netbios';
  onMessage: (payload: Buffer) => void = () => {};
  onClose: (reason: string) => void = () => {};
  private readonly socket: Socket;
  private sessionEstablished: boolean;
  private closed = false;
  private closeReason = 'peer closed';
  private drainWait: Promise<void> | undefined;

  /**
   * `accepted` is a socket from a server created with `pauseOnConnect`: its handle is taken over by a socket
   * that reads into FrameReader's buffers.
   */
  /** `established`: a NetBIOS session whose SESSION REQUEST was answered elsewhere (a connection moved here). */
  /** `largeFrames`: where frames of LARGE_FRAME bytes and more are read into (their receiver gives them back). */
  constructor(accepted: Socket, kind: 'direct' | 'netbios', maxFrameSize: number, established = false, largeFrames: BufferPool = sharedPool) {
    this.kind = kind;
    this.sessionEstablished = kind === 'direct' || established;
    const reader = new FrameReader(kind === 'netbios', maxFrameSize, (type, payload) => this.onFrame(type, payload), largeFrames);
    this.socket = adoptWithUserBuffers(accepted, reader, (err) => {
      this.closeReason = err instanceof WireError ? `bad framing: ${err.message}` : `framing failure: ${String(err)}`;
      this.close(true);
    });
    const socket = this.socket;
    this.remoteAddress = normalizeAddress(socket.remoteAddress ?? '');
    this.remotePort = socket.remotePort ?? 0;
    this.localAddress = normalizeAddress(socket.localAddress ?? '');
    this.localPort = socket.localPort ?? 0;
    socket.setNoDelay(true);
    socket.on('error', (err) => {
      this.closeReason = `socket error: ${err.message}`;
    });
    socket.on('end', () => socket.end());
    socket.on('close', () => {
      if (this.closed) return;
      this.closed = true;
      this.onClose(this.closeReason);
    });
    socket.resume();
  }

  get congested(): boolean {
    return this.socket.writableNeedDrain;
  }

  private onFrame(type: number, payload: Buffer): void {
    if (this.closed) return;
    if (type === NetbiosPacketType.SESSION_MESSAGE) {
      if (!this.sessionEstablished) throw new WireError('session message before SESSION REQUEST');
      this.onMessage(payload);
    } else if (type === NetbiosPacketType.SESSION_REQUEST && !this.sessionEstablished) {
      // RFC 1002 4.3.2: any called name is accepted (as Samba does by default).
      this.sessionEstablished = true;
      this.socket.write(encodePositiveSessionResponse());
    } else if (type !== NetbiosPacketType.SESSION_KEEP_ALIVE) {
      throw new WireError(`unexpected NetBIOS packet type 0x${type.toString(16)}`);
    }
  }

  send(chunks: readonly Buffer[], onWritten?: () => void): void {
    if (this.closed || this.socket.destroyed) {
      onWritten?.();
      return;
    }
    let length = 0;
    for (const c of chunks) length += c.length;
    this.socket.cork();
    this.socket.write(frameHeader(length));
    for (const c of chunks) if (c.length > 0) this.socket.write(c);
    // The write callback runs once this data has been handed to the kernel (or failed).
    this.socket.write(EMPTY, onWritten ? () => onWritten() : undefined);
    this.socket.uncork();
  }

  drained(): Promise<void> {
    if (!this.socket.writableNeedDrain) return Promise.resolve();
    // One promise for every waiter, so a busy connection does not pile up listeners.
    this.drainWait ??= new Promise((resolve) => {
      const done = () => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        this.drainWait = undefined;
        resolve();
      };
      this.socket.once('drain', done);
      this.socket.once('close', done);
    });
    return this.drainWait;
  }

  pause(): void {
    this.socket.pause();
  }
  resume(): void {
    this.socket.resume();
  }

  /**
   * Gives the socket up, to move the connection to another process: nothing more is read or reported here. Only
   * before anything was answered on it but a NetBIOS session request.
   */
  detach(): { socket: Socket; established: boolean } {
    this.closed = true;
    this.socket.pause();
    return { socket: this.socket, established: this.sessionEstablished };
  }

  close(destroy = false): void {
    if (this.closed) return;
    if (destroy) this.socket.destroy();
    else this.socket.end();
  }
}

/**
 * Moves an accepted socket's handle into a new Socket whose reads go into FrameReader's buffers (the `onread`
 * option exists only for sockets we construct). Falls back to ordinary 'data' events where the handle is not
 * reachable.
 */
function adoptWithUserBuffers(accepted: Socket, reader: FrameReader, fail: (err: unknown) => void): Socket {
  const handle = (accepted as unknown as { _handle?: unknown })._handle;
  const onRead = (n: number) => {
    try {
      reader.received(n);
    } catch (err) {
      fail(err);
      return false;
    }
    return true;
  };
  if (handle) {
    (accepted as unknown as { _handle: unknown })._handle = null;
    // The husk keeps nothing open; destroying it lets net.Server's connection count (and close()) move on.
    accepted.destroy();
    return new Socket({
      handle,
      readable: true,
      writable: true,
      onread: { buffer: () => reader.nextBuffer(), callback: onRead },
    } as ConstructorParameters<typeof Socket>[0]);
  }
  accepted.on('data', (chunk: Buffer) => {
    let off = 0;
    while (off < chunk.length) {
      const dst = reader.nextBuffer();
      const n = chunk.copy(dst, 0, off);
      off += n;
      if (!onRead(n)) return;
    }
  });
  return accepted;
}

const EMPTY = Buffer.alloc(0);

/** '::ffff:127.0.0.1' -> '127.0.0.1'. */
export function normalizeAddress(a: string): string {
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}
