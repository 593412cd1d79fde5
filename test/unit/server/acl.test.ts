import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Status } from '../../../src/protocol/nt-status.js';
import { AccessMask, Command, CreateDisposition, CreateOptions, InfoType } from '../../../src/protocol/smb2/constants.js';
import { decodeCreateResponse, encodeCreateRequest } from '../../../src/protocol/smb2/commands/create.js';
import type { FileId } from '../../../src/protocol/smb2/commands/file-id.js';
import { decodeQueryInfoResponse, encodeQueryInfoRequest } from '../../../src/protocol/smb2/commands/query-info.js';
import { encodeSetInfoRequest } from '../../../src/protocol/smb2/commands/set-info.js';
import {
  CreateContextName,
  decodeMaximalAccessResponse,
  encodeMaximalAccessRequest,
  findCreateContext,
  type CreateContext,
} from '../../../src/protocol/smb2/contexts/create-contexts.js';
import {
  AceFlags,
  AceType,
  decodeSecurityDescriptor,
  SdControl,
  SecurityInformation,
  securityDescriptorToBytes,
  WellKnownSid,
  type SecurityDescriptor,
  type SidAce,
} from '../../../src/protocol/smb2/fscc/security.js';
import {
  allowedAccess,
  checkClientSecurity,
  inheritedAces,
  mergeSecurity,
  newFileSecurity,
  tokenFor,
} from '../../../src/server/acl.js';
import { RawClient, startTestServer } from '../../support/raw-client.js';

const DOMAIN = 'S-1-5-21-1-2-3';
const u1 = tokenFor({ user: 'u1', guest: false, anonymous: false }, DOMAIN);
const u2 = tokenFor({ user: 'u2', guest: false, anonymous: false }, DOMAIN);
const allow = (sid: string, mask: number, flags = 0): SidAce => ({ type: AceType.ACCESS_ALLOWED, flags, mask, sid });
const deny = (sid: string, mask: number, flags = 0): SidAce => ({ type: AceType.ACCESS_DENIED, flags, mask, sid });
const sdWith = (owner: string, aces: SidAce[] | null): SecurityDescriptor => ({
  control: SdControl.SE_SELF_RELATIVE | SdControl.SE_DACL_PRESENT,
  owner,
  group: WellKnownSid.BUILTIN_USERS,
  dacl: aces === null ? null : { revision: 2, aces },
});

test('tokens: a stable user SID per name, the groups by kind of logon', () => {
  assert.equal(u1.user, tokenFor({ user: 'U1', guest: false, anonymous: false }, DOMAIN).user);
  assert.notEqual(u1.user, u2.user);
  assert.ok(u1.user.startsWith(`${DOMAIN}-`));
  for (const sid of [WellKnownSid.EVERYONE, WellKnownSid.AUTHENTICATED_USERS, WellKnownSid.BUILTIN_USERS]) assert.ok(u1.sids.has(sid));
  const guest = tokenFor({ user: 'x', guest: true, anonymous: false }, DOMAIN);
  assert.equal(guest.user, `${DOMAIN}-501`);
  assert.ok(guest.sids.has(WellKnownSid.BUILTIN_GUESTS));
  assert.ok(!guest.sids.has(WellKnownSid.AUTHENTICATED_USERS));
  const anon = tokenFor({ user: '', guest: false, anonymous: true }, DOMAIN);
  assert.equal(anon.user, WellKnownSid.ANONYMOUS);
  assert.ok(!anon.sids.has(WellKnownSid.AUTHENTICATED_USERS));
});

