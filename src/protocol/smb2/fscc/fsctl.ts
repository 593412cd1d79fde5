/** Payloads of SMB2 IOCTL/FSCTL requests and responses (MS-SMB2 2.2.31.x / 2.2.32.x, MS-FSCC 2.3). */
import { isIP } from 'node:net';
import { WireError } from '../../../errors.js';
import type { Reader } from '../../../util/reader.js';
import type { Writer } from '../../../util/writer.js';
import { ipv6ToText } from '../../../util/cidr.js';
import { Status } from '../../nt-status.js';

// --- FSCTL_VALIDATE_NEGOTIATE_INFO (MS-SMB2 2.2.31.4 / 2.2.32.6) ------------------------------------------

export interface ValidateNegotiateInfoRequest {
  capabilities: number;
  /** 16 bytes. */
  guid: Buffer;
  securityMode: number;
  dialects: number[];
}

export interface ValidateNegotiateInfoResponse {
  capabilities: number;
  guid: Buffer;
  securityMode: number;
  dialect: number;
}

export function decodeValidateNegotiateInfoRequest(r: Reader): ValidateNegotiateInfoRequest {
  const capabilities = r.u32();
  const guid = r.bytes(16);
  const securityMode = r.u16();
  const count = r.u16();
  r.need(count * 2);
  const dialects: number[] = [];
  for (let i = 0; i < count; i++) dialects.push(r.u16());
  return { capabilities, guid, securityMode, dialects };
}

export function encodeValidateNegotiateInfoRequest(w: Writer, m: ValidateNegotiateInfoRequest): void {
  w.u32(m.capabilities).bytes(guid16(m.guid)).u16(m.securityMode).u16(m.dialects.length);
  for (const d of m.dialects) w.u16(d);
}

export function encodeValidateNegotiateInfoResponse(w: Writer, m: ValidateNegotiateInfoResponse): void {
  w.u32(m.capabilities).bytes(guid16(m.guid)).u16(m.securityMode).u16(m.dialect);
}

export function decodeValidateNegotiateInfoResponse(r: Reader): ValidateNegotiateInfoResponse {
  const capabilities = r.u32();
  const guid = r.bytes(16);
  const securityMode = r.u16();
  const dialect = r.u16();
  return { capabilities, guid, securityMode, dialect };
}

function guid16(b: Buffer): Buffer {
  if (b.length !== 16) throw new RangeError('GUID must be 16 bytes');
  return b;
}

// --- FSCTL_QUERY_NETWORK_INTERFACE_INFO (MS-SMB2 2.2.32.5) -------------------------------------------------

export const InterfaceCapability = { RSS_CAPABLE: 0x00000001, RDMA_CAPABLE: 0x00000002 } as const;

const AF_INET = 0x0002;
const AF_INET6 = 0x0017;
const NETWORK_INTERFACE_INFO_SIZE = 152;

export interface NetworkInterfaceInfo {
  ifIndex: number;
  capability: number;
  /** Bits per second. */
  linkSpeed: bigint;
  /** IPv4 dotted or IPv6 text. */
  address: string;
  /** IPv6 only. */
  scopeId?: number;
}

function writeSockaddr(w: Writer, address: string, scopeId: number): void {
  const start = w.pos;
  const kind = isIP(address);
  if (kind === 4) {
    // SOCKADDR_IN: Family, Port 0, IPv4 address (network order), Reserved(8)
    w.u16(AF_INET).u16(0);
    for (const part of address.split('.')) w.u8(Number(part));
  } else if (kind === 6) {
    // SOCKADDR_IN6: Family, Port 0, FlowInfo 0, address, ScopeId
    w.u16(AF_INET6).u16(0).u32(0).bytes(ipv6Bytes(address)).u32(scopeId);
  } else {
    throw new TypeError(`not an IP address: ${address}`);
  }
  w.zeros(128 - (w.pos - start)); // SOCKADDR_STORAGE is 128 bytes
}

