import { RecordLog } from '../../../src/store/record-log.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { link, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readWhole, writeWhole } from '../../../src/store/contract.js';
import { LocalStore } from '../../../src/store/local.js';
import type { FileStore } from '../../../src/store/types.js';
import { errorCode } from '../../../src/store/types.js';

const SECRET = 'TOP SECRET';
const REFUSED = new Set(['ENOENT', 'EACCES', 'EINVAL', 'ENAMETOOLONG', 'ENOTDIR', 'EEXIST', 'EISDIR']);

/** Every operation a client could aim at a path. */
function operations(store: FileStore, p: string): [string, () => Promise<unknown>][] {
  return [
    ['stat', () => store.stat(p)],
    ['readdir', () => store.readdir(p)],
    ['open read', () => store.open(p, { write: false })],
    ['open write', () => store.open(p, { write: true, create: 'always', truncate: true })],
    ['open new', () => store.open(p, { write: true, create: 'new' })],
    ['open stream', () => store.open(p, { write: true, create: 'always', stream: 'evil' })],
    ['read stream', () => store.open(p, { write: false, stream: 'evil' })],
    ['list streams', () => store.listStreams?.(p) ?? Promise.reject(Object.assign(new Error(), { code: 'ENOENT' }))],
    ['delete stream', () => store.deleteStream?.(p, 'evil') ?? Promise.reject(Object.assign(new Error(), { code: 'ENOENT' }))],
    ['mkdir', () => store.mkdir(p)],
    ['mkdir child', () => store.mkdir(`${p}/child`)],
    ['create child', () => store.open(`${p}/child`, { write: true, create: 'always' })],
    ['rmdir', () => store.rmdir(p)],
    ['unlink', () => store.unlink(p)],
    ['rename from', () => store.rename(p, 'stolen', { replace: true })],
    ['rename onto', () => store.rename('bait.txt', p, { replace: true })],
    ['rename into', () => store.rename('bait.txt', `${p}/bait.txt`, { replace: true })],
    ['set times', () => store.setTimes(p, { mtimeMs: 0, birthtimeMs: 0 })],
    ['set attributes', () => store.setAttributes(p, 0x7)],
  ];
}

async function snapshot(dir: string): Promise<string> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of (await readdir(d, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        out.push(`${p}/`);
        await walk(p);
      } else if (e.isFile()) {
        const s = await stat(p);
        out.push(`${p} ${s.size} ${s.mtimeMs} ${(await readFile(p)).toString('hex')}`);
      } else {
        out.push(`${p} ->`);
      }
    }
  };
  await walk(dir);
  return out.join('\n');
}

