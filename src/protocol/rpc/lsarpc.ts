/**
 * lsarpc (MS-LSAD policy handles and information, MS-LSAT name/SID translation): the calls clients make to learn
 * a server's domain and to translate account names and SIDs. Requests and responses of LsarOpenPolicy(2),
 * LsarClose, LsarQueryInformationPolicy(2), LsarLookupNames(2,3,4), LsarLookupSids(2,3) and LsarGetUserName.
 */
import { WireError } from '../../errors.js';
import { NdrReader, NdrWriter } from './ndr.js';
import { syntaxVersion, type SyntaxId } from './pdu.js';

export const LSARPC_SYNTAX: SyntaxId = { uuid: '12345778-1234-abcd-ef00-0123456789ab', version: syntaxVersion(0, 0) };

export const LsarOpnum = {
  Close: 0,
  OpenPolicy: 6,
  QueryInformationPolicy: 7,
  LookupNames: 14,
  LookupSids: 15,
  OpenPolicy2: 44,
  GetUserName: 45,
  QueryInformationPolicy2: 46,
  LookupSids2: 57,
  LookupNames2: 58,
  LookupNames3: 68,
  LookupSids3: 76,
  LookupNames4: 77,
} as const;

/** POLICY_INFORMATION_CLASS values served (MS-LSAD 2.2.4.1). */
export const PolicyInformationClass = {
  PrimaryDomain: 3,
  AccountDomain: 5,
  DnsDomain: 12,
} as const;

/** SID_NAME_USE (MS-LSAT 2.2.13). */
export const SidNameUse = {
  User: 1,
  Group: 2,
  Domain: 3,
  Alias: 4,
  WellKnownGroup: 5,
  DeletedAccount: 6,
  Invalid: 7,
  Unknown: 8,
  Computer: 9,
  Label: 10,
} as const;

/** Bound of the names a lookup may carry (MS-LSAT 3.1.4.8: [range(0,1000)]). */
export const MAX_LOOKUP_NAMES = 1000;
/** Bound of the SIDs a lookup may carry (MS-LSAT 2.2.17: [range(0,20480)]). */
export const MAX_LOOKUP_SIDS = 20480;

const HANDLE_SIZE = 20;

function handle(n: NdrReader): Buffer {
  n.align(4);
  return Buffer.from(n.bytes(HANDLE_SIZE));
}

function writeHandle(n: NdrWriter, h: Buffer): void {
  if (h.length !== HANDLE_SIZE) throw new RangeError('a context handle is 20 bytes');
  n.align(4).bytes(h);
}

// ---- LsarOpenPolicy / LsarOpenPolicy2 (MS-LSAD 3.1.4.4.1, 3.1.4.4.2) ----

export interface OpenPolicyRequest {
  /** OpenPolicy2: the server name string; OpenPolicy: its first character only (a wchar_t*). */
  systemName: string | undefined;
  desiredAccess: number;
}

/**
 * LSAPR_OBJECT_ATTRIBUTES (MS-LSAD 2.2.9): read whole (the server ignores it), so that DesiredAccess after it is
 * found whatever the client put in it.
 */
function skipObjectAttributes(n: NdrReader): void {
  n.u32(); // Length
  n.pointer(() => n.u8()); // RootDirectory
  n.pointer(() => {
    // ObjectName: a STRING (MS-DTYP 2.3.3), bytes with conformant varying bounds.
    n.u16();
    const max = n.u16();
    n.pointer(() => {
      const maxCount = n.u32();
      const offset = n.u32();
      const actual = n.u32();
      if (offset !== 0 || actual > maxCount || maxCount > max) throw new WireError('bad ObjectName bounds');
      n.bytes(actual);
    });
  });
  n.u32(); // Attributes
  n.pointer(() => {
    // LSAPR_SECURITY_DESCRIPTOR (MS-LSAD 2.2.5).
    n.u8();
    n.u8();
    n.u16();
    n.sidPointer(() => {});
    n.sidPointer(() => {});
    const acl = () => {
      // LSAPR_ACL (MS-LSAD 2.2.6): a conformant structure of AclSize - 4 bytes after its header.
      const count = n.u32();
      n.u8();
      n.u8();
      const size = n.u16();
      if (size < 4 || count !== size - 4) throw new WireError('bad LSAPR_ACL size');
      n.bytes(count);
    };
    n.pointer(acl);
    n.pointer(acl);
  });
  n.pointer(() => {
    // SECURITY_QUALITY_OF_SERVICE (MS-LSAD 2.2.7).
    n.u32();
    n.u16();
    n.u8();
    n.u8();
  });
  n.deferred();
}

