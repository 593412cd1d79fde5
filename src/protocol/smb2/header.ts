import { WireError } from '../../errors.js';
import type { Reader } from '../../util/reader.js';
import type { Writer } from '../../util/writer.js';
import { HeaderFlags, SMB2_HEADER_SIZE, SMB2_MAGIC } from './constants.js';

/** The 64-byte SMB2 packet header, sync or async form (MS-SMB2 2.2.1). */
export interface Smb2Header {
  creditCharge: number;
  /** Request: ChannelSequence (3.x) / reserved; response: NTSTATUS. */
  status: number;
  command: number;
  /** Request: CreditRequest; response: CreditResponse. */
  credits: number;
  flags: number;
  nextCommand: number;
  messageId: bigint;
  /** Sync form only (0 for async). */
  treeId: number;
  /** Async form only (ASYNC_COMMAND flag set). */
  asyncId: bigint;
  sessionId: bigint;
  signature: Buffer;
}

export function isAsync(h: Smb2Header): boolean {
  return (h.flags & HeaderFlags.ASYNC_COMMAND) !== 0;
}
export function isResponse(h: Smb2Header): boolean {
  return (h.flags & HeaderFlags.SERVER_TO_REDIR) !== 0;
}

/** Decodes the header at r.pos (which must be the header's start, usually r.base). Signature is a view. */
export function decodeHeader(r: Reader): Smb2Header {
  r.need(SMB2_HEADER_SIZE);
  const magic = r.u32be();
  if (magic !== SMB2_MAGIC) throw new WireError('not an SMB2 header');
  const structureSize = r.u16();
  if (structureSize !== 64) throw new WireError('bad SMB2 header StructureSize');
  const creditCharge = r.u16();
  const status = r.u32();
  const command = r.u16();
  const credits = r.u16();
  const flags = r.u32();
  const nextCommand = r.u32();
  const messageId = r.u64();
  let treeId = 0;
  let asyncId = 0n;
  if (flags & HeaderFlags.ASYNC_COMMAND) {
    asyncId = r.u64();
  } else {
    r.skip(4); // Reserved (ProcessId)
    treeId = r.u32();
  }
  const sessionId = r.u64();
  const signature = r.bytes(16);
  return { creditCharge, status, command, credits, flags, nextCommand, messageId, treeId, asyncId, sessionId, signature };
}

export function encodeHeader(w: Writer, h: Smb2Header): void {
  w.u32be(SMB2_MAGIC);
  w.u16(64);
  w.u16(h.creditCharge);
  w.u32(h.status);
  w.u16(h.command);
  w.u16(h.credits);
  w.u32(h.flags);
  w.u32(h.nextCommand);
  w.u64(h.messageId);
  if (h.flags & HeaderFlags.ASYNC_COMMAND) {
    w.u64(h.asyncId);
  } else {
    w.u32(0xfeff); // Reserved; Windows sends 0xFEFF
    w.u32(h.treeId);
  }
  w.u64(h.sessionId);
  if (h.signature.length === 16) w.bytes(h.signature);
  else w.zeros(16);
}

/** Byte offsets of header fields, for in-place patching (signing, NextCommand in compounds). */
export const HeaderOffset = {
  STATUS: 8,
  COMMAND: 12,
  CREDITS: 14,
  FLAGS: 16,
  NEXT_COMMAND: 20,
  MESSAGE_ID: 24,
  SESSION_ID: 40,
  SIGNATURE: 48,
} as const;

export function emptyHeader(): Smb2Header {
  return {
    creditCharge: 0,
    status: 0,
    command: 0,
    credits: 0,
    flags: 0,
    nextCommand: 0,
    messageId: 0n,
    treeId: 0,
    asyncId: 0n,
    sessionId: 0n,
    signature: Buffer.alloc(16),
  };
}
