/**
 * srvsvc (MS-SRVS): the share and server information calls clients use to list shares. Request and response
 * stubs in NDR 2.0, both directions (the server decodes requests, tests and clients decode responses).
 */
import { WireError } from '../../errors.js';
import { NdrReader, NdrWriter } from './ndr.js';
import { syntaxVersion, type SyntaxId } from './pdu.js';

export const SRVSVC_SYNTAX: SyntaxId = { uuid: '4b324fc8-1670-01d3-1278-5a47bf6ee188', version: syntaxVersion(3, 0) };

export const SrvsvcOpnum = {
  NetrShareEnum: 15,
  /** Same stubs as NetrShareEnum; lists only the shares kept across restarts (MS-SRVS 3.1.4.9). */
  NetrShareEnumSticky: 36,
  NetrShareGetInfo: 16,
  NetrServerGetInfo: 21,
} as const;

/** shi*_type values (MS-SRVS 2.2.2.4). */
export const StypeFlags = {
  DISKTREE: 0x00000000,
  PRINTQ: 0x00000001,
  DEVICE: 0x00000002,
  IPC: 0x00000003,
  CLUSTER_FS: 0x02000000,
  TEMPORARY: 0x40000000,
  SPECIAL: 0x80000000,
} as const;

/** Win32 error codes the calls return (MS-ERREF 2.2, NERR values from MS-SRVS). */
export const WinError = {
  SUCCESS: 0,
  ACCESS_DENIED: 5,
  NOT_SUPPORTED: 50,
  INVALID_PARAMETER: 87,
  INVALID_LEVEL: 124,
  MORE_DATA: 234,
  NERR_NET_NAME_NOT_FOUND: 2310,
} as const;

/** PLATFORM_ID_NT (MS-SRVS 2.2.2.6). */
export const PLATFORM_ID_NT = 500;

/** SV_TYPE_* bits (MS-SRVS 2.2.2.7). */
export const ServerType = {
  WORKSTATION: 0x00000001,
  SERVER: 0x00000002,
  SERVER_UNIX: 0x00000800,
  SERVER_NT: 0x00008000,
  POTENTIAL_BROWSER: 0x00010000,
} as const;

/** Every field of SHARE_INFO_0/1/2/501/502; each level carries a subset (MS-SRVS 2.2.4.22 - 2.2.4.26). */
export interface ShareInfo {
  netname: string;
  type: number;
  remark: string;
  permissions: number;
  maxUses: number;
  currentUses: number;
  path: string;
  /** 501: shi501_flags. */
  flags: number;
}

export const SHARE_INFO_LEVELS = [0, 1, 2, 501, 502] as const;

export function shareInfo(s: Partial<ShareInfo> & { netname: string }): ShareInfo {
  return { type: 0, remark: '', permissions: 0, maxUses: 0xffffffff, currentUses: 0, path: '', flags: 0, ...s };
}

function writeShareInfo(n: NdrWriter, level: number, s: ShareInfo): void {
  n.stringPointer(s.netname);
  if (level === 0) return;
  n.u32(s.type);
  n.stringPointer(s.remark);
  if (level === 1) return;
  if (level === 501) {
    n.u32(s.flags);
    return;
  }
  n.u32(s.permissions).u32(s.maxUses).u32(s.currentUses);
  n.stringPointer(s.path);
  n.stringPointer(null); // shi2_passwd: never sent
  if (level === 502) {
    n.u32(0); // shi502_reserved: the descriptor's length
    n.u32(0); // shi502_security_descriptor: NULL
  }
}

function readShareInfo(n: NdrReader, level: number): ShareInfo {
  const s = shareInfo({ netname: '' });
  n.stringPointer((v) => (s.netname = v));
  if (level === 0) return s;
  s.type = n.u32();
  n.stringPointer((v) => (s.remark = v));
  if (level === 1) return s;
  if (level === 501) {
    s.flags = n.u32();
    return s;
  }
  s.permissions = n.u32();
  s.maxUses = n.u32();
  s.currentUses = n.u32();
  n.stringPointer((v) => (s.path = v));
  n.stringPointer(() => {});
  if (level === 502) {
    const sdLength = n.u32();
    n.pointer(() => {
      const bytes = n.array(1, () => n.u8());
      if (bytes.length !== sdLength) throw new WireError('security descriptor length mismatch');
    });
  }
  return s;
}

/** Smallest wire size of one SHARE_INFO_<level> (its scalars and pointers). */
function shareInfoSize(level: number): number {
  return level === 0 ? 4 : level === 1 ? 12 : level === 501 ? 16 : level === 2 ? 32 : 40;
}

function isShareLevel(level: number): boolean {
  return (SHARE_INFO_LEVELS as readonly number[]).includes(level);
}

