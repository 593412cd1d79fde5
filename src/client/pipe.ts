/**
 * A named pipe opened on IPC$ (MS-SMB2 3.2.4.5 on a pipe share). Pipes are message mode: each write() is one
 * message for the server, read() returns the server's next message whole, and transact() writes one message and
 * returns the answer in one FSCTL_PIPE_TRANSCEIVE (MS-FSCC 2.3.50). STATUS_BUFFER_OVERFLOW on a READ or a
 * transceive only says "more of this message follows": the rest is read and joined.
 */
import type { SmbError } from '../errors.js';
import { Status } from '../protocol/nt-status.js';
import type { FileId } from '../protocol/smb2/commands/file-id.js';
import { decodeIoctlResponse, encodeIoctlRequest } from '../protocol/smb2/commands/ioctl.js';
import { decodeReadResponse } from '../protocol/smb2/commands/read.js';
import { AccessMask, Command, CreateDisposition, Fsctl, IoctlFlags, ShareAccess } from '../protocol/smb2/constants.js';
import type { SmbRequest, SmbResponse } from './connection.js';
import { clientError, smbError } from './errors.js';
import type { Tree } from './tree.js';

/** Largest whole message read() and transact() assemble (a server cannot make the client buffer without end). */
const MAX_MESSAGE = 64 * 1024 * 1024;
/** Bytes asked for per READ of a message. */
const READ_SIZE = 65536;

/** A piece of a message: `more` when the message continues (STATUS_BUFFER_OVERFLOW). */
export interface PipeChunk {
  data: Buffer;
  more: boolean;
}

export interface PipeReadOptions {
  /** Milliseconds to wait for a message; default: no limit (close() ends a waiting read with EPIPE). */
  timeoutMs?: number;
}

export interface PipeTransactOptions {
  /** Milliseconds to wait for the answer; default the connection's request timeout. */
  timeoutMs?: number;
}

/** Largest message each request type carries (the server's MaxWriteSize and MaxTransactSize). */
export interface PipeLimits {
  maxWrite: number;
  maxTransact: number;
}

export class SmbPipe {
  private closed = false;
  /** The connection was lost: pipe handles are not durable, the server closed this one. */
  private lost = false;

  private constructor(
    private readonly tree: Tree,
    private readonly fileId: FileId,
    /** The name the pipe was opened with. */
    readonly name: string,
    /** `\\host\IPC$\name`: for error messages. */
    readonly path: string,
    private readonly limits: PipeLimits,
    private readonly onClose: (() => void) | undefined,
  ) {}

  /** CREATE of the pipe `name` on an IPC$ tree, for reading and writing. */
  static async open(tree: Tree, name: string, limits: PipeLimits, onClose?: () => void): Promise<SmbPipe> {
    const c = await tree.create(name, {
      // Generic read + write as file rights (0x0012019f, what Windows asks of pipes).
      desiredAccess:
        AccessMask.FILE_READ_DATA |
        AccessMask.FILE_WRITE_DATA |
        AccessMask.FILE_APPEND_DATA |
        AccessMask.FILE_READ_EA |
        AccessMask.FILE_WRITE_EA |
        AccessMask.FILE_READ_ATTRIBUTES |
        AccessMask.FILE_WRITE_ATTRIBUTES |
        AccessMask.READ_CONTROL |
        AccessMask.SYNCHRONIZE,
      shareAccess: ShareAccess.READ | ShareAccess.WRITE,
      createDisposition: CreateDisposition.OPEN,
      createOptions: 0,
    });
    return new SmbPipe(tree, c.fileId, name, tree.unc(name), limits, onClose);
  }

  /** Sends one message. */
  async write(message: Buffer | Uint8Array | string): Promise<void> {
    const data = toBuffer(message);
    if (data.length > this.limits.maxWrite) throw new RangeError(`a pipe message of ${data.length} bytes exceeds the server's ${this.limits.maxWrite}`);
    await this.writeRaw(data);
  }

  /** The server's next message, whole. Waits until one arrives; rejects with EPIPE once the server closed its end. */
  async read(options: PipeReadOptions = {}): Promise<Buffer> {
    return this.rest(await this.readRaw(READ_SIZE, options.timeoutMs ?? 0), options.timeoutMs ?? 0);
  }

