/**
 * The client commands: `smbkit ls|get|put|rm|mkdir|mv|cat|shares URL`. Each parses its options, connects with
 * smbkit's client, does one thing and closes. Exit codes: 0 done, 1 the operation failed (the SmbError's status
 * and UNC path on stderr), 2 usage (thrown as UsageError for main to report).
 */
import { mkdir, readdir, stat, utimes } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { connect, type Client } from '../client/client.js';
import type { Share } from '../client/share.js';
import type { DialectName, Protection } from '../client/session.js';
import type { SmbStats } from '../client/stats.js';
import { SmbError, TransportError } from '../errors.js';
import { parseCommandArgs, UsageError } from './main.js';
import { Progress } from './progress.js';
import { baseName, joinPath, parentPath, parseTarget, resolveCredentials, uncOf, type SmbTarget } from './url.js';
import { PasswordInputError, readHiddenLine, type RawModeInput } from './user.js';

export const CLIENT_COMMANDS = ['ls', 'get', 'put', 'rm', 'mkdir', 'mv', 'cat', 'shares'] as const;
export type ClientCommand = (typeof CLIENT_COMMANDS)[number];

export const CLIENT_HELP = `usage: smbkit ls URL [-l] [--json]            list a directory (type, size, mtime, name)
       smbkit get URL [LOCAL] [-r]           download a file (or with -r a directory tree)
       smbkit put LOCAL URL [-r]             upload a file (or with -r a directory tree)
       smbkit rm URL [-r] [-f]               remove a file (or with -r a directory tree)
       smbkit mkdir URL [-p]                 create a directory (-p: parents too, no error if it exists)
       smbkit mv URL NEWPATH                 rename within the share (NEWPATH: /path in the share, a name
                                             relative to URL's directory, or an smb:// URL on the same share)
       smbkit cat URL                        write a file to stdout
       smbkit shares URL                     list the server's shares

URL is smb://[DOMAIN;]USER@HOST[:PORT]/SHARE/PATH (or \\\\HOST\\SHARE\\PATH). The password is read from the
SMBKIT_PASSWORD environment variable, or asked on the terminal; it is never an option (a password inside the
URL works but is visible in the process list).
  -u, --user USER          user name (USER or DOMAIN\\USER); overrides the URL's
  --domain DOMAIN          authentication domain
  --port PORT              TCP port (default 445)
  --signing off|desired|required      (default desired)
  --encryption off|desired|required   (default off: only when the server asks)
  --min-dialect V, --max-dialect V    2.0.2, 2.1, 3.0, 3.0.2 or 3.1.1
  --timeout SECONDS        per-request timeout (default 30; 0 = none)
  --json                   machine-readable output on stdout (listings; a summary for other commands)
  -q, --quiet              no progress bar (there is none anyway unless stdout and stderr are terminals)
`;

const DIALECT_NAMES: readonly string[] = ['2.0.2', '2.1', '3.0', '3.0.2', '3.1.1'];
const PROTECTIONS: readonly string[] = ['off', 'desired', 'required'];

interface Opts {
  user?: string;
  domain?: string;
  port?: string;
  signing?: string;
  encryption?: string;
  'min-dialect'?: string;
  'max-dialect'?: string;
  timeout?: string;
  json?: boolean;
  quiet?: boolean;
  recursive?: boolean;
  parents?: boolean;
  force?: boolean;
  long?: boolean;
  help?: boolean;
}

/** Positional argument counts: [min, max]. */
const ARITY: Record<ClientCommand, [number, number]> = {
  ls: [1, 1],
  get: [1, 2],
  put: [2, 2],
  rm: [1, 1],
  mkdir: [1, 1],
  mv: [2, 2],
  cat: [1, 1],
  shares: [1, 1],
};

