/**
 * lsarpc for clients that ask (MS-LSAD, MS-LSAT): policy handles, the server's primary and account domain, and
 * translation between names and SIDs for the server's accounts and the well-known principals. The server is a
 * standalone one: its accounts live in its account domain (named after the server, under the machine SID that
 * file ACLs use too); its primary domain is the workgroup, which has no SID.
 */
import {
  decodeGetUserNameRequest,
  decodeHandleRequest,
  decodeLookupNamesRequest,
  decodeLookupSidsRequest,
  decodeOpenPolicyRequest,
  decodeQueryInfoRequest,
  encodeGetUserNameResponse,
  encodeHandleResponse,
  encodeLookupNamesResponse,
  encodeLookupSidsResponse,
  encodeQueryInfoResponse,
  LSARPC_SYNTAX,
  LsarOpnum,
  PolicyInformationClass,
  SidNameUse,
  type LookupNamesVersion,
  type LookupSidsVersion,
  type PolicyInformation,
  type ReferencedDomain,
  type TranslatedName,
  type TranslatedSid,
} from '../../protocol/rpc/lsarpc.js';
import { Status } from '../../protocol/nt-status.js';
import { sidWithRid, WellKnownRid, WellKnownSid } from '../../protocol/smb2/fscc/security.js';
import { userSid } from '../acl.js';
import type { RpcCall, RpcInterface, RpcResult } from './rpc-server.js';

/** What lsarpc needs from the server. */
export interface LsaHost {
  /** NetBIOS name of the server: the name of its account domain. */
  readonly serverName: string;
  /** The workgroup: the primary domain, which has no SID on a standalone server. */
  readonly domain: string;
  /** The account domain's SID (the machine SID). */
  readonly machineSid: string;
  /** The stored spelling of an account name, or undefined when there is no such account. */
  findUser(name: string): string | undefined;
  /** Every account name. */
  userNames(): Iterable<string>;
}

const NT_AUTHORITY = 'NT AUTHORITY';
const BUILTIN = 'BUILTIN';
const BUILTIN_SID = 'S-1-5-32';

/** One principal lookups can name: its SID, its name and the domain (name and SID) it belongs to. */
interface Principal {
  sid: string;
  name: string;
  use: number;
  domain: ReferencedDomain;
}

const WORLD: ReferencedDomain = { name: '', sid: 'S-1-1' };
const CREATOR: ReferencedDomain = { name: '', sid: 'S-1-3' };
const NT: ReferencedDomain = { name: NT_AUTHORITY, sid: 'S-1-5' };
const BUILTIN_DOMAIN: ReferencedDomain = { name: BUILTIN, sid: BUILTIN_SID };

/** The well-known principals (MS-DTYP 2.4.2.4) with the names Windows gives them. */
const WELL_KNOWN: readonly Principal[] = [
  { sid: WellKnownSid.EVERYONE, name: 'Everyone', use: SidNameUse.WellKnownGroup, domain: WORLD },
  { sid: WellKnownSid.CREATOR_OWNER, name: 'CREATOR OWNER', use: SidNameUse.WellKnownGroup, domain: CREATOR },
  { sid: WellKnownSid.CREATOR_GROUP, name: 'CREATOR GROUP', use: SidNameUse.WellKnownGroup, domain: CREATOR },
  { sid: WellKnownSid.NETWORK, name: 'NETWORK', use: SidNameUse.WellKnownGroup, domain: NT },
  { sid: WellKnownSid.ANONYMOUS, name: 'ANONYMOUS LOGON', use: SidNameUse.WellKnownGroup, domain: NT },
  { sid: WellKnownSid.AUTHENTICATED_USERS, name: 'Authenticated Users', use: SidNameUse.WellKnownGroup, domain: NT },
  { sid: WellKnownSid.LOCAL_SYSTEM, name: 'SYSTEM', use: SidNameUse.WellKnownGroup, domain: NT },
  { sid: WellKnownSid.LOCAL_SERVICE, name: 'LOCAL SERVICE', use: SidNameUse.WellKnownGroup, domain: NT },
  { sid: WellKnownSid.NETWORK_SERVICE, name: 'NETWORK SERVICE', use: SidNameUse.WellKnownGroup, domain: NT },
  { sid: WellKnownSid.BUILTIN_ADMINISTRATORS, name: 'Administrators', use: SidNameUse.Alias, domain: BUILTIN_DOMAIN },
  { sid: WellKnownSid.BUILTIN_USERS, name: 'Users', use: SidNameUse.Alias, domain: BUILTIN_DOMAIN },
  { sid: WellKnownSid.BUILTIN_GUESTS, name: 'Guests', use: SidNameUse.Alias, domain: BUILTIN_DOMAIN },
  { sid: BUILTIN_SID, name: BUILTIN, use: SidNameUse.Domain, domain: BUILTIN_DOMAIN },
];