function ipv6Bytes(text: string): Buffer {
  let s = text.replace(/%.*$/, '');
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const p = v4[1]!.split('.').map(Number);
    s = s.slice(0, -v4[1]!.length) + `${((p[0]! << 8) | p[1]!).toString(16)}:${((p[2]! << 8) | p[3]!).toString(16)}`;
  }
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
  return b;
}


/** The response list: 152-byte entries chained by Next (0 on the last). */
export function encodeNetworkInterfaceInfo(w: Writer, list: readonly NetworkInterfaceInfo[]): void {
  list.forEach((n, i) => {
    w.u32(i === list.length - 1 ? 0 : NETWORK_INTERFACE_INFO_SIZE).u32(n.ifIndex).u32(n.capability).u32(0);
    w.u64(n.linkSpeed);
    writeSockaddr(w, n.address, n.scopeId ?? 0);
  });
}

export function decodeNetworkInterfaceInfo(r: Reader): NetworkInterfaceInfo[] {
  const out: NetworkInterfaceInfo[] = [];
  if (r.remaining === 0) return out;
  for (;;) {
    const start = r.pos;
    r.need(NETWORK_INTERFACE_INFO_SIZE);
    const next = r.u32();
    const ifIndex = r.u32();
    const capability = r.u32();
    r.skip(4);
    const linkSpeed = r.u64();
    const family = r.u16();
    r.skip(2); // Port
    let info: NetworkInterfaceInfo;
    if (family === AF_INET) {
      const a = r.bytes(4);
      info = { ifIndex, capability, linkSpeed, address: `${a[0]}.${a[1]}.${a[2]}.${a[3]}` };
    } else if (family === AF_INET6) {
      r.skip(4);
      const address = ipv6ToText(r.bytes(16));
      info = { ifIndex, capability, linkSpeed, address, scopeId: r.u32() };
    } else {
      throw new WireError(`unknown address family ${family}`);
    }
    out.push(info);
    if (next === 0) return out;
    if (next < NETWORK_INTERFACE_INFO_SIZE || start + next >= r.end) throw new WireError('bad NETWORK_INTERFACE_INFO Next');
    r.pos = start + next;
  }
}

// --- FSCTL_SRV_REQUEST_RESUME_KEY / FSCTL_SRV_COPYCHUNK (MS-SMB2 2.2.32.3, 2.2.31.1, 2.2.32.1) ---------

/** SRV_REQUEST_RESUME_KEY response: ResumeKey(24), ContextLength 0, and 4 bytes of padding (OutputCount 32, 3.3.5.15.5). */
export function encodeResumeKeyResponse(w: Writer, resumeKey: Buffer): void {
  if (resumeKey.length !== 24) throw new RangeError('resume key must be 24 bytes');
  w.bytes(resumeKey).u32(0).u32(0);
}

export function decodeResumeKeyResponse(r: Reader): Buffer {
  const key = r.bytes(24);
  r.u32(); // ContextLength: unused
  return key;
}

export interface CopyChunk {
  sourceOffset: bigint;
  targetOffset: bigint;
  length: number;
}

export interface CopyChunkRequest {
  sourceKey: Buffer;
  chunks: CopyChunk[];
}

export interface CopyChunkResponse {
  chunksWritten: number;
  chunkBytesWritten: number;
  totalBytesWritten: number;
}

/** Server limits a client learns from an INVALID_PARAMETER copychunk answer (MS-SMB2 3.3.3: Windows defaults). */
export const COPYCHUNK_LIMITS = { maxChunks: 256, maxChunkSize: 1024 * 1024, maxTotalBytes: 16 * 1024 * 1024 } as const;

export function decodeCopyChunkRequest(r: Reader): CopyChunkRequest {
  const sourceKey = r.bytes(24);
  const count = r.u32();
  r.skip(4);
  // Each chunk is 24 bytes; the count is checked against the buffer before allocating.
  if (count * 24 > r.remaining) throw new WireError('ChunkCount exceeds the input', Status.INVALID_PARAMETER);
  const chunks: CopyChunk[] = [];
  for (let i = 0; i < count; i++) {
    const sourceOffset = r.u64();
    const targetOffset = r.u64();
    const length = r.u32();
    r.skip(4);
    chunks.push({ sourceOffset, targetOffset, length });
  }
  return { sourceKey, chunks };
}