/** Which command-specific flags each command takes. */
const FLAGS: Record<ClientCommand, (keyof Opts)[]> = {
  ls: ['long'],
  get: ['recursive'],
  put: ['recursive'],
  rm: ['recursive', 'force'],
  mkdir: ['parents'],
  mv: [],
  cat: [],
  shares: [],
};

export function parseClientArgs(command: ClientCommand, argv: string[]): { opts: Opts; positionals: string[] } {
  for (const a of argv) {
    if (/^(--password|--pass|--pw)(=|$)/.test(a)) {
      throw new UsageError('passwords are never taken as options (they would show in ps and the shell history); set SMBKIT_PASSWORD or type it when asked');
    }
  }
  const parsed = parseCommandArgs(
    {
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        user: { type: 'string', short: 'u' },
        domain: { type: 'string' },
        port: { type: 'string' },
        signing: { type: 'string' },
        encryption: { type: 'string' },
        'min-dialect': { type: 'string' },
        'max-dialect': { type: 'string' },
        timeout: { type: 'string' },
        json: { type: 'boolean' },
        quiet: { type: 'boolean', short: 'q' },
        recursive: { type: 'boolean', short: 'r' },
        parents: { type: 'boolean', short: 'p' },
        force: { type: 'boolean', short: 'f' },
        long: { type: 'boolean', short: 'l' },
        help: { type: 'boolean', short: 'h' },
      },
    },
    CLIENT_HELP,
  );
  const opts = parsed.values as Opts;
  const positionals = parsed.positionals;
  if (opts.help) return { opts, positionals };
  for (const f of ['recursive', 'parents', 'force', 'long'] as const) {
    if (opts[f] && !FLAGS[command].includes(f)) throw new UsageError(`${command} does not take --${f}`);
  }
  const [min, max] = ARITY[command];
  if (positionals.length < min || positionals.length > max) {
    throw new UsageError(`${command} takes ${min === max ? min : `${min} or ${max}`} argument${max > 1 ? 's' : ''}\n${CLIENT_HELP}`);
  }
  for (const k of ['signing', 'encryption'] as const) {
    const v = opts[k];
    if (v !== undefined && !PROTECTIONS.includes(v)) throw new UsageError(`--${k} takes off, desired or required`);
  }
  for (const k of ['min-dialect', 'max-dialect'] as const) {
    const v = opts[k];
    if (v !== undefined && !DIALECT_NAMES.includes(v)) throw new UsageError(`--${k} takes one of ${DIALECT_NAMES.join(', ')}`);
  }
  if (opts['min-dialect'] && opts['max-dialect'] && DIALECT_NAMES.indexOf(opts['min-dialect']) > DIALECT_NAMES.indexOf(opts['max-dialect'])) {
    throw new UsageError('--min-dialect is above --max-dialect');
  }
  if (opts.port !== undefined && !/^\d{1,5}$/.test(opts.port)) throw new UsageError('--port takes a number');
  if (opts.port !== undefined && (Number(opts.port) < 1 || Number(opts.port) > 65535)) throw new UsageError('--port takes 1..65535');
  if (opts.timeout !== undefined && !(Number(opts.timeout) >= 0)) throw new UsageError('--timeout takes seconds (a number >= 0)');
  return { opts, positionals };
}

/** What a command sees: its options, the terminal facts, and the output streams. */
interface Ctx {
  opts: Opts;
  json: boolean;
  progress: boolean;
  target: SmbTarget;
  out: NodeJS.WriteStream;
  err: NodeJS.WriteStream;
}

