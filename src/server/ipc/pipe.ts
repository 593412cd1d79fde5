/**
 * Named pipes: the registry of pipe names and one PipeEndpoint per open. Pipes are message mode (MS-FSCC
 * 2.4.34: FILE_PIPE_MESSAGE_TYPE): each write delivers one request to the RPC association behind the pipe, and
 * each response PDU becomes one message that reads return whole, or in pieces with STATUS_BUFFER_OVERFLOW.
 */
import { RpcAssociation, type RpcCaller, type RpcInterface } from './rpc-server.js';
import { srvsvcInterface, wkssvcInterface, type IpcHost } from './services.js';

/** Pipe names served, lower case, with the interfaces behind each. */
const PIPES: ReadonlyMap<string, (host: IpcHost) => RpcInterface[]> = new Map([
  ['srvsvc', (host: IpcHost) => [srvsvcInterface(host)]],
  ['wkssvc', (host: IpcHost) => [wkssvcInterface(host)]],
]);

/** The canonical (lower-case) pipe name for a CREATE name: case-insensitive, with or without a leading backslash. */
export function pipeName(name: string): string | undefined {
  const n = name.replace(/^\\+/, '').toLowerCase();
  return PIPES.has(n) ? n : undefined;
}

/** Bytes of responses a pipe holds for a client that does not read them; writes beyond it are refused. */
const MAX_QUEUED_BYTES = 4 << 20;

export type PipeWriteResult = 'ok' | 'broken' | 'full';

export class PipeEndpoint {
  readonly name: string;
  private readonly rpc: RpcAssociation;
  /** Whole messages waiting to be read; the first may be partly read already. */
  private readonly messages: Buffer[] = [];
  private queuedBytes = 0;
  private readonly waiters = new Set<() => void>();
  closed = false;
  /** FilePipeInformation as the client set it (MS-FSCC 2.4.33). */
  readMode = 1;
  completionMode = 0;

  constructor(name: string, host: IpcHost, caller: RpcCaller) {
    this.name = name;
    const make = PIPES.get(name);
    if (!make) throw new RangeError(`no pipe named ${name}`);
    this.rpc = new RpcAssociation(make(host), `\\PIPE\\${name}`, caller);
  }

  /** The association failed or the pipe was closed: no more data will flow. */
  get broken(): boolean {
    return this.closed || this.rpc.broken;
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

  /** One message from the client. */
  write(data: Buffer): PipeWriteResult {
    if (this.broken) return 'broken';
    if (this.queuedBytes > MAX_QUEUED_BYTES) return 'full';
    for (const m of this.rpc.write(data)) {
      this.messages.push(m);
      this.queuedBytes += m.length;
    }
    if (this.messages.length > 0) this.wake();
    return this.rpc.broken && this.messages.length === 0 ? 'broken' : 'ok';
  }

  /**
   * Up to `max` bytes of the head message; `more` when the message did not fit (the rest stays for the next
   * read). undefined when nothing is queued.
   */
  read(max: number): { data: Buffer; more: boolean } | undefined {
    const head = this.messages[0];
    if (!head) return undefined;
    if (head.length <= max) {
      this.messages.shift();
      this.queuedBytes -= head.length;
      return { data: head, more: false };
    }
    this.messages[0] = head.subarray(max);
    this.queuedBytes -= max;
    return { data: head.subarray(0, max), more: true };
  }

  /** Without consuming: the head message's first `max` bytes. */
  peek(max: number): Buffer {
    return (this.messages[0] ?? Buffer.alloc(0)).subarray(0, max);
  }

  /** Calls `f` once when a message arrives or the pipe closes; returns a function that cancels the wait. */
  onReadable(f: () => void): () => void {
    const once = () => {
      this.waiters.delete(once);
      f();
    };
    this.waiters.add(once);
    return () => this.waiters.delete(once);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.messages.length = 0;
    this.queuedBytes = 0;
    this.wake();
  }

  private wake(): void {
    for (const f of [...this.waiters]) f();
  }
}
