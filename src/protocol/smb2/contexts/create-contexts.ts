import { WireError } from '../../../errors.js';
import { Reader } from '../../../util/reader.js';
import { Writer } from '../../../util/writer.js';
import { Status } from '../../nt-status.js';
import type { FileId } from '../commands/file-id.js';

/**
 * SMB2 create contexts (MS-SMB2 2.2.13.2, 2.2.14.2): a generic list codec plus typed bodies for the common ones.
 * Names are kept as latin1 strings so both the 4-character tags ('MxAc') and 16-byte GUID names round-trip.
 */
export interface CreateContext {
  name: string;
  /** A view of the context's data. */
  data: Buffer;
}

export const CreateContextName = {
  EA_BUFFER: 'ExtA',
  SD_BUFFER: 'SecD',
  DURABLE_HANDLE_REQUEST: 'DHnQ',
  DURABLE_HANDLE_RECONNECT: 'DHnC',
  ALLOCATION_SIZE: 'AlSi',
  QUERY_MAXIMAL_ACCESS: 'MxAc',
  TIMEWARP_TOKEN: 'TWrp',
  QUERY_ON_DISK_ID: 'QFid',
  REQUEST_LEASE: 'RqLs',
  DURABLE_HANDLE_REQUEST_V2: 'DH2Q',
  DURABLE_HANDLE_RECONNECT_V2: 'DH2C',
  AAPL: 'AAPL',
  /** SMB2_CREATE_APP_INSTANCE_ID: a 16-byte GUID name. */
  APP_INSTANCE_ID: Buffer.from('45bca66aefa7f74a9008fa462e144d74', 'hex').toString('latin1'),
  APP_INSTANCE_VERSION: Buffer.from('b982d0b73b56074fa07b524a8116a010', 'hex').toString('latin1'),
} as const;

/** More contexts than any client sends in one CREATE. */
export const MAX_CREATE_CONTEXTS = 64;

const EMPTY: Buffer = Buffer.alloc(0);

/**
 * Decodes the context chain in `r`'s region at header-relative `offset`, `length` bytes long. Each context's
 * Next, name and data must stay inside the region; Next is 8-byte aligned and strictly advancing.
 */
export function decodeCreateContexts(r: Reader, offset: number, length: number): CreateContext[] {
  if (length === 0) return [];
  if (offset % 8 !== 0) throw new WireError('CreateContextsOffset not 8-byte aligned', Status.INVALID_PARAMETER);
  const region = r.at(offset, length);
  const out: CreateContext[] = [];
  let pos = 0;
  for (;;) {
    if (out.length >= MAX_CREATE_CONTEXTS) throw new WireError('too many create contexts', Status.INVALID_PARAMETER);
    const remaining = region.length - pos;
    if (remaining < 16) throw new WireError('create context truncated', Status.INVALID_PARAMETER);
    const c = new Reader(region, pos, region.length);
    const next = c.u32();
    const nameOffset = c.u16();
    const nameLength = c.u16();
    c.skip(2); // Reserved
    const dataOffset = c.u16();
    const dataLength = c.u32();
    const limit = next === 0 ? remaining : next;
    if (next !== 0 && (next % 8 !== 0 || next < 16 || next > remaining)) {
      throw new WireError('create context Next out of range', Status.INVALID_PARAMETER);
    }
    // Context names are at least 4 bytes (MS-SMB2 2.2.13.2 tags); Windows refuses shorter ones.
    if (nameLength < 4 || nameOffset < 16 || nameOffset + nameLength > limit) {
      throw new WireError('create context name out of range', Status.INVALID_PARAMETER);
    }
    let data: Buffer = EMPTY;
    if (dataLength !== 0) {
      if (dataOffset < 16 || dataOffset + dataLength > limit) {
        throw new WireError('create context data out of range', Status.INVALID_PARAMETER);
      }
      data = region.subarray(pos + dataOffset, pos + dataOffset + dataLength);
    }
    const name = region.subarray(pos + nameOffset, pos + nameOffset + nameLength).toString('latin1');
    out.push({ name, data });
    if (next === 0) return out;
    pos += next;
  }
}

/**
 * Writes the chain at the current position (aligned to 8 first) and returns { offset, length } (header-relative)
 * for the caller's CreateContextsOffset/Length; { 0, 0 } when the list is empty.
 */
