/**
 * The client commands of the built CLI (`node bin/smbkit.js ls|get|put|rm|mkdir|mv|cat|shares`), password in
 * SMBKIT_PASSWORD, against smbkit's own server (127.0.0.16) and a real Samba (127.0.0.17): transfers of 0 B,
 * 1 MiB and 20 MiB checked by SHA-256 on both ends, recursive trees, listings, the error lines and exit codes,
 * and no progress output when stdout/stderr are pipes.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { makeFile, MiB, sha256File } from './harness/files.js';
import { startSamba } from './harness/samba.js';
import { repoRootFrom, startSmbkit } from './harness/smbkit.js';

const USER = 'cli_user';
const PASSWORD = 'Cli pass 9!';
const BIN = join(repoRootFrom(import.meta.url), 'bin', 'smbkit.js');

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

function cli(args: string[], password: string | undefined = PASSWORD): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env['SMBKIT_PASSWORD'];
    if (password !== undefined) env['SMBKIT_PASSWORD'] = password;
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    // A safety net so a hang fails the test instead of the run; nothing asserts on time.
    const guard = setTimeout(() => child.kill(), 120_000);
    child.on('close', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout: Buffer.concat(out), stderr });
    });
    child.stdin.end();
  });
}

async function ok(args: string[]): Promise<Run> {
  const r = await cli(args);
  assert.equal(r.code, 0, `smbkit ${args.join(' ')}: ${r.stderr}`);
  return r;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Relative path -> 'dir' or sha256 of every entry under `root`. */
async function treeOf(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        out[r] = 'dir';
        await walk(join(dir, e.name), r);
      } else out[r] = await sha256File(join(dir, e.name));
    }
  };
  await walk(root, '');
  return out;
}

interface Target {
  host: string;
  /** The share's folder on the server's disk. */
  dir: string;
  stop(): Promise<void>;
}