export function encodeCopyChunkRequest(w: Writer, m: CopyChunkRequest): void {
  if (m.sourceKey.length !== 24) throw new RangeError('source key must be 24 bytes');
  w.bytes(m.sourceKey).u32(m.chunks.length).u32(0);
  for (const c of m.chunks) w.u64(c.sourceOffset).u64(c.targetOffset).u32(c.length).u32(0);
}

export function encodeCopyChunkResponse(w: Writer, m: CopyChunkResponse): void {
  w.u32(m.chunksWritten).u32(m.chunkBytesWritten).u32(m.totalBytesWritten);
}

export function decodeCopyChunkResponse(r: Reader): CopyChunkResponse {
  return { chunksWritten: r.u32(), chunkBytesWritten: r.u32(), totalBytesWritten: r.u32() };
}

// --- DFS referrals (MS-DFSC 2.2.2, 2.2.3): decoded only so they can be refused -------------------------

export interface DfsReferralRequest {
  maxReferralLevel: number;
  requestFileName: string;
  siteName?: string;
}

function readNulTerminatedUtf16(r: Reader): string {
  const start = r.pos;
  while (r.remaining >= 2) {
    if (r.u16() === 0) return r.buf.toString('utf16le', start, r.pos - 2);
  }
  throw new WireError('unterminated UTF-16 string', Status.INVALID_PARAMETER);
}

/** REQ_GET_DFS_REFERRAL: MaxReferralLevel + NUL-terminated RequestFileName. */
export function decodeDfsReferralRequest(r: Reader): DfsReferralRequest {
  const maxReferralLevel = r.u16();
  return { maxReferralLevel, requestFileName: readNulTerminatedUtf16(r) };
}

/** REQ_GET_DFS_REFERRAL_EX: MaxReferralLevel, RequestFlags, RequestDataLength, then the file and site names. */
export function decodeDfsReferralRequestEx(r: Reader): DfsReferralRequest {
  const maxReferralLevel = r.u16();
  const flags = r.u16();
  const dataLength = r.u32();
  const data = r.sub(dataLength);
  const nameLength = data.u16();
  const requestFileName = data.utf16(nameLength);
  const out: DfsReferralRequest = { maxReferralLevel, requestFileName };
  if (flags & 0x1) {
    const siteLength = data.u16();
    out.siteName = data.utf16(siteLength);
  }
  return out;
}

// --- FILE_OBJECTID_BUFFER (MS-FSCC 2.1.3) -----------------------------------------------------------------

export interface ObjectIdBuffer {
  objectId: Buffer;
  birthVolumeId: Buffer;
  birthObjectId: Buffer;
  domainId: Buffer;
}

export function encodeObjectIdBuffer(w: Writer, o: ObjectIdBuffer): void {
  w.bytes(guid16(o.objectId)).bytes(guid16(o.birthVolumeId)).bytes(guid16(o.birthObjectId)).bytes(guid16(o.domainId));
}

export function decodeObjectIdBuffer(r: Reader): ObjectIdBuffer {
  return { objectId: r.bytes(16), birthVolumeId: r.bytes(16), birthObjectId: r.bytes(16), domainId: r.bytes(16) };
}

// --- FSCTL_QUERY_ALLOCATED_RANGES / FSCTL_SET_ZERO_DATA (MS-FSCC 2.3.47, 2.3.48, 2.3.85) -------------------

export interface AllocatedRange {
  fileOffset: bigint;
  length: bigint;
}

function readNonNegative(r: Reader): bigint {
  const v = r.i64();
  if (v < 0n) throw new WireError('negative offset or length', Status.INVALID_PARAMETER);
  return v;
}

