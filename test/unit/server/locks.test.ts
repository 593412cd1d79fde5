import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Status } from '../../../src/protocol/nt-status.js';
import { ByteRangeLocks, isValidLockRange, rangesOverlap, type LockRange } from '../../../src/server/state/locks.js';
import type { Open } from '../../../src/server/state/open.js';

/** Lock owners are compared by identity only. */
const owner = (name: string): Open => ({ name }) as unknown as Open;
const A = owner('A');
const B = owner('B');
const ex = (offset: bigint | number, length: bigint | number): LockRange => ({ offset: BigInt(offset), length: BigInt(length), exclusive: true });
const sh = (offset: bigint | number, length: bigint | number): LockRange => ({ offset: BigInt(offset), length: BigInt(length), exclusive: false });
const MAX = 0xffffffffffffffffn;

test('ranges that wrap past 2^64 are invalid; zero-length ranges never are', () => {
  assert.equal(isValidLockRange(MAX, 1n), true);
  assert.equal(isValidLockRange(MAX, 2n), false);
  assert.equal(isValidLockRange(MAX, MAX), false);
  assert.equal(isValidLockRange(MAX, 0n), true);
  assert.equal(isValidLockRange(0n, MAX), true);
  assert.equal(isValidLockRange(1n, MAX), true);
  assert.equal(isValidLockRange(2n, MAX), false);
});

test('overlap follows MS-FSA 2.1.4.10: {0,0} overlaps nothing; a zero-length range only what strictly contains its offset', () => {
  assert.equal(rangesOverlap(0n, 0n, 0n, 10n), false);
  assert.equal(rangesOverlap(0n, 10n, 0n, 0n), false);
  assert.equal(rangesOverlap(0n, 4n, 3n, 1n), true);
  assert.equal(rangesOverlap(0n, 4n, 4n, 1n), false);
  // smbtorture smb2.lock.zerobytelength's table: a held {10,0} against a second lock.
  const cases: [bigint, bigint, boolean][] = [
    [10n, 0n, false],
    [9n, 1n, false],
    [10n, 1n, false],
    [11n, 1n, false],
    [9n, 2n, true],
    [10n, 2n, false],
    [9n, 3n, true],
  ];
  for (const [o, l, want] of cases) {
    assert.equal(rangesOverlap(10n, 0n, o, l), want, `{10,0} vs {${o},${l}}`);
    assert.equal(rangesOverlap(o, l, 10n, 0n), want, `{${o},${l}} vs {10,0}`);
  }
  assert.equal(rangesOverlap(MAX, 1n, MAX, 1n), true);
  assert.equal(rangesOverlap(MAX, 0n, MAX - 1n, 1n), false);
});

test('conflicts: exclusive blocks others and its owner\'s exclusive locks; shared blocks exclusive locks and writes by anyone', () => {
  const l = new ByteRangeLocks();
  assert.equal(l.tryLock(A, [ex(0, 10)]), true);
  assert.equal(l.tryLock(A, [ex(5, 1)]), false, 'two exclusive locks do not stack');
  assert.equal(l.tryLock(A, [sh(0, 10)]), true, 'a shared lock stacks on its own exclusive lock');
  assert.equal(l.tryLock(B, [sh(0, 10)]), false);
  assert.equal(l.ioConflicts(A, 0n, 10n, false), false, 'the owner reads');
  assert.equal(l.ioConflicts(A, 0n, 10n, true), true, 'but its own shared lock blocks its writes');
  assert.equal(l.ioConflicts(B, 9n, 1n, false), true);
  assert.equal(l.ioConflicts(B, 10n, 5n, true), false, 'outside the range');

  const s = new ByteRangeLocks();
  assert.equal(s.tryLock(A, [sh(0, 10)]), true);
  assert.equal(s.tryLock(B, [sh(5, 10)]), true, 'shared locks overlap');
  assert.equal(s.tryLock(A, [ex(0, 1)]), false, 'an exclusive lock over a shared one fails, even the owner\'s');
  assert.equal(s.ioConflicts(B, 0n, 10n, false), false);
  assert.equal(s.ioConflicts(B, 0n, 1n, true), true);

  const e = new ByteRangeLocks();
  assert.equal(e.tryLock(A, [ex(0, 10)]), true);
  assert.equal(e.ioConflicts(A, 0n, 10n, true), false, 'the exclusive owner writes');
  assert.equal(e.ioConflicts(B, 0n, 10n, false), true);
});

test('several ranges are taken all together or not at all, also against each other', () => {
  const l = new ByteRangeLocks();
  assert.equal(l.tryLock(B, [ex(100, 10)]), true);
  assert.equal(l.tryLock(A, [ex(0, 10), ex(20, 10), ex(105, 1)]), false);
  assert.equal(l.size, 1, 'nothing of the failed request stays');
  assert.equal(l.tryLock(A, [ex(0, 10), ex(5, 10)]), false, 'the request\'s own ranges conflict');
  assert.equal(l.size, 1);
  assert.equal(l.tryLock(A, [ex(0, 10), sh(20, 10)]), true);
  assert.equal(l.size, 3);
});

