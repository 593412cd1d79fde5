/**
 * A small promise-based raw SMB2 client for tests: it speaks the wire format directly (message ids, credits,
 * signing, the 3.1.1 preauth hash) and lets a test send anything, including malformed messages. It is not the
 * product client library: it checks little and hides nothing.
 */
import { randomBytes } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { ClientAuthenticator } from '../../src/auth/spnego-client.js';
import { deriveSmbKeys } from '../../src/crypto/kdf.js';
import { preauthInitial, preauthUpdate } from '../../src/crypto/preauth.js';
import { signMessage, verifyMessage } from '../../src/crypto/signing.js';
import { FrameAccumulator, frameHeader } from '../../src/protocol/framing.js';
import { Status } from '../../src/protocol/nt-status.js';
import { encodeSmb1NegotiateRequest } from '../../src/protocol/smb1/negotiate.js';
import { encodeCancelRequest } from '../../src/protocol/smb2/commands/cancel.js';
import { encodeCloseRequest } from '../../src/protocol/smb2/commands/close.js';
import { decodeCreateResponse, encodeCreateRequest, type CreateRequest, type CreateResponse } from '../../src/protocol/smb2/commands/create.js';
import { encodeEchoRequest } from '../../src/protocol/smb2/commands/echo.js';
import type { FileId } from '../../src/protocol/smb2/commands/file-id.js';
import { decodeNegotiateResponse, encodeNegotiateRequest, type NegotiateResponse } from '../../src/protocol/smb2/commands/negotiate.js';
import { decodeQueryDirectoryResponse, encodeQueryDirectoryRequest } from '../../src/protocol/smb2/commands/query-directory.js';
import { decodeReadResponse, encodeReadRequest } from '../../src/protocol/smb2/commands/read.js';
import { decodeSessionSetupResponse, encodeSessionSetupRequest } from '../../src/protocol/smb2/commands/session-setup.js';
import { encodeTreeConnectRequest } from '../../src/protocol/smb2/commands/tree-connect.js';
import { decodeWriteResponse, encodeWriteRequest } from '../../src/protocol/smb2/commands/write.js';
import { chainCompoundBuffers, splitCompound } from '../../src/protocol/smb2/compound.js';
import {
  AccessMask,
  Command,
  CreateDisposition,
  Dialect,
  HashAlgorithm,
  HeaderFlags,
  ImpersonationLevel,
  SecurityMode,
  SessionSetupFlags,
  ShareAccess,
  SigningAlgorithm,
  SMB2_MAGIC,
} from '../../src/protocol/smb2/constants.js';
import type { NegotiateContext } from '../../src/protocol/smb2/contexts/negotiate-contexts.js';
import type { CreateContext } from '../../src/protocol/smb2/contexts/create-contexts.js';
import { encodeOplockBreakRequest } from '../../src/protocol/smb2/commands/oplock-break.js';
import { decodeDirectoryListing, type DirEntryFacts } from '../../src/protocol/smb2/fscc/dir-info.js';
import { decodeHeader, encodeHeader, type Smb2Header } from '../../src/protocol/smb2/header.js';
import { MemoryUserStore } from '../../src/auth/users.js';
import { SmbServer, type ServerConfig } from '../../src/server/server.js';
import { MemoryStore, type MemoryStoreOptions } from '../../src/store/memory.js';
import { silentLogger, type Logger } from '../../src/util/log.js';
import { Reader } from '../../src/util/reader.js';
import { defaultAccessPolicy } from '../../src/config/server-config.js';
import { Writer } from '../../src/util/writer.js';

/** A response as received: the decoded header, the whole message (a copy) and a reader over its body. */
export interface RawResponse {
  header: Smb2Header;
  status: number;
  message: Buffer;
  /** Positioned after the 64-byte header, base = header start (offsets in the body count from there). */
  body: Reader;
  /** undefined when the response was not signed or no key was known for its session. */
  signatureValid: boolean | undefined;
}

export interface RequestOptions {
  /** CreditCharge; default 1 (0 on 2.0.2). Message ids advance by max(1, charge). */
  creditCharge?: number;
  /** CreditRequest; default 64. */
  creditRequest?: number;
  sessionId?: bigint;
  treeId?: number;
  /** Extra header flags (e.g. RELATED_OPERATIONS). */
  flags?: number;
  /** Force a message id (the client's counter is still advanced as usual unless `keepCounter`). */
  messageId?: bigint;
  /** Do not advance the message id counter (with `messageId`). */
  keepCounter?: boolean;
  /** Sign: default true when the session has a signing key. 'bad' signs then corrupts the signature. */
  sign?: boolean | 'bad';
  /** Header Status field (ChannelSequence on 3.x). */
  channelSequence?: number;
  /** Async id (sets ASYNC_COMMAND). */
  asyncId?: bigint;
  /** How long to wait for the final response (default 15 s). */
  timeoutMs?: number;
}