/** FILE_ALLOCATED_RANGE_BUFFER input (16 bytes). */
export function decodeAllocatedRangeRequest(r: Reader): AllocatedRange {
  if (r.remaining < 16) throw new WireError('FILE_ALLOCATED_RANGE_BUFFER too short', Status.INVALID_PARAMETER);
  return { fileOffset: readNonNegative(r), length: readNonNegative(r) };
}

export function encodeAllocatedRanges(w: Writer, ranges: readonly AllocatedRange[]): void {
  for (const x of ranges) w.u64(x.fileOffset).u64(x.length);
}

export function decodeAllocatedRanges(r: Reader): AllocatedRange[] {
  if (r.remaining % 16 !== 0) throw new WireError('allocated ranges not a multiple of 16 bytes');
  const out: AllocatedRange[] = [];
  while (r.remaining > 0) out.push({ fileOffset: r.u64(), length: r.u64() });
  return out;
}

/** How many 16-byte ranges fit an output buffer (a cut list answers STATUS_BUFFER_OVERFLOW, MS-FSA 2.1.5.10.22). */
export function allocatedRangesThatFit(maxOutputLength: number): number {
  return Math.floor(maxOutputLength / 16);
}

export interface ZeroDataInformation {
  fileOffset: bigint;
  beyondFinalZero: bigint;
}

/** FILE_ZERO_DATA_INFORMATION; FileOffset greater than BeyondFinalZero is INVALID_PARAMETER (MS-FSA 2.1.5.10.36). */
export function decodeZeroDataInformation(r: Reader): ZeroDataInformation {
  if (r.remaining < 16) throw new WireError('FILE_ZERO_DATA_INFORMATION too short', Status.INVALID_PARAMETER);
  const fileOffset = readNonNegative(r);
  const beyondFinalZero = readNonNegative(r);
  if (fileOffset > beyondFinalZero) throw new WireError('FileOffset beyond BeyondFinalZero', Status.INVALID_PARAMETER);
  return { fileOffset, beyondFinalZero };
}

export function encodeZeroDataInformation(w: Writer, z: ZeroDataInformation): void {
  w.u64(z.fileOffset).u64(z.beyondFinalZero);
}

// --- FSCTL_SRV_ENUMERATE_SNAPSHOTS (MS-SMB2 2.2.32.2) -----------------------------------------------------

/**
 * SRV_SNAPSHOT_ARRAY: NumberOfSnapShots, NumberOfSnapShotsReturned, SnapShotArraySize, then @GMT tokens
 * NUL-terminated with a final extra NUL. When the array does not fit maxOutputLength only the counts go out.
 */
export function encodeSnapshotArray(w: Writer, tokens: readonly string[], maxOutputLength: number): void {
  const array = tokens.length ? Buffer.from(tokens.map((t) => `${t}\0`).join('') + '\0', 'utf16le') : Buffer.alloc(0);
  const fits = 12 + array.length <= maxOutputLength;
  w.u32(tokens.length).u32(fits ? tokens.length : 0).u32(array.length);
  if (fits) w.bytes(array);
}

// --- FSCTL_PIPE_WAIT (MS-FSCC 2.3.49) ------------------------------------------------------------------------

export interface PipeWaitRequest {
  timeout: bigint;
  timeoutSpecified: boolean;
  name: string;
}

export function decodePipeWaitRequest(r: Reader): PipeWaitRequest {
  const timeout = r.i64();
  const nameLength = r.u32();
  const timeoutSpecified = r.u8() !== 0;
  r.skip(1);
  return { timeout, timeoutSpecified, name: r.utf16(nameLength) };
}

// --- FSCTL_LMR_REQUEST_RESILIENCY (MS-SMB2 2.2.31.3) ----------------------------------------------------------

/** NETWORK_RESILIENCY_REQUEST: how long (ms) the server keeps the open after a disconnect. */
export interface NetworkResiliencyRequest {
  timeoutMs: number;
}

export const NETWORK_RESILIENCY_REQUEST_SIZE = 8;

export function decodeNetworkResiliencyRequest(r: Reader): NetworkResiliencyRequest {
  const timeoutMs = r.u32();
  r.skip(4); // Reserved
  return { timeoutMs };
}