export function decodeOpenPolicyRequest(stub: Buffer, version: 1 | 2): OpenPolicyRequest {
  const n = new NdrReader(stub);
  const systemName = version === 2 ? n.topUnique(() => n.string()) : n.topUnique(() => String.fromCharCode(n.u16()));
  skipObjectAttributes(n);
  return { systemName, desiredAccess: n.u32() };
}

/** The request as Windows sends it: empty object attributes with a quality-of-service block. */
export function encodeOpenPolicyRequest(m: OpenPolicyRequest, version: 1 | 2): Buffer {
  const n = new NdrWriter();
  if (version === 2) n.top(() => n.stringPointer(m.systemName));
  else n.top(() => n.pointer(m.systemName, (v) => n.u16(v.charCodeAt(0))));
  n.top(() => {
    n.u32(24).u32(0).u32(0).u32(0).u32(0);
    n.pointer(true, () => n.u32(12).u16(2).u8(1).u8(0));
  });
  n.u32(m.desiredAccess);
  return n.finish();
}

export interface HandleResponse {
  handle: Buffer;
  status: number;
}

/** The response of OpenPolicy(2) and of LsarClose: a context handle and the status. */
export function encodeHandleResponse(m: HandleResponse): Buffer {
  const n = new NdrWriter();
  writeHandle(n, m.handle);
  n.u32(m.status);
  return n.finish();
}

export function decodeHandleResponse(stub: Buffer): HandleResponse {
  const n = new NdrReader(stub);
  return { handle: handle(n), status: n.u32() };
}

/** LsarClose's request: the handle to close. */
export function decodeHandleRequest(stub: Buffer): Buffer {
  return handle(new NdrReader(stub));
}

export function encodeHandleRequest(h: Buffer): Buffer {
  const n = new NdrWriter();
  writeHandle(n, h);
  return n.finish();
}

// ---- LsarQueryInformationPolicy(2) (MS-LSAD 3.1.4.4.3, 3.1.4.4.4) ----

export interface QueryInfoRequest {
  handle: Buffer;
  informationClass: number;
}

export function decodeQueryInfoRequest(stub: Buffer): QueryInfoRequest {
  const n = new NdrReader(stub);
  return { handle: handle(n), informationClass: n.u16() };
}

export function encodeQueryInfoRequest(m: QueryInfoRequest): Buffer {
  const n = new NdrWriter();
  writeHandle(n, m.handle);
  n.u16(m.informationClass);
  return n.finish();
}

/** A domain's NetBIOS name and SID (LSAPR_POLICY_PRIMARY_DOM_INFO, LSAPR_POLICY_ACCOUNT_DOM_INFO). */
export interface DomainInfo {
  name: string;
  sid: string | undefined;
}

/** LSAPR_POLICY_DNS_DOMAIN_INFO (MS-LSAD 2.2.4.14). */
export interface DnsDomainInfo extends DomainInfo {
  dnsDomainName: string;
  dnsForestName: string;
  domainGuid: Buffer;
}

export type PolicyInformation =
  | { informationClass: 3 | 5; info: DomainInfo }
  | { informationClass: 12; info: DnsDomainInfo };

export interface QueryInfoResponse {
  policy: PolicyInformation | undefined;
  status: number;
}