test('access check: NULL DACL, empty DACL, ACE order, owner rights, inherit-only and generic rights', () => {
  assert.equal(allowedAccess(sdWith(u2.user, null), u1), 0x001f01ff);
  assert.equal(allowedAccess({ control: SdControl.SE_SELF_RELATIVE, owner: u2.user }, u1), 0x001f01ff);
  // An empty DACL grants nothing, but the owner may still read and change it.
  assert.equal(allowedAccess(sdWith(u2.user, []), u1), 0);
  assert.equal(allowedAccess(sdWith(u1.user, []), u1), AccessMask.READ_CONTROL | AccessMask.WRITE_DAC);
  // The first ACE naming a right decides it.
  const mixed = sdWith(u2.user, [deny(WellKnownSid.EVERYONE, AccessMask.DELETE), allow(u1.user, 0x001f01ff)]);
  assert.equal(allowedAccess(mixed, u1), 0x001f01ff & ~AccessMask.DELETE);
  const allowFirst = sdWith(u2.user, [allow(u1.user, AccessMask.DELETE), deny(WellKnownSid.EVERYONE, 0x001f01ff)]);
  assert.equal(allowedAccess(allowFirst, u1), AccessMask.DELETE);
  // OWNER RIGHTS replaces the implicit owner rights.
  assert.equal(allowedAccess(sdWith(u1.user, [allow('S-1-3-4', AccessMask.FILE_READ_DATA)]), u1), AccessMask.FILE_READ_DATA);
  assert.equal(allowedAccess(sdWith(u2.user, [allow(u1.user, AccessMask.FILE_READ_DATA, AceFlags.INHERIT_ONLY_ACE)]), u1), 0);
  assert.equal(allowedAccess(sdWith(u2.user, [allow(WellKnownSid.AUTHENTICATED_USERS, AccessMask.GENERIC_READ)]), u1), 0x00120089);
  assert.equal(allowedAccess(sdWith(u2.user, [allow(u2.user, 0x001f01ff)]), u1), 0);
});

const OI = AceFlags.OBJECT_INHERIT_ACE;
const CI = AceFlags.CONTAINER_INHERIT_ACE;
const IO = AceFlags.INHERIT_ONLY_ACE;
const NP = AceFlags.NO_PROPAGATE_INHERIT_ACE;
const I = AceFlags.INHERITED_ACE;
const WRITE_DATA = AccessMask.FILE_WRITE_DATA;

test('inheritance (MS-DTYP 2.5.3.4.4): each combination of parent flags, for a file and for a directory', () => {
  // One CREATOR OWNER ACE with the parent's flags, as smbtorture smb2.acls.INHERITANCE sets it, and what the new
  // file and the new directory inherit (nothing: newFileSecurity then gives the default DACL).
  const cases: { parent: number; file: SidAce[]; dir: SidAce[] }[] = [
    { parent: 0, file: [], dir: [] },
    { parent: OI, file: [allow(u1.user, WRITE_DATA)], dir: [allow(WellKnownSid.CREATOR_OWNER, WRITE_DATA, OI | IO)] },
    { parent: CI, file: [], dir: [allow(u1.user, WRITE_DATA), allow(WellKnownSid.CREATOR_OWNER, WRITE_DATA, CI | IO)] },
    { parent: OI | CI, file: [allow(u1.user, WRITE_DATA)], dir: [allow(u1.user, WRITE_DATA), allow(WellKnownSid.CREATOR_OWNER, WRITE_DATA, OI | CI | IO)] },
    { parent: NP, file: [], dir: [] },
    { parent: NP | OI, file: [allow(u1.user, WRITE_DATA)], dir: [] },
    { parent: NP | CI, file: [], dir: [allow(u1.user, WRITE_DATA)] },
    { parent: NP | OI | CI, file: [allow(u1.user, WRITE_DATA)], dir: [allow(u1.user, WRITE_DATA)] },
    { parent: IO, file: [], dir: [] },
    { parent: IO | OI, file: [allow(u1.user, WRITE_DATA)], dir: [allow(WellKnownSid.CREATOR_OWNER, WRITE_DATA, OI | IO)] },
    { parent: IO | CI, file: [], dir: [allow(u1.user, WRITE_DATA), allow(WellKnownSid.CREATOR_OWNER, WRITE_DATA, CI | IO)] },
    { parent: IO | OI | CI, file: [allow(u1.user, WRITE_DATA)], dir: [allow(u1.user, WRITE_DATA), allow(WellKnownSid.CREATOR_OWNER, WRITE_DATA, OI | CI | IO)] },
    { parent: IO | NP | OI | CI, file: [allow(u1.user, WRITE_DATA)], dir: [allow(u1.user, WRITE_DATA)] },
  ];
  for (const c of cases) {
    const parent = { revision: 2, aces: [allow(WellKnownSid.CREATOR_OWNER, WRITE_DATA, c.parent), allow(WellKnownSid.EVERYONE, 0x001f01ff)] };
    assert.deepEqual(inheritedAces(parent, false, u1.user, u1.primaryGroup, false), c.file, `file, parent flags ${c.parent}`);
    assert.deepEqual(inheritedAces(parent, true, u1.user, u1.primaryGroup, false), c.dir, `directory, parent flags ${c.parent}`);
    // Under automatic inheritance every inherited ACE is marked so, and nothing else changes.
    const marked = (aces: SidAce[]): SidAce[] => aces.map((a) => ({ ...a, flags: a.flags | I }));
    assert.deepEqual(inheritedAces(parent, false, u1.user, u1.primaryGroup, true), marked(c.file));
    assert.deepEqual(inheritedAces(parent, true, u1.user, u1.primaryGroup, true), marked(c.dir));
  }
});