test('unlock matches the exact range of the owner, exclusive before shared', () => {
  const m = new ByteRangeLocks();
  m.tryLock(A, [ex(0, 10)]);
  m.tryLock(A, [sh(0, 10)]);
  m.tryLock(A, [sh(0, 10)]);
  assert.equal(m.unlock(B, 0n, 10n), false, 'another open cannot unlock it');
  assert.equal(m.unlock(A, 0n, 9n), false, 'nor a different range');
  assert.equal(m.unlock(A, 0n, 10n), true);
  assert.equal(m.tryLock(B, [sh(0, 10)]), true, 'the exclusive one went first');
  assert.equal(m.unlock(A, 0n, 10n), true);
  assert.equal(m.unlock(A, 0n, 10n), true);
  assert.equal(m.unlock(A, 0n, 10n), false);
});

test('waiters are granted in arrival order once free; closing an open releases its locks and ends its waiters', async () => {
  const C = owner('C');
  const l = new ByteRangeLocks();
  l.tryLock(A, [ex(0, 10)]);
  const wb = l.wait(B, [ex(0, 10)]);
  const wc = l.wait(C, [ex(5, 10)]);
  const order: string[] = [];
  void wb.done.then((s) => order.push(`B:${s}`));
  void wc.done.then((s) => order.push(`C:${s}`));
  l.grantWaiters();
  await Promise.resolve();
  assert.deepEqual(order, [], 'still held');
  assert.equal(l.unlock(A, 0n, 10n), true);
  l.grantWaiters();
  assert.equal(await wb.done, Status.SUCCESS);
  assert.equal(l.waiters, 1, 'C still waits: B holds an overlapping range now');
  l.releaseOpen(B);
  assert.equal(await wc.done, Status.SUCCESS);
  assert.deepEqual(order, [`B:${Status.SUCCESS}`, `C:${Status.SUCCESS}`]);
  assert.deepEqual(l.list().map((x) => x.owner), [C]);

  const wa = l.wait(A, [sh(0, 1)]);
  const wa2 = l.wait(A, [sh(100, 1)]);
  wa2.cancel();
  assert.equal(await wa2.done, Status.CANCELLED);
  l.releaseOpen(A);
  assert.equal(await wa.done, Status.RANGE_NOT_LOCKED, 'a waiter whose handle closes gets RANGE_NOT_LOCKED');
  wa.cancel();
  assert.equal(l.waiters, 0);
});

test('model check: random lock/unlock/release sequences agree with a direct reading of MS-FSA 2.1.4.10', () => {
  const owners = [A, B, owner('C')];
  const rangeArb = fc.record({
    offset: fc.oneof(fc.bigInt({ min: 0n, max: 20n }), fc.constant(MAX), fc.constant(MAX - 1n)),
    length: fc.oneof(fc.bigInt({ min: 0n, max: 8n }), fc.constant(MAX)),
    exclusive: fc.boolean(),
  });
  const opArb = fc.oneof(
    fc.record({ kind: fc.constant('lock' as const), who: fc.integer({ min: 0, max: 2 }), ranges: fc.array(rangeArb, { minLength: 1, maxLength: 3 }) }),
    fc.record({ kind: fc.constant('unlock' as const), who: fc.integer({ min: 0, max: 2 }), r: rangeArb }),
    fc.record({ kind: fc.constant('release' as const), who: fc.integer({ min: 0, max: 2 }) }),
  );
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => {
      const l = new ByteRangeLocks();
      type M = { who: number; offset: bigint; length: bigint; exclusive: boolean };
      let model: M[] = [];
      const overlap = (a: { offset: bigint; length: bigint }, b: { offset: bigint; length: bigint }) => {
        if ((a.offset === 0n && a.length === 0n) || (b.offset === 0n && b.length === 0n)) return false;
        return a.offset <= b.offset + b.length - 1n && a.offset + a.length - 1n >= b.offset;
      };
      for (const op of ops) {
        if (op.kind === 'lock') {
          const ranges = op.ranges.filter((r) => isValidLockRange(r.offset, r.length));
          if (ranges.length === 0) continue;
          const tentative = [...model];
          let ok = true;
          for (const r of ranges) {
            const conflict = tentative.some((h) => overlap(r, h) && (h.exclusive ? h.who !== op.who || r.exclusive : r.exclusive));
            if (conflict) {
              ok = false;
              break;
            }
            tentative.push({ who: op.who, ...r });
          }
          assert.equal(l.tryLock(owners[op.who]!, ranges), ok);
          if (ok) model = tentative;
        } else if (op.kind === 'unlock') {
          const mine = model.map((h, i) => [h, i] as const).filter(([h]) => h.who === op.who && h.offset === op.r.offset && h.length === op.r.length);
          const pick = mine.find(([h]) => h.exclusive) ?? mine[mine.length - 1];
          assert.equal(l.unlock(owners[op.who]!, op.r.offset, op.r.length), pick !== undefined);
          if (pick) model.splice(pick[1], 1);
        } else {
          l.releaseOpen(owners[op.who]!);
          model = model.filter((h) => h.who !== op.who);
        }
        assert.equal(l.size, model.length);
      }
    }),
    { numRuns: 2000 },
  );
});
