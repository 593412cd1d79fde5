import { Status } from '../protocol/nt-status.js';
import {
  Command,
  COMMAND_NAMES,
  HeaderFlags,
  SMB1_MAGIC,
  SMB2_HEADER_SIZE,
  SMB2_MAGIC,
  SMB2_TRANSFORM_MAGIC,
} from '../protocol/smb2/constants.js';
import { decodeHeader, encodeHeader, HeaderOffset, type Smb2Header } from '../protocol/smb2/header.js';
import { chainCompound, splitCompound } from '../protocol/smb2/compound.js';
import { encodeErrorResponse } from '../protocol/smb2/commands/error.js';
import type { FileId } from '../protocol/smb2/commands/file-id.js';
import { sign, verifyMessage } from '../crypto/signing.js';
import { totalLength } from '../util/chunks.js';
import { decryptMessage, encryptMessage, transformHeader, TRANSFORM_HEADER_SIZE } from '../crypto/encryption.js';
import { cryptoThreadCount, OFFLOAD_MIN, sharedCryptoPool, sharedMemoryPool, signsInPool, type CryptoPool } from '../crypto/crypto-pool.js';
import { preauthUpdate } from '../crypto/preauth.js';
import { Reader } from '../util/reader.js';
import { Writer } from '../util/writer.js';
import type { Transport } from '../transport/types.js';
import { TcpTransport } from '../transport/tcp.js';
import { sharedPool } from '../util/buffer-pool.js';
import { resolveOpen, type CompoundState, type Outcome, type RequestContext } from './context.js';
import { dialectTraits, type DialectTraits } from './dialects.js';
import { HANDLERS, runHandler } from './dispatch.js';
import { handleSmb1Negotiate } from './handlers/negotiate.js';
import type { SmbServer } from './server.js';
import { completeChannelSequence } from './replay.js';
import type { Open } from './state/open.js';
import type { Session } from './session.js';

/** A key and the algorithm it signs with. */
interface Signer {
  key: Buffer;
  algorithm: number;
}

/** A reply ready to chain, sign and send. */
interface Built {
  header: Smb2Header;
  chunks: Buffer[];
  signer: Signer | undefined;
  onSent?: () => void;
  /** Runs once the reply is signed (the preauth hash covers the message as sent). */
  after?: (chunks: readonly Buffer[]) => void;
}

/** A message ready for the transport, and what to run once the socket no longer needs its chunks. */
interface Outgoing {
  chunks: Buffer[];
  onWritten: (() => void) | undefined;
}

/** The outcome of the session, tree and signature checks (checkSessionAndTree). */
type Admission = number | { disconnect: string } | undefined;

/** Commands that are not signed-checked before a session exists (MS-SMB2 3.3.5.2.4). */
const UNSIGNED_OK = new Set<number>([Command.NEGOTIATE, Command.SESSION_SETUP]);

interface PendingAsync {
  messageId: bigint;
  asyncId: bigint;
  cancel: () => void;
  /** Set for a request that goes on when the connection is lost while its session has other channels. */
  session: Session | undefined;
}

/**
 * One client connection (MS-SMB2 3.3.1.7): negotiated dialect and its traits, the credit window, the preauth hash,
 * and the request loop: framing -> compound split -> header checks -> signature check -> handler -> signed reply.
 * Requests of different frames run concurrently; those of one compound run in order.
 */
export class Connection {
  readonly server: SmbServer;
  readonly transport: Transport;
  readonly id: number;
  readonly startedAt = Date.now();

  dialect: number | undefined;
  traits: DialectTraits | undefined;
  clientGuid: Buffer = Buffer.alloc(16);
  clientCapabilities = 0;
  clientSecurityMode = 0;
  clientDialects: number[] = [];
  serverCapabilities = 0;
  serverSecurityMode = 0;
  /** SIGNING_CAPABILITIES choice for 3.1.1, else the dialect's default. */
  signingAlgorithm = 0;
  /** ENCRYPTION_CAPABILITIES choice (0 = none). */
  cipher = 0;
  /** Connection.PreauthIntegrityHashValue (3.1.1). */
  preauthHash: Buffer | undefined;
  /** A NEGOTIATE completed (a second one disconnects, MS-SMB2 3.3.5.3.1). */
  negotiated = false;
  maxTransactSize: number;
  maxReadSize: number;
  maxWriteSize: number;

  /** Credit window (MS-SMB2 3.3.1.1): ids in [low, high) may be used once; `used` holds those consumed out of order. */
  private low = 0n;
  private high = 1n;
  private readonly used = new Set<bigint>();
  private readonly pending = new Map<bigint, PendingAsync>();
  private handshakeTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private nextAsyncId = 1n;
  private inflight = 0;
  private closed = false;
  /** Oplock and lease breaks sent on this connection and not yet acknowledged (capped by the access policy). */
  outstandingBreaks = 0;
  /** With several workers: the client was placed (its first NEGOTIATE), and the ClientGuid it counts under. */
  private placed = false;
  private clientKey: string | undefined;
  /** Requests running on another worker, by MessageId: how to cancel each (CANCEL may come before their interim). */
  readonly forwarded = new Map<bigint, () => void>();
  /** Requests running here that have not gone async yet, by MessageId (a CANCEL may come for them meanwhile). */
  private readonly notYetAsync = new Map<bigint, RequestContext>();
  readonly sessions = new Map<bigint, Session>();
  /** Keys of the sessions a failed re-authentication ended on this connection (the most recent few). */
  private readonly endedSessions = new Map<bigint, Signer>();
  /** Where large messages are encrypted, decrypted, signed and verified (undefined: all inline, crypto_threads = 0). */
  private readonly cryptoPool: CryptoPool | undefined;
  /**
   * Received messages are taken in arrival order: while an earlier one is being decrypted in the pool, later ones
   * wait here (their own decryption already running).
   */
  private inboundTail: Promise<void> = Promise.resolve();
  private inboundQueued = 0;
  /** Likewise, messages go out in the order they were sent: one still being signed or encrypted holds the rest. */
  private outboundTail: Promise<void> = Promise.resolve();
  private outboundQueued = 0;

