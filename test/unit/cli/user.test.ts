import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadUsersFile } from '../../../src/auth/users-file.js';
import { readHiddenLine, readPasswordLine, type RawModeInput } from '../../../src/cli/user.js';
import { ntowfv1 } from '../../../src/crypto/ntlm.js';
import { Status } from '../../../src/protocol/nt-status.js';
import { startTestServer } from '../../support/raw-client.js';

// dist/test/unit/cli/user.test.js -> bin/smbkit.js
const BIN = fileURLToPath(new URL('../../../../bin/smbkit.js', import.meta.url));
const posix = process.platform !== 'win32';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI; `keepStdinOpen` writes `stdin` but never ends it (a writer that keeps the pipe open). */
function cli(args: string[], stdin = '', keepStdinOpen = false): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    // Only a safety net so a regression fails instead of hanging the run; no test asserts on time.
    const guard = setTimeout(() => child.kill(), 60_000);
    child.on('close', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr });
    });
    if (keepStdinOpen) child.stdin.write(stdin);
    else child.stdin.end(stdin);
  });
}

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'smbkit-user-cli-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const ALICE_PW = 'C0rrect horse ✓';

test('user add (stdin) / list --json / del with the built CLI; an added user can log in over SMB', { skip: !posix }, async () => {
  const f = join(dir, 'users');
  const add = await cli(['user', 'add', 'alice', '--users', f, '--password-stdin'], `${ALICE_PW}\n`);
  assert.equal(add.code, 0, add.stderr);
  assert.match(add.stdout, /added user alice/);
  assert.ok(!add.stdout.includes(ALICE_PW) && !add.stderr.includes(ALICE_PW));
  assert.equal((await stat(f)).mode & 0o777, 0o600);
  const text = await readFile(f, 'utf8');
  assert.ok(!text.includes(ALICE_PW));
  assert.ok(text.includes(`alice:${ntowfv1(ALICE_PW).toString('hex')}`));

  // stdin that is not a terminal is read without --password-stdin; CRLF is accepted.
  const addBob = await cli(['user', 'add', 'Bob', '--users', f], 'bobs-pw\r\n');
  assert.equal(addBob.code, 0, addBob.stderr);

  const list = await cli(['user', 'list', '--users', f, '--json']);
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual(JSON.parse(list.stdout), { users: [{ name: 'alice' }, { name: 'Bob' }] });
  const plain = await cli(['user', 'list', '--users', f]);
  assert.equal(plain.stdout, 'alice\nBob\n');

  // Log in over SMB with the users the CLI wrote.
  const srv = await startTestServer({ users: await loadUsersFile(f) });
  try {
    const good = await srv.connect();
    assert.equal((await good.negotiate()).status, Status.SUCCESS);
    assert.equal((await good.sessionSetup('alice', ALICE_PW)).status, Status.SUCCESS);
    const bob = await srv.connect();
    await bob.negotiate();
    assert.equal((await bob.sessionSetup('bob', 'bobs-pw')).status, Status.SUCCESS);
    const bad = await srv.connect();
    await bad.negotiate();
    assert.equal((await bad.sessionSetup('alice', 'wrong password')).status, Status.LOGON_FAILURE);
  } finally {
    await srv.stop();
  }

  const del = await cli(['user', 'del', 'ALICE', '--users', f]);
  assert.equal(del.code, 0, del.stderr);
  assert.deepEqual(JSON.parse((await cli(['user', 'list', '--users', f, '--json'])).stdout), { users: [{ name: 'Bob' }] });
  const again = await cli(['user', 'del', 'alice', '--users', f]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /no user alice/);
});

test('user add --password-stdin finishes while the writer keeps stdin open', { skip: !posix }, async () => {
  const f = join(dir, 'open-stdin');
  const r = await cli(['user', 'add', 'frank', '--users', f, '--password-stdin'], 'pw\n', true);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual((await loadUsersFile(f)).lookup('frank')?.ntHash, ntowfv1('pw'));
});

