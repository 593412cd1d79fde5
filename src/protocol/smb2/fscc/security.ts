/**
 * Security descriptors as SMB2 QUERY_INFO / SET_INFO (InfoType SECURITY) carry them: the self-relative
 * SECURITY_DESCRIPTOR (MS-DTYP 2.4.6), SIDs (2.4.2), ACLs (2.4.5) and ACEs (2.4.4).
 */
import { createHash, randomBytes } from 'node:crypto';
import { WireError } from '../../../errors.js';
import { Reader } from '../../../util/reader.js';
import { Writer } from '../../../util/writer.js';
import { Status } from '../../nt-status.js';

/** AdditionalInformation bits of QUERY_INFO / SET_INFO for InfoType SECURITY (MS-SMB2 2.2.37). */
export const SecurityInformation = {
  OWNER_SECURITY_INFORMATION: 0x00000001,
  GROUP_SECURITY_INFORMATION: 0x00000002,
  DACL_SECURITY_INFORMATION: 0x00000004,
  SACL_SECURITY_INFORMATION: 0x00000008,
  LABEL_SECURITY_INFORMATION: 0x00000010,
  ATTRIBUTE_SECURITY_INFORMATION: 0x00000020,
  SCOPE_SECURITY_INFORMATION: 0x00000040,
  BACKUP_SECURITY_INFORMATION: 0x00010000,
} as const;

/** SECURITY_DESCRIPTOR Control bits (MS-DTYP 2.4.6). */
export const SdControl = {
  SE_OWNER_DEFAULTED: 0x0001,
  SE_GROUP_DEFAULTED: 0x0002,
  SE_DACL_PRESENT: 0x0004,
  SE_DACL_DEFAULTED: 0x0008,
  SE_SACL_PRESENT: 0x0010,
  SE_SACL_DEFAULTED: 0x0020,
  SE_DACL_TRUSTED: 0x0040,
  SE_SERVER_SECURITY: 0x0080,
  SE_DACL_AUTO_INHERIT_REQ: 0x0100,
  SE_SACL_AUTO_INHERIT_REQ: 0x0200,
  SE_DACL_AUTO_INHERITED: 0x0400,
  SE_SACL_AUTO_INHERITED: 0x0800,
  SE_DACL_PROTECTED: 0x1000,
  SE_SACL_PROTECTED: 0x2000,
  SE_RM_CONTROL_VALID: 0x4000,
  SE_SELF_RELATIVE: 0x8000,
} as const;

/** ACE types (MS-DTYP 2.4.4.1). Types with the mask + SID body are decoded; others are kept raw. */
export const AceType = {
  ACCESS_ALLOWED: 0x00,
  ACCESS_DENIED: 0x01,
  SYSTEM_AUDIT: 0x02,
  SYSTEM_ALARM: 0x03,
  ACCESS_ALLOWED_COMPOUND: 0x04,
  ACCESS_ALLOWED_OBJECT: 0x05,
  ACCESS_DENIED_OBJECT: 0x06,
  SYSTEM_AUDIT_OBJECT: 0x07,
  SYSTEM_ALARM_OBJECT: 0x08,
  ACCESS_ALLOWED_CALLBACK: 0x09,
  ACCESS_DENIED_CALLBACK: 0x0a,
  SYSTEM_MANDATORY_LABEL: 0x11,
  SYSTEM_RESOURCE_ATTRIBUTE: 0x12,
  SYSTEM_SCOPED_POLICY_ID: 0x13,
} as const;

/** ACE flags (MS-DTYP 2.4.4.1). */
export const AceFlags = {
  OBJECT_INHERIT_ACE: 0x01,
  CONTAINER_INHERIT_ACE: 0x02,
  NO_PROPAGATE_INHERIT_ACE: 0x04,
  INHERIT_ONLY_ACE: 0x08,
  INHERITED_ACE: 0x10,
  SUCCESSFUL_ACCESS_ACE_FLAG: 0x40,
  FAILED_ACCESS_ACE_FLAG: 0x80,
} as const;

/** Common file access masks (MS-SMB2 2.2.13.1.1 bits combined as Windows shows them). */
export const FileAccessRights = {
  FILE_ALL_ACCESS: 0x001f01ff,
  /** "Modify": read, write, execute, delete. */
  FILE_MODIFY: 0x001301bf,
  /** "Read & execute". */
  FILE_READ_EXECUTE: 0x001200a9,
  FILE_GENERIC_READ: 0x00120089,
  FILE_GENERIC_WRITE: 0x00120116,
} as const;

