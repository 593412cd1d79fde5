import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Status } from '../../../src/protocol/nt-status.js';
import { OplockLevel } from '../../../src/protocol/smb2/constants.js';
import { LeaseState } from '../../../src/protocol/smb2/contexts/create-contexts.js';
import { admitChannelSequence, completeChannelSequence, replayedCaching, type ChannelSequenceState } from '../../../src/server/replay.js';
import type { Open } from '../../../src/server/state/open.js';

const fresh = (sequence = 0): ChannelSequenceState => ({ sequence, outstanding: 0, preOutstanding: 0 });

/** One request at a time, as smbtorture's channel-sequence table sends them: is each one current? */
function sequential(s: ChannelSequenceState, sequence: number, replay: boolean): boolean {
  const a = admitChannelSequence(s, sequence, replay);
  completeChannelSequence(s, a);
  return a.current;
}

test('channel sequence: equal or up to 0x7FFF ahead is current, anything else stale (smbtorture channel-sequence table)', () => {
  for (const replay of [false, true]) {
    const s = fresh(0);
    const table: [number, boolean][] = [
      [0, true],
      [0x8000, false],
      [0x8001, false],
      [0xffff, false],
      [0x7fff, true],
      [0x7ffe, false],
      [0, false],
      [0x8000, true],
      [0xffff, true],
      [0, true],
      [1, true],
      [0, false],
      [1, true],
      [0xffff, false],
    ];
    for (const [sequence, current] of table) assert.equal(sequential(s, sequence, replay), current, `replay ${replay}, 0x${sequence.toString(16)}`);
    assert.deepEqual(s, { sequence: 1, outstanding: 0, preOutstanding: 0 });
  }
});

test('channel sequence: a replay is stale while requests of an older epoch are outstanding, a new request is not', () => {
  const s = fresh(5);
  const old = admitChannelSequence(s, 5, false);
  assert.equal(old.current, true);
  // The client moved to a new channel epoch while `old` is still being served.
  assert.equal(admitChannelSequence(s, 6, true).current, false);
  assert.deepEqual(s, { sequence: 6, outstanding: 0, preOutstanding: 1 });
  assert.equal(admitChannelSequence(s, 6, true).current, false);
  const plain = admitChannelSequence(s, 6, false);
  assert.equal(plain.current, true);
  completeChannelSequence(s, old);
  assert.equal(s.preOutstanding, 0);
  completeChannelSequence(s, plain);
  assert.equal(sequential(s, 6, true), true);
});

test('channel sequence: counts never go negative, whatever the order requests complete in (smbtorture replay7)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ sequence: fc.integer({ min: 0, max: 0xffff }), replay: fc.boolean(), completeNow: fc.boolean() }), { maxLength: 40 }),
      (steps) => {
        const s = fresh(0);
        const pending = [];
        for (const step of steps) {
          const a = admitChannelSequence(s, step.sequence, step.replay);
          if (step.completeNow) completeChannelSequence(s, a);
          else pending.push(a);
          assert.ok(s.outstanding >= 0 && s.preOutstanding >= 0);
        }
        for (const a of pending.reverse()) completeChannelSequence(s, a);
        assert.deepEqual([s.outstanding, s.preOutstanding], [0, 0]);
      },
    ),
  );
});

const oplockOpen = (level: number, durable: boolean): Open => ({ oplockLevel: level, lease: undefined, durable: durable ? { version: 2, persistent: false, timeoutMs: 1000 } : undefined }) as unknown as Open;
const leasedOpen = (key: Buffer, state: number): Open =>
  ({ oplockLevel: OplockLevel.LEASE, lease: { key, state }, durable: { version: 2, persistent: false, timeoutMs: 1000 } }) as unknown as Open;
const leaseRequest = (key: Buffer, state: number) => ({ oplockLevel: OplockLevel.LEASE, lease: { version: 1 as const, leaseKey: key, leaseState: state, leaseFlags: 0, leaseDuration: 0n } });

test('a replayed CREATE is told the caching it asked for, capped by what the open holds (replay-dhv2-oplock2)', () => {
  const open = oplockOpen(OplockLevel.BATCH, true);
  assert.deepEqual(replayedCaching(open, { oplockLevel: OplockLevel.BATCH, lease: undefined }), { oplockLevel: OplockLevel.BATCH, durable: true });
  assert.deepEqual(replayedCaching(open, { oplockLevel: OplockLevel.NONE, lease: undefined }), { oplockLevel: OplockLevel.NONE, durable: false });
  assert.deepEqual(replayedCaching(oplockOpen(OplockLevel.II, false), { oplockLevel: OplockLevel.BATCH, lease: undefined }), { oplockLevel: OplockLevel.II, durable: false });
});

test('a replayed CREATE may not switch between oplock and lease, nor name another lease key (replay-dhv2-oplock-lease, -lease3)', () => {
  const key = Buffer.alloc(16, 1);
  const rh = LeaseState.READ_CACHING | LeaseState.HANDLE_CACHING;
  assert.equal(replayedCaching(oplockOpen(OplockLevel.BATCH, true), leaseRequest(key, rh)), Status.ACCESS_DENIED);
  assert.equal(replayedCaching(leasedOpen(key, rh), leaseRequest(Buffer.alloc(16, 2), rh)), Status.ACCESS_DENIED);
  assert.equal(replayedCaching(leasedOpen(key, rh), { oplockLevel: OplockLevel.BATCH, lease: undefined }), Status.ACCESS_DENIED);
  // The lease is answered as it is now, whatever state the replay asks for (replay-dhv2-lease2).
  assert.deepEqual(replayedCaching(leasedOpen(key, rh), leaseRequest(key, LeaseState.READ_CACHING)), { oplockLevel: OplockLevel.LEASE, durable: true });
});
