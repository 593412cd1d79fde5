import { WireError } from '../../errors.js';
import { Reader } from '../../util/reader.js';
import { Writer } from '../../util/writer.js';
import { Dialect, SMB1_MAGIC } from '../smb2/constants.js';

/**
 * Just enough SMB1 (MS-CIFS 2.2.4.52, MS-SMB 2.2.4.5) to see an SMB1 NEGOTIATE, upgrade it to SMB2
 * (MS-SMB2 3.3.5.3.1), and for a scanner to send one and read the answer.
 */

export const SMB1_HEADER_SIZE = 32;
export const SMB1_COM_NEGOTIATE = 0x72;

/** SMB1 header Flags / Flags2 bits used here (MS-CIFS 2.2.3.1). */
export const Smb1Flags = { CASE_INSENSITIVE: 0x08, CANONICALIZED_PATHS: 0x10, REPLY: 0x80 } as const;
export const Smb1Flags2 = {
  LONG_NAMES: 0x0001,
  EAS: 0x0002,
  SECURITY_SIGNATURE: 0x0004,
  IS_LONG_NAME: 0x0040,
  EXTENDED_SECURITY: 0x0800,
  NT_STATUS: 0x4000,
  UNICODE: 0x8000,
} as const;

/** The dialect strings a scanner offers by default (every SMB1 variant, then the SMB2 upgrade strings). */
export const DEFAULT_SMB1_DIALECTS = ['PC NETWORK PROGRAM 1.0', 'LANMAN1.0', 'LM1.2X002', 'LANMAN2.1', 'NT LM 0.12', 'SMB 2.002', 'SMB 2.???'];

export interface Smb1Header {
  command: number;
  status: number;
  flags: number;
  flags2: number;
  pid: number;
  tid: number;
  uid: number;
  mid: number;
}

/** More dialect strings than any client offers; bounds the decode. */
const MAX_SMB1_DIALECTS = 64;

function decodeSmb1Header(r: Reader): Smb1Header {
  if (r.u32be() !== SMB1_MAGIC) throw new WireError('not an SMB1 header');
  const command = r.u8();
  const status = r.u32();
  const flags = r.u8();
  const flags2 = r.u16();
  const pidHigh = r.u16();
  r.skip(8 + 2); // SecurityFeatures, Reserved
  const tid = r.u16();
  const pidLow = r.u16();
  const uid = r.u16();
  const mid = r.u16();
  return { command, status, flags, flags2, pid: pidHigh * 0x10000 + pidLow, tid, uid, mid };
}

function encodeSmb1Header(w: Writer, h: Smb1Header): void {
  w.u32be(SMB1_MAGIC);
  w.u8(h.command);
  w.u32(h.status);
  w.u8(h.flags);
  w.u16(h.flags2);
  w.u16(Math.floor(h.pid / 0x10000));
  w.zeros(8 + 2);
  w.u16(h.tid);
  w.u16(h.pid & 0xffff);
  w.u16(h.uid);
  w.u16(h.mid);
}

export interface Smb1NegotiateRequest {
  header: Smb1Header;
  dialects: string[];
}

/** Decodes a whole SMB1 NEGOTIATE request message (header included). */
export function decodeSmb1NegotiateRequest(msg: Buffer): Smb1NegotiateRequest {
  const r = new Reader(msg);
  const header = decodeSmb1Header(r);
  if (header.command !== SMB1_COM_NEGOTIATE) throw new WireError('SMB1 message is not NEGOTIATE');
  const wordCount = r.u8();
  if (wordCount !== 0) throw new WireError('SMB1 NEGOTIATE WordCount is not 0');
  const byteCount = r.u16();
  const bytes = r.bytes(byteCount);
  const dialects: string[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    if (bytes[pos] !== 0x02) throw new WireError('SMB1 dialect without BufferFormat 0x02');
    const nul = bytes.indexOf(0, pos + 1);
    if (nul < 0) throw new WireError('SMB1 dialect string not NUL-terminated');
    if (dialects.length >= MAX_SMB1_DIALECTS) throw new WireError('too many SMB1 dialects');
    dialects.push(bytes.subarray(pos + 1, nul).toString('latin1'));
    pos = nul + 1;
  }
  return { header, dialects };
}

