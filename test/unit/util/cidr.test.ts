import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matchesAny, parseCidr } from '../../../src/util/cidr.js';

test('IPv4 ranges and single addresses', () => {
  const r = [parseCidr('10.0.0.0/8'), parseCidr('192.168.1.5')];
  assert.ok(matchesAny('10.1.2.3', r));
  assert.ok(matchesAny('192.168.1.5', r));
  assert.ok(!matchesAny('192.168.1.6', r));
  assert.ok(!matchesAny('11.0.0.1', r));
  // IPv4-mapped IPv6 peers match IPv4 rules.
  assert.ok(matchesAny('::ffff:10.9.9.9', r));
});

test('IPv6 ranges', () => {
  const r = [parseCidr('fd00::/8'), parseCidr('::1')];
  assert.ok(matchesAny('fd12:3456::1', r));
  assert.ok(matchesAny('::1', r));
  assert.ok(!matchesAny('fe80::1', r));
  assert.ok(matchesAny('fe80::1%eth0', [parseCidr('fe80::/10')]));
});

test('edge prefixes and bad input', () => {
  assert.ok(matchesAny('1.2.3.4', [parseCidr('0.0.0.0/0')]));
  assert.ok(matchesAny('2001:db8::1', [parseCidr('::/0')]));
  assert.ok(!matchesAny('not-an-ip', [parseCidr('0.0.0.0/0')]));
  for (const bad of ['10.0.0.0/33', '10.0.0.0/-1', '10.0.0/8', 'fd00::/129', 'x', '10.0.0.0/8x']) {
    assert.throws(() => parseCidr(bad), Error, bad);
  }
});