test('inheritance: generic rights are mapped where an ACE takes effect, plain inheritable ACEs stay one ACE', () => {
  const parent = {
    revision: 2,
    aces: [
      allow(WellKnownSid.EVERYONE, AccessMask.GENERIC_READ, OI | CI),
      allow(WellKnownSid.CREATOR_GROUP, AccessMask.FILE_READ_DATA, CI),
      deny(WellKnownSid.EVERYONE, AccessMask.DELETE, OI | CI | I),
    ],
  };
  assert.deepEqual(inheritedAces(parent, false, u1.user, u1.primaryGroup, false), [
    allow(WellKnownSid.EVERYONE, 0x00120089),
    deny(WellKnownSid.EVERYONE, AccessMask.DELETE),
  ]);
  assert.deepEqual(inheritedAces(parent, true, u1.user, u1.primaryGroup, false), [
    allow(WellKnownSid.EVERYONE, 0x00120089),
    allow(WellKnownSid.EVERYONE, AccessMask.GENERIC_READ, OI | CI | IO),
    allow(u1.primaryGroup, AccessMask.FILE_READ_DATA),
    allow(WellKnownSid.CREATOR_GROUP, AccessMask.FILE_READ_DATA, CI | IO),
    deny(WellKnownSid.EVERYONE, AccessMask.DELETE, OI | CI),
  ]);
});

test('a new file: inherited DACL, auto-inheritance, the default DACL', () => {
  const parent = sdWith(u2.user, [allow(WellKnownSid.EVERYONE, 0x1e01bf, OI), allow(u2.user, 0x001f01ff)]);
  const inherited = newFileSecurity(parent, undefined, u1, false);
  assert.equal(inherited.owner, u1.user);
  assert.equal(inherited.group, u1.primaryGroup);
  assert.equal(inherited.control, SdControl.SE_SELF_RELATIVE | SdControl.SE_DACL_PRESENT);
  assert.deepEqual(inherited.dacl?.aces, [allow(WellKnownSid.EVERYONE, 0x1e01bf)]);
  // A parent whose DACL is auto-inherited passes that on, and its ACEs come marked as inherited.
  const auto = newFileSecurity({ ...parent, control: parent.control | SdControl.SE_DACL_AUTO_INHERITED }, undefined, u1, false);
  assert.equal(auto.control, SdControl.SE_SELF_RELATIVE | SdControl.SE_DACL_PRESENT | SdControl.SE_DACL_AUTO_INHERITED);
  assert.deepEqual(auto.dacl?.aces, [allow(WellKnownSid.EVERYONE, 0x1e01bf, I)]);
  // A directory keeps an OBJECT_INHERIT-only ACE for its files; with nothing inheritable, the token's default DACL.
  const dflt = newFileSecurity(parent, undefined, u1, true);
  assert.deepEqual(dflt.dacl?.aces, [allow(WellKnownSid.EVERYONE, 0x1e01bf, OI | IO)]);
  const none = newFileSecurity(sdWith(u2.user, [allow(u2.user, 0x001f01ff)]), undefined, u1, true);
  assert.deepEqual(none.dacl?.aces, [allow(u1.user, 0x001f01ff), allow(WellKnownSid.LOCAL_SYSTEM, 0x001f01ff)]);
  assert.equal(allowedAccess(none, u1), 0x001f01ff);
});

