import type { AuthIdentity } from '../auth/spnego-server.js';
import { Status } from '../protocol/nt-status.js';
import { AccessMask } from '../protocol/smb2/constants.js';
import {
  AceFlags,
  AceType,
  decodeSecurityDescriptor,
  defaultSecurityDescriptor,
  FileAccessRights,
  isSidAce,
  machineDomainSid,
  SdControl,
  SecurityInformation,
  sidWithRid,
  WellKnownRid,
  WellKnownSid,
  type Ace,
  type Acl,
  type SecurityDescriptor,
  type SidAce,
} from '../protocol/smb2/fscc/security.js';
import type { FileStore } from '../store/types.js';
import type { Session } from './session.js';

/**
 * Windows-style access control for files: who the session is (its token), what a security descriptor grants
 * it (MS-DTYP 2.5.3.2), what a new file inherits (MS-DTYP 2.5.3.4) and the descriptor of files that have none
 * stored. Stores keep descriptors as opaque bytes; without `getSecurity` every file gets the default one, which
 * grants its viewer everything the share allows (the behaviour before ACLs existed).
 */

const OWNER_RIGHTS = 'S-1-3-4';

/** Generic rights of file objects (MS-DTYP 2.4.3 with the file mapping of MS-SMB2 2.2.13.1.1). */
const GENERIC_MAPPING = [
  [AccessMask.GENERIC_READ, FileAccessRights.FILE_GENERIC_READ],
  [AccessMask.GENERIC_WRITE, FileAccessRights.FILE_GENERIC_WRITE],
  [AccessMask.GENERIC_EXECUTE, 0x001200a0],
  [AccessMask.GENERIC_ALL, FileAccessRights.FILE_ALL_ACCESS],
] as const;
const GENERIC_BITS = AccessMask.GENERIC_READ | AccessMask.GENERIC_WRITE | AccessMask.GENERIC_EXECUTE | AccessMask.GENERIC_ALL;

export function mapGenericRights(mask: number): number {
  let out = mask & ~GENERIC_BITS;
  for (const [generic, specific] of GENERIC_MAPPING) if (mask & generic) out |= specific;
  return out >>> 0;
}

// --- the token ------------------------------------------------------------------------------------------

export interface Token {
  /** The user's SID. */
  user: string;
  /** The primary group: the group of files the user creates. */
  primaryGroup: string;
  /** The user, the primary group and every group: the SIDs ACEs match. */
  sids: ReadonlySet<string>;
}

/** A stable RID (>= 1000, as Windows gives new accounts) from a user name; names compare case-insensitively. */
function ridOf(name: string): number {
  let h = 0x811c9dc5;
  for (const c of name.toUpperCase()) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return 1000 + (h % 0x3fff0000);
}

/** The SID of the account `name` on a server whose accounts live under `domainSid`. */
export function userSid(domainSid: string, name: string): string {
  return sidWithRid(domainSid, ridOf(name));
}

/** The token of an authenticated identity on a server whose accounts live under `domainSid`. */
export function tokenFor(identity: Pick<AuthIdentity, 'user' | 'guest' | 'anonymous'>, domainSid: string): Token {
  let user: string;
  let primaryGroup: string;
  const groups: string[] = [WellKnownSid.EVERYONE, WellKnownSid.NETWORK, WellKnownSid.BUILTIN_USERS];
  if (identity.anonymous) {
    user = WellKnownSid.ANONYMOUS;
    primaryGroup = sidWithRid(domainSid, WellKnownRid.DOMAIN_GUESTS);
  } else if (identity.guest) {
    user = sidWithRid(domainSid, WellKnownRid.GUEST);
    primaryGroup = sidWithRid(domainSid, WellKnownRid.DOMAIN_GUESTS);
    groups.push(WellKnownSid.BUILTIN_GUESTS);
  } else {
    user = userSid(domainSid, identity.user);
    primaryGroup = sidWithRid(domainSid, WellKnownRid.DOMAIN_USERS);
    groups.push(WellKnownSid.AUTHENTICATED_USERS);
  }
  return { user, primaryGroup, sids: new Set([user, primaryGroup, ...groups]) };
}

const domainSids = new Map<string, string>();
const tokens = new WeakMap<AuthIdentity, Token>();

