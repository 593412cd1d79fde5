import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runStoreContract, writeWhole } from '../../../src/store/contract.js';
import { MemoryStore } from '../../../src/store/memory.js';
import { errorCode } from '../../../src/store/types.js';
import { resolveCaseInsensitive } from '../../../src/store/resolve.js';

runStoreContract('MemoryStore', async () => ({ store: new MemoryStore(), cleanup: async () => {} }));

test('MemoryStore: the size limit gives ENOSPC and frees space on unlink', async () => {
  const store = new MemoryStore({ sizeLimit: 100 });
  await writeWhole(store, 'a', Buffer.alloc(60));
  await assert.rejects(writeWhole(store, 'b', Buffer.alloc(60)), (e: unknown) => errorCode(e) === 'ENOSPC');
  assert.ok(store.usedBytes <= 100);
  const fs = await store.statfs();
  assert.equal(fs.totalBytes, 100);
  assert.equal(fs.freeBytes, 100 - store.usedBytes);
  await store.unlink('a');
  await store.unlink('b');
  assert.equal(store.usedBytes, 0);
  await writeWhole(store, 'c', Buffer.alloc(100));
  const h = await store.open('c', { write: true });
  await assert.rejects(h.truncate(101), (e: unknown) => errorCode(e) === 'ENOSPC');
  await h.truncate(50);
  await h.close();
  assert.equal(store.usedBytes, 50);
});

test('MemoryStore: read-only stores refuse changes with EROFS', async () => {
  const store = new MemoryStore({ readOnly: true });
  for (const p of [
    () => store.mkdir('d'),
    () => store.open('f', { write: true, create: 'always' }),
    () => store.open('f', { write: false, create: 'always' }),
    () => store.setAttributes('', 1),
  ]) {
    await assert.rejects(p(), (e: unknown) => errorCode(e) === 'EROFS');
  }
});

test('MemoryStore: a case-insensitive store matches names ignoring case and respells on rename', async () => {
  const store = new MemoryStore({ caseInsensitive: true });
  assert.equal(store.caseSensitive, false);
  await store.mkdir('Dir');
  await writeWhole(store, 'DIR/File', 'x');
  assert.equal((await store.stat('dir/file')).size, 1);
  await assert.rejects(store.mkdir('dir'), (e: unknown) => errorCode(e) === 'EEXIST');
  await store.rename('dir/file', 'dir/FILE', { replace: false });
  assert.deepEqual((await store.readdir('dir')).map((e) => e.name), ['FILE']);
  const r = await resolveCaseInsensitive(store, 'dIr/fIlE');
  assert.equal(r.exists, true);
});
