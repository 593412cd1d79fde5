/**
 * smbtorture conformance: runs torture suites against a reference Samba and a
 * server under test side by side, prints passed-by-target / passed-by-Samba per
 * suite, and (with --update) records the target's passing subtests in
 * test/interop/torture-lists/<suite>.txt, which checkPassList() then enforces.
 *
 *   node dist/test/interop/conformance.js [--suites a,b] [--update] [--no-reference]
 *        [--target-cmd 'node bin/smbkit.js serve ...' --target-host 127.0.0.3 --target-port 445
 *         --target-share public --target-user U --target-password P] [--timeout-ms N]
 *        [--reference-host 127.0.0.2] [--verbose]
 *
 * The server under test is pluggable: conformance(startTarget, suites) takes any
 * function that starts a server and says where it listens.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnServer } from './harness/proc.js';
import { startSamba } from './harness/samba.js';
import { startSmbkit } from './harness/smbkit.js';
import { runTorture } from './harness/smbtorture.js';
import type { TortureResult } from './harness/smbtorture.js';

export interface TortureTarget {
  /** Shown in the table, e.g. "smbkit" or "samba@127.0.0.3". */
  label: string;
  host: string;
  port: number;
  share: string;
  user: string;
  password: string;
  /** A second account (smbtorture's torture:user2name, e.g. smb2.session.bind_different_user), when the target has one. */
  user2?: { name: string; password: string };
  stop(): Promise<void>;
}

export type StartTarget = () => Promise<TortureTarget>;

export const DEFAULT_SUITES = [
  'smb2.connect',
  'smb2.getinfo',
  'smb2.setinfo',
  'smb2.ea',
  'smb2.dir',
  'smb2.rename',
  'smb2.rw',
  'smb2.create',
  'smb2.delete-on-close-perms',
  'smb2.read',
  'smb2.maxfid',
  'smb2.lock',
  'smb2.notify',
  // Against smbkit: ioctl ~6 s, streams ~3 s, timestamps ~16 s (its delayed-write subtests wait on purpose).
  'smb2.ioctl',
  'smb2.streams',
  'smb2.timestamps',
  'smb2.oplock',
  'smb2.lease',
  'smb2.session',
  // compound ~60 s against smbkit (its interim-response subtests wait), sharemode ~1 s.
  'smb2.compound',
  'smb2.sharemode',
  // ~1 s each against smbkit.
  'smb2.durable-open',
  'smb2.durable-v2-open',
  // ~20 s against smbkit (its lease and oplock subtests wait for breaks that do not come).
  'smb2.multichannel',
  // ACLs: ~1 s each; secleak logs on with bad credentials again and again for its fixed 20 s.
  'smb2.acls',
  'smb2.sdread',
  'smb2.secleak',
  // ~140 s against smbkit and Samba alike (its dhv2-pending subtests wait for breaks on purpose).
  'smb2.replay',
];

/**
 * Suites also checked against smbkit's default configuration (signing required, no null sessions), the one users
 * run: the quick ones, about 30 s together; smb2.compound's invalid-session subtests check how errors are signed.
 */
export const DEFAULT_CONFIG_SUITES = [
  'smb2.connect',
  'smb2.getinfo',
  'smb2.setinfo',
  'smb2.ea',
  'smb2.rename',
  'smb2.rw',
  'smb2.create',
  'smb2.delete-on-close-perms',
  'smb2.read',
  'smb2.lock',
  'smb2.sharemode',
  'smb2.streams',
  'smb2.ioctl',
  'smb2.durable-open',
  'smb2.durable-v2-open',
  'smb2.session',
  'smb2.compound',
  'smb2.acls',
  'smb2.sdread',
];

/** Listed subtests that need a setting the defaults do not have, skipped in the default-configuration run. */
export const DEFAULT_CONFIG_EXCEPTIONS: Record<string, readonly string[]> = {
  // They re-authenticate anonymously: null sessions log on only with anonymous = true or a guest share.
  'smb2.session': ['reauth2', 'reauth3', 'reauth4'],
};

/** Per-suite hard limits; maxfid opens thousands of handles and is the slow one. */
export const SUITE_TIMEOUT_MS: Record<string, number> = { 'smb2.maxfid': 600_000 };
export const DEFAULT_SUITE_TIMEOUT_MS = 300_000;

