/**
 * workers/interest.ts: which workers are told of a change (those with its folder open, or watching a folder above
 * it with its subtree), what a worker announces and withdraws.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Interests, type InterestMessage } from '../../../src/server/workers/interest.js';
import { nodeKey } from '../../../src/server/server.js';
import type { ShareDef } from '../../../src/server/shares.js';

const share = { name: 'data' } as ShareDef;

function interests(open: Set<string> = new Set(), watched: Set<string> = new Set()) {
  const asked: InterestMessage[] = [];
  const broadcast: InterestMessage[] = [];
  const i = new Interests({
    ask: (m) => {
      asked.push(m);
      return Promise.resolve();
    },
    broadcast: (m) => void broadcast.push(m),
    hasOpen: (key) => open.has(key),
    watchesTree: (key) => watched.has(key),
  });
  return { i, asked, broadcast };
}

test('a change goes to the workers with its folder open, and to those watching a folder above it with its subtree', () => {
  const { i } = interests();
  assert.equal(i.any, false);
  i.peer(1, nodeKey(share, 'a/b'), false, true);
  i.peer(2, nodeKey(share, 'a'), true, true);
  i.peer(3, nodeKey(share, 'a'), false, true);
  assert.equal(i.any, true);
  assert.equal(i.inShare(share), true);
  assert.equal(i.interested(share, 'a/b/file.txt'), (1 << 1) | (1 << 2), 'b open on 1, a watched with its subtree on 2');
  assert.equal(i.interested(share, 'a/file.txt'), (1 << 2) | (1 << 3));
  assert.equal(i.interested(share, 'other/file.txt'), 0);
  // 2 stops watching the subtree but keeps a open; then closes it.
  i.peer(2, nodeKey(share, 'a'), true, false);
  assert.equal(i.interested(share, 'a/b/file.txt'), 1 << 1);
  assert.equal(i.interested(share, 'a/file.txt'), (1 << 2) | (1 << 3));
  i.peer(2, nodeKey(share, 'a'), false, false);
  assert.equal(i.interested(share, 'a/file.txt'), 1 << 3);
  // A worker that restarts is forgotten whole.
  i.forgetPeer(3);
  i.forgetPeer(1);
  assert.equal(i.any, false);
  assert.equal(i.inShare(share), false);
});

test('a folder is announced once (again only to add its subtree), and withdrawn when nothing here has it open or watched', async () => {
  const key = nodeKey(share, 'dir');
  const open = new Set([key]);
  const watched = new Set([key]);
  const { i, asked, broadcast } = interests(open, watched);
  await i.announce(share, 'dir', false);
  assert.equal(i.announce(share, 'dir', false), undefined, 'known already');
  await i.announce(share, 'dir', true);
  assert.deepEqual(asked, [
    { t: 'interest', key, tree: false, on: true },
    { t: 'interest', key, tree: true, on: true },
  ]);
  assert.deepEqual(i.announced(), [{ key, tree: true }]);
  i.withdrawIdle();
  assert.deepEqual(broadcast, [], 'still open and watched');
  watched.clear();
  i.withdrawIdle();
  assert.deepEqual(broadcast, [{ t: 'interest', key, tree: true, on: false }], 'the subtree watch is withdrawn');
  open.clear();
  i.withdrawIdle();
  assert.deepEqual(broadcast.at(-1), { t: 'interest', key, tree: false, on: false });
  assert.deepEqual(i.announced(), []);
});