  constructor(server: SmbServer, transport: Transport, id: number) {
    this.server = server;
    this.transport = transport;
    this.id = id;
    this.maxTransactSize = server.config.maxIoSize;
    this.maxReadSize = server.config.maxIoSize;
    this.maxWriteSize = server.config.maxIoSize;
    const threads = cryptoThreadCount(server.config.cryptoThreads ?? 'auto');
    this.cryptoPool = threads > 0 ? sharedCryptoPool(threads) : undefined;
    transport.onMessage = (msg) => this.onMessage(msg);
    transport.onClose = (reason) => void this.teardown(reason);
    const policy = server.access.policy;
    // A client must negotiate and log on within the deadline, however slowly it trickles bytes.
    if (policy.handshakeTimeoutMs > 0) {
      this.handshakeTimer = setTimeout(() => this.close('no logon before the handshake deadline'), policy.handshakeTimeoutMs);
      this.handshakeTimer.unref();
    }
    if (policy.idleTimeoutMs > 0) {
      this.idleTimer = setTimeout(() => this.onIdle(), policy.idleTimeoutMs);
      this.idleTimer.unref();
    }
  }

  /** A session was established: the handshake deadline no longer applies. */
  loggedOn(): void {
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
  }

  /** Idle for the whole timeout: close, unless files are open or requests wait (then look again later). */
  private onIdle(): void {
    const busy = this.pending.size > 0 || this.inflight > 0 || [...this.sessions.values()].some((s) => s.opens.size > 0);
    if (busy) this.idleTimer?.refresh();
    else this.close('idle timeout');
  }

  get log() {
    return this.server.log;
  }

  /** Credits the client may still use (granted but unused). */
  get creditsOutstanding(): number {
    return Number(this.high - this.low) - this.used.size;
  }

  /**
   * The connection moves to another worker, with the message it brought: its first NEGOTIATE, or a binding
   * SESSION_SETUP for a session of that worker, then with what was negotiated (`negotiatedState`).
   */
  private moveTo(worker: number, msg: Buffer, state?: NegotiatedState): void {
    const { socket, established } = (this.transport as TcpTransport).detach();
    this.closed = true;
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    // It no longer counts among its client's connections here (the client may be placed anew).
    if (this.clientKey !== undefined) this.server.workers!.clientGone(this.clientKey);
    this.clientKey = undefined;
    this.server.workers!.moveConnection(worker, socket, this.transport.kind, this.transport.remoteAddress, Buffer.from(msg), established, state);
    releaseFrame(msg);
    this.server.connectionMoved(this);
  }

  /** What NEGOTIATE settled, for the worker a negotiated connection moves to. */
  negotiatedState(): NegotiatedState {
    return {
      dialect: this.dialect!,
      clientGuid: Buffer.from(this.clientGuid),
      clientCapabilities: this.clientCapabilities,
      clientSecurityMode: this.clientSecurityMode,
      clientDialects: [...this.clientDialects],
      serverCapabilities: this.serverCapabilities,
      serverSecurityMode: this.serverSecurityMode,
      signingAlgorithm: this.signingAlgorithm,
      cipher: this.cipher,
      preauthHash: this.preauthHash && Buffer.from(this.preauthHash),
      maxTransactSize: this.maxTransactSize,
      maxReadSize: this.maxReadSize,
      maxWriteSize: this.maxWriteSize,
      low: this.low,
      high: this.high,
      used: [...this.used],
    };
  }

  /** Takes over a connection negotiated on another worker (before its first message here is read). */
  restoreNegotiated(s: NegotiatedState): void {
    this.dialect = s.dialect;
    this.traits = dialectTraits(s.dialect);
    this.negotiated = true;
    this.placed = true;
    this.clientGuid = Buffer.from(s.clientGuid);
    this.clientCapabilities = s.clientCapabilities;
    this.clientSecurityMode = s.clientSecurityMode;
    this.clientDialects = [...s.clientDialects];
    this.serverCapabilities = s.serverCapabilities;
    this.serverSecurityMode = s.serverSecurityMode;
    this.signingAlgorithm = s.signingAlgorithm;
    this.cipher = s.cipher;
    this.preauthHash = s.preauthHash && Buffer.from(s.preauthHash);
    this.maxTransactSize = s.maxTransactSize;
    this.maxReadSize = s.maxReadSize;
    this.maxWriteSize = s.maxWriteSize;
    this.low = s.low;
    this.high = s.high;
    for (const id of s.used) this.used.add(id);
  }

  /**
   * With workers: a connection that binds to a session of another worker (a channel from a connection placed
   * elsewhere, such as one of another ClientGuid, MS-SMB2 3.3.5.5.2) moves there, negotiated state and all, so the
   * binding and everything after it run where the session is. Only a connection with nothing else going on moves;
   * true when it is moving (the message goes with it).
   */
  private moveToSessionHome(msg: Buffer): boolean {
    const link = this.server.workers;
    if (!link || !this.negotiated || !(this.transport instanceof TcpTransport) || !isLoneBinding(msg)) return false;
    const sessionId = msg.readBigUInt64LE(40);
    if (this.server.sessions.has(sessionId) || this.sessions.size > 0 || this.inflight > 0 || this.pending.size > 0) return false;
    this.transport.pause();
    this.track(
      link.sessionHome(sessionId).then((home) => {
        if (this.closed) return;
        if (home === undefined || this.inflight > 1 || this.sessions.size > 0) {
          this.transport.resume();
          this.takeSmb2(msg, undefined);
          return;
        }
        this.moveTo(home, msg, this.negotiatedState());
      }),
    );
    return true;
  }

  /** Closes the connection: at once, or (`graceful`) after what was already sent has gone out. */
  close(reason: string, graceful = false): void {
    if (this.closed) return;
    this.log.info('connection closing', { conn: this.id, reason });
    this.transport.close(!graceful);
  }

