import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { FileStore, StoreChange, StoreHandle } from './types.js';
import { errorCode } from './types.js';
import { resolveCaseInsensitive } from './resolve.js';

export interface StoreUnderTest {
  store: FileStore;
  cleanup: () => Promise<void>;
}

/** Writes a whole file (created or truncated) or stream. */
export async function writeWhole(store: FileStore, path: string, data: Buffer | string, stream?: string): Promise<void> {
  const h = await store.open(path, { write: true, create: 'always', truncate: true, ...(stream !== undefined ? { stream } : {}) });
  try {
    await h.write(Buffer.from(data), 0);
  } finally {
    await h.close();
  }
}

/** Reads a whole file or stream. */
export async function readWhole(store: FileStore, path: string, stream?: string): Promise<Buffer> {
  const h = await store.open(path, { write: false, ...(stream !== undefined ? { stream } : {}) });
  try {
    return await readAll(h);
  } finally {
    await h.close();
  }
}

async function readAll(h: StoreHandle): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const buf = Buffer.alloc(4096);
    const n = await h.read(buf, 0, buf.length, pos);
    if (n === 0) break;
    chunks.push(buf.subarray(0, n));
    pos += n;
  }
  return Buffer.concat(chunks);
}

async function rejectsWith(p: Promise<unknown>, code: string, component?: 'parent' | 'leaf'): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.equal(errorCode(err), code, `expected ${code}, got ${String(err)}`);
    if (component !== undefined) assert.equal((err as { component?: unknown }).component, component);
    return true;
  });
}

async function names(store: FileStore, path: string): Promise<string[]> {
  return (await store.readdir(path)).map((e) => e.name).sort();
}

/**
 * The behaviour every FileStore shares (see types.ts), as node:test tests. `makeStore` gives a fresh, empty,
 * writable, case-sensitive store each time.
 */
