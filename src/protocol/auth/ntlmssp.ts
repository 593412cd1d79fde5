import { WireError } from '../../errors.js';
import { Reader } from '../../util/reader.js';

/** "NTLMSSP\0" (MS-NLMP 2.2.1). */
export const NTLMSSP_SIGNATURE = Buffer.from('NTLMSSP\0', 'latin1');

export const MessageType = { NEGOTIATE: 1, CHALLENGE: 2, AUTHENTICATE: 3 } as const;

/** NegotiateFlags (MS-NLMP 2.2.2.5). */
export const NegotiateFlags = {
  UNICODE: 0x00000001,
  OEM: 0x00000002,
  REQUEST_TARGET: 0x00000004,
  SIGN: 0x00000010,
  SEAL: 0x00000020,
  DATAGRAM: 0x00000040,
  LM_KEY: 0x00000080,
  NTLM: 0x00000200,
  ANONYMOUS: 0x00000800,
  OEM_DOMAIN_SUPPLIED: 0x00001000,
  OEM_WORKSTATION_SUPPLIED: 0x00002000,
  ALWAYS_SIGN: 0x00008000,
  TARGET_TYPE_DOMAIN: 0x00010000,
  TARGET_TYPE_SERVER: 0x00020000,
  EXTENDED_SESSIONSECURITY: 0x00080000,
  IDENTIFY: 0x00100000,
  REQUEST_NON_NT_SESSION_KEY: 0x00400000,
  TARGET_INFO: 0x00800000,
  VERSION: 0x02000000,
  NEGOTIATE_128: 0x20000000,
  KEY_EXCH: 0x40000000,
  NEGOTIATE_56: 0x80000000,
} as const;

/** AV_PAIR AvId values (MS-NLMP 2.2.2.1). */
export const AvId = {
  MsvAvEOL: 0,
  MsvAvNbComputerName: 1,
  MsvAvNbDomainName: 2,
  MsvAvDnsComputerName: 3,
  MsvAvDnsDomainName: 4,
  MsvAvDnsTreeName: 5,
  MsvAvFlags: 6,
  MsvAvTimestamp: 7,
  MsvAvSingleHost: 8,
  MsvAvTargetName: 9,
  MsvAvChannelBindings: 10,
} as const;

/** MsvAvFlags bits. */
export const AvFlags = {
  ACCOUNT_AUTHENTICATION_CONSTRAINED: 0x1,
  /** The AUTHENTICATE message carries a MIC. */
  MIC_PRESENT: 0x2,
  UNTRUSTED_SPN_SOURCE: 0x4,
} as const;

export interface AvPair {
  id: number;
  value: Buffer;
}

/** VERSION (MS-NLMP 2.2.2.10). */
export interface NtlmVersion {
  major: number;
  minor: number;
  build: number;
  /** NTLMRevisionCurrent: 0x0F. */
  revision: number;
}

export const DEFAULT_VERSION: NtlmVersion = { major: 10, minor: 0, build: 20348, revision: 0x0f };

export interface NegotiateMessage {
  flags: number;
  domain: string;
  workstation: string;
  version?: NtlmVersion;
}

export interface ChallengeMessage {
  flags: number;
  targetName: string;
  serverChallenge: Buffer;
  /** The raw AV_PAIR list (the TargetInfo payload), as sent. */
  targetInfo: Buffer;
  version?: NtlmVersion;
}

export interface AuthenticateMessage {
  flags: number;
  lmChallengeResponse: Buffer;
  ntChallengeResponse: Buffer;
  domain: string;
  user: string;
  workstation: string;
  encryptedRandomSessionKey: Buffer;
  version?: NtlmVersion;
  /** The 16 bytes at offset 72 when the payload starts at or after 88; whether it is a MIC is said by MsvAvFlags. */
  mic?: Buffer;
  /** Offset of the MIC field in the message (72), when present. */
  micOffset?: number;
}