test('a new file with a SecD descriptor: the creator parts win, merged with inheritance as Windows does', () => {
  const parent = sdWith(u2.user, [allow(WellKnownSid.EVERYONE, 0x1e01bf, OI)]);
  // No DACL given (or a defaulted one): inherited.
  const empty = newFileSecurity(parent, { control: SdControl.SE_SELF_RELATIVE }, u1, false);
  assert.deepEqual(empty.dacl?.aces, [allow(WellKnownSid.EVERYONE, 0x1e01bf)]);
  const defaulted = newFileSecurity(parent, { control: SdControl.SE_SELF_RELATIVE | SdControl.SE_DACL_PRESENT | SdControl.SE_DACL_DEFAULTED, dacl: { revision: 2, aces: [] } }, u1, false);
  assert.deepEqual(defaulted.dacl?.aces, [allow(WellKnownSid.EVERYONE, 0x1e01bf)]);
  // A NULL DACL and the creator's owner are kept.
  const nullDacl = newFileSecurity(parent, { control: SdControl.SE_SELF_RELATIVE | SdControl.SE_DACL_PRESENT, dacl: null, owner: WellKnownSid.EVERYONE }, u1, false);
  assert.equal(nullDacl.dacl, null);
  assert.equal(nullDacl.owner, WellKnownSid.EVERYONE);
  // A given DACL without automatic inheritance: as given, its effective ACEs mapped; a directory splits an
  // inheritable CREATOR OWNER ACE into the effective one and the inherit-only original.
  const given = {
    control: SdControl.SE_SELF_RELATIVE | SdControl.SE_DACL_PRESENT,
    dacl: { revision: 2, aces: [allow(WellKnownSid.CREATOR_OWNER, AccessMask.GENERIC_ALL, OI | CI), allow(WellKnownSid.EVERYONE, AccessMask.GENERIC_READ, IO | OI)] },
  };
  assert.deepEqual(newFileSecurity(parent, given, u1, true).dacl?.aces, [
    allow(u1.user, 0x001f01ff),
    allow(WellKnownSid.CREATOR_OWNER, AccessMask.GENERIC_ALL, OI | CI | IO),
    allow(WellKnownSid.EVERYONE, AccessMask.GENERIC_READ, IO | OI),
  ]);
  assert.deepEqual(newFileSecurity(parent, given, u1, false).dacl?.aces, [
    allow(u1.user, 0x001f01ff, OI | CI),
    allow(WellKnownSid.EVERYONE, AccessMask.GENERIC_READ, IO | OI),
  ]);
  // Under automatic inheritance the explicit ACEs come first, the parent's follow, stale inherited ones go.
  const autoParent = { ...parent, control: parent.control | SdControl.SE_DACL_AUTO_INHERITED };
  const explicit = { control: SdControl.SE_SELF_RELATIVE | SdControl.SE_DACL_PRESENT, dacl: { revision: 2, aces: [allow(u1.user, 1), allow(u2.user, 2, I)] } };
  const merged = newFileSecurity(autoParent, explicit, u1, false);
  assert.equal(merged.control, SdControl.SE_SELF_RELATIVE | SdControl.SE_DACL_PRESENT | SdControl.SE_DACL_AUTO_INHERITED);
  assert.deepEqual(merged.dacl?.aces, [allow(u1.user, 1), allow(WellKnownSid.EVERYONE, 0x1e01bf, I)]);
  // A protected DACL inherits nothing.
  const prot = newFileSecurity(autoParent, { ...explicit, control: explicit.control | SdControl.SE_DACL_PROTECTED }, u1, false);
  assert.equal(prot.control & SdControl.SE_DACL_PROTECTED, SdControl.SE_DACL_PROTECTED);
  assert.deepEqual(prot.dacl?.aces, explicit.dacl.aces);
});