export function encodeQueryInfoResponse(m: QueryInfoResponse): Buffer {
  const n = new NdrWriter();
  n.top(() =>
    n.pointer(m.policy, (p) => {
      // LSAPR_POLICY_INFORMATION: the union's discriminant, then the arm (aligned as its structure).
      n.u16(p.informationClass);
      n.unicodeString(p.info.name);
      if (p.informationClass === PolicyInformationClass.DnsDomain) {
        n.unicodeString(p.info.dnsDomainName);
        n.unicodeString(p.info.dnsForestName);
        n.align(4).bytes(p.info.domainGuid);
      }
      n.sidPointer(p.info.sid);
    }),
  );
  n.u32(m.status);
  return n.finish();
}

export function decodeQueryInfoResponse(stub: Buffer): QueryInfoResponse {
  const n = new NdrReader(stub);
  let read: { cls: number; info: DnsDomainInfo } | undefined;
  n.top(() =>
    n.pointer(() => {
      const cls = n.u16();
      if (cls !== PolicyInformationClass.PrimaryDomain && cls !== PolicyInformationClass.AccountDomain && cls !== PolicyInformationClass.DnsDomain) {
        throw new WireError(`unsupported policy information class ${cls}`);
      }
      const info: DnsDomainInfo = { name: '', sid: undefined, dnsDomainName: '', dnsForestName: '', domainGuid: Buffer.alloc(16) };
      n.unicodeString((v) => (info.name = v));
      if (cls === PolicyInformationClass.DnsDomain) {
        n.unicodeString((v) => (info.dnsDomainName = v));
        n.unicodeString((v) => (info.dnsForestName = v));
        info.domainGuid = Buffer.from(n.align(4).bytes(16));
      }
      n.sidPointer((v) => (info.sid = v));
      read = { cls, info };
    }),
  );
  let policy: PolicyInformation | undefined;
  if (read) {
    const { cls, info } = read;
    policy = cls === PolicyInformationClass.DnsDomain ? { informationClass: 12, info } : { informationClass: cls as 3 | 5, info: { name: info.name, sid: info.sid } };
  }
  return { policy, status: n.u32() };
}

// ---- lookups (MS-LSAT 3.1.4.5 - 3.1.4.11) ----

/** The domains the translated names and SIDs refer to (LSAPR_REFERENCED_DOMAIN_LIST, MS-LSAT 2.2.12). */
export interface ReferencedDomain {
  name: string;
  sid: string | undefined;
}

/** What Windows reports as MaxEntries of a referenced domain list. */
const REFERENCED_DOMAINS_MAX = 32;

function writeReferencedDomains(n: NdrWriter, domains: readonly ReferencedDomain[] | undefined): void {
  n.pointer(domains, (list) => {
    n.u32(list.length);
    n.pointer(list, (items) =>
      n.array(items, (d) => {
        n.unicodeString(d.name);
        n.sidPointer(d.sid);
      }),
    );
    n.u32(REFERENCED_DOMAINS_MAX);
  });
}

function readReferencedDomains(n: NdrReader, set: (d: ReferencedDomain[]) => void): void {
  n.pointer(() => {
    const entries = n.u32();
    const present = n.pointer(() => {
      const list = n.array(12, () => {
        const d: ReferencedDomain = { name: '', sid: undefined };
        n.unicodeString((v) => (d.name = v));
        n.sidPointer((v) => (d.sid = v));
        return d;
      });
      if (list.length !== entries) throw new WireError('referenced domain count does not match its array');
      set(list);
    });
    n.u32(); // MaxEntries
    if (!present) {
      if (entries !== 0) throw new WireError('referenced domains counted but absent');
      set([]);
    }
  });
}

/** The forms of LsarLookupNames: 1 = LookupNames, 2 = LookupNames2, 3 = LookupNames3, 4 = LookupNames4 (no handle). */
export type LookupNamesVersion = 1 | 2 | 3 | 4;

