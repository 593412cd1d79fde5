/**
 * The RPC services behind the pipes: srvsvc (share and server information, MS-SRVS) and wkssvc (workstation
 * information, MS-WKST). They read what they report from the server through IpcHost.
 */
import {
  decodeNetrServerGetInfoRequest,
  decodeNetrShareEnumRequest,
  decodeNetrShareGetInfoRequest,
  encodeNetrServerGetInfoResponse,
  encodeNetrShareEnumResponse,
  encodeNetrShareGetInfoResponse,
  PLATFORM_ID_NT,
  ServerType,
  shareInfo,
  SRVSVC_SYNTAX,
  SrvsvcOpnum,
  StypeFlags,
  WinError,
  type ShareInfo,
} from '../../protocol/rpc/srvsvc.js';
import { decodeNetrWkstaGetInfoRequest, encodeNetrWkstaGetInfoResponse, WKSSVC_SYNTAX, WkssvcOpnum } from '../../protocol/rpc/wkssvc.js';
import type { ShareDef } from '../shares.js';
import { rpcPipeService, type RpcCall, type RpcInterface, type RpcResult } from './rpc-server.js';
import type { PipeService } from './registry.js';
import { lsarpcInterface, type LsaHost } from './lsarpc.js';

/** What the services need from the server. */
export interface IpcHost extends LsaHost {
  /** NetBIOS name of the server. */
  readonly serverName: string;
  readonly domain: string;
  listShares(): readonly ShareDef[];
}

/** The version reported to clients (that of Windows 10 / Server 2016 and later). */
const VERSION_MAJOR = 10;
const VERSION_MINOR = 0;

/** shi*_type of a share (MS-SRVS 2.2.2.4): IPC$ is an IPC share and a special (administrative) one. */
export function shareType(s: ShareDef): number {
  if (s.kind === 'ipc') return (StypeFlags.IPC | StypeFlags.SPECIAL) >>> 0;
  return s.kind === 'printer' ? StypeFlags.PRINTQ : StypeFlags.DISKTREE;
}

/** The local path of a share is the server's business: levels 2 and 502 report it empty. */
function toShareInfo(s: ShareDef): ShareInfo {
  return shareInfo({ netname: s.name, type: shareType(s), remark: s.comment, path: '' });
}

/**
 * Levels 2 and 502 carry permissions and paths: Windows keeps them for administrators (MS-SRVS 3.1.4.8); like
 * Samba, smbkit gives them to every authenticated caller (rpcclient asks for level 2) but not to anonymous ones.
 */
const DETAIL_LEVELS = new Set([2, 502]);
const SHARE_LEVELS = new Set([0, 1, 2, 501, 502]);