  private async teardown(reason: string): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.clientKey !== undefined) this.server.workers?.clientGone(this.clientKey);
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    for (const p of this.pending.values()) {
      if (p.session?.channels.some((c) => c.connection !== this && c.binding === undefined)) continue;
      p.cancel();
    }
    this.pending.clear();
    for (const s of [...this.sessions.values()]) await this.server.connectionLost(s, this);
    this.sessions.clear();
    this.server.connectionClosed(this, reason);
  }

  private onMessage(msg: Buffer): void {
    if (this.closed) return;
    this.idleTimer?.refresh();
    const decrypting = this.decryptInPool(msg);
    if (decrypting === undefined && this.inboundQueued === 0) {
      this.take(msg);
      return;
    }
    const next = decrypting ?? Promise.resolve(() => this.take(msg));
    this.inboundQueued++;
    const taken = this.inboundTail
      .then(() => next)
      .then((step) => {
        if (!this.closed) step();
      })
      .finally(() => this.inboundQueued--);
    this.inboundTail = taken;
    this.track(taken);
  }

  /** Takes one received message: SMB1 NEGOTIATE, a TRANSFORM, or SMB2. */
  private take(msg: Buffer): void {
    if (msg.length >= 4) {
      const magic = msg.readUInt32BE(0);
      if (magic === SMB1_MAGIC) {
        this.track(handleSmb1Negotiate(this, msg));
        return;
      }
      if (magic === SMB2_TRANSFORM_MAGIC) {
        this.onTransform(msg);
        return;
      }
      if (magic !== SMB2_MAGIC) {
        // Compression (0xFC) is never negotiated.
        this.close(`unexpected protocol id 0x${magic.toString(16)}`);
        return;
      }
    } else {
      this.close('message shorter than a protocol id');
      return;
    }
    this.onSmb2(msg, undefined);
  }

  /**
   * An encrypted message (MS-SMB2 3.3.5.2.1.1): the session named in the transform header must be ours and have
   * keys; a message that does not decrypt and authenticate closes the connection.
   */
  private onTransform(msg: Buffer): void {
    if (this.cipher === 0 || msg.length < TRANSFORM_HEADER_SIZE) {
      this.close('encrypted message without negotiated encryption');
      return;
    }
    const session = this.server.sessions.get(msg.readBigUInt64LE(44));
    if (!session || !session.isBoundTo(this) || !session.decryptionKey?.length) {
      this.close('encrypted message for an unknown session');
      return;
    }
    let plain: Buffer;
    const out = sharedPool.acquire(msg.length - TRANSFORM_HEADER_SIZE);
    try {
      plain = decryptMessage(this.cipher, session.decryptionKey, msg, out);
    } catch (err) {
      sharedPool.release(out);
      this.log.warn('decryption failed: closing', { conn: this.id, error: (err as Error).message });
      this.close('decryption failed');
      return;
    } finally {
      releaseFrame(msg);
    }
    if (plain !== out) sharedPool.release(out);
    this.takeDecrypted(plain, session);
  }

  private takeDecrypted(plain: Buffer, session: Session): void {
    if (plain.length < 4 || plain.readUInt32BE(0) !== SMB2_MAGIC) {
      releaseFrame(plain);
      this.close('encrypted payload is not an SMB2 message');
      return;
    }
    this.onSmb2(plain, session);
  }

  /**
   * A large TRANSFORM for a session of ours starts decrypting in the pool at once; what to do with the result is
   * returned, to run in arrival order. Anything else (undefined) is taken inline, where onTransform's checks close
   * the connection for a message that cannot be ours.
   */
  private decryptInPool(msg: Buffer): Promise<() => void> | undefined {
    if (!this.cryptoPool || this.cipher === 0 || msg.length < TRANSFORM_HEADER_SIZE + OFFLOAD_MIN) return undefined;
    if (msg.readUInt32BE(0) !== SMB2_TRANSFORM_MAGIC) return undefined;
    const session = this.server.sessions.get(msg.readBigUInt64LE(44));
    const key = session?.decryptionKey;
    if (!session || !session.isBoundTo(this) || !key?.length) return undefined;
    const opened = this.cryptoPool.open(this.cipher, key, msg);
    // A frame in ordinary memory was copied into shared memory (give it back now); one in shared memory is decrypted
    // where it is, and goes back with its plaintext (releaseFrame).
    sharedPool.release(msg);
    return opened.then(
      (plain) => () => this.takeDecrypted(plain, session),
      (err: unknown) => () => {
        this.log.warn('decryption failed: closing', { conn: this.id, error: (err as Error).message });
        this.close('decryption failed');
      },
    );
  }

  private onSmb2(msg: Buffer, encryptedBy: Session | undefined): void {
    if (!this.negotiated && !this.placed && this.server.workers) {
      // A client's connections are served by one worker (leases, multichannel and durable reconnects stay there):
      // its first NEGOTIATE names it, and the connection moves to that worker if it is another.
      this.placed = true;
      const guid = negotiateClientGuid(msg);
      if (guid !== undefined && this.transport instanceof TcpTransport) {
        const link = this.server.workers;
        this.transport.pause();
        this.track(
          link.placeClient(guid).then((worker) => {
            if (this.closed) return;
            if (worker === link.index) {
              this.clientKey = guid;
              this.transport.resume();
              this.onSmb2(msg, encryptedBy);
              return;
            }
            this.moveTo(worker, msg);
          }),
        );
        return;
      }
    }
    if (this.server.workers && this.moveToSessionHome(msg)) return;
    this.takeSmb2(msg, encryptedBy);
  }

  private takeSmb2(msg: Buffer, encryptedBy: Session | undefined): void {
    let parts;
    try {
      parts = splitCompound(msg);
    } catch (err) {
      this.close(`malformed compound: ${(err as Error).message}`);
      return;
    }
    // Credit checks happen here, synchronously and in arrival order, before any await.
    const headers: Smb2Header[] = [];
    for (const p of parts) {
      let h: Smb2Header;
      try {
        h = decodeHeader(new Reader(msg, p.start, p.end));
      } catch (err) {
        this.close(`malformed header: ${(err as Error).message}`);
        return;
      }
      if (h.flags & HeaderFlags.SERVER_TO_REDIR) {
        this.close('client sent a response');
        return;
      }
      // MS-SMB2 3.3.5.2.6: an unknown command code disconnects without an error response.
      if (h.command !== Command.CANCEL && HANDLERS[h.command] === undefined) {
        this.close(`unknown command 0x${h.command.toString(16)}`);
        return;
      }
      if (encryptedBy && h.sessionId !== encryptedBy.id && !(headers.length > 0 && h.sessionId === 0xffffffffffffffffn)) {
        this.close('encrypted request for another session');
        return;
      }
      if (h.command !== Command.CANCEL && !this.consumeMessageIds(h)) {
        this.close(`message id ${h.messageId} outside the credit window [${this.low}, ${this.high})`);
        return;
      }
      headers.push(h);
    }
    // A reassembled large frame came from the pool: give it back once every request in it has finished.
    this.track(this.runCompound(msg, parts, headers, encryptedBy).finally(() => releaseFrame(msg)));
  }

  /**
   * Runs a request's work, bounding what one client can make the server hold: past the outstanding-request cap, or
   * while the client does not read our replies, nothing more is read from it.
   */
  private track(p: Promise<void>): void {
    this.inflight++;
    const cap = this.server.access.policy.maxOutstandingRequests;
    if (this.inflight >= cap || this.transport.congested) this.transport.pause();
    p.catch((err) => {
      this.log.error('request failed unexpectedly', { conn: this.id, error: (err as Error).stack ?? String(err) });
      this.close('internal error');
    }).finally(() => {
      this.inflight--;
      if (this.inflight >= cap) return;
      if (this.transport.congested) {
        void this.transport.drained().then(() => {
          if (this.inflight < cap) this.transport.resume();
        });
      } else {
        this.transport.resume();
      }
    });
  }

  /** MS-SMB2 3.3.5.2.3: every id in [MessageId, MessageId + CreditCharge) must be granted and unused. */
  private consumeMessageIds(h: Smb2Header): boolean {
    const charge = BigInt(this.traits?.multiCredit ? Math.max(1, h.creditCharge) : 1);
    const first = h.messageId;
    if (first === 0xffffffffffffffffn) return false;
    if (first < this.low || first + charge > this.high) return false;
    for (let id = first; id < first + charge; id++) if (this.used.has(id)) return false;
    for (let id = first; id < first + charge; id++) this.used.add(id);
    while (this.used.delete(this.low)) this.low++;
    return true;
  }

  /** Credits to grant for a response: what was asked (at least 1), within the configured window. */
  private grantCredits(h: Smb2Header): number {
    const charge = this.traits?.multiCredit ? Math.max(1, h.creditCharge) : 1;
    // Give back at least what the request spent, so a client that asks for less never starves (as Samba does).
    let want = Math.max(h.credits, charge, 1);
    const room = this.server.config.maxCredits - this.creditsOutstanding;
    want = Math.max(0, Math.min(want, room));
    // Never leave the client without a credit when it has none outstanding.
    if (want === 0 && this.creditsOutstanding === 0) want = 1;
    this.high += BigInt(want);
    return want;
  }

  private async runCompound(
    msg: Buffer,
    parts: { start: number; end: number }[],
    headers: Smb2Header[],
    encryptedBy: Session | undefined,
  ): Promise<void> {
    const compounded = parts.length > 1;
    const state: CompoundState = {
      sessionId: 0n,
      treeId: 0,
      fileId: undefined,
      chainFailure: undefined,
      relatedOnFirst: compounded && (headers[0]!.flags & HeaderFlags.RELATED_OPERATIONS) !== 0,
    };
    const run: CompoundRun = { state, replies: [], encryptedBy, compounded };
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      const h = headers[i]!;
      const out = await this.runOne(msg.subarray(part.start, part.end), h, i, run, i === parts.length - 1);
      if (out === undefined) continue; // went async, or no reply (CANCEL)
      run.replies.push(out);
    }
    if (run.replies.length === 0 || this.closed) return;
    await this.sendReplies(run.replies.splice(0), run);
  }

  /**
   * Sends a compound's replies chained in one message, each signed as its request asks, and after them the
   * interim response of the request that went async, if any (MS-SMB2 3.3.4.1.3, 3.3.4.2). Every reply to a
   * compounded request is padded to 8 bytes, the last one included, as Windows and Samba send them. Resolves once
   * the message is handed to the transport.
   */
  private sendReplies(replies: Built[], run: CompoundRun, interim?: Buffer[]): Promise<void> | undefined {
    const messages = replies.map((r) => r.chunks);
    if (interim) messages.push(interim);
    const chained = chainCompound(messages, run.compounded);
    const signing: Promise<void>[] = [];
    for (let i = 0; i < replies.length; i++) {
      const r = replies[i]!;
      if (!run.encryptedBy && r.signer) {
        const pending = this.signChunks(chained[i]!, r.signer);
        if (pending) signing.push(pending);
      }
    }
    const sent = replies.map((r) => r.onSent).filter((f): f is () => void => f !== undefined);
    const onSent = sent.length ? () => sent.forEach((f) => f()) : undefined;
    const signed = (): Buffer[] => {
      for (let i = 0; i < replies.length; i++) replies[i]!.after?.(chained[i]!);
      return chained.flat();
    };
    if (signing.length === 0) return this.sendMessage(signed(), run.encryptedBy, onSent);
    // Signing and encryption never go together: a signed reply goes out as it is.
    return this.deliver(
      Promise.all(signing).then(
        () => ({ chunks: signed(), onWritten: onSent }),
        (err: unknown) => {
          onSent?.();
          throw err;
        },
      ),
    );
  }

  /**
   * Sends one message (or compound), inside a TRANSFORM when the request came encrypted (MS-SMB2 3.3.4.1.4). The
   * nonce is taken here, on the protocol thread, whether the cipher then runs inline or in the pool.
   */
  private sendMessage(chunks: Buffer[], encryptFor: Session | undefined, onSent?: () => void): Promise<void> | undefined {
    const key = encryptFor?.encryptionKey;
    if (!encryptFor || !key?.length) return this.deliver({ chunks, onWritten: onSent });
    const size = totalLength(chunks);
    if (!this.cryptoPool || size < OFFLOAD_MIN) {
      const out = encryptMessage(this.cipher, key, encryptFor.id, chunks);
      // The plaintext chunks are no longer needed once encrypted.
      onSent?.();
      return this.deliver({ chunks: out, onWritten: undefined });
    }
    const header = transformHeader(this.cipher, encryptFor.id, size);
    // Payloads in shared memory (READ data) are encrypted in place: they go back to their pool once sent.
    const sealed = this.cryptoPool.seal(this.cipher, key, header, chunks);
    return this.deliver(
      sealed.then(
        (s) => ({
          chunks: [header, ...s.chunks],
          onWritten: () => {
            s.release();
            onSent?.();
          },
        }),
        (err: unknown) => {
          onSent?.();
          throw err;
        },
      ),
    );
  }

  /**
   * Hands a message to the transport now, or (when it is still being signed or encrypted, or an earlier one is)
   * once it and every message before it are ready, so that responses keep their order (an interim response
   * before its final one). A failure here is a bug: the connection closes.
   */
  private deliver(message: Outgoing | Promise<Outgoing>): Promise<void> | undefined {
    if (!(message instanceof Promise) && this.outboundQueued === 0) {
      this.transport.send(message.chunks, message.onWritten);
      return undefined;
    }
    this.outboundQueued++;
    const delivered = this.outboundTail
      .then(() => message)
      .then(
        (m) => this.transport.send(m.chunks, m.onWritten),
        (err: unknown) => {
          this.log.error('signing or encryption failed', { conn: this.id, error: (err as Error).stack ?? String(err) });
          this.close('internal error');
        },
      )
      .finally(() => this.outboundQueued--);
    this.outboundTail = delivered;
    return delivered;
  }

  /** Signs a reply in place (MS-SMB2 3.1.4.1): inline, or in the pool for a large one (then resolves when done). */
  private signChunks(chunks: Buffer[], signer: Signer): Promise<void> | undefined {
    const first = chunks[0]!;
    first.writeUInt32LE(first.readUInt32LE(HeaderOffset.FLAGS) | HeaderFlags.SIGNED, HeaderOffset.FLAGS);
    first.fill(0, HeaderOffset.SIGNATURE, HeaderOffset.SIGNATURE + 16);
    if (this.cryptoPool && signsInPool(signer.algorithm, totalLength(chunks))) {
      return this.cryptoPool.sign(signer.algorithm, signer.key, chunks).then((sig) => {
        sig.copy(first, HeaderOffset.SIGNATURE);
      });
    }
    sign(signer.algorithm, signer.key, chunks).copy(first, HeaderOffset.SIGNATURE);
    return undefined;
  }

  /** Runs one request; returns its reply (header + body chunks), or undefined when it went async. */
  private async runOne(message: Buffer, h: Smb2Header, index: number, run: CompoundRun, lastInCompound: boolean): Promise<Built | undefined> {
    const handler = HANDLERS[h.command];
    const compound = run.state;
    const flagged = (h.flags & HeaderFlags.RELATED_OPERATIONS) !== 0;
    const related = index > 0 && flagged;
    const ctx = this.makeContext(message, h, related, run, lastInCompound);
    let outcome: Outcome;
    if (h.command === Command.CANCEL) {
      this.cancel(h);
      return undefined;
    }
    if (related) {
      // MS-SMB2 3.3.5.2.7.2: related requests inherit session, tree and file from the previous one.
      if (h.sessionId === 0xffffffffffffffffn) h.sessionId = compound.sessionId;
      if (h.treeId === 0xffffffff) h.treeId = compound.treeId;
    }
    if (handler === undefined) {
      outcome = Status.INVALID_PARAMETER;
    } else if (flagged && compound.relatedOnFirst) {
      outcome = Status.INVALID_PARAMETER;
    } else if (related && compound.chainFailure !== undefined) {
      outcome = compound.chainFailure;
    } else if (!this.negotiated && h.command !== Command.NEGOTIATE) {
      this.close(`${COMMAND_NAMES[h.command] ?? h.command} before NEGOTIATE`);
      return undefined;
    } else {
      const admission = this.checkSessionAndTree(ctx, handler.needsSession, handler.needsTree);
      const pre = admission instanceof Promise ? await admission : admission;
      if (pre !== undefined) {
        if (typeof pre === 'object') {
          this.close(pre.disconnect);
          return undefined;
        }
        // MS-SMB2 3.3.5.2.7.2: a related request whose inherited session or tree does not resolve fails with
        // STATUS_INVALID_PARAMETER, not with the lookup's own status.
        outcome = related && LOOKUP_FAILURES.has(pre) ? Status.INVALID_PARAMETER : pre;
      } else {
        // With several workers, a request about a file runs on the worker that owns the file's state.
        let routed = this.server.workers?.route(this, ctx, h);
        // Decided without a round trip when it runs here: a CANCEL right behind it must find it pending.
        if (routed instanceof Promise) routed = await routed;
        if (routed && !routed.local) {
          outcome = routed.outcome;
        } else {
          // A CANCEL may come while the handler still awaits something before it goes async (MS-SMB2 3.3.5.16).
          this.notYetAsync.set(h.messageId, ctx);
          try {
            outcome = await runHandler(handler, ctx);
          } finally {
            this.notYetAsync.delete(h.messageId);
            routed?.done();
          }
        }
      }
    }
    if (ctx.channel) completeChannelSequence(ctx.channel.open.channel, ctx.channel.admission);
    const status = typeof outcome === 'number' ? outcome : outcome.status ?? Status.SUCCESS;
    // MS-SMB2 3.3.5.2.7.2: a related request fails with the previous one's error when it needs what that one
    // failed to produce. As Windows and Samba do (smbtorture smb2.compound.related6), only a failed CREATE,
    // SESSION_SETUP or TREE_CONNECT counts: after a failed SET_INFO the related CLOSE must still close, or the
    // handle leaks (cifs.ko's rmdir of a non-empty directory sends CREATE + SET_INFO + CLOSE).
    if (isErrorStatus(status) && CHAIN_SOURCES.has(h.command)) compound.chainFailure = status;
    compound.sessionId = h.command === Command.SESSION_SETUP && ctx.session ? ctx.session.id : h.sessionId;
    compound.treeId = h.treeId;
    if (ctx.asyncId !== undefined) {
      // The final response goes out alone once the handler finishes (already awaited above).
      this.pending.delete(ctx.asyncId);
    }
    const signer = this.replySigner(h, ctx.session ?? this.server.sessions.get(h.sessionId), status, ctx.message);
    const chunks = this.buildReply(h, ctx, outcome, status);
    const built: Built = { header: h, chunks, signer };
    if (typeof outcome !== 'number' && outcome.onSent) built.onSent = outcome.onSent;
    if (ctx.asyncId !== undefined) {
      // The final response goes out alone, unpadded.
      if (this.closed) built.onSent?.();
      else await this.sendReplies([built], { ...run, compounded: false });
      return undefined;
    }
    if (typeof outcome !== 'number' && outcome.after) built.after = outcome.after;
    return built;
  }

  /**
   * Which key signs a reply, if any (MS-SMB2 3.3.4.1.1): the channel's key on a connection of the session. A
   * SESSION_SETUP that binds a connection not yet a channel was signed with the session's own key and algorithm
   * (MS-SMB2 3.3.5.2.4), and so are the answers to it until the binding completes; a signed request for a session
   * of another connection gets its USER_SESSION_DELETED signed the same way (clients insist on the SIGNED flag).
   */
  private replySigner(h: Smb2Header, session: Session | undefined, status: number, message: Buffer): Signer | undefined {
    if (!session) return (h.flags & HeaderFlags.SIGNED) !== 0 && isErrorStatus(status) ? this.keyThatSigned(h, message) : undefined;
    const channelKey = session.signingKeyOn(this);
    const signed = (h.flags & HeaderFlags.SIGNED) !== 0;
    if (h.command === Command.SESSION_SETUP) {
      if (status === Status.SUCCESS) {
        // MS-SMB2 3.3.5.5.3: the final SESSION_SETUP response is signed (3.x always; 2.x when signing is on), a
        // binding's with the new channel's key.
        const sign = (session.signingRequired || (this.dialect ?? 0) >= 0x0300) && !session.identity?.anonymous && !session.identity?.guest;
        return sign && channelKey ? { key: channelKey, algorithm: this.signingAlgorithm } : undefined;
      }
      if (!signed || !this.signedWithSessionKey(session, message)) return undefined;
      if (channelKey) return { key: channelKey, algorithm: this.signingAlgorithm };
      return session.signingKey ? { key: session.signingKey, algorithm: session.signingAlgorithm } : undefined;
    }
    if (channelKey) return session.signingRequired || signed ? { key: channelKey, algorithm: this.signingAlgorithm } : undefined;
    if (signed && status === Status.USER_SESSION_DELETED && session.signingKey && this.signedWithSessionKey(session, message)) {
      return { key: session.signingKey, algorithm: session.signingAlgorithm };
    }
    return undefined;
  }

  /**
   * The key that signed a request naming no session of this connection, so that its error goes back signed (a client
   * that requires signing takes no unsigned answer): the key of a session that ended while this connection stayed,
   * or of a live session of this connection (smbtorture smb2.compound.invalid2 sends session id all ones inside a
   * signed compound; Samba signs the USER_SESSION_DELETED). Only the key's holder gets messages signed with it.
   */
  private keyThatSigned(h: Smb2Header, message: Buffer): Signer | undefined {
    const ended = this.endedSessions.get(h.sessionId);
    if (ended && verifyMessage(ended.algorithm, ended.key, message)) return ended;
    for (const s of this.sessions.values()) {
      const key = s.signingKeyOn(this);
      if (key && verifyMessage(this.signingAlgorithm, key, message)) return { key, algorithm: this.signingAlgorithm };
    }
    return undefined;
  }

  /**
   * The request was signed by a holder of the session's keys (its key, or this connection's channel key): only
   * such a client gets its refusals signed, so that nobody else can have messages signed with a session's key.
   */
  private signedWithSessionKey(session: Session, message: Buffer): boolean {
    const channelKey = session.signingKeyOn(this);
    if (channelKey && verifyMessage(this.signingAlgorithm, channelKey, message)) return true;
    return session.signingKey !== undefined && verifyMessage(session.signingAlgorithm, session.signingKey, message);
  }

  private buildReply(h: Smb2Header, ctx: RequestContext, outcome: Outcome, status: number): Buffer[] {
    const w = new Writer(256);
    const credits = ctx.asyncId !== undefined ? 0 : this.grantCredits(h);
    const flags =
      HeaderFlags.SERVER_TO_REDIR |
      (ctx.related ? HeaderFlags.RELATED_OPERATIONS : 0) |
      (ctx.asyncId !== undefined ? HeaderFlags.ASYNC_COMMAND : 0) |
      (h.flags & HeaderFlags.PRIORITY_MASK);
    encodeHeader(w, {
      creditCharge: h.creditCharge,
      status,
      command: h.command,
      credits,
      flags,
      nextCommand: 0,
      messageId: h.messageId,
      treeId: h.treeId,
      asyncId: ctx.asyncId ?? 0n,
      sessionId: h.command === Command.SESSION_SETUP && ctx.session ? ctx.session.id : h.sessionId,
      signature: Buffer.alloc(16),
    });
    if (typeof outcome === 'number') {
      encodeErrorResponse(w);
      return [w.finish()];
    }
    outcome.body(w);
    const head = w.finish();
    return outcome.tail && outcome.tail.length > 0 ? [head, outcome.tail] : [head];
  }

  /**
   * Session and tree lookup, and the signature check (MS-SMB2 3.3.5.2.4, 3.3.5.2.9, 3.3.5.2.11). Returns an error
   * status, a reason to disconnect, or undefined when the request may run; a promise of that while a large request's
   * signature is checked in the pool.
   */
  private checkSessionAndTree(ctx: RequestContext, needsSession: boolean, needsTree: boolean): Admission | Promise<Admission> {
    const h = ctx.header;
    if (!needsSession && h.command !== Command.SESSION_SETUP) return undefined;
    const session = h.sessionId === 0n ? undefined : this.server.sessions.get(h.sessionId);
    if (h.command === Command.SESSION_SETUP) {
      ctx.session = session;
      return session ? this.checkSessionSetupSignature(ctx, session) : undefined;
    }
    if (!session || !session.isBoundTo(this)) return Status.USER_SESSION_DELETED;
    if (session.state === 'expired') return Status.NETWORK_SESSION_EXPIRED;
    if (session.state !== 'valid') return Status.USER_SESSION_DELETED;
    // MS-SMB2 3.3.5.2.9: an encrypted session takes only encrypted requests.
    if (session.encryptData && !ctx.encrypted) return Status.ACCESS_DENIED;
    const signingKey = session.signingKeyOn(this);
    if (!ctx.encrypted && !UNSIGNED_OK.has(h.command) && signingKey) {
      if (h.flags & HeaderFlags.SIGNED) {
        if (this.cryptoPool && signsInPool(this.signingAlgorithm, ctx.message.length)) {
          return this.cryptoPool
            .verify(this.signingAlgorithm, signingKey, [ctx.message])
            .then((good) => (good ? this.admit(ctx, session, needsTree) : this.badSignature(h)));
        }
        if (!verifyMessage(this.signingAlgorithm, signingKey, ctx.message)) return this.badSignature(h);
      } else if (session.signingRequired && h.command !== Command.OPLOCK_BREAK) {
        return Status.ACCESS_DENIED;
      }
    }
    return this.admit(ctx, session, needsTree);
  }

  /** MS-SMB2 3.3.5.2.4: a request whose signature does not verify (3.x: the connection closes). */
  private badSignature(h: Smb2Header): Admission {
    this.log.warn('bad signature', { conn: this.id, command: COMMAND_NAMES[h.command], messageId: String(h.messageId) });
    return (this.dialect ?? 0) >= 0x0300 ? { disconnect: 'bad signature' } : Status.ACCESS_DENIED;
  }

  /** The session checked out: the request runs in it, and in its tree when it needs one. */
  private admit(ctx: RequestContext, session: Session, needsTree: boolean): Admission {
    const h = ctx.header;
    // MS-SMB2 3.3.5.7: on 3.1.1 a user's TREE_CONNECT must come signed or encrypted (it protects the negotiate).
    if (h.command === Command.TREE_CONNECT && this.dialect === 0x0311 && !ctx.encrypted && !(h.flags & HeaderFlags.SIGNED)) {
      const id = session.identity;
      if (id && !id.guest && !id.anonymous) return { disconnect: 'unsigned TREE_CONNECT on 3.1.1' };
    }
    ctx.session = session;
    if (!needsTree) return undefined;
    const tree = session.trees.get(h.treeId);
    if (!tree) return Status.NETWORK_NAME_DELETED;
    // MS-SMB2 3.3.5.2.11: likewise for a share that requires encryption.
    if (tree.encrypt && !ctx.encrypted) return Status.ACCESS_DENIED;
    ctx.tree = tree;
    return undefined;
  }

  /**
   * The signature of a SESSION_SETUP for an existing session (MS-SMB2 3.3.5.2.4). On a channel of the session it
   * is checked with the channel's key, and a session that requires signing takes no unsigned re-authentication on
   * a bound channel (as Windows: smbtorture smb2.session.bind_negative_smb3signCtoH*; on the first channel the
   * earlier rule stays, unchanged by multichannel). Elsewhere (a binding, MS-SMB2 3.3.5.5.2) it is checked with the session's own key and algorithm, which
   * is what the client holds until the new channel has its key. A bad signature is refused with ACCESS_DENIED, as
   * Windows does, without closing the connection: the session and the connection stay usable.
   */
  private checkSessionSetupSignature(ctx: RequestContext, session: Session): number | undefined {
    if (ctx.encrypted) return undefined;
    const h = ctx.header;
    const channelKey = session.signingKeyOn(this);
    if (!(h.flags & HeaderFlags.SIGNED)) {
      return channelKey && session.signingRequired && session.channel(this) !== session.channels[0] ? Status.ACCESS_DENIED : undefined;
    }
    const signer: Signer | undefined = channelKey
      ? { key: channelKey, algorithm: this.signingAlgorithm }
      : session.signingKey
        ? { key: session.signingKey, algorithm: session.signingAlgorithm }
        : undefined;
    if (signer && !verifyMessage(signer.algorithm, signer.key, ctx.message)) {
      this.log.warn('bad signature', { conn: this.id, command: 'SESSION_SETUP', messageId: String(h.messageId) });
      return Status.ACCESS_DENIED;
    }
    return undefined;
  }

  private makeContext(message: Buffer, h: Smb2Header, related: boolean, run: CompoundRun, last: boolean): RequestContext {
    const compound = run.state;
    const encrypted = run.encryptedBy !== undefined;
    const r = new Reader(message, SMB2_HEADER_SIZE, message.length, 0);
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const conn = this;
    const ctx: RequestContext = {
      conn,
      header: h,
      message,
      r,
      related,
      encrypted,
      compound,
      session: undefined,
      tree: undefined,
      asyncId: undefined,
      onCancel: undefined,
      channel: undefined,
      survivesChannelLoss: false,
      open: (fileId: FileId): Open | undefined => resolveOpen(ctx, fileId, conn.dialect ?? 0),
      goAsync(onCancel: () => void): void {
        if (ctx.asyncId !== undefined) return;
        if (!last) return; // only the last request of a compound may go async here
        const asyncId = conn.nextAsyncId++;
        ctx.asyncId = asyncId;
        ctx.onCancel = onCancel;
        conn.pending.set(asyncId, { messageId: h.messageId, asyncId, cancel: onCancel, session: ctx.survivesChannelLoss ? ctx.session : undefined });
        conn.sendInterim(ctx, run);
        // Cancelled before it went async: once the handler has set up its wait.
        if (ctx.cancelRequested) queueMicrotask(() => conn.pending.delete(asyncId) && onCancel());
      },
    };
    return ctx;
  }

  /**
   * MS-SMB2 3.3.4.2: STATUS_PENDING with the async id, granting the request's credits now. The replies of the
   * compound's earlier requests go out with it, so a client waiting for them is not held up by the async one.
   */
  private sendInterim(ctx: RequestContext, run: CompoundRun): void {
    const h = ctx.header;
    const w = new Writer(80);
    encodeHeader(w, {
      creditCharge: h.creditCharge,
      status: Status.PENDING,
      command: h.command,
      credits: this.grantCredits(h),
      flags: HeaderFlags.SERVER_TO_REDIR | HeaderFlags.ASYNC_COMMAND | (ctx.related ? HeaderFlags.RELATED_OPERATIONS : 0),
      nextCommand: 0,
      messageId: h.messageId,
      treeId: 0,
      asyncId: ctx.asyncId ?? 0n,
      sessionId: h.sessionId,
      signature: Buffer.alloc(16),
    });
    encodeErrorResponse(w);
    // Interim responses are not signed (MS-SMB2 3.3.4.1.1), but are encrypted like the request.
    if (run.replies.length > 0) {
      this.sendReplies(run.replies.splice(0), run, [w.finish()]);
      return;
    }
    this.sendMessage([w.finish()], ctx.encrypted ? ctx.session : undefined);
  }

  /**
   * An unsolicited OPLOCK_BREAK notification (MS-SMB2 3.3.4.6, 3.3.4.7): MessageId all ones, SessionId 0, no credits,
   * never signed (clients do not check breaks, 3.2.5.1.3), encrypted when the holder's session encrypts.
   */
  sendBreakNotification(session: Session, body: (w: Writer) => void): void {
    if (this.closed) return;
    const w = new Writer(128);
    encodeHeader(w, {
      creditCharge: 0,
      status: Status.SUCCESS,
      command: Command.OPLOCK_BREAK,
      credits: 0,
      flags: HeaderFlags.SERVER_TO_REDIR,
      nextCommand: 0,
      messageId: 0xffffffffffffffffn,
      treeId: 0,
      asyncId: 0n,
      sessionId: 0n,
      signature: Buffer.alloc(16),
    });
    body(w);
    const encrypt = session.encryptData || [...session.trees.values()].some((t) => t.encrypt);
    this.sendMessage([w.finish()], encrypt ? session : undefined);
  }

  /** CANCEL (MS-SMB2 3.3.5.16): finds the pending request by async id or message id; sends no reply itself. */
  private cancel(h: Smb2Header): void {
    for (const p of this.pending.values()) {
      const match = h.flags & HeaderFlags.ASYNC_COMMAND ? p.asyncId === h.asyncId : p.messageId === h.messageId;
      if (match) {
        this.pending.delete(p.asyncId);
        p.cancel();
        return;
      }
    }
    if (h.flags & HeaderFlags.ASYNC_COMMAND) return;
    // A request running here that has not gone async yet: it is cancelled as soon as it does.
    const early = this.notYetAsync.get(h.messageId);
    if (early) early.cancelRequested = true;
    // A request running on another worker that has not gone async yet (server/workers/link.ts).
    else this.forwarded.get(h.messageId)?.();
  }

  /** The SMB1 NEGOTIATE used message id 0; the SMB2 NEGOTIATE that follows uses id 1 (MS-SMB2 3.3.5.3.1). */
  smb1NegotiateAnswered(): void {
    this.low = 1n;
    this.high = 2n;
  }

  /**
   * A session of this connection ended while the connection stays (LOGOFF, MS-SMB2 3.3.5.6; a failed
   * re-authentication, 3.3.5.5.3; a reconnecting client's new session replacing it): its signed requests now get
   * USER_SESSION_DELETED signed with the key this connection had for it, as Windows and Samba answer (a client that
   * requires signing takes no unsigned answer); remembered for the last few such sessions.
   */
  sessionEnded(session: Session): void {
    const key = session.signingKeyOn(this);
    if (!key) return;
    this.endedSessions.set(session.id, { key, algorithm: this.signingAlgorithm });
    if (this.endedSessions.size > 8) this.endedSessions.delete(this.endedSessions.keys().next().value!);
  }

  /** Preauth integrity (3.1.1): folds a message into the connection's hash. */
  updatePreauth(message: Buffer | Buffer[]): void {
    if (this.preauthHash) this.preauthHash = preauthUpdate(this.preauthHash, message);
  }
}

