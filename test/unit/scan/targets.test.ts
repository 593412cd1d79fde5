import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DEFAULT_MAX_ADDRESSES, TargetError, classifyAddress, parseTarget, parseTargets } from '../../../src/scan/targets.js';

test('a single address, a host name, host:port and [v6]:port', () => {
  assert.deepEqual(parseTarget('127.0.0.40'), [{ source: '127.0.0.40', host: '127.0.0.40', port: undefined }]);
  assert.deepEqual(parseTarget('files.example'), [{ source: 'files.example', host: 'files.example', port: undefined }]);
  assert.deepEqual(parseTarget('127.0.0.40:4445'), [{ source: '127.0.0.40:4445', host: '127.0.0.40', port: 4445 }]);
  assert.deepEqual(parseTarget('nas:445'), [{ source: 'nas:445', host: 'nas', port: 445 }]);
  assert.deepEqual(parseTarget('::1'), [{ source: '::1', host: '::1', port: undefined }]);
  assert.deepEqual(parseTarget('[::1]:4445'), [{ source: '[::1]:4445', host: '::1', port: 4445 }]);
});

test('a CIDR range expands to every address in it', () => {
  const t = parseTarget('127.0.0.40/30');
  assert.deepEqual(
    t.map((x) => x.host),
    ['127.0.0.40', '127.0.0.41', '127.0.0.42', '127.0.0.43'],
  );
  assert.ok(t.every((x) => x.source === '127.0.0.40/30' && x.port === undefined));
  assert.deepEqual(parseTarget('10.1.2.3/32').map((x) => x.host), ['10.1.2.3']);
  assert.deepEqual(parseTarget('127.0.0.41/31').map((x) => x.host), ['127.0.0.40', '127.0.0.41']);
  assert.deepEqual(parseTarget('fd00::/126').map((x) => x.host), ['fd00::', 'fd00::1', 'fd00::2', 'fd00::3']);
  assert.equal(parseTarget('192.168.0.0/22').length, 1024);
});

test('a range past the cap is refused with a clear message, before expanding', () => {
  assert.throws(() => parseTarget('10.0.0.0/8'), (e: Error) => e instanceof TargetError && /16777216 addresses, more than the limit of 1024/.test(e.message));
  assert.throws(() => parseTarget('192.168.0.0/21'), /2048 addresses/);
  assert.throws(() => parseTarget('fd00::/64'), TargetError);
  assert.equal(parseTarget('192.168.0.0/21', 4096).length, 2048);
  // The cap also holds over several arguments.
  assert.throws(() => parseTargets(['10.0.0.0/23', '10.0.2.0/23', '10.0.4.0/32'], 1024), /more than the limit of 1024/);
  assert.equal(parseTargets(['10.0.0.0/23', '10.0.2.0/23'], 1024).length, 1024);
  assert.equal(DEFAULT_MAX_ADDRESSES, 1024);
});

test('duplicates collapse; bad targets are refused', () => {
  assert.equal(parseTargets(['127.0.0.1', '127.0.0.1', '127.0.0.0/31']).length, 2);
  for (const bad of ['', 'a b', '300.1.1.1/24', '127.0.0.1/33', '127.0.0.1:0', '127.0.0.1:70000', 'host:x', '[nothost]:1', '-x', 'a..b']) {
    assert.throws(() => parseTarget(bad), TargetError, bad);
  }
  assert.throws(() => parseTargets([]), /no target/);
});

test('any IPv4 prefix within the cap expands to 2^(32-prefix) distinct addresses inside the range', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 22, max: 32 }), (n, prefix) => {
      const a = [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
      const t = parseTarget(`${a}/${prefix}`);
      assert.equal(t.length, 2 ** (32 - prefix));
      assert.equal(new Set(t.map((x) => x.host)).size, t.length);
    }),
    { numRuns: 50 },
  );
});

test('address classes', () => {
  assert.equal(classifyAddress('127.0.0.40'), 'loopback');
  assert.equal(classifyAddress('::1'), 'loopback');
  assert.equal(classifyAddress('::ffff:127.0.0.1'), 'loopback');
  assert.equal(classifyAddress('0.0.0.0'), 'wildcard');
  assert.equal(classifyAddress('::'), 'wildcard');
  for (const p of ['10.0.0.1', '172.16.0.1', '172.31.255.255', '192.168.1.1', '100.64.0.1', 'fd12::1', 'fc00::1']) assert.equal(classifyAddress(p), 'private', p);
  for (const l of ['169.254.1.1', 'fe80::1']) assert.equal(classifyAddress(l), 'link-local', l);
  for (const p of ['8.8.8.8', '172.32.0.1', '2001:db8::1', '::ffff:8.8.8.8']) assert.equal(classifyAddress(p), 'public', p);
  assert.equal(classifyAddress('nas.local'), 'unknown');
});