export async function runClientCommand(command: ClientCommand, argv: string[]): Promise<void> {
  const { opts, positionals } = parseClientArgs(command, argv);
  if (opts.help) {
    process.stdout.write(CLIENT_HELP);
    return;
  }
  // The URL is the first argument except for put (LOCAL URL).
  const urlArg = command === 'put' ? positionals[1]! : positionals[0]!;
  const target = parseTarget(urlArg);
  if (command !== 'shares' && target.share === '') throw new UsageError(`no share in ${urlArg}`);
  const json = opts.json === true;
  const ctx: Ctx = {
    opts,
    json,
    progress: !json && !opts.quiet && process.stderr.isTTY === true && process.stdout.isTTY === true,
    target,
    out: process.stdout,
    err: process.stderr,
  };
  let client: Client | undefined;
  try {
    const stdin = process.stdin as RawModeInput & { isTTY?: boolean };
    const creds = await resolveCredentials(target, {
      optUser: opts.user,
      optDomain: opts.domain,
      envPassword: process.env['SMBKIT_PASSWORD'],
      prompt: stdin.isTTY ? (q) => readHiddenLine(stdin, process.stderr, q) : undefined,
    });
    for (const w of creds.warnings) process.stderr.write(`smbkit: warning: ${w}\n`);
    const port = opts.port !== undefined ? Number(opts.port) : target.port;
    client = await connect({
      host: target.host,
      ...(port !== undefined ? { port } : {}),
      ...(target.share ? { share: target.share } : {}),
      ...(creds.user !== undefined ? { user: creds.user } : {}),
      ...(creds.domain !== undefined ? { domain: creds.domain } : {}),
      ...(creds.password !== undefined ? { password: creds.password } : {}),
      ...(opts.signing ? { signing: opts.signing as Protection } : {}),
      ...(opts.encryption ? { encryption: opts.encryption as Protection } : {}),
      ...(opts['min-dialect'] ? { minDialect: opts['min-dialect'] as DialectName } : {}),
      ...(opts['max-dialect'] ? { maxDialect: opts['max-dialect'] as DialectName } : {}),
      ...(opts.timeout !== undefined ? { timeoutMs: Math.round(Number(opts.timeout) * 1000) } : {}),
    });
    await COMMANDS[command](client, positionals, ctx);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    reportFailure(e, ctx);
  } finally {
    await client?.close().catch(() => undefined);
  }
}

/** One line on stderr (and with --json an error object on stdout); exit code 1. Bugs still throw. */
function reportFailure(e: unknown, ctx: Ctx): void {
  let message: string;
  let detail: Record<string, unknown>;
  if (e instanceof SmbError) {
    message = `${e.statusName}: ${e.path ?? uncOf(ctx.target, ctx.target.path)}`;
    detail = { status: e.statusName, code: e.code, path: e.path ?? uncOf(ctx.target, ctx.target.path) };
  } else if (e instanceof TransportError || e instanceof PasswordInputError || e instanceof CommandError) {
    message = e.message;
    detail = { code: (e as { code?: string }).code ?? e.name };
  } else if (e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string') {
    // A local file system error (ENOENT opening LOCAL, EACCES writing...) or a socket error.
    message = e.message;
    detail = { code: (e as NodeJS.ErrnoException).code };
  } else {
    throw e;
  }
  process.stderr.write(`smbkit: ${message}\n`);
  if (ctx.json) process.stdout.write(`${JSON.stringify({ ok: false, error: { message, ...detail } })}\n`);
  process.exitCode = 1;
}

/** A failure found by the command itself (a directory without -r...): exit code 1. */
class CommandError extends Error {
  override readonly name = 'CommandError';
  constructor(
    message: string,
    readonly code = 'EINVAL',
  ) {
    super(message);
  }
}

type Command = (client: Client, args: string[], ctx: Ctx) => Promise<void>;

const COMMANDS: Record<ClientCommand, Command> = {
  ls: cmdLs,
  get: cmdGet,
  put: cmdPut,
  rm: cmdRm,
  mkdir: cmdMkdir,
  mv: cmdMv,
  cat: cmdCat,
  shares: cmdShares,
};

function writeJson(ctx: Ctx, value: unknown): void {
  ctx.out.write(`${JSON.stringify(value, null, 2)}\n`);
}

// ---- ls ----

