import { WireError } from '../../errors.js';
import { Reader } from '../../util/reader.js';
import { Writer } from '../../util/writer.js';

/**
 * NetBIOS name service packets (RFC 1002 4.2): a DNS-shaped header, questions and resource records whose names are
 * NetBIOS names in the first-level encoding of RFC 1001 14.1. Pure codecs: the service in server/discovery/ decides
 * what to answer.
 */

export const NBNS_PORT = 137;

/** Largest datagram the decoder looks at (RFC 1002 4.2.1 limits packets to 576 bytes; peers may send more). */
export const NBNS_MAX_PACKET = 1500;

/** OPCODE values (RFC 1002 4.2.1.1). */
export const NbnsOpcode = {
  QUERY: 0x0,
  REGISTRATION: 0x5,
  RELEASE: 0x6,
  WACK: 0x7,
  REFRESH: 0x8,
} as const;

/** NM_FLAGS bits as they sit in the 16-bit flags word (RFC 1002 4.2.1.1). */
export const NmFlag = {
  AA: 0x0400,
  TC: 0x0200,
  RD: 0x0100,
  RA: 0x0080,
  B: 0x0010,
} as const;

/** RCODE values (RFC 1002 4.2.6, 4.2.14). */
export const NbnsRcode = {
  OK: 0x0,
  FMT_ERR: 0x1,
  SRV_ERR: 0x2,
  NAM_ERR: 0x3,
  IMP_ERR: 0x4,
  RFS_ERR: 0x5,
  ACT_ERR: 0x6,
  CFT_ERR: 0x7,
} as const;

/** RR_TYPE / QUESTION_TYPE values (RFC 1002 4.2.1.2, 4.2.1.3). */
export const NbnsType = {
  A: 0x0001,
  NS: 0x0002,
  NULL: 0x000a,
  NB: 0x0020,
  NBSTAT: 0x0021,
} as const;

export const NBNS_CLASS_IN = 0x0001;

/** NB_FLAGS of a name query answer entry (RFC 1002 4.2.13): G marks a group name; ONT is the owner's node type. */
export const NbFlag = {
  GROUP: 0x8000,
  ONT_B: 0x0000,
  ONT_P: 0x2000,
  ONT_M: 0x4000,
} as const;

/** NAME_FLAGS of a node status entry (RFC 1002 4.2.18). */
export const NameFlag = {
  GROUP: 0x8000,
  DRG: 0x1000,
  CNF: 0x0800,
  ACT: 0x0400,
  PRM: 0x0200,
} as const;

/** Well-known suffixes (the 16th byte of a NetBIOS name). */
export const NameSuffix = {
  WORKSTATION: 0x00,
  MESSENGER: 0x03,
  FILE_SERVER: 0x20,
  BROWSER_ELECTION: 0x1e,
  MASTER_BROWSER: 0x1d,
} as const;

export interface NetbiosName {
  /** Up to 15 bytes as latin1 text, trailing spaces (and NULs, as in the node-status wildcard) removed. */
  name: string;
  suffix: number;
  /** The NetBIOS scope (dotted labels after the encoded name); empty for none. */
  scope: string;
}

export interface NbnsQuestion {
  name: NetbiosName;
  type: number;
  class: number;
}

export interface NbnsResourceRecord {
  name: NetbiosName;
  type: number;
  class: number;
  ttl: number;
  /** A view of RDATA. */
  rdata: Buffer;
}

export interface NbnsPacket {
  transactionId: number;
  response: boolean;
  opcode: number;
  /** NM_FLAGS bits (NmFlag) as they sit in the flags word. */
  nmFlags: number;
  rcode: number;
  questions: NbnsQuestion[];
  answers: NbnsResourceRecord[];
  authorities: NbnsResourceRecord[];
  additionals: NbnsResourceRecord[];
}

/** One address entry of an NB resource record (RFC 1002 4.2.2.2 ADDR_ENTRY). */
export interface NbAddressEntry {
  flags: number;
  address: string;
}

/** One NODE_NAME entry of a node status response (RFC 1002 4.2.18). */
export interface NodeStatusName {
  name: string;
  suffix: number;
  flags: number;
}

export interface NodeStatus {
  names: NodeStatusName[];
  /** UNIT_ID: 6 bytes, the adapter's address (zeros when unknown). */
  unitId: Buffer;
  /** The remaining STATISTICS bytes (counters), as received. */
  statistics: Buffer;
}