test('client descriptors: owners outside the token and SACLs are refused; merging replaces the selected parts', () => {
  const info = SecurityInformation.OWNER_SECURITY_INFORMATION | SecurityInformation.SACL_SECURITY_INFORMATION;
  assert.equal(checkClientSecurity(sdWith(u2.user, []), info, u1), Status.INVALID_OWNER);
  assert.equal(checkClientSecurity(sdWith(u2.user, []), info, u1, u2.user), undefined);
  assert.equal(checkClientSecurity(sdWith(WellKnownSid.EVERYONE, []), info, u1), undefined);
  const withSacl = { ...sdWith(u1.user, []), sacl: { revision: 2, aces: [{ type: AceType.SYSTEM_AUDIT, flags: 0x40, mask: 1, sid: WellKnownSid.EVERYONE }] } };
  assert.equal(checkClientSecurity(withSacl, info, u1), Status.PRIVILEGE_NOT_HELD);
  const current = sdWith(u1.user, [allow(u1.user, 1)]);
  const noDacl = mergeSecurity(current, { control: SdControl.SE_SELF_RELATIVE, owner: u2.user }, SecurityInformation.DACL_SECURITY_INFORMATION);
  assert.equal(noDacl.dacl, null);
  assert.equal(noDacl.owner, u1.user);
  const owner = mergeSecurity(current, { control: SdControl.SE_SELF_RELATIVE, owner: u2.user }, SecurityInformation.OWNER_SECURITY_INFORMATION);
  assert.equal(owner.owner, u2.user);
  assert.deepEqual(owner.dacl, current.dacl);
});

test('setting a DACL: generic rights of effective ACEs mapped; of the control bits, PROTECTED kept, AUTO_INHERITED only with its request', () => {
  const DACL = SecurityInformation.DACL_SECURITY_INFORMATION;
  const current = { ...sdWith(u1.user, [allow(u1.user, 1)]), control: SdControl.SE_SELF_RELATIVE | SdControl.SE_DACL_PRESENT | SdControl.SE_DACL_PROTECTED };
  const aces = [allow(u1.user, AccessMask.GENERIC_READ | AccessMask.DELETE, OI | I), allow(u2.user, AccessMask.GENERIC_ALL, OI | IO)];
  const given = (control: number): SecurityDescriptor => ({ control: SdControl.SE_SELF_RELATIVE | SdControl.SE_DACL_PRESENT | control, dacl: { revision: 2, aces } });
  const set = mergeSecurity(current, given(0), DACL);
  assert.deepEqual(set.dacl?.aces, [allow(u1.user, 0x00130089, OI | I), allow(u2.user, AccessMask.GENERIC_ALL, OI | IO)]);
  assert.equal(set.control, SdControl.SE_SELF_RELATIVE | SdControl.SE_DACL_PRESENT);
  const base = SdControl.SE_SELF_RELATIVE | SdControl.SE_DACL_PRESENT;
  const { SE_DACL_AUTO_INHERITED: AI, SE_DACL_AUTO_INHERIT_REQ: REQ, SE_DACL_PROTECTED: P, SE_DACL_DEFAULTED: D } = SdControl;
  assert.equal(mergeSecurity(current, given(AI), DACL).control, base);
  assert.equal(mergeSecurity(current, given(REQ), DACL).control, base);
  assert.equal(mergeSecurity(current, given(AI | REQ), DACL).control, base | AI);
  assert.equal(mergeSecurity(current, given(AI | REQ | P | D), DACL).control, base | AI | P);
  // Changing only the owner leaves the DACL's control bits alone (smbtorture smb2.acls.SDFLAGSVSCHOWN).
  const protectedAuto = mergeSecurity(current, given(AI | REQ | P), DACL);
  const chowned = mergeSecurity(protectedAuto, { control: SdControl.SE_SELF_RELATIVE, owner: WellKnownSid.EVERYONE }, SecurityInformation.OWNER_SECURITY_INFORMATION);
  assert.equal(chowned.control, protectedAuto.control);
});

// ---- over the wire ----