export interface ListEntry {
  name: string;
  type: 'directory' | 'file';
  size: number;
  mtime: string;
  attributes: number;
}

function entryOf(name: string, st: SmbStats): ListEntry {
  return {
    name,
    type: st.isDirectory() ? 'directory' : 'file',
    size: st.size,
    mtime: Number.isFinite(st.mtimeMs) ? new Date(st.mtimeMs).toISOString() : '',
    attributes: st.attributes,
  };
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/** Local time as 'YYYY-MM-DD HH:MM'. */
export function formatMtime(iso: string): string {
  if (!iso) return '????-??-?? ??:??';
  const d = new Date(iso);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
}

/** `ls -l`-like lines: type letter, size right-aligned, mtime, name (directories end in '/'). */
export function formatListing(entries: ListEntry[]): string {
  const width = Math.max(1, ...entries.map((e) => String(e.size).length));
  return entries
    .map((e) => `${e.type === 'directory' ? 'd' : '-'} ${String(e.size).padStart(width)}  ${formatMtime(e.mtime)}  ${e.name}${e.type === 'directory' ? '/' : ''}\n`)
    .join('');
}

async function cmdLs(client: Client, _args: string[], ctx: Ctx): Promise<void> {
  const share = client.share();
  const p = ctx.target.path;
  const st = await share.stat(p);
  let entries: ListEntry[];
  if (st.isDirectory()) {
    entries = (await share.readdir(p, { withFileTypes: true })).map((d) => entryOf(d.name, d.stats));
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } else {
    entries = [entryOf(baseName(p), st)];
  }
  if (ctx.json) writeJson(ctx, entries);
  else ctx.out.write(formatListing(entries));
}

// ---- transfers ----

interface Plan {
  dirs: string[];
  files: { from: string; to: string; size: number; mtimeMs?: number; atimeMs?: number }[];
  bytes: number;
}

interface Summary {
  ok: true;
  command: 'get' | 'put';
  source: string;
  destination: string;
  files: number;
  directories: number;
  bytes: number;
  seconds: number;
}

/** A name from a remote listing that is safe as a local path component. */
function safeLocalName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0');
}

/** A TransferOptions.onProgress that feeds the bar with the growth of each file's running total. */
function counter(progress: Progress | undefined): (bytes: number) => void {
  let seen = 0;
  return (bytes) => {
    progress?.add(bytes - seen);
    seen = bytes;
  };
}

async function localKind(path: string): Promise<'dir' | 'file' | 'none'> {
  try {
    return (await stat(path)).isDirectory() ? 'dir' : 'file';
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'none';
    throw e;
  }
}

async function runPlan(
  plan: Plan,
  ctx: Ctx,
  label: string,
  makeDir: (p: string) => Promise<unknown>,
  copy: (f: Plan['files'][number], onProgress: (bytes: number) => void) => Promise<void>,
): Promise<void> {
  const progress = ctx.progress ? new Progress(ctx.err, { total: plan.bytes, label }) : undefined;
  try {
    for (const d of plan.dirs) await makeDir(d);
    for (const f of plan.files) {
      progress?.setLabel(basename(f.from.replace(/\\/g, '/')));
      await copy(f, counter(progress));
    }
    progress?.finish();
  } catch (e) {
    progress?.abort();
    throw e;
  }
}

