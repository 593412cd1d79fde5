/**
 * The server end of one open of a named pipe. Pipes are message mode (MS-FSCC 2.4.34: FILE_PIPE_MESSAGE_TYPE):
 * each client WRITE is one message for the backend behind the pipe (an RPC association, or a pipe handler an
 * application registered), and each message the backend sends is read back whole, or in pieces with
 * STATUS_BUFFER_OVERFLOW. Either side may close: the client by closing its handle, the backend by ending the
 * pipe (messages already queued can still be read, then reads report the pipe broken).
 */

/** Who opened a pipe, as the backends see it. */
export interface PipeCaller {
  /** The account name ('' for anonymous sessions; the name the client gave for guest sessions). */
  user: string;
  /** The domain the client named at logon. */
  domain: string;
  anonymous: boolean;
  guest: boolean;
  /** The client's IP address. */
  address: string;
}

/** What serves one open: it receives the client's messages and learns when the client goes away. */
export interface PipeBackend {
  /** One message written by the client; 'full' refuses it for now (the client is told INSUFFICIENT_RESOURCES). */
  receive(message: Buffer): 'ok' | 'full';
  /** The client closed its handle (or its tree, session or connection ended). Called once. */
  clientClosed(): void;
}

export type PipeWriteResult = 'ok' | 'broken' | 'full';

export class PipeEndpoint {
  readonly name: string;
  private backend: PipeBackend | undefined;
  /** Whole messages waiting to be read by the client; the first may be partly read already. */
  private readonly messages: Buffer[] = [];
  private queuedBytes = 0;
  private readonly waiters = new Set<() => void>();
  /** The client closed its handle. */
  closed = false;
  /** The backend ended the pipe: no more messages will come. */
  ended = false;
  /** Called after the client read from the queue (backends use it for flow control). */
  onRead: (() => void) | undefined;
  /** FilePipeInformation as the client set it (MS-FSCC 2.4.33). */
  readMode = 1;
  completionMode = 0;

  constructor(name: string) {
    this.name = name;
  }

  /** Connects the backend that serves this open (once, right after the open). */
  attach(backend: PipeBackend): void {
    if (this.backend) throw new Error('pipe already has a backend');
    this.backend = backend;
  }

  /** No more data will flow from the backend, or the client is gone. */
  get broken(): boolean {
    return this.closed || this.ended;
  }

  get hasMessage(): boolean {
    return this.messages.length > 0;
  }

  get messageCount(): number {
    return this.messages.length;
  }

  get bytesAvailable(): number {
    return this.queuedBytes;
  }

  /** Length left of the message at the head of the queue (0 when none). */
  get headLength(): number {
    return this.messages[0]?.length ?? 0;
  }

  /** One message from the backend to the client. Ignored once either side closed. */
  push(message: Buffer): void {
    if (this.broken) return;
    this.messages.push(message);
    this.queuedBytes += message.length;
    this.wake();
  }

  /** The backend closes its end; what is queued stays readable. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.wake();
  }

  /** One message from the client (a view of the received frame: backends copy what they keep). */
  write(data: Buffer): PipeWriteResult {
    if (this.broken || !this.backend) return 'broken';
    return this.backend.receive(data);
  }

  /**
   * Up to `max` bytes of the head message; `more` when the message did not fit (the rest stays for the next
   * read). undefined when nothing is queued.
   */
  read(max: number): { data: Buffer; more: boolean } | undefined {
    const head = this.messages[0];
    if (!head) return undefined;
    let out: { data: Buffer; more: boolean };
    if (head.length <= max) {
      this.messages.shift();
      this.queuedBytes -= head.length;
      out = { data: head, more: false };
    } else {
      this.messages[0] = head.subarray(max);
      this.queuedBytes -= max;
      out = { data: head.subarray(0, max), more: true };
    }
    this.onRead?.();
    return out;
  }

  /** Without consuming: the head message's first `max` bytes. */
  peek(max: number): Buffer {
    return (this.messages[0] ?? Buffer.alloc(0)).subarray(0, max);
  }

  /** Calls `f` once when a message arrives or the pipe breaks; returns a function that cancels the wait. */
  onReadable(f: () => void): () => void {
    const once = () => {
      this.waiters.delete(once);
      f();
    };
    this.waiters.add(once);
    return () => this.waiters.delete(once);
  }

  /** The client's handle closed: queued messages are dropped and the backend is told. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.messages.length = 0;
    this.queuedBytes = 0;
    this.wake();
    this.backend?.clientClosed();
  }

  private wake(): void {
    for (const f of [...this.waiters]) f();
  }
}
