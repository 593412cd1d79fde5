import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  addUser,
  deleteUser,
  formatUsersFile,
  listUsers,
  loadUsersFile,
  parseUsersFile,
  permissionProblem,
  readUsersFile,
  saveUsersFile,
  userNameProblem,
  UsersFileError,
  type PermissionFacts,
  type UsersFileEntry,
} from '../../../src/auth/users-file.js';
import { ntowfv1 } from '../../../src/crypto/ntlm.js';

const HASH_A = '8846f7eaee8fb117ad06bdd830b7586c';
const HASH_B = '0123456789abcdef0123456789ABCDEF';
const posix = process.platform !== 'win32';

let dir: string;
let counter = 0;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'smbkit-users-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});
function fresh(): string {
  return join(dir, `users-${++counter}.txt`);
}

function throwsAt(text: string, line: number, what: RegExp): void {
  assert.throws(
    () => parseUsersFile(text, 'F'),
    (err: unknown) => {
      assert.ok(err instanceof UsersFileError);
      assert.match(err.message, new RegExp(`^F:${line}: `));
      assert.match(err.message, what);
      // Never quote the line: it holds a password-equivalent hash.
      assert.ok(!err.message.toLowerCase().includes(HASH_A));
      return true;
    },
  );
}

test('parse: comments, blank lines, CRLF, upper-case hex', () => {
  const text = `# header\n\nalice:${HASH_A}\r\n   \n#bob:${HASH_A}\nBob Smith:${HASH_B}`;
  const entries = parseUsersFile(text);
  assert.deepEqual(
    entries.map((e) => [e.name, e.ntHash.toString('hex')]),
    [
      ['alice', HASH_A],
      ['Bob Smith', HASH_B.toLowerCase()],
    ],
  );
});

test('parse: every bad line is refused with its line number', () => {
  throwsAt(`alice:${HASH_A}\nno colon here\n`, 2, /NAME:NTHASH/);
  throwsAt(`alice:${HASH_A.slice(2)}\n`, 1, /32 hex digits/);
  throwsAt(`alice:${HASH_A.slice(1)}z\n`, 1, /32 hex digits/);
  throwsAt(`alice:${HASH_A} \n`, 1, /32 hex digits/);
  throwsAt(`\n\n:${HASH_A}\n`, 3, /empty/);
  throwsAt(`a/b:${HASH_A}\n`, 1, /cannot contain/);
  throwsAt(`a\\b:${HASH_A}\n`, 1, /cannot contain/);
  throwsAt(`a:b:${HASH_A}\n`, 1, /cannot contain/);
  throwsAt(`a\tb:${HASH_A}\n`, 1, /control/);
  throwsAt(` alice:${HASH_A}\n`, 1, /white space/);
  throwsAt(`${'x'.repeat(105)}:${HASH_A}\n`, 1, /at most 104/);
});

test('parse: duplicate users (case-insensitive) name both lines', () => {
  throwsAt(`alice:${HASH_A}\n# c\nALICE:${HASH_B}\n`, 3, /ALICE is already defined on line 1/);
});

test('user names: limits and reserved characters', () => {
  assert.equal(userNameProblem('x'.repeat(104)), undefined);
  assert.equal(userNameProblem('é'.repeat(104)), undefined);
  assert.equal(userNameProblem('Dom User.1'), undefined);
  for (const bad of ['', 'x'.repeat(105), 'a:b', 'a/b', 'a\\b', 'a\nb', 'a\x00', 'a\x7f', '#x', ' x', 'x ']) {
    assert.notEqual(userNameProblem(bad), undefined, JSON.stringify(bad));
  }
});

const nameArb = fc
  .string({ minLength: 1, maxLength: 30, unit: 'grapheme' })
  .filter((n) => userNameProblem(n) === undefined);
const entriesArb = fc.uniqueArray(
  fc.record({ name: nameArb, ntHash: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => Buffer.from(a)) }),
  { maxLength: 20, selector: (e) => e.name.toLowerCase() },
);

test('format then parse is the identity (property)', () => {
  fc.assert(
    fc.property(entriesArb, (entries: UsersFileEntry[]) => {
      const back = parseUsersFile(formatUsersFile(entries));
      assert.deepEqual(
        back.map((e) => [e.name, e.ntHash.toString('hex')]),
        entries.map((e) => [e.name, e.ntHash.toString('hex')]),
      );
    }),
  );
});

test('format refuses duplicates, bad names and bad hashes', () => {
  const h = Buffer.alloc(16);
  assert.throws(() => formatUsersFile([{ name: 'a', ntHash: h }, { name: 'A', ntHash: h }]), UsersFileError);
  assert.throws(() => formatUsersFile([{ name: 'a:b', ntHash: h }]), UsersFileError);
  assert.throws(() => formatUsersFile([{ name: 'a', ntHash: Buffer.alloc(15) }]), UsersFileError);
});

function facts(mode: number, uid: number, file = true): PermissionFacts {
  return { mode: 0o100000 | mode, uid, isFile: () => file };
}