export interface CompoundPart {
  command: number;
  encodeBody: (w: Writer) => void;
  opts?: RequestOptions;
}

export interface Started {
  messageId: bigint;
  /** Resolves with the interim STATUS_PENDING response, or with the final one when none came first. */
  interim: Promise<RawResponse>;
  final: Promise<RawResponse>;
}

/** Thrown (rejected) when the connection closes while a response is awaited. */
export class ConnectionClosedError extends Error {
  override readonly name = 'ConnectionClosedError';
}

interface Waiter {
  resolveInterim: (r: RawResponse) => void;
  resolveFinal: (r: RawResponse) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout | undefined;
  asyncId: bigint | undefined;
  interimSeen: boolean;
}

export interface CreateOptions {
  desiredAccess?: number;
  shareAccess?: number;
  createDisposition?: number;
  createOptions?: number;
  fileAttributes?: number;
  /** RequestedOplockLevel (default none). */
  oplockLevel?: number;
  /** Create contexts to send (an RqLs lease request, ...). */
  contexts?: CreateContext[];
  opts?: RequestOptions;
}

export interface CreateResult {
  status: number;
  response: RawResponse;
  fileId: FileId;
  create: CreateResponse | undefined;
}

export const DEFAULT_CREDIT_REQUEST = 64;

