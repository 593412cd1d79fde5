import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { DelayedWriteTime } from '../../../src/server/state/write-time.js';

/** A tracker with a clock the test moves by hand and a short delay (the timer itself is real). */
function tracker(delayMs = 20) {
  let now = 1_000;
  const t = new DelayedWriteTime<object>(() => now, delayMs);
  return {
    t,
    set now(v: number) {
      now = v;
    },
  };
}

const STORE_BEFORE = 500;
const before = () => Promise.resolve(STORE_BEFORE);

test('a first write keeps the old time until the delayed update, which stamps the time it happens', async () => {
  const k = tracker();
  const h = {};
  await k.t.beforeWrite(h, false, before);
  assert.equal(k.t.report(900), STORE_BEFORE, 'the store moved, clients still see the old time');
  assert.equal(k.t.pending, true);
  k.now = 2_000;
  await sleep(60);
  assert.equal(k.t.pending, false);
  assert.equal(k.t.report(900), 2_000);
});

test('a second write of the handle changes nothing until the handle closes, which stamps the time', async () => {
  const k = tracker(5);
  const h = {};
  const other = {};
  await k.t.beforeWrite(h, false, before);
  k.now = 2_000;
  await sleep(30);
  k.now = 3_000;
  await k.t.beforeWrite(h, false, before);
  assert.equal(k.t.report(0), 2_000);
  assert.equal(k.t.close(h, false, false), undefined, 'not the last open: nothing to store yet');
  assert.equal(k.t.report(0), 3_000, 'the close stamped the time');
  k.now = 4_000;
  assert.equal(k.t.close(other, false, true), 3_000, 'the last open stores what clients saw');
  assert.equal(k.t.holding, false);
  assert.equal(k.t.report(123), 123);
});

test('a close after the delayed update, without writes since, keeps the updated time', async () => {
  const k = tracker(5);
  const h = {};
  await k.t.beforeWrite(h, false, before);
  k.now = 2_000;
  await sleep(30);
  k.now = 5_000;
  assert.equal(k.t.close(h, false, true), 2_000);
});

test('FLUSH, SetEndOfFile and FileBasicInformation make a pending update happen now', async () => {
  const k = tracker(10_000);
  const h = {};
  await k.t.beforeWrite(h, false, before);
  k.now = 1_500;
  k.t.flushPending();
  assert.equal(k.t.pending, false);
  assert.equal(k.t.report(0), 1_500);
  k.now = 1_700;
  k.t.flushPending();
  assert.equal(k.t.report(0), 1_500, 'nothing pending: nothing moves');
  k.now = 1_800;
  k.t.touch(h, false);
  assert.equal(k.t.report(0), 1_800);
  assert.equal(k.t.close(h, false, true), 1_800, 'the close does not stamp again after an immediate update');
});

test('a sticky handle (LastWriteTime -1 or an explicit time) moves nothing; an explicit time wins', async () => {
  const k = tracker(5);
  const h = {};
  await k.t.beforeWrite(h, true, before);
  assert.equal(k.t.pending, false);
  k.now = 2_000;
  await k.t.beforeWrite(h, true, before);
  k.t.touch(h, true);
  assert.equal(k.t.report(0), STORE_BEFORE);
  const w = {};
  await k.t.beforeWrite(w, false, before);
  k.t.set(86_400_000);
  assert.equal(k.t.pending, false, 'the explicit time cancels the scheduled update');
  assert.equal(k.t.close(h, true, false), undefined);
  assert.equal(k.t.close(w, false, true), 86_400_000, 'a handle that only wrote once does not stamp over it');
});