async function createWith(
  c: RawClient,
  name: string,
  o: { desiredAccess: number; createDisposition: number; createOptions?: number; sd?: SecurityDescriptor; mxac?: boolean },
): Promise<{ status: number; fileId: FileId; maximal: number | undefined }> {
  const req = RawClient.createRequest(name, { desiredAccess: o.desiredAccess, createDisposition: o.createDisposition, createOptions: o.createOptions ?? 0 });
  const contexts: CreateContext[] = [];
  if (o.sd) contexts.push({ name: CreateContextName.SD_BUFFER, data: securityDescriptorToBytes(o.sd) });
  if (o.mxac) contexts.push({ name: CreateContextName.QUERY_MAXIMAL_ACCESS, data: encodeMaximalAccessRequest({}) });
  req.createContexts = contexts;
  const res = await c.request(Command.CREATE, (w) => encodeCreateRequest(w, req));
  if (res.status !== Status.SUCCESS) return { status: res.status, fileId: { persistent: 0n, volatile: 0n }, maximal: undefined };
  const create = decodeCreateResponse(res.body);
  const mx = findCreateContext(create.createContexts, CreateContextName.QUERY_MAXIMAL_ACCESS);
  return { status: res.status, fileId: create.fileId, maximal: mx ? decodeMaximalAccessResponse(mx.data).maximalAccess : undefined };
}

async function querySecurity(c: RawClient, fileId: FileId, info: number): Promise<{ status: number; sd: SecurityDescriptor | undefined }> {
  const res = await c.request(Command.QUERY_INFO, (w) =>
    encodeQueryInfoRequest(w, { infoType: InfoType.SECURITY, fileInfoClass: 0, outputBufferLength: 4096, additionalInformation: info, flags: 0, fileId, inputBuffer: Buffer.alloc(0) }),
  );
  if (res.status !== Status.SUCCESS) return { status: res.status, sd: undefined };
  return { status: res.status, sd: decodeSecurityDescriptor(Buffer.from(decodeQueryInfoResponse(res.body).outputBuffer)) };
}

async function setSecurity(c: RawClient, fileId: FileId, info: number, sd: SecurityDescriptor): Promise<number> {
  const res = await c.request(Command.SET_INFO, (w) =>
    encodeSetInfoRequest(w, { infoType: InfoType.SECURITY, fileInfoClass: 0, additionalInformation: info, fileId, buffer: securityDescriptorToBytes(sd) }),
  );
  return res.status;
}