/** A raw SMB2 connection (direct TCP framing). */
export class RawClient {
  readonly socket: Socket;
  dialect = 0;
  negotiateResponse: NegotiateResponse | undefined;
  signingAlgorithm: number = SigningAlgorithm.HMAC_SHA256;
  /** Connection.PreauthIntegrityHashValue (3.1.1). */
  preauthHash: Buffer | undefined;
  sessionId = 0n;
  treeId = 0;
  /** Signing keys by session id. */
  readonly signingKeys = new Map<bigint, Buffer>();
  /** Credits granted and not yet spent. */
  credits = 1;
  nextMessageId = 0n;
  closed = false;
  /** The Capabilities field of the NEGOTIATE request (every SMB 3 capability by default). */
  capabilities = 0x7f;
  /** The ClientGuid of NEGOTIATE: random per client; channels of one client share it. */
  clientGuid = randomBytes(16);
  /** Frames that matched no pending request (SMB1 answers, oplock breaks, responses to unknown ids). */
  readonly unmatched: Buffer[] = [];
  /** Every SMB2 response received, in order (interim ones too). */
  readonly received: RawResponse[] = [];
  private readonly frames = new FrameAccumulator({ maxFrameSize: 0xffffff });
  private readonly waiters = new Map<bigint, Waiter>();
  private readonly closeWaiters: (() => void)[] = [];
  private readonly frameWaiters: (() => void)[] = [];
  private readonly closedPromise: Promise<void>;
  /** Unsolicited OPLOCK_BREAK notifications already handed out by nextBreak(). */
  private breaksTaken = 0;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => {});
    this.closedPromise = new Promise((resolve) => {
      socket.on('close', () => {
        this.closed = true;
        for (const w of this.waiters.values()) {
          if (w.timer) clearTimeout(w.timer);
          w.reject(new ConnectionClosedError('connection closed'));
        }
        this.waiters.clear();
        for (const f of this.closeWaiters.splice(0)) f();
        for (const f of this.frameWaiters.splice(0)) f();
        resolve();
      });
    });
  }

  /** `localAddress` picks the source address (another 127.x address, to test host lists). */
  static connect(host: string, port: number, localAddress?: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = netConnect(localAddress === undefined ? { host, port } : { host, port, localAddress });
      s.once('connect', () => {
        s.off('error', reject);
        resolve(new RawClient(s));
      });
      s.once('error', reject);
    });
  }

  /** Signing key of the current session, if any. */
  get signingKey(): Buffer | undefined {
    return this.signingKeys.get(this.sessionId);
  }

  // ---- transport ----

  /** Writes bytes to the socket exactly as given (no framing). */
  sendRaw(bytes: Buffer): void {
    if (!this.closed) this.socket.write(bytes);
  }

  /** Sends one message with its 4-byte direct-TCP header. */
  sendFrame(message: Buffer): void {
    this.sendRaw(Buffer.concat([frameHeader(message.length), message]));
  }

  /** Half-closes our side (the server sees end of stream). */
  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Resolves true once the socket closes, or false after `timeoutMs`. */
  waitClosed(timeoutMs = 10_000): Promise<boolean> {
    if (this.closed) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      this.closedPromise.then(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  /** Resolves true when at least `count` frames have been received in total (or the socket closed). */
  waitActivity(count: number, timeoutMs = 10_000): Promise<'frame' | 'closed' | 'timeout'> {
    const check = (): 'frame' | 'closed' | undefined =>
      this.received.length + this.unmatched.length >= count ? 'frame' : this.closed ? 'closed' : undefined;
    const now = check();
    if (now) return Promise.resolve(now);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve('timeout'), timeoutMs);
      const onEvent = () => {
        const c = check();
        if (c) {
          clearTimeout(t);
          resolve(c);
        } else {
          this.frameWaiters.push(onEvent);
        }
      };
      this.frameWaiters.push(onEvent);
    });
  }

  private onData(chunk: Buffer): void {
    this.frames.push(chunk);
    for (;;) {
      let payload: Buffer | undefined;
      try {
        payload = this.frames.next();
      } catch {
        this.socket.destroy();
        return;
      }
      if (payload === undefined) break;
      this.onFrame(Buffer.from(payload));
    }
    for (const f of this.frameWaiters.splice(0)) f();
  }

  private onFrame(frame: Buffer): void {
    if (frame.length < 64 || frame.readUInt32BE(0) !== SMB2_MAGIC) {
      this.unmatched.push(frame);
      return;
    }
    let parts;
    try {
      parts = splitCompound(frame);
    } catch {
      this.unmatched.push(frame);
      return;
    }
    for (const p of parts) {
      const message = frame.subarray(p.start, p.end);
      let header: Smb2Header;
      try {
        header = decodeHeader(new Reader(message));
      } catch {
        this.unmatched.push(message);
        continue;
      }
      const key = this.signingKeys.get(header.sessionId);
      const signatureValid =
        header.flags & HeaderFlags.SIGNED && key ? verifyMessage(this.signingAlgorithm, key, message) : undefined;
      const res: RawResponse = {
        header,
        status: header.status,
        message,
        body: new Reader(message, 64, message.length, 0),
        signatureValid,
      };
      this.received.push(res);
      this.credits += header.credits;
      const w = this.waiters.get(header.messageId);
      if (!w) {
        this.unmatched.push(message);
        continue;
      }
      const interim = header.status === Status.PENDING && (header.flags & HeaderFlags.ASYNC_COMMAND) !== 0 && !w.interimSeen;
      if (interim) {
        w.interimSeen = true;
        w.asyncId = header.asyncId;
        w.resolveInterim(res);
        continue;
      }
      this.waiters.delete(header.messageId);
      if (w.timer) clearTimeout(w.timer);
      w.resolveInterim(res);
      w.resolveFinal(res);
    }
  }

  // ---- building requests ----

  /** Allocates message ids for a request of `charge` credits (MS-SMB2 3.2.4.1.5). */
  allocMessageId(charge: number): bigint {
    const id = this.nextMessageId;
    this.nextMessageId += BigInt(Math.max(1, charge));
    this.credits -= Math.max(1, charge);
    return id;
  }

  private defaultCharge(): number {
    return this.dialect === Dialect.SMB202 ? 0 : 1;
  }

  /** Builds one unsigned request message (header + body), allocating its message id. */
  build(command: number, encodeBody: (w: Writer) => void, opts: RequestOptions = {}): { message: Buffer; header: Smb2Header } {
    const charge = opts.creditCharge ?? this.defaultCharge();
    let messageId: bigint;
    if (opts.messageId !== undefined) {
      messageId = opts.messageId;
      if (!opts.keepCounter && opts.messageId >= this.nextMessageId) {
        this.nextMessageId = opts.messageId + BigInt(Math.max(1, charge));
      }
    } else if (command === Command.CANCEL) {
      messageId = 0n;
    } else {
      messageId = this.allocMessageId(charge);
    }
    const header: Smb2Header = {
      creditCharge: charge,
      status: opts.channelSequence ?? 0,
      command,
      credits: opts.creditRequest ?? DEFAULT_CREDIT_REQUEST,
      flags: (opts.flags ?? 0) | (opts.asyncId !== undefined ? HeaderFlags.ASYNC_COMMAND : 0),
      nextCommand: 0,
      messageId,
      treeId: opts.treeId ?? this.treeId,
      asyncId: opts.asyncId ?? 0n,
      sessionId: opts.sessionId ?? this.sessionId,
      signature: Buffer.alloc(16),
    };
    const w = new Writer(256);
    encodeHeader(w, header);
    encodeBody(w);
    return { message: Buffer.from(w.finish()), header };
  }

  /** Signs a built message in place when the options and the session's key say so. */
  signIfNeeded(message: Buffer, opts: RequestOptions = {}): void {
    const sessionId = message.readBigUInt64LE(40);
    const key = this.signingKeys.get(sessionId);
    const wanted = opts.sign ?? key !== undefined;
    if (!wanted || !key) return;
    message.writeUInt32LE((message.readUInt32LE(16) | HeaderFlags.SIGNED) >>> 0, 16);
    signMessage(this.signingAlgorithm, key, message);
    if (opts.sign === 'bad') message[48] = message[48]! ^ 0xff;
  }

  private expect(messageId: bigint, timeoutMs: number): { interim: Promise<RawResponse>; final: Promise<RawResponse> } {
    let resolveInterim!: (r: RawResponse) => void;
    let resolveFinal!: (r: RawResponse) => void;
    let rejectInterim!: (e: Error) => void;
    let rejectFinal!: (e: Error) => void;
    const interim = new Promise<RawResponse>((res, rej) => {
      resolveInterim = res;
      rejectInterim = rej;
    });
    const final = new Promise<RawResponse>((res, rej) => {
      resolveFinal = res;
      rejectFinal = rej;
    });
    // Either may go unobserved by a test: avoid unhandled rejections.
    interim.catch(() => {});
    final.catch(() => {});
    if (this.closed) {
      const e = new ConnectionClosedError('connection closed');
      rejectInterim(e);
      rejectFinal(e);
      return { interim, final };
    }
    const w: Waiter = {
      resolveInterim,
      resolveFinal,
      reject: (e) => {
        rejectInterim(e);
        rejectFinal(e);
      },
      timer: undefined,
      asyncId: undefined,
      interimSeen: false,
    };
    w.timer = setTimeout(() => {
      this.waiters.delete(messageId);
      w.reject(new Error(`no response to message ${messageId} within ${timeoutMs} ms`));
    }, timeoutMs);
    this.waiters.set(messageId, w);
    return { interim, final };
  }

  /** Sends a request and returns its message id with promises of the interim and final responses. */
  start(command: number, encodeBody: (w: Writer) => void, opts: RequestOptions = {}): Started {
    const { message, header } = this.build(command, encodeBody, opts);
    this.signIfNeeded(message, opts);
    const p = this.expect(header.messageId, opts.timeoutMs ?? 15_000);
    this.sendFrame(message);
    return { messageId: header.messageId, ...p };
  }

  /** Sends a request and resolves with its final response (interim STATUS_PENDING responses are skipped). */
  request(command: number, encodeBody: (w: Writer) => void, opts: RequestOptions = {}): Promise<RawResponse> {
    return this.start(command, encodeBody, opts).final;
  }

  /** Sends requests chained in one frame (MS-SMB2 3.2.4.1.4) and resolves with their final responses. */
  compound(parts: CompoundPart[]): Promise<RawResponse[]> {
    return Promise.all(this.compoundStart(parts).map((s) => s.final));
  }

  /** Sends requests chained in one frame; each part's interim and final responses, as `start` gives them. */
  compoundStart(parts: CompoundPart[]): Started[] {
    const built = parts.map((p) => this.build(p.command, p.encodeBody, p.opts ?? {}));
    const chained = chainCompoundBuffers(built.map((b) => b.message));
    chained.forEach((m, i) => this.signIfNeeded(m, parts[i]!.opts ?? {}));
    const started = built.map((b, i) => ({ messageId: b.header.messageId, ...this.expect(b.header.messageId, parts[i]!.opts?.timeoutMs ?? 15_000) }));
    this.sendFrame(Buffer.concat(chained));
    return started;
  }

  /** CANCEL (MS-SMB2 2.2.30) of a pending request: by async id when known, else by message id. No response. */
  cancel(messageId: bigint, asyncId?: bigint, opts: RequestOptions = {}): void {
    const { message } = this.build(Command.CANCEL, (w) => encodeCancelRequest(w), {
      ...opts,
      messageId: asyncId !== undefined ? 0n : messageId,
      keepCounter: true,
      creditRequest: 0,
      ...(asyncId !== undefined ? { asyncId } : {}),
    });
    this.signIfNeeded(message, opts);
    this.sendFrame(message);
  }

  // ---- protocol steps ----

  /** The 3.1.1 negotiate contexts a normal client sends: preauth (SHA-512) and signing (GMAC, CMAC). */
  static defaultContexts(): NegotiateContext[] {
    return [
      { kind: 'preauthIntegrity', hashAlgorithms: [HashAlgorithm.SHA512], salt: randomBytes(32) },
      { kind: 'signing', signingAlgorithms: [SigningAlgorithm.AES_GMAC, SigningAlgorithm.AES_CMAC] },
    ];
  }

  /** SMB2 NEGOTIATE; on success records the dialect, signing algorithm and (3.1.1) the preauth hash. */
  async negotiate(
    dialects: number[] = [0x0202, 0x0210, 0x0300, 0x0302, 0x0311],
    contexts: NegotiateContext[] = RawClient.defaultContexts(),
    opts: RequestOptions = {},
  ): Promise<RawResponse> {
    const { message, header } = this.build(
      Command.NEGOTIATE,
      (w) =>
        encodeNegotiateRequest(w, {
          securityMode: SecurityMode.SIGNING_ENABLED,
          capabilities: this.capabilities,
          clientGuid: this.clientGuid,
          dialects,
          negotiateContexts: contexts,
        }),
      { creditRequest: DEFAULT_CREDIT_REQUEST, ...opts },
    );
    const p = this.expect(header.messageId, opts.timeoutMs ?? 15_000);
    this.sendFrame(message);
    const res = await p.final;
    if (res.status === Status.SUCCESS) this.absorbNegotiate(res, message);
    return res;
  }

  /** An SMB1 NEGOTIATE offering `dialects` (MS-SMB2 3.3.5.3.1); the SMB2 answer, if any, has message id 0. */
  async smb1Negotiate(dialects: string[], timeoutMs = 15_000): Promise<RawResponse> {
    const p = this.expect(0n, timeoutMs);
    this.nextMessageId = 1n;
    this.sendFrame(encodeSmb1NegotiateRequest(dialects));
    return p.final;
  }

  private absorbNegotiate(res: RawResponse, request: Buffer): void {
    const neg = decodeNegotiateResponse(new Reader(res.message, 64, res.message.length, 0));
    this.negotiateResponse = neg;
    this.dialect = neg.dialectRevision;
    if (this.dialect >= Dialect.SMB300) this.signingAlgorithm = SigningAlgorithm.AES_CMAC;
    if (this.dialect === Dialect.SMB311) {
      const sig = neg.negotiateContexts.find((c) => c.kind === 'signing');
      if (sig && sig.kind === 'signing' && sig.signingAlgorithms[0] !== undefined) this.signingAlgorithm = sig.signingAlgorithms[0];
      this.preauthHash = preauthUpdate(preauthUpdate(preauthInitial(), request), res.message);
    }
  }

  /**
   * SESSION_SETUP rounds with SPNEGO/NTLMv2 (MS-SMB2 3.2.5.3): resolves with the last response whatever its status.
   * On success the session id and signing key are recorded, and the final response's signature must verify.
   */
  async sessionSetup(user: string, password: string, opts: { domain?: string; securityMode?: number } = {}): Promise<RawResponse> {
    const auth = new ClientAuthenticator({ user, password, domain: opts.domain ?? '' });
    let token = auth.initial();
    let sessionHash: Buffer | undefined = this.preauthHash ? Buffer.from(this.preauthHash) : undefined;
    let sessionId = 0n;
    for (let round = 0; round < 4; round++) {
      const { message, header } = this.build(
        Command.SESSION_SETUP,
        (w) =>
          encodeSessionSetupRequest(w, {
            flags: 0,
            securityMode: opts.securityMode ?? SecurityMode.SIGNING_ENABLED,
            capabilities: 0,
            channel: 0,
            previousSessionId: 0n,
            securityBuffer: token,
          }),
        { sessionId, sign: false },
      );
      const p = this.expect(header.messageId, 15_000);
      this.sendFrame(message);
      if (sessionHash) sessionHash = preauthUpdate(sessionHash, message);
      const res = await p.final;
      const ss = res.status === Status.SUCCESS || res.status === Status.MORE_PROCESSING_REQUIRED
        ? decodeSessionSetupResponse(new Reader(res.message, 64, res.message.length, 0))
        : undefined;
      if (res.status === Status.MORE_PROCESSING_REQUIRED && ss) {
        if (sessionHash) sessionHash = preauthUpdate(sessionHash, res.message);
        sessionId = res.header.sessionId;
        token = auth.step(ss.securityBuffer).token;
        continue;
      }
      if (res.status !== Status.SUCCESS || !ss) return res;
      sessionId = res.header.sessionId;
      auth.step(ss.securityBuffer);
      const key = auth.sessionKey();
      if (key.length > 0) {
        const keys = deriveSmbKeys(this.dialect, key, sessionHash);
        this.signingKeys.set(sessionId, keys.signingKey);
        if (res.header.flags & HeaderFlags.SIGNED) {
          if (!verifyMessage(this.signingAlgorithm, keys.signingKey, res.message)) {
            throw new Error('final SESSION_SETUP response signature does not verify');
          }
          res.signatureValid = true;
        }
      }
      this.sessionId = sessionId;
      return res;
    }
    throw new Error('SESSION_SETUP did not finish in 4 rounds');
  }

  /** The key and algorithm this connection signs a session's requests with (what a binding connection needs). */
  sessionKeyOf(sessionId = this.sessionId): { id: bigint; key: Buffer; algorithm: number } | undefined {
    const key = this.signingKeys.get(sessionId);
    return key ? { id: sessionId, key, algorithm: this.signingAlgorithm } : undefined;
  }

  /**
   * Binds this connection to a session of another connection (MS-SMB2 3.2.4.2.3 / 3.2.5.3.3): SESSION_SETUP rounds
   * with SMB2_SESSION_FLAG_BINDING, signed with the session's key and algorithm. On success the channel's own key
   * (this exchange's session key; 3.1.1: this connection's preauth hash of the binding) signs from then on, and the
   * final response must verify with it. Resolves with the last response, whatever its status; `signatureValid` of
   * an error is checked with the session's key.
   */
  async bindSession(
    user: string,
    password: string,
    session: { id: bigint; key: Buffer; algorithm: number },
    opts: { sign?: boolean; flags?: number } = {},
  ): Promise<RawResponse> {
    const auth = new ClientAuthenticator({ user, password, domain: '' });
    let token = auth.initial();
    let hash: Buffer | undefined = this.preauthHash ? Buffer.from(this.preauthHash) : undefined;
    for (let round = 0; round < 4; round++) {
      const { message, header } = this.build(
        Command.SESSION_SETUP,
        (w) =>
          encodeSessionSetupRequest(w, {
            flags: opts.flags ?? SessionSetupFlags.BINDING,
            securityMode: SecurityMode.SIGNING_ENABLED,
            capabilities: 0,
            channel: 0,
            previousSessionId: 0n,
            securityBuffer: token,
          }),
        { sessionId: session.id, sign: false },
      );
      if (opts.sign ?? true) {
        message.writeUInt32LE((message.readUInt32LE(16) | HeaderFlags.SIGNED) >>> 0, 16);
        signMessage(session.algorithm, session.key, message);
      }
      const p = this.expect(header.messageId, 15_000);
      this.sendFrame(message);
      if (hash) hash = preauthUpdate(hash, message);
      const res = await p.final;
      if (res.status !== Status.SUCCESS) {
        if (res.header.flags & HeaderFlags.SIGNED) res.signatureValid = verifyMessage(session.algorithm, session.key, res.message);
        if (res.status !== Status.MORE_PROCESSING_REQUIRED) return res;
        if (hash) hash = preauthUpdate(hash, res.message);
        token = auth.step(decodeSessionSetupResponse(new Reader(res.message, 64, res.message.length, 0)).securityBuffer).token;
        continue;
      }
      auth.step(decodeSessionSetupResponse(new Reader(res.message, 64, res.message.length, 0)).securityBuffer);
      const channelKey = deriveSmbKeys(this.dialect, auth.sessionKey(), hash).signingKey;
      res.signatureValid = (res.header.flags & HeaderFlags.SIGNED) !== 0 && verifyMessage(this.signingAlgorithm, channelKey, res.message);
      this.signingKeys.set(session.id, channelKey);
      this.sessionId = session.id;
      return res;
    }
    throw new Error('binding SESSION_SETUP did not finish in 4 rounds');
  }

  /** TREE_CONNECT to `\\host\share` (or a full path); records the tree id on success. */
  async treeConnect(path: string, opts: RequestOptions = {}): Promise<RawResponse> {
    const res = await this.request(Command.TREE_CONNECT, (w) => encodeTreeConnectRequest(w, { flags: 0, path }), opts);
    if (res.status === Status.SUCCESS) this.treeId = res.header.treeId;
    return res;
  }

  /** negotiate + sessionSetup + treeConnect, throwing unless each succeeds. */
  async login(user: string, password: string, share: string, dialects?: number[]): Promise<void> {
    const neg = await this.negotiate(dialects);
    if (neg.status !== Status.SUCCESS) throw new Error(`negotiate failed: 0x${neg.status.toString(16)}`);
    const ss = await this.sessionSetup(user, password);
    if (ss.status !== Status.SUCCESS) throw new Error(`session setup failed: 0x${ss.status.toString(16)}`);
    const tc = await this.treeConnect(`\\\\127.0.0.1\\${share}`);
    if (tc.status !== Status.SUCCESS) throw new Error(`tree connect failed: 0x${tc.status.toString(16)}`);
  }

  /** ECHO with a credit request: a cheap way to collect credits. */
  echo(opts: RequestOptions = {}): Promise<RawResponse> {
    return this.request(Command.ECHO, (w) => encodeEchoRequest(w), opts);
  }

  /** Asks for credits with ECHOs until at least `n` are available. */
  async ensureCredits(n: number): Promise<void> {
    for (let i = 0; i < 64 && this.credits < n; i++) await this.echo({ creditRequest: Math.min(n + 8, 8192) });
    if (this.credits < n) throw new Error(`could not collect ${n} credits (have ${this.credits})`);
  }

  static createRequest(name: string, o: CreateOptions = {}): CreateRequest {
    return {
      securityFlags: 0,
      requestedOplockLevel: o.oplockLevel ?? 0,
      impersonationLevel: ImpersonationLevel.IMPERSONATION,
      smbCreateFlags: 0n,
      desiredAccess: o.desiredAccess ?? (AccessMask.GENERIC_READ | AccessMask.GENERIC_WRITE | AccessMask.DELETE),
      fileAttributes: o.fileAttributes ?? 0,
      shareAccess: o.shareAccess ?? (ShareAccess.READ | ShareAccess.WRITE | ShareAccess.DELETE),
      createDisposition: o.createDisposition ?? CreateDisposition.OPEN_IF,
      createOptions: o.createOptions ?? 0,
      name,
      createContexts: o.contexts ?? [],
    };
  }

  async create(name: string, o: CreateOptions = {}): Promise<CreateResult> {
    const req = RawClient.createRequest(name, o);
    const response = await this.request(Command.CREATE, (w) => encodeCreateRequest(w, req), o.opts ?? {});
    const create = response.status === Status.SUCCESS ? decodeCreateResponse(response.body) : undefined;
    return { status: response.status, response, fileId: create?.fileId ?? { persistent: 0n, volatile: 0n }, create };
  }

  close(fileId: FileId, opts: RequestOptions = {}): Promise<RawResponse> {
    return this.request(Command.CLOSE, (w) => encodeCloseRequest(w, { flags: 0, fileId }), opts);
  }

  /** READ; CreditCharge defaults to what the length needs (MS-SMB2 3.2.4.1.5). */
  async read(fileId: FileId, offset: bigint | number, length: number, opts: RequestOptions = {}): Promise<{ status: number; data: Buffer<ArrayBufferLike>; response: RawResponse }> {
    const response = await this.request(
      Command.READ,
      (w) =>
        encodeReadRequest(w, {
          padding: 0x50,
          flags: 0,
          length,
          offset: BigInt(offset),
          fileId,
          minimumCount: 0,
          channel: 0,
          remainingBytes: 0,
          readChannelInfo: Buffer.alloc(0),
        }),
      { creditCharge: this.chargeFor(length), ...opts },
    );
    const data = response.status === Status.SUCCESS ? decodeReadResponse(response.body).data : Buffer.alloc(0);
    return { status: response.status, data, response };
  }

  async write(fileId: FileId, offset: bigint | number, data: Buffer, opts: RequestOptions = {}): Promise<{ status: number; count: number; response: RawResponse }> {
    const response = await this.request(
      Command.WRITE,
      (w) =>
        encodeWriteRequest(w, {
          offset: BigInt(offset),
          fileId,
          channel: 0,
          remainingBytes: 0,
          flags: 0,
          data,
          writeChannelInfo: Buffer.alloc(0),
        }),
      { creditCharge: this.chargeFor(data.length), ...opts },
    );
    const count = response.status === Status.SUCCESS ? decodeWriteResponse(response.body).count : 0;
    return { status: response.status, count, response };
  }

  async queryDirectory(
    fileId: FileId,
    pattern = '*',
    o: { infoClass?: number; flags?: number; outputBufferLength?: number; opts?: RequestOptions } = {},
  ): Promise<{ status: number; entries: DirEntryFacts[]; response: RawResponse }> {
    const infoClass = o.infoClass ?? 37; // FileIdBothDirectoryInformation
    const response = await this.request(
      Command.QUERY_DIRECTORY,
      (w) =>
        encodeQueryDirectoryRequest(w, {
          fileInformationClass: infoClass,
          flags: o.flags ?? 0,
          fileIndex: 0,
          fileId,
          fileName: pattern,
          outputBufferLength: o.outputBufferLength ?? 65536,
        }),
      o.opts ?? {},
    );
    const entries =
      response.status === Status.SUCCESS ? decodeDirectoryListing(decodeQueryDirectoryResponse(response.body).outputBuffer, infoClass) : [];
    return { status: response.status, entries, response };
  }

  /** Unsolicited OPLOCK_BREAK notifications received (MessageId all ones), oldest first. */
  get breaks(): RawResponse[] {
    return this.received.filter((r) => r.header.command === Command.OPLOCK_BREAK && r.header.messageId === 0xffffffffffffffffn);
  }

  /** The next break notification not yet taken, or undefined when none arrives within `timeoutMs`. */
  async nextBreak(timeoutMs = 5_000): Promise<RawResponse | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const all = this.breaks;
      if (all.length > this.breaksTaken) return all[this.breaksTaken++];
      const left = deadline - Date.now();
      if (left <= 0 || this.closed) return undefined;
      await this.waitActivity(this.received.length + this.unmatched.length + 1, left);
    }
  }

  /** OPLOCK_BREAK acknowledgment of an oplock (MS-SMB2 2.2.24.1). */
  ackOplock(fileId: FileId, oplockLevel: number, opts: RequestOptions = {}): Promise<RawResponse> {
    return this.request(Command.OPLOCK_BREAK, (w) => encodeOplockBreakRequest(w, { kind: 'oplock', oplockLevel, fileId }), opts);
  }

  /** OPLOCK_BREAK acknowledgment of a lease (MS-SMB2 2.2.24.2). */
  ackLease(leaseKey: Buffer, leaseState: number, opts: RequestOptions = {}): Promise<RawResponse> {
    return this.request(Command.OPLOCK_BREAK, (w) => encodeOplockBreakRequest(w, { kind: 'lease', flags: 0, leaseKey, leaseState, leaseDuration: 0n }), opts);
  }

  /** CreditCharge for a payload: ceil(bytes / 64 KiB), at least 1 (0 on 2.0.2). */
  chargeFor(bytes: number): number {
    if (this.dialect === Dialect.SMB202) return 0;
    return Math.max(1, Math.ceil(bytes / 65536));
  }
}