/** Accounts every standalone server's account domain has besides its users (the session tokens use them). */
const DOMAIN_ACCOUNTS: readonly { rid: number; name: string; use: number }[] = [
  { rid: WellKnownRid.GUEST, name: 'Guest', use: SidNameUse.User },
  { rid: WellKnownRid.DOMAIN_USERS, name: 'None', use: SidNameUse.Group },
];

/** LSAP_LOOKUP_LEVEL values (MS-LSAT 2.2.16): LsapLookupWksta (1) to LsapLookupRODCReferralToFullDC (7). */
const MIN_LOOKUP_LEVEL = 1;
const MAX_LOOKUP_LEVEL = 7;

/** The state behind a policy handle. */
interface PolicyHandle {
  readonly kind: 'lsa-policy';
}

const sameName = (a: string, b: string) => a.toUpperCase() === b.toUpperCase();

/** The domain a SID belongs to: the SID without its last sub-authority. */
function parentSid(sid: string): string {
  return sid.slice(0, sid.lastIndexOf('-'));
}

function lastRid(sid: string): number {
  return Number(sid.slice(sid.lastIndexOf('-') + 1));
}

/** Builds a referenced-domain list as translations name domains, each domain once. */
class DomainList {
  readonly list: ReferencedDomain[] = [];
  index(d: ReferencedDomain): number {
    const i = this.list.findIndex((x) => x.sid === d.sid && x.name === d.name);
    if (i >= 0) return i;
    this.list.push(d);
    return this.list.length - 1;
  }
}