export const TORTURE_USER = 'smbkit_t';
export const TORTURE_PASSWORD = 'Sm6kit pass!';
export const TORTURE_SHARE = 'public';
/** The second account both targets have, for subtests that need another user. */
export const TORTURE_USER2 = { name: 'smbkit_t2', password: 'Sm6kit other pass!' };

/**
 * Which [server] settings the smbkit target runs with. 'reference-like' matches the reference Samba, so that the
 * pass lists compare like with like: signing "enabled" (Samba's default) and null sessions allowed (smb2.session's
 * reauth subtests re-authenticate anonymously). 'defaults' is smbkit's own default configuration (signing required,
 * no null sessions), the one users run.
 */
export type SmbkitSettings = 'reference-like' | 'defaults';

/** smbkit's own server (the real CLI with a TOML file) with the same user and share as the reference. */
export async function startSmbkitTarget(
  address: string,
  label = 'smbkit',
  settings: SmbkitSettings = 'reference-like',
  extra: Record<string, string | number | boolean> = {},
): Promise<TortureTarget> {
  const s = await startSmbkit({
    address,
    port: 445,
    users: [{ name: TORTURE_USER, password: TORTURE_PASSWORD }, TORTURE_USER2],
    shares: [{ name: TORTURE_SHARE }],
    server: { ...(settings === 'reference-like' ? { signing: 'enabled', anonymous: true } : {}), ...extra },
  });
  return {
    label,
    host: address,
    port: 445,
    share: TORTURE_SHARE,
    user: TORTURE_USER,
    password: TORTURE_PASSWORD,
    user2: TORTURE_USER2,
    stop: () => s.stop(),
  };
}

/** A Samba with Windows-like semantics (acl_xattr, streams_xattr, EAs, DOS attributes). */
export async function startSambaTarget(address: string, label = `samba@${address}`): Promise<TortureTarget> {
  const samba = await startSamba({
    address,
    ports: [445],
    streams: true,
    users: [{ name: TORTURE_USER, password: TORTURE_PASSWORD }, TORTURE_USER2],
    shares: [{ name: TORTURE_SHARE }],
  });
  return {
    label,
    host: address,
    port: 445,
    share: TORTURE_SHARE,
    user: TORTURE_USER,
    password: TORTURE_PASSWORD,
    user2: TORTURE_USER2,
    stop: () => samba.stop(),
  };
}

export interface CommandTargetOptions {
  /** argv of the server process (run without a shell). */
  argv: string[];
  host: string;
  port: number;
  share: string;
  user: string;
  password: string;
  label?: string;
  startTimeoutMs?: number;
}

/** A server under test started as a command; it is killed (its process group) on stop(). */
export async function startCommandTarget(o: CommandTargetOptions): Promise<TortureTarget> {
  const proc = await spawnServer({
    argv: o.argv,
    cwd: repoRoot(),
    logPath: join(repoRoot(), 'dist', `conformance-target-${o.host}.log`),
    host: o.host,
    ports: [o.port],
    name: 'target',
    ...(o.startTimeoutMs !== undefined ? { startTimeoutMs: o.startTimeoutMs } : {}),
  });
  return { label: o.label ?? o.argv[0] ?? 'target', host: o.host, port: o.port, share: o.share, user: o.user, password: o.password, stop: proc.stop };
}