/**
 * The SMB2 dialect to answer an SMB1 NEGOTIATE with (MS-SMB2 3.3.5.3.1): the wildcard 0x02FF when
 * "SMB 2.???" is offered, 2.0.2 when only "SMB 2.002" is, otherwise undefined (an SMB1-only client).
 */
export function smb2DialectFromSmb1(dialects: readonly string[]): number | undefined {
  if (dialects.includes('SMB 2.???')) return Dialect.WILDCARD;
  if (dialects.includes('SMB 2.002')) return Dialect.SMB202;
  return undefined;
}

/** A whole SMB1 NEGOTIATE request message (no transport header). */
export function encodeSmb1NegotiateRequest(
  dialects: readonly string[] = DEFAULT_SMB1_DIALECTS,
  opts: { mid?: number; pid?: number; flags2?: number } = {},
): Buffer {
  const w = new Writer(128);
  encodeSmb1Header(w, {
    command: SMB1_COM_NEGOTIATE,
    status: 0,
    flags: Smb1Flags.CASE_INSENSITIVE | Smb1Flags.CANONICALIZED_PATHS,
    flags2:
      opts.flags2 ??
      Smb1Flags2.LONG_NAMES | Smb1Flags2.EAS | Smb1Flags2.IS_LONG_NAME | Smb1Flags2.EXTENDED_SECURITY | Smb1Flags2.NT_STATUS | Smb1Flags2.UNICODE,
    pid: opts.pid ?? 0xfeff,
    tid: 0,
    uid: 0,
    mid: opts.mid ?? 0,
  });
  w.u8(0); // WordCount
  const byteCountAt = w.reserveU16();
  const start = w.pos;
  for (const d of dialects) {
    w.u8(0x02);
    w.bytes(Buffer.from(d, 'latin1'));
    w.u8(0);
  }
  w.patchU16(byteCountAt, w.pos - start);
  return Buffer.from(w.finish());
}

/** What a scanner needs from an SMB1 NEGOTIATE response. */
export interface Smb1NegotiateResponse {
  header: Smb1Header;
  wordCount: number;
  /** Index into the offered dialects; 0xFFFF when none was accepted. */
  dialectIndex: number;
  /** SecurityMode (NT LM 0.12: 1 byte; LANMAN: low byte of the 2-byte field), undefined for WordCount 1. */
  securityMode: number | undefined;
}

export function decodeSmb1NegotiateResponse(msg: Buffer): Smb1NegotiateResponse {
  const r = new Reader(msg);
  const header = decodeSmb1Header(r);
  if (header.command !== SMB1_COM_NEGOTIATE) throw new WireError('SMB1 message is not NEGOTIATE');
  const wordCount = r.u8();
  if (wordCount === 0) return { header, wordCount, dialectIndex: 0xffff, securityMode: undefined };
  const words = r.sub(wordCount * 2);
  const dialectIndex = words.u16();
  const securityMode = wordCount > 1 ? words.u8() : undefined;
  return { header, wordCount, dialectIndex, securityMode };
}

/**
 * An SMB1 NEGOTIATE response that accepts no dialect (WordCount 1, DialectIndex 0xFFFF; MS-CIFS 2.2.4.52.2),
 * echoing the request's ids; a server without SMB1 may send it before closing.
 */
export function encodeSmb1NegotiateNoDialectResponse(request: Smb1Header): Buffer {
  const w = new Writer(48);
  encodeSmb1Header(w, {
    ...request,
    status: 0,
    flags: request.flags | Smb1Flags.REPLY,
  });
  w.u8(1).u16(0xffff).u16(0);
  return Buffer.from(w.finish());
}
