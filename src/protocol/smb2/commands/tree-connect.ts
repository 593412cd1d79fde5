import type { Reader } from '../../../util/reader.js';
import type { Writer } from '../../../util/writer.js';
import { expectStructureSize, padBody, utf16At, writeBuffer } from './common.js';

/** TREE_CONNECT request flags (MS-SMB2 2.2.9, 3.1.1). */
export const TreeConnectFlags = {
  CLUSTER_RECONNECT: 0x0001,
  REDIRECT_TO_OWNER: 0x0002,
  EXTENSION_PRESENT: 0x0004,
} as const;

/**
 * SMB2 TREE_CONNECT request (MS-SMB2 2.2.9). `path` is the UNC share path (\\server\share). With
 * EXTENSION_PRESENT (3.1.1), PathOffset still locates the path; the extension itself is kept raw.
 */
export interface TreeConnectRequest {
  flags: number;
  path: string;
}

/** SMB2 TREE_CONNECT response (MS-SMB2 2.2.10). */
export interface TreeConnectResponse {
  shareType: number;
  shareFlags: number;
  capabilities: number;
  maximalAccess: number;
}

export function decodeTreeConnectRequest(r: Reader): TreeConnectRequest {
  expectStructureSize(r, 9, 'TREE_CONNECT');
  const flags = r.u16();
  const offset = r.u16();
  const length = r.u16();
  return { flags, path: utf16At(r, offset, length) };
}

export function encodeTreeConnectRequest(w: Writer, m: TreeConnectRequest): void {
  const start = w.pos;
  w.u16(9);
  w.u16(m.flags);
  const offsetAt = w.reserveU16();
  const lengthAt = w.reserveU16();
  writeBuffer(w, Buffer.from(m.path, 'utf16le'), offsetAt, 2, lengthAt, 2);
  padBody(w, start, 9);
}

export function decodeTreeConnectResponse(r: Reader): TreeConnectResponse {
  expectStructureSize(r, 16, 'TREE_CONNECT response');
  const shareType = r.u8();
  r.skip(1); // Reserved
  const shareFlags = r.u32();
  const capabilities = r.u32();
  const maximalAccess = r.u32();
  return { shareType, shareFlags, capabilities, maximalAccess };
}

export function encodeTreeConnectResponse(w: Writer, m: TreeConnectResponse): void {
  w.u16(16);
  w.u8(m.shareType);
  w.u8(0);
  w.u32(m.shareFlags);
  w.u32(m.capabilities);
  w.u32(m.maximalAccess);
}