export const WellKnownSid = {
  NULL: 'S-1-0-0',
  EVERYONE: 'S-1-1-0',
  CREATOR_OWNER: 'S-1-3-0',
  CREATOR_GROUP: 'S-1-3-1',
  NETWORK: 'S-1-5-2',
  ANONYMOUS: 'S-1-5-7',
  AUTHENTICATED_USERS: 'S-1-5-11',
  LOCAL_SYSTEM: 'S-1-5-18',
  LOCAL_SERVICE: 'S-1-5-19',
  NETWORK_SERVICE: 'S-1-5-20',
  BUILTIN_ADMINISTRATORS: 'S-1-5-32-544',
  BUILTIN_USERS: 'S-1-5-32-545',
  BUILTIN_GUESTS: 'S-1-5-32-546',
} as const;

/** Well-known RIDs under a domain SID (MS-DTYP 2.4.2.4). */
export const WellKnownRid = {
  ADMINISTRATOR: 500,
  GUEST: 501,
  DOMAIN_ADMINS: 512,
  DOMAIN_USERS: 513,
  DOMAIN_GUESTS: 514,
} as const;

const MAX_SUB_AUTHORITIES = 15;

// --- SID ------------------------------------------------------------------------------------------------

/** Parses the string form S-1-IdentifierAuthority-SubAuthority... (MS-DTYP 2.4.2.1). Throws TypeError. */
export function parseSid(text: string): { revision: number; authority: bigint; subAuthorities: number[] } {
  const m = /^S-(\d+)-(0x[0-9a-f]{12}|\d+)((?:-\d+)*)$/i.exec(text);
  if (!m) throw new TypeError(`not a SID: ${text}`);
  const revision = Number(m[1]);
  const authority = BigInt(m[2]!);
  const subs = m[3] ? m[3].slice(1).split('-').map(Number) : [];
  if (revision !== 1) throw new TypeError(`SID revision must be 1: ${text}`);
  if (authority >= 1n << 48n) throw new TypeError(`SID authority too large: ${text}`);
  if (subs.length > MAX_SUB_AUTHORITIES) throw new TypeError(`too many SID sub-authorities: ${text}`);
  for (const s of subs) if (!(s >= 0 && s <= 0xffffffff)) throw new TypeError(`SID sub-authority out of range: ${text}`);
  return { revision, authority, subAuthorities: subs };
}

export function isValidSid(text: string): boolean {
  try {
    parseSid(text);
    return true;
  } catch {
    return false;
  }
}

export function sidByteLength(text: string): number {
  return 8 + 4 * parseSid(text).subAuthorities.length;
}

/** Writes the binary SID (MS-DTYP 2.4.2.2): Revision, SubAuthorityCount, 6-byte big-endian authority, u32 LE subs. */
export function encodeSid(w: Writer, text: string): void {
  const { revision, authority, subAuthorities } = parseSid(text);
  w.u8(revision).u8(subAuthorities.length);
  w.u16be(Number(authority >> 32n)).u32be(Number(authority & 0xffffffffn));
  for (const s of subAuthorities) w.u32(s);
}

export function sidToBytes(text: string): Buffer {
  const w = new Writer(68);
  encodeSid(w, text);
  return Buffer.from(w.finish());
}

/** Reads a binary SID into its string form; authorities of 2^32 and more print as 0x-hex (MS-DTYP 2.4.2.1). */
export function decodeSid(r: Reader): string {
  const revision = r.u8();
  const count = r.u8();
  if (revision !== 1) throw new WireError(`bad SID revision ${revision}`, Status.INVALID_SID);
  if (count > MAX_SUB_AUTHORITIES) throw new WireError('too many SID sub-authorities', Status.INVALID_SID);
  const authority = (BigInt(r.u16be()) << 32n) | BigInt(r.u32be());
  const auth = authority >= 1n << 32n ? `0x${authority.toString(16).toUpperCase().padStart(12, '0')}` : authority.toString();
  let s = `S-1-${auth}`;
  for (let i = 0; i < count; i++) s += `-${r.u32()}`;
  return s;
}

export function sidFromBytes(buf: Buffer): string {
  return decodeSid(new Reader(buf));
}

/** A machine (or domain) SID S-1-5-21-x-y-z: random, or derived from a seed so a server keeps it across restarts. */
export function machineDomainSid(seed?: string): string {
  const bytes = seed === undefined ? randomBytes(12) : createHash('sha256').update(seed).digest().subarray(0, 12);
  return `S-1-5-21-${bytes.readUInt32LE(0)}-${bytes.readUInt32LE(4)}-${bytes.readUInt32LE(8)}`;
}

/** The SID of an account or group `rid` inside a domain SID. */
export function sidWithRid(domainSid: string, rid: number): string {
  return `${domainSid}-${rid >>> 0}`;
}

// --- ACE / ACL ------------------------------------------------------------------------------------------

/** An ACE whose body is Mask + SID (allowed, denied, audit, alarm, mandatory label). */
export interface SidAce {
  type: number;
  flags: number;
  mask: number;
  sid: string;
}