const NM_FLAG_MASK = 0x07f0;
/** The RR counts a well-formed name service packet uses are 0-1 (a few for multi-homed answers); more is hostile. */
const MAX_RECORDS_PER_SECTION = 16;
const MAX_NAME_HOPS = 16;
const MAX_NAME_BYTES = 255;
const ENCODED_NAME_LENGTH = 32;
const STATISTICS_LENGTH = 46;

/** `*` padded with NULs: the name a node status request asks for when it does not know the node's names. */
export const WILDCARD_NAME = '*';

/** The 16 raw bytes of a NetBIOS name: 15 bytes padded (with spaces, or NULs for the wildcard) and the suffix. */
export function netbiosNameBytes(name: string, suffix: number): Buffer {
  const raw = Buffer.from(name, 'latin1');
  if (raw.length === 0 || raw.length > 15) throw new RangeError(`NetBIOS name must be 1-15 bytes: ${JSON.stringify(name)}`);
  if (suffix < 0 || suffix > 0xff) throw new RangeError('NetBIOS suffix must be one byte');
  const out = Buffer.alloc(16, name === WILDCARD_NAME ? 0 : 0x20);
  raw.copy(out);
  out[15] = suffix;
  return out;
}

/** First-level encoding (RFC 1001 14.1): each half-byte becomes a letter 'A'..'P'. */
function firstLevelEncode(raw: Buffer): Buffer {
  const out = Buffer.alloc(ENCODED_NAME_LENGTH);
  for (let i = 0; i < 16; i++) {
    out[2 * i] = 0x41 + (raw[i]! >> 4);
    out[2 * i + 1] = 0x41 + (raw[i]! & 0x0f);
  }
  return out;
}

function firstLevelDecode(enc: Buffer): Buffer {
  const raw = Buffer.alloc(16);
  for (let i = 0; i < 16; i++) {
    const hi = enc[2 * i]! - 0x41;
    const lo = enc[2 * i + 1]! - 0x41;
    if (hi < 0 || hi > 15 || lo < 0 || lo > 15) throw new WireError('NetBIOS name is not first-level encoded');
    raw[i] = (hi << 4) | lo;
  }
  return raw;
}

/** Writes a NetBIOS name as a compressed-name-free label sequence (RFC 1002 4.1). */
export function encodeNetbiosName(w: Writer, n: NetbiosName): void {
  w.u8(ENCODED_NAME_LENGTH).bytes(firstLevelEncode(netbiosNameBytes(n.name, n.suffix)));
  if (n.scope) {
    for (const label of n.scope.split('.')) {
      const b = Buffer.from(label, 'latin1');
      if (b.length === 0 || b.length > 63) throw new RangeError(`bad NetBIOS scope label in ${JSON.stringify(n.scope)}`);
      w.u8(b.length).bytes(b);
    }
  }
  w.u8(0);
}

/**
 * Reads a name at the reader's position: labels, possibly ending in a pointer (RFC 1002 4.1 uses RFC 1035's label
 * compression in records). Pointers must point backwards, and the total is bounded, so a loop cannot be built.
 */
export function decodeNetbiosName(r: Reader): NetbiosName {
  const labels: Buffer[] = [];
  let cursor = r.pos;
  let hops = 0;
  let total = 0;
  let resume: number | undefined;
  for (;;) {
    if (cursor >= r.end) throw new WireError('NetBIOS name runs past the packet');
    const len = r.buf[cursor]!;
    if ((len & 0xc0) === 0xc0) {
      if (cursor + 2 > r.end) throw new WireError('truncated NetBIOS name pointer');
      const target = r.base + (((len & 0x3f) << 8) | r.buf[cursor + 1]!);
      if (target >= cursor || ++hops > MAX_NAME_HOPS) throw new WireError('NetBIOS name pointer does not point backwards');
      resume ??= cursor + 2;
      cursor = target;
      continue;
    }
    if ((len & 0xc0) !== 0) throw new WireError('reserved NetBIOS label type');
    cursor++;
    if (len === 0) break;
    if (cursor + len > r.end) throw new WireError('NetBIOS label runs past the packet');
    total += len + 1;
    if (total > MAX_NAME_BYTES) throw new WireError('NetBIOS name too long');
    labels.push(r.buf.subarray(cursor, cursor + len));
    cursor += len;
  }
  r.pos = resume ?? cursor;
  const first = labels[0];
  if (!first || first.length !== ENCODED_NAME_LENGTH) throw new WireError('NetBIOS name label must be 32 bytes');
  const raw = firstLevelDecode(first);
  let end = 15;
  while (end > 0 && (raw[end - 1] === 0x20 || raw[end - 1] === 0)) end--;
  return {
    name: raw.subarray(0, end).toString('latin1'),
    suffix: raw[15]!,
    scope: labels
      .slice(1)
      .map((l) => l.toString('latin1'))
      .join('.'),
  };
}