/** The machine SID of a server, derived from its name so it survives restarts. */
export function serverDomainSid(serverName: string): string {
  const key = serverName.toUpperCase();
  let sid = domainSids.get(key);
  if (sid === undefined) {
    sid = machineDomainSid(`smbkit-machine:${key}`);
    domainSids.set(key, sid);
  }
  return sid;
}

/** The token of a session (computed once per authenticated identity). */
export function sessionToken(session: Session): Token {
  const identity = session.identity ?? { user: '', guest: false, anonymous: true, domain: '', sessionKey: Buffer.alloc(0) };
  let token = tokens.get(identity);
  if (token === undefined) {
    token = tokenFor(identity, serverDomainSid(session.connection.server.config.name));
    if (session.identity) tokens.set(session.identity, token);
  }
  return token;
}

// --- the access check -----------------------------------------------------------------------------------

/**
 * The rights a descriptor grants a token (MS-DTYP 2.5.3.2 with MAXIMUM_ALLOWED): a missing or NULL DACL grants
 * everything; otherwise ACEs are read in order, a right being decided by the first ACE that names it. The owner
 * has READ_CONTROL and WRITE_DAC unless an OWNER RIGHTS ACE says otherwise.
 */
export function allowedAccess(sd: SecurityDescriptor, token: Token): number {
  if (!sd.dacl) return FileAccessRights.FILE_ALL_ACCESS;
  const isOwner = sd.owner !== undefined && token.sids.has(sd.owner);
  let allowed = 0;
  let denied = 0;
  let ownerRightsAce = false;
  for (const ace of sd.dacl.aces) {
    if (!isSidAce(ace) || ace.flags & AceFlags.INHERIT_ONLY_ACE) continue;
    if (ace.sid === OWNER_RIGHTS) ownerRightsAce = true;
    const applies = token.sids.has(ace.sid) || (ace.sid === OWNER_RIGHTS && isOwner);
    if (!applies) continue;
    const mask = mapGenericRights(ace.mask);
    if (ace.type === AceType.ACCESS_ALLOWED) allowed |= mask & ~denied;
    else if (ace.type === AceType.ACCESS_DENIED) denied |= mask & ~allowed;
  }
  if (isOwner && !ownerRightsAce) allowed |= (AccessMask.READ_CONTROL | AccessMask.WRITE_DAC) & ~denied;
  return allowed >>> 0;
}

/** The parts of a descriptor that reading needs READ_CONTROL for (MS-SMB2 3.3.5.20.3); the SACL needs ACCESS_SYSTEM_SECURITY. */
export const READ_CONTROL_PARTS =
  SecurityInformation.OWNER_SECURITY_INFORMATION |
  SecurityInformation.GROUP_SECURITY_INFORMATION |
  SecurityInformation.DACL_SECURITY_INFORMATION |
  SecurityInformation.LABEL_SECURITY_INFORMATION |
  SecurityInformation.ATTRIBUTE_SECURITY_INFORMATION |
  SecurityInformation.SCOPE_SECURITY_INFORMATION |
  SecurityInformation.BACKUP_SECURITY_INFORMATION;

/**
 * The status of an access request that needs a privilege (MS-DTYP 2.5.3.2): ACCESS_SYSTEM_SECURITY comes from
 * SeSecurityPrivilege, never from a DACL, and no session holds it. Undefined when nothing privileged is asked.
 */
export function privilegeNotHeld(desiredAccess: number): number | undefined {
  return desiredAccess & AccessMask.ACCESS_SYSTEM_SECURITY ? Status.PRIVILEGE_NOT_HELD : undefined;
}

// --- descriptors of files -------------------------------------------------------------------------------

/** The descriptor of a file that has none stored: its viewer owns it (see defaultSecurityDescriptor). */
export function fallbackSecurity(token: Token, directory: boolean, writable: boolean): SecurityDescriptor {
  return defaultSecurityDescriptor({ ownerSid: token.user, groupSid: token.primaryGroup, directory, writable });
}

export interface FileSecurity {
  sd: SecurityDescriptor;
  /** Whether the store holds it (else it is the fallback). */
  stored: boolean;
}