export function lsarpcInterface(host: LsaHost): RpcInterface {
  const accountDomain: ReferencedDomain = { name: host.serverName, sid: host.machineSid };

  const domainPrincipal: Principal = { sid: host.machineSid, name: host.serverName, use: SidNameUse.Domain, domain: accountDomain };

  /**
   * The principal a name stands for (MS-LSAT 3.1.4.5): `name`, `DOMAIN\name`, `name@domain`, or a domain's name
   * (alone or as `DOMAIN\`); an isolated name is tried as a domain first, then as a well-known principal, then as
   * an account of the server.
   */
  const byName = (full: string): Principal | undefined => {
    let domain: string | undefined;
    let name = full;
    const slash = full.indexOf('\\');
    if (slash >= 0) {
      domain = full.slice(0, slash);
      name = full.slice(slash + 1);
    } else if (full.includes('@')) {
      const at = full.lastIndexOf('@');
      name = full.slice(0, at);
      domain = full.slice(at + 1).split('.')[0];
    }
    if (name === '' && domain !== undefined) {
      name = domain;
      domain = undefined;
    }
    if (domain === undefined) {
      if (sameName(name, host.serverName)) return domainPrincipal;
      const builtin = WELL_KNOWN.find((p) => p.use === SidNameUse.Domain && sameName(p.name, name));
      if (builtin) return builtin;
    }
    const known = WELL_KNOWN.find((p) => p.use !== SidNameUse.Domain && sameName(p.name, name) && (domain === undefined || sameName(domain, p.domain.name)));
    if (known) return known;
    if (domain !== undefined && !sameName(domain, host.serverName)) return undefined;
    const fixed = DOMAIN_ACCOUNTS.find((a) => sameName(a.name, name));
    if (fixed) return { sid: sidWithRid(host.machineSid, fixed.rid), name: fixed.name, use: fixed.use, domain: accountDomain };
    const user = host.findUser(name);
    if (user !== undefined) return { sid: userSid(host.machineSid, user), name: user, use: SidNameUse.User, domain: accountDomain };
    return undefined;
  };

  /** The principal a SID stands for, or just the domain it falls in (an unknown RID in a known domain). */
  const bySid = (sid: string, accounts: () => ReadonlyMap<string, string>): { principal: Principal | undefined; domain: ReferencedDomain | undefined } => {
    const known = WELL_KNOWN.find((p) => p.sid === sid);
    if (known) return { principal: known, domain: known.domain };
    if (sid === host.machineSid) return { principal: domainPrincipal, domain: accountDomain };
    const parent = parentSid(sid);
    if (parent === host.machineSid) {
      const rid = lastRid(sid);
      const fixed = DOMAIN_ACCOUNTS.find((a) => a.rid === rid);
      if (fixed) return { principal: { sid, name: fixed.name, use: fixed.use, domain: accountDomain }, domain: accountDomain };
      const user = accounts().get(sid);
      return { principal: user === undefined ? undefined : { sid, name: user, use: SidNameUse.User, domain: accountDomain }, domain: accountDomain };
    }
    if (parent === BUILTIN_SID) return { principal: undefined, domain: BUILTIN_DOMAIN };
    return { principal: undefined, domain: undefined };
  };

  /** The status of a translation: all, some or none mapped (MS-LSAT 3.1.4.5, 3.1.4.9). */
  const mappedStatus = (mapped: number, total: number) => (mapped === total ? Status.SUCCESS : mapped === 0 ? Status.NONE_MAPPED : Status.SOME_NOT_MAPPED);

  const policyOf = (call: RpcCall, handle: Buffer | undefined): boolean =>
    handle !== undefined && (call.handles.get(handle) as PolicyHandle | undefined)?.kind === 'lsa-policy';

  const openPolicy = (version: 1 | 2) => (stub: Buffer, call: RpcCall): RpcResult => {
    decodeOpenPolicyRequest(stub, version);
    const none = Buffer.alloc(20);
    // Anonymous callers may not translate names or SIDs (Windows: "Allow anonymous SID/Name translation" off).
    if (call.caller.anonymous) return encodeHandleResponse({ handle: none, status: Status.ACCESS_DENIED });
    const handle = call.handles.add({ kind: 'lsa-policy' } satisfies PolicyHandle);
    return encodeHandleResponse(handle ? { handle, status: Status.SUCCESS } : { handle: none, status: Status.INSUFFICIENT_RESOURCES });
  };

  const close = (stub: Buffer, call: RpcCall): RpcResult => {
    const handle = decodeHandleRequest(stub);
    if (!call.handles.delete(handle)) return encodeHandleResponse({ handle, status: Status.INVALID_HANDLE });
    return encodeHandleResponse({ handle: Buffer.alloc(20), status: Status.SUCCESS });
  };

  const queryInfo = (stub: Buffer, call: RpcCall): RpcResult => {
    const req = decodeQueryInfoRequest(stub);
    if (!policyOf(call, req.handle)) return encodeQueryInfoResponse({ policy: undefined, status: Status.INVALID_HANDLE });
    let policy: PolicyInformation;
    switch (req.informationClass) {
      case PolicyInformationClass.PrimaryDomain:
        policy = { informationClass: 3, info: { name: host.domain, sid: undefined } };
        break;
      case PolicyInformationClass.AccountDomain:
        policy = { informationClass: 5, info: { name: host.serverName, sid: host.machineSid } };
        break;
      case PolicyInformationClass.DnsDomain:
        // A workgroup member has no DNS domain, forest or domain GUID (MS-LSAD 2.2.4.14).
        policy = { informationClass: 12, info: { name: host.domain, sid: undefined, dnsDomainName: '', dnsForestName: '', domainGuid: Buffer.alloc(16) } };
        break;
      default:
        return encodeQueryInfoResponse({ policy: undefined, status: Status.INVALID_PARAMETER });
    }
    return encodeQueryInfoResponse({ policy, status: Status.SUCCESS });
  };

  const lookupNames = (version: LookupNamesVersion) => (stub: Buffer, call: RpcCall): RpcResult => {
    const req = decodeLookupNamesRequest(stub, version);
    const fail = (status: number) => encodeLookupNamesResponse({ domains: undefined, sids: [], mappedCount: 0, status }, version);
    // MS-LSAT 2.1: LookupNames4 is for RPC over TCP only; over a named pipe it is refused.
    if (version === 4) return fail(Status.ACCESS_DENIED);
    if (!policyOf(call, req.handle)) return fail(Status.INVALID_HANDLE);
    if (req.lookupLevel < MIN_LOOKUP_LEVEL || req.lookupLevel > MAX_LOOKUP_LEVEL) return fail(Status.INVALID_PARAMETER);
    const domains = new DomainList();
    let mapped = 0;
    const sids = req.names.map((name): TranslatedSid => {
      const p = byName(name);
      if (!p) return { use: SidNameUse.Unknown, relativeId: 0, sid: undefined, domainIndex: -1, flags: 0 };
      mapped++;
      const domainIndex = domains.index(p.domain);
      // The early forms carry the RID in the referenced domain; a domain itself has none.
      const relativeId = p.use === SidNameUse.Domain ? 0xffffffff : lastRid(p.sid);
      return { use: p.use, relativeId: version >= 3 ? 0 : relativeId, sid: version >= 3 ? p.sid : undefined, domainIndex, flags: 0 };
    });
    return encodeLookupNamesResponse({ domains: domains.list, sids, mappedCount: mapped, status: mappedStatus(mapped, req.names.length) }, version);
  };

  const lookupSids = (version: LookupSidsVersion) => (stub: Buffer, call: RpcCall): RpcResult => {
    const req = decodeLookupSidsRequest(stub, version);
    const fail = (status: number) => encodeLookupSidsResponse({ domains: undefined, names: [], mappedCount: 0, status }, version);
    // MS-LSAT 2.1: LookupSids3 is for RPC over TCP only; over a named pipe it is refused.
    if (version === 3) return fail(Status.ACCESS_DENIED);
    if (!policyOf(call, req.handle)) return fail(Status.INVALID_HANDLE);
    if (req.lookupLevel < MIN_LOOKUP_LEVEL || req.lookupLevel > MAX_LOOKUP_LEVEL) return fail(Status.INVALID_PARAMETER);
    const domains = new DomainList();
    let mapped = 0;
    // Account SIDs are derived from names: map them once per call, however many SIDs it asks about.
    let accounts: Map<string, string> | undefined;
    const accountsBySid = () => (accounts ??= new Map([...host.userNames()].map((u) => [userSid(host.machineSid, u), u])));
    const names = req.sids.map((sid): TranslatedName => {
      const { principal, domain } = bySid(sid, accountsBySid);
      if (!principal) return { use: SidNameUse.Unknown, name: '', domainIndex: domain ? domains.index(domain) : -1, flags: 0 };
      mapped++;
      return { use: principal.use, name: principal.name, domainIndex: domains.index(principal.domain), flags: 0 };
    });
    return encodeLookupSidsResponse({ domains: domains.list, names, mappedCount: mapped, status: mappedStatus(mapped, req.sids.length) }, version);
  };

  /** LsarGetUserName (MS-LSAT 3.1.4.4): the caller's account and the domain it belongs to. */
  const getUserName = (stub: Buffer, call: RpcCall): RpcResult => {
    const req = decodeGetUserNameRequest(stub);
    const c = call.caller;
    let user: string;
    let domain: string;
    if (c.anonymous) {
      user = 'ANONYMOUS LOGON';
      domain = NT_AUTHORITY;
    } else if (c.guest) {
      user = 'Guest';
      domain = host.serverName;
    } else {
      user = host.findUser(c.user) ?? c.user;
      domain = host.serverName;
    }
    return encodeGetUserNameResponse({ userName: user, domainName: req.wantDomain ? domain : undefined, status: Status.SUCCESS }, req.wantDomain);
  };

  return {
    name: 'lsarpc',
    syntax: LSARPC_SYNTAX,
    operations: new Map([
      [LsarOpnum.Close, close],
      [LsarOpnum.OpenPolicy, openPolicy(1)],
      [LsarOpnum.OpenPolicy2, openPolicy(2)],
      [LsarOpnum.QueryInformationPolicy, queryInfo],
      [LsarOpnum.QueryInformationPolicy2, queryInfo],
      [LsarOpnum.LookupNames, lookupNames(1)],
      [LsarOpnum.LookupNames2, lookupNames(2)],
      [LsarOpnum.LookupNames3, lookupNames(3)],
      [LsarOpnum.LookupNames4, lookupNames(4)],
      [LsarOpnum.LookupSids, lookupSids(1)],
      [LsarOpnum.LookupSids2, lookupSids(2)],
      [LsarOpnum.LookupSids3, lookupSids(3)],
      [LsarOpnum.GetUserName, getUserName],
    ]),
  };
}