/** The checkout root (the folder with package.json), from src or dist. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('package.json not found above conformance.js');
}

export function passListPath(suite: string): string {
  return join(repoRoot(), 'test', 'interop', 'torture-lists', `${suite}.txt`);
}

/** The recorded passing subtests of a suite, or undefined when no list exists. */
export async function readPassList(suite: string): Promise<string[] | undefined> {
  let text: string;
  try {
    text = await readFile(passListPath(suite), 'utf8');
  } catch {
    return undefined;
  }
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

export async function writePassList(suite: string, names: string[], source: string): Promise<void> {
  const path = passListPath(suite);
  await mkdir(dirname(path), { recursive: true });
  const header = `# ${suite}: subtests ${source} passes (written by conformance --update)\n`;
  await writeFile(path, header + [...new Set(names)].sort().join('\n') + (names.length ? '\n' : ''));
}

function timeoutFor(suite: string, override?: number): number {
  return override ?? SUITE_TIMEOUT_MS[suite] ?? DEFAULT_SUITE_TIMEOUT_MS;
}

function torture(t: TortureTarget, suite: string, timeoutMs?: number): Promise<TortureResult> {
  return runTorture({
    host: t.host,
    port: t.port,
    share: t.share,
    user: t.user,
    password: t.password,
    suite,
    timeoutMs: timeoutFor(suite, timeoutMs),
    ...(t.user2 ? { options: [`torture:user2name=${t.user2.name}`, `torture:user2password=${t.user2.password}`] } : {}),
  });
}

export interface PassListCheck {
  suite: string;
  expected: string[];
  passed: string[];
  /** Listed subtests that failed even when rerun alone. */
  missing: string[];
  /** Passing subtests not on the list yet (candidates for --update). */
  extra: string[];
}

/**
 * Run `suite` against `target` and throw when a subtest on the suite's pass list
 * (but not in `exceptions`) no longer passes. A listed subtest that fails in the suite run is retried once
 * alone, so a single timing flake does not fail CI.
 */
export async function checkPassList(
  target: TortureTarget,
  suite: string,
  timeoutMs?: number,
  exceptions: readonly string[] = [],
): Promise<PassListCheck> {
  const listed = await readPassList(suite);
  if (listed === undefined) throw new Error(`no pass list for ${suite} at ${passListPath(suite)}`);
  const expected = listed.filter((name) => !exceptions.includes(name));
  const r = await torture(target, suite, timeoutMs);
  const passed = new Set(r.passed);
  const missing: string[] = [];
  for (const name of expected) {
    if (passed.has(name)) continue;
    const again = await torture(target, `${suite}.${name}`, timeoutMs);
    if (again.passed.length > 0 && again.subtests.every((s) => s.status === 'success')) passed.add(name);
    else missing.push(name);
  }
  const result: PassListCheck = {
    suite,
    expected,
    passed: [...passed],
    missing,
    extra: [...passed].filter((n) => !expected.includes(n)),
  };
  if (missing.length > 0) {
    const details = r.subtests
      .filter((s) => missing.includes(s.name))
      .map((s) => `  ${s.name}: ${s.status}${s.detail ? `\n    ${s.detail.trim().replace(/\n/g, '\n    ')}` : ''}`)
      .join('\n');
    throw new Error(`${suite}: ${missing.length} listed subtest(s) no longer pass on ${target.label}: ${missing.join(', ')}\n${details}`);
  }
  return result;
}

export interface SuiteReport {
  suite: string;
  target: TortureResult;
  reference?: TortureResult;
}

export interface ConformanceOptions {
  /** Also run each suite against a reference Samba (default true). */
  reference?: boolean;
  /** Address of the reference Samba; default 127.0.0.2. */
  referenceAddress?: string;
  /** Write the target's passing subtests to torture-lists/ (default false). */
  update?: boolean;
  /** Overrides every suite's time limit. */
  timeoutMs?: number;
  /** Called after each suite (the CLI prints progress). */
  onSuite?: (r: SuiteReport) => void;
}

function pct(n: number, d: number): string {
  return d === 0 ? '' : ` (${Math.round((100 * n) / d)}%)`;
}

export function formatTable(reports: SuiteReport[], targetLabel: string): string {
  const rows: string[][] = [['suite', `${targetLabel} passed`, 'samba passed', 'subtests', `${targetLabel} s`, 'samba s']];
  for (const r of reports) {
    const total = Math.max(r.target.subtests.length, r.reference?.subtests.length ?? 0);
    rows.push([
      r.suite + (r.target.timedOut ? ' (TIMEOUT)' : ''),
      `${r.target.passed.length}${pct(r.target.passed.length, total)}`,
      r.reference ? `${r.reference.passed.length}${r.reference.timedOut ? ' (TIMEOUT)' : ''}` : '-',
      String(total),
      (r.target.durationMs / 1000).toFixed(1),
      r.reference ? (r.reference.durationMs / 1000).toFixed(1) : '-',
    ]);
  }
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length))) ?? [];
  return rows.map((row) => row.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ')).join('\n');
}

/**
 * Run `suites` against the server `startTarget` starts and, unless disabled, a
 * reference Samba with streams on 127.0.0.2. Both servers stay up for the run.
 */
