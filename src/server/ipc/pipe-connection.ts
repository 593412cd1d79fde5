/**
 * The application's side of one open of a registered named pipe: authenticated, message-mode IPC between an SMB
 * client (a Windows program calling CreateFile("\\\\server\\pipe\\name"), smbclient, impacket, smbkit's client) and
 * a Node service. Each client WRITE (or the write half of a TRANSCEIVE) arrives as one 'message'; each send() is
 * one message the client reads (a TRANSCEIVE returns the next one).
 */
import { captureRejectionSymbol, EventEmitter } from 'node:events';
import type { Logger } from '../../util/log.js';
import type { PipeBackend, PipeCaller, PipeEndpoint } from './pipe.js';

/** Who opened the pipe: the SMB session's identity and the client's address. */
export interface PipeUser {
  /** The account name; '' for anonymous sessions, the name the client gave for guest sessions. */
  readonly name: string;
  /** The domain the client named at logon. */
  readonly domain: string;
  readonly anonymous: boolean;
  readonly guest: boolean;
  /** The client's IP address. */
  readonly address: string;
}

/** Client messages held while nobody consumes them; a client writing past it is told INSUFFICIENT_RESOURCES. */
const MAX_INBOX_BYTES = 4 << 20;

let nextConnectionId = 1;

export interface PipeConnectionEvents {
  message: [data: Buffer];
  close: [];
  drain: [];
}

/**
 * One client's open of a registered pipe. Consume messages with `on('message')`, `await receive()` or
 * `for await (const m of conn)` (use one style per connection); messages that arrive before a consumer is there
 * wait for it. Exceptions thrown (or promises rejected) by the handler or a listener are logged and close this
 * connection only.
 */
export class PipeConnection extends EventEmitter<PipeConnectionEvents> {
  /** Unique within the process. */
  readonly id = nextConnectionId++;
  /** The pipe's name as registered (lower case). */
  readonly pipe: string;
  readonly user: PipeUser;
  private readonly endpoint: PipeEndpoint;
  private readonly log: Logger;
  private readonly highWaterMark: number;
  private readonly inbox: Buffer[] = [];
  private inboxBytes = 0;
  private readonly receivers: ((m: Buffer | undefined) => void)[] = [];
  private needDrain = false;
  private isClosed = false;

  /** @internal made by the pipe registry for each open. */
  constructor(endpoint: PipeEndpoint, caller: PipeCaller, log: Logger, highWaterMark: number) {
    super({ captureRejections: true });
    this.pipe = endpoint.name;
    this.endpoint = endpoint;
    this.log = log;
    this.highWaterMark = highWaterMark;
    this.user = Object.freeze({ name: caller.user, domain: caller.domain, anonymous: caller.anonymous, guest: caller.guest, address: caller.address });
    endpoint.onRead = () => {
      if (this.needDrain && endpoint.bytesAvailable < this.highWaterMark) {
        this.needDrain = false;
        this.safeEmit('drain');
      }
    };
    (this as EventEmitter).on('newListener', (event: string | symbol) => {
      // A 'message' listener added now gets what arrived before it, once the caller's code has run.
      if (event === 'message' && this.inbox.length > 0) queueMicrotask(() => this.flushInbox());
    });
  }

  /** The connection ended (either side closed); no more messages flow. */
  get closed(): boolean {
    return this.isClosed;
  }

  /**
   * Queues one message for the client. Returns false when the client has not read what was sent before (more
   * than the high-water mark is waiting; 'drain' follows once it reads), or when the connection is closed (the
   * message is dropped: check `closed`).
   */
  send(data: Buffer | Uint8Array | string): boolean {
    if (this.isClosed) return false;
    const message = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
    this.endpoint.push(message);
    if (this.endpoint.bytesAvailable >= this.highWaterMark) {
      this.needDrain = true;
      return false;
    }
    return true;
  }

  /** Closes the server's end: the client can still read what was sent, then its reads fail with PIPE_BROKEN. */
  close(): void {
    if (this.isClosed) return;
    this.endpoint.end();
    this.finish();
  }

  /** The next message from the client, or undefined once the connection is closed. */
  receive(): Promise<Buffer | undefined> {
    const m = this.takeInbox();
    if (m !== undefined) return Promise.resolve(m);
    if (this.isClosed) return Promise.resolve(undefined);
    return new Promise((resolve) => this.receivers.push(resolve));
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer, void, undefined> {
    for (;;) {
      const m = await this.receive();
      if (m === undefined) return;
      yield m;
    }
  }

  /** @internal EventEmitter's captureRejections: an async listener's rejection closes the connection. */
  override [captureRejectionSymbol]<K>(err: Error, _event: keyof PipeConnectionEvents | K, ..._args: unknown[]): void {
    this.fail(err);
  }

  /** @internal The backend the endpoint calls. */
  backend(): PipeBackend {
    return {
      receive: (message) => this.deliver(message),
      clientClosed: () => this.finish(),
    };
  }

  /** @internal The handler or a listener failed: log it and close this connection. */
  fail(err: unknown): void {
    this.log.error('pipe handler failed', { pipe: this.pipe, user: this.user.name, error: err instanceof Error ? err.message : String(err) });
    this.close();
  }

  private deliver(view: Buffer): 'ok' | 'full' {
    const message = Buffer.from(view);
    const receiver = this.receivers.shift();
    if (receiver) {
      receiver(message);
      return 'ok';
    }
    if (this.listenerCount('message') > 0 && this.inbox.length === 0) {
      this.safeEmit('message', message);
      return 'ok';
    }
    if (this.inboxBytes + message.length > MAX_INBOX_BYTES) return 'full';
    this.inbox.push(message);
    this.inboxBytes += message.length;
    return 'ok';
  }

  private takeInbox(): Buffer | undefined {
    const m = this.inbox.shift();
    if (m !== undefined) this.inboxBytes -= m.length;
    return m;
  }

  private flushInbox(): void {
    while (this.inbox.length > 0 && this.listenerCount('message') > 0) this.safeEmit('message', this.takeInbox()!);
  }

  private finish(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const r of this.receivers.splice(0)) r(undefined);
    this.safeEmit('close');
  }

  /** Emits; a listener that throws closes the connection instead of reaching the SMB request that caused it. */
  private safeEmit<K extends keyof PipeConnectionEvents>(event: K, ...args: PipeConnectionEvents[K]): void {
    try {
      (this.emit as (e: K, ...a: PipeConnectionEvents[K]) => boolean)(event, ...args);
    } catch (err) {
      if (event === 'close') this.log.error('pipe close listener failed', { pipe: this.pipe, error: err instanceof Error ? err.message : String(err) });
      else this.fail(err);
    }
  }
}
