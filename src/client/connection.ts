/**
 * The client's message layer over one TCP connection (MS-SMB2 3.2.4.1, 3.2.5.1): message ids and credits, the
 * pending-request map, interim STATUS_PENDING responses, compounding, signing and verification, encryption
 * (TRANSFORM in and out) and per-request timeouts. It knows sessions only as key holders; what a session or a
 * tree adds to a request (ids, encrypt) is decided by the layers above (session.ts, share.ts).
 */
import { connect as netConnect, type Socket } from 'node:net';
import { decryptMessage, encryptMessage } from '../crypto/encryption.js';
import { signMessage, verifyMessage } from '../crypto/signing.js';
import { TransportError, WireError } from '../errors.js';
import { MAX_DIRECT_TCP_LENGTH, frameHeader } from '../protocol/framing.js';
import { FrameReader } from '../transport/tcp.js';
import { Status } from '../protocol/nt-status.js';
import { splitCompound } from '../protocol/smb2/compound.js';
import { Command, Dialect, HeaderFlags, SMB2_MAGIC, SigningAlgorithm } from '../protocol/smb2/constants.js';
import { decodeHeader, encodeHeader, HeaderOffset, type Smb2Header } from '../protocol/smb2/header.js';
import { isTransformFrame } from '../protocol/smb2/transform.js';
import { BufferPool } from '../util/buffer-pool.js';
import { Reader } from '../util/reader.js';
import { Writer } from '../util/writer.js';

/** One request as the upper layers describe it. */
export interface SmbRequest {
  command: number;
  /** Writes the command's body (the writer's base is the header start, so offsets come out right). */
  body: (w: Writer) => void;
  /** Bytes sent right after the body, in order, without copying (WRITE data, possibly gathered from several buffers). */
  payload?: readonly Buffer[];
  sessionId?: bigint;
  treeId?: number;
  /** Bytes of payload this request moves (READ length, WRITE size): sets CreditCharge (MS-SMB2 3.2.4.1.5). */
  ioSize?: number;
  /** Encrypt this request (and demand an encrypted response). */
  encrypt?: boolean;
  /** Sign even when the session does not sign everything (3.1.1 TREE_CONNECT, MS-SMB2 3.2.4.1.1). */
  sign?: boolean;
  /** Per-request timeout; default the connection's. 0 = none. */
  timeoutMs?: number;
  /** Called with the plaintext message as sent (before signing), e.g. for the 3.1.1 preauth hash. */
  onSent?: (message: Buffer) => void;
}

/** A final response: its header, the whole plaintext message and a reader over the body (base = header). */
export interface SmbResponse {
  header: Smb2Header;
  status: number;
  message: Buffer;
  body: Reader;
  /** The response arrived inside a TRANSFORM (encrypted). */
  encrypted: boolean;
  /** Hands the frame's memory back for reuse: call only once nothing refers to `message` or views of it. */
  release(): void;
}

/** What the connection knows of a session: its keys and whether every message must be signed. */
export interface SessionKeys {
  signingKey: Buffer | undefined;
  encryptionKey: Buffer | undefined;
  decryptionKey: Buffer | undefined;
  /** Sign requests and require signed responses (Session.SigningRequired, MS-SMB2 3.2.4.1.1). */
  signing: boolean;
}

export interface ConnectionOptions {
  host: string;
  port: number;
  timeoutMs: number;
  /** Balance of credits the connection tries to hold (it asks for more while below). */
  creditTarget?: number;
}

interface Pending {
  resolve: (r: SmbResponse) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout | undefined;
  timeoutMs: number;
  command: number;
  encrypted: boolean;
  asyncId: bigint | undefined;
}

interface CreditWaiter {
  need: number;
  resolve: () => void;
  reject: (e: Error) => void;
}

const noRelease = (): void => {};
const UNSOLICITED_MESSAGE_ID = 0xffffffffffffffffn;
const DEFAULT_CREDIT_TARGET = 512;