async function cmdGet(client: Client, args: string[], ctx: Ctx): Promise<void> {
  const started = performance.now();
  const share = client.share();
  const src = ctx.target.path;
  const st = await share.stat(src);
  const name = baseName(src) || ctx.target.share;
  const localArg = args[1] ?? '.';
  const kind = await localKind(localArg);
  const dest = kind === 'dir' || localArg.endsWith('/') ? join(localArg, name) : localArg;
  const plan: Plan = { dirs: [], files: [], bytes: 0 };
  if (st.isDirectory()) {
    if (!ctx.opts.recursive) throw new CommandError(`${uncOf(ctx.target, src)} is a directory (use -r)`, 'EISDIR');
    const walk = async (remote: string, local: string): Promise<void> => {
      plan.dirs.push(local);
      for (const e of await share.readdir(remote, { withFileTypes: true })) {
        if (!safeLocalName(e.name)) {
          process.stderr.write(`smbkit: warning: skipping the unsafe name ${JSON.stringify(e.name)} in ${uncOf(ctx.target, remote)}\n`);
          continue;
        }
        const r = joinPath(remote, e.name);
        const l = join(local, e.name);
        if (e.isDirectory()) await walk(r, l);
        else {
          plan.files.push({ from: r, to: l, size: e.stats.size, mtimeMs: e.stats.mtimeMs, atimeMs: e.stats.atimeMs });
          plan.bytes += e.stats.size;
        }
      }
    };
    await walk(src, dest);
  } else {
    plan.files.push({ from: src, to: dest, size: st.size, mtimeMs: st.mtimeMs, atimeMs: st.atimeMs });
    plan.bytes = st.size;
  }
  await runPlan(
    plan,
    ctx,
    name,
    (d) => mkdir(d, { recursive: true }),
    async (f, onProgress) => {
      await mkdir(dirname(f.to), { recursive: true });
      await share.download(f.from, f.to, { onProgress });
      if (f.mtimeMs !== undefined && Number.isFinite(f.mtimeMs)) {
        await utimes(f.to, new Date(f.atimeMs ?? f.mtimeMs), new Date(f.mtimeMs)).catch(() => undefined);
      }
    },
  );
  if (ctx.json) writeJson(ctx, summary('get', uncOf(ctx.target, src), resolve(dest), plan, started));
}

function summary(command: 'get' | 'put', source: string, destination: string, plan: Plan, started: number): Summary {
  return {
    ok: true,
    command,
    source,
    destination,
    files: plan.files.length,
    directories: plan.dirs.length,
    bytes: plan.bytes,
    seconds: Math.round(performance.now() - started) / 1000,
  };
}

async function remoteIsDir(share: Share, p: string): Promise<boolean> {
  try {
    return (await share.stat(p)).isDirectory();
  } catch (e) {
    if (e instanceof SmbError && (e.code === 'ENOENT' || e.code === 'ENOTDIR')) return false;
    throw e;
  }
}

async function cmdPut(client: Client, args: string[], ctx: Ctx): Promise<void> {
  const started = performance.now();
  const share = client.share();
  const localArg = args[0]!;
  const st = await stat(localArg);
  const name = basename(resolve(localArg));
  const t = ctx.target;
  const dest = t.path === '' || t.trailingSlash || (await remoteIsDir(share, t.path)) ? joinPath(t.path, name) : t.path;
  const plan: Plan = { dirs: [], files: [], bytes: 0 };
  if (st.isDirectory()) {
    if (!ctx.opts.recursive) throw new CommandError(`${localArg} is a directory (use -r)`, 'EISDIR');
    const walk = async (local: string, remote: string): Promise<void> => {
      plan.dirs.push(remote);
      const entries = await readdir(local, { withFileTypes: true });
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const e of entries) {
        const l = join(local, e.name);
        const r = joinPath(remote, e.name);
        let isDir = e.isDirectory();
        let isFile = e.isFile();
        if (e.isSymbolicLink()) {
          const target = await stat(l).catch(() => undefined);
          // Symlinked files are uploaded as files; symlinked directories are skipped (no loops).
          isFile = target?.isFile() ?? false;
          isDir = false;
        }
        if (isDir) await walk(l, r);
        else if (isFile) {
          const size = (await stat(l)).size;
          plan.files.push({ from: l, to: r, size });
          plan.bytes += size;
        } else process.stderr.write(`smbkit: warning: skipping ${l} (not a regular file or directory)\n`);
      }
    };
    await walk(localArg, dest);
  } else {
    if (!st.isFile()) throw new CommandError(`${localArg} is not a regular file`);
    plan.files.push({ from: localArg, to: dest, size: st.size });
    plan.bytes = st.size;
  }
  await runPlan(
    plan,
    ctx,
    name,
    (d) => share.mkdir(d, { recursive: true }),
    async (f, onProgress) => {
      await share.upload(f.from, f.to, { onProgress });
    },
  );
  if (ctx.json) writeJson(ctx, summary('put', resolve(localArg), uncOf(t, dest), plan, started));
}