const MAX_AV_PAIRS = 64;

// ---- helpers ----

function readFields(r: Reader): { len: number; offset: number } {
  const len = r.u16();
  r.u16(); // MaxLen: ignored on receipt (MS-NLMP 2.2.1.1)
  const offset = r.u32();
  return { len, offset };
}

function payload(r: Reader, f: { len: number; offset: number }): Buffer {
  if (f.len === 0) return Buffer.alloc(0);
  return r.at(f.offset, f.len);
}

function str(bytes: Buffer, unicode: boolean): string {
  if (unicode) {
    if (bytes.length % 2 !== 0) throw new WireError('NTLMSSP: odd-length Unicode string');
    return bytes.toString('utf16le');
  }
  return bytes.toString('latin1');
}

function readVersion(r: Reader): NtlmVersion {
  const major = r.u8();
  const minor = r.u8();
  const build = r.u16();
  r.skip(3);
  const revision = r.u8();
  return { major, minor, build, revision };
}

function writeVersion(v: NtlmVersion): Buffer {
  const b = Buffer.alloc(8);
  b[0] = v.major;
  b[1] = v.minor;
  b.writeUInt16LE(v.build, 2);
  b[7] = v.revision;
  return b;
}

function readHeader(buf: Buffer, type: number): Reader {
  const r = new Reader(buf);
  const sig = r.bytes(8);
  if (!sig.equals(NTLMSSP_SIGNATURE)) throw new WireError('not an NTLMSSP message');
  const t = r.u32();
  if (t !== type) throw new WireError(`NTLMSSP: expected message type ${type}, got ${t}`);
  return r;
}

/** The message type of an NTLMSSP token, or undefined when it is not one. */
export function ntlmMessageType(buf: Buffer): number | undefined {
  if (buf.length < 12 || !buf.subarray(0, 8).equals(NTLMSSP_SIGNATURE)) return undefined;
  return buf.readUInt32LE(8);
}

/**
 * Lays out a message: fixed part of `fixedLength` bytes, then the payload fields in order. `fields` are written
 * into the fixed part at their `at` positions as (Len, MaxLen, Offset).
 */
function build(fixed: Buffer, fields: { at: number; data: Buffer }[]): Buffer {
  let offset = fixed.length;
  for (const f of fields) {
    fixed.writeUInt16LE(f.data.length, f.at);
    fixed.writeUInt16LE(f.data.length, f.at + 2);
    fixed.writeUInt32LE(offset, f.at + 4);
    offset += f.data.length;
  }
  return Buffer.concat([fixed, ...fields.map((f) => f.data)]);
}

function encStr(s: string, unicode: boolean): Buffer {
  return Buffer.from(s, unicode ? 'utf16le' : 'latin1');
}

// ---- AV pairs ----

/** Decodes an AV_PAIR list up to MsvAvEOL (which must be present). */
export function decodeAvPairs(buf: Buffer): AvPair[] {
  const r = new Reader(buf);
  const out: AvPair[] = [];
  for (;;) {
    const id = r.u16();
    const len = r.u16();
    if (id === AvId.MsvAvEOL) {
      if (len !== 0) throw new WireError('NTLMSSP: MsvAvEOL with a value');
      return out;
    }
    if (out.length >= MAX_AV_PAIRS) throw new WireError('NTLMSSP: too many AV pairs');
    out.push({ id, value: r.bytes(len) });
  }
}

/** Encodes an AV_PAIR list and its terminating MsvAvEOL (pairs with id MsvAvEOL in the input are skipped). */
export function encodeAvPairs(pairs: readonly AvPair[]): Buffer {
  const parts: Buffer[] = [];
  for (const p of pairs) {
    if (p.id === AvId.MsvAvEOL) continue;
    const h = Buffer.alloc(4);
    h.writeUInt16LE(p.id, 0);
    h.writeUInt16LE(p.value.length, 2);
    parts.push(h, p.value);
  }
  parts.push(Buffer.alloc(4));
  return Buffer.concat(parts);
}

