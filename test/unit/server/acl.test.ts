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

test('inheritance: files, directories, NO_PROPAGATE, CREATOR OWNER', () => {
  const OI = AceFlags.OBJECT_INHERIT_ACE;
  const CI = AceFlags.CONTAINER_INHERIT_ACE;
  const IO = AceFlags.INHERIT_ONLY_ACE;
  const NP = AceFlags.NO_PROPAGATE_INHERIT_ACE;
  const I = AceFlags.INHERITED_ACE;
  const parent = {
    revision: 2,
    aces: [
      allow(WellKnownSid.EVERYONE, 1, OI),
      allow(WellKnownSid.EVERYONE, 2, CI),
      allow(WellKnownSid.EVERYONE, 4, OI | CI | NP),
      allow(WellKnownSid.CREATOR_OWNER, AccessMask.GENERIC_ALL, OI | CI | IO),
      allow(WellKnownSid.EVERYONE, 8, 0),
    ],
  };
  assert.deepEqual(inheritedAces(parent, false, u1.user, u1.primaryGroup), [
    allow(WellKnownSid.EVERYONE, 1, I),
    allow(WellKnownSid.EVERYONE, 4, I),
    allow(u1.user, 0x001f01ff, I),
  ]);
  assert.deepEqual(inheritedAces(parent, true, u1.user, u1.primaryGroup), [
    allow(WellKnownSid.EVERYONE, 1, OI | IO | I),
    allow(WellKnownSid.EVERYONE, 2, CI | I),
    allow(WellKnownSid.EVERYONE, 4, I),
    allow(u1.user, 0x001f01ff, I),
    allow(WellKnownSid.CREATOR_OWNER, AccessMask.GENERIC_ALL, OI | CI | IO | I),
  ]);
});

test('a new file: the creator parts win, a missing DACL is inherited, no inheritable ACE gives the default', () => {
  const parent = sdWith(u2.user, [allow(WellKnownSid.EVERYONE, 0x1e01bf, AceFlags.OBJECT_INHERIT_ACE)]);
  const inherited = newFileSecurity(parent, undefined, u1, false, true);
  assert.equal(inherited.owner, u1.user);
  assert.deepEqual(inherited.dacl?.aces, [allow(WellKnownSid.EVERYONE, 0x1e01bf, AceFlags.INHERITED_ACE)]);
  const empty = newFileSecurity(parent, { control: SdControl.SE_SELF_RELATIVE }, u1, false, true);
  assert.deepEqual(empty.dacl, inherited.dacl);
  const nullDacl = newFileSecurity(parent, { control: SdControl.SE_SELF_RELATIVE | SdControl.SE_DACL_PRESENT, dacl: null, owner: WellKnownSid.EVERYONE }, u1, false, true);
  assert.equal(nullDacl.dacl, null);
  assert.equal(nullDacl.owner, WellKnownSid.EVERYONE);
  const dflt = newFileSecurity(sdWith(u2.user, [allow(u2.user, 0x001f01ff)]), undefined, u1, true, true);
  assert.equal(dflt.dacl?.aces.length, 4);
  assert.equal(allowedAccess(dflt, u1), 0x001f01ff);
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
    assert.deepEqual((await querySecurity(c, made.fileId, OWNER_DACL)).sd!.dacl?.aces, [allow(owner, noDelete, AceFlags.INHERITED_ACE)]);
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
