/**
 * The users file: the accounts `smbkit serve` authenticates, managed by `smbkit user add|del|list`.
 *
 * Format (UTF-8 text, one account a line):
 *
 *     # comment
 *     alice:8846f7eaee8fb117ad06bdd830b7586c
 *
 * `NAME:NTHASH`, where NTHASH is the account's NT hash (NTOWFv1 = MD4(UTF-16LE(password)), MS-NLMP 3.3.1) as
 * 32 hex digits. Blank lines and lines starting with `#` are ignored; a trailing CR is tolerated.
 *
 * Why a line format and not JSON: it is the shape administrators know from smbpasswd and htpasswd, a diff of
 * the file shows one line per changed account, and it needs no quoting because names can hold neither `:` nor
 * line breaks. Comments written by hand are not kept when `smbkit user` rewrites the file.
 *
 * An NT hash is password-equivalent for NTLM (anyone holding it can log in), so the file is guarded like a
 * private key: loading refuses a file that group or others may access, or that another user owns, and saving
 * writes a 0600 temporary file in the same directory and renames it over the old one, so a reader sees the old
 * or the new file, never half of one. No error message quotes a line's content, since it holds a hash.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants, type Stats } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ntowfv1 } from '../crypto/ntlm.js';
import { MemoryUserStore } from './users.js';

/** One account as stored in the file. */
export interface UsersFileEntry {
  name: string;
  /** 16 bytes: NTOWFv1 of the password. */
  ntHash: Buffer;
}

/** A users file that cannot be used: unreadable, malformed, or with unsafe permissions. */
export class UsersFileError extends Error {
  override readonly name = 'UsersFileError';
}

/** Longest account name, in characters (the config file's `[[user]] name` has the same limit). */
export const MAX_USER_NAME_LENGTH = 104;

/** Largest users file we read: far above any real one, and it keeps a wrong path (a disk image) from eating memory. */
const MAX_FILE_BYTES = 16 << 20;

const HASH_RE = /^[0-9a-fA-F]{32}$/;
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\x00-\x1f\x7f-\x9f]/;

/**
 * Why `name` cannot be an account name, or undefined when it can. Besides the length and the characters the
 * format and SMB paths reserve (`:`, `\`, `/`, control characters), a name may not start with `#` (it would
 * read back as a comment) nor start or end with white space (invisible, and easily mistyped by a client).
 */
export function userNameProblem(name: string): string | undefined {
  const length = [...name].length;
  if (length === 0) return 'a user name cannot be empty';
  if (length > MAX_USER_NAME_LENGTH) return `a user name has at most ${MAX_USER_NAME_LENGTH} characters`;
  if (CONTROL_RE.test(name)) return 'a user name cannot contain control characters';
  if (/[:\\/]/.test(name)) return 'a user name cannot contain : \\ or /';
  if (name.startsWith('#')) return 'a user name cannot start with #';
  if (name.trim() !== name) return 'a user name cannot start or end with white space';
  return undefined;
}

/** Throws UsersFileError unless `name` is a valid account name. */
export function validateUserName(name: string): void {
  const problem = userNameProblem(name);
  if (problem !== undefined) throw new UsersFileError(problem);
}

function nameKey(name: string): string {
  return name.toLowerCase();
}

/**
 * Parses the text of a users file. Every line is checked; the first bad one throws a UsersFileError naming
 * `source` and the line number. Names are unique case-insensitively (Windows account names are).
 */
export function parseUsersFile(text: string, source = 'users file'): UsersFileEntry[] {
  const entries: UsersFileEntry[] = [];
  const seen = new Map<string, number>();
  const lines = text.split('\n');
  // A final newline leaves one empty string behind; it is not a line of its own.
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  lines.forEach((raw, i) => {
    const lineNo = i + 1;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '' || line.startsWith('#')) return;
    const fail = (why: string): never => {
      throw new UsersFileError(`${source}:${lineNo}: ${why}`);
    };
    const colon = line.lastIndexOf(':');
    if (colon < 0) fail('expected NAME:NTHASH (32 hex digits)');
    const name = line.slice(0, colon);
    const hex = line.slice(colon + 1);
    const problem = userNameProblem(name);
    if (problem !== undefined) fail(problem);
    if (!HASH_RE.test(hex)) fail('the NT hash must be 32 hex digits');
    const k = nameKey(name);
    const first = seen.get(k);
    if (first !== undefined) fail(`user ${name} is already defined on line ${first}`);
    seen.set(k, lineNo);
    entries.push({ name, ntHash: Buffer.from(hex, 'hex') });
  });
  return entries;
}

/** The text of a users file holding `entries` (in the given order), with a header comment. */
export function formatUsersFile(entries: readonly UsersFileEntry[]): string {
  const seen = new Set<string>();
  const lines = [
    '# smbkit users file: NAME:NTHASH, one account a line. Manage it with `smbkit user add|del|list --users FILE`.',
    '# The hashes are password-equivalent: keep this file private (mode 0600).',
  ];
  for (const e of entries) {
    validateUserName(e.name);
    if (e.ntHash.length !== 16) throw new UsersFileError(`user ${e.name}: an NT hash is 16 bytes`);
    const k = nameKey(e.name);
    if (seen.has(k)) throw new UsersFileError(`user ${e.name} appears twice`);
    seen.add(k);
    lines.push(`${e.name}:${e.ntHash.toString('hex')}`);
  }
  return lines.join('\n') + '\n';
}