test('user: usage errors exit 2', async () => {
  const f = join(dir, 'usage');
  const cases: [string[], RegExp][] = [
    [['user'], /needs an action/],
    [['user', 'frob', '--users', f], /unknown user action/],
    [['user', 'list'], /needs --users FILE/],
    [['user', 'add', '--users', f], /needs one NAME/],
    [['user', 'add', 'a', 'b', '--users', f], /needs one NAME/],
    [['user', 'list', 'a', '--users', f], /takes no NAME/],
    [['user', 'add', 'a:b', '--users', f], /cannot contain/],
    [['user', 'add', 'a', '--users', f, '--password', 'hunter2'], /never taken as arguments/],
    [['user', 'add', 'a', '--users', f, '--password=hunter2'], /never taken as arguments/],
    [['user', 'del', 'a', '--users', f, '--json'], /--json is for user list/],
    [['user', 'list', '--users', f, '--bogus'], /bogus/],
  ];
  for (const [args, msg] of cases) {
    const r = await cli(args, 'pw\n');
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, msg);
    assert.ok(!r.stderr.includes('hunter2'));
  }
});

test('user: failures exit 1 (unsafe mode, missing file, empty password)', { skip: !posix }, async () => {
  const f = join(dir, 'fail');
  assert.equal((await cli(['user', 'add', 'carol', '--users', f], 'pw\n')).code, 0);
  await chmod(f, 0o644);
  const unsafe = await cli(['user', 'list', '--users', f]);
  assert.equal(unsafe.code, 1);
  assert.match(unsafe.stderr, /chmod 600/);
  const addUnsafe = await cli(['user', 'add', 'dave', '--users', f], 'pw\n');
  assert.equal(addUnsafe.code, 1);
  await chmod(f, 0o600);
  const missing = await cli(['user', 'list', '--users', join(dir, 'nope')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /ENOENT/);
  const empty = await cli(['user', 'add', 'erin', '--users', f], '');
  assert.equal(empty.code, 1);
  assert.match(empty.stderr, /no password/);
  const blank = await cli(['user', 'add', 'erin', '--users', f], '\n');
  assert.equal(blank.code, 1);
  assert.match(blank.stderr, /cannot be empty/);
  assert.deepEqual(JSON.parse((await cli(['user', 'list', '--users', f, '--json'])).stdout), { users: [{ name: 'carol' }] });
});

test('readPasswordLine: one line, line ending removed, rest unread', async () => {
  const s = new PassThrough();
  const p = readPasswordLine(s);
  s.write(Buffer.from(' pa'));
  s.write(Buffer.from('ss \r\nnext line\n'));
  assert.equal(await p, ' pass ');
  const e = new PassThrough();
  const q = readPasswordLine(e);
  e.end();
  await assert.rejects(q, /no password on stdin/);
});

class FakeTty extends PassThrough implements RawModeInput {
  isRaw = false;
  readonly modes: boolean[] = [];
  setRawMode(mode: boolean): this {
    this.isRaw = mode;
    this.modes.push(mode);
    return this;
  }
}

test('readHiddenLine: no echo, editing keys, escape sequences ignored, terminal restored', async () => {
  const input = new FakeTty();
  const output = new PassThrough();
  let shown = '';
  output.setEncoding('utf8').on('data', (d: string) => (shown += d));
  const p = readHiddenLine(input, output, 'Password: ');
  assert.equal(input.isRaw, true);
  const euro = Buffer.from('€');
  // 'ab', backspace, 'c', left arrow (ESC [ D), a euro sign split across chunks, ctrl-U clears, then 'xy€' and enter.
  input.write(Buffer.from('ab\x7fc\x1b[D'));
  input.write(euro.subarray(0, 1));
  input.write(euro.subarray(1));
  input.write(Buffer.from('\x15xy'));
  input.write(Buffer.concat([euro, Buffer.from('\rtrailing')]));
  assert.equal(await p, 'xy€');
  assert.equal(input.isRaw, false);
  assert.deepEqual(input.modes, [true, false]);
  await new Promise((r) => setImmediate(r));
  assert.equal(shown, 'Password: \n');
  assert.equal(input.listenerCount('data'), 0);
});

test('readHiddenLine: ctrl-C and end of input reject and restore the terminal', async () => {
  for (const [keys, end] of [['abc\x03', false], ['\x04', false], ['abc', true]] as const) {
    const input = new FakeTty();
    const output = new PassThrough();
    const p = readHiddenLine(input, output, '> ');
    input.write(keys);
    if (end) input.end();
    await assert.rejects(p, /cancelled|ended/);
    assert.equal(input.isRaw, false);
    assert.equal(input.listenerCount('data'), 0);
  }
});
