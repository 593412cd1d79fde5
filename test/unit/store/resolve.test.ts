import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../../../src/store/memory.js';
import { isValidComponent, isValidStreamName, joinPath, parentPath, resolveCaseInsensitive, splitPath, upcase } from '../../../src/store/resolve.js';
import { errorCode } from '../../../src/store/types.js';
import { writeWhole } from '../../../src/store/contract.js';

test('splitPath accepts store paths and rejects the rest', () => {
  assert.deepEqual(splitPath(''), []);
  assert.deepEqual(splitPath('a/b c/d.txt'), ['a', 'b c', 'd.txt']);
  for (const bad of ['/', '/a', 'a/', 'a//b', '.', '..', 'a/./b', 'a/../b', 'a\\b', 'a\0b']) {
    assert.throws(() => splitPath(bad), (e: unknown) => errorCode(e) === 'EINVAL', bad);
  }
  assert.throws(() => splitPath('a'.repeat(256)), (e: unknown) => errorCode(e) === 'ENAMETOOLONG');
  assert.deepEqual(splitPath('😀'.repeat(127)), ['😀'.repeat(127)]); // 254 UTF-16 units
  assert.throws(() => splitPath('😀'.repeat(128)), (e: unknown) => errorCode(e) === 'ENAMETOOLONG');
});

test('joinPath and parentPath', () => {
  assert.equal(joinPath('', 'a'), 'a');
  assert.equal(joinPath('a', 'b', 'c'), 'a/b/c');
  assert.equal(joinPath(''), '');
  assert.equal(parentPath('a/b/c'), 'a/b');
  assert.equal(parentPath('a'), '');
});

test('isValidComponent follows MS-FSCC 2.1.5.2', () => {
  for (const ok of ['a', 'file.txt', 'with space', 'ünï', '.hidden', 'a'.repeat(255), '[x]', "it's", 'a;b=c,d']) {
    assert.equal(isValidComponent(ok), true, ok);
  }
  for (const bad of ['', '.', '..', 'a'.repeat(256), 'a"b', 'a*', 'a/b', 'a:b', 'a<b', 'a>b', 'a?', 'a\\b', 'a|b', 'a\x00', 'a\x1f', '\t']) {
    assert.equal(isValidComponent(bad), false, JSON.stringify(bad));
  }
  assert.equal(isValidStreamName('Zone.Identifier'), true);
  assert.equal(isValidStreamName('a:b'), false);
  assert.equal(isValidStreamName(''), false);
});

test('upcase maps one character to one character', () => {
  assert.equal(upcase('abc-äöü'), 'ABC-ÄÖÜ');
  assert.equal(upcase('straße'), 'STRAßE');
  assert.equal(upcase('ﬁ'), 'ﬁ');
  assert.equal(upcase('σς'), 'ΣΣ');
  assert.equal(upcase('😀x'), '😀X');
});

test('resolveCaseInsensitive tells a missing parent from a missing leaf and prefers the exact spelling', async () => {
  const store = new MemoryStore();
  await store.mkdir('Docs');
  await writeWhole(store, 'Docs/Report.doc', 'r');
  await writeWhole(store, 'Docs/report.DOC', 'R');
  assert.equal((await resolveCaseInsensitive(store, 'Docs/report.DOC')).path, 'Docs/report.DOC');
  assert.equal((await resolveCaseInsensitive(store, 'docs/REPORT.doc')).path, 'Docs/Report.doc');
  const missing = await resolveCaseInsensitive(store, 'DOCS/Missing.txt');
  assert.deepEqual([missing.path, missing.exists, missing.stat], ['Docs/Missing.txt', false, undefined]);
  await assert.rejects(resolveCaseInsensitive(store, 'nope/x'), (e: unknown) => {
    assert.equal(errorCode(e), 'ENOENT');
    assert.equal((e as { component?: string }).component, 'parent');
    return true;
  });
  await assert.rejects(resolveCaseInsensitive(store, 'docs/report.doc/x/y'), (e: unknown) => errorCode(e) === 'ENOTDIR');
  const ci = new MemoryStore({ caseInsensitive: true });
  await ci.mkdir('Docs');
  assert.deepEqual((await resolveCaseInsensitive(ci, 'DOCS')).exists, true);
});