// ---- an in-process server for tests ----

export const TEST_USER = 'u1';
export const TEST_PASSWORD = 'Passw0rd';
export const TEST_SHARE = 'share';

export interface TestServer {
  server: SmbServer;
  store: MemoryStore;
  port: number;
  /** A connected raw client (destroyed by stop()). */
  connect(): Promise<RawClient>;
  /** A client logged in to the share (negotiate, session setup, tree connect). */
  login(dialects?: number[]): Promise<RawClient>;
  stop(): Promise<void>;
}

/**
 * Starts an SmbServer on 127.0.0.1 (or `opts.host`), an ephemeral port, one MemoryStore share and user
 * u1/Passw0rd.
 */
export async function startTestServer(
  overrides: Partial<ServerConfig> = {},
  opts: { logger?: Logger; storeOptions?: MemoryStoreOptions; host?: string } = {},
): Promise<TestServer> {
  const host = opts.host ?? '127.0.0.1';
  const store = new MemoryStore(opts.storeOptions);
  const logger = opts.logger ?? silentLogger;
  const server = new SmbServer({
    access: defaultAccessPolicy(),
    name: 'TESTSRV',
    domain: 'WORKGROUP',
    listen: [{ host, port: 0 }],
    netbiosListen: [],
    minDialect: 0x0202,
    maxDialect: 0x0311,
    signingRequired: true,
    encryption: 'off',
    ciphers: [0x0002, 0x0004, 0x0001, 0x0003],
    maxIoSize: 8 << 20,
    maxCredits: 8192,
    users: new MemoryUserStore().add(TEST_USER, TEST_PASSWORD),
    allowGuest: false,
    allowAnonymous: false,
    shares: [{ name: TEST_SHARE, store }],
    logLevel: 'error',
    logger,
    ...overrides,
  });
  const bound = await server.listen();
  const port = bound[0]!.port;
  const clients = new Set<RawClient>();
  const connect = async () => {
    const c = await RawClient.connect(host, port);
    clients.add(c);
    c.socket.once('close', () => clients.delete(c));
    return c;
  };
  return {
    server,
    store,
    port,
    connect,
    async login(dialects?: number[]) {
      const c = await connect();
      await c.login(TEST_USER, TEST_PASSWORD, TEST_SHARE, dialects);
      return c;
    },
    async stop() {
      for (const c of clients) c.destroy();
      await server.close();
    },
  };
}