/** The facts of a file's metadata the permission rule looks at (a subset of fs.Stats, so tests can fake them). */
export type PermissionFacts = Pick<Stats, 'mode' | 'uid'> & { isFile(): boolean };

/**
 * Why the users file is unsafe to trust, or undefined when it is fine. `processUid` is the process's uid, or
 * undefined where there is none (Windows: POSIX modes mean little there, so nothing is checked).
 * Rules: a regular file; no permission bits for group or others; owned by the process's user (root may use a
 * file anyone owns, as a service started as root commonly reads files an admin account created, but the
 * mode rule still holds).
 */
export function permissionProblem(path: string, st: PermissionFacts, processUid: number | undefined): string | undefined {
  if (!st.isFile()) return `${path} is not a regular file`;
  if (processUid === undefined) return undefined;
  const mode = st.mode & 0o777;
  if ((mode & 0o077) !== 0) {
    return `${path} is accessible by group or others (mode ${mode.toString(8).padStart(4, '0')}); it holds password hashes: run \`chmod 600 ${path}\``;
  }
  if (processUid !== 0 && st.uid !== processUid) {
    return `${path} is owned by uid ${st.uid}, not by this user (uid ${processUid}); run \`chown ${processUid} ${path}\` or use a file of your own`;
  }
  return undefined;
}

function currentUid(): number | undefined {
  return typeof process.getuid === 'function' ? process.getuid() : undefined;
}

/**
 * Reads, permission-checks and parses a users file. Throws UsersFileError (with `code: 'ENOENT'` on the error's
 * cause when the file is missing). The checks run on the opened descriptor, so the file checked is the one read.
 */
export async function readUsersFile(path: string): Promise<UsersFileEntry[]> {
  let fh;
  try {
    // O_NONBLOCK: a FIFO put in the file's place must not hang the open (it then fails the regular-file rule).
    fh = await open(path, fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0));
  } catch (err) {
    throw new UsersFileError(`cannot read users file ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const st = await fh.stat();
    const problem = permissionProblem(path, st, currentUid());
    if (problem !== undefined) throw new UsersFileError(problem);
    if (st.size > MAX_FILE_BYTES) throw new UsersFileError(`${path} is larger than ${MAX_FILE_BYTES} bytes; not a users file`);
    const text = await fh.readFile({ encoding: 'utf8' });
    return parseUsersFile(text, path);
  } finally {
    await fh.close();
  }
}

/** Loads a users file into a user store for the server (see readUsersFile for the checks). */
export async function loadUsersFile(path: string): Promise<MemoryUserStore> {
  const store = new MemoryUserStore();
  for (const e of await readUsersFile(path)) store.addHash(e.name, e.ntHash);
  return store;
}

/**
 * Writes `entries` to `path` atomically with mode 0600: a temporary file in the same directory (so the rename
 * stays within one file system), flushed to disk, then renamed over `path`.
 */
export async function saveUsersFile(path: string, entries: readonly UsersFileEntry[]): Promise<void> {
  const text = formatUsersFile(entries);
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  // 'wx': never follow or reuse an existing name; 0600 from the first byte (the umask can only remove bits).
  const fh = await open(tmp, 'wx', 0o600);
  let renamed = false;
  try {
    await fh.chmod(0o600);
    await fh.writeFile(text, 'utf8');
    await fh.sync();
    await fh.close();
    await rename(tmp, path);
    renamed = true;
  } finally {
    if (!renamed) {
      await fh.close().catch(() => {});
      await unlink(tmp).catch(() => {});
    }
  }
  await syncDirectory(dir);
}

/** Makes the rename durable (POSIX); directories cannot be opened for this on Windows, which is fine to skip. */
async function syncDirectory(dir: string): Promise<void> {
  let dh;
  try {
    dh = await open(dir, 'r');
    await dh.sync();
  } catch {
    // best effort
  } finally {
    await dh?.close().catch(() => {});
  }
}

/** Whether `err` is readUsersFile's error for a file that does not exist. */
export function isUsersFileMissing(err: unknown): boolean {
  return err instanceof UsersFileError && (err.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

/**
 * Adds an account to the users file, or sets a new password for an existing one (the name is matched
 * case-insensitively and takes the spelling given here). Creates the file (0600) when it does not exist.
 * Returns whether the account was added or replaced.
 */
export async function addUser(path: string, name: string, password: string): Promise<'added' | 'replaced'> {
  validateUserName(name);
  if (password.length === 0) throw new UsersFileError('the password cannot be empty');
  let entries: UsersFileEntry[];
  try {
    entries = await readUsersFile(path);
  } catch (err) {
    if (!isUsersFileMissing(err)) throw err;
    entries = [];
  }
  const entry: UsersFileEntry = { name, ntHash: ntowfv1(password) };
  const i = entries.findIndex((e) => nameKey(e.name) === nameKey(name));
  if (i >= 0) entries[i] = entry;
  else entries.push(entry);
  await saveUsersFile(path, entries);
  return i >= 0 ? 'replaced' : 'added';
}

/** Removes an account (matched case-insensitively). Returns false when there was none of that name. */
export async function deleteUser(path: string, name: string): Promise<boolean> {
  const entries = await readUsersFile(path);
  const kept = entries.filter((e) => nameKey(e.name) !== nameKey(name));
  if (kept.length === entries.length) return false;
  await saveUsersFile(path, kept);
  return true;
}

/** The account names in the file, in file order (never the hashes). */
export async function listUsers(path: string): Promise<string[]> {
  return (await readUsersFile(path)).map((e) => e.name);
}