/** A unique pointer to an optional [string] server name, as the first parameter of most calls. */
function readServerName(n: NdrReader): string | undefined {
  return n.topUnique(() => n.string());
}

function writeServerName(n: NdrWriter, serverName: string | undefined): void {
  n.top(() => n.stringPointer(serverName));
}

// ---- NetrShareEnum (opnum 15, MS-SRVS 3.1.4.8) and NetrShareEnumSticky (opnum 36) ----

export interface NetrShareEnumRequest {
  serverName: string | undefined;
  level: number;
  /** Shares the client sent in (always none in practice). */
  shares: ShareInfo[] | undefined;
  preferedMaximumLength: number;
  resumeHandle: number | undefined;
}

export interface NetrShareEnumResponse {
  level: number;
  /** undefined sends a NULL container (an error). */
  shares: ShareInfo[] | undefined;
  totalEntries: number;
  resumeHandle: number | undefined;
  status: number;
}

/** SHARE_ENUM_STRUCT: Level, the union tag, a unique pointer to the container {EntriesRead, Buffer}. */
function readShareEnumStruct(n: NdrReader): { level: number; shares: ShareInfo[] | undefined } {
  let shares: ShareInfo[] | undefined;
  const level = n.top(() => {
    const lvl = n.u32();
    const tag = n.u32();
    if (tag !== lvl) throw new WireError('SHARE_ENUM_STRUCT level and union tag differ');
    n.pointer(() => {
      const entriesRead = n.u32();
      shares = [];
      n.pointer(() => {
        if (!isShareLevel(lvl)) throw new WireError(`unknown share info level ${lvl}`);
        shares = n.array(shareInfoSize(lvl), () => readShareInfo(n, lvl));
        if (shares.length !== entriesRead) throw new WireError('EntriesRead differs from the array size');
      });
    });
    return lvl;
  });
  return { level, shares };
}

function writeShareEnumStruct(n: NdrWriter, level: number, shares: ShareInfo[] | undefined): void {
  n.top(() => {
    n.u32(level).u32(level);
    n.pointer(shares, (list) => {
      n.u32(list.length);
      n.pointer(list.length > 0 ? list : null, (items) => n.array(items, (s) => writeShareInfo(n, level, s)));
    });
  });
}

function readResumeHandle(n: NdrReader): number | undefined {
  return n.topUnique(() => n.u32());
}

function writeResumeHandle(n: NdrWriter, v: number | undefined): void {
  n.top(() => n.pointer(v, (h) => n.u32(h)));
}

export function decodeNetrShareEnumRequest(stub: Buffer): NetrShareEnumRequest {
  const n = new NdrReader(stub);
  const serverName = readServerName(n);
  const { level, shares } = readShareEnumStruct(n);
  const preferedMaximumLength = n.u32();
  const resumeHandle = readResumeHandle(n);
  return { serverName, level, shares, preferedMaximumLength, resumeHandle };
}

export function encodeNetrShareEnumRequest(m: NetrShareEnumRequest): Buffer {
  const n = new NdrWriter();
  writeServerName(n, m.serverName);
  writeShareEnumStruct(n, m.level, m.shares ?? []);
  n.u32(m.preferedMaximumLength);
  writeResumeHandle(n, m.resumeHandle);
  return n.finish();
}

export function encodeNetrShareEnumResponse(m: NetrShareEnumResponse): Buffer {
  const n = new NdrWriter();
  writeShareEnumStruct(n, m.level, m.shares);
  n.u32(m.totalEntries);
  writeResumeHandle(n, m.resumeHandle);
  n.u32(m.status);
  return n.finish();
}

export function decodeNetrShareEnumResponse(stub: Buffer): NetrShareEnumResponse {
  const n = new NdrReader(stub);
  const { level, shares } = readShareEnumStruct(n);
  const totalEntries = n.u32();
  const resumeHandle = readResumeHandle(n);
  const status = n.u32();
  return { level, shares, totalEntries, resumeHandle, status };
}

// ---- NetrShareGetInfo (opnum 16, MS-SRVS 3.1.4.10) ----

export interface NetrShareGetInfoRequest {
  serverName: string | undefined;
  netName: string;
  level: number;
}

export interface NetrShareGetInfoResponse {
  level: number;
  share: ShareInfo | undefined;
  status: number;
}

export function decodeNetrShareGetInfoRequest(stub: Buffer): NetrShareGetInfoRequest {
  const n = new NdrReader(stub);
  const serverName = readServerName(n);
  const netName = n.top(() => n.string()); // [in, string] WCHAR*: a ref pointer, no referent id
  const level = n.u32();
  return { serverName, netName, level };
}

export function encodeNetrShareGetInfoRequest(m: NetrShareGetInfoRequest): Buffer {
  const n = new NdrWriter();
  writeServerName(n, m.serverName);
  n.top(() => n.string(m.netName));
  n.u32(m.level);
  return n.finish();
}