export function srvsvcInterface(host: IpcHost): RpcInterface {
  const netrShareEnum = (sticky: boolean) => (stub: Buffer, { caller }: RpcCall): RpcResult => {
    const req = decodeNetrShareEnumRequest(stub);
    const level = req.level;
    const fail = (status: number) => encodeNetrShareEnumResponse({ level, shares: undefined, totalEntries: 0, resumeHandle: req.resumeHandle, status });
    if (!SHARE_LEVELS.has(level)) return fail(WinError.INVALID_LEVEL);
    if (DETAIL_LEVELS.has(level) && caller.anonymous) return fail(WinError.ACCESS_DENIED);
    // Sticky shares are the configured ones: IPC$ is made by the server, so it is not listed there.
    const all = host.listShares().filter((s) => !sticky || s.kind !== 'ipc').map(toShareInfo);
    // The resume handle counts the entries already returned; everything left fits in one answer.
    const start = Math.min(req.resumeHandle ?? 0, all.length);
    return encodeNetrShareEnumResponse({
      level,
      shares: all.slice(start),
      totalEntries: all.length,
      resumeHandle: req.resumeHandle === undefined ? undefined : 0,
      status: WinError.SUCCESS,
    });
  };

  const netrShareGetInfo = (stub: Buffer, { caller }: RpcCall): RpcResult => {
    const req = decodeNetrShareGetInfoRequest(stub);
    const fail = (status: number) => encodeNetrShareGetInfoResponse({ level: req.level, share: undefined, status });
    if (!SHARE_LEVELS.has(req.level)) return fail(WinError.INVALID_LEVEL);
    const share = host.listShares().find((s) => s.name.toUpperCase() === req.netName.toUpperCase());
    if (!share) return fail(WinError.NERR_NET_NAME_NOT_FOUND);
    if (DETAIL_LEVELS.has(req.level) && caller.anonymous) return fail(WinError.ACCESS_DENIED);
    return encodeNetrShareGetInfoResponse({ level: req.level, share: toShareInfo(share), status: WinError.SUCCESS });
  };

  const netrServerGetInfo = (stub: Buffer, { caller }: RpcCall): RpcResult => {
    const req = decodeNetrServerGetInfoRequest(stub);
    const fail = (status: number) => encodeNetrServerGetInfoResponse({ level: req.level, info: undefined, status });
    if (req.level !== 100 && req.level !== 101 && req.level !== 102) return fail(WinError.INVALID_LEVEL);
    // Level 102 carries session counts and paths: not for anonymous callers (MS-SRVS 3.1.4.17).
    if (req.level === 102 && caller.anonymous) return fail(WinError.ACCESS_DENIED);
    return encodeNetrServerGetInfoResponse({
      level: req.level,
      info: {
        platformId: PLATFORM_ID_NT,
        name: host.serverName,
        versionMajor: VERSION_MAJOR,
        versionMinor: VERSION_MINOR,
        type: (ServerType.WORKSTATION | ServerType.SERVER | ServerType.SERVER_UNIX | ServerType.SERVER_NT) >>> 0,
        comment: '',
        users: 0xffffffff,
        disc: 15,
        hidden: 0,
        announce: 240,
        anndelta: 3000,
        licenses: 0,
        userpath: 'C:\\',
      },
      status: WinError.SUCCESS,
    });
  };

  return {
    name: 'srvsvc',
    syntax: SRVSVC_SYNTAX,
    operations: new Map([
      [SrvsvcOpnum.NetrShareEnum, netrShareEnum(false)],
      [SrvsvcOpnum.NetrShareEnumSticky, netrShareEnum(true)],
      [SrvsvcOpnum.NetrShareGetInfo, netrShareGetInfo],
      [SrvsvcOpnum.NetrServerGetInfo, netrServerGetInfo],
    ]),
  };
}

export function wkssvcInterface(host: IpcHost): RpcInterface {
  const netrWkstaGetInfo = (stub: Buffer): RpcResult => {
    const req = decodeNetrWkstaGetInfoRequest(stub);
    if (req.level !== 100) {
      // 101 and 102 need an administrator (MS-WKST 3.2.4.1); other levels do not exist.
      const status = req.level === 101 || req.level === 102 ? WinError.ACCESS_DENIED : WinError.INVALID_LEVEL;
      return encodeNetrWkstaGetInfoResponse({ level: req.level, info: undefined, status });
    }
    return encodeNetrWkstaGetInfoResponse({
      level: 100,
      info: { platformId: PLATFORM_ID_NT, computerName: host.serverName, langroup: host.domain, versionMajor: VERSION_MAJOR, versionMinor: VERSION_MINOR },
      status: WinError.SUCCESS,
    });
  };
  return { name: 'wkssvc', syntax: WKSSVC_SYNTAX, operations: new Map([[WkssvcOpnum.NetrWkstaGetInfo, netrWkstaGetInfo]]) };
}

/** The RPC pipes every server offers on IPC$. */
export function builtInPipes(host: IpcHost): PipeService[] {
  return [
    rpcPipeService('srvsvc', [srvsvcInterface(host)]),
    rpcPipeService('wkssvc', [wkssvcInterface(host)]),
    rpcPipeService('lsarpc', [lsarpcInterface(host)]),
  ];
}