export class Connection {
  readonly host: string;
  readonly port: number;
  readonly timeoutMs: number;
  /** Negotiated dialect (0 until NEGOTIATE completes). */
  dialect = 0;
  /** Server supports multi-credit requests (LARGE_MTU, 2.1+). */
  largeMtu = false;
  signingAlgorithm: number = SigningAlgorithm.HMAC_SHA256;
  /** Negotiated cipher (0 = none). */
  cipher = 0;
  /** Credits granted and not yet spent. */
  credits = 1;
  private nextMessageId = 0n;
  private readonly creditTarget: number;
  private readonly socket: Socket;
  /** Large frames are read into reused buffers: a fresh multi-MiB allocation costs more than its copy. */
  private readonly pool: BufferPool;
  private readonly pending = new Map<bigint, Pending>();
  private readonly creditWaiters: CreditWaiter[] = [];
  private readonly sessions = new Map<bigint, SessionKeys>();
  private closedError: TransportError | undefined;
  private readonly closeListeners: (() => void)[] = [];
  /**
   * Receives the server's unsolicited messages (MessageId 0xFFFFFFFFFFFFFFFF: oplock and lease break notifications,
   * MS-SMB2 3.2.5.19) as whole plaintext messages, synchronously; the message is reused after it returns.
   */
  onUnsolicited: ((header: Smb2Header, message: Buffer) => void) | undefined;

  private constructor(socket: Socket, o: ConnectionOptions, reader: FrameReader, pool: BufferPool) {
    this.socket = socket;
    this.pool = pool;
    reader.deliver = (_type, frame) => {
      try {
        this.onFrame(frame);
      } catch (e) {
        this.destroy(new TransportError(`malformed message from the server: ${(e as Error).message}`, 'EPROTO'));
      }
    };
    this.host = o.host;
    this.port = o.port;
    this.timeoutMs = o.timeoutMs;
    this.creditTarget = o.creditTarget ?? DEFAULT_CREDIT_TARGET;
    socket.setNoDelay(true);
    socket.on('error', (e: Error) => this.fail(new TransportError(`connection to ${this.host}:${this.port} failed: ${e.message}`, (e as NodeJS.ErrnoException).code ?? 'ECONNRESET')));
    socket.on('close', () => this.fail(new TransportError(`connection to ${this.host}:${this.port} closed`, 'ECONNRESET')));
  }