test('permission rule: mode, owner, root, file type', () => {
  assert.equal(permissionProblem('F', facts(0o600, 1000), 1000), undefined);
  assert.equal(permissionProblem('F', facts(0o400, 1000), 1000), undefined);
  for (const mode of [0o644, 0o640, 0o604, 0o660, 0o606, 0o610]) {
    assert.match(permissionProblem('F', facts(mode, 1000), 1000) ?? '', /chmod 600 F/, mode.toString(8));
  }
  assert.match(permissionProblem('F', facts(0o600, 1001), 1000) ?? '', /owned by uid 1001/);
  // root may use a file another user owns, but not one others can read.
  assert.equal(permissionProblem('F', facts(0o600, 1001), 0), undefined);
  assert.match(permissionProblem('F', facts(0o640, 1001), 0) ?? '', /chmod 600/);
  assert.match(permissionProblem('F', facts(0o600, 1000, false), 1000) ?? '', /not a regular file/);
  // No uid (Windows): modes are not meaningful.
  assert.equal(permissionProblem('F', facts(0o666, 5), undefined), undefined);
});

test('loading refuses 0644 and 0640 files with the fix, and accepts 0600', { skip: !posix }, async () => {
  const f = fresh();
  await writeFile(f, `alice:${HASH_A}\n`);
  for (const mode of [0o644, 0o640]) {
    await chmod(f, mode);
    await assert.rejects(loadUsersFile(f), (err: unknown) => {
      assert.ok(err instanceof UsersFileError);
      assert.match(err.message, new RegExp(`chmod 600 ${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
      return true;
    });
  }
  await chmod(f, 0o600);
  const store = await loadUsersFile(f);
  assert.equal(store.size, 1);
  assert.deepEqual(store.lookup('ALICE')?.ntHash, Buffer.from(HASH_A, 'hex'));
});

test('loading refuses a directory and a FIFO without hanging', { skip: !posix }, async () => {
  const d = join(dir, 'a-dir');
  await mkdir(d, { mode: 0o700 });
  await assert.rejects(readUsersFile(d), /not a regular file|EISDIR/);
  const fifo = join(dir, 'a-fifo');
  execFileSync('mkfifo', ['-m', '600', fifo]);
  await assert.rejects(readUsersFile(fifo), /not a regular file/);
});

test('a missing file is a clear error', async () => {
  await assert.rejects(readUsersFile(join(dir, 'nope.txt')), (err: unknown) => {
    assert.ok(err instanceof UsersFileError);
    assert.match(err.message, /cannot read users file .*ENOENT/);
    return true;
  });
});

test('a malformed file on disk names the file and line', { skip: !posix }, async () => {
  const f = fresh();
  await writeFile(f, `# ok\nalice:${HASH_A}\nbob\n`, { mode: 0o600 });
  await assert.rejects(loadUsersFile(f), new RegExp(`${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3: expected NAME:NTHASH`));
});

test('save: atomic replace with mode 0600, no temporary left, round trip', { skip: !posix }, async () => {
  const sub = join(dir, 'save');
  await mkdir(sub);
  const f = join(sub, 'users');
  await writeFile(f, 'old contents\n', { mode: 0o644 });
  await chmod(f, 0o644);
  const oldUmask = process.umask(0);
  try {
    await saveUsersFile(f, [
      { name: 'alice', ntHash: ntowfv1('pw-a') },
      { name: 'Bob', ntHash: Buffer.from(HASH_B, 'hex') },
    ]);
  } finally {
    process.umask(oldUmask);
  }
  assert.equal((await stat(f)).mode & 0o777, 0o600);
  assert.deepEqual(await readdir(sub), ['users']);
  const store = await loadUsersFile(f);
  assert.deepEqual(store.lookup('alice')?.ntHash, ntowfv1('pw-a'));
  assert.equal(store.lookup('bob')?.name, 'Bob');
  assert.ok(!(await readFile(f, 'utf8')).includes('pw-a'));
});

test('save: a refused entry list leaves the old file untouched', { skip: !posix }, async () => {
  const f = fresh();
  await saveUsersFile(f, [{ name: 'alice', ntHash: Buffer.alloc(16) }]);
  const before = await readFile(f, 'utf8');
  await assert.rejects(saveUsersFile(f, [{ name: 'a/b', ntHash: Buffer.alloc(16) }]), UsersFileError);
  assert.equal(await readFile(f, 'utf8'), before);
});

test('addUser / deleteUser / listUsers', { skip: !posix }, async () => {
  const f = fresh();
  assert.equal(await addUser(f, 'alice', 'first'), 'added');
  assert.equal((await stat(f)).mode & 0o777, 0o600);
  assert.equal(await addUser(f, 'bob', 'second'), 'added');
  assert.equal(await addUser(f, 'ALICE', 'third'), 'replaced');
  assert.deepEqual(await listUsers(f), ['ALICE', 'bob']);
  const store = await loadUsersFile(f);
  assert.deepEqual(store.lookup('alice')?.ntHash, ntowfv1('third'));
  const text = await readFile(f, 'utf8');
  for (const pw of ['first', 'second', 'third']) assert.ok(!text.includes(pw));

  assert.equal(await deleteUser(f, 'Alice'), true);
  assert.equal(await deleteUser(f, 'alice'), false);
  assert.deepEqual(await listUsers(f), ['bob']);

  await assert.rejects(addUser(f, 'a:b', 'x'), UsersFileError);
  await assert.rejects(addUser(f, 'carol', ''), /empty/);
  await chmod(f, 0o640);
  await assert.rejects(addUser(f, 'carol', 'x'), /chmod 600/);
  await assert.rejects(deleteUser(join(dir, 'missing'), 'bob'), /ENOENT/);
});