/** A file's descriptor: the stored one, or the fallback (also for an unreadable record). */
export async function readSecurity(store: FileStore, path: string, directory: boolean, token: Token, writable: boolean): Promise<FileSecurity> {
  if (store.getSecurity) {
    const bytes = await store.getSecurity(path);
    if (bytes !== undefined) {
      try {
        return { sd: decodeSecurityDescriptor(bytes), stored: true };
      } catch {
        // a damaged record: treated as none
      }
    }
  }
  return { sd: fallbackSecurity(token, directory, writable), stored: false };
}

export function parentPath(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash);
}

/**
 * What a token may do with an existing file (MS-FSA 2.1.5.1.2): what its descriptor allows, plus DELETE when the
 * parent grants FILE_DELETE_CHILD and FILE_READ_ATTRIBUTES when the parent grants FILE_LIST_DIRECTORY. The parent
 * is read only when `wanted` asks for a right the file itself doesn't give.
 */
export async function fileAccess(
  store: FileStore,
  path: string,
  directory: boolean,
  token: Token,
  writable: boolean,
  wanted: number,
): Promise<number> {
  let allowed = allowedAccess((await readSecurity(store, path, directory, token, writable)).sd, token);
  const fromParent = AccessMask.DELETE | AccessMask.FILE_READ_ATTRIBUTES;
  if (path !== '' && wanted & fromParent & ~allowed) {
    const parent = allowedAccess((await readSecurity(store, parentPath(path), true, token, writable)).sd, token);
    if (parent & AccessMask.FILE_DELETE_CHILD) allowed |= AccessMask.DELETE;
    if (parent & AccessMask.FILE_READ_DATA) allowed |= AccessMask.FILE_READ_ATTRIBUTES;
  }
  return allowed >>> 0;
}

// --- inheritance ----------------------------------------------------------------------------------------

const OI = AceFlags.OBJECT_INHERIT_ACE;
const CI = AceFlags.CONTAINER_INHERIT_ACE;
const NP = AceFlags.NO_PROPAGATE_INHERIT_ACE;
const IO = AceFlags.INHERIT_ONLY_ACE;
const INHERIT_FLAGS = OI | CI | NP | IO;

/** Whether an ACE changes when it takes effect on an object: a CREATOR OWNER / GROUP SID or generic rights. */
function needsMapping(ace: SidAce): boolean {
  return ace.sid === WellKnownSid.CREATOR_OWNER || ace.sid === WellKnownSid.CREATOR_GROUP || (ace.mask & GENERIC_BITS) !== 0;
}

/** The form an ACE takes on the object it applies to: creator SIDs replaced by the owner and group, generic rights mapped. */
function effectiveAce(ace: SidAce, flags: number, owner: string, group: string): SidAce {
  const sid = ace.sid === WellKnownSid.CREATOR_OWNER ? owner : ace.sid === WellKnownSid.CREATOR_GROUP ? group : ace.sid;
  return { type: ace.type, flags, mask: mapGenericRights(ace.mask), sid };
}

/**
 * The ACEs a new file or directory inherits from its parent's ACL (MS-DTYP 2.5.3.4.4, with the rules Windows
 * applies, "ACE inheritance rules" in the Win32 security docs):
 * - a file takes OBJECT_INHERIT ACEs as effective ones, without inheritance flags;
 * - a directory takes CONTAINER_INHERIT ACEs as effective ones, still inheritable unless NO_PROPAGATE says
 *   otherwise; one that must be mapped (CREATOR OWNER, generic rights) and still passes on becomes two ACEs, the
 *   mapped effective one and the original as inherit-only;
 * - a directory keeps OBJECT_INHERIT-only ACEs as inherit-only ones for its files, unless NO_PROPAGATE.
 * The parent's INHERIT_ONLY flag only concerns the parent. Inherited ACEs carry INHERITED_ACE only under automatic
 * inheritance (`autoInherit`: the parent's DACL is SE_DACL_AUTO_INHERITED), as Windows marks them.
 */