export function avString(id: number, s: string): AvPair {
  return { id, value: Buffer.from(s, 'utf16le') };
}

export function findAv(pairs: readonly AvPair[], id: number): Buffer | undefined {
  return pairs.find((p) => p.id === id)?.value;
}

// ---- NEGOTIATE ----

export function decodeNegotiate(buf: Buffer): NegotiateMessage {
  const r = readHeader(buf, MessageType.NEGOTIATE);
  const flags = r.u32();
  const domainF = readFields(r);
  const workstationF = readFields(r);
  const msg: NegotiateMessage = {
    flags,
    domain: (flags & NegotiateFlags.OEM_DOMAIN_SUPPLIED) !== 0 ? payload(r, domainF).toString('latin1') : '',
    workstation: (flags & NegotiateFlags.OEM_WORKSTATION_SUPPLIED) !== 0 ? payload(r, workstationF).toString('latin1') : '',
  };
  if ((flags & NegotiateFlags.VERSION) !== 0 && r.remaining >= 8) msg.version = readVersion(r);
  return msg;
}

export function encodeNegotiate(m: NegotiateMessage): Buffer {
  let flags = m.flags;
  if (m.domain !== '') flags |= NegotiateFlags.OEM_DOMAIN_SUPPLIED;
  if (m.workstation !== '') flags |= NegotiateFlags.OEM_WORKSTATION_SUPPLIED;
  if (m.version !== undefined) flags |= NegotiateFlags.VERSION;
  const fixed = Buffer.alloc(40);
  NTLMSSP_SIGNATURE.copy(fixed, 0);
  fixed.writeUInt32LE(MessageType.NEGOTIATE, 8);
  fixed.writeUInt32LE(flags >>> 0, 12);
  if (m.version !== undefined) writeVersion(m.version).copy(fixed, 32);
  return build(fixed, [
    { at: 16, data: Buffer.from(m.domain, 'latin1') },
    { at: 24, data: Buffer.from(m.workstation, 'latin1') },
  ]);
}

// ---- CHALLENGE ----

export function decodeChallenge(buf: Buffer): ChallengeMessage {
  const r = readHeader(buf, MessageType.CHALLENGE);
  const targetNameF = readFields(r);
  const flags = r.u32();
  const serverChallenge = r.bytes(8);
  r.skip(8); // Reserved
  const targetInfoF = readFields(r);
  const unicode = (flags & NegotiateFlags.UNICODE) !== 0;
  const msg: ChallengeMessage = {
    flags,
    targetName: str(payload(r, targetNameF), unicode),
    serverChallenge,
    targetInfo: payload(r, targetInfoF),
  };
  const firstPayload = Math.min(
    targetNameF.len > 0 ? targetNameF.offset : buf.length,
    targetInfoF.len > 0 ? targetInfoF.offset : buf.length,
  );
  if ((flags & NegotiateFlags.VERSION) !== 0 && firstPayload >= 56) msg.version = readVersion(r);
  return msg;
}

export function encodeChallenge(m: ChallengeMessage): Buffer {
  const fixed = Buffer.alloc(56);
  NTLMSSP_SIGNATURE.copy(fixed, 0);
  fixed.writeUInt32LE(MessageType.CHALLENGE, 8);
  fixed.writeUInt32LE(m.flags >>> 0, 20);
  if (m.serverChallenge.length !== 8) throw new RangeError('server challenge must be 8 bytes');
  m.serverChallenge.copy(fixed, 24);
  if (m.version !== undefined) writeVersion(m.version).copy(fixed, 48);
  const unicode = (m.flags & NegotiateFlags.UNICODE) !== 0;
  return build(fixed, [
    { at: 12, data: encStr(m.targetName, unicode) },
    { at: 40, data: m.targetInfo },
  ]);
}

// ---- AUTHENTICATE ----