export function encodeNetworkResiliencyRequest(w: Writer, m: NetworkResiliencyRequest): void {
  w.u32(m.timeoutMs).u32(0);
}

// --- FSCTL_SET_SPARSE (MS-FSCC 2.3.64) ---------------------------------------------------------------------

/**
 * FILE_SET_SPARSE_BUFFER is optional: no input means "set sparse" (MS-FSA 2.1.5.10.39). Only the first byte
 * counts; a longer buffer is accepted as Windows does.
 */
export function decodeSetSparse(r: Reader): boolean {
  if (r.remaining === 0) return true;
  return r.u8() !== 0;
}

// --- FSCTL_GET_COMPRESSION / FSCTL_SET_COMPRESSION (MS-FSCC 2.3.12, 2.3.59) --------------------------------

export const CompressionFormat = { NONE: 0x0000, DEFAULT: 0x0001, LZNT1: 0x0002 } as const;

/** CompressionState (USHORT); a buffer shorter than 2 bytes is INVALID_PARAMETER (MS-FSA 2.1.5.10.37). */
export function decodeCompressionState(r: Reader): number {
  if (r.remaining < 2) throw new WireError('COMPRESSION_STATE too short', Status.INVALID_PARAMETER);
  return r.u16();
}

export function encodeCompressionState(w: Writer, format: number): void {
  w.u16(format);
}

// --- FSCTL_GET_INTEGRITY_INFORMATION (MS-FSCC 2.3.23) ------------------------------------------------------

export interface IntegrityInformation {
  checksumAlgorithm: number;
  flags: number;
  checksumChunkSizeInBytes: number;
  clusterSizeInBytes: number;
}

export const ChecksumAlgorithm = { NONE: 0x0000, CRC64: 0x0002 } as const;

/** FSCTL_GET_INTEGRITY_INFORMATION_BUFFER: 16 bytes. */
export function encodeIntegrityInformation(w: Writer, m: IntegrityInformation): void {
  w.u16(m.checksumAlgorithm).u16(0).u32(m.flags).u32(m.checksumChunkSizeInBytes).u32(m.clusterSizeInBytes);
}

export function decodeIntegrityInformation(r: Reader): IntegrityInformation {
  const checksumAlgorithm = r.u16();
  r.skip(2);
  return { checksumAlgorithm, flags: r.u32(), checksumChunkSizeInBytes: r.u32(), clusterSizeInBytes: r.u32() };
}

// --- FSCTL_FILE_LEVEL_TRIM (MS-FSCC 2.3.14, 2.3.15) --------------------------------------------------------

export interface FileLevelTrim {
  key: number;
  ranges: { offset: bigint; length: bigint }[];
}

/** FILE_LEVEL_TRIM: Key, NumRanges, then 16-byte FILE_LEVEL_TRIM_RANGEs; the count is checked before allocating. */
export function decodeFileLevelTrim(r: Reader): FileLevelTrim {
  if (r.remaining < 8) throw new WireError('FILE_LEVEL_TRIM too short', Status.INVALID_PARAMETER);
  const key = r.u32();
  const count = r.u32();
  if (count * 16 > r.remaining) throw new WireError('NumRanges exceeds the input', Status.INVALID_PARAMETER);
  const ranges: FileLevelTrim['ranges'] = [];
  for (let i = 0; i < count; i++) ranges.push({ offset: r.u64(), length: r.u64() });
  return { key, ranges };
}

export function encodeFileLevelTrim(w: Writer, m: FileLevelTrim): void {
  w.u32(m.key).u32(m.ranges.length);
  for (const x of m.ranges) w.u64(x.offset).u64(x.length);
}

/** FILE_LEVEL_TRIM_OUTPUT: NumRangesProcessed. */
export function encodeFileLevelTrimOutput(w: Writer, numRangesProcessed: number): void {
  w.u32(numRangesProcessed);
}

export function decodeFileLevelTrimOutput(r: Reader): number {
  return r.u32();
}