export function encodeCreateContexts(w: Writer, contexts: readonly CreateContext[]): { offset: number; length: number } {
  if (contexts.length === 0) return { offset: 0, length: 0 };
  w.align(8);
  const first = w.offset;
  contexts.forEach((ctx, i) => {
    if (i > 0) w.align(8);
    const start = w.pos;
    const nextAt = w.reserveU32();
    const name = Buffer.from(ctx.name, 'latin1');
    w.u16(16); // NameOffset
    w.u16(name.length);
    w.u16(0); // Reserved
    const dataOffsetAt = w.reserveU16();
    w.u32(ctx.data.length);
    w.bytes(name);
    if (ctx.data.length > 0) {
      const pad = (8 - ((w.pos - start) % 8)) % 8;
      w.zeros(pad);
      w.patchU16(dataOffsetAt, w.pos - start);
      w.bytes(ctx.data);
    }
    if (i < contexts.length - 1) {
      const pad = (8 - ((w.pos - start) % 8)) % 8;
      w.zeros(pad);
      w.patchU32(nextAt, w.pos - start);
    }
  });
  return { offset: first, length: w.offset - first };
}

/** Finds a context by name. */
export function findCreateContext(list: readonly CreateContext[], name: string): CreateContext | undefined {
  return list.find((c) => c.name === name);
}

function body(build: (w: Writer) => void): Buffer {
  const w = new Writer(64);
  build(w);
  return Buffer.from(w.finish());
}

function exact(data: Buffer, size: number, what: string): Reader {
  if (data.length < size) throw new WireError(`${what} create context too short`, Status.INVALID_PARAMETER);
  return new Reader(data);
}

// --- MxAc (MS-SMB2 2.2.13.2.5, 2.2.14.2.5) ---

export interface MaximalAccessRequest {
  /** Optional FILETIME; absent when the data is empty. */
  timestamp?: bigint;
}
export function decodeMaximalAccessRequest(data: Buffer): MaximalAccessRequest {
  if (data.length === 0) return {};
  return { timestamp: exact(data, 8, 'MxAc').u64() };
}
export function encodeMaximalAccessRequest(m: MaximalAccessRequest): Buffer {
  return m.timestamp === undefined ? EMPTY : body((w) => w.u64(m.timestamp!));
}

export interface MaximalAccessResponse {
  queryStatus: number;
  maximalAccess: number;
}
export function decodeMaximalAccessResponse(data: Buffer): MaximalAccessResponse {
  const r = exact(data, 8, 'MxAc response');
  return { queryStatus: r.u32(), maximalAccess: r.u32() };
}
export function encodeMaximalAccessResponse(m: MaximalAccessResponse): Buffer {
  return body((w) => w.u32(m.queryStatus).u32(m.maximalAccess));
}

// --- QFid response (MS-SMB2 2.2.14.2.9) ---

export interface QueryOnDiskIdResponse {
  diskFileId: bigint;
  volumeId: bigint;
}
export function decodeQueryOnDiskIdResponse(data: Buffer): QueryOnDiskIdResponse {
  const r = exact(data, 32, 'QFid response');
  return { diskFileId: r.u64(), volumeId: r.u64() };
}
export function encodeQueryOnDiskIdResponse(m: QueryOnDiskIdResponse): Buffer {
  return body((w) => w.u64(m.diskFileId).u64(m.volumeId).zeros(16));
}

// --- Leases (MS-SMB2 2.2.13.2.8/10, 2.2.14.2.10/11): same layout in both directions ---

export const LeaseState = { NONE: 0, READ_CACHING: 0x01, HANDLE_CACHING: 0x02, WRITE_CACHING: 0x04 } as const;
export const LeaseFlags = { BREAK_IN_PROGRESS: 0x02, PARENT_LEASE_KEY_SET: 0x04 } as const;

export interface LeaseV1 {
  version: 1;
  /** 16 bytes. */
  leaseKey: Buffer;
  leaseState: number;
  leaseFlags: number;
  leaseDuration: bigint;
}
export interface LeaseV2 {
  version: 2;
  leaseKey: Buffer;
  leaseState: number;
  leaseFlags: number;
  leaseDuration: bigint;
  /** 16 bytes. */
  parentLeaseKey: Buffer;
  epoch: number;
}
export type Lease = LeaseV1 | LeaseV2;