export function inheritedAces(parent: Acl, directory: boolean, owner: string, group: string, autoInherit: boolean): Ace[] {
  const inherited = autoInherit ? AceFlags.INHERITED_ACE : 0;
  const out: Ace[] = [];
  for (const ace of parent.aces) {
    const f = ace.flags & ~AceFlags.INHERITED_ACE;
    const other = f & ~INHERIT_FLAGS; // the audit flags travel along
    let effective: number | undefined; // the flags of the ACE that applies to the child
    let inheritOnly: number | undefined; // the flags of an ACE kept for the child's own children
    if (!directory) {
      if (f & OI) effective = other;
    } else if (f & CI) {
      if (f & NP) effective = other;
      else if (isSidAce(ace) && needsMapping(ace)) {
        effective = other;
        inheritOnly = f | IO;
      } else effective = f & ~IO;
    } else if (f & OI && !(f & NP)) {
      inheritOnly = f | IO;
    }
    if (effective !== undefined) {
      const flags = effective | inherited;
      out.push(isSidAce(ace) ? effectiveAce(ace, flags, owner, group) : { ...ace, flags });
    }
    if (inheritOnly !== undefined) out.push({ ...ace, flags: inheritOnly | inherited });
  }
  return out;
}

/**
 * The explicit ACEs of a DACL a creator supplies, as the new object keeps them (MS-DTYP 2.5.3.4.5): effective ACEs
 * are mapped; on a directory, one that must be mapped and is also inheritable is split into the mapped effective ACE
 * and the original as inherit-only, so its children still see CREATOR OWNER and generic rights.
 */
function creatorAces(acl: Acl, directory: boolean, owner: string, group: string): Ace[] {
  const out: Ace[] = [];
  for (const ace of acl.aces) {
    if (!isSidAce(ace) || ace.flags & IO || !needsMapping(ace)) {
      out.push(ace);
    } else if (directory && ace.flags & (OI | CI)) {
      out.push(effectiveAce(ace, ace.flags & ~INHERIT_FLAGS, owner, group), { ...ace, flags: ace.flags | IO });
    } else {
      out.push(effectiveAce(ace, ace.flags, owner, group));
    }
  }
  return out;
}

/** The DACL of a token for objects that inherit nothing (MS-DTYP 2.5.3.4.2 DefaultDACL): its owner and SYSTEM, full control. */
function defaultDacl(owner: string): Acl {
  const full = (sid: string): SidAce => ({ type: AceType.ACCESS_ALLOWED, flags: 0, mask: FileAccessRights.FILE_ALL_ACCESS, sid });
  return { revision: 2, aces: [full(owner), full(WellKnownSid.LOCAL_SYSTEM)] };
}

/**
 * The descriptor of a new file (MS-DTYP 2.5.3.4.1 CreateSecurityDescriptor and 2.5.3.4.2 ComputeACL, MS-FSA
 * 2.1.5.1.2.1): owner and group from the creator (the SecD create context) where given, else the token's. The DACL:
 * - the creator's, when it gives one (not SE_DACL_DEFAULTED); under automatic inheritance, and unless the creator
 *   protects it, its explicit ACEs come first and the parent's inheritable ACEs follow;
 * - else what the parent passes on; else a DACL the creator marked SE_DACL_DEFAULTED; else the token's default DACL.
 * Automatic inheritance applies when the parent's DACL is SE_DACL_AUTO_INHERITED, and marks the new DACL so too.
 * A SACL is never kept (setting one needs a privilege no session holds).
 */
export function newFileSecurity(parent: SecurityDescriptor, creator: SecurityDescriptor | undefined, token: Token, directory: boolean): SecurityDescriptor {
  const owner = creator?.owner ?? token.user;
  const group = creator?.group ?? token.primaryGroup;
  const autoInherit = Boolean(parent.dacl) && (parent.control & SdControl.SE_DACL_AUTO_INHERITED) !== 0;
  const inherited = parent.dacl ? inheritedAces(parent.dacl, directory, owner, group, autoInherit) : [];
  const autoInherited = autoInherit ? SdControl.SE_DACL_AUTO_INHERITED : 0;
  const base = SdControl.SE_SELF_RELATIVE | SdControl.SE_DACL_PRESENT;
  const creatorControl = creator?.control ?? 0;
  if (creator && creatorControl & SdControl.SE_DACL_PRESENT && !(creatorControl & SdControl.SE_DACL_DEFAULTED)) {
    const isProtected = creatorControl & SdControl.SE_DACL_PROTECTED;
    const control = base | isProtected | autoInherited;
    if (!creator.dacl) return { control, owner, group, dacl: null };
    let aces = creatorAces(creator.dacl, directory, owner, group);
    if (autoInherit && !isProtected) aces = [...aces.filter((a) => !(a.flags & AceFlags.INHERITED_ACE)), ...inherited];
    return { control, owner, group, dacl: { revision: creator.dacl.revision, aces } };
  }
  if (inherited.length > 0) return { control: base | autoInherited, owner, group, dacl: { revision: parent.dacl?.revision ?? 2, aces: inherited } };
  if (creator && creatorControl & SdControl.SE_DACL_PRESENT && creator.dacl !== undefined) {
    return { control: base, owner, group, dacl: creator.dacl };
  }
  return { control: base, owner, group, dacl: defaultDacl(owner) };
}

