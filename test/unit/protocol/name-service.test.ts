import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { WireError } from '../../../src/errors.js';
import {
  decodeNbAddressEntries,
  decodeNbnsPacket,
  decodeNodeStatus,
  encodeNbnsPacket,
  NbnsRcode,
  NbnsType,
  nameQueryRequest,
  NmFlag,
  nodeStatusRequest,
} from '../../../src/protocol/netbios/name-service.js';

/** Real bytes: nmblookup 4.17 against nmbd 4.17 (test/fixtures/protocol/nbns-samba.json). */
const fixture = JSON.parse(readFileSync(new URL('../../../../test/fixtures/protocol/nbns-samba.json', import.meta.url), 'utf8')) as {
  packets: { name: string; hex: string }[];
};
const packet = (prefix: string): Buffer => {
  const p = fixture.packets.find((x) => x.name.startsWith(prefix));
  assert.ok(p, `fixture ${prefix}`);
  return Buffer.from(p.hex, 'hex');
};

test("nmblookup's unicast and broadcast name queries decode, and our encoder writes the same bytes", () => {
  const q = decodeNbnsPacket(packet('query SAMBAREF<00> unicast'));
  assert.equal(q.response, false);
  assert.equal(q.nmFlags, 0);
  assert.deepEqual(q.questions, [{ name: { name: 'SAMBAREF', suffix: 0, scope: '' }, type: NbnsType.NB, class: 1 }]);
  assert.deepEqual(nameQueryRequest(q.transactionId, q.questions[0]!.name), packet('query SAMBAREF<00> unicast'));
  const b = decodeNbnsPacket(packet('query SAMBAREF<00> broadcast'));
  assert.equal(b.nmFlags, NmFlag.B | NmFlag.RD);
  assert.deepEqual(nameQueryRequest(b.transactionId, b.questions[0]!.name, true), packet('query SAMBAREF<00> broadcast'));
});

test("nmblookup's node status requests (by name and by wildcard) decode and re-encode identically", () => {
  const byName = decodeNbnsPacket(packet('node status request SAMBAREF'));
  assert.equal(byName.questions[0]!.type, NbnsType.NBSTAT);
  assert.deepEqual(nodeStatusRequest(byName.transactionId, byName.questions[0]!.name), packet('node status request SAMBAREF'));
  const star = decodeNbnsPacket(packet('node status request *'));
  assert.deepEqual(star.questions[0]!.name, { name: '*', suffix: 0, scope: '' });
  assert.deepEqual(nodeStatusRequest(star.transactionId), packet('node status request *'));
});

test("nmbd's positive, group and negative answers decode", () => {
  const pos = decodeNbnsPacket(packet('positive response SAMBAREF'));
  assert.equal(pos.response, true);
  assert.equal(pos.rcode, NbnsRcode.OK);
  assert.equal(pos.nmFlags & NmFlag.AA, NmFlag.AA);
  assert.equal(pos.answers[0]!.type, NbnsType.NB);
  assert.deepEqual(decodeNbAddressEntries(pos.answers[0]!.rdata), [{ flags: 0, address: '198.18.50.1' }]);
  const group = decodeNbnsPacket(packet('positive response TESTGROUP<1e>'));
  assert.deepEqual(group.answers[0]!.name, { name: 'TESTGROUP', suffix: 0x1e, scope: '' });
  assert.deepEqual(decodeNbAddressEntries(group.answers[0]!.rdata), [{ flags: 0x8000, address: '198.18.50.1' }]);
  const neg = decodeNbnsPacket(packet('negative response NOSUCH'));
  assert.equal(neg.rcode, NbnsRcode.NAM_ERR);
  assert.equal(neg.answers[0]!.type, NbnsType.NULL);
  assert.equal(neg.answers[0]!.rdata.length, 0);
});

test("nmbd's node status response decodes: names, flags, a zero unit id and 40 counter bytes", () => {
  const p = decodeNbnsPacket(packet('node status response to *'));
  const s = decodeNodeStatus(p.answers[0]!.rdata);
  assert.deepEqual(
    s.names.map((n) => `${n.name}<${n.suffix.toString(16).padStart(2, '0')}>:${n.flags.toString(16)}`),
    ['SAMBAREF<00>:400', 'SAMBAREF<03>:400', 'SAMBAREF<20>:400', 'TESTGROUP<00>:8400', 'TESTGROUP<1e>:8400'],
  );
  assert.deepEqual(s.unitId, Buffer.alloc(6));
  assert.equal(s.statistics.length, 40);
});

test('every captured packet re-encodes to its own bytes', () => {
  for (const p of fixture.packets) {
    const bytes = Buffer.from(p.hex, 'hex');
    assert.deepEqual(encodeNbnsPacket(decodeNbnsPacket(bytes)), bytes, p.name);
  }
});

test('scopes and backward name pointers decode (RFC 1002 4.1)', () => {
  const withScope = nameQueryRequest(7, { name: 'HOST', suffix: 0x20, scope: 'corp.example' });
  assert.deepEqual(decodeNbnsPacket(withScope).questions[0]!.name, { name: 'HOST', suffix: 0x20, scope: 'corp.example' });
  // A registration-style packet: an additional record whose name points back at the question's (0xC00C).
  const q = nameQueryRequest(9, { name: 'HOST', suffix: 0, scope: '' });
  const rr = Buffer.from('c00c00200001000493e00006' + '0000c0a80001', 'hex');
  const p = Buffer.concat([q, rr]);
  p.writeUInt16BE(1, 10); // ARCOUNT
  const d = decodeNbnsPacket(p);
  assert.deepEqual(d.additionals[0]!.name, { name: 'HOST', suffix: 0, scope: '' });
  assert.equal(d.additionals[0]!.ttl, 300_000);
  assert.deepEqual(decodeNbAddressEntries(d.additionals[0]!.rdata), [{ flags: 0, address: '192.168.0.1' }]);
});

test('malformed names and counts are WireErrors', () => {
  const base = nameQueryRequest(1, { name: 'HOST', suffix: 0, scope: '' });
  const cases: [string, Buffer][] = [
    ['truncated header', base.subarray(0, 11)],
    ['truncated name', base.subarray(0, 30)],
    ['pointer to itself', Buffer.concat([base.subarray(0, 12), Buffer.from('c00c00200001', 'hex')])],
    ['forward pointer', Buffer.concat([base.subarray(0, 12), Buffer.from('c01000200001', 'hex')])],
    ['letters beyond P', Buffer.from(base.toString('latin1').replace('EI', 'ZZ'), 'latin1')],
    ['short first label', Buffer.concat([base.subarray(0, 12), Buffer.from('0441414141' + '00' + '00200001', 'hex')])],
    ['reserved label type', Buffer.concat([base.subarray(0, 12), Buffer.from('8041', 'hex')])],
    ['huge counts', Buffer.from('0001000000ff00ff00ff00ff', 'hex')],
    ['record past the end', (() => {
      const b = Buffer.concat([base, Buffer.from('c00c0020000100000000ffff', 'hex')]);
      b.writeUInt16BE(1, 6);
      return b;
    })()],
    ['oversized datagram', Buffer.alloc(4000)],
  ];
  for (const [what, b] of cases) assert.throws(() => decodeNbnsPacket(b), WireError, what);
  assert.throws(() => decodeNbAddressEntries(Buffer.alloc(5)), WireError);
  assert.throws(() => decodeNodeStatus(Buffer.from([3, 0x41])), WireError);
});