/** Decodes RqLs data: 52 bytes or more is v2, 32 bytes v1 (MS-SMB2 3.3.5.9.8/11). */
export function decodeLease(data: Buffer): Lease {
  const r = exact(data, 32, 'RqLs');
  const leaseKey = r.bytes(16);
  const leaseState = r.u32();
  const leaseFlags = r.u32();
  const leaseDuration = r.u64();
  if (data.length < 52) return { version: 1, leaseKey, leaseState, leaseFlags, leaseDuration };
  const parentLeaseKey = r.bytes(16);
  const epoch = r.u16();
  return { version: 2, leaseKey, leaseState, leaseFlags, leaseDuration, parentLeaseKey, epoch };
}
export function encodeLease(m: Lease): Buffer {
  return body((w) => {
    w.bytes(key16(m.leaseKey)).u32(m.leaseState).u32(m.leaseFlags).u64(m.leaseDuration);
    if (m.version === 2) w.bytes(key16(m.parentLeaseKey)).u16(m.epoch).u16(0);
  });
}

function key16(b: Buffer): Buffer {
  if (b.length !== 16) throw new RangeError('key must be 16 bytes');
  return b;
}

// --- Durable handles v1 (MS-SMB2 2.2.13.2.3/4, 2.2.14.2.3) ---

/** DHnQ request: 16 reserved bytes. */
export function encodeDurableHandleRequest(): Buffer {
  return Buffer.alloc(16);
}
export function decodeDurableHandleRequest(data: Buffer): Record<string, never> {
  exact(data, 16, 'DHnQ');
  return {};
}
/** DHnQ response: 8 reserved bytes. */
export function encodeDurableHandleResponse(): Buffer {
  return Buffer.alloc(8);
}
export function decodeDurableHandleResponse(data: Buffer): Record<string, never> {
  exact(data, 8, 'DHnQ response');
  return {};
}

export interface DurableHandleReconnect {
  fileId: FileId;
}
export function decodeDurableHandleReconnect(data: Buffer): DurableHandleReconnect {
  const r = exact(data, 16, 'DHnC');
  return { fileId: { persistent: r.u64(), volatile: r.u64() } };
}
export function encodeDurableHandleReconnect(m: DurableHandleReconnect): Buffer {
  return body((w) => w.u64(m.fileId.persistent).u64(m.fileId.volatile));
}

// --- Durable handles v2 (MS-SMB2 2.2.13.2.11/12, 2.2.14.2.12) ---

export const DurableHandleV2Flags = { PERSISTENT: 0x00000002 } as const;

export interface DurableHandleRequestV2 {
  timeout: number;
  flags: number;
  /** 16 bytes. */
  createGuid: Buffer;
}
export function decodeDurableHandleRequestV2(data: Buffer): DurableHandleRequestV2 {
  const r = exact(data, 32, 'DH2Q');
  const timeout = r.u32();
  const flags = r.u32();
  r.skip(8); // Reserved
  return { timeout, flags, createGuid: r.bytes(16) };
}
export function encodeDurableHandleRequestV2(m: DurableHandleRequestV2): Buffer {
  return body((w) => w.u32(m.timeout).u32(m.flags).zeros(8).bytes(key16(m.createGuid)));
}

export interface DurableHandleResponseV2 {
  timeout: number;
  flags: number;
}
export function decodeDurableHandleResponseV2(data: Buffer): DurableHandleResponseV2 {
  const r = exact(data, 8, 'DH2Q response');
  return { timeout: r.u32(), flags: r.u32() };
}
export function encodeDurableHandleResponseV2(m: DurableHandleResponseV2): Buffer {
  return body((w) => w.u32(m.timeout).u32(m.flags));
}

export interface DurableHandleReconnectV2 {
  fileId: FileId;
  createGuid: Buffer;
  flags: number;
}
export function decodeDurableHandleReconnectV2(data: Buffer): DurableHandleReconnectV2 {
  const r = exact(data, 36, 'DH2C');
  const fileId = { persistent: r.u64(), volatile: r.u64() };
  const createGuid = r.bytes(16);
  return { fileId, createGuid, flags: r.u32() };
}
export function encodeDurableHandleReconnectV2(m: DurableHandleReconnectV2): Buffer {
  return body((w) => w.u64(m.fileId.persistent).u64(m.fileId.volatile).bytes(key16(m.createGuid)).u32(m.flags));
}

// --- AlSi (2.2.13.2.6) and TWrp (2.2.13.2.7): one u64 each ---

export function decodeAllocationSize(data: Buffer): bigint {
  return exact(data, 8, 'AlSi').u64();
}
export function encodeAllocationSize(v: bigint): Buffer {
  return body((w) => w.u64(v));
}
export function decodeTimewarpToken(data: Buffer): bigint {
  return exact(data, 8, 'TWrp').u64();
}
export function encodeTimewarpToken(v: bigint): Buffer {
  return body((w) => w.u64(v));
}
