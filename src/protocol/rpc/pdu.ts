/**
 * DCE/RPC connection-oriented PDUs (C706 chapter 12, MS-RPCE 2.2.2): the common header, bind / alter_context and
 * their answers, request, response and fault. Only little-endian, ASCII, IEEE data representation is produced;
 * a peer announcing anything else is refused by the caller. Authentication verifiers are decoded as opaque bytes.
 */
import { WireError } from '../../errors.js';
import { guidFromString, guidToString } from '../../util/guid.js';
import { Reader } from '../../util/reader.js';
import { Writer } from '../../util/writer.js';

export const PduType = {
  REQUEST: 0,
  RESPONSE: 2,
  FAULT: 3,
  BIND: 11,
  BIND_ACK: 12,
  BIND_NAK: 13,
  ALTER_CONTEXT: 14,
  ALTER_CONTEXT_RESP: 15,
  AUTH3: 16,
  SHUTDOWN: 17,
  CO_CANCEL: 18,
  ORPHANED: 19,
} as const;

export const PfcFlags = {
  FIRST_FRAG: 0x01,
  LAST_FRAG: 0x02,
  /** PFC_PENDING_CANCEL in requests; PFC_SUPPORT_HEADER_SIGN in bind (MS-RPCE 2.2.2.3). */
  PENDING_CANCEL: 0x04,
  SUPPORT_HEADER_SIGN: 0x04,
  CONC_MPX: 0x10,
  DID_NOT_EXECUTE: 0x20,
  MAYBE: 0x40,
  OBJECT_UUID: 0x80,
} as const;

/** p_cont_def_result_t (C706 12.6.3.1) plus MS-RPCE 2.2.2.4's negotiate_ack. */
export const ContextResult = {
  ACCEPTANCE: 0,
  USER_REJECTION: 1,
  PROVIDER_REJECTION: 2,
  NEGOTIATE_ACK: 3,
} as const;

/** p_provider_reason_t (C706 12.6.3.1). */
export const ProviderReason = {
  NOT_SPECIFIED: 0,
  ABSTRACT_SYNTAX_NOT_SUPPORTED: 1,
  PROPOSED_TRANSFER_SYNTAXES_NOT_SUPPORTED: 2,
  LOCAL_LIMIT_EXCEEDED: 3,
} as const;

/** p_reject_reason_t of bind_nak (C706 12.6.3.1). */
export const BindNakReason = {
  NOT_SPECIFIED: 0,
  TEMPORARY_CONGESTION: 1,
  LOCAL_LIMIT_EXCEEDED: 2,
  CALLED_PADDR_UNKNOWN: 3,
  PROTOCOL_VERSION_NOT_SUPPORTED: 4,
  DEFAULT_CONTEXT_NOT_SUPPORTED: 5,
  USER_DATA_NOT_READABLE: 6,
  NO_PSAP_AVAILABLE: 7,
  AUTHENTICATION_TYPE_NOT_RECOGNIZED: 8,
  INVALID_CHECKSUM: 9,
} as const;

/** Fault status codes (C706 appendix E, MS-RPCE 2.2.2.11 / MS-ERREF). */
export const FaultStatus = {
  OP_RNG_ERROR: 0x1c010002,
  UNK_IF: 0x1c010003,
  PROTO_ERROR: 0x1c01000b,
  CONTEXT_MISMATCH: 0x1c00001a,
  REMOTE_NO_MEMORY: 0x1c00001b,
  ACCESS_DENIED: 0x00000005,
  /** RPC_X_BAD_STUB_DATA: the stub could not be unmarshalled. */
  BAD_STUB_DATA: 0x000006f7,
} as const;

export const COMMON_HEADER_SIZE = 16;
/** Every implementation must accept fragments of this size (C706 12.6.3.1 "must_recv_frag_size"). */
export const MIN_FRAG_SIZE = 1432;
/** Packed drep for little-endian integers, ASCII characters, IEEE floats (C706 14.1). */
export const DREP_LE = 0x10;

export interface SyntaxId {
  /** Canonical text form, lower case. */
  uuid: string;
  /** Major version in the low 16 bits, minor in the high 16 (the wire's u32 as read little-endian). */
  version: number;
}

export const NDR20_SYNTAX: SyntaxId = { uuid: '8a885d04-1ceb-11c9-9fe8-08002b104860', version: 2 };
export const NDR64_SYNTAX: SyntaxId = { uuid: '71710533-beba-4937-8319-b5dbef9ccc36', version: 1 };
/** Bind time feature negotiation (MS-RPCE 3.3.1.5.3): this prefix, the bitmask in the following bytes. */
export const BIND_TIME_FEATURE_PREFIX = '6cb71c2c-9812-4540-';

