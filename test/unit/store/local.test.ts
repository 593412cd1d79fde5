import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readWhole, runStoreContract, writeWhole } from '../../../src/store/contract.js';
import { LocalStore, METADATA_DIR } from '../../../src/store/local.js';
import { errorCode } from '../../../src/store/types.js';
import { RecordLog } from '../../../src/store/record-log.js';

/** The records left in a store's record log, read as a new store would. */
function liveRecords(root: string): number {
  const log = new RecordLog(join(root, METADATA_DIR, 'records.jsonl'), true);
  log.load();
  return log.size;
}

async function tempRoot(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'smbkit-store-'));
}

runStoreContract('LocalStore', async () => {
  const root = await tempRoot();
  return { store: new LocalStore(root), cleanup: () => rm(root, { recursive: true, force: true }) };
});

test('LocalStore: attributes, birth time and streams persist across store instances', async () => {
  const root = await tempRoot();
  try {
    const a = new LocalStore(root);
    await writeWhole(a, 'f', 'data');
    await a.setAttributes('f', 0x27);
    await a.setTimes('f', { birthtimeMs: 946684800000 });
    await writeWhole(a, 'f', 'stream', 'S');
    await a.close();
    const b = new LocalStore(root);
    const st = await b.stat('f');
    assert.equal(st.dosAttributes, 0x27);
    assert.equal(st.birthtimeMs, 946684800000);
    assert.equal((await readWhole(b, 'f', 's')).toString(), 'stream');
    assert.deepEqual((await b.readdir('')).map((e) => e.name), ['f']);
    // The sidecar exists on disk but is unreachable.
    assert.ok((await readdir(root)).includes(METADATA_DIR));
    for (const p of [METADATA_DIR, `${METADATA_DIR}/meta`, '.SMBKIT', '.SmbKit/streams']) {
      await assert.rejects(b.stat(p), (e: unknown) => errorCode(e) === 'EACCES');
      await assert.rejects(b.open(p, { write: true, create: 'always' }), (e: unknown) => errorCode(e) === 'EACCES');
    }
    await b.unlink('f');
    await b.close();
    assert.equal(liveRecords(root), 0);
    assert.deepEqual(await readdir(join(root, METADATA_DIR, 'streams')), []);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('LocalStore: a record left by a file deleted outside the store does not stick to a new file', async () => {
  const root = await tempRoot();
  try {
    const store = new LocalStore(root);
    await writeWhole(store, 'f', 'x');
    await store.setAttributes('f', 0x2);
    const ino = (await stat(join(root, 'f'), { bigint: true })).ino;
    await unlink(join(root, 'f'));
    // Recreate files until one lands on the same inode number (ext4/tmpfs reuse them quickly).
    for (let i = 0; i < 50; i++) {
      await writeFile(join(root, `g${i}`), 'y');
      const st = await store.stat(`g${i}`);
      if (st.fileId === ino) {
        const real = await stat(join(root, `g${i}`), { bigint: true });
        if (real.birthtimeNs !== 0n) assert.equal(st.dosAttributes, 0x20);
        break;
      }
    }
    await store.close();
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('LocalStore: read-only stores refuse changes with EROFS and still read', async () => {
  const root = await tempRoot();
  try {
    await writeFile(join(root, 'f'), 'content');
    const store = new LocalStore(root, { readOnly: true });
    assert.equal((await readWhole(store, 'f')).toString(), 'content');
    const h = await store.open('f', { write: false, create: 'always' });
    await h.close();
    for (const p of [
      () => store.mkdir('d'),
      () => store.unlink('f'),
      () => store.rename('f', 'g', { replace: false }),
      () => store.open('f', { write: true }),
      () => store.open('g', { write: false, create: 'always' }),
      () => store.setAttributes('f', 1),
      () => store.setTimes('f', { mtimeMs: 0 }),
    ]) {
      await assert.rejects(p(), (e: unknown) => errorCode(e) === 'EROFS');
    }
    assert.deepEqual(await readdir(root), ['f']);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('LocalStore: fifos and sockets are not served', async () => {
  const root = await tempRoot();
  try {
    const { execFileSync } = await import('node:child_process');
    try {
      execFileSync('mkfifo', [join(root, 'fifo')]);
    } catch {
      return;
    }
    const store = new LocalStore(root);
    assert.deepEqual(await store.readdir(''), []);
    await assert.rejects(store.open('fifo', { write: false }), (e: unknown) => errorCode(e) === 'ENOENT' || errorCode(e) === 'EACCES');
    await store.close();
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('LocalStore: security descriptors persist across store instances; read-only stores refuse to set them', async () => {
  const root = await tempRoot();
  try {
    const sd = Buffer.from('0100048014000000', 'hex');
    const a = new LocalStore(root);
    await a.mkdir('d');
    await a.setSecurity('d', sd);
    await a.close();
    const b = new LocalStore(root);
    assert.deepEqual(await b.getSecurity('d'), sd);
    assert.deepEqual((await b.readdir('')).map((e) => e.name), ['d']);
    const ro = new LocalStore(root, { readOnly: true });
    assert.deepEqual(await ro.getSecurity('d'), sd);
    await assert.rejects(ro.setSecurity('d', sd), (e: unknown) => errorCode(e) === 'EROFS');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('LocalStore: records of the older one-file-per-inode layout are moved into the record log', async () => {
  const root = await tempRoot();
  try {
    await writeFile(join(root, 'f'), 'x');
    const st = await stat(join(root, 'f'), { bigint: true });
    await mkdir(join(root, METADATA_DIR, 'meta'), { recursive: true });
    await writeFile(join(root, METADATA_DIR, 'meta', `${st.ino}.json`), JSON.stringify({ btime: String(st.birthtimeNs), attributes: 0x2 }));
    await writeFile(join(root, METADATA_DIR, 'meta', '12345.json'), '{torn');
    const store = new LocalStore(root);
    assert.equal((await store.stat('f')).dosAttributes, 0x2);
    await store.close();
    await assert.rejects(readdir(join(root, METADATA_DIR, 'meta')), (e: unknown) => errorCode(e) === 'ENOENT');
    assert.equal(liveRecords(root), 1);
    assert.equal((await new LocalStore(root).stat('f')).dosAttributes, 0x2);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('RecordLog: the last line of an inode wins, a torn line is skipped, dead lines are compacted away', async () => {
  const root = await tempRoot();
  try {
    const file = join(root, 'records.jsonl');
    const log = new RecordLog<{ n: number }>(file, false);
    log.load();
    for (let i = 0; i < 3000; i++) log.set(BigInt(i % 10), { n: i });
    log.set(3n, undefined);
    log.close();
    await appendFile(file, '{"i":"7","m":{"n":');
    const again = new RecordLog<{ n: number }>(file, true);
    again.load();
    assert.equal(again.size, 9);
    assert.equal(again.get(3n), undefined);
    assert.deepEqual(again.get(7n), { n: 2997 });
    assert.ok((await readFile(file, 'utf8')).split('\n').length < 2000, 'compacted');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('RecordLog, shared: each process reads what the others appended, whole lines only', async () => {
  const root = await tempRoot();
  const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
  try {
    const file = join(root, 'records.jsonl');
    const a = new RecordLog<{ n: number | string }>(file, false, true);
    const b = new RecordLog<{ n: number | string }>(file, false, true);
    a.load();
    b.load();
    assert.equal(b.get(1n), undefined);
    a.set(1n, { n: 1 });
    await turn();
    assert.deepEqual(b.get(1n), { n: 1 });
    // A line being appended is read once it is whole.
    await appendFile(file, '{"i":"2","m":{"n":');
    await turn();
    assert.equal(b.get(2n), undefined);
    await appendFile(file, '2}}\n');
    await turn();
    assert.deepEqual(b.get(2n), { n: 2 });
    // A record longer than the read buffer, then later changes by both.
    const long = 'x'.repeat(100_000);
    b.set(3n, { n: long });
    a.set(1n, undefined);
    await turn();
    assert.equal((a.get(3n)?.n as string).length, long.length);
    assert.equal(b.get(1n), undefined);
    assert.equal(a.size, 2);
    assert.equal(b.size, 2);
    a.close();
    b.close();
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