test('over SMB2: descriptors are stored, inherited and enforced; FILE_DELETE_CHILD of the parent grants DELETE', async () => {
  const srv = await startTestServer();
  try {
    const c = await srv.login();
    const OWNER_DACL = SecurityInformation.OWNER_SECURITY_INFORMATION | SecurityInformation.DACL_SECURITY_INFORMATION;
    // A directory made with a SecD context: its owner everything but DELETE and FILE_DELETE_CHILD, inherited by files.
    const dir = await createWith(c, 'd', {
      desiredAccess: AccessMask.READ_CONTROL | AccessMask.WRITE_DAC | AccessMask.WRITE_OWNER,
      createDisposition: CreateDisposition.CREATE,
      createOptions: CreateOptions.DIRECTORY_FILE,
    });
    assert.equal(dir.status, Status.SUCCESS);
    const owner = (await querySecurity(c, dir.fileId, OWNER_DACL)).sd!.owner!;
    assert.ok(owner.startsWith('S-1-5-21-'));
    const noDelete = 0x001e01bf;
    assert.equal(await setSecurity(c, dir.fileId, OWNER_DACL, sdWith(owner, [allow(owner, noDelete, AceFlags.OBJECT_INHERIT_ACE)])), Status.SUCCESS);
    const back = (await querySecurity(c, dir.fileId, OWNER_DACL)).sd!;
    assert.deepEqual(back.dacl?.aces, [allow(owner, noDelete, AceFlags.OBJECT_INHERIT_ACE)]);
    assert.equal(back.group, undefined, 'only the selected parts come back');
    await c.close(dir.fileId);

    // A new file gets what it asks for (DELETE included), whatever it inherits.
    const doc = await createWith(c, 'd\\f', {
      desiredAccess: AccessMask.DELETE | AccessMask.FILE_WRITE_DATA,
      createDisposition: CreateDisposition.CREATE,
      createOptions: CreateOptions.DELETE_ON_CLOSE | CreateOptions.NON_DIRECTORY_FILE,
    });
    assert.equal(doc.status, Status.SUCCESS);
    await c.close(doc.fileId);
    assert.equal((await c.create('d\\f', { createDisposition: CreateDisposition.OPEN })).status, Status.OBJECT_NAME_NOT_FOUND);

    const made = await createWith(c, 'd\\g', { desiredAccess: AccessMask.FILE_WRITE_DATA | AccessMask.READ_CONTROL, createDisposition: CreateDisposition.CREATE });
    assert.equal(made.status, Status.SUCCESS);
    // The directory's DACL was set without automatic inheritance: the inherited ACE is not marked INHERITED_ACE.
    assert.deepEqual((await querySecurity(c, made.fileId, OWNER_DACL)).sd!.dacl?.aces, [allow(owner, noDelete)]);
    await c.close(made.fileId);
    // Neither the file nor its parent grants DELETE now.
    assert.equal((await createWith(c, 'd\\g', { desiredAccess: AccessMask.DELETE, createDisposition: CreateDisposition.OPEN })).status, Status.ACCESS_DENIED);
    const mx = await createWith(c, 'd\\g', { desiredAccess: AccessMask.FILE_READ_DATA, createDisposition: CreateDisposition.OPEN, mxac: true });
    assert.equal(mx.status, Status.SUCCESS);
    assert.equal(mx.maximal, noDelete);
    await c.close(mx.fileId);

    // With FILE_DELETE_CHILD on the directory, the file can be deleted.
    const dir2 = await createWith(c, 'd', { desiredAccess: AccessMask.WRITE_DAC, createDisposition: CreateDisposition.OPEN, createOptions: CreateOptions.DIRECTORY_FILE });
    assert.equal(dir2.status, Status.SUCCESS);
    const withDeleteChild = noDelete | AccessMask.FILE_DELETE_CHILD | AccessMask.DELETE;
    assert.equal(await setSecurity(c, dir2.fileId, SecurityInformation.DACL_SECURITY_INFORMATION, sdWith(owner, [allow(owner, withDeleteChild)])), Status.SUCCESS);
    await c.close(dir2.fileId);
    const del = await createWith(c, 'd\\g', { desiredAccess: AccessMask.DELETE, createDisposition: CreateDisposition.OPEN, createOptions: CreateOptions.DELETE_ON_CLOSE });
    assert.equal(del.status, Status.SUCCESS);
    await c.close(del.fileId);
    assert.equal(await srv.store.stat('d/g').catch(() => 'gone'), 'gone');

    // A file made with an empty DACL: only its owner's implicit rights remain.
    const locked = await createWith(c, 'locked', {
      desiredAccess: AccessMask.READ_CONTROL,
      createDisposition: CreateDisposition.CREATE,
      sd: { control: SdControl.SE_SELF_RELATIVE | SdControl.SE_DACL_PRESENT, dacl: { revision: 2, aces: [] } },
    });
    assert.equal(locked.status, Status.SUCCESS);
    await c.close(locked.fileId);
    assert.equal((await createWith(c, 'locked', { desiredAccess: AccessMask.FILE_READ_DATA, createDisposition: CreateDisposition.OPEN })).status, Status.ACCESS_DENIED);
    const rc = await createWith(c, 'locked', { desiredAccess: AccessMask.READ_CONTROL | AccessMask.WRITE_DAC, createDisposition: CreateDisposition.OPEN });
    assert.equal(rc.status, Status.SUCCESS);
    // Setting the owner needs WRITE_OWNER; a NULL DACL then opens it to everyone.
    assert.equal(await setSecurity(c, rc.fileId, SecurityInformation.OWNER_SECURITY_INFORMATION, sdWith(owner, [])), Status.ACCESS_DENIED);
    assert.equal(await setSecurity(c, rc.fileId, SecurityInformation.DACL_SECURITY_INFORMATION, { control: SdControl.SE_SELF_RELATIVE }), Status.SUCCESS);
    await c.close(rc.fileId);
    const open = await createWith(c, 'locked', { desiredAccess: AccessMask.MAXIMUM_ALLOWED, createDisposition: CreateDisposition.OPEN, mxac: true });
    assert.equal(open.status, Status.SUCCESS);
    assert.equal(open.maximal, 0x001f01ff);
    await c.close(open.fileId);

    // Files without a stored descriptor keep the default: full access for the viewer, nothing stored.
    const plain = await createWith(c, 'plain', { desiredAccess: AccessMask.MAXIMUM_ALLOWED, createDisposition: CreateDisposition.CREATE, mxac: true });
    assert.equal(plain.maximal, 0x001f01ff);
    assert.equal(await srv.store.getSecurity('plain'), undefined);
    // A SACL needs a privilege.
    const sacl = await createWith(c, 'audited', {
      desiredAccess: AccessMask.FILE_READ_DATA,
      createDisposition: CreateDisposition.CREATE,
      sd: { control: SdControl.SE_SELF_RELATIVE | SdControl.SE_SACL_PRESENT, sacl: { revision: 2, aces: [{ type: AceType.SYSTEM_AUDIT, flags: 0x40, mask: 1, sid: WellKnownSid.EVERYONE }] } },
    });
    assert.equal(sacl.status, Status.PRIVILEGE_NOT_HELD);
  } finally {
    await srv.stop();
  }
});