export function syntaxVersion(major: number, minor = 0): number {
  return ((minor & 0xffff) << 16 | (major & 0xffff)) >>> 0;
}

export function sameSyntax(a: SyntaxId, b: SyntaxId): boolean {
  return a.uuid === b.uuid && a.version === b.version;
}

export interface CommonHeader {
  versionMinor: number;
  type: number;
  flags: number;
  drep: number;
  fragLength: number;
  authLength: number;
  callId: number;
}

export interface PresentationContext {
  contextId: number;
  abstractSyntax: SyntaxId;
  transferSyntaxes: SyntaxId[];
}

export interface BindBody {
  maxXmitFrag: number;
  maxRecvFrag: number;
  assocGroupId: number;
  contexts: PresentationContext[];
  authVerifier: Buffer;
}

export interface ContextResultEntry {
  result: number;
  reason: number;
  transferSyntax: SyntaxId;
}

export interface BindAckBody {
  maxXmitFrag: number;
  maxRecvFrag: number;
  assocGroupId: number;
  /** The secondary address (e.g. "\PIPE\srvsvc"); empty in alter_context_resp. */
  secondaryAddress: string;
  results: ContextResultEntry[];
}

export interface RequestBody {
  allocHint: number;
  contextId: number;
  opnum: number;
  object: string | undefined;
  stub: Buffer;
  authVerifier: Buffer;
}

export interface ResponseBody {
  allocHint: number;
  contextId: number;
  cancelCount: number;
  stub: Buffer;
}

export interface FaultBody {
  allocHint: number;
  contextId: number;
  cancelCount: number;
  status: number;
}

export interface BindNakBody {
  reason: number;
  /** Supported protocol versions as [major, minor] pairs. */
  versions: [number, number][];
}

export type Pdu =
  | { header: CommonHeader; type: typeof PduType.BIND | typeof PduType.ALTER_CONTEXT; body: BindBody }
  | { header: CommonHeader; type: typeof PduType.BIND_ACK | typeof PduType.ALTER_CONTEXT_RESP; body: BindAckBody }
  | { header: CommonHeader; type: typeof PduType.BIND_NAK; body: BindNakBody }
  | { header: CommonHeader; type: typeof PduType.REQUEST; body: RequestBody }
  | { header: CommonHeader; type: typeof PduType.RESPONSE; body: ResponseBody }
  | { header: CommonHeader; type: typeof PduType.FAULT; body: FaultBody }
  | { header: CommonHeader; type: 'other'; body: Buffer };

/** Reads the 16-byte common header; checks the version and the lengths against `r`. */
export function decodeCommonHeader(r: Reader): CommonHeader {
  const major = r.u8();
  const versionMinor = r.u8();
  const type = r.u8();
  const flags = r.u8();
  const drep = r.u32();
  const fragLength = r.u16();
  const authLength = r.u16();
  const callId = r.u32();
  if (major !== 5 || versionMinor > 1) throw new WireError(`unsupported RPC version ${major}.${versionMinor}`);
  if ((drep & 0xff) !== DREP_LE) throw new WireError('only little-endian ASCII data representation is supported');
  if (fragLength < COMMON_HEADER_SIZE) throw new WireError('frag_length shorter than the header');
  if (authLength > 0 && authLength + 8 > fragLength - COMMON_HEADER_SIZE) throw new WireError('auth_length beyond the fragment');
  return { versionMinor, type, flags, drep, fragLength, authLength, callId };
}

/** Length of the PDU at the start of `buf` when its header is there (frag_length), else undefined. */
export function peekFragLength(buf: Buffer): number | undefined {
  return buf.length >= 10 ? buf.readUInt16LE(8) : undefined;
}

function readSyntax(r: Reader): SyntaxId {
  const uuid = guidToString(Buffer.from(r.bytes(16)));
  return { uuid, version: r.u32() };
}

function writeSyntax(w: Writer, s: SyntaxId): void {
  w.bytes(guidFromString(s.uuid)).u32(s.version);
}

/** The body region of a PDU (between the header and the auth verifier), and the verifier itself. */
function splitBody(buf: Buffer, h: CommonHeader): { body: Reader; auth: Buffer } {
  const authStart = h.authLength > 0 ? h.fragLength - h.authLength - 8 : h.fragLength;
  const body = new Reader(buf, COMMON_HEADER_SIZE, authStart, 0);
  const auth = h.authLength > 0 ? buf.subarray(authStart, h.fragLength) : Buffer.alloc(0);
  return { body, auth };
}

