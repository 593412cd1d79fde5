import type { Socket } from 'node:net';
import { WireError } from '../errors.js';
import {
  encodePositiveSessionResponse,
  FrameAccumulator,
  frameHeader,
  NetbiosPacketType,
} from '../protocol/framing.js';
import { sharedPool } from '../util/buffer-pool.js';
import type { Transport } from './types.js';

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
  private readonly frames: FrameAccumulator;
  private sessionEstablished: boolean;
  private closed = false;
  private closeReason = 'peer closed';

  constructor(socket: Socket, kind: 'direct' | 'netbios', maxFrameSize: number) {
    this.socket = socket;
    this.kind = kind;
    this.remoteAddress = normalizeAddress(socket.remoteAddress ?? '');
    this.remotePort = socket.remotePort ?? 0;
    this.localAddress = normalizeAddress(socket.localAddress ?? '');
    this.localPort = socket.localPort ?? 0;
    this.frames = new FrameAccumulator({ netbios: kind === 'netbios', maxFrameSize, alloc: (n) => sharedPool.acquire(n) });
    this.sessionEstablished = kind === 'direct';
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => {
      this.closeReason = `socket error: ${err.message}`;
    });
    socket.on('close', () => {
      this.closed = true;
      this.onClose(this.closeReason);
    });
  }

  get congested(): boolean {
    return this.socket.writableNeedDrain;
  }

  private onData(chunk: Buffer): void {
    this.frames.push(chunk);
    try {
      for (;;) {
        if (this.closed) return;
        const payload = this.frames.next();
        if (payload === undefined) return;
        if (this.frames.type === NetbiosPacketType.SESSION_MESSAGE) {
          if (!this.sessionEstablished) throw new WireError('session message before SESSION REQUEST');
          this.onMessage(payload);
        } else if (this.frames.type === NetbiosPacketType.SESSION_REQUEST && !this.sessionEstablished) {
          // RFC 1002 4.3.2: any called name is accepted (as Samba does by default).
          this.sessionEstablished = true;
          this.socket.write(encodePositiveSessionResponse());
        } else if (this.frames.type === NetbiosPacketType.SESSION_KEEP_ALIVE) {
          continue;
        } else {
          throw new WireError(`unexpected NetBIOS packet type 0x${this.frames.type.toString(16)}`);
        }
      }
    } catch (err) {
      this.closeReason = err instanceof WireError ? `bad framing: ${err.message}` : `framing failure: ${String(err)}`;
      this.close(true);
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

  /** Resolves when the socket's write buffer has drained (for backpressure). */
  drained(): Promise<void> {
    if (!this.socket.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.once('drain', done);
      this.socket.once('close', done);
    });
  }

  pause(): void {
    this.socket.pause();
  }
  resume(): void {
    this.socket.resume();
  }

  close(destroy = false): void {
    if (this.closed) return;
    if (destroy) this.socket.destroy();
    else this.socket.end();
  }
}

const EMPTY = Buffer.alloc(0);

/** '::ffff:127.0.0.1' -> '127.0.0.1'. */
export function normalizeAddress(a: string): string {
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}
