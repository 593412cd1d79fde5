import { WireError } from '../../../errors.js';
import type { Reader } from '../../../util/reader.js';
import type { Writer } from '../../../util/writer.js';
import { Status } from '../../nt-status.js';
import { decodeFileId, encodeFileId, type FileId } from './file-id.js';

/**
 * OPLOCK_BREAK messages (MS-SMB2 2.2.23-2.2.25). One command code carries five shapes, told apart by
 * StructureSize: 24 oplock break (notification, acknowledgment and response share it), 44 lease break
 * notification, 36 lease break acknowledgment / response.
 */

/** Oplock break notification, acknowledgment or response (24 bytes). */
export interface OplockBreak {
  kind: 'oplock';
  oplockLevel: number;
  fileId: FileId;
}

/** Lease break acknowledgment (client) or response (server) (36 bytes). */
export interface LeaseBreakAck {
  kind: 'lease';
  flags: number;
  /** 16 bytes. */
  leaseKey: Buffer;
  leaseState: number;
  leaseDuration: bigint;
}

export const LeaseBreakFlags = { ACK_REQUIRED: 0x01 } as const;

/** Lease break notification (44 bytes), server to client. */
export interface LeaseBreakNotification {
  kind: 'leaseBreakNotification';
  newEpoch: number;
  flags: number;
  leaseKey: Buffer;
  currentLeaseState: number;
  newLeaseState: number;
  breakReason: number;
  accessMaskHint: number;
  shareMaskHint: number;
}

/** Client to server: acknowledgment of an oplock or lease break. */
export type OplockBreakRequest = OplockBreak | LeaseBreakAck;
/** Server to client: a response to an acknowledgment, or an unsolicited break notification. */
export type OplockBreakResponse = OplockBreak | LeaseBreakAck | LeaseBreakNotification;

function decodeOplock(r: Reader): OplockBreak {
  const oplockLevel = r.u8();
  r.skip(5); // Reserved, Reserved2
  return { kind: 'oplock', oplockLevel, fileId: decodeFileId(r) };
}

function encodeOplock(w: Writer, m: OplockBreak): void {
  w.u16(24).u8(m.oplockLevel).u8(0).u32(0);
  encodeFileId(w, m.fileId);
}

function decodeLeaseAck(r: Reader): LeaseBreakAck {
  r.skip(2); // Reserved
  const flags = r.u32();
  const leaseKey = r.bytes(16);
  const leaseState = r.u32();
  const leaseDuration = r.u64();
  return { kind: 'lease', flags, leaseKey, leaseState, leaseDuration };
}

function encodeLeaseAck(w: Writer, m: LeaseBreakAck): void {
  w.u16(36).u16(0).u32(m.flags).bytes(key16(m.leaseKey)).u32(m.leaseState).u64(m.leaseDuration);
}

function decodeLeaseNotification(r: Reader): LeaseBreakNotification {
  const newEpoch = r.u16();
  const flags = r.u32();
  const leaseKey = r.bytes(16);
  const currentLeaseState = r.u32();
  const newLeaseState = r.u32();
  const breakReason = r.u32();
  const accessMaskHint = r.u32();
  const shareMaskHint = r.u32();
  return {
    kind: 'leaseBreakNotification',
    newEpoch,
    flags,
    leaseKey,
    currentLeaseState,
    newLeaseState,
    breakReason,
    accessMaskHint,
    shareMaskHint,
  };
}

function encodeLeaseNotification(w: Writer, m: LeaseBreakNotification): void {
  w.u16(44).u16(m.newEpoch).u32(m.flags).bytes(key16(m.leaseKey));
  w.u32(m.currentLeaseState).u32(m.newLeaseState).u32(m.breakReason).u32(m.accessMaskHint).u32(m.shareMaskHint);
}

export function decodeOplockBreakRequest(r: Reader): OplockBreakRequest {
  const size = r.u16();
  if (size === 24) return decodeOplock(r);
  if (size === 36) return decodeLeaseAck(r);
  throw new WireError(`OPLOCK_BREAK acknowledgment: StructureSize ${size}`, Status.INVALID_PARAMETER);
}

export function encodeOplockBreakRequest(w: Writer, m: OplockBreakRequest): void {
  if (m.kind === 'oplock') encodeOplock(w, m);
  else encodeLeaseAck(w, m);
}

export function decodeOplockBreakResponse(r: Reader): OplockBreakResponse {
  const size = r.u16();
  if (size === 24) return decodeOplock(r);
  if (size === 36) return decodeLeaseAck(r);
  if (size === 44) return decodeLeaseNotification(r);
  throw new WireError(`OPLOCK_BREAK: StructureSize ${size}`, Status.INVALID_PARAMETER);
}

export function encodeOplockBreakResponse(w: Writer, m: OplockBreakResponse): void {
  if (m.kind === 'oplock') encodeOplock(w, m);
  else if (m.kind === 'lease') encodeLeaseAck(w, m);
  else encodeLeaseNotification(w, m);
}

/** Server to client break notifications (sent with MessageId 0xFFFFFFFFFFFFFFFF, MS-SMB2 3.3.4.6/7). */
export function encodeOplockBreakNotification(w: Writer, m: OplockBreak): void {
  encodeOplock(w, m);
}
export function encodeLeaseBreakNotification(w: Writer, m: Omit<LeaseBreakNotification, 'kind'>): void {
  encodeLeaseNotification(w, { kind: 'leaseBreakNotification', ...m });
}

function key16(b: Buffer): Buffer {
  if (b.length !== 16) throw new RangeError('LeaseKey must be 16 bytes');
  return b;
}