export interface LookupNamesRequest {
  /** The policy handle (absent in LookupNames4). */
  handle: Buffer | undefined;
  names: string[];
  lookupLevel: number;
  /** LookupNames2 and later. */
  lookupOptions: number;
  clientRevision: number;
}

/** The entries of TranslatedSids arrive empty on input; their fixed size per version. */
const TRANSLATED_SID_SIZE: Record<LookupNamesVersion, number> = { 1: 12, 2: 16, 3: 16, 4: 16 };

export function decodeLookupNamesRequest(stub: Buffer, version: LookupNamesVersion): LookupNamesRequest {
  const n = new NdrReader(stub);
  const h = version === 4 ? undefined : handle(n);
  const count = n.u32();
  if (count > MAX_LOOKUP_NAMES) throw new WireError('more names than a lookup may carry');
  const names = n.top(() => {
    const list = n.array(8, () => {
      const ref = { name: '' };
      n.unicodeString((v) => (ref.name = v));
      return ref;
    });
    if (list.length !== count) throw new WireError('name count does not match its array');
    return list;
  });
  // TranslatedSids [in, out]: ignored on input, but read to find the fields after it.
  n.top(() => {
    n.u32();
    n.pointer(() => n.array(TRANSLATED_SID_SIZE[version], () => skipTranslatedSid(n, version)));
  });
  const lookupLevel = n.u16();
  n.u32(); // MappedCount
  const extended = version > 1;
  return { handle: h, names: names.map((x) => x.name), lookupLevel, lookupOptions: extended ? n.u32() : 0, clientRevision: extended ? n.u32() : 0 };
}

function skipTranslatedSid(n: NdrReader, version: LookupNamesVersion): void {
  n.u16();
  if (version >= 3) n.sidPointer(() => {});
  else n.u32();
  n.i32();
  if (version >= 2) n.u32();
}

export function encodeLookupNamesRequest(m: LookupNamesRequest, version: LookupNamesVersion): Buffer {
  const n = new NdrWriter();
  if (version !== 4) writeHandle(n, m.handle ?? Buffer.alloc(HANDLE_SIZE));
  n.u32(m.names.length);
  n.top(() => n.array(m.names, (s) => n.unicodeString(s)));
  n.u32(0).u32(0); // TranslatedSids: no entries
  n.u16(m.lookupLevel);
  n.u32(0);
  if (version > 1) n.u32(m.lookupOptions).u32(m.clientRevision);
  return n.finish();
}

/** One translated name: its use, its domain, and its SID (LookupNames3/4) or RID (LookupNames/2). */
export interface TranslatedSid {
  use: number;
  /** The RID in its domain (LookupNames, LookupNames2); 0 in the later forms. */
  relativeId: number;
  /** The whole SID (LookupNames3, LookupNames4); undefined in the earlier forms and for unmapped names. */
  sid: string | undefined;
  /** Index into the referenced domains; -1 when none. */
  domainIndex: number;
  flags: number;
}

export interface LookupNamesResponse {
  domains: ReferencedDomain[] | undefined;
  sids: TranslatedSid[];
  mappedCount: number;
  status: number;
}

export function encodeLookupNamesResponse(m: LookupNamesResponse, version: LookupNamesVersion): Buffer {
  const n = new NdrWriter();
  n.top(() => writeReferencedDomains(n, m.domains));
  n.top(() => {
    n.u32(m.sids.length);
    n.pointer(m.sids.length > 0 ? m.sids : undefined, (items) =>
      n.array(items, (t) => {
        n.align(4).u16(t.use);
        if (version >= 3) n.sidPointer(t.sid);
        else n.u32(t.relativeId);
        n.i32(t.domainIndex);
        if (version >= 2) n.u32(t.flags);
      }),
    );
  });
  n.u32(m.mappedCount);
  n.u32(m.status);
  return n.finish();
}

