/**
 * The client library against smbkit's own server in-process: every Share/FileHandle call for each dialect,
 * signed and encrypted; error mappings; stream round trips with checksums; long listings; URL parsing.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile as readLocal, rm as rmLocal, writeFile as writeLocal } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { connect, parseSmbUrl, SmbError, type Client, type DialectName } from '../../../src/index.js';
import { MemoryStore } from '../../../src/store/memory.js';
import { startTestServer, TEST_PASSWORD, TEST_USER, type TestServer } from '../../support/raw-client.js';

const DIALECTS: DialectName[] = ['2.0.2', '2.1', '3.0', '3.0.2', '3.1.1'];

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

async function exercise(c: Client, dir: string): Promise<void> {
  const s = c.share();
  await s.mkdir(`${dir}/sub/deeper`, { recursive: true });
  assert.equal(await s.mkdir(`${dir}/sub`, { recursive: true }), undefined);
  await s.writeFile(`${dir}/a.txt`, 'hello world');
  assert.equal(await s.readFile(`${dir}/a.txt`, 'utf8'), 'hello world');
  await s.appendFile(`${dir}/a.txt`, '!');
  assert.equal(await s.readFile(`${dir}/a.txt`, 'utf8'), 'hello world!');
  const big = randomBytes(3 * 1024 * 1024 + 17);
  await s.writeFile(`${dir}/big.bin`, big);
  assert.equal(sha(await s.readFile(`${dir}/big.bin`)), sha(big));
  await s.writeFile(`${dir}/empty`, Buffer.alloc(0));
  assert.equal((await s.readFile(`${dir}/empty`)).length, 0);

  const st = await s.stat(`${dir}/big.bin`);
  assert.equal(st.size, big.length);
  assert.ok(st.isFile() && !st.isDirectory());
  assert.ok(st.mtime instanceof Date && st.mtimeMs > 0);
  assert.ok((await s.stat(`${dir}/sub`)).isDirectory());
  assert.equal(await s.exists(`${dir}/a.txt`), true);
  assert.equal(await s.exists(`${dir}/nope`), false);

  assert.deepEqual((await s.readdir(dir)).sort(), ['a.txt', 'big.bin', 'empty', 'sub']);
  const ents = await s.readdir(dir, { withFileTypes: true });
  const byName = new Map(ents.map((e) => [e.name, e]));
  assert.ok(byName.get('sub')!.isDirectory());
  assert.ok(byName.get('big.bin')!.isFile());
  assert.equal(byName.get('big.bin')!.stats.size, big.length);

  await s.rename(`${dir}/a.txt`, `${dir}/sub/b.txt`);
  assert.equal(await s.exists(`${dir}/a.txt`), false);
  assert.equal(await s.readFile(`${dir}/sub/b.txt`, 'utf8'), 'hello world!');
  await s.writeFile(`${dir}/c.txt`, 'replacement');
  await s.rename(`${dir}/c.txt`, `${dir}/sub/b.txt`);
  assert.equal(await s.readFile(`${dir}/sub/b.txt`, 'utf8'), 'replacement');

  const h = await s.open(`${dir}/h.bin`, 'w+');
  try {
    const w = await h.write(Buffer.from('0123456789'), 0, 10, 0);
    assert.equal(w.bytesWritten, 10);
    await h.write(Buffer.from('abc'), 0, 3, 20);
    const buf = Buffer.alloc(30);
    const r = await h.read(buf, 0, 30, 0);
    assert.equal(r.bytesRead, 23);
    assert.equal(buf.subarray(0, 10).toString(), '0123456789');
    assert.ok(buf.subarray(10, 20).equals(Buffer.alloc(10)));
    assert.equal(buf.subarray(20, 23).toString(), 'abc');
    assert.equal((await h.stat()).size, 23);
    await h.truncate(5);
    assert.equal((await h.stat()).size, 5);
    const r2 = await h.read(Buffer.alloc(10), 0, 10, 100);
    assert.equal(r2.bytesRead, 0);
  } finally {
    await h.close();
  }
  assert.equal(await s.readFile(`${dir}/h.bin`, 'utf8'), '01234');

  await s.rm(`${dir}/big.bin`);
  await assert.rejects(s.rm(`${dir}/big.bin`), { code: 'ENOENT' });
  await s.rm(`${dir}/big.bin`, { force: true });
  await s.rm(dir, { recursive: true });
  assert.equal(await s.exists(dir), false);
}

describe('client against smbkit (signed)', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startTestServer({ encryption: 'off' });
  });
  after(async () => srv?.stop());

  for (const d of DIALECTS) {
    test(`every API call on ${d}, signed`, async () => {
      const c = await connect(`smb://${TEST_USER}:${TEST_PASSWORD}@127.0.0.1:${srv.port}/share`, {
        minDialect: d,
        maxDialect: d,
        signing: 'required',
        timeoutMs: 20_000,
      });
      try {
        assert.equal(c.info.dialect, d);
        assert.equal(c.info.signing, true);
        assert.equal(c.info.encryption, false);
        await exercise(c, `dir-${d}`);
      } finally {
        await c.close();
      }
    });
  }
});

describe('client against smbkit (encrypted)', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startTestServer({ encryption: 'desired' });
  });
  after(async () => srv?.stop());

  const cases: { d: DialectName; ciphers?: ('aes-128-gcm' | 'aes-128-ccm' | 'aes-256-gcm' | 'aes-256-ccm')[] }[] = [
    { d: '3.0' },
    { d: '3.0.2' },
    { d: '3.1.1' },
    { d: '3.1.1', ciphers: ['aes-128-ccm'] },
    { d: '3.1.1', ciphers: ['aes-256-gcm'] },
    { d: '3.1.1', ciphers: ['aes-256-ccm'] },
  ];
  for (const k of cases) {
    test(`every API call on ${k.d} encrypted (${k.ciphers?.[0] ?? 'default cipher'})`, async () => {
      const c = await connect(
        { host: '127.0.0.1', port: srv.port, share: 'share', user: TEST_USER, password: TEST_PASSWORD },
        { minDialect: k.d, maxDialect: k.d, encryption: 'required', timeoutMs: 20_000, ...(k.ciphers ? { ciphers: k.ciphers } : {}) },
      );
      try {
        assert.equal(c.info.encryption, true);
        if (k.ciphers) assert.equal(c.info.cipher, k.ciphers[0]);
        else if (k.d !== '3.1.1') assert.equal(c.info.cipher, 'aes-128-ccm');
        await exercise(c, `enc-${k.d}-${k.ciphers?.[0] ?? 'x'}`);
      } finally {
        await c.close();
      }
    });
  }

  test('a server that encrypts sessions is followed even with encryption "off"', async () => {
    const c = await connect({ host: '127.0.0.1', port: srv.port, share: 'share', user: TEST_USER, password: TEST_PASSWORD, maxDialect: '3.1.1' });
    try {
      assert.equal(c.info.encryption, true);
      await c.share().writeFile('follow.txt', 'x');
      assert.equal(await c.share().readFile('follow.txt', 'utf8'), 'x');
    } finally {
      await c.close();
    }
  });

  test('encryption "required" on 2.1 fails clearly', async () => {
    await assert.rejects(
      connect({ host: '127.0.0.1', port: srv.port, user: TEST_USER, password: TEST_PASSWORD, maxDialect: '2.1', encryption: 'required' }),
      /encryption required/,
    );
  });
});

describe('client errors, listings and streams (smbkit)', () => {
  let srv: TestServer;
  let c: Client;
  before(async () => {
    srv = await startTestServer({
      shares: [
        { name: 'share', store: new MemoryStore() },
        { name: 'ro', store: new MemoryStore(), readOnly: true },
      ],
    });
    c = await connect(`smb://${TEST_USER}:${encodeURIComponent(TEST_PASSWORD)}@127.0.0.1:${srv.port}/share`, { timeoutMs: 30_000 });
  });
  after(async () => {
    await c?.close();
    await srv?.stop();
  });

  test('errors carry the NTSTATUS name, the UNC path and a Node-style code', async () => {
    const s = c.share();
    await s.mkdir('e');
    await s.writeFile('e/f.txt', 'x');
    const cases: [() => Promise<unknown>, string, string][] = [
      [() => s.stat('e/missing.txt'), 'ENOENT', 'STATUS_OBJECT_NAME_NOT_FOUND'],
      [() => s.readFile('nodir/x.txt'), 'ENOENT', 'STATUS_OBJECT_PATH_NOT_FOUND'],
      [() => s.mkdir('e'), 'EEXIST', 'STATUS_OBJECT_NAME_COLLISION'],
      [() => s.writeFile('e/f.txt', 'y', { flag: 'wx' }), 'EEXIST', 'STATUS_OBJECT_NAME_COLLISION'],
      [() => s.readdir('e/f.txt'), 'ENOTDIR', 'STATUS_NOT_A_DIRECTORY'],
      [() => s.readFile('e'), 'EISDIR', 'STATUS_FILE_IS_A_DIRECTORY'],
      [() => s.rmdir('e'), 'ENOTEMPTY', 'STATUS_DIRECTORY_NOT_EMPTY'],
      [() => s.rm('e'), 'EISDIR', 'STATUS_FILE_IS_A_DIRECTORY'],
      [() => c.share('ro').writeFile('x.txt', 'x'), 'EACCES', 'STATUS_ACCESS_DENIED'],
      [() => c.share('nosuchshare').readdir('/'), 'ENOENT', 'STATUS_BAD_NETWORK_NAME'],
    ];
    for (const [p, code, name] of cases) {
      await assert.rejects(p(), (e: unknown) => {
        assert.ok(e instanceof SmbError, `expected SmbError, got ${String(e)}`);
        assert.equal(e.code, code, e.message);
        assert.equal(e.statusName, name);
        assert.ok(e.message.startsWith(`${name}: \\\\127.0.0.1\\`), e.message);
        return true;
      });
    }
    const e = (await s.stat("e/missing.txt").catch((x: unknown) => x)) as SmbError;
    assert.equal(e.message, 'STATUS_OBJECT_NAME_NOT_FOUND: \\\\127.0.0.1\\share\\e\\missing.txt');
    assert.equal(e.path, '\\\\127.0.0.1\\share\\e\\missing.txt');
    await s.rm('e', { recursive: true });
  });

  test('FileHandle.lock/unlock: a taken range is EAGAIN at once, or waited for; unlocking twice is ENOLCK', async () => {
    const s = c.share();
    await s.writeFile('lk.txt', 'x'.repeat(100));
    const h1 = await s.open('lk.txt', 'r+');
    const h2 = await s.open('lk.txt', 'r+');
    try {
      await h1.lock(0, 10);
      await assert.rejects(h2.lock(5, 1, { exclusive: false }), (e: unknown) => e instanceof SmbError && e.code === 'EAGAIN' && e.statusName === 'STATUS_LOCK_NOT_GRANTED');
      const waiting = h2.lock(5, 1, { wait: true });
      await h1.unlock(0, 10);
      await waiting;
      await h2.unlock(5, 1);
      await assert.rejects(h2.unlock(5, 1), (e: unknown) => e instanceof SmbError && e.code === 'ENOLCK');
    } finally {
      await h1.close();
      await h2.close();
    }
  });

  test('a wrong password is STATUS_LOGON_FAILURE / EACCES', async () => {
    await assert.rejects(connect({ host: '127.0.0.1', port: srv.port, user: TEST_USER, password: 'wrong' }), {
      code: 'EACCES',
      statusName: 'STATUS_LOGON_FAILURE',
    });
  });

  test('listShares lists IPC$ and the share (srvsvc; more in list-shares.test.ts)', async () => {
    const names = (await c.listShares()).map((x) => x.name).sort();
    assert.deepEqual(names, ['IPC$', 'ro', 'share']);
  });

  test('readdir returns every entry of a large directory', async () => {
    const s = c.share();
    await s.mkdir('many');
    const n = 3000;
    const names = Array.from({ length: n }, (_, i) => `file-with-a-longish-name-${String(i).padStart(5, '0')}.txt`);
    for (let i = 0; i < n; i += 100) await Promise.all(names.slice(i, i + 100).map((x) => s.writeFile(`many/${x}`, '')));
    const listed = await s.readdir('many');
    assert.equal(listed.length, n);
    assert.deepEqual(listed.sort(), [...names].sort());
    await s.rm('many', { recursive: true });
  });

  for (const size of [0, 1, 64 * 1024, 8 * 1024 * 1024 + 1, 32 * 1024 * 1024]) {
    test(`stream round trip of ${size} bytes keeps its checksum`, async () => {
      const s = c.share();
      const data = randomBytes(size);
      // Odd-sized source chunks exercise the write stream's re-chunking.
      const pieces = function* () {
        for (let i = 0; i < data.length; i += 100_003) yield data.subarray(i, i + 100_003);
      };
      await pipeline(Readable.from(pieces()), s.createWriteStream(`stream-${size}.bin`));
      assert.equal((await s.stat(`stream-${size}.bin`)).size, size);
      const h = createHash('sha256');
      let got = 0;
      await pipeline(
        s.createReadStream(`stream-${size}.bin`),
        new Writable({
          write(chunk: Buffer, _e, cb) {
            got += chunk.length;
            h.update(chunk);
            // A slow consumer: backpressure must hold the reads, not lose data.
            if (got % 7 === 0) setTimeout(cb, 1);
            else cb();
          },
        }),
      );
      assert.equal(got, size);
      assert.equal(h.digest('hex'), sha(data));
      assert.equal(sha(await s.readFile(`stream-${size}.bin`)), sha(data));
      await s.rm(`stream-${size}.bin`);
    });
  }

  test('download and upload move files of 0 B to 20 MiB intact, with progress up to the size', async () => {
    const s = c.share();
    const dir = await mkdtemp(join(tmpdir(), 'smbkit-transfer-'));
    try {
      for (const size of [0, 1, 65_537, 20 * 1024 * 1024 + 5]) {
        const data = randomBytes(size);
        const src = join(dir, `src-${size}`);
        await writeLocal(src, data);
        const seen: number[] = [];
        assert.equal(await s.upload(src, `up-${size}.bin`, { onProgress: (n) => seen.push(n) }), size);
        assert.equal(sha(await s.readFile(`up-${size}.bin`)), sha(data));
        assert.equal(Math.max(0, ...seen), size);
        // download replaces a longer local file entirely
        const dst = join(dir, `dst-${size}`);
        await writeLocal(dst, Buffer.alloc(size + 1000, 7));
        assert.equal(await s.download(`up-${size}.bin`, dst), size);
        assert.equal(sha(await readLocal(dst)), sha(data));
        await s.rm(`up-${size}.bin`);
      }
      await assert.rejects(s.download('missing.bin', join(dir, 'x')), { code: 'ENOENT' });
      await assert.rejects(s.upload(join(dir, 'missing-local'), 'x.bin'), { code: 'ENOENT' });
    } finally {
      await rmLocal(dir, { recursive: true, force: true });
    }
  });

  test('read stream ranges are inclusive like fs', async () => {
    const s = c.share();
    await s.writeFile('range.txt', '0123456789');
    const chunks: Buffer[] = [];
    for await (const chunk of s.createReadStream('range.txt', { start: 2, end: 5 })) chunks.push(chunk as Buffer);
    assert.equal(Buffer.concat(chunks).toString(), '2345');
  });

  test('a read stream of a missing file errors with ENOENT', async () => {
    await assert.rejects(pipeline(c.share().createReadStream('nope.bin'), new Writable({ write: (_c, _e, cb) => cb() })), { code: 'ENOENT' });
  });

  test('close() closes open handles and fails later calls', async () => {
    const c2 = await connect({ host: '127.0.0.1', port: srv.port, share: 'share', user: TEST_USER, password: TEST_PASSWORD });
    const h = await c2.share().open('open-at-close.txt', 'w');
    await h.write(Buffer.from('x'));
    await c2.close();
    await c2.close();
    await assert.rejects(h.write(Buffer.from('y')), { code: 'EBADF' });
    assert.throws(() => c2.share('share'), { code: 'ECONNRESET' });
    assert.equal(await c.share().readFile('open-at-close.txt', 'utf8'), 'x');
  });
});

test('smb:// URLs parse with domain, port, escapes and share', () => {
  assert.deepEqual(parseSmbUrl('smb://DOM;bob:p%40ss@host.example:1445/data/sub'), {
    host: 'host.example',
    port: 1445,
    domain: 'DOM',
    user: 'bob',
    password: 'p@ss',
    share: 'data',
  });
  assert.deepEqual(parseSmbUrl('smb://10.0.0.1/'), { host: '10.0.0.1' });
  assert.throws(() => parseSmbUrl('http://x/y'), TypeError);
});