  static open(o: ConnectionOptions): Promise<Connection> {
    return new Promise((resolve, reject) => {
      // The kernel reads frames straight into their buffers (as the server's transport does).
      const pool = new BufferPool({ maxPooledBytes: 64 * 1024 * 1024 });
      const reader = new FrameReader(false, MAX_DIRECT_TCP_LENGTH, () => {}, pool);
      let conn: Connection | undefined;
      const socket = netConnect({
        host: o.host,
        port: o.port,
        onread: {
          buffer: () => reader.nextBuffer(),
          callback: (n: number) => {
            try {
              reader.received(n);
            } catch (e) {
              conn?.destroy(new TransportError(`bad framing from the server: ${(e as Error).message}`, 'EPROTO'));
              return false;
            }
            return true;
          },
        },
      });
      const timer = o.timeoutMs > 0
        ? setTimeout(() => {
          socket.destroy();
          reject(new TransportError(`connecting to ${o.host}:${o.port} timed out`, 'ETIMEDOUT'));
        }, o.timeoutMs)
        : undefined;
      const onError = (e: NodeJS.ErrnoException) => {
        if (timer) clearTimeout(timer);
        reject(new TransportError(`cannot connect to ${o.host}:${o.port}: ${e.message}`, e.code ?? 'ECONNREFUSED'));
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        if (timer) clearTimeout(timer);
        socket.off('error', onError);
        conn = new Connection(socket, o, reader, pool);
        resolve(conn);
      });
    });
  }

  get closed(): boolean {
    return this.closedError !== undefined;
  }

  /** Why the connection ended (undefined while it is open). */
  get closeReason(): TransportError | undefined {
    return this.closedError;
  }

  onClose(f: () => void): void {
    if (this.closed) f();
    else this.closeListeners.push(f);
  }

  setSession(sessionId: bigint, keys: SessionKeys): void {
    this.sessions.set(sessionId, keys);
  }

  dropSession(sessionId: bigint): void {
    this.sessions.delete(sessionId);
  }

  /** CreditCharge for a payload (MS-SMB2 3.2.4.1.5): 1 + (bytes - 1) / 65536 with LARGE_MTU, else 1. */
  chargeFor(bytes: number): number {
    if (!this.largeMtu) return 1;
    return Math.max(1, Math.ceil(bytes / 65536));
  }

  /** Sends one request and resolves with its final response, whatever its status. */
  async send(req: SmbRequest): Promise<SmbResponse> {
    const [res] = await this.sendCompound([req]);
    return res!;
  }

  /**
   * Sends requests as one compound (MS-SMB2 3.2.4.1.4); requests after the first are sent as related operations
   * (they use the FileId the CREATE returned when given RELATED_FILE_ID). Each gets its own final response.
   */
  async sendCompound(reqs: readonly SmbRequest[]): Promise<SmbResponse[]> {
    if (this.closedError) throw this.closedError;
    const charges = reqs.map((r) => this.chargeFor(r.ioSize ?? 0));
    const total = charges.reduce((a, b) => a + b, 0);
    await this.acquireCredits(total);
    if (this.closedError) throw this.closedError; // lost while waiting for credits
    const messages: Buffer[][] = [];
    const promises: Promise<SmbResponse>[] = [];
    const encrypt = reqs.some((r) => r.encrypt === true);
    const sessionId = reqs[0]?.sessionId ?? 0n;
    const balance = this.credits + this.inFlightCharge();
    for (let i = 0; i < reqs.length; i++) {
      const req = reqs[i]!;
      const charge = charges[i]!;
      const messageId = this.nextMessageId;
      this.nextMessageId += BigInt(charge);
      // Ask for what this request spends, plus more while the balance is below the target.
      const ask = charge + (balance < this.creditTarget ? Math.min(256, this.creditTarget - balance) : 0);
      const header: Smb2Header = {
        creditCharge: this.dialect === Dialect.SMB202 ? 0 : charge,
        status: 0,
        command: req.command,
        credits: Math.min(ask, 0xffff),
        flags: i > 0 ? HeaderFlags.RELATED_OPERATIONS : 0,
        nextCommand: 0,
        messageId,
        treeId: req.treeId ?? 0,
        asyncId: 0n,
        sessionId: req.sessionId ?? 0n,
        signature: Buffer.alloc(16),
      };
      const w = new Writer(256);
      encodeHeader(w, header);
      req.body(w);
      const head = Buffer.from(w.finish());
      const chunks: Buffer[] = [head];
      let length = head.length;
      for (const p of req.payload ?? []) {
        if (p.length === 0) continue;
        chunks.push(p);
        length += p.length;
      }
      if (i < reqs.length - 1) {
        const pad = (8 - (length % 8)) % 8;
        if (pad > 0) chunks.push(Buffer.alloc(pad));
        head.writeUInt32LE(length + pad, HeaderOffset.NEXT_COMMAND);
      }
      req.onSent?.(chunks.length === 1 ? head : Buffer.concat(chunks));
      const keys = this.sessions.get(header.sessionId);
      if (!encrypt && (keys?.signing || req.sign) && keys?.signingKey && req.command !== Command.SESSION_SETUP) {
        head.writeUInt32LE((header.flags | HeaderFlags.SIGNED) >>> 0, HeaderOffset.FLAGS);
        signMessage(this.signingAlgorithm, keys.signingKey, chunks, { fromServer: false });
      }
      messages.push(chunks);
      promises.push(this.expect(messageId, req, encrypt));
    }
    let out: Buffer[] = messages.flat();
    if (encrypt) {
      const keys = this.sessions.get(sessionId);
      if (!keys?.encryptionKey || this.cipher === 0) {
        for (const p of promises) p.catch(() => {});
        this.rejectIds(messages, new TransportError('encryption requested but the session has no encryption key', 'EPROTO'));
        throw new TransportError('encryption requested but the session has no encryption key', 'EPROTO');
      }
      out = encryptMessage(this.cipher, keys.encryptionKey, sessionId, out);
    }
    this.writeFrame(out);
    return Promise.all(promises);
  }

  private rejectIds(messages: Buffer[][], e: Error): void {
    for (const m of messages) {
      const id = m[0]!.readBigUInt64LE(HeaderOffset.MESSAGE_ID);
      const p = this.pending.get(id);
      if (p) {
        this.pending.delete(id);
        if (p.timer) clearTimeout(p.timer);
        p.reject(e);
      }
    }
  }

  private inFlightCharge(): number {
    return this.pending.size;
  }

  private writeFrame(chunks: Buffer[]): void {
    const length = chunks.reduce((n, c) => n + c.length, 0);
    this.socket.cork();
    this.socket.write(frameHeader(length));
    for (const c of chunks) this.socket.write(c);
    process.nextTick(() => this.socket.uncork());
  }

  private expect(messageId: bigint, req: SmbRequest, encrypted: boolean): Promise<SmbResponse> {
    return new Promise<SmbResponse>((resolve, reject) => {
      const timeoutMs = req.timeoutMs ?? this.timeoutMs;
      const p: Pending = { resolve, reject, timer: undefined, timeoutMs, command: req.command, encrypted, asyncId: undefined };
      this.arm(messageId, p);
      this.pending.set(messageId, p);
    });
  }

  private arm(messageId: bigint, p: Pending): void {
    if (p.timer) clearTimeout(p.timer);
    if (p.timeoutMs <= 0) return;
    p.timer = setTimeout(() => {
      this.pending.delete(messageId);
      p.reject(new TransportError(`no response to message ${messageId} within ${p.timeoutMs} ms`, 'ETIMEDOUT'));
    }, p.timeoutMs);
    p.timer.unref?.();
  }

  /** Waits until `n` credits are available (FIFO, so a large request is not starved), then spends them. */
  private acquireCredits(n: number): Promise<void> {
    if (this.creditWaiters.length === 0 && this.credits >= n) {
      this.credits -= n;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => this.creditWaiters.push({ need: n, resolve, reject }));
  }

  private grantCredits(n: number): void {
    this.credits += n;
    while (this.creditWaiters.length > 0) {
      const w = this.creditWaiters[0]!;
      // A request that needs more than the server will ever grant at once still goes once nothing else is out.
      const enough = this.credits >= w.need || (this.pending.size === 0 && this.credits > 0);
      if (!enough) break;
      this.creditWaiters.shift();
      this.credits -= Math.min(w.need, this.credits);
      w.resolve();
    }
  }

  private onFrame(frame: Buffer): void {
    let plain = frame;
    let encrypted = false;
    if (isTransformFrame(frame)) {
      if (frame.length < 52) throw new WireError('transform header truncated');
      const sessionId = frame.readBigUInt64LE(44);
      const keys = this.sessions.get(sessionId);
      if (!keys?.decryptionKey || this.cipher === 0) throw new WireError('encrypted message for an unknown session');
      const out = this.pool.acquire(frame.length - 52);
      try {
        plain = decryptMessage(this.cipher, keys.decryptionKey, frame, out);
      } catch (e) {
        this.pool.release(out);
        throw e;
      } finally {
        this.pool.release(frame);
      }
      if (plain !== out) this.pool.release(out);
      encrypted = true;
    }
    if (plain.length < 64 || plain.readUInt32BE(0) !== SMB2_MAGIC) throw new WireError('not an SMB2 message');
    const parts = splitCompound(plain);
    // A single message owns its frame (or its decrypted copy), which goes back to the pool once released.
    const release = parts.length === 1 ? () => this.pool.release(plain) : noRelease;
    for (const part of parts) {
      const message = plain.subarray(part.start, part.end);
      this.onMessage(message, encrypted, release);
    }
  }

  private onMessage(message: Buffer, encrypted: boolean, release: () => void): void {
    const header = decodeHeader(new Reader(message));
    if ((header.flags & HeaderFlags.SERVER_TO_REDIR) === 0) throw new WireError('request received from the server');
    this.grantCredits(header.credits);
    if (header.messageId === UNSOLICITED_MESSAGE_ID) {
      // Not released to the pool: the handler may keep views of the message.
      if (header.command === Command.OPLOCK_BREAK) this.onUnsolicited?.(header, message);
      return;
    }
    const p = this.pending.get(header.messageId);
    if (!p) return; // timed out or cancelled
    const interim = header.status === Status.PENDING && (header.flags & HeaderFlags.ASYNC_COMMAND) !== 0;
    const problem = this.checkIntegrity(header, message, encrypted, p, interim);
    if (interim) {
      // MS-SMB2 3.2.5.1.5: an interim response only says the request went async; the final one follows.
      if (problem === undefined) {
        p.asyncId = header.asyncId;
        this.arm(header.messageId, p);
      }
      return;
    }
    this.pending.delete(header.messageId);
    if (p.timer) clearTimeout(p.timer);
    if (problem !== undefined) {
      p.reject(problem);
      return;
    }
    p.resolve({ header, status: header.status, message, body: new Reader(message, 64, message.length, 0), encrypted, release });
  }

  /** MS-SMB2 3.2.5.1.3: verify signatures; an encrypted request needs an encrypted answer. */
  private checkIntegrity(header: Smb2Header, message: Buffer, encrypted: boolean, p: Pending, interim: boolean): TransportError | undefined {
    if (encrypted) return undefined;
    if (p.encrypted) return new TransportError(`unencrypted response to an encrypted request (message ${header.messageId})`, 'EPROTO');
    const keys = this.sessions.get(header.sessionId);
    if (!keys?.signingKey) return undefined;
    if (header.flags & HeaderFlags.SIGNED) {
      if (!verifyMessage(this.signingAlgorithm, keys.signingKey, message, { fromServer: true })) {
        return new TransportError(`response signature does not verify (message ${header.messageId})`, 'EPROTO');
      }
      return undefined;
    }
    if (keys.signing && !interim && p.command !== Command.SESSION_SETUP) {
      return new TransportError(`unsigned response on a signed session (message ${header.messageId})`, 'EPROTO');
    }
    return undefined;
  }

  private fail(e: TransportError): void {
    if (this.closedError) return;
    this.closedError = e;
    for (const [, p] of this.pending) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(e);
    }
    this.pending.clear();
    for (const w of this.creditWaiters.splice(0)) w.reject(e);
    for (const f of this.closeListeners.splice(0)) f();
  }

  /** Ends the connection now; every pending call fails with `reason`. */
  destroy(reason?: TransportError): void {
    this.fail(reason ?? new TransportError(`connection to ${this.host}:${this.port} closed by the client`, 'ECONNRESET'));
    this.socket.destroy();
  }

  /**
   * @internal Test hook: drops the connection the way a network failure does (a TCP reset, no LOGOFF), so that
   * durable handles stay on the server for a reconnect.
   */
  abort(): void {
    this.fail(new TransportError(`connection to ${this.host}:${this.port} dropped`, 'ECONNRESET'));
    this.socket.resetAndDestroy();
  }

  /** Closes gracefully (flushes what was written) and waits for the socket to close. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) {
        this.fail(new TransportError('connection closed by the client', 'ECONNRESET'));
        resolve();
        return;
      }
      this.socket.once('close', () => resolve());
      this.fail(new TransportError(`connection to ${this.host}:${this.port} closed by the client`, 'ECONNRESET'));
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 1000).unref();
    });
  }

  /** Sets the message-id counter after an SMB1 negotiate (not used) or for tests. */
  get nextId(): bigint {
    return this.nextMessageId;
  }
}