export function decodeLookupNamesResponse(stub: Buffer, version: LookupNamesVersion): LookupNamesResponse {
  const n = new NdrReader(stub);
  let domains: ReferencedDomain[] | undefined;
  n.top(() => readReferencedDomains(n, (d) => (domains = d)));
  let entries = 0;
  let sids: TranslatedSid[] = [];
  n.top(() => {
    entries = n.u32();
    n.pointer(() => {
      sids = n.array(TRANSLATED_SID_SIZE[version], () => {
        n.align(4);
        const t: TranslatedSid = { use: n.u16(), relativeId: 0, sid: undefined, domainIndex: -1, flags: 0 };
        if (version >= 3) n.sidPointer((v) => (t.sid = v));
        else t.relativeId = n.u32();
        t.domainIndex = n.i32();
        if (version >= 2) t.flags = n.u32();
        return t;
      });
    });
  });
  if (sids.length !== entries) throw new WireError('translated SID count does not match its array');
  return { domains, sids, mappedCount: n.u32(), status: n.u32() };
}

/** The forms of LsarLookupSids: 1 = LookupSids, 2 = LookupSids2, 3 = LookupSids3 (no handle). */
export type LookupSidsVersion = 1 | 2 | 3;

export interface LookupSidsRequest {
  handle: Buffer | undefined;
  sids: string[];
  lookupLevel: number;
  lookupOptions: number;
  clientRevision: number;
}

export function decodeLookupSidsRequest(stub: Buffer, version: LookupSidsVersion): LookupSidsRequest {
  const n = new NdrReader(stub);
  const h = version === 3 ? undefined : handle(n);
  // LSAPR_SID_ENUM_BUFFER (MS-LSAT 2.2.17): Entries and a pointer to an array of SID pointers.
  let entries = 0;
  let slots: { sid: string }[] = [];
  n.top(() => {
    entries = n.u32();
    if (entries > MAX_LOOKUP_SIDS) throw new WireError('more SIDs than a lookup may carry');
    n.pointer(() => {
      slots = n.array(4, () => {
        const slot = { sid: '' };
        if (!n.sidPointer((v) => (slot.sid = v))) throw new WireError('a NULL SID in a lookup');
        return slot;
      });
    });
  });
  if (slots.length !== entries) throw new WireError('SID count does not match its array');
  // TranslatedNames [in, out]: ignored on input.
  n.top(() => {
    n.u32();
    n.pointer(() => n.array(version === 1 ? 16 : 20, () => skipTranslatedName(n, version)));
  });
  const lookupLevel = n.u16();
  n.u32(); // MappedCount
  const extended = version > 1;
  return { handle: h, sids: slots.map((x) => x.sid), lookupLevel, lookupOptions: extended ? n.u32() : 0, clientRevision: extended ? n.u32() : 0 };
}

function skipTranslatedName(n: NdrReader, version: LookupSidsVersion): void {
  n.u16();
  n.unicodeString(() => {});
  n.i32();
  if (version >= 2) n.u32();
}

export function encodeLookupSidsRequest(m: LookupSidsRequest, version: LookupSidsVersion): Buffer {
  const n = new NdrWriter();
  if (version !== 3) writeHandle(n, m.handle ?? Buffer.alloc(HANDLE_SIZE));
  n.top(() => {
    n.u32(m.sids.length);
    n.pointer(m.sids.length > 0 ? m.sids : undefined, (list) => n.array(list, (s) => n.sidPointer(s)));
  });
  n.u32(0).u32(0); // TranslatedNames: no entries
  n.u16(m.lookupLevel);
  n.u32(0);
  if (version > 1) n.u32(m.lookupOptions).u32(m.clientRevision);
  return n.finish();
}

/** One translated SID: its use, its name (without the domain), and the index of its domain. */
export interface TranslatedName {
  use: number;
  name: string;
  domainIndex: number;
  flags: number;
}

export interface LookupSidsResponse {
  domains: ReferencedDomain[] | undefined;
  names: TranslatedName[];
  mappedCount: number;
  status: number;
}