/** SHARE_INFO union: the tag, then a unique pointer to SHARE_INFO_<level>. */
export function encodeNetrShareGetInfoResponse(m: NetrShareGetInfoResponse): Buffer {
  const n = new NdrWriter();
  n.top(() => {
    n.u32(m.level);
    n.pointer(isShareLevel(m.level) ? m.share : undefined, (s) => writeShareInfo(n, m.level, s));
  });
  n.u32(m.status);
  return n.finish();
}

export function decodeNetrShareGetInfoResponse(stub: Buffer): NetrShareGetInfoResponse {
  const n = new NdrReader(stub);
  let share: ShareInfo | undefined;
  const level = n.top(() => {
    const tag = n.u32();
    n.pointer(() => {
      if (!isShareLevel(tag)) throw new WireError(`unknown share info level ${tag}`);
      // The pointee's own pointers are deferred behind it: fill the object in place.
      share = readShareInfo(n, tag);
    });
    return tag;
  });
  const status = n.u32();
  return { level, share, status };
}

// ---- NetrServerGetInfo (opnum 21, MS-SRVS 3.1.4.17) ----

/** Every field of SERVER_INFO_100/101/102 (MS-SRVS 2.2.4.40 - 2.2.4.42). */
export interface ServerInfo {
  platformId: number;
  name: string;
  versionMajor: number;
  versionMinor: number;
  type: number;
  comment: string;
  users: number;
  disc: number;
  hidden: number;
  announce: number;
  anndelta: number;
  licenses: number;
  userpath: string;
}

export const SERVER_INFO_LEVELS = [100, 101, 102] as const;

function isServerLevel(level: number): boolean {
  return (SERVER_INFO_LEVELS as readonly number[]).includes(level);
}

export interface NetrServerGetInfoRequest {
  serverName: string | undefined;
  level: number;
}

export interface NetrServerGetInfoResponse {
  level: number;
  info: ServerInfo | undefined;
  status: number;
}

export function decodeNetrServerGetInfoRequest(stub: Buffer): NetrServerGetInfoRequest {
  const n = new NdrReader(stub);
  const serverName = readServerName(n);
  return { serverName, level: n.u32() };
}

export function encodeNetrServerGetInfoRequest(m: NetrServerGetInfoRequest): Buffer {
  const n = new NdrWriter();
  writeServerName(n, m.serverName);
  n.u32(m.level);
  return n.finish();
}

function writeServerInfo(n: NdrWriter, level: number, s: ServerInfo): void {
  n.u32(s.platformId);
  n.stringPointer(s.name);
  if (level === 100) return;
  n.u32(s.versionMajor).u32(s.versionMinor).u32(s.type);
  n.stringPointer(s.comment);
  if (level === 101) return;
  n.u32(s.users).i32(s.disc).u32(s.hidden).u32(s.announce).u32(s.anndelta).u32(s.licenses);
  n.stringPointer(s.userpath);
}

function readServerInfo(n: NdrReader, level: number): ServerInfo {
  const s: ServerInfo = { platformId: 0, name: '', versionMajor: 0, versionMinor: 0, type: 0, comment: '', users: 0, disc: 0, hidden: 0, announce: 0, anndelta: 0, licenses: 0, userpath: '' };
  s.platformId = n.u32();
  n.stringPointer((v) => (s.name = v));
  if (level === 100) return s;
  s.versionMajor = n.u32();
  s.versionMinor = n.u32();
  s.type = n.u32();
  n.stringPointer((v) => (s.comment = v));
  if (level === 101) return s;
  s.users = n.u32();
  s.disc = n.i32();
  s.hidden = n.u32();
  s.announce = n.u32();
  s.anndelta = n.u32();
  s.licenses = n.u32();
  n.stringPointer((v) => (s.userpath = v));
  return s;
}

export function encodeNetrServerGetInfoResponse(m: NetrServerGetInfoResponse): Buffer {
  const n = new NdrWriter();
  n.top(() => {
    n.u32(m.level);
    n.pointer(isServerLevel(m.level) ? m.info : undefined, (s) => writeServerInfo(n, m.level, s));
  });
  n.u32(m.status);
  return n.finish();
}

export function decodeNetrServerGetInfoResponse(stub: Buffer): NetrServerGetInfoResponse {
  const n = new NdrReader(stub);
  let info: ServerInfo | undefined;
  const level = n.top(() => {
    const tag = n.u32();
    n.pointer(() => {
      if (!isServerLevel(tag)) throw new WireError(`unknown server info level ${tag}`);
      info = readServerInfo(n, tag);
    });
    return tag;
  });
  return { level, info, status: n.u32() };
}