// ---- the rest ----

async function cmdRm(client: Client, _args: string[], ctx: Ctx): Promise<void> {
  const p = ctx.target.path;
  if (p === '') throw new CommandError(`refusing to remove the root of the share ${uncOf(ctx.target, '')}`, 'EPERM');
  await client.share().rm(p, { recursive: ctx.opts.recursive === true, force: ctx.opts.force === true });
  if (ctx.json) writeJson(ctx, { ok: true, command: 'rm', removed: uncOf(ctx.target, p) });
}

async function cmdMkdir(client: Client, _args: string[], ctx: Ctx): Promise<void> {
  const p = ctx.target.path;
  if (p === '' && !ctx.opts.parents) throw new CommandError(`${uncOf(ctx.target, '')} exists`, 'EEXIST');
  await client.share().mkdir(p, { recursive: ctx.opts.parents === true });
  if (ctx.json) writeJson(ctx, { ok: true, command: 'mkdir', created: uncOf(ctx.target, p) });
}

/**
 * Where `mv URL NEWPATH` goes, share-relative: an smb:// URL (same host and share), '/path' from the share's
 * root, or a path relative to the source's directory.
 */
export function resolveMoveTarget(src: SmbTarget, arg: string): string {
  if (/^smb:\/\//i.test(arg) || arg.startsWith('\\\\')) {
    const t = parseTarget(arg);
    if (t.host.toLowerCase() !== src.host.toLowerCase() || t.share.toLowerCase() !== src.share.toLowerCase()) {
      throw new UsageError('mv works within one share; NEWPATH must be on the same host and share');
    }
    return t.path;
  }
  if (arg.startsWith('/') || arg.startsWith('\\')) return joinPath('', arg);
  return joinPath(parentPath(src.path), arg);
}

async function cmdMv(client: Client, args: string[], ctx: Ctx): Promise<void> {
  const share = client.share();
  const src = ctx.target.path;
  if (src === '') throw new CommandError('cannot move the root of a share', 'EPERM');
  let dst = resolveMoveTarget(ctx.target, args[1]!);
  if (dst === '' || (await remoteIsDir(share, dst))) dst = joinPath(dst, baseName(src));
  await share.rename(src, dst);
  if (ctx.json) writeJson(ctx, { ok: true, command: 'mv', from: uncOf(ctx.target, src), to: uncOf(ctx.target, dst) });
}

async function cmdCat(client: Client, _args: string[], ctx: Ctx): Promise<void> {
  const share = client.share();
  const stream = share.createReadStream(ctx.target.path);
  try {
    await pipeline(stream, ctx.out);
  } catch (e) {
    // The reader went away (`| head`): not a failure of ours.
    if ((e as NodeJS.ErrnoException).code === 'EPIPE' || (e as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE') return;
    throw e;
  }
}

async function cmdShares(client: Client, _args: string[], ctx: Ctx): Promise<void> {
  // srvsvc NetrShareEnum over IPC$: [{ name, type: 'disk'|'printer'|'device'|'ipc', special, comment }].
  const list = await client.listShares();
  if (ctx.json) {
    writeJson(ctx, list);
    return;
  }
  const width = Math.max(4, ...list.map((s) => s.name.length));
  ctx.out.write(list.map((s) => `${s.name.padEnd(width)}  ${s.type.padEnd(8)}  ${s.comment}`.trimEnd() + '\n').join(''));
}