function decodeRecords(r: Reader, count: number): NbnsResourceRecord[] {
  const out: NbnsResourceRecord[] = [];
  for (let i = 0; i < count; i++) {
    const name = decodeNetbiosName(r);
    const type = r.u16be();
    const cls = r.u16be();
    const ttl = r.u32be();
    const rdlength = r.u16be();
    out.push({ name, type, class: cls, ttl, rdata: r.bytes(rdlength) });
  }
  return out;
}

/** Decodes one name service datagram. Throws WireError on anything malformed. */
export function decodeNbnsPacket(buf: Buffer): NbnsPacket {
  if (buf.length > NBNS_MAX_PACKET) throw new WireError('NetBIOS name service packet too large');
  const r = new Reader(buf);
  const transactionId = r.u16be();
  const flags = r.u16be();
  const counts = [r.u16be(), r.u16be(), r.u16be(), r.u16be()] as const;
  if (counts.some((c) => c > MAX_RECORDS_PER_SECTION)) throw new WireError('too many NetBIOS name service records');
  const questions: NbnsQuestion[] = [];
  for (let i = 0; i < counts[0]; i++) {
    const name = decodeNetbiosName(r);
    questions.push({ name, type: r.u16be(), class: r.u16be() });
  }
  return {
    transactionId,
    response: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0x0f,
    nmFlags: flags & NM_FLAG_MASK,
    rcode: flags & 0x0f,
    questions,
    answers: decodeRecords(r, counts[1]),
    authorities: decodeRecords(r, counts[2]),
    additionals: decodeRecords(r, counts[3]),
  };
}

/** Encodes a packet; names are written in full (no compression), which every receiver accepts. */
export function encodeNbnsPacket(p: NbnsPacket): Buffer {
  const w = new Writer(128);
  w.u16be(p.transactionId);
  w.u16be((p.response ? 0x8000 : 0) | ((p.opcode & 0x0f) << 11) | (p.nmFlags & NM_FLAG_MASK) | (p.rcode & 0x0f));
  w.u16be(p.questions.length).u16be(p.answers.length).u16be(p.authorities.length).u16be(p.additionals.length);
  for (const q of p.questions) {
    encodeNetbiosName(w, q.name);
    w.u16be(q.type).u16be(q.class);
  }
  for (const rr of [...p.answers, ...p.authorities, ...p.additionals]) {
    encodeNetbiosName(w, rr.name);
    w.u16be(rr.type).u16be(rr.class).u32be(rr.ttl).u16be(rr.rdata.length).bytes(rr.rdata);
  }
  return w.finish();
}

/** RDATA of an NB record: 6-byte entries of NB_FLAGS and an IPv4 address. */
export function decodeNbAddressEntries(rdata: Buffer): NbAddressEntry[] {
  if (rdata.length % 6 !== 0) throw new WireError('NB RDATA length is not a multiple of 6');
  const out: NbAddressEntry[] = [];
  const r = new Reader(rdata);
  while (r.remaining > 0) {
    const flags = r.u16be();
    const a = r.bytes(4);
    out.push({ flags, address: `${a[0]}.${a[1]}.${a[2]}.${a[3]}` });
  }
  return out;
}

export function encodeNbAddressEntries(entries: readonly NbAddressEntry[]): Buffer {
  const w = new Writer(6 * entries.length || 1);
  for (const e of entries) {
    const parts = e.address.split('.').map(Number);
    if (parts.length !== 4 || parts.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) {
      throw new RangeError(`not an IPv4 address: ${e.address}`);
    }
    w.u16be(e.flags);
    for (const x of parts) w.u8(x);
  }
  return w.finish();
}