/** The requests of one compound as they run: the chain state, and the replies not sent yet. */
interface CompoundRun {
  state: CompoundState;
  replies: Built[];
  encryptedBy: Session | undefined;
  /** The frame held more than one request: every reply is padded (sendReplies). */
  compounded: boolean;
}

/** Session and tree lookup failures (checkSessionAndTree). */
const LOOKUP_FAILURES: ReadonlySet<number> = new Set([Status.USER_SESSION_DELETED, Status.NETWORK_SESSION_EXPIRED, Status.NETWORK_NAME_DELETED]);

/** Requests whose result (FileId, session, tree) the rest of a related chain inherits. */
const CHAIN_SOURCES: ReadonlySet<number> = new Set([Command.CREATE, Command.SESSION_SETUP, Command.TREE_CONNECT]);

/** A received frame, or its decrypted plaintext, goes back to the pool it came from (if any) once finished. */
function releaseFrame(frame: Buffer): void {
  sharedPool.release(frame);
  sharedMemoryPool.release(frame);
}

function isErrorStatus(s: number): boolean {
  return s >>> 30 === 3;
}

/** The ClientGuid (hex) of a lone SMB2 NEGOTIATE request, when it names one (MS-SMB2 2.2.3: zero for 2.0.2 only). */
function negotiateClientGuid(msg: Buffer): string | undefined {
  if (msg.length < 64 + 28 || msg.readUInt16LE(12) !== Command.NEGOTIATE || msg.readUInt32LE(20) !== 0) return undefined;
  const guid = msg.subarray(64 + 12, 64 + 28);
  return guid.some((b) => b !== 0) ? guid.toString('hex') : undefined;
}

/** What NEGOTIATE settled on a connection (it moves to another worker with it). */
export interface NegotiatedState {
  dialect: number;
  clientGuid: Buffer;
  clientCapabilities: number;
  clientSecurityMode: number;
  clientDialects: number[];
  serverCapabilities: number;
  serverSecurityMode: number;
  signingAlgorithm: number;
  cipher: number;
  preauthHash: Buffer | undefined;
  maxTransactSize: number;
  maxReadSize: number;
  maxWriteSize: number;
  low: bigint;
  high: bigint;
  used: bigint[];
}

/** A message that is one SESSION_SETUP with SMB2_SESSION_FLAG_BINDING (MS-SMB2 2.2.5), not in a compound. */
function isLoneBinding(msg: Buffer): boolean {
  return msg.length >= 64 + 24 && msg.readUInt32LE(0) === 0x424d53fe && msg.readUInt16LE(12) === Command.SESSION_SETUP && msg.readUInt32LE(20) === 0 && (msg[66]! & 0x01) !== 0;
}
