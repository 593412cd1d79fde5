import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatListing, parseClientArgs, resolveMoveTarget, type ListEntry } from '../../../src/cli/client-commands.js';
import { UsageError } from '../../../src/cli/main.js';
import { formatBytes, formatDuration, Progress, renderProgress } from '../../../src/cli/progress.js';
import { baseName, joinPath, parentPath, parseTarget, resolveCredentials, uncOf } from '../../../src/cli/url.js';

const BIN = fileURLToPath(new URL('../../../../bin/smbkit.js', import.meta.url));

// ---- URLs ----

test('parseTarget: host, port, domain, user, share and path', () => {
  const t = parseTarget('smb://CORP;alice@files.example:4455/data/a/b%20c.txt');
  assert.deepEqual(t, {
    host: 'files.example',
    port: 4455,
    domain: 'CORP',
    user: 'alice',
    password: undefined,
    share: 'data',
    path: 'a\\b c.txt',
    trailingSlash: false,
  });
});

test('parseTarget: percent-escaped domain separator, password, IPv6, trailing slash, root', () => {
  const t = parseTarget('smb://CORP%3Bbob:p%40ss:w@[::1]/share/dir/');
  assert.equal(t.domain, 'CORP');
  assert.equal(t.user, 'bob');
  assert.equal(t.password, 'p@ss:w');
  assert.equal(t.host, '::1');
  assert.equal(t.port, undefined);
  assert.equal(t.share, 'share');
  assert.equal(t.path, 'dir');
  assert.equal(t.trailingSlash, true);
  const root = parseTarget('smb://host/share');
  assert.equal(root.path, '');
  assert.equal(root.user, undefined);
  assert.equal(root.trailingSlash, false);
  assert.equal(parseTarget('smb://host').share, '');
  assert.equal(parseTarget('SMB://host/s/').path, '');
});

test('parseTarget: ? and # are part of names, dot segments resolve, UNC paths work', () => {
  assert.equal(parseTarget('smb://h/s/what?.txt').path, 'what?.txt');
  assert.equal(parseTarget('smb://h/s/a#1').path, 'a#1');
  assert.equal(parseTarget('smb://h/s/a/./b/../c').path, 'a\\c');
  const u = parseTarget('\\\\server\\pub\\x\\y.bin');
  assert.equal(u.host, 'server');
  assert.equal(u.share, 'pub');
  assert.equal(u.path, 'x\\y.bin');
  assert.equal(parseTarget('//server/pub/z').path, 'z');
});

test('parseTarget: rejects what is not a target', () => {
  for (const bad of ['http://h/s', 'host/share', 'smb:///share', 'smb://h:99999/s', 'smb://h:12x/s', 'smb://h/s/%zz', 'smb://h/s/a%5Cb']) {
    assert.throws(() => parseTarget(bad), UsageError, bad);
  }
});

test('parseTarget: any path of safe segments round-trips through percent-encoding', () => {
  const seg = fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !/[\\/]/.test(s) && s !== '.' && s !== '..');
  fc.assert(
    fc.property(fc.array(seg, { minLength: 1, maxLength: 4 }), (segs) => {
      const t = parseTarget(`smb://u@h/share/${segs.map(encodeURIComponent).join('/')}`);
      assert.equal(t.path, segs.join('\\'));
    }),
  );
});

test('uncOf and path helpers', () => {
  const t = parseTarget('smb://h/s/a/b');
  assert.equal(uncOf(t, t.path), '\\\\h\\s\\a\\b');
  assert.equal(uncOf(t, ''), '\\\\h\\s');
  assert.equal(joinPath('a', '../b/c'), 'b\\c');
  assert.equal(joinPath('', 'x'), 'x');
  assert.equal(baseName('a\\b\\c'), 'c');
  assert.equal(baseName(''), '');
  assert.equal(parentPath('a\\b'), 'a');
  assert.equal(parentPath('a'), '');
});

// ---- credentials ----

test('resolveCredentials: SMBKIT_PASSWORD wins and no prompt is shown', async () => {
  const t = parseTarget('smb://alice@h/s');
  let asked = false;
  const c = await resolveCredentials(t, {
    envPassword: 'from env',
    prompt: async () => {
      asked = true;
      return 'typed';
    },
  });
  assert.deepEqual(c, { user: 'alice', domain: undefined, password: 'from env', passwordFrom: 'env', warnings: [] });
  assert.equal(asked, false);
});

test('resolveCredentials: a password in the URL is used, with a warning', async () => {
  const c = await resolveCredentials(parseTarget('smb://alice:secret@h/s'), {});
  assert.equal(c.password, 'secret');
  assert.equal(c.passwordFrom, 'url');
  assert.equal(c.warnings.length, 1);
  assert.match(c.warnings[0]!, /visible/);
  assert.ok(!c.warnings[0]!.includes('secret'));
});

