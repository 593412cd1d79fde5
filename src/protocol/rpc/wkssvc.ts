/** wkssvc (MS-WKST): NetrWkstaGetInfo level 100, which clients ask to learn the server's name and domain. */
import { WireError } from '../../errors.js';
import { NdrReader, NdrWriter } from './ndr.js';
import { syntaxVersion, type SyntaxId } from './pdu.js';

export const WKSSVC_SYNTAX: SyntaxId = { uuid: '6bffd098-a112-3610-9833-46c3f87e345a', version: syntaxVersion(1, 0) };

export const WkssvcOpnum = { NetrWkstaGetInfo: 0 } as const;

/** WKSTA_INFO_100 (MS-WKST 2.2.5.1). */
export interface WkstaInfo100 {
  platformId: number;
  computerName: string;
  langroup: string;
  versionMajor: number;
  versionMinor: number;
}

export interface NetrWkstaGetInfoRequest {
  serverName: string | undefined;
  level: number;
}

export interface NetrWkstaGetInfoResponse {
  level: number;
  info: WkstaInfo100 | undefined;
  status: number;
}

export function decodeNetrWkstaGetInfoRequest(stub: Buffer): NetrWkstaGetInfoRequest {
  const n = new NdrReader(stub);
  const serverName = n.topUnique(() => n.string());
  return { serverName, level: n.u32() };
}

export function encodeNetrWkstaGetInfoRequest(m: NetrWkstaGetInfoRequest): Buffer {
  const n = new NdrWriter();
  n.top(() => n.stringPointer(m.serverName));
  n.u32(m.level);
  return n.finish();
}

/** WKSTA_INFO union: the tag, then a unique pointer to the level's structure (only 100 is encoded). */
export function encodeNetrWkstaGetInfoResponse(m: NetrWkstaGetInfoResponse): Buffer {
  const n = new NdrWriter();
  n.top(() => {
    n.u32(m.level);
    n.pointer(m.level === 100 ? m.info : undefined, (i) => {
      n.u32(i.platformId);
      n.stringPointer(i.computerName);
      n.stringPointer(i.langroup);
      n.u32(i.versionMajor).u32(i.versionMinor);
    });
  });
  n.u32(m.status);
  return n.finish();
}

export function decodeNetrWkstaGetInfoResponse(stub: Buffer): NetrWkstaGetInfoResponse {
  const n = new NdrReader(stub);
  let info: WkstaInfo100 | undefined;
  const level = n.top(() => {
    const tag = n.u32();
    n.pointer(() => {
      if (tag !== 100) throw new WireError(`unsupported workstation info level ${tag}`);
      const i: WkstaInfo100 = { platformId: n.u32(), computerName: '', langroup: '', versionMajor: 0, versionMinor: 0 };
      n.stringPointer((v) => (i.computerName = v));
      n.stringPointer((v) => (i.langroup = v));
      i.versionMajor = n.u32();
      i.versionMinor = n.u32();
      info = i;
    });
    return tag;
  });
  return { level, info, status: n.u32() };
}
