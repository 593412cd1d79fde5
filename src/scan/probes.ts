/**
 * Network probes of the exposure scanner: each opens a fresh TCP connection, sends one or two messages built with
 * the protocol codecs, reads the answer through the frame accumulator and closes. Every probe has a deadline and
 * turns every failure (refused, reset, closed, silent, not SMB) into a value, never an exception.
 */
import { randomBytes } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { WireError } from '../errors.js';
import { NegotiateFlags, decodeAvPairs, decodeChallenge, encodeNegotiate, findAv, AvId } from '../protocol/auth/ntlmssp.js';
import { Oid, decodeSpnego, encodeNegTokenInit } from '../protocol/auth/spnego.js';
import {
  FrameAccumulator,
  NetbiosPacketType,
  decodeNegativeSessionResponse,
  encodeNetbiosSessionRequest,
  frameHeader,
  type Frame,
} from '../protocol/framing.js';
import { Status, statusName } from '../protocol/nt-status.js';
import { decodeSmb1NegotiateResponse, encodeSmb1NegotiateRequest } from '../protocol/smb1/negotiate.js';
import { decodeNegotiateResponse, encodeNegotiateRequest, type NegotiateResponse } from '../protocol/smb2/commands/negotiate.js';
import { decodeSessionSetupResponse, encodeSessionSetupRequest } from '../protocol/smb2/commands/session-setup.js';
import {
  Cipher,
  Command,
  Dialect,
  GlobalCapabilities,
  HashAlgorithm,
  SMB1_MAGIC,
  SMB2_HEADER_SIZE,
  SMB2_MAGIC,
  SecurityMode,
  SigningAlgorithm,
} from '../protocol/smb2/constants.js';
import { CompressionCapabilitiesFlags, type NegotiateContext } from '../protocol/smb2/contexts/negotiate-contexts.js';
import { decodeHeader, emptyHeader, encodeHeader, type Smb2Header } from '../protocol/smb2/header.js';
import { Reader } from '../util/reader.js';
import { Writer } from '../util/writer.js';

/** How a probe ended when it got no usable answer. */
export type ProbeFailure = 'closed' | 'timeout' | 'reset' | 'eof' | 'not-smb' | 'unreachable' | 'error';

export class ProbeError extends Error {
  override readonly name = 'ProbeError';
  constructor(
    readonly kind: ProbeFailure,
    message: string,
  ) {
    super(message);
  }
}

/** A plain sentence for a failed probe. */
export function describeFailure(e: unknown, timeoutMs: number): { kind: ProbeFailure; detail: string } {
  if (e instanceof ProbeError) {
    if (e.kind === 'timeout') return { kind: e.kind, detail: `no answer within ${timeoutMs} ms` };
    return { kind: e.kind, detail: e.message };
  }
  return { kind: 'error', detail: e instanceof Error ? e.message : String(e) };
}

const MAX_PROBE_FRAME = 1024 * 1024;

/** One short-lived connection: send a message, wait for the next frame, each step under the deadline. */
export class ProbeConnection {
  private readonly acc: FrameAccumulator;
  private readonly frames: Frame[] = [];
  private failure: ProbeError | undefined;
  private waiter: (() => void) | undefined;

  private constructor(
    private readonly socket: Socket,
    netbios: boolean,
  ) {
    this.acc = new FrameAccumulator({ netbios, maxFrameSize: MAX_PROBE_FRAME });
    socket.on('data', (chunk: Buffer) => {
      if (this.failure) return;
      try {
        this.acc.push(chunk);
        for (let f = this.acc.nextFrame(); f !== undefined; f = this.acc.nextFrame()) this.frames.push(f);
      } catch (e) {
        this.fail(new ProbeError('not-smb', `the answer is not SMB framing (${e instanceof WireError ? e.message : String(e)})`));
        return;
      }
      this.wake();
    });
    socket.on('error', (e: NodeJS.ErrnoException) => this.fail(socketError(e)));
    socket.on('close', () => this.fail(new ProbeError('eof', 'the server closed the connection without an answer')));
  }