test('resolveCredentials: the prompt names the account; --user and --domain override the URL', async () => {
  let question = '';
  const c = await resolveCredentials(parseTarget('smb://D1;bob@host1/s'), {
    optUser: 'CORP\\carol',
    prompt: async (q) => {
      question = q;
      return 'typed pw';
    },
  });
  assert.equal(question, 'Password for CORP\\carol@host1: ');
  assert.deepEqual([c.user, c.domain, c.password, c.passwordFrom], ['carol', 'CORP', 'typed pw', 'prompt']);
  const d = await resolveCredentials(parseTarget('smb://D1;bob@h/s'), { optDomain: 'D2', envPassword: 'x' });
  assert.deepEqual([d.user, d.domain], ['bob', 'D2']);
  const e = await resolveCredentials(parseTarget('smb://h/s'), { optUser: 'dave', envPassword: 'x' });
  assert.deepEqual([e.user, e.domain], ['dave', undefined]);
});

test('resolveCredentials: a user without a password and without a terminal is a usage error; no user is anonymous', async () => {
  await assert.rejects(resolveCredentials(parseTarget('smb://alice@h/s'), {}), (e: unknown) => e instanceof UsageError && /SMBKIT_PASSWORD/.test(e.message));
  const anon = await resolveCredentials(parseTarget('smb://h/s'), {});
  assert.deepEqual([anon.user, anon.password, anon.passwordFrom], [undefined, undefined, 'none']);
});

// ---- options ----

test('parseClientArgs: options, flags per command, arity and value checks', () => {
  const { opts, positionals } = parseClientArgs('get', ['-r', '--signing', 'required', '--max-dialect', '3.0.2', '--timeout', '2.5', 'smb://h/s/d', 'out']);
  assert.equal(opts.recursive, true);
  assert.equal(opts.signing, 'required');
  assert.deepEqual(positionals, ['smb://h/s/d', 'out']);
  const bad: [Parameters<typeof parseClientArgs>[0], string[]][] = [
    ['ls', ['-r', 'smb://h/s']],
    ['mkdir', ['-r', 'smb://h/s/x']],
    ['ls', []],
    ['put', ['only-one']],
    ['cat', ['smb://h/s/a', 'extra']],
    ['ls', ['--signing', 'maybe', 'smb://h/s']],
    ['ls', ['--encryption', 'yes', 'smb://h/s']],
    ['ls', ['--min-dialect', '1.0', 'smb://h/s']],
    ['ls', ['--min-dialect', '3.1.1', '--max-dialect', '2.1', 'smb://h/s']],
    ['ls', ['--port', '0', 'smb://h/s']],
    ['ls', ['--timeout', '-1', 'smb://h/s']],
    ['ls', ['--bogus', 'smb://h/s']],
    ['ls', ['--password', 'x', 'smb://h/s']],
    ['ls', ['--password=x', 'smb://h/s']],
  ];
  for (const [cmd, argv] of bad) assert.throws(() => parseClientArgs(cmd, argv), UsageError, `${cmd} ${argv.join(' ')}`);
  assert.equal(parseClientArgs('rm', ['-rf', 'smb://h/s/x']).opts.force, true);
  assert.equal(parseClientArgs('mkdir', ['-p', 'smb://h/s/x']).opts.parents, true);
});

test('resolveMoveTarget: relative to the source directory, absolute in the share, or a URL on the same share', () => {
  const src = parseTarget('smb://u@h/s/dir/a.txt');
  assert.equal(resolveMoveTarget(src, 'b.txt'), 'dir\\b.txt');
  assert.equal(resolveMoveTarget(src, '../up.txt'), 'up.txt');
  assert.equal(resolveMoveTarget(src, '/other/c.txt'), 'other\\c.txt');
  assert.equal(resolveMoveTarget(src, 'smb://u@H/S/x/y'), 'x\\y');
  assert.throws(() => resolveMoveTarget(src, 'smb://h/other/y'), UsageError);
  assert.throws(() => resolveMoveTarget(src, 'smb://h2/s/y'), UsageError);
});

test('formatListing: type letter, aligned sizes, local mtime, directory slash', () => {
  const mtime = new Date(2024, 4, 1, 9, 5).toISOString();
  const entries: ListEntry[] = [
    { name: 'docs', type: 'directory', size: 0, mtime, attributes: 0x10 },
    { name: 'big.bin', type: 'file', size: 1048576, mtime, attributes: 0x20 },
  ];
  assert.equal(formatListing(entries), `d       0  2024-05-01 09:05  docs/\n- 1048576  2024-05-01 09:05  big.bin\n`);
  assert.equal(formatListing([]), '');
});

// ---- progress ----

