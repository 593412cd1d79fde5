import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AccessControl, descriptorWarning, hostAllowed, openFileLimit, type AccessPolicy } from '../../../src/server/access.js';
import { parseCidr } from '../../../src/util/cidr.js';

function policy(over: Partial<AccessPolicy> = {}): AccessPolicy {
  return {
    hostsAllow: undefined,
    hostsDeny: [],
    maxConnections: 100,
    maxConnectionsPerClient: 10,
    connectionRatePerClient: 0,
    connectionBurstPerClient: 1,
    connectionBacklogPerClient: 0,
    maxSessionsPerConnection: 8,
    maxOpensPerSession: 1000,
    handshakeTimeoutMs: 30_000,
    idleTimeoutMs: 0,
    maxOutstandingRequests: 512,
    maxPendingLocksPerSession: 64,
    maxPendingNotifiesPerSession: 64,
    maxDiskWatchers: 16,
    breakTimeoutMs: 35_000,
    maxBreaksPerConnection: 256,
    bruteForce: { failures: 20, windowMs: 600_000, delayMs: 100, blockMs: 900_000 },
    ...over,
  };
}

test('deny wins over allow; an allow list admits only its ranges', () => {
  const allow = [parseCidr('127.0.0.0/8')];
  const deny = [parseCidr('127.0.0.66')];
  assert.deepEqual(hostAllowed('127.0.0.5', allow, deny), { ok: true });
  assert.equal(hostAllowed('127.0.0.66', allow, deny).ok, false);
  assert.equal(hostAllowed('10.0.0.1', allow, deny).ok, false);
  assert.equal(hostAllowed('10.0.0.1', undefined, deny).ok, true);
});

test('connection limits, total and per client', () => {
  const ac = new AccessControl(policy({ maxConnections: 3, maxConnectionsPerClient: 2 }));
  ac.opened('127.0.0.2');
  ac.opened('127.0.0.2');
  assert.equal(ac.admit('127.0.0.2').ok, false);
  assert.equal(ac.admit('127.0.0.3').ok, true);
  ac.opened('127.0.0.3');
  assert.equal(ac.admit('127.0.0.4').ok, false);
  ac.closed('127.0.0.2');
  assert.equal(ac.admit('127.0.0.2').ok, true);
});

test('20 failures block an address until the block expires; delays grow before that', () => {
  let now = 1_000_000;
  const ac = new AccessControl(policy(), () => now);
  let last = { delayMs: 0, blocked: false };
  for (let i = 1; i < 20; i++) {
    last = ac.authFailed('127.0.0.9', 'alice');
    assert.equal(last.blocked, false);
  }
  assert.ok(last.delayMs > 0);
  assert.equal(ac.authFailed('127.0.0.9', 'alice').blocked, true);
  assert.equal(ac.admit('127.0.0.9').ok, false);
  assert.equal(ac.admit('127.0.0.10').ok, true, 'other addresses are not blocked');
  now += 900_001;
  assert.equal(ac.admit('127.0.0.9').ok, true, 'the block expires');
});

test('failures outside the window do not count; success clears the address', () => {
  let now = 0;
  const ac = new AccessControl(policy({ bruteForce: { failures: 3, windowMs: 1000, delayMs: 10, blockMs: 5000 } }), () => now);
  ac.authFailed('127.0.0.9', 'bob');
  ac.authFailed('127.0.0.9', 'bob');
  now += 2000;
  assert.equal(ac.authFailed('127.0.0.9', 'bob').blocked, false);
  ac.authSucceeded('127.0.0.9');
  assert.equal(ac.authFailed('127.0.0.9', 'bob').blocked, false);
  assert.equal(ac.authFailed('127.0.0.9', 'bob').blocked, false);
  assert.equal(ac.authFailed('127.0.0.9', 'bob').blocked, true);
});

test('new connections from one address: a burst at once, then the rate; over it they wait their turn, past the backlog they are refused', () => {
  let now = 0;
  const ac = new AccessControl(policy({ maxConnectionsPerClient: 1000, connectionRatePerClient: 10, connectionBurstPerClient: 5, connectionBacklogPerClient: 3 }), () => now);
  const verdicts = Array.from({ length: 10 }, () => ac.admit('127.0.0.7'));
  assert.deepEqual(verdicts.slice(0, 5).map((v) => v.ok && v.delayMs), [0, 0, 0, 0, 0], 'the burst goes at once');
  assert.deepEqual(verdicts.slice(5, 8).map((v) => v.ok && v.delayMs), [100, 200, 300], 'the backlog waits, each for the next token');
  assert.deepEqual(verdicts.slice(8).map((v) => v.ok), [false, false], 'past the backlog: refused');
  assert.deepEqual(ac.admit('127.0.0.8'), { ok: true, delayMs: 0 }, 'another address has its own bucket');
  now += 1000;
  // Ten tokens came back: three paid the backlog's debt, five refill the burst (its cap), the rest are lost.
  assert.deepEqual(Array.from({ length: 5 }, () => ac.admit('127.0.0.7')).map((v) => v.ok && v.delayMs), [0, 0, 0, 0, 0]);
  assert.equal(ac.admit('127.0.0.7').ok && ac.admit('127.0.0.7').ok, true, 'then the backlog again');
});

test('connection rate 0 means no rate limit', () => {
  const ac = new AccessControl(policy({ maxConnectionsPerClient: 10_000, connectionRatePerClient: 0, connectionBurstPerClient: 1, connectionBacklogPerClient: 0 }), () => 0);
  for (let i = 0; i < 2000; i++) assert.deepEqual(ac.admit('127.0.0.7'), { ok: true, delayMs: 0 });
});

test('the server warns when max_connections does not fit the open-file limit', () => {
  assert.equal(descriptorWarning(8192, 524_288), undefined);
  assert.equal(descriptorWarning(8192, undefined), undefined, 'no warning where the limit cannot be read');
  assert.match(descriptorWarning(8192, 1024) ?? '', /max_connections \(8192\) does not fit the open-file limit \(1024\).*LimitNOFILE.*ulimit -n/);
  const limit = openFileLimit();
  if (process.platform === 'linux') assert.ok(limit !== undefined && limit > 0, 'read from /proc/self/limits');
});
