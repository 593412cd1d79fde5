import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WireError } from '../../../src/errors.js';
import {
  AceType,
  SecurityInformation,
  SdControl,
  WellKnownSid,
  decodeSecurityDescriptor,
  defaultSecurityDescriptor,
  isValidSid,
  machineDomainSid,
  securityDescriptorToBytes,
  sidFromBytes,
  sidToBytes,
  sidWithRid,
  type SecurityDescriptor,
} from '../../../src/protocol/smb2/fscc/security.js';

test('SID string <-> bytes', () => {
  assert.deepEqual(sidToBytes('S-1-5-32-544'), Buffer.from('01020000000000052000000020020000', 'hex'));
  assert.deepEqual(sidToBytes('S-1-1-0'), Buffer.from('010100000000000100000000', 'hex'));
  assert.deepEqual(sidToBytes('S-1-0'), Buffer.from('0100000000000000', 'hex'));
  for (const s of ['S-1-5-21-1004336348-1177238915-682003330-512', 'S-1-5-18', 'S-1-0x123456789ABC-1', 'S-1-16-12288']) {
    assert.equal(sidFromBytes(sidToBytes(s)), s);
  }
  assert.equal(sidFromBytes(sidToBytes('S-1-0x000000000005-18')), 'S-1-5-18');
  for (const bad of ['S-1', 'S-2-5', 'X-1-5', 'S-1-5-4294967296', 'S-1-5' + '-1'.repeat(16), 'S-1-281474976710656']) {
    assert.equal(isValidSid(bad), false, bad);
  }
  assert.throws(() => sidFromBytes(Buffer.from('0110', 'hex')), WireError);
});

test('machine SIDs', () => {
  const a = machineDomainSid('host-a');
  assert.match(a, /^S-1-5-21-\d+-\d+-\d+$/);
  assert.equal(machineDomainSid('host-a'), a);
  assert.notEqual(machineDomainSid('host-b'), a);
  assert.match(machineDomainSid(), /^S-1-5-21-/);
  assert.equal(sidWithRid('S-1-5-21-1-2-3', 1000), 'S-1-5-21-1-2-3-1000');
});

test('self-relative SD known bytes', () => {
  const sd: SecurityDescriptor = {
    control: SdControl.SE_SELF_RELATIVE | SdControl.SE_DACL_PRESENT,
    owner: WellKnownSid.BUILTIN_ADMINISTRATORS,
    dacl: { revision: 2, aces: [{ type: AceType.ACCESS_ALLOWED, flags: 0, mask: 0x001f01ff, sid: WellKnownSid.EVERYONE }] },
  };
  const expected = Buffer.from(
    '01000480' + '30000000' + '00000000' + '00000000' + '14000000' +
      '02001c0001000000' + '00001400ff011f00' + '010100000000000100000000' +
      '01020000000000052000000020020000',
    'hex',
  );
  assert.deepEqual(securityDescriptorToBytes(sd), expected);
  assert.deepEqual(decodeSecurityDescriptor(expected), sd);
});

test('AdditionalInformation selects the parts', () => {
  const sd = defaultSecurityDescriptor({ ownerSid: 'S-1-5-21-1-2-3-1000', groupSid: 'S-1-5-21-1-2-3-513', directory: true });
  const all = decodeSecurityDescriptor(securityDescriptorToBytes(sd));
  assert.deepEqual(all, sd);
  assert.equal(all.dacl?.aces.length, 4);
  const ownerOnly = decodeSecurityDescriptor(securityDescriptorToBytes(sd, SecurityInformation.OWNER_SECURITY_INFORMATION));
  assert.deepEqual(ownerOnly, { control: SdControl.SE_SELF_RELATIVE, owner: 'S-1-5-21-1-2-3-1000' });
  const daclOnly = decodeSecurityDescriptor(securityDescriptorToBytes(sd, SecurityInformation.DACL_SECURITY_INFORMATION));
  assert.equal(daclOnly.owner, undefined);
  assert.equal(daclOnly.group, undefined);
  assert.deepEqual(daclOnly.dacl, sd.dacl);
  const withSacl = decodeSecurityDescriptor(
    securityDescriptorToBytes({ ...sd, sacl: { revision: 2, aces: [] } }, SecurityInformation.SACL_SECURITY_INFORMATION),
  );
  assert.deepEqual(withSacl.sacl, { revision: 2, aces: [] });
  assert.ok(withSacl.control & SdControl.SE_SACL_PRESENT);
});

test('NULL DACL and raw ACEs survive', () => {
  const sd: SecurityDescriptor = { control: SdControl.SE_SELF_RELATIVE | SdControl.SE_DACL_PRESENT, dacl: null };
  assert.deepEqual(decodeSecurityDescriptor(securityDescriptorToBytes(sd)), sd);
  const raw: SecurityDescriptor = {
    control: SdControl.SE_SELF_RELATIVE | SdControl.SE_DACL_PRESENT,
    dacl: { revision: 4, aces: [{ type: AceType.ACCESS_ALLOWED_OBJECT, flags: 2, raw: Buffer.from('0102030405060708', 'hex') }] },
  };
  assert.deepEqual(decodeSecurityDescriptor(securityDescriptorToBytes(raw)), raw);
});

test('malformed descriptors are WireErrors', () => {
  const good = securityDescriptorToBytes(defaultSecurityDescriptor({ ownerSid: 'S-1-5-18', groupSid: 'S-1-5-18', directory: false }));
  const badOffset = Buffer.from(good);
  badOffset.writeUInt32LE(5000, 4);
  assert.throws(() => decodeSecurityDescriptor(badOffset), WireError);
  const notSelfRelative = Buffer.from(good);
  notSelfRelative.writeUInt16LE(0x0004, 2);
  assert.throws(() => decodeSecurityDescriptor(notSelfRelative), WireError);
  const badAcl = Buffer.from(good);
  const daclOff = good.readUInt32LE(16);
  badAcl.writeUInt16LE(200, daclOff + 4); // AceCount way past AclSize
  assert.throws(() => decodeSecurityDescriptor(badAcl), WireError);
  assert.throws(() => decodeSecurityDescriptor(good.subarray(0, 10)), WireError);
});