  /** Sends one message and returns the server's answer, whole (the pipe must hold no unread message). */
  async transact(message: Buffer | Uint8Array | string, options: PipeTransactOptions = {}): Promise<Buffer> {
    const data = toBuffer(message);
    if (data.length > this.limits.maxTransact) throw new RangeError(`a pipe message of ${data.length} bytes exceeds the server's ${this.limits.maxTransact}`);
    const first = await this.transceiveRaw(data, Math.min(READ_SIZE, this.limits.maxTransact), options.timeoutMs);
    return this.rest(first, options.timeoutMs);
  }

  /** The server's messages until it closes its end (or this pipe is closed). */
  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer, void, undefined> {
    for (;;) {
      let m: Buffer;
      try {
        m = await this.read();
      } catch (e) {
        const code = (e as SmbError).code;
        if (code === 'EPIPE' || (this.closed && code !== undefined)) return;
        throw e;
      }
      yield m;
    }
  }

  /** Closes the handle; a read still waiting ends with EPIPE. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.onClose?.();
    if (this.lost) return;
    await this.tree.send(this.tree.closeRequest(this.fileId)).catch(() => undefined);
  }

  // ---- the requests, for the layers that frame their own messages (DCE/RPC) ----

  /** One WRITE of `data` (a whole message, or a piece of a stream a layer above frames). */
  async writeRaw(data: Buffer): Promise<void> {
    this.ensureOpen();
    this.check(await this.tree.send(this.tree.writeRequest(this.fileId, 0, data)));
  }

  /** One READ of up to `max` bytes of the head message. */
  async readRaw(max: number, timeoutMs?: number): Promise<PipeChunk> {
    this.ensureOpen();
    const req = this.tree.readRequest(this.fileId, 0, max);
    const res = this.check(await this.tree.send(timeoutMs === undefined ? req : { ...req, timeoutMs }));
    return { data: Buffer.from(decodeReadResponse(res.body).data), more: res.status === Status.BUFFER_OVERFLOW };
  }

  /** One FSCTL_PIPE_TRANSCEIVE: writes `input`, returns up to `maxOutput` bytes of the answer. */
  async transceiveRaw(input: Buffer, maxOutput: number, timeoutMs?: number): Promise<PipeChunk> {
    this.ensureOpen();
    const req: SmbRequest = {
      command: Command.IOCTL,
      ioSize: Math.max(input.length, maxOutput),
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      body: (w) =>
        encodeIoctlRequest(w, {
          ctlCode: Fsctl.PIPE_TRANSCEIVE,
          fileId: this.fileId,
          input,
          maxInputResponse: 0,
          output: Buffer.alloc(0),
          maxOutputResponse: maxOutput,
          flags: IoctlFlags.IS_FSCTL,
        }),
    };
    const res = this.check(await this.tree.send(req));
    return { data: Buffer.from(decodeIoctlResponse(res.body).output), more: res.status === Status.BUFFER_OVERFLOW };
  }

  /** The rest of a message whose first piece is `first`. */
  private async rest(first: PipeChunk, timeoutMs: number | undefined): Promise<Buffer> {
    if (!first.more) return first.data;
    const parts = [first.data];
    let total = first.data.length;
    for (let chunk = first; chunk.more; ) {
      chunk = await this.readRaw(READ_SIZE, timeoutMs);
      total += chunk.data.length;
      if (total > MAX_MESSAGE) throw clientError(Status.BUFFER_OVERFLOW, 'EMSGSIZE', this.path);
      parts.push(chunk.data);
    }
    return Buffer.concat(parts);
  }

  /** @internal A reconnect: the server closed this pipe with the old connection. */
  markLost(): void {
    this.lost = true;
  }

  private ensureOpen(): void {
    if (this.closed || this.lost) throw clientError(Status.FILE_CLOSED, 'EBADF', this.path);
  }

  /** SUCCESS, or BUFFER_OVERFLOW (the message continues: MS-SMB2 3.2.5.12, MS-FSCC 2.3.50); else the SmbError. */
  private check(res: SmbResponse): SmbResponse {
    if (res.status !== Status.SUCCESS && res.status !== Status.BUFFER_OVERFLOW) throw smbError(res.status, this.path);
    return res;
  }
}

function toBuffer(m: Buffer | Uint8Array | string): Buffer {
  return typeof m === 'string' ? Buffer.from(m, 'utf8') : Buffer.isBuffer(m) ? m : Buffer.from(m.buffer, m.byteOffset, m.byteLength);
}