/** Decodes one whole PDU (buf holds exactly frag_length bytes, or more that are ignored). */
export function decodePdu(buf: Buffer): Pdu {
  const r = new Reader(buf);
  const header = decodeCommonHeader(r);
  if (header.fragLength > buf.length) throw new WireError('PDU shorter than its frag_length');
  const { body, auth } = splitBody(buf, header);
  switch (header.type) {
    case PduType.BIND:
    case PduType.ALTER_CONTEXT: {
      const maxXmitFrag = body.u16();
      const maxRecvFrag = body.u16();
      const assocGroupId = body.u32();
      const n = body.u8();
      body.skip(3);
      const contexts: PresentationContext[] = [];
      for (let i = 0; i < n; i++) {
        const contextId = body.u16();
        const nTransfer = body.u8();
        body.skip(1);
        const abstractSyntax = readSyntax(body);
        // Each transfer syntax is 20 bytes: the count is bounded by the fragment.
        body.need(nTransfer * 20);
        const transferSyntaxes: SyntaxId[] = [];
        for (let j = 0; j < nTransfer; j++) transferSyntaxes.push(readSyntax(body));
        contexts.push({ contextId, abstractSyntax, transferSyntaxes });
      }
      return { header, type: header.type, body: { maxXmitFrag, maxRecvFrag, assocGroupId, contexts, authVerifier: auth } };
    }
    case PduType.BIND_ACK:
    case PduType.ALTER_CONTEXT_RESP: {
      const maxXmitFrag = body.u16();
      const maxRecvFrag = body.u16();
      const assocGroupId = body.u32();
      const addrLength = body.u16();
      const addr = body.bytes(addrLength);
      const nul = addr.indexOf(0);
      const secondaryAddress = addr.subarray(0, nul < 0 ? addr.length : nul).toString('latin1');
      body.align(4);
      const n = body.u8();
      body.skip(3);
      body.need(n * 24);
      const results: ContextResultEntry[] = [];
      for (let i = 0; i < n; i++) results.push({ result: body.u16(), reason: body.u16(), transferSyntax: readSyntax(body) });
      return { header, type: header.type, body: { maxXmitFrag, maxRecvFrag, assocGroupId, secondaryAddress, results } };
    }
    case PduType.BIND_NAK: {
      const reason = body.u16();
      const versions: [number, number][] = [];
      if (body.remaining > 0) {
        const n = body.u8();
        body.need(n * 2);
        for (let i = 0; i < n; i++) versions.push([body.u8(), body.u8()]);
      }
      return { header, type: PduType.BIND_NAK, body: { reason, versions } };
    }
    case PduType.REQUEST: {
      const allocHint = body.u32();
      const contextId = body.u16();
      const opnum = body.u16();
      const object = header.flags & PfcFlags.OBJECT_UUID ? guidToString(Buffer.from(body.bytes(16))) : undefined;
      const stub = body.bytes(body.remaining);
      return { header, type: PduType.REQUEST, body: { allocHint, contextId, opnum, object, stub, authVerifier: auth } };
    }
    case PduType.RESPONSE: {
      const allocHint = body.u32();
      const contextId = body.u16();
      const cancelCount = body.u8();
      body.skip(1);
      return { header, type: PduType.RESPONSE, body: { allocHint, contextId, cancelCount, stub: body.bytes(body.remaining) } };
    }
    case PduType.FAULT: {
      const allocHint = body.u32();
      const contextId = body.u16();
      const cancelCount = body.u8();
      body.skip(1);
      const status = body.u32();
      return { header, type: PduType.FAULT, body: { allocHint, contextId, cancelCount, status } };
    }
    default:
      return { header, type: 'other', body: body.bytes(body.remaining) };
  }
}

/** Writes a PDU: the header with frag_length patched once the body is written. */
function writePdu(type: number, flags: number, callId: number, body: (w: Writer) => void): Buffer {
  const w = new Writer(128);
  w.u8(5).u8(0).u8(type).u8(flags).u32(DREP_LE);
  const lengthAt = w.reserveU16();
  w.u16(0); // auth_length
  w.u32(callId);
  body(w);
  if (w.pos > 0xffff) throw new RangeError('PDU longer than 65535 bytes');
  w.patchU16(lengthAt, w.pos);
  return Buffer.from(w.finish());
}