export function runStoreContract(name: string, makeStore: () => Promise<StoreUnderTest>): void {
  const it = (title: string, body: (store: FileStore) => Promise<void>): void => {
    test(title, async () => {
      const { store, cleanup } = await makeStore();
      try {
        await body(store);
      } finally {
        await store.close?.();
        await cleanup();
      }
    });
  };

  describe(`store contract: ${name}`, () => {
    it('the root is an empty directory', async (store) => {
      const st = await store.stat('');
      assert.equal(st.type, 'directory');
      assert.equal(st.size, 0);
      assert.deepEqual(await store.readdir(''), []);
      assert.equal(store.caseSensitive, true);
    });

    it('creates, writes, reads and stats a file', async (store) => {
      const h = await store.open('a.txt', { write: true, create: 'new' });
      assert.equal(await h.write(Buffer.from('hello world'), 0), 11);
      const hs = await h.stat();
      assert.equal(hs.type, 'file');
      assert.equal(hs.size, 11);
      await h.close();
      const st = await store.stat('a.txt');
      assert.equal(st.type, 'file');
      assert.equal(st.size, 11);
      assert.ok(st.allocationSize >= 11);
      assert.equal(st.fileId, hs.fileId);
      assert.equal(st.nlink, 1);
      assert.equal(st.dosAttributes, 0x20); // ARCHIVE, a new file's default
      for (const t of [st.birthtimeMs, st.mtimeMs, st.atimeMs, st.ctimeMs]) assert.ok(t > 1e12, `time ${t}`);
      assert.equal((await readWhole(store, 'a.txt')).toString(), 'hello world');
    });

    it('reads into an offset of the caller buffer, and returns 0 at or past the end', async (store) => {
      await writeWhole(store, 'f', '0123456789');
      const h = await store.open('f', { write: false });
      const buf = Buffer.alloc(8, 0x2e);
      assert.equal(await h.read(buf, 2, 4, 3), 4);
      assert.equal(buf.toString(), '..3456..');
      assert.equal(await h.read(buf, 0, 8, 8), 2);
      assert.equal(await h.read(buf, 0, 8, 10), 0);
      assert.equal(await h.read(buf, 0, 8, 1000), 0);
      await h.close();
    });

    it('writes past the end leave a gap of zeros; truncate shrinks and extends', async (store) => {
      const h = await store.open('f', { write: true, create: 'always' });
      await h.write(Buffer.from('ab'), 0);
      await h.write(Buffer.from('z'), 5);
      assert.deepEqual(await readAll(h), Buffer.from([0x61, 0x62, 0, 0, 0, 0x7a]));
      await h.truncate(1);
      assert.equal((await h.stat()).size, 1);
      await h.truncate(4);
      assert.deepEqual(await readAll(h), Buffer.from([0x61, 0, 0, 0]));
      await h.sync();
      await h.close();
      assert.equal((await store.stat('f')).size, 4);
    });

    it('open dispositions: never, always, new, truncate', async (store) => {
      await rejectsWith(store.open('missing', { write: false }), 'ENOENT', 'leaf');
      await rejectsWith(store.open('missing', { write: true, create: 'never' }), 'ENOENT');
      await writeWhole(store, 'f', 'content');
      await rejectsWith(store.open('f', { write: true, create: 'new' }), 'EEXIST');
      const h = await store.open('f', { write: true, create: 'always' });
      assert.equal((await h.stat()).size, 7, 'always keeps existing data');
      await h.close();
      const t = await store.open('f', { write: true, create: 'never', truncate: true });
      assert.equal((await t.stat()).size, 0);
      await t.close();
      await rejectsWith(store.open('f', { write: false, truncate: true }), 'EINVAL');
    });

    it('open errors: missing parent, parent is a file, directories', async (store) => {
      await writeWhole(store, 'file', 'x');
      await store.mkdir('dir');
      await rejectsWith(store.open('nodir/f', { write: true, create: 'always' }), 'ENOENT', 'parent');
      await rejectsWith(store.open('file/f', { write: true, create: 'always' }), 'ENOTDIR');
      await rejectsWith(store.open('dir', { write: false }), 'EISDIR');
      await rejectsWith(store.open('dir', { write: true, create: 'always' }), 'EISDIR');
      await rejectsWith(store.open('dir', { write: true, create: 'new' }), 'EEXIST');
      await rejectsWith(store.open('', { write: false }), 'EISDIR');
      await rejectsWith(store.stat('nodir/f'), 'ENOENT', 'parent');
      await rejectsWith(store.stat('dir/f'), 'ENOENT', 'leaf');
    });

    it('handles: read-only handles refuse writes, closed handles refuse everything, close is idempotent', async (store) => {
      await writeWhole(store, 'f', 'x');
      const h = await store.open('f', { write: false });
      await rejectsWith(h.write(Buffer.from('y'), 0), 'EBADF');
      await rejectsWith(h.truncate(0), 'EBADF');
      await h.close();
      await h.close();
      await rejectsWith(h.read(Buffer.alloc(1), 0, 1, 0), 'EBADF');
      await rejectsWith(h.stat(), 'EBADF');
    });

    it('a handle follows its file across rename and outlives unlink', async (store) => {
      await store.mkdir('d');
      const h = await store.open('a', { write: true, create: 'new' });
      await store.rename('a', 'd/b', { replace: false });
      await h.write(Buffer.from('moved'), 0);
      assert.equal((await readWhole(store, 'd/b')).toString(), 'moved');
      await store.unlink('d/b');
      await h.write(Buffer.from('!'), 5);
      assert.equal((await readAll(h)).toString(), 'moved!');
      await h.close();
      await rejectsWith(store.stat('d/b'), 'ENOENT');
    });

    it('mkdir and readdir', async (store) => {
      await store.mkdir('d');
      await store.mkdir('d/e');
      await writeWhole(store, 'd/f', 'abc');
      const entries = (await store.readdir('d')).sort((a, b) => a.name.localeCompare(b.name));
      assert.deepEqual(
        entries.map((e) => [e.name, e.stat.type, e.stat.size]),
        [
          ['e', 'directory', 0],
          ['f', 'file', 3],
        ],
      );
      assert.equal(entries[1]?.stat.fileId, (await store.stat('d/f')).fileId);
      assert.equal((await store.stat('d')).type, 'directory');
      await rejectsWith(store.mkdir('d'), 'EEXIST');
      await rejectsWith(store.mkdir('d/f'), 'EEXIST');
      await rejectsWith(store.mkdir(''), 'EEXIST');
      await rejectsWith(store.mkdir('x/y'), 'ENOENT', 'parent');
      await rejectsWith(store.mkdir('d/f/y'), 'ENOTDIR');
      await rejectsWith(store.readdir('missing'), 'ENOENT');
      await rejectsWith(store.readdir('d/f'), 'ENOTDIR');
    });

    it('readdirNames lists names without stats, all or a few', async (store) => {
      await store.mkdir('d');
      await store.mkdir('d/e');
      await writeWhole(store, 'd/f', 'abc');
      await writeWhole(store, 'top', '');
      assert.deepEqual((await store.readdirNames('d')).sort(), ['e', 'f']);
      assert.deepEqual((await store.readdirNames('')).sort(), ['d', 'top']);
      assert.equal((await store.readdirNames('d', 1)).length, 1);
      assert.deepEqual(await store.readdirNames('d/e', 1), []);
      await rejectsWith(store.readdirNames('missing'), 'ENOENT');
      await rejectsWith(store.readdirNames('d/f', 1), 'ENOTDIR');
    });

    it('rmdir', async (store) => {
      await store.mkdir('d');
      await writeWhole(store, 'd/f', '');
      await rejectsWith(store.rmdir('d'), 'ENOTEMPTY');
      await rejectsWith(store.rmdir('d/f'), 'ENOTDIR');
      await rejectsWith(store.rmdir('nope'), 'ENOENT');
      await rejectsWith(store.rmdir(''), 'EACCES');
      await store.unlink('d/f');
      await store.rmdir('d');
      await rejectsWith(store.stat('d'), 'ENOENT');
      assert.deepEqual(await store.readdir(''), []);
    });

    it('unlink', async (store) => {
      await writeWhole(store, 'f', 'x');
      await store.mkdir('d');
      await rejectsWith(store.unlink('d'), 'EISDIR');
      await rejectsWith(store.unlink('nope'), 'ENOENT');
      await rejectsWith(store.unlink('nope/f'), 'ENOENT', 'parent');
      await store.unlink('f');
      await rejectsWith(store.stat('f'), 'ENOENT');
      assert.deepEqual(await names(store, ''), ['d']);
    });

    it('rename moves files and directories and keeps the file id', async (store) => {
      await store.mkdir('d');
      await store.mkdir('e');
      await writeWhole(store, 'd/f', 'data');
      const id = (await store.stat('d/f')).fileId;
      await store.rename('d/f', 'e/g', { replace: false });
      assert.equal((await store.stat('e/g')).fileId, id);
      assert.equal((await readWhole(store, 'e/g')).toString(), 'data');
      await rejectsWith(store.stat('d/f'), 'ENOENT');
      const dirId = (await store.stat('e')).fileId;
      await store.rename('e', 'd/e2', { replace: false });
      assert.equal((await store.stat('d/e2')).fileId, dirId);
      assert.equal((await readWhole(store, 'd/e2/g')).toString(), 'data');
      assert.deepEqual(await names(store, ''), ['d']);
      await store.rename('d/e2/g', 'd/e2/g', { replace: false });
      assert.equal((await store.stat('d/e2/g')).fileId, id, 'renaming onto itself is a no-op');
    });

    it('rename errors and replace', async (store) => {
      await writeWhole(store, 'a', 'A');
      await writeWhole(store, 'b', 'B');
      await store.mkdir('d');
      await store.mkdir('d/sub');
      const idA = (await store.stat('a')).fileId;
      await rejectsWith(store.rename('a', 'b', { replace: false }), 'EEXIST');
      await rejectsWith(store.rename('a', 'd', { replace: false }), 'EEXIST');
      await rejectsWith(store.rename('a', 'd', { replace: true }), 'EISDIR');
      await rejectsWith(store.rename('d', 'b', { replace: true }), 'ENOTDIR');
      await rejectsWith(store.rename('d', 'd/sub/x', { replace: false }), 'EINVAL');
      await rejectsWith(store.rename('missing', 'x', { replace: false }), 'ENOENT');
      await rejectsWith(store.rename('a', 'missing/x', { replace: false }), 'ENOENT', 'parent');
      await rejectsWith(store.rename('a', 'b/x', { replace: false }), 'ENOTDIR');
      await rejectsWith(store.rename('', 'x', { replace: false }), 'EACCES');
      await store.rename('a', 'b', { replace: true });
      assert.equal((await readWhole(store, 'b')).toString(), 'A');
      assert.equal((await store.stat('b')).fileId, idA);
      assert.deepEqual(await names(store, ''), ['b', 'd']);
    });

    it('sets and keeps times', async (store) => {
      await writeWhole(store, 'f', 'x');
      const birth = Date.UTC(2001, 2, 3, 4, 5, 6, 789);
      const mtime = Date.UTC(2010, 0, 1, 0, 0, 0, 0) + 0.5;
      const atime = Date.UTC(2011, 0, 1);
      await store.setTimes('f', { birthtimeMs: birth, mtimeMs: mtime, atimeMs: atime });
      const st = await store.stat('f');
      assert.equal(st.birthtimeMs, birth);
      assert.ok(Math.abs(st.mtimeMs - mtime) < 0.01, `mtime ${st.mtimeMs}`);
      assert.ok(Math.abs(st.atimeMs - atime) < 0.01, `atime ${st.atimeMs}`);
      await store.setTimes('f', { atimeMs: atime + 1000 });
      const st2 = await store.stat('f');
      assert.ok(Math.abs(st2.mtimeMs - mtime) < 0.01, 'mtime kept when only atime is set');
      assert.equal(st2.birthtimeMs, birth);
      const h = await store.open('f', { write: false });
      assert.equal((await h.stat()).birthtimeMs, birth);
      await h.close();
      await store.mkdir('d');
      await store.setTimes('d', { birthtimeMs: birth });
      assert.equal((await store.stat('d')).birthtimeMs, birth);
      await rejectsWith(store.setTimes('nope', { mtimeMs: 1 }), 'ENOENT');
    });

    it('keeps times before 1970', async (store) => {
      await writeWhole(store, 'old', 'x');
      await store.setTimes('old', { mtimeMs: -1000, birthtimeMs: -2000, atimeMs: -86_400_000 * 365 * 2 });
      const st = await store.stat('old');
      assert.equal(st.mtimeMs, -1000);
      assert.equal(st.birthtimeMs, -2000);
      assert.equal(st.atimeMs, -86_400_000 * 365 * 2);
    });

    it('sets and keeps DOS attributes, without DIRECTORY and NORMAL', async (store) => {
      await writeWhole(store, 'f', 'x');
      await store.mkdir('d');
      await store.setAttributes('f', 0x1 | 0x2 | 0x20 | 0x80);
      assert.equal((await store.stat('f')).dosAttributes, 0x23);
      await store.setAttributes('d', 0x10 | 0x4);
      assert.equal((await store.stat('d')).dosAttributes, 0x4);
      await store.setAttributes('f', 0);
      assert.equal((await store.stat('f')).dosAttributes, 0);
      await store.setAttributes('f', 0x20);
      assert.equal((await store.stat('f')).dosAttributes, 0x20);
      assert.equal((await store.stat('d')).dosAttributes, 0x4);
      await store.mkdir('e');
      assert.equal((await store.stat('e')).dosAttributes, 0);
      await store.setAttributes('', 0x2);
      assert.equal((await store.stat('')).dosAttributes, 0x2);
      await rejectsWith(store.setAttributes('nope', 1), 'ENOENT');
    });

    it('renames a named stream; handles follow it; an existing target needs replace', async (store) => {
      if (!store.renameStream || !store.listStreams) return;
      await writeWhole(store, 'f', 'base');
      await writeWhole(store, 'f', 'one', 'One');
      await writeWhole(store, 'f', 'two', 'Two');
      const h = await store.open('f', { write: true, stream: 'One' });
      await rejectsWith(store.renameStream('f', 'one', 'TWO', { replace: false }), 'EEXIST');
      await rejectsWith(store.renameStream('f', 'missing', 'x', { replace: true }), 'ENOENT');
      await store.renameStream('f', 'one', 'Two', { replace: true });
      const names = (await store.listStreams('f')).map((s) => `${s.name}=${s.size}`).sort();
      assert.deepEqual(names, ['Two=3']);
      await h.write(Buffer.from('ONE'), 0);
      await h.close();
      const r = await store.open('f', { write: false, stream: 'two' });
      const buf = Buffer.alloc(8);
      assert.equal(buf.subarray(0, await r.read(buf, 0, 8, 0)).toString(), 'ONE');
      await r.close();
      // The old name is free again, for a new and empty stream.
      await writeWhole(store, 'f', 'new', 'One');
      assert.deepEqual((await store.listStreams('f')).map((s) => `${s.name}=${s.size}`).sort(), ['One=3', 'Two=3']);
      await store.renameStream('f', 'two', 'TWO', { replace: false });
      assert.deepEqual((await store.listStreams('f')).map((s) => s.name).sort(), ['One', 'TWO']);
    });

    it('keeps the SPARSE_FILE bit the server sets for FSCTL_SET_SPARSE, and the data reads the same', async (store) => {
      await writeWhole(store, 'f', 'data');
      await store.setAttributes('f', 0x20 | 0x200);
      assert.equal((await store.stat('f')).dosAttributes, 0x220);
      await store.rename('f', 'g', { replace: false });
      assert.equal((await store.stat('g')).dosAttributes, 0x220);
      const h = await store.open('g', { write: false });
      const buf = Buffer.alloc(8);
      assert.equal(await h.read(buf, 0, 8, 0), 4);
      assert.equal(buf.subarray(0, 4).toString(), 'data');
      await h.close();
    });

    it('metadata follows rename and dies with unlink', async (store) => {
      await store.mkdir('d');
      await writeWhole(store, 'f', 'x');
      await writeWhole(store, 'f', 'stream data', 'meta');
      await store.setAttributes('f', 0x2);
      await store.setTimes('f', { birthtimeMs: 1e12 });
      await store.rename('f', 'd/g', { replace: false });
      const st = await store.stat('d/g');
      assert.equal(st.dosAttributes, 0x2);
      assert.equal(st.birthtimeMs, 1e12);
      assert.equal((await readWhole(store, 'd/g', 'meta')).toString(), 'stream data');
      await store.unlink('d/g');
      await writeWhole(store, 'd/g', 'new');
      const fresh = await store.stat('d/g');
      assert.equal(fresh.dosAttributes, 0x20);
      assert.notEqual(fresh.birthtimeMs, 1e12);
      await rejectsWith(store.open('d/g', { write: false, stream: 'meta' }), 'ENOENT');
      // A directory's metadata follows it too, and dies with rmdir.
      await store.mkdir('d/sub');
      await store.setAttributes('d/sub', 0x4);
      await store.rename('d/sub', 'sub2', { replace: false });
      assert.equal((await store.stat('sub2')).dosAttributes, 0x4);
      await store.rmdir('sub2');
      await store.mkdir('sub2');
      assert.equal((await store.stat('sub2')).dosAttributes, 0);
    });

    it('replacing a file by rename drops the replaced file metadata', async (store) => {
      await writeWhole(store, 'a', 'A');
      await writeWhole(store, 'b', 'B');
      await store.setAttributes('b', 0x1);
      await writeWhole(store, 'b', 's', 'old');
      await store.rename('a', 'b', { replace: true });
      assert.equal((await store.stat('b')).dosAttributes, 0x20);
      assert.deepEqual(await store.listStreams?.('b'), []);
    });

    it('security descriptors: kept as given, follow rename, die with unlink and rmdir', async (store) => {
      if (!store.getSecurity || !store.setSecurity) return;
      await writeWhole(store, 'f', 'x');
      assert.equal(await store.getSecurity('f'), undefined);
      const sd = Buffer.from([1, 0, 4, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
      await store.setSecurity('f', sd);
      assert.deepEqual(await store.getSecurity('f'), sd);
      const other = Buffer.concat([sd, Buffer.from([9, 9, 9, 9])]);
      await store.setSecurity('f', other);
      await store.mkdir('d');
      await store.rename('f', 'd/g', { replace: false });
      assert.deepEqual(await store.getSecurity('d/g'), other);
      await store.setSecurity('d', sd);
      await store.setSecurity('', other);
      assert.deepEqual(await store.getSecurity(''), other);
      await store.unlink('d/g');
      await writeWhole(store, 'd/g', 'new');
      assert.equal(await store.getSecurity('d/g'), undefined);
      await store.unlink('d/g');
      await store.rmdir('d');
      await store.mkdir('d');
      assert.equal(await store.getSecurity('d'), undefined);
      await rejectsWith(store.getSecurity('nope'), 'ENOENT');
      await rejectsWith(store.setSecurity('nope', sd), 'ENOENT');
      assert.deepEqual(await names(store, ''), ['d']);
    });

    it('extended attributes: kept as given and in order, shown by stat and readdir, follow rename, die with unlink and rmdir', async (store) => {
      if (!store.getEas || !store.setEas) return;
      const plain = (eas: readonly { name: string; value: Buffer; flags: number }[] | undefined) =>
        eas?.map((ea) => [ea.name, ea.value.toString('latin1'), ea.flags]);
      await writeWhole(store, 'f', 'x');
      assert.deepEqual(await store.getEas('f'), []);
      assert.equal((await store.stat('f')).eas, undefined);
      const eas = [
        { name: 'Zeta', value: Buffer.from('1'), flags: 0 },
        { name: 'alpha', value: Buffer.from([0, 0xff, 7]), flags: 0x80 },
      ];
      await store.setEas('f', eas);
      eas[0]!.value[0] = 0x39; // the store keeps its own copy
      assert.deepEqual(plain(await store.getEas('f')), [['Zeta', '1', 0], ['alpha', '\x00\xff\x07', 0x80]]);
      assert.deepEqual(plain((await store.stat('f')).eas), [['Zeta', '1', 0], ['alpha', '\x00\xff\x07', 0x80]]);
      assert.deepEqual(plain((await store.readdir('')).find((e) => e.name === 'f')?.stat.eas), [['Zeta', '1', 0], ['alpha', '\x00\xff\x07', 0x80]]);
      // An open handle's stat sees them too; a big value survives.
      const big = Buffer.alloc(65000, 0x61);
      await store.setEas('f', [{ name: 'BIG', value: big, flags: 0 }]);
      const h = await store.open('f', { write: false });
      assert.deepEqual((await h.stat()).eas?.[0]?.value, big);
      await h.close();
      await store.mkdir('d');
      await store.setEas('d', [{ name: 'onDir', value: Buffer.from('v'), flags: 0 }]);
      await store.rename('f', 'd/g', { replace: false });
      assert.deepEqual((await store.getEas('d/g')).map((e) => e.name), ['BIG']);
      assert.deepEqual(plain(await store.getEas('d')), [['onDir', 'v', 0]]);
      await store.setEas('d/g', []);
      assert.deepEqual(await store.getEas('d/g'), []);
      assert.equal((await store.stat('d/g')).eas, undefined);
      await store.setEas('d/g', [{ name: 'again', value: Buffer.from('1'), flags: 0 }]);
      await store.unlink('d/g');
      await writeWhole(store, 'd/g', 'new');
      assert.deepEqual(await store.getEas('d/g'), []);
      await store.unlink('d/g');
      await store.rmdir('d');
      await store.mkdir('d');
      assert.deepEqual(await store.getEas('d'), []);
      // A file replaced by rename takes the source's attributes, not the replaced file's.
      await writeWhole(store, 'a', '1');
      await writeWhole(store, 'b', '2');
      await store.setEas('b', [{ name: 'old', value: Buffer.from('o'), flags: 0 }]);
      await store.rename('a', 'b', { replace: true });
      assert.deepEqual(await store.getEas('b'), []);
      await rejectsWith(store.getEas('nope'), 'ENOENT');
      await rejectsWith(store.setEas('nope', []), 'ENOENT');
      assert.deepEqual(await names(store, ''), ['b', 'd']);
    });

    it('readdir never shows the store metadata', async (store) => {
      await writeWhole(store, 'f', 'x');
      await writeWhole(store, 'f', 'y', 's');
      await store.setAttributes('f', 0x2);
      await store.setTimes('', { birthtimeMs: 1e12 });
      await store.setAttributes('', 0x2);
      assert.deepEqual(await names(store, ''), ['f']);
    });

    it('named streams: create, read, list, case-insensitive names, delete', async (store) => {
      if (store.listStreams === undefined || store.deleteStream === undefined) return;
      await writeWhole(store, 'f', 'main data');
      await rejectsWith(store.open('f', { write: false, stream: 'nope' }), 'ENOENT');
      const h = await store.open('f', { write: true, create: 'new', stream: 'Zone.Identifier' });
      await h.write(Buffer.from('[ZoneTransfer]'), 0);
      const hs = await h.stat();
      assert.equal(hs.size, 14);
      assert.equal(hs.fileId, (await store.stat('f')).fileId);
      await h.close();
      await rejectsWith(store.open('f', { write: true, create: 'new', stream: 'ZONE.IDENTIFIER' }), 'EEXIST');
      assert.equal((await readWhole(store, 'f', 'zone.identifier')).toString(), '[ZoneTransfer]');
      assert.equal((await readWhole(store, 'f')).toString(), 'main data');
      assert.equal((await store.stat('f')).size, 9, 'streams do not count in the file size');
      await writeWhole(store, 'f', 'second', 'two');
      const list = (await store.listStreams('f')).sort((a, b) => a.name.localeCompare(b.name));
      assert.deepEqual(list, [
        { name: 'two', size: 6 },
        { name: 'Zone.Identifier', size: 14 },
      ]);
      const t = await store.open('f', { write: true, stream: 'two', truncate: true });
      assert.equal((await t.stat()).size, 0);
      await t.close();
      await store.deleteStream('f', 'TWO');
      await rejectsWith(store.deleteStream('f', 'two'), 'ENOENT');
      assert.deepEqual((await store.listStreams('f')).map((s) => s.name), ['Zone.Identifier']);
      await rejectsWith(store.open('f', { write: false, stream: 'a:b' }), 'EINVAL');
      await rejectsWith(store.listStreams('nope'), 'ENOENT');
    });

    it('named streams: on a missing file (created with it) and on directories', async (store) => {
      if (store.listStreams === undefined) return;
      await writeWhole(store, 'new', 'in stream', 's');
      assert.equal((await store.stat('new')).size, 0);
      assert.equal((await readWhole(store, 'new', 's')).toString(), 'in stream');
      await rejectsWith(store.open('nope', { write: false, stream: 's' }), 'ENOENT');
      await store.mkdir('d');
      await writeWhole(store, 'd', 'dir stream', 's');
      assert.equal((await readWhole(store, 'd', 's')).toString(), 'dir stream');
      assert.deepEqual(await store.listStreams('d'), [{ name: 's', size: 10 }]);
      assert.equal((await store.stat('d')).type, 'directory');
    });

    it('file ids are distinct and stable', async (store) => {
      await store.mkdir('d');
      await writeWhole(store, 'a', '');
      await writeWhole(store, 'd/b', '');
      const ids = [await store.stat(''), await store.stat('d'), await store.stat('a'), await store.stat('d/b')].map((s) => s.fileId);
      assert.equal(new Set(ids).size, 4);
      assert.equal((await store.stat('a')).fileId, ids[2]);
      for (const id of ids) assert.equal(typeof id, 'bigint');
    });

    it('rejects invalid paths', async (store) => {
      for (const bad of ['..', 'a/..', '../x', 'a/../b', '/abs', 'a/', 'a//b', '.', './a', 'a\\b', 'nul\0x']) {
        await rejectsWith(store.stat(bad), 'EINVAL');
        await rejectsWith(store.open(bad, { write: true, create: 'always' }), 'EINVAL');
        await rejectsWith(store.mkdir(bad), 'EINVAL');
      }
      await rejectsWith(store.stat('x'.repeat(256)), 'ENAMETOOLONG');
      await rejectsWith(store.open('x'.repeat(256), { write: true, create: 'always' }), 'ENAMETOOLONG');
      await writeWhole(store, 'y'.repeat(255), 'ok');
      assert.equal((await store.stat('y'.repeat(255))).size, 2);
    });

    it('names are case-sensitive and unicode', async (store) => {
      await writeWhole(store, 'Name', '1');
      await writeWhole(store, 'name', '2');
      await writeWhole(store, 'ünïcødé ✓', '3');
      assert.deepEqual(await names(store, ''), ['Name', 'name', 'ünïcødé ✓'].sort());
      assert.equal((await readWhole(store, 'ünïcødé ✓')).toString(), '3');
    });

    it('resolveCaseInsensitive finds the stored spelling', async (store) => {
      await store.mkdir('Dir');
      await writeWhole(store, 'Dir/File.TXT', 'x');
      await writeWhole(store, 'Dir/straße', 'y');
      assert.deepEqual(
        await resolveCaseInsensitive(store, 'dir/file.txt').then((r) => [r.path, r.exists, r.stat?.size]),
        ['Dir/File.TXT', true, 1],
      );
      assert.equal((await resolveCaseInsensitive(store, 'DIR/STRAßE')).path, 'Dir/straße');
      assert.deepEqual(await resolveCaseInsensitive(store, 'DIR/new.txt').then((r) => [r.path, r.exists]), ['Dir/new.txt', false]);
      await rejectsWith(resolveCaseInsensitive(store, 'nodir/x'), 'ENOENT', 'parent');
      await rejectsWith(resolveCaseInsensitive(store, 'dir/file.txt/x'), 'ENOTDIR', 'parent');
      assert.equal((await resolveCaseInsensitive(store, '')).exists, true);
    });

    it('watch (optional) reports additions and removals below the directory, never the store\'s own metadata', async (store) => {
      if (store.watch === undefined) return;
      await store.mkdir('w');
      await store.mkdir('w/sub');
      const seen: StoreChange[] = [];
      const until = async (pred: () => boolean, what: string) => {
        const end = Date.now() + 5000;
        while (!pred()) {
          if (Date.now() > end) assert.fail(`no ${what} within 5 s; saw ${JSON.stringify(seen)}`);
          await new Promise((r) => setTimeout(r, 10));
        }
      };
      const has = (type: StoreChange['type'], path: string) => () => seen.some((c) => c.type === type && c.path === path);
      const root = store.watch('', { recursive: true }, (c) => seen.push(c));
      const inner: StoreChange[] = [];
      const sub = store.watch('w', { recursive: false }, (c) => inner.push(c));
      // A watcher may need a moment to be in place.
      await new Promise((r) => setTimeout(r, 200));
      await writeWhole(store, 'w/f.txt', 'x');
      await until(has('added', 'w/f.txt'), 'addition');
      // A named stream and a security descriptor are kept however the store likes: none of it may show.
      await writeWhole(store, 'w/sub/deep.txt', 'y', 'a-stream');
      await store.setSecurity?.('w/sub/deep.txt', Buffer.from([1, 0, 4, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
      await until(has('added', 'w/sub/deep.txt'), 'addition below a subdirectory');
      await store.unlink('w/f.txt');
      await until(has('removed', 'w/f.txt'), 'removal');
      root.close();
      sub.close();
      const count = seen.length + inner.length;
      await writeWhole(store, 'w/after-close.txt', 'z');
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(seen.length + inner.length, count, 'nothing after close');
      for (const c of seen) assert.ok(!c.path.toLowerCase().startsWith('.smbkit'), `the store's metadata: ${c.path}`);
      for (const c of inner) assert.ok(c.path.startsWith('w/') && !c.path.slice(2).includes('/'), `not an entry of w: ${c.path}`);
      assert.ok(inner.some((c) => c.type === 'added' && c.path === 'w/f.txt'), 'the non-recursive watcher saw its entry');
    });

    it('statfs reports sizes', async (store) => {
      const s = await store.statfs();
      assert.ok(s.totalBytes > 0);
      assert.ok(s.freeBytes >= s.availableBytes && s.availableBytes >= 0);
      assert.ok(s.totalBytes >= s.freeBytes);
      assert.ok(s.blockSize > 0);
    });
  });
}