function suite(name: string, start: () => Promise<Target>): void {
  describe(`CLI client against ${name}`, () => {
    let t: Target;
    let local: string;
    let base: string;
    before(async () => {
      t = await start();
      local = await mkdtemp(join(tmpdir(), `smbkit-cli-client-${name}-`));
      base = `smb://${USER}@${t.host}/data`;
    });
    after(async () => {
      await t?.stop();
      if (local) await rm(local, { recursive: true, force: true });
    });

    test('put and get of 0 B, 1 MiB and 20 MiB, checked by SHA-256 on the server disk and back; no progress on pipes', async () => {
      for (const size of [0, MiB, 20 * MiB]) {
        const f = join(local, `f${size}.bin`);
        await makeFile(f, size);
        const want = await sha256File(f);
        const up = await ok(['put', f, `${base}/`]);
        assert.equal(up.stderr, '', 'nothing on stderr when it is not a terminal');
        assert.equal(up.stdout.length, 0);
        assert.equal(await sha256File(join(t.dir, `f${size}.bin`)), want, `server copy of ${size} B`);
        const back = join(local, `back${size}.bin`);
        const down = await ok(['get', `${base}/f${size}.bin`, back]);
        assert.equal(down.stderr, '');
        assert.equal(down.stdout.length, 0);
        assert.equal(await sha256File(back), want, `downloaded ${size} B`);
      }
      // --json: a summary object; get into an existing directory keeps the name.
      await mkdir(join(local, 'into'), { recursive: true });
      const j = await ok(['get', '--json', `${base}/f${MiB}.bin`, join(local, 'into')]);
      const s = JSON.parse(j.stdout.toString('utf8'));
      assert.equal(s.ok, true);
      assert.equal(s.command, 'get');
      assert.equal(s.files, 1);
      assert.equal(s.bytes, MiB);
      assert.equal(s.source, `\\\\${t.host}\\data\\f${MiB}.bin`);
      assert.equal(await sha256File(join(local, 'into', `f${MiB}.bin`)), await sha256File(join(local, `f${MiB}.bin`)));
      const pj = await ok(['put', '--json', join(local, `f${MiB}.bin`), `${base}/renamed.bin`]);
      assert.deepEqual(
        (({ ok, command, files, bytes, destination }) => ({ ok, command, files, bytes, destination }))(JSON.parse(pj.stdout.toString('utf8'))),
        { ok: true, command: 'put', files: 1, bytes: MiB, destination: `\\\\${t.host}\\data\\renamed.bin` },
      );
      assert.equal((await stat(join(t.dir, 'renamed.bin'))).size, MiB);
    });

    test('put -r and get -r of a small tree (directories created as needed)', async () => {
      const tree = join(local, 'tree');
      await mkdir(join(tree, 'sub', 'deeper'), { recursive: true });
      await mkdir(join(tree, 'empty'), { recursive: true });
      await writeFile(join(tree, 'a.txt'), 'alpha\n');
      await writeFile(join(tree, 'zero'), '');
      await makeFile(join(tree, 'sub', 'b.bin'), 300_000);
      await writeFile(join(tree, 'sub', 'deeper', 'c with space.txt'), 'gamma');
      const want = await treeOf(tree);
      const noR = await cli(['put', tree, `${base}/up`]);
      assert.equal(noR.code, 1);
      assert.match(noR.stderr, /is a directory \(use -r\)/);
      const up = await ok(['put', '-r', '--json', tree, `${base}/up/nested/`]);
      const s = JSON.parse(up.stdout.toString('utf8'));
      assert.deepEqual([s.files, s.directories, s.bytes], [4, 4, 6 + 300_000 + 5]);
      assert.deepEqual(await treeOf(join(t.dir, 'up', 'nested', 'tree')), want);
      await ok(['get', '-r', `${base}/up/nested/tree`, join(local, 'down')]);
      assert.deepEqual(await treeOf(join(local, 'down')), want);
      const noRGet = await cli(['get', `${base}/up`, join(local, 'x')]);
      assert.equal(noRGet.code, 1);
      assert.match(noRGet.stderr, /^smbkit: \\\\.*\\data\\up is a directory \(use -r\)/);
    });

    test('ls (long format) and ls --json', async () => {
      await mkdir(join(t.dir, 'lsdir', 'child'), { recursive: true });
      await writeFile(join(t.dir, 'lsdir', 'one.txt'), '12345');
      const long = await ok(['ls', `${base}/lsdir`]);
      const lines = long.stdout.toString('utf8').trimEnd().split('\n');
      assert.equal(lines.length, 2, long.stdout.toString());
      assert.match(lines[0]!, /^d +\d+  \d{4}-\d\d-\d\d \d\d:\d\d  child\/$/);
      assert.match(lines[1]!, /^- +5  \d{4}-\d\d-\d\d \d\d:\d\d  one\.txt$/);
      const j = await ok(['ls', '--json', `${base}/lsdir`]);
      const entries = JSON.parse(j.stdout.toString('utf8')) as { name: string; type: string; size: number; mtime: string }[];
      assert.deepEqual(
        entries.map((e) => [e.name, e.type, e.type === 'file' ? e.size : 0]),
        [
          ['child', 'directory', 0],
          ['one.txt', 'file', 5],
        ],
      );
      const disk = (await stat(join(t.dir, 'lsdir', 'one.txt'))).mtimeMs;
      assert.ok(Math.abs(Date.parse(entries[1]!.mtime) - disk) < 2000, 'mtime as on the server');
      const file = await ok(['ls', '--json', `${base}/lsdir/one.txt`]);
      assert.equal(JSON.parse(file.stdout.toString('utf8'))[0].name, 'one.txt');
      const root = await ok(['ls', base]);
      assert.match(root.stdout.toString('utf8'), /lsdir\//);
    });

    test('mkdir -p, mv, rm -r, cat', async () => {
      await ok(['mkdir', '-p', `${base}/m/a/b/c`]);
      assert.ok((await stat(join(t.dir, 'm', 'a', 'b', 'c'))).isDirectory());
      await ok(['mkdir', '-p', `${base}/m/a/b/c`]);
      const again = await cli(['mkdir', `${base}/m/a`]);
      assert.equal(again.code, 1);
      assert.equal(again.stderr, `smbkit: STATUS_OBJECT_NAME_COLLISION: \\\\${t.host}\\data\\m\\a\n`);
      const noParent = await cli(['mkdir', `${base}/nope/x`]);
      assert.equal(noParent.code, 1);
      assert.match(noParent.stderr, /^smbkit: STATUS_OBJECT_PATH_NOT_FOUND: /);
      await ok(['mkdir', `${base}/m/single`]);
      assert.ok((await stat(join(t.dir, 'm', 'single'))).isDirectory());

      await writeFile(join(t.dir, 'm', 'a', 'note.txt'), 'hello from the server\n');
      await ok(['mv', `${base}/m/a/note.txt`, 'renamed.txt']);
      assert.equal(await readFile(join(t.dir, 'm', 'a', 'renamed.txt'), 'utf8'), 'hello from the server\n');
      await ok(['mv', `${base}/m/a/renamed.txt`, '/m/single']); // into an existing directory
      assert.equal(await readFile(join(t.dir, 'm', 'single', 'renamed.txt'), 'utf8'), 'hello from the server\n');
      const mj = await ok(['mv', '--json', `${base}/m/single/renamed.txt`, `${base}/m/final.txt`]);
      assert.equal(JSON.parse(mj.stdout.toString('utf8')).to, `\\\\${t.host}\\data\\m\\final.txt`);

      const cat = await ok(['cat', `${base}/m/final.txt`]);
      assert.equal(cat.stdout.toString('utf8'), 'hello from the server\n');
      const bin = await ok(['cat', `${base}/f${20 * MiB}.bin`]);
      assert.equal(sha(bin.stdout), await sha256File(join(t.dir, `f${20 * MiB}.bin`)));
      assert.equal(bin.stderr, '');

      const notEmpty = await cli(['rm', `${base}/m`]);
      assert.equal(notEmpty.code, 1);
      assert.match(notEmpty.stderr, /^smbkit: STATUS_FILE_IS_A_DIRECTORY: /);
      await ok(['rm', `${base}/m/final.txt`]);
      await assert.rejects(stat(join(t.dir, 'm', 'final.txt')), { code: 'ENOENT' });
      await ok(['rm', '-r', `${base}/m`]);
      await assert.rejects(stat(join(t.dir, 'm')), { code: 'ENOENT' });
      await ok(['rm', '-rf', `${base}/m`]);
    });

    test('errors: a missing file and a wrong password exit 1 with the status and the UNC path; usage exits 2', async () => {
      for (const cmd of [['get', `${base}/missing.txt`, join(local, 'm.txt')], ['cat', `${base}/missing.txt`], ['ls', `${base}/missing.txt`], ['rm', `${base}/missing.txt`]]) {
        const r = await cli(cmd);
        assert.equal(r.code, 1, cmd.join(' '));
        assert.equal(r.stderr, `smbkit: STATUS_OBJECT_NAME_NOT_FOUND: \\\\${t.host}\\data\\missing.txt\n`, cmd.join(' '));
        assert.equal(r.stdout.length, 0);
      }
      await assert.rejects(stat(join(local, 'm.txt')), { code: 'ENOENT' });
      const j = await cli(['ls', '--json', `${base}/missing.txt`]);
      assert.equal(j.code, 1);
      assert.deepEqual(JSON.parse(j.stdout.toString('utf8')).error.status, 'STATUS_OBJECT_NAME_NOT_FOUND');
      const bad = await cli(['ls', base], 'not the password');
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, new RegExp(`^smbkit: STATUS_LOGON_FAILURE: \\\\\\\\${t.host.replace(/\./g, '\\.')}`));
      assert.ok(!bad.stderr.includes('not the password'));
      const noShare = await cli(['ls', `smb://${USER}@${t.host}/noshare`]);
      assert.equal(noShare.code, 1);
      assert.match(noShare.stderr, /^smbkit: STATUS_BAD_NETWORK_NAME: /);
      const localMissing = await cli(['put', join(local, 'does-not-exist'), `${base}/`]);
      assert.equal(localMissing.code, 1);
      assert.match(localMissing.stderr, /^smbkit: ENOENT/);
      const usage = await cli(['mv', `${base}/a`]);
      assert.equal(usage.code, 2);
      const otherShare = await cli(['mv', `${base}/a`, `smb://${t.host}/other/b`]);
      assert.equal(otherShare.code, 2);
    });

    test('URL password is accepted with a warning; signing/encryption/dialect options', async () => {
      const r = await cli(['ls', `smb://${USER}:${encodeURIComponent(PASSWORD)}@${t.host}/data`], undefined);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /warning: a password in the URL is visible/);
      await ok(['ls', '--signing', 'required', '--max-dialect', '2.1', base]);
      await ok(['ls', '--encryption', 'required', '--min-dialect', '3.1.1', base]);
      await ok(['ls', '--user', `${USER}`, '--timeout', '20', `smb://${t.host}/data`]);
    });

    test('shares: the list from srvsvc (rows and JSON)', async () => {
      const r = await cli(['shares', `smb://${USER}@${t.host}`]);
      assert.equal(r.code, 0, r.stderr);
      const rows = r.stdout.toString('utf8').split('\n').filter((l) => l !== '');
      assert.ok(rows.some((l) => /^data\s+disk\b/.test(l)), rows.join('\n'));
      assert.ok(rows.some((l) => /^IPC\$\s+ipc\b/.test(l)), rows.join('\n'));
      const j = await cli(['shares', '--json', `smb://${USER}@${t.host}`]);
      assert.equal(j.code, 0, j.stderr);
      const list = JSON.parse(j.stdout.toString('utf8')) as { name: string; type: string; special: boolean; comment: string }[];
      const data = list.find((s) => s.name === 'data');
      assert.ok(data && data.type === 'disk' && data.special === false && typeof data.comment === 'string', j.stdout.toString('utf8'));
      assert.equal(list.find((s) => s.name === 'IPC$')?.special, true);
    });
  });
}

suite('smbkit', async () => {
  const s = await startSmbkit({ address: '127.0.0.16', users: [{ name: USER, password: PASSWORD }], shares: [{ name: 'data' }] });
  return { host: '127.0.0.16', dir: s.sharePaths.get('data')!, stop: () => s.stop() };
});

suite('Samba', async () => {
  const s = await startSamba({
    address: '127.0.0.17',
    ports: [445],
    users: [{ name: USER, password: PASSWORD }],
    shares: [{ name: 'data' }],
    global: { 'server min protocol': 'SMB2_02', 'server smb encrypt': 'if_required' },
  });
  return { host: '127.0.0.17', dir: s.sharePaths.get('data')!, stop: () => s.stop() };
});