/** RDATA of an NBSTAT record (RFC 1002 4.2.18). */
export function decodeNodeStatus(rdata: Buffer): NodeStatus {
  const r = new Reader(rdata);
  const count = r.u8();
  const names: NodeStatusName[] = [];
  for (let i = 0; i < count; i++) {
    const raw = r.bytes(16);
    let end = 15;
    while (end > 0 && (raw[end - 1] === 0x20 || raw[end - 1] === 0)) end--;
    names.push({ name: raw.subarray(0, end).toString('latin1'), suffix: raw[15]!, flags: r.u16be() });
  }
  const unitId = r.bytes(6);
  return { names, unitId, statistics: r.bytes(r.remaining) };
}

export function encodeNodeStatus(names: readonly NodeStatusName[], unitId: Buffer = Buffer.alloc(6)): Buffer {
  if (names.length > 0xff) throw new RangeError('too many names for a node status response');
  if (unitId.length !== 6) throw new RangeError('UNIT_ID is 6 bytes');
  const w = new Writer(1 + 18 * names.length + STATISTICS_LENGTH);
  w.u8(names.length);
  for (const n of names) w.bytes(netbiosNameBytes(n.name, n.suffix)).u16be(n.flags);
  // STATISTICS: UNIT_ID, then 40 bytes of counters that nothing reads today; zero, as Samba sends them.
  w.bytes(unitId).zeros(STATISTICS_LENGTH - 6);
  return w.finish();
}

/** A NAME QUERY REQUEST (RFC 1002 4.2.12); `broadcast` sets B and RD as a B-node's query does. */
export function nameQueryRequest(transactionId: number, name: NetbiosName, broadcast = false): Buffer {
  return encodeNbnsPacket({
    transactionId,
    response: false,
    opcode: NbnsOpcode.QUERY,
    nmFlags: broadcast ? NmFlag.B | NmFlag.RD : 0,
    rcode: 0,
    questions: [{ name, type: NbnsType.NB, class: NBNS_CLASS_IN }],
    answers: [],
    authorities: [],
    additionals: [],
  });
}

/** A NODE STATUS REQUEST (RFC 1002 4.2.17). */
export function nodeStatusRequest(transactionId: number, name: NetbiosName = { name: WILDCARD_NAME, suffix: 0, scope: '' }): Buffer {
  return encodeNbnsPacket({
    transactionId,
    response: false,
    opcode: NbnsOpcode.QUERY,
    nmFlags: 0,
    rcode: 0,
    questions: [{ name, type: NbnsType.NBSTAT, class: NBNS_CLASS_IN }],
    answers: [],
    authorities: [],
    additionals: [],
  });
}

function answerTo(request: NbnsPacket, nmFlags: number, rcode: number, answer: NbnsResourceRecord): Buffer {
  return encodeNbnsPacket({
    transactionId: request.transactionId,
    response: true,
    opcode: NbnsOpcode.QUERY,
    nmFlags,
    rcode,
    questions: [],
    answers: [answer],
    authorities: [],
    additionals: [],
  });
}

/** POSITIVE NAME QUERY RESPONSE (RFC 1002 4.2.13): AA and RD set; the question is not repeated. */
export function positiveNameQueryResponse(request: NbnsPacket, name: NetbiosName, entries: readonly NbAddressEntry[], ttl: number): Buffer {
  return answerTo(request, NmFlag.AA | NmFlag.RD, NbnsRcode.OK, {
    name,
    type: NbnsType.NB,
    class: NBNS_CLASS_IN,
    ttl,
    rdata: encodeNbAddressEntries(entries),
  });
}

/** NEGATIVE NAME QUERY RESPONSE (RFC 1002 4.2.14): RCODE NAM_ERR and an empty NULL record. */
export function negativeNameQueryResponse(request: NbnsPacket, name: NetbiosName): Buffer {
  return answerTo(request, NmFlag.AA | NmFlag.RD, NbnsRcode.NAM_ERR, {
    name,
    type: NbnsType.NULL,
    class: NBNS_CLASS_IN,
    ttl: 0,
    rdata: Buffer.alloc(0),
  });
}

/** NODE STATUS RESPONSE (RFC 1002 4.2.18): AA only; the record's name repeats the question's. */
export function nodeStatusResponse(request: NbnsPacket, name: NetbiosName, names: readonly NodeStatusName[], unitId?: Buffer): Buffer {
  return answerTo(request, NmFlag.AA, NbnsRcode.OK, {
    name,
    type: NbnsType.NBSTAT,
    class: NBNS_CLASS_IN,
    ttl: 0,
    rdata: encodeNodeStatus(names, unitId),
  });
}