test('LocalStore stays inside its root: symlinks, hard links and evil paths', async () => {
  const top = await mkdtemp(join(tmpdir(), 'smbkit-escape-'));
  try {
    const share = join(top, 'share');
    await mkdir(share);
    await writeFile(join(top, 'secret'), SECRET);
    await mkdir(join(top, 'secretdir'));
    await writeFile(join(top, 'secretdir', 'inner'), SECRET);
    await writeFile(join(share, 'inside.txt'), 'inside');
    await mkdir(join(share, 'sub'));
    await symlink('../secret', join(share, 'link-secret'));
    await symlink('/etc/passwd', join(share, 'link-passwd'));
    await symlink('../secretdir', join(share, 'link-dir'));
    await symlink('/etc', join(share, 'link-etc'));
    await symlink('../does-not-exist', join(share, 'dangling'));
    await symlink('inside.txt', join(share, 'link-inside'));
    await symlink('sub', join(share, 'link-sub'));
    await symlink('../../secret', join(share, 'sub', 'deep-secret'));
    let hardLinked = true;
    try {
      await link(join(top, 'secret'), join(share, 'hard'));
    } catch {
      hardLinked = false;
    }

    const store = new LocalStore(share);
    await writeWhole(store, 'x', 'x');
    await store.setAttributes('x', 0x2); // makes the sidecar
    await store.unlink('x');
    await symlink('.smbkit', join(share, 'link-meta'));
    await symlink('../.smbkit/meta', join(share, 'sub', 'link-meta-deep'));
    await symlink('..', join(share, 'sub', 'link-root'));
    const before = await snapshot(join(top, 'secretdir')) + (await readFile(join(top, 'secret'), 'utf8'));
    const secretStat = await stat(join(top, 'secret'));

    // Only what is inside is listed.
    const listed = (await store.readdir('')).map((e) => e.name).sort();
    assert.deepEqual(listed, ['inside.txt', 'link-inside', 'link-sub', 'sub', ...(hardLinked ? ['hard'] : [])].sort());
    assert.deepEqual((await store.readdir('sub')).map((e) => e.name), ['link-root']);
    assert.deepEqual((await store.readdir('sub/link-root')).map((e) => e.name).sort(), listed);
    // Links that stay inside work.
    assert.equal((await readWhole(store, 'link-inside')).toString(), 'inside');
    assert.equal((await store.stat('link-sub')).type, 'directory');
    assert.equal((await store.stat('link-inside')).fileId, (await store.stat('inside.txt')).fileId);

    const evil = [
      'link-secret',
      'link-passwd',
      'link-dir',
      'link-dir/inner',
      'link-etc',
      'link-etc/passwd',
      'dangling',
      'sub/deep-secret',
      'link-sub/deep-secret',
      'link-meta',
      'link-meta/meta',
      'sub/link-meta-deep',
      'sub/link-root/.smbkit',
      'sub/link-root/.SMBKIT/meta',
      'sub/link-root/../secret',
      '..',
      '../secret',
      'a/../../secret',
      'sub/../../secret',
      'sub/../..',
      '/etc/passwd',
      '//etc/passwd',
      '/',
      '.',
      'sub/.',
      '.smbkit',
      '.smbkit/meta',
      '.SMBKIT/streams',
      '.smbKit',
      'sub\\..\\..\\secret',
      '..\\secret',
      'inside.txt\0/../secret',
      '\0',
      'x'.repeat(300),
      `sub/${'y'.repeat(256)}`,
      `${'z/'.repeat(2000)}z`,
    ];
    await writeFile(join(share, 'bait.txt'), 'bait');
    for (const p of evil) {
      for (const [op, run] of operations(store, p)) {
        let outcome: string;
        try {
          const r = await run();
          if (r !== null && typeof r === 'object' && 'close' in r) await (r as { close(): Promise<void> }).close();
          outcome = 'ok';
        } catch (err) {
          outcome = errorCode(err) ?? String(err);
        }
        assert.ok(REFUSED.has(outcome), `${op} ${JSON.stringify(p.slice(0, 40))} gave ${outcome}`);
      }
      await writeFile(join(share, 'bait.txt'), 'bait');
    }

    // Nothing outside changed, and the links are still there.
    assert.equal(await snapshot(join(top, 'secretdir')) + (await readFile(join(top, 'secret'), 'utf8')), before);
    assert.equal((await stat(join(top, 'secret'))).mtimeMs, secretStat.mtimeMs);
    assert.deepEqual((await readdir(top)).sort(), ['secret', 'secretdir', 'share']);
    assert.ok((await readdir(share)).includes('link-secret'));
    // The sidecar still holds only what the store put there.
    const records = new RecordLog(join(share, '.smbkit', 'records.jsonl'), true);
    records.load();
    assert.equal(records.size, 0);
    assert.deepEqual((await readdir(join(share, '.smbkit'))).filter((n) => n !== 'records.jsonl'), ['streams']);

    if (hardLinked) {
      // A hard link is a file of the share (it was put there from outside); removing it leaves the other name.
      assert.equal((await store.stat('hard')).type, 'file');
      await store.unlink('hard');
      assert.equal(await readFile(join(top, 'secret'), 'utf8'), SECRET);
    }
    // Removing an inside link removes the link, not its target.
    await store.unlink('link-inside');
    assert.equal(await readFile(join(share, 'inside.txt'), 'utf8'), 'inside');
    await store.rmdir('link-sub');
    assert.equal((await stat(join(share, 'sub'))).isDirectory(), true);
    await store.close();
  } finally {
    await rm(top, { recursive: true, force: true });
  }
});