/**
 * Checks a descriptor a client supplies (SecD create context or SET_INFO) against the rules of MS-FSA 2.1.5.17:
 * the owner must be one of the token's SIDs, and a SACL needs SeSecurityPrivilege (never held here).
 * Returns a status, or undefined when it may be applied.
 */
export function checkClientSecurity(sd: SecurityDescriptor, info: number, token: Token, currentOwner?: string): number | undefined {
  if (info & SecurityInformation.OWNER_SECURITY_INFORMATION && sd.owner !== undefined) {
    if (!token.sids.has(sd.owner) && sd.owner !== currentOwner) return Status.INVALID_OWNER;
  }
  if (info & SecurityInformation.SACL_SECURITY_INFORMATION && sd.sacl && sd.sacl.aces.length > 0) {
    return Status.PRIVILEGE_NOT_HELD;
  }
  return undefined;
}

/** A DACL set on a file, as it is stored: generic rights of the ACEs that apply to the file are mapped (MS-DTYP 2.5.3.4.5). */
function storedDacl(acl: Acl): Acl {
  const aces = acl.aces.map((ace) => (isSidAce(ace) && !(ace.flags & IO) && ace.mask & GENERIC_BITS ? { ...ace, mask: mapGenericRights(ace.mask) } : ace));
  return { revision: acl.revision, aces };
}

/**
 * A file's descriptor with the parts `info` selects replaced from `given` (MS-FSA 2.1.5.17): a DACL selected but
 * absent from `given` becomes a NULL DACL; an owner or group selected but absent keeps the current one. Of the DACL
 * control bits, SE_DACL_PROTECTED is kept as given; SE_DACL_AUTO_INHERITED only when the client also sets
 * SE_DACL_AUTO_INHERIT_REQ (the request itself and SE_DACL_DEFAULTED are never stored), as Windows does.
 */
export function mergeSecurity(current: SecurityDescriptor, given: SecurityDescriptor, info: number): SecurityDescriptor {
  const out: SecurityDescriptor = { ...current, control: current.control | SdControl.SE_SELF_RELATIVE };
  if (info & SecurityInformation.OWNER_SECURITY_INFORMATION && given.owner !== undefined) out.owner = given.owner;
  if (info & SecurityInformation.GROUP_SECURITY_INFORMATION && given.group !== undefined) out.group = given.group;
  if (info & SecurityInformation.DACL_SECURITY_INFORMATION) {
    const daclBits = SdControl.SE_DACL_PROTECTED | SdControl.SE_DACL_AUTO_INHERITED | SdControl.SE_DACL_DEFAULTED | SdControl.SE_DACL_AUTO_INHERIT_REQ;
    const autoInherited = SdControl.SE_DACL_AUTO_INHERITED | SdControl.SE_DACL_AUTO_INHERIT_REQ;
    out.dacl = given.control & SdControl.SE_DACL_PRESENT && given.dacl ? storedDacl(given.dacl) : null;
    out.control =
      (out.control & ~daclBits) |
      (given.control & SdControl.SE_DACL_PROTECTED) |
      ((given.control & autoInherited) === autoInherited ? SdControl.SE_DACL_AUTO_INHERITED : 0) |
      SdControl.SE_DACL_PRESENT;
  }
  if (info & SecurityInformation.SACL_SECURITY_INFORMATION) {
    if (given.control & SdControl.SE_SACL_PRESENT && given.sacl) out.sacl = given.sacl;
    else delete out.sacl;
  }
  return out;
}