/** Any other ACE type, kept as its body bytes (after the 4-byte header) so it survives a round trip. */
export interface RawAce {
  type: number;
  flags: number;
  raw: Buffer;
}

export type Ace = SidAce | RawAce;

export interface Acl {
  /** ACL_REVISION 2, or ACL_REVISION_DS 4 when object ACEs are present. */
  revision: number;
  aces: Ace[];
}

const SID_ACE_TYPES = new Set<number>([
  AceType.ACCESS_ALLOWED,
  AceType.ACCESS_DENIED,
  AceType.SYSTEM_AUDIT,
  AceType.SYSTEM_ALARM,
  AceType.SYSTEM_MANDATORY_LABEL,
  AceType.SYSTEM_SCOPED_POLICY_ID,
]);

export function isSidAce(a: Ace): a is SidAce {
  return 'sid' in a;
}

export function encodeAce(w: Writer, ace: Ace): void {
  const sizeAt = w.pos + 2;
  const start = w.pos;
  w.u8(ace.type).u8(ace.flags).u16(0);
  if (isSidAce(ace)) {
    w.u32(ace.mask);
    encodeSid(w, ace.sid);
  } else {
    w.bytes(ace.raw);
    w.zeros((4 - ((w.pos - start) % 4)) % 4);
  }
  w.patchU16(sizeAt, w.pos - start);
}

/** Reads one ACE; the reader is advanced by AceSize. */
export function decodeAce(r: Reader): Ace {
  const start = r.pos;
  const type = r.u8();
  const flags = r.u8();
  const size = r.u16();
  if (size < 4) throw new WireError('AceSize too small', Status.INVALID_PARAMETER);
  r.pos = start;
  const body = r.sub(size);
  body.skip(4);
  if (SID_ACE_TYPES.has(type)) {
    const mask = body.u32();
    const sid = decodeSid(body);
    return { type, flags, mask, sid };
  }
  return { type, flags, raw: Buffer.from(body.bytes(body.remaining)) };
}

export function encodeAcl(w: Writer, acl: Acl): void {
  const start = w.pos;
  w.u8(acl.revision).u8(0);
  const sizeAt = w.reserveU16();
  w.u16(acl.aces.length).u16(0);
  for (const ace of acl.aces) encodeAce(w, ace);
  w.patchU16(sizeAt, w.pos - start);
}

export function decodeAcl(r: Reader): Acl {
  const start = r.pos;
  const revision = r.u8();
  r.skip(1);
  const size = r.u16();
  const count = r.u16();
  r.skip(2);
  if (size < 8) throw new WireError('AclSize too small', Status.INVALID_PARAMETER);
  r.pos = start;
  const body = r.sub(size);
  body.skip(8);
  // Each ACE takes at least 4 bytes, so the count is bounded by AclSize before anything is allocated.
  if (count * 4 > body.remaining) throw new WireError('AceCount exceeds AclSize', Status.INVALID_PARAMETER);
  const aces: Ace[] = [];
  for (let i = 0; i < count; i++) aces.push(decodeAce(body));
  return { revision, aces };
}

// --- SECURITY_DESCRIPTOR ---------------------------------------------------------------------------------

export interface SecurityDescriptor {
  control: number;
  owner?: string;
  group?: string;
  /** Present with `null` = a NULL DACL (SE_DACL_PRESENT with no ACL: everyone has full access). */
  dacl?: Acl | null;
  sacl?: Acl | null;
}

export const ALL_SECURITY_INFORMATION =
  SecurityInformation.OWNER_SECURITY_INFORMATION |
  SecurityInformation.GROUP_SECURITY_INFORMATION |
  SecurityInformation.DACL_SECURITY_INFORMATION |
  SecurityInformation.SACL_SECURITY_INFORMATION;

/**
 * Writes a self-relative SECURITY_DESCRIPTOR with only the parts `additionalInformation` selects
 * (OWNER 1, GROUP 2, DACL 4, SACL 8). Offsets count from the descriptor's start.
 */
