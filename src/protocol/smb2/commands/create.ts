import { WireError } from '../../../errors.js';
import type { Reader } from '../../../util/reader.js';
import type { Writer } from '../../../util/writer.js';
import { Status } from '../../nt-status.js';
import { decodeCreateContexts, encodeCreateContexts, type CreateContext } from '../contexts/create-contexts.js';
import { expectStructureSize, padBody, utf16At } from './common.js';
import { readNetworkOpenFacts, writeNetworkOpenFacts } from '../fscc/file-info.js';
import { decodeFileId, encodeFileId, type FileId } from './file-id.js';

/** SMB2 CREATE request (MS-SMB2 2.2.13). */
export interface CreateRequest {
  securityFlags: number;
  requestedOplockLevel: number;
  impersonationLevel: number;
  smbCreateFlags: bigint;
  desiredAccess: number;
  fileAttributes: number;
  shareAccess: number;
  createDisposition: number;
  createOptions: number;
  /** Share-relative path, UTF-16 on the wire; '' opens the share root. */
  name: string;
  createContexts: CreateContext[];
}

/** CREATE response Flags (MS-SMB2 2.2.14). */
export const CreateResponseFlags = { REPARSEPOINT: 0x01 } as const;

/** SMB2 CREATE response (MS-SMB2 2.2.14). Times are FILETIMEs. */
export interface CreateResponse {
  oplockLevel: number;
  flags: number;
  createAction: number;
  creationTime: bigint;
  lastAccessTime: bigint;
  lastWriteTime: bigint;
  changeTime: bigint;
  allocationSize: bigint;
  endOfFile: bigint;
  fileAttributes: number;
  fileId: FileId;
  createContexts: CreateContext[];
}

export function decodeCreateRequest(r: Reader): CreateRequest {
  expectStructureSize(r, 57, 'CREATE');
  const securityFlags = r.u8();
  const requestedOplockLevel = r.u8();
  const impersonationLevel = r.u32();
  const smbCreateFlags = r.u64();
  r.skip(8); // Reserved
  const desiredAccess = r.u32();
  const fileAttributes = r.u32();
  const shareAccess = r.u32();
  const createDisposition = r.u32();
  const createOptions = r.u32();
  const nameOffset = r.u16();
  const nameLength = r.u16();
  const contextsOffset = r.u32();
  const contextsLength = r.u32();
  if (nameLength % 2 !== 0) throw new WireError('CREATE name length is odd', Status.INVALID_PARAMETER);
  const name = utf16At(r, nameOffset, nameLength);
  const createContexts = decodeCreateContexts(r, contextsOffset, contextsLength);
  return {
    securityFlags,
    requestedOplockLevel,
    impersonationLevel,
    smbCreateFlags,
    desiredAccess,
    fileAttributes,
    shareAccess,
    createDisposition,
    createOptions,
    name,
    createContexts,
  };
}

export function encodeCreateRequest(w: Writer, m: CreateRequest): void {
  const start = w.pos;
  w.u16(57);
  w.u8(m.securityFlags);
  w.u8(m.requestedOplockLevel);
  w.u32(m.impersonationLevel);
  w.u64(m.smbCreateFlags);
  w.u64(0);
  w.u32(m.desiredAccess);
  w.u32(m.fileAttributes);
  w.u32(m.shareAccess);
  w.u32(m.createDisposition);
  w.u32(m.createOptions);
  const nameOffsetAt = w.reserveU16();
  const nameLengthAt = w.reserveU16();
  const ctxOffsetAt = w.reserveU32();
  const ctxLengthAt = w.reserveU32();
  const name = Buffer.from(m.name, 'utf16le');
  // Windows puts NameOffset at 0x78 (the end of the fixed part) even for an empty name.
  w.patchU16(nameOffsetAt, w.offset);
  w.patchU16(nameLengthAt, name.length);
  w.bytes(name);
  padBody(w, start, 57);
  const ctx = encodeCreateContexts(w, m.createContexts);
  w.patchU32(ctxOffsetAt, ctx.offset);
  w.patchU32(ctxLengthAt, ctx.length);
}

export function decodeCreateResponse(r: Reader): CreateResponse {
  expectStructureSize(r, 89, 'CREATE response');
  const oplockLevel = r.u8();
  const flags = r.u8();
  const createAction = r.u32();
  const facts = readNetworkOpenFacts(r);
  r.skip(4); // Reserved2
  const fileId = decodeFileId(r);
  const contextsOffset = r.u32();
  const contextsLength = r.u32();
  const createContexts = decodeCreateContexts(r, contextsOffset, contextsLength);
  return {
    oplockLevel,
    flags,
    createAction,
    ...facts,
    fileId,
    createContexts,
  };
}

export function encodeCreateResponse(w: Writer, m: CreateResponse): void {
  w.u16(89);
  w.u8(m.oplockLevel);
  w.u8(m.flags);
  w.u32(m.createAction);
  writeNetworkOpenFacts(w, m);
  w.u32(0); // Reserved2
  encodeFileId(w, m.fileId);
  const ctxOffsetAt = w.reserveU32();
  const ctxLengthAt = w.reserveU32();
  const ctx = encodeCreateContexts(w, m.createContexts);
  w.patchU32(ctxOffsetAt, ctx.offset);
  w.patchU32(ctxLengthAt, ctx.length);
  // Without contexts the body is the 88 fixed bytes, as Samba and Windows send it.
}