export async function conformance(
  startTarget: StartTarget,
  suites: string[] = DEFAULT_SUITES,
  opts: ConformanceOptions = {},
): Promise<SuiteReport[]> {
  const reference = opts.reference ?? true ? await startSambaTarget(opts.referenceAddress ?? '127.0.0.2') : undefined;
  let target: TortureTarget | undefined;
  const reports: SuiteReport[] = [];
  try {
    target = await startTarget();
    for (const suite of suites) {
      const t = await torture(target, suite, opts.timeoutMs);
      const report: SuiteReport = { suite, target: t };
      if (reference) report.reference = await torture(reference, suite, opts.timeoutMs);
      if (opts.update) await writePassList(suite, t.passed, target.label);
      reports.push(report);
      opts.onSuite?.(report);
    }
  } finally {
    await target?.stop();
    await reference?.stop();
  }
  return reports;
}

function parseArgs(argv: string[]): Map<string, string | true> {
  const m = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const eq = a.indexOf('=');
    if (eq > 0) m.set(a.slice(2, eq), a.slice(eq + 1));
    else if (i + 1 < argv.length && !(argv[i + 1] ?? '').startsWith('--')) m.set(a.slice(2), argv[++i] ?? '');
    else m.set(a.slice(2), true);
  }
  return m;
}

function str(args: Map<string, string | true>, key: string, dflt: string): string {
  const v = args.get(key);
  return typeof v === 'string' ? v : dflt;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.has('help')) {
    process.stdout.write(
      'usage: conformance.js [--suites a,b] [--update] [--no-reference] [--timeout-ms N] [--target samba]\n' +
        '       [--target-cmd "argv of the server"] [--target-host 127.0.0.3] [--target-port 445]\n' +
        '       [--target-share public] [--target-user U] [--target-password P] [--target-label L]\n' +
        '       [--reference-host 127.0.0.2] [--verbose]\n',
    );
    return;
  }
  const suitesArg = args.get('suites');
  const suites = typeof suitesArg === 'string' ? suitesArg.split(',').map((s) => s.trim()).filter(Boolean) : DEFAULT_SUITES;
  const host = str(args, 'target-host', '127.0.0.3');
  const cmd = args.get('target-cmd');
  const startTarget: StartTarget =
    typeof cmd === 'string'
      ? () =>
          startCommandTarget({
            argv: cmd.split(/\s+/).filter(Boolean),
            host,
            port: Number(str(args, 'target-port', '445')),
            share: str(args, 'target-share', TORTURE_SHARE),
            user: str(args, 'target-user', TORTURE_USER),
            password: str(args, 'target-password', TORTURE_PASSWORD),
            label: str(args, 'target-label', 'target'),
          })
      : args.get('target') === 'samba'
        ? () => startSambaTarget(host, str(args, 'target-label', `samba@${host}`))
        : () => startSmbkitTarget(host, str(args, 'target-label', 'smbkit'));
  const timeout = args.get('timeout-ms');
  const reports = await conformance(startTarget, suites, {
    reference: !args.has('no-reference'),
    referenceAddress: str(args, 'reference-host', '127.0.0.2'),
    update: args.has('update'),
    ...(typeof timeout === 'string' ? { timeoutMs: Number(timeout) } : {}),
    onSuite: (r) => {
      const ref = r.reference ? `, samba ${r.reference.passed.length}/${r.reference.subtests.length} in ${(r.reference.durationMs / 1000).toFixed(1)} s` : '';
      process.stderr.write(
        `${r.suite}: target ${r.target.passed.length}/${r.target.subtests.length} in ${(r.target.durationMs / 1000).toFixed(1)} s${ref}\n`,
      );
    },
  });
  const label = str(args, 'target-label', typeof cmd === 'string' ? 'target' : args.get('target') === 'samba' ? `samba@${host}` : 'smbkit');
  process.stdout.write(`${formatTable(reports, label)}\n`);
  if (args.has('verbose')) {
    for (const r of reports) {
      for (const s of r.target.subtests.filter((x) => x.status !== 'success')) {
        process.stdout.write(`${r.suite}.${s.name}: ${s.status}${s.detail ? ` ${s.detail.trim().split('\n')[0] ?? ''}` : ''}\n`);
      }
      for (const s of r.reference?.subtests.filter((x) => x.status !== 'success') ?? []) {
        process.stdout.write(`samba ${r.suite}.${s.name}: ${s.status}${s.detail ? ` ${s.detail.trim().split('\n')[0] ?? ''}` : ''}\n`);
      }
    }
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  });
}