test('over SMB2: reading a descriptor needs READ_CONTROL only for the parts asked for (smbtorture smb2.sdread)', async () => {
  const srv = await startTestServer();
  try {
    const c = await srv.login();
    const made = await createWith(c, 'f', { desiredAccess: AccessMask.FILE_WRITE_DATA, createDisposition: CreateDisposition.CREATE });
    assert.equal(made.status, Status.SUCCESS);
    await c.close(made.fileId);
    const h = await createWith(c, 'f', { desiredAccess: AccessMask.FILE_READ_ATTRIBUTES, createDisposition: CreateDisposition.OPEN });
    assert.equal(h.status, Status.SUCCESS);
    for (const info of [SecurityInformation.OWNER_SECURITY_INFORMATION, SecurityInformation.GROUP_SECURITY_INFORMATION, SecurityInformation.DACL_SECURITY_INFORMATION]) {
      assert.equal((await querySecurity(c, h.fileId, info)).status, Status.ACCESS_DENIED);
    }
    const none = await querySecurity(c, h.fileId, 0);
    assert.equal(none.status, Status.SUCCESS);
    assert.deepEqual(none.sd, { control: SdControl.SE_SELF_RELATIVE });
    await c.close(h.fileId);
  } finally {
    await srv.stop();
  }
});

test('over SMB2: a descriptor cannot be set through a named stream (MS-FSA 2.1.5.17)', async () => {
  const srv = await startTestServer();
  try {
    const c = await srv.login();
    const stream = await createWith(c, 'f:s', { desiredAccess: AccessMask.WRITE_DAC | AccessMask.READ_CONTROL, createDisposition: CreateDisposition.CREATE });
    assert.equal(stream.status, Status.SUCCESS);
    const DACL = SecurityInformation.DACL_SECURITY_INFORMATION;
    assert.equal(await setSecurity(c, stream.fileId, DACL, sdWith(u1.user, [])), Status.INVALID_PARAMETER);
    assert.equal((await querySecurity(c, stream.fileId, DACL)).status, Status.SUCCESS, 'reading it through the stream is fine');
    await c.close(stream.fileId);
  } finally {
    await srv.stop();
  }
});

test('over SMB2: ACCESS_SYSTEM_SECURITY needs a privilege no session holds; reserved access bits are refused', async () => {
  const srv = await startTestServer();
  try {
    const c = await srv.login();
    const made = await createWith(c, 'f', { desiredAccess: AccessMask.FILE_WRITE_DATA, createDisposition: CreateDisposition.CREATE });
    assert.equal(made.status, Status.SUCCESS);
    await c.close(made.fileId);
    for (const desiredAccess of [AccessMask.ACCESS_SYSTEM_SECURITY, AccessMask.ACCESS_SYSTEM_SECURITY | AccessMask.MAXIMUM_ALLOWED]) {
      assert.equal((await createWith(c, 'f', { desiredAccess, createDisposition: CreateDisposition.OPEN })).status, Status.PRIVILEGE_NOT_HELD);
    }
    for (const reserved of [0x00000200, 0x00200000, 0x04000000]) {
      assert.equal((await createWith(c, 'f', { desiredAccess: reserved | AccessMask.MAXIMUM_ALLOWED, createDisposition: CreateDisposition.OPEN })).status, Status.ACCESS_DENIED);
    }
  } finally {
    await srv.stop();
  }
});