export function decodeAuthenticate(buf: Buffer): AuthenticateMessage {
  const r = readHeader(buf, MessageType.AUTHENTICATE);
  const lmF = readFields(r);
  const ntF = readFields(r);
  const domainF = readFields(r);
  const userF = readFields(r);
  const wsF = readFields(r);
  const keyF = readFields(r);
  const flags = r.u32();
  const unicode = (flags & NegotiateFlags.UNICODE) !== 0;
  const msg: AuthenticateMessage = {
    flags,
    lmChallengeResponse: payload(r, lmF),
    ntChallengeResponse: payload(r, ntF),
    domain: str(payload(r, domainF), unicode),
    user: str(payload(r, userF), unicode),
    workstation: str(payload(r, wsF), unicode),
    encryptedRandomSessionKey: payload(r, keyF),
  };
  // Version and MIC exist only when the payload leaves room for them (MS-NLMP 2.2.1.3).
  let firstPayload = buf.length;
  for (const f of [lmF, ntF, domainF, userF, wsF, keyF]) if (f.len > 0) firstPayload = Math.min(firstPayload, f.offset);
  if (firstPayload >= 72) {
    const v = readVersion(r);
    if ((flags & NegotiateFlags.VERSION) !== 0) msg.version = v;
  }
  if (firstPayload >= 88) {
    msg.micOffset = 72;
    msg.mic = buf.subarray(72, 88);
  }
  return msg;
}

/** What encodeAuthenticate takes: the decoded message's fields, with the MIC field reserved instead of given. */
export interface AuthenticateFields extends Omit<AuthenticateMessage, 'mic' | 'micOffset'> {
  /** Reserve the 16-byte MIC field (zeroed; patch it after computing the MIC over the message). */
  withMic: boolean;
}

/** Encodes an AUTHENTICATE message; when `withMic`, the MIC field is at offset 72 and zero. */
export function encodeAuthenticate(m: AuthenticateFields): Buffer {
  const unicode = (m.flags & NegotiateFlags.UNICODE) !== 0;
  const fixedLen = m.withMic ? 88 : 72;
  const fixed = Buffer.alloc(fixedLen);
  NTLMSSP_SIGNATURE.copy(fixed, 0);
  fixed.writeUInt32LE(MessageType.AUTHENTICATE, 8);
  fixed.writeUInt32LE(m.flags >>> 0, 60);
  if (m.version !== undefined) writeVersion(m.version).copy(fixed, 64);
  return build(fixed, [
    { at: 28, data: encStr(m.domain, unicode) },
    { at: 36, data: encStr(m.user, unicode) },
    { at: 44, data: encStr(m.workstation, unicode) },
    { at: 12, data: m.lmChallengeResponse },
    { at: 20, data: m.ntChallengeResponse },
    { at: 52, data: m.encryptedRandomSessionKey },
  ]);
}

/** NTLMv2_CLIENT_CHALLENGE fields of an NTLMv2 NtChallengeResponse (MS-NLMP 2.2.2.7). */
export interface Ntlmv2ClientChallenge {
  ntProofStr: Buffer;
  respType: number;
  timestamp: bigint;
  clientChallenge: Buffer;
  avPairs: AvPair[];
}

/** Decodes NTProofStr + temp. Throws WireError when it is not an NTLMv2 response. */
export function decodeNtlmv2Response(nt: Buffer): Ntlmv2ClientChallenge {
  const r = new Reader(nt);
  const ntProofStr = r.bytes(16);
  const respType = r.u8();
  const hiRespType = r.u8();
  if (respType !== 1 || hiRespType !== 1) throw new WireError('NTLMv2 response: bad RespType');
  r.skip(6);
  const timestamp = r.u64();
  const clientChallenge = r.bytes(8);
  r.skip(4);
  const avPairs = decodeAvPairs(r.bytes(r.remaining));
  return { ntProofStr, respType, timestamp, clientChallenge, avPairs };
}