test('formatBytes and formatDuration', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(1023), '1023 B');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(20 * 1024 * 1024), '20 MiB');
  assert.equal(formatBytes(3 * 1024 ** 4), '3.0 TiB');
  assert.equal(formatDuration(0), '0:00');
  assert.equal(formatDuration(61.2), '1:02');
  assert.equal(formatDuration(3600 * 2 + 5), '2:00:05');
  assert.equal(formatDuration(NaN), '--:--');
  assert.equal(formatDuration(Infinity), '--:--');
});

test('renderProgress: bar, percentage, bytes, speed and time left', () => {
  const line = renderProgress({ label: 'file.bin', done: 5 * 1024 * 1024, total: 10 * 1024 * 1024, rate: 1024 * 1024, columns: 100 });
  assert.equal(line, 'file.bin [###############...............]  50% 5.0 MiB/10 MiB 1.0 MiB/s ETA 0:05');
  const start = renderProgress({ label: 'x', done: 0, total: 100, rate: 0, columns: 80 });
  assert.match(start, /^x \[\.+\]   0% 0 B\/100 B -- B\/s ETA --:--$/);
  const end = renderProgress({ label: 'x', done: 100, total: 100, rate: 50, columns: 80 });
  assert.match(end, /\[#+\] 100% 100 B\/100 B 50 B\/s ETA 0:00$/);
  const empty = renderProgress({ label: 'zero', done: 0, total: 0, rate: 0, columns: 80 });
  assert.match(empty, / 100% 0 B\/0 B/);
});

test('renderProgress: never wider than the terminal; long labels are cut from the left', () => {
  fc.assert(
    fc.property(
      fc.string({ maxLength: 200 }),
      fc.nat({ max: 2 ** 40 }),
      fc.nat({ max: 2 ** 40 }),
      fc.nat({ max: 2 ** 30 }),
      fc.integer({ min: 1, max: 300 }),
      (label, a, b, rate, columns) => {
        const line = renderProgress({ label, done: Math.min(a, b), total: Math.max(a, b), rate, columns });
        assert.ok(line.length <= Math.max(20, columns) - 1, line);
      },
    ),
  );
  const line = renderProgress({ label: 'a/very/long/path/name/ending-in-file.bin', done: 1, total: 2, rate: 1, columns: 70 });
  assert.ok(line.startsWith('…'), line);
  assert.ok(line.includes('file.bin'), line);
});

test('Progress: throttled redraws with an injected clock, speed from the samples, final line and abort', () => {
  let now = 0;
  const writes: string[] = [];
  const out = { columns: 100, write: (s: string) => writes.push(s) };
  const p = new Progress(out, { total: 4000, label: 'total', now: () => now, intervalMs: 100 });
  p.setLabel('a.bin');
  assert.equal(p.rate(400), 0, 'no speed from under half a second');
  now = 1000;
  p.add(1000);
  assert.equal(writes.length, 1);
  assert.match(writes[0]!, /^\ra\.bin .* 25% 1000 B\/3.9 KiB 1000 B\/s ETA 0:03\x1b\[K$/);
  now = 1050;
  p.add(1000); // within the interval: no redraw
  assert.equal(writes.length, 1);
  assert.equal(p.rate(2000), 1000);
  now = 2000;
  p.add(2000);
  assert.equal(writes.length, 2);
  assert.match(writes[1]!, /100%/);
  p.finish();
  assert.equal(writes.length, 4);
  assert.match(writes[2]!, /^\rtotal .*100% 3.9 KiB\/3.9 KiB 2.0 KiB\/s ETA 0:00/);
  assert.equal(writes[3], '\n');
  p.finish();
  p.abort();
  assert.equal(writes.length, 4);
  const q = new Progress(out, { total: 10, label: 'q', now: () => now });
  q.abort();
  assert.equal(writes[4], '\r\x1b[K');
});

// ---- the built CLI without a server ----

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const e: NodeJS.ProcessEnv = { ...process.env, ...env };
    if (!('SMBKIT_PASSWORD' in env)) delete e['SMBKIT_PASSWORD'];
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: e });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    const guard = setTimeout(() => child.kill(), 60_000);
    child.on('close', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end();
  });
}

test('the built CLI: usage errors exit 2, a missing password without a terminal exits 2, a refused connection exits 1', async () => {
  const usage = await cli(['ls']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /ls takes 1 argument/);
  const url = await cli(['ls', 'http://x/y']);
  assert.equal(url.code, 2);
  assert.match(url.stderr, /not an smb:\/\/ URL/);
  const nopw = await cli(['ls', 'smb://alice@127.0.0.1:1/share']);
  assert.equal(nopw.code, 2);
  assert.match(nopw.stderr, /no password for alice: set SMBKIT_PASSWORD/);
  const refused = await cli(['ls', '--json', 'smb://alice@127.0.0.1:1/share'], { SMBKIT_PASSWORD: 'pw' });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /^smbkit: /);
  assert.equal(JSON.parse(refused.stdout).ok, false);
  const help = await cli(['get', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /SMBKIT_PASSWORD/);
});
