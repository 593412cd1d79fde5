/**
 * smbkit's client against a real Samba on 127.0.0.11:445: every dialect signed, 3.x encrypted with CCM and GCM
 * (an encrypt-required share and client-requested encryption), streams from 0 B to 100 MiB checked against the
 * bytes on Samba's disk, long listings, the error mappings, and throughput next to smbclient on the same file.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream as fsReadStream, createWriteStream as fsWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { connect, SmbError, type Client, type CipherName, type DialectName } from '../../src/index.js';
import { makeFile, MiB, sha256File } from './harness/files.js';
import { startSamba, type SambaServer } from './harness/samba.js';
import { parseAverageRate, smbclient } from './harness/smbclient.js';

const HOST = '127.0.0.11';
const USER = 'client_user';
const PASSWORD = 'Cl1ent pass!';

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

describe('client against Samba', () => {
  let samba: SambaServer;
  let local: string;
  let dataDir: string;

  before(async () => {
    samba = await startSamba({
      address: HOST,
      ports: [445],
      users: [{ name: USER, password: PASSWORD }],
      shares: [{ name: 'data' }, { name: 'secret', encrypt: 'required' }, { name: 'ro', readOnly: true }],
      global: { 'server min protocol': 'SMB2_02', 'server smb encrypt': 'if_required' },
    });
    dataDir = samba.sharePaths.get('data')!;
    local = await mkdtemp(join(tmpdir(), 'smbkit-client-samba-'));
  });
  after(async () => {
    await samba?.stop();
    if (local) await rm(local, { recursive: true, force: true });
  });

  const open = (o: { d?: DialectName; share?: string; encryption?: 'off' | 'desired' | 'required'; ciphers?: CipherName[] } = {}): Promise<Client> =>
    connect(
      { host: HOST, share: o.share ?? 'data', user: USER, password: PASSWORD, signing: 'required', timeoutMs: 30_000 },
      {
        ...(o.d ? { minDialect: o.d, maxDialect: o.d } : {}),
        ...(o.encryption ? { encryption: o.encryption } : {}),
        ...(o.ciphers ? { ciphers: o.ciphers } : {}),
      },
    );

  async function exercise(c: Client, dir: string): Promise<void> {
    const s = c.share();
    await s.mkdir(`${dir}/x/y`, { recursive: true });
    const data = randomBytes(5 * MiB + 3);
    await s.writeFile(`${dir}/f.bin`, data);
    assert.equal(sha(await s.readFile(`${dir}/f.bin`)), sha(data));
    await s.writeFile(`${dir}/small.txt`, 'small');
    assert.equal(await s.readFile(`${dir}/small.txt`, 'utf8'), 'small');
    assert.equal((await s.stat(`${dir}/f.bin`)).size, data.length);
    assert.ok((await s.stat(`${dir}/x`)).isDirectory());
    assert.deepEqual((await s.readdir(dir)).sort(), ['f.bin', 'small.txt', 'x']);
    await s.rename(`${dir}/small.txt`, `${dir}/x/moved.txt`);
    assert.deepEqual(await s.readdir(`${dir}/x`, { withFileTypes: true }).then((e) => e.map((x) => `${x.name}:${x.isDirectory()}`).sort()), [
      'moved.txt:false',
      'y:true',
    ]);
    const h = await s.open(`${dir}/h.bin`, 'w+');
    await h.write(Buffer.from('abcdef'), 0, 6, 0);
    await h.truncate(3);
    const buf = Buffer.alloc(10);
    assert.equal((await h.read(buf, 0, 10, 0)).bytesRead, 3);
    await h.close();
    await s.rm(dir, { recursive: true });
    assert.equal(await s.exists(dir), false);
  }

  for (const d of ['2.0.2', '2.1', '3.0', '3.0.2', '3.1.1'] as DialectName[]) {
    test(`every core call on ${d}, signed`, async () => {
      const c = await open({ d });
      try {
        assert.equal(c.info.dialect, d);
        assert.equal(c.info.signing, true);
        await exercise(c, `signed-${d}`);
      } finally {
        await c.close();
      }
    });
  }

  const encrypted: { d: DialectName; ciphers?: CipherName[]; expect: CipherName; share: string }[] = [
    { d: '3.0', expect: 'aes-128-ccm', share: 'secret' },
    { d: '3.0.2', expect: 'aes-128-ccm', share: 'data' },
    { d: '3.1.1', expect: 'aes-128-gcm', share: 'secret' },
    { d: '3.1.1', ciphers: ['aes-128-ccm'], expect: 'aes-128-ccm', share: 'data' },
    { d: '3.1.1', ciphers: ['aes-256-gcm'], expect: 'aes-256-gcm', share: 'data' },
    { d: '3.1.1', ciphers: ['aes-256-ccm'], expect: 'aes-256-ccm', share: 'secret' },
  ];
  for (const k of encrypted) {
    test(`encrypted ${k.d} ${k.expect} on share ${k.share}`, async () => {
      // The 'secret' share demands encryption: the client follows it even with encryption 'off'.
      const c = await open({ d: k.d, share: k.share, encryption: k.share === 'secret' ? 'off' : 'required', ...(k.ciphers ? { ciphers: k.ciphers } : {}) });
      try {
        assert.equal(c.info.cipher, k.expect);
        assert.equal(await c.share().encrypted(), true);
        await exercise(c, `enc-${k.d}-${k.expect}`);
      } finally {
        await c.close();
      }
    });
  }

  test('an encrypt-required share refuses 2.1 with ACCESS_DENIED', async () => {
    const c = await open({ d: '2.1', share: 'secret' });
    try {
      await assert.rejects(c.share().readdir('/'), (e: unknown) => e instanceof SmbError && e.code === 'EACCES');
    } finally {
      await c.close();
    }
  });

  test('streams and download/upload of 0 B to 100 MiB match the bytes on disk (3.1.1 encrypted and 2.1 signed)', async () => {
    for (const [d, encryption] of [['3.1.1', 'required'], ['2.1', 'off']] as const) {
      const c = await open({ d, encryption });
      try {
        const s = c.share();
        for (const size of [0, 1, 65536, 8 * MiB + 1, 100 * MiB]) {
          if (size === 100 * MiB && d !== '3.1.1') continue;
          const src = join(local, `src-${size}.bin`);
          await makeFile(src, size);
          const want = await sha256File(src);
          const name = `stream-${d}-${size}.bin`;
          await pipeline(fsReadStream(src), s.createWriteStream(name));
          assert.equal(await sha256File(join(dataDir, name)), want, `upload of ${size} on ${d}`);
          const back = join(local, `back-${size}.bin`);
          await pipeline(s.createReadStream(name), fsWriteStream(back));
          assert.equal(await sha256File(back), want, `download of ${size} on ${d}`);
          await s.rm(name);
          await rm(back);
          // The reuse-based whole-file transfers (what `smbkit get|put` use).
          assert.equal(await s.upload(src, name), size);
          assert.equal(await sha256File(join(dataDir, name)), want, `upload() of ${size} on ${d}`);
          assert.equal(await s.download(name, back), size);
          assert.equal(await sha256File(back), want, `download() of ${size} on ${d}`);
          await s.rm(name);
          await rm(back);
        }
      } finally {
        await c.close();
      }
    }
  });

  test('readdir of 3,000 entries returns all of them', async () => {
    const c = await open();
    try {
      const s = c.share();
      await s.mkdir('many');
      const names = Array.from({ length: 3000 }, (_, i) => `entry-number-${String(i).padStart(5, '0')}.dat`);
      await Promise.all(names.map((n) => writeFile(join(dataDir, 'many', n), '')));
      const listed = await s.readdir('many');
      assert.equal(listed.length, 3000);
      assert.deepEqual(listed.sort(), names);
      await s.rm('many', { recursive: true });
    } finally {
      await c.close();
    }
  });

  test('errors map to NTSTATUS names, paths and Node codes', async () => {
    const c = await open();
    try {
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
        [() => c.share('ro').writeFile('x.txt', 'x'), 'EACCES', 'STATUS_ACCESS_DENIED'],
        [() => c.share('nosuchshare').readdir('/'), 'ENOENT', 'STATUS_BAD_NETWORK_NAME'],
      ];
      for (const [f, code, name] of cases) {
        await assert.rejects(f(), (e: unknown) => {
          assert.ok(e instanceof SmbError, String(e));
          assert.equal(e.statusName, name, e.message);
          assert.equal(e.code, code, e.message);
          assert.match(e.message, new RegExp(`^${name}: \\\\\\\\${HOST.replace(/\./g, '\\.')}\\\\`));
          return true;
        });
      }
      await s.rm('e', { recursive: true });
    } finally {
      await c.close();
    }
    await assert.rejects(connect({ host: HOST, user: USER, password: 'wrong' }), { statusName: 'STATUS_LOGON_FAILURE', code: 'EACCES' });
  });

  test('100 MiB readFile / writeFile throughput next to smbclient', async (t) => {
    const size = 100 * MiB;
    const src = join(local, 'bench.bin');
    await makeFile(src, size);
    const data = await readFile(src);
    const rate = (ms: number) => ((size / 1e6) / (ms / 1000)).toFixed(0);
    for (const [label, encryption] of [['signed 3.1.1', 'off'], ['encrypted 3.1.1 GCM', 'required']] as const) {
      const c = await open({ d: '3.1.1', encryption });
      try {
        const s = c.share();
        let t0 = performance.now();
        await s.writeFile('bench.bin', data);
        const wMs = performance.now() - t0;
        t0 = performance.now();
        const back = await s.readFile('bench.bin');
        const rMs = performance.now() - t0;
        assert.equal(sha(back), sha(data));
        const protection = encryption === 'required' ? 'encrypt' : 'sign';
        const put = await smbclient({ host: HOST, share: 'data', user: USER, password: PASSWORD, maxProtocol: 'SMB3_11', protection, cwd: local, commands: 'put bench.bin bench2.bin' });
        const get = await smbclient({ host: HOST, share: 'data', user: USER, password: PASSWORD, maxProtocol: 'SMB3_11', protection, cwd: local, commands: 'get bench2.bin bench3.bin' });
        assert.equal(put.code, 0, put.stderr);
        assert.equal(get.code, 0, get.stderr);
        assert.equal((await stat(join(local, 'bench3.bin'))).size, size);
        const own = (r: { stdout: string; stderr: string }) => {
          const bps = parseAverageRate(r.stdout + r.stderr);
          return bps === undefined ? '?' : (bps / 1e6).toFixed(0);
        };
        const line =
          `${label}: smbkit writeFile ${rate(wMs)} MB/s, readFile ${rate(rMs)} MB/s; ` +
          `smbclient put ${own(put)} MB/s, get ${own(get)} MB/s by its own count ` +
          `(${rate(put.durationMs)} / ${rate(get.durationMs)} MB/s with process start and login)`;
        t.diagnostic(line);
        console.log(line);
        await s.rm('bench.bin');
        await s.rm('bench2.bin');
      } finally {
        await c.close();
      }
    }
  });

  test('a Readable source with odd chunk sizes uploads intact', async () => {
    const c = await open({ d: '3.0.2' });
    try {
      const data = randomBytes(3 * MiB + 5);
      const pieces = function* () {
        for (let i = 0; i < data.length; i += 77_777) yield data.subarray(i, i + 77_777);
      };
      await pipeline(Readable.from(pieces()), c.share().createWriteStream('odd.bin'));
      assert.equal(sha(await readFile(join(dataDir, 'odd.bin'))), sha(data));
      let n = 0;
      await pipeline(c.share().createReadStream('odd.bin', { start: 10, end: 1009 }), new Writable({ write: (ch: Buffer, _e, cb) => { n += ch.length; cb(); } }));
      assert.equal(n, 1000);
    } finally {
      await c.close();
    }
  });
});