export function encodeSecurityDescriptor(
  w: Writer,
  sd: SecurityDescriptor,
  additionalInformation: number = ALL_SECURITY_INFORMATION,
): void {
  const start = w.pos;
  const wantOwner = (additionalInformation & SecurityInformation.OWNER_SECURITY_INFORMATION) !== 0 && sd.owner !== undefined;
  const wantGroup = (additionalInformation & SecurityInformation.GROUP_SECURITY_INFORMATION) !== 0 && sd.group !== undefined;
  const wantDacl = (additionalInformation & SecurityInformation.DACL_SECURITY_INFORMATION) !== 0 && sd.dacl !== undefined;
  const wantSacl = (additionalInformation & SecurityInformation.SACL_SECURITY_INFORMATION) !== 0 && sd.sacl !== undefined;
  let control = sd.control & ~(SdControl.SE_DACL_PRESENT | SdControl.SE_SACL_PRESENT);
  if (!wantDacl) control &= ~(SdControl.SE_DACL_DEFAULTED | SdControl.SE_DACL_AUTO_INHERITED | SdControl.SE_DACL_PROTECTED);
  if (!wantSacl) control &= ~(SdControl.SE_SACL_DEFAULTED | SdControl.SE_SACL_AUTO_INHERITED | SdControl.SE_SACL_PROTECTED);
  control |= SdControl.SE_SELF_RELATIVE;
  if (wantDacl) control |= SdControl.SE_DACL_PRESENT;
  if (wantSacl) control |= SdControl.SE_SACL_PRESENT;
  w.u8(1).u8(0).u16(control);
  const ownerAt = w.reserveU32();
  const groupAt = w.reserveU32();
  const saclAt = w.reserveU32();
  const daclAt = w.reserveU32();
  // Windows' order: SACL, DACL, owner, group.
  if (wantSacl && sd.sacl) {
    w.patchU32(saclAt, w.pos - start);
    encodeAcl(w, sd.sacl);
  }
  if (wantDacl && sd.dacl) {
    w.patchU32(daclAt, w.pos - start);
    encodeAcl(w, sd.dacl);
  }
  if (wantOwner && sd.owner !== undefined) {
    w.patchU32(ownerAt, w.pos - start);
    encodeSid(w, sd.owner);
  }
  if (wantGroup && sd.group !== undefined) {
    w.patchU32(groupAt, w.pos - start);
    encodeSid(w, sd.group);
  }
}

export function securityDescriptorToBytes(sd: SecurityDescriptor, additionalInformation?: number): Buffer {
  const w = new Writer(256);
  encodeSecurityDescriptor(w, sd, additionalInformation);
  return Buffer.from(w.finish());
}

/** Parses a self-relative SECURITY_DESCRIPTOR occupying `buf` (offsets count from buf's start). */
export function decodeSecurityDescriptor(buf: Buffer): SecurityDescriptor {
  const r = new Reader(buf);
  const revision = r.u8();
  if (revision !== 1) throw new WireError(`bad security descriptor revision ${revision}`, Status.INVALID_PARAMETER);
  r.skip(1);
  const control = r.u16();
  if (!(control & SdControl.SE_SELF_RELATIVE)) {
    throw new WireError('security descriptor is not self-relative', Status.INVALID_PARAMETER);
  }
  const ownerOff = r.u32();
  const groupOff = r.u32();
  const saclOff = r.u32();
  const daclOff = r.u32();
  const at = (off: number): Reader => {
    if (off < 20 || off >= buf.length) throw new WireError('security descriptor offset outside the buffer', Status.INVALID_PARAMETER);
    return new Reader(buf, off);
  };
  const sd: SecurityDescriptor = { control };
  if (ownerOff) sd.owner = decodeSid(at(ownerOff));
  if (groupOff) sd.group = decodeSid(at(groupOff));
  if (control & SdControl.SE_SACL_PRESENT) sd.sacl = saclOff ? decodeAcl(at(saclOff)) : null;
  if (control & SdControl.SE_DACL_PRESENT) sd.dacl = daclOff ? decodeAcl(at(daclOff)) : null;
  return sd;
}

export interface DefaultSdOptions {
  ownerSid: string;
  groupSid: string;
  directory: boolean;
  /** Everyone gets Modify when true (a writable share), Read & execute otherwise. Default true. */
  writable?: boolean;
}

/**
 * A plain descriptor for files the store has no ACLs for: owner, SYSTEM and Administrators full control,
 * Everyone modify (or read/execute on a read-only share). Directory ACEs are inheritable.
 */
export function defaultSecurityDescriptor(o: DefaultSdOptions): SecurityDescriptor {
  const flags = o.directory ? AceFlags.OBJECT_INHERIT_ACE | AceFlags.CONTAINER_INHERIT_ACE : 0;
  const everyone = o.writable === false ? FileAccessRights.FILE_READ_EXECUTE : FileAccessRights.FILE_MODIFY;
  const allow = (sid: string, mask: number): SidAce => ({ type: AceType.ACCESS_ALLOWED, flags, mask, sid });
  return {
    control: SdControl.SE_SELF_RELATIVE | SdControl.SE_DACL_PRESENT,
    owner: o.ownerSid,
    group: o.groupSid,
    dacl: {
      revision: 2,
      aces: [
        allow(o.ownerSid, FileAccessRights.FILE_ALL_ACCESS),
        allow(WellKnownSid.LOCAL_SYSTEM, FileAccessRights.FILE_ALL_ACCESS),
        allow(WellKnownSid.BUILTIN_ADMINISTRATORS, FileAccessRights.FILE_ALL_ACCESS),
        allow(WellKnownSid.EVERYONE, everyone),
      ],
    },
  };
}
