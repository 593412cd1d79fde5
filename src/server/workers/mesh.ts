import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { deserialize, serialize } from 'node:v8';

/**
 * The links between the worker processes of one server: a local socket per worker (Linux abstract namespace, so
 * nothing is left on disk and no other machine can reach it), and one outgoing stream to each peer, so that what one
 * worker sends another arrives in order. Messages are structured clones (v8 serialization: Buffers stay binary),
 * each framed by a 32-bit length.
 */

type Frame = { k: 'msg'; body: unknown } | { k: 'req'; id: number; body: unknown } | { k: 'res'; id: number; body: unknown; error?: string };

/** Frames larger than this close the link: peers are our own processes, but a bug must not take all memory. */
const MAX_FRAME = 64 * 1024 * 1024;

export interface MeshHandlers {
  onMessage(from: number, body: unknown): void;
  onRequest(from: number, body: unknown): Promise<unknown>;
}

export function meshAddress(group: string, index: number): string {
  return `\0smbkit-${group}-${index}`;
}

export class Mesh {
  readonly index: number;
  private readonly group: string;
  private readonly handlers: MeshHandlers;
  private server: Server | undefined;
  private readonly out = new Map<number, Socket>();
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; to: number }>();
  private nextId = 1;

  constructor(group: string, index: number, handlers: MeshHandlers) {
    this.group = group;
    this.index = index;
    this.handlers = handlers;
  }

  listen(): Promise<void> {
    const server = createServer((s) => this.read(s));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(meshAddress(this.group, this.index), () => resolve());
    });
  }

  send(to: number, body: unknown): void {
    this.write(to, { k: 'msg', body });
  }

  /** `onAnswer` sees the answer as it is read, before any frame read after it (a promise settles a turn later). */
  request(to: number, body: unknown, onAnswer?: (body: unknown) => void): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve: onAnswer ? (v) => (onAnswer(v), resolve(v)) : resolve, reject, to });
      this.write(to, { k: 'req', id, body });
    });
  }

  /**
   * A request to a worker that may be restarting (its requests fail until it is back): tried again every 100 ms;
   * the last failure is thrown once `ms` have passed.
   */
  async requestRetrying(to: number, m: unknown, ms: number, onAnswer?: (body: unknown) => void): Promise<unknown> {
    const deadline = Date.now() + ms;
    for (;;) {
      try {
        return await this.request(to, m, onAnswer);
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  close(): void {
    this.server?.close();
    for (const s of this.out.values()) s.destroy();
    this.out.clear();
  }

  private write(to: number, f: Frame): void {
    let s = this.out.get(to);
    if (!s || s.destroyed) {
      s = createConnection(meshAddress(this.group, to));
      // The first frame says who we are.
      s.write(frame({ k: 'msg', body: { hello: this.index } }));
      s.on('error', () => {});
      s.on('close', () => {
        if (this.out.get(to) === s) this.out.delete(to);
        this.failRequests(to, new Error(`worker ${to} is gone`));
      });
      this.out.set(to, s);
    }
    s.write(frame(f));
  }

  /** A peer vanished (it died, or the link broke): what it was asked will not be answered. */
  failRequests(to: number, err: Error): void {
    for (const [id, w] of this.waiting) {
      if (w.to !== to) continue;
      this.waiting.delete(id);
      w.reject(err);
    }
  }

  private read(s: Socket): void {
    let from = -1;
    let buf: Buffer = Buffer.alloc(0);
    s.on('error', () => {});
    s.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      while (buf.length >= 4) {
        const n = buf.readUInt32LE(0);
        if (n > MAX_FRAME) {
          s.destroy();
          return;
        }
        if (buf.length < 4 + n) break;
        const f = deserialize(buf.subarray(4, 4 + n)) as Frame;
        buf = buf.subarray(4 + n);
        if (from < 0) {
          from = (f.body as { hello: number }).hello;
          continue;
        }
        this.dispatch(from, f);
      }
    });
  }

  private dispatch(from: number, f: Frame): void {
    switch (f.k) {
      case 'msg':
        this.handlers.onMessage(from, f.body);
        return;
      case 'req':
        this.handlers.onRequest(from, f.body).then(
          (body) => this.write(from, { k: 'res', id: f.id, body }),
          (err: unknown) => this.write(from, { k: 'res', id: f.id, body: undefined, error: (err as Error).stack ?? String(err) }),
        );
        return;
      case 'res': {
        const w = this.waiting.get(f.id);
        if (!w) return;
        this.waiting.delete(f.id);
        if (f.error !== undefined) w.reject(new Error(`worker ${from}: ${f.error}`));
        else w.resolve(f.body);
        return;
      }
    }
  }
}

function frame(f: Frame): Buffer {
  const body = serialize(f);
  const head = Buffer.allocUnsafe(4);
  head.writeUInt32LE(body.length, 0);
  return Buffer.concat([head, body]);
}