export function encodeBind(type: typeof PduType.BIND | typeof PduType.ALTER_CONTEXT, callId: number, m: Omit<BindBody, 'authVerifier'>, flags: number = PfcFlags.FIRST_FRAG | PfcFlags.LAST_FRAG): Buffer {
  return writePdu(type, flags, callId, (w) => {
    w.u16(m.maxXmitFrag).u16(m.maxRecvFrag).u32(m.assocGroupId);
    w.u8(m.contexts.length).u8(0).u16(0);
    for (const c of m.contexts) {
      w.u16(c.contextId).u8(c.transferSyntaxes.length).u8(0);
      writeSyntax(w, c.abstractSyntax);
      for (const t of c.transferSyntaxes) writeSyntax(w, t);
    }
  });
}

export function encodeBindAck(type: typeof PduType.BIND_ACK | typeof PduType.ALTER_CONTEXT_RESP, callId: number, m: BindAckBody): Buffer {
  return writePdu(type, PfcFlags.FIRST_FRAG | PfcFlags.LAST_FRAG, callId, (w) => {
    w.u16(m.maxXmitFrag).u16(m.maxRecvFrag).u32(m.assocGroupId);
    // port_any_t: the length counts the terminating NUL; an empty address is length 0 (MS-RPCE 2.2.2.4).
    if (m.secondaryAddress === '') {
      w.u16(0);
    } else {
      const addr = Buffer.from(`${m.secondaryAddress}\0`, 'latin1');
      w.u16(addr.length).bytes(addr);
    }
    w.align(4);
    w.u8(m.results.length).u8(0).u16(0);
    for (const res of m.results) {
      w.u16(res.result).u16(res.reason);
      writeSyntax(w, res.transferSyntax);
    }
  });
}

export function encodeBindNak(callId: number, m: BindNakBody): Buffer {
  return writePdu(PduType.BIND_NAK, PfcFlags.FIRST_FRAG | PfcFlags.LAST_FRAG, callId, (w) => {
    w.u16(m.reason).u8(m.versions.length);
    for (const [major, minor] of m.versions) w.u8(major).u8(minor);
  });
}

export function encodeRequest(callId: number, m: { allocHint: number; contextId: number; opnum: number; stub: Buffer; object?: string }, flags: number = PfcFlags.FIRST_FRAG | PfcFlags.LAST_FRAG): Buffer {
  const f = m.object !== undefined ? flags | PfcFlags.OBJECT_UUID : flags & ~PfcFlags.OBJECT_UUID;
  return writePdu(PduType.REQUEST, f, callId, (w) => {
    w.u32(m.allocHint).u16(m.contextId).u16(m.opnum);
    if (m.object !== undefined) w.bytes(guidFromString(m.object));
    w.bytes(m.stub);
  });
}

export function encodeResponse(callId: number, m: ResponseBody, flags: number): Buffer {
  return writePdu(PduType.RESPONSE, flags, callId, (w) => {
    w.u32(m.allocHint).u16(m.contextId).u8(m.cancelCount).u8(0).bytes(m.stub);
  });
}

export function encodeFault(callId: number, m: FaultBody, flags: number = PfcFlags.FIRST_FRAG | PfcFlags.LAST_FRAG): Buffer {
  return writePdu(PduType.FAULT, flags, callId, (w) => {
    w.u32(m.allocHint).u16(m.contextId).u8(m.cancelCount).u8(0).u32(m.status).u32(0);
  });
}

/** Response header (16) + alloc_hint, p_cont_id, cancel_count, reserved (8). */
export const RESPONSE_OVERHEAD = 24;

/**
 * A response stub cut into fragments of at most `maxFrag` bytes each (C706 12.6.2: the stub of every fragment but
 * the last is a multiple of 8 bytes), FIRST on the first and LAST on the last.
 */
export function encodeResponseFragments(callId: number, contextId: number, stub: Buffer, maxFrag: number): Buffer[] {
  const room = Math.floor((maxFrag - RESPONSE_OVERHEAD) / 8) * 8;
  if (room <= 0) throw new RangeError('fragment size too small');
  const out: Buffer[] = [];
  let at = 0;
  do {
    const piece = stub.subarray(at, at + room);
    const flags = (at === 0 ? PfcFlags.FIRST_FRAG : 0) | (at + piece.length >= stub.length ? PfcFlags.LAST_FRAG : 0);
    out.push(encodeResponse(callId, { allocHint: stub.length - at, contextId, cancelCount: 0, stub: piece }, flags));
    at += piece.length;
  } while (at < stub.length);
  return out;
}