  /** Connects to host:port; rejects with ProbeError ('closed' when refused, 'timeout' after timeoutMs). */
  static open(host: string, port: number, timeoutMs: number, opts: { netbios?: boolean } = {}): Promise<ProbeConnection> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host, port, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new ProbeError('timeout', `no TCP answer within ${timeoutMs} ms`));
      }, timeoutMs);
      const onError = (e: NodeJS.ErrnoException): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(socketError(e));
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        resolve(new ProbeConnection(socket, opts.netbios ?? false));
      });
    });
  }

  private fail(e: ProbeError): void {
    this.failure ??= e;
    this.socket.destroy();
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /** Sends `data` (already framed) and resolves with the next frame. */
  async exchange(data: Buffer, timeoutMs: number): Promise<Frame> {
    if (!this.failure) this.socket.write(data);
    return this.nextFrame(timeoutMs);
  }

  nextFrame(timeoutMs: number): Promise<Frame> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const f = this.frames.shift();
        if (f !== undefined) {
          resolve(f);
          return true;
        }
        if (this.failure) {
          reject(this.failure);
          return true;
        }
        return false;
      };
      if (check()) return;
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new ProbeError('timeout', `no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      const onWake = (): void => {
        if (check()) clearTimeout(timer);
        else this.waiter = onWake;
      };
      this.waiter = onWake;
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

function socketError(e: NodeJS.ErrnoException): ProbeError {
  switch (e.code) {
    case 'ECONNREFUSED':
      return new ProbeError('closed', 'connection refused (port closed)');
    case 'ECONNRESET':
    case 'EPIPE':
      return new ProbeError('reset', 'the server reset the connection');
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
      return new ProbeError('unreachable', `host unreachable (${e.code})`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new ProbeError('unreachable', `host name does not resolve (${e.code})`);
    case 'ETIMEDOUT':
      return new ProbeError('timeout', 'the connection timed out');
    default:
      return new ProbeError('error', e.message);
  }
}

async function withConnection<T>(
  host: string,
  port: number,
  timeoutMs: number,
  fn: (c: ProbeConnection) => Promise<T>,
  opts: { netbios?: boolean } = {},
): Promise<T> {
  const c = await ProbeConnection.open(host, port, timeoutMs, opts);
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

// ---- TCP ----

export type PortStateName = 'open' | 'closed' | 'timeout' | 'unreachable' | 'error';

export async function probeTcpPort(host: string, port: number, timeoutMs: number): Promise<{ state: PortStateName; detail: string }> {
  try {
    const c = await ProbeConnection.open(host, port, timeoutMs);
    c.close();
    return { state: 'open', detail: 'accepts TCP connections' };
  } catch (e) {
    const f = describeFailure(e, timeoutMs);
    const state: PortStateName = f.kind === 'closed' || f.kind === 'timeout' || f.kind === 'unreachable' ? f.kind : 'error';
    return { state, detail: f.kind === 'timeout' ? `no TCP answer within ${timeoutMs} ms` : f.detail };
  }
}

// ---- NetBIOS session service (RFC 1002 4.3.2) ----

export interface NetbiosProbeResult {
  state: 'positive' | 'negative' | 'retarget' | 'not-netbios' | ProbeFailure;
  detail: string;
}

export async function probeNetbiosSession(
  host: string,
  port: number,
  timeoutMs: number,
  calledName = '*SMBSERVER',
): Promise<NetbiosProbeResult> {
  try {
    return await withConnection(
      host,
      port,
      timeoutMs,
      async (c) => {
        const req = encodeNetbiosSessionRequest({
          called: { name: calledName.toUpperCase(), suffix: 0x20, scope: '' },
          calling: { name: 'SMBKITSCAN', suffix: 0x00, scope: '' },
        });
        const f = await c.exchange(req, timeoutMs);
        switch (f.type) {
          case NetbiosPacketType.POSITIVE_SESSION_RESPONSE:
            return { state: 'positive', detail: `accepted a session to ${calledName}` } as const;
          case NetbiosPacketType.NEGATIVE_SESSION_RESPONSE: {
            const code = f.payload.length > 0 ? decodeNegativeSessionResponse(f.payload) : 0x8f;
            return { state: 'negative', detail: `refused a session to ${calledName} (code 0x${code.toString(16)})` } as const;
          }
          case NetbiosPacketType.RETARGET_SESSION_RESPONSE:
            return { state: 'retarget', detail: 'answered with a retarget' } as const;
          default:
            return { state: 'not-netbios', detail: `answered with packet type 0x${f.type.toString(16)}` } as const;
        }
      },
      { netbios: true },
    );
  } catch (e) {
    const f = describeFailure(e, timeoutMs);
    return { state: f.kind === 'not-smb' ? 'not-netbios' : f.kind, detail: f.detail };
  }
}

// ---- SMB1 ----

export interface Smb1ProbeResult {
  state: 'accepted' | 'refused' | ProbeFailure;
  detail: string;
  signingEnabled: boolean | null;
  signingRequired: boolean | null;
}

/** SMB1 SecurityMode bits (MS-CIFS 2.2.4.52.2). */
const Smb1SecurityMode = { SIGNATURES_ENABLED: 0x04, SIGNATURES_REQUIRED: 0x08 } as const;

/** A NEGOTIATE offering only "NT LM 0.12": accepted when the server picks it (DialectIndex 0). */
export async function probeSmb1(host: string, port: number, timeoutMs: number): Promise<Smb1ProbeResult> {
  const none = { signingEnabled: null, signingRequired: null };
  try {
    return await withConnection(host, port, timeoutMs, async (c) => {
      const msg = encodeSmb1NegotiateRequest(['NT LM 0.12']);
      const f = await c.exchange(Buffer.concat([frameHeader(msg.length), msg]), timeoutMs);
      const magic = f.payload.length >= 4 ? f.payload.readUInt32BE(0) : 0;
      if (magic === SMB2_MAGIC) return { state: 'refused', detail: 'answered in SMB2', ...none } as const;
      if (magic !== SMB1_MAGIC) throw new ProbeError('not-smb', 'the answer is not an SMB message');
      const r = decodeSmb1NegotiateResponse(f.payload);
      if (r.header.status !== 0) {
        return { state: 'refused', detail: `refused with ${statusName(r.header.status)}`, ...none } as const;
      }
      if (r.dialectIndex !== 0) return { state: 'refused', detail: 'no dialect accepted', ...none } as const;
      const sm = r.securityMode ?? 0;
      return {
        state: 'accepted',
        detail: 'accepted NT LM 0.12',
        signingEnabled: (sm & Smb1SecurityMode.SIGNATURES_ENABLED) !== 0,
        signingRequired: (sm & Smb1SecurityMode.SIGNATURES_REQUIRED) !== 0,
      } as const;
    });
  } catch (e) {
    const f = describeFailure(e, timeoutMs);
    // A server without SMB1 commonly drops the connection on an SMB1-only NEGOTIATE: that is a refusal.
    if (f.kind === 'eof' || f.kind === 'reset') return { state: 'refused', detail: 'closed the connection (SMB1 not offered)', ...none };
    return { state: f.kind, detail: f.detail, ...none };
  }
}

// ---- SMB2/3 NEGOTIATE ----

/** Every capability a client can announce, so the server shows all it has (MS-SMB2 2.2.3). */
const ALL_CLIENT_CAPABILITIES =
  GlobalCapabilities.DFS |
  GlobalCapabilities.LEASING |
  GlobalCapabilities.LARGE_MTU |
  GlobalCapabilities.MULTI_CHANNEL |
  GlobalCapabilities.PERSISTENT_HANDLES |
  GlobalCapabilities.DIRECTORY_LEASING |
  GlobalCapabilities.ENCRYPTION;

export const ALL_CIPHERS = [Cipher.AES128_GCM, Cipher.AES128_CCM, Cipher.AES256_GCM, Cipher.AES256_CCM];
export const ALL_SIGNING_ALGORITHMS = [SigningAlgorithm.AES_GMAC, SigningAlgorithm.AES_CMAC, SigningAlgorithm.HMAC_SHA256];

/** What a 3.1.1 probe offers in place of the defaults (one algorithm at a time). */
export interface Smb311Offer {
  ciphers?: number[];
  signingAlgorithms?: number[];
  compressionAlgorithms?: number[];
}

function defaultContexts(o: Smb311Offer): NegotiateContext[] {
  const ctx: NegotiateContext[] = [
    { kind: 'preauthIntegrity', hashAlgorithms: [HashAlgorithm.SHA512], salt: randomBytes(32) },
    { kind: 'encryption', ciphers: o.ciphers ?? ALL_CIPHERS },
    { kind: 'signing', signingAlgorithms: o.signingAlgorithms ?? ALL_SIGNING_ALGORITHMS },
  ];
  if (o.compressionAlgorithms !== undefined) {
    ctx.push({ kind: 'compression', flags: CompressionCapabilitiesFlags.NONE, compressionAlgorithms: o.compressionAlgorithms });
  }
  return ctx;
}

function smb2Message(h: Partial<Smb2Header> & { command: number }, body: (w: Writer) => void): Buffer {
  const w = new Writer(512, 0);
  encodeHeader(w, { ...emptyHeader(), credits: 1, ...h });
  body(w);
  const msg = w.finish();
  return Buffer.concat([frameHeader(msg.length), msg]);
}

interface Smb2Answer {
  header: Smb2Header;
  body: Reader;
}

function readSmb2(f: Frame): Smb2Answer {
  const magic = f.payload.length >= 4 ? f.payload.readUInt32BE(0) : 0;
  if (magic === SMB1_MAGIC) throw new ProbeError('not-smb', 'answered in SMB1 only');
  if (magic !== SMB2_MAGIC) throw new ProbeError('not-smb', 'the answer is not an SMB message');
  try {
    const header = decodeHeader(new Reader(f.payload));
    return { header, body: new Reader(f.payload, SMB2_HEADER_SIZE, f.payload.length, 0) };
  } catch (e) {
    throw new ProbeError('not-smb', `malformed SMB2 answer (${(e as Error).message})`);
  }
}

export function negotiateRequestFrame(dialects: number[], offer: Smb311Offer = {}): Buffer {
  return smb2Message({ command: Command.NEGOTIATE, creditCharge: 0 }, (w) =>
    encodeNegotiateRequest(w, {
      securityMode: SecurityMode.SIGNING_ENABLED,
      capabilities: ALL_CLIENT_CAPABILITIES,
      clientGuid: randomBytes(16),
      dialects,
      negotiateContexts: dialects.includes(Dialect.SMB311) ? defaultContexts(offer) : [],
    }),
  );
}

export interface NegotiateProbeResult {
  state: 'accepted' | 'refused' | ProbeFailure;
  detail: string;
  response: NegotiateResponse | undefined;
}

async function negotiateOn(c: ProbeConnection, dialects: number[], offer: Smb311Offer, timeoutMs: number): Promise<NegotiateProbeResult> {
  const a = readSmb2(await c.exchange(negotiateRequestFrame(dialects, offer), timeoutMs));
  if (a.header.command !== Command.NEGOTIATE) throw new ProbeError('not-smb', 'the answer is not a NEGOTIATE response');
  if (a.header.status !== Status.SUCCESS) {
    return { state: 'refused', detail: `refused with ${statusName(a.header.status)}`, response: undefined };
  }
  let response: NegotiateResponse;
  try {
    response = decodeNegotiateResponse(a.body);
  } catch (e) {
    throw new ProbeError('not-smb', `malformed NEGOTIATE response (${(e as Error).message})`);
  }
  if (!dialects.includes(response.dialectRevision)) {
    return { state: 'refused', detail: `answered dialect 0x${response.dialectRevision.toString(16)}, which was not offered`, response };
  }
  return { state: 'accepted', detail: 'accepted', response };
}

/** One NEGOTIATE on a fresh connection offering `dialects` (one, for a per-dialect probe). */
export async function probeNegotiate(
  host: string,
  port: number,
  dialects: number[],
  timeoutMs: number,
  offer: Smb311Offer = {},
): Promise<NegotiateProbeResult> {
  try {
    return await withConnection(host, port, timeoutMs, (c) => negotiateOn(c, dialects, offer, timeoutMs));
  } catch (e) {
    const f = describeFailure(e, timeoutMs);
    // Servers commonly drop a connection whose only dialect they do not speak.
    if (f.kind === 'eof' || f.kind === 'reset') return { state: 'refused', detail: 'closed the connection (dialect not offered)', response: undefined };
    return { state: f.kind, detail: f.detail, response: undefined };
  }
}

// ---- NTLM CHALLENGE (target information) ----

export interface NtlmChallengeInfo {
  netbiosComputerName: string | null;
  netbiosDomainName: string | null;
  dnsComputerName: string | null;
  dnsDomainName: string | null;
  dnsTreeName: string | null;
  targetName: string | null;
  /** "major.minor build N" from the VERSION field (MS-NLMP 2.2.2.10). */
  osVersion: string | null;
  /** MsvAvTimestamp as a FILETIME. */
  timestamp: bigint | null;
}

export interface NtlmProbeResult {
  state: 'ok' | 'refused' | ProbeFailure;
  detail: string;
  info: NtlmChallengeInfo | undefined;
  /** Security mechanisms the server offered in its NEGOTIATE security buffer (SPNEGO NegTokenInit). */
  mechanisms: string[];
}

const NTLM_PROBE_FLAGS =
  NegotiateFlags.UNICODE |
  NegotiateFlags.OEM |
  NegotiateFlags.REQUEST_TARGET |
  NegotiateFlags.SIGN |
  NegotiateFlags.NTLM |
  NegotiateFlags.ALWAYS_SIGN |
  NegotiateFlags.EXTENDED_SESSIONSECURITY |
  NegotiateFlags.VERSION |
  NegotiateFlags.NEGOTIATE_128 |
  NegotiateFlags.KEY_EXCH |
  NegotiateFlags.NEGOTIATE_56;

const MECH_NAMES: Record<string, string> = {
  [Oid.NTLMSSP]: 'ntlmssp',
  [Oid.KERBEROS]: 'kerberos',
  [Oid.MS_KERBEROS]: 'kerberos (ms)',
  [Oid.KERBEROS_USER_TO_USER]: 'kerberos-u2u',
  [Oid.NEGOEX]: 'negoex',
};

export function mechanismsOf(securityBuffer: Buffer): string[] {
  if (securityBuffer.length === 0) return [];
  try {
    const t = decodeSpnego(securityBuffer);
    return t.kind === 'init' ? t.mechTypes.map((m) => MECH_NAMES[m] ?? m) : [];
  } catch {
    return [];
  }
}

/** Decodes what a CHALLENGE_MESSAGE says about the server. */
export function challengeInfo(challenge: Buffer): NtlmChallengeInfo {
  const c = decodeChallenge(challenge);
  const pairs = c.targetInfo.length > 0 ? decodeAvPairs(c.targetInfo) : [];
  const s = (id: number): string | null => {
    const v = findAv(pairs, id);
    return v === undefined ? null : v.toString('utf16le');
  };
  const ts = findAv(pairs, AvId.MsvAvTimestamp);
  return {
    netbiosComputerName: s(AvId.MsvAvNbComputerName),
    netbiosDomainName: s(AvId.MsvAvNbDomainName),
    dnsComputerName: s(AvId.MsvAvDnsComputerName),
    dnsDomainName: s(AvId.MsvAvDnsDomainName),
    dnsTreeName: s(AvId.MsvAvDnsTreeName),
    targetName: c.targetName === '' ? null : c.targetName,
    osVersion: c.version === undefined ? null : `${c.version.major}.${c.version.minor} build ${c.version.build}`,
    timestamp: ts !== undefined && ts.length === 8 ? ts.readBigUInt64LE(0) : null,
  };
}

/**
 * NEGOTIATE with `dialects`, then a SESSION_SETUP carrying an NTLM NEGOTIATE: the server's CHALLENGE names the
 * machine and its domain before any credential is sent (MS-NLMP 2.2.1.2).
 */
export async function probeNtlmChallenge(host: string, port: number, dialects: number[], timeoutMs: number): Promise<NtlmProbeResult> {
  try {
    return await withConnection(host, port, timeoutMs, async (c) => {
      const neg = await negotiateOn(c, dialects, {}, timeoutMs);
      if (neg.state !== 'accepted' || neg.response === undefined) return { state: 'refused', detail: neg.detail, info: undefined, mechanisms: [] } as const;
      const mechanisms = mechanismsOf(neg.response.securityBuffer);
      const dialect = neg.response.dialectRevision;
      const token = encodeNegTokenInit({
        mechTypes: [Oid.NTLMSSP],
        mechToken: encodeNegotiate({ flags: NTLM_PROBE_FLAGS, domain: '', workstation: '', version: { major: 10, minor: 0, build: 20348, revision: 0x0f } }),
      });
      const frame = smb2Message({ command: Command.SESSION_SETUP, messageId: 1n, creditCharge: dialect === Dialect.SMB202 ? 0 : 1 }, (w) =>
        encodeSessionSetupRequest(w, {
          flags: 0,
          securityMode: SecurityMode.SIGNING_ENABLED,
          capabilities: 0,
          channel: 0,
          previousSessionId: 0n,
          securityBuffer: token,
        }),
      );
      const a = readSmb2(await c.exchange(frame, timeoutMs));
      if (a.header.status !== Status.MORE_PROCESSING_REQUIRED) {
        return { state: 'refused', detail: `SESSION_SETUP answered ${statusName(a.header.status)}`, info: undefined, mechanisms } as const;
      }
      const ss = decodeSessionSetupResponse(a.body);
      const resp = decodeSpnego(ss.securityBuffer);
      const challenge = resp.kind === 'resp' ? resp.responseToken : resp.mechToken;
      if (challenge === undefined) return { state: 'refused', detail: 'no NTLM CHALLENGE in the answer', info: undefined, mechanisms } as const;
      return { state: 'ok', detail: 'NTLM CHALLENGE received', info: challengeInfo(challenge), mechanisms } as const;
    });
  } catch (e) {
    if (e instanceof WireError) return { state: 'not-smb', detail: `malformed NTLM answer (${e.message})`, info: undefined, mechanisms: [] };
    const f = describeFailure(e, timeoutMs);
    return { state: f.kind, detail: f.detail, info: undefined, mechanisms: [] };
  }
}