export function encodeLookupSidsResponse(m: LookupSidsResponse, version: LookupSidsVersion): Buffer {
  const n = new NdrWriter();
  n.top(() => writeReferencedDomains(n, m.domains));
  n.top(() => {
    n.u32(m.names.length);
    n.pointer(m.names.length > 0 ? m.names : undefined, (items) =>
      n.array(items, (t) => {
        n.align(4).u16(t.use);
        n.unicodeString(t.name);
        n.i32(t.domainIndex);
        if (version >= 2) n.u32(t.flags);
      }),
    );
  });
  n.u32(m.mappedCount);
  n.u32(m.status);
  return n.finish();
}

export function decodeLookupSidsResponse(stub: Buffer, version: LookupSidsVersion): LookupSidsResponse {
  const n = new NdrReader(stub);
  let domains: ReferencedDomain[] | undefined;
  n.top(() => readReferencedDomains(n, (d) => (domains = d)));
  let entries = 0;
  let names: TranslatedName[] = [];
  n.top(() => {
    entries = n.u32();
    n.pointer(() => {
      names = n.array(version === 1 ? 16 : 20, () => {
        n.align(4);
        const t: TranslatedName = { use: n.u16(), name: '', domainIndex: -1, flags: 0 };
        n.unicodeString((v) => (t.name = v));
        t.domainIndex = n.i32();
        if (version >= 2) t.flags = n.u32();
        return t;
      });
    });
  });
  if (names.length !== entries) throw new WireError('translated name count does not match its array');
  return { domains, names, mappedCount: n.u32(), status: n.u32() };
}

// ---- LsarGetUserName (MS-LSAT 3.1.4.4) ----

export interface GetUserNameRequest {
  systemName: string | undefined;
  /** The client asked for the domain too (DomainName was not NULL). */
  wantDomain: boolean;
}

export function decodeGetUserNameRequest(stub: Buffer): GetUserNameRequest {
  const n = new NdrReader(stub);
  const systemName = n.topUnique(() => n.string());
  // UserName: [in, out] PRPC_UNICODE_STRING* — a unique pointer to a string the server replaces.
  n.top(() => n.pointer(() => n.unicodeString(() => {})));
  // DomainName: [in, out, unique] PRPC_UNICODE_STRING*.
  const wantDomain = n.u32() !== 0;
  if (wantDomain) n.top(() => n.pointer(() => n.unicodeString(() => {})));
  return { systemName, wantDomain };
}

export function encodeGetUserNameRequest(m: GetUserNameRequest): Buffer {
  const n = new NdrWriter();
  n.top(() => n.stringPointer(m.systemName));
  n.u32(0); // UserName: a NULL string pointer for the server to fill
  if (m.wantDomain) n.top(() => n.pointer(true, () => n.u32(0)));
  else n.u32(0);
  return n.finish();
}

export interface GetUserNameResponse {
  userName: string | undefined;
  /** undefined when the client did not ask for it. */
  domainName: string | undefined;
  status: number;
}

export function encodeGetUserNameResponse(m: GetUserNameResponse, wantDomain: boolean): Buffer {
  const n = new NdrWriter();
  n.top(() => n.pointer(m.userName, (v) => n.unicodeString(v)));
  if (wantDomain) n.top(() => n.pointer(true, () => n.pointer(m.domainName, (v) => n.unicodeString(v))));
  else n.u32(0);
  n.u32(m.status);
  return n.finish();
}

export function decodeGetUserNameResponse(stub: Buffer): GetUserNameResponse {
  const n = new NdrReader(stub);
  let userName: string | undefined;
  let domainName: string | undefined;
  n.top(() => n.pointer(() => n.unicodeString((v) => (userName = v))));
  n.top(() => n.pointer(() => n.pointer(() => n.unicodeString((v) => (domainName = v)))));
  return { userName, domainName, status: n.u32() };
}
