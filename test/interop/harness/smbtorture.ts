/**
 * Samba's smbtorture against any server: one suite per run, bounded by a hard
 * timeout, with per-subtest results parsed from its subunit-like output.
 */
import { run } from './proc.js';
import { writeAuthFile } from './smbclient.js';

export type TortureStatus = 'success' | 'failure' | 'error' | 'skip' | 'xfail' | 'uxsuccess' | 'timeout';

export interface TortureSubtest {
  name: string;
  status: TortureStatus;
  /** The bracketed detail smbtorture prints after failures and skips. */
  detail?: string;
}

export interface TortureOptions {
  host: string;
  port?: number;
  share: string;
  user: string;
  password: string;
  /** e.g. smb2.create, or one subtest: smb2.create.gentest */
  suite: string;
  /** Hard limit for the whole run; the process group is killed when it passes. */
  timeoutMs: number;
  /** Further `--option=` values (name=value). */
  options?: string[];
}

export interface TortureResult {
  suite: string;
  subtests: TortureSubtest[];
  /** Names of subtests that passed (status success). */
  passed: string[];
  code: number;
  timedOut: boolean;
  durationMs: number;
  stdout: string;
  stderr: string;
}

/**
 * Options of every run: shorter waits, and the EA name smb2.ea.acl_xattr checks a server keeps private (Samba
 * keeps its NT ACLs under security.NTACL; smbkit refuses that name too, see src/server/ea.ts).
 */
const DEFAULT_OPTIONS = ['torture:sharedelay=100000', 'torture:writetimeupdatedelay=500000', 'torture:acl_xattr_name=security.NTACL'];

/**
 * Parse smbtorture's result lines: `test: N` opens a subtest, and `success: N`,
 * `failure: N [`...`]`, `error: N [...]`, `skip: N [...]` close it. A subtest
 * that was started but never closed (the server hung, the run was killed) is
 * reported as `timeout`.
 */
export function parseTortureOutput(stdout: string): TortureSubtest[] {
  const out: TortureSubtest[] = [];
  const open = new Set<string>();
  const lines = stdout.split('\n');
  const RESULT = /^(success|successful|failure|failed|fail|error|skip|xfail|uxsuccess): (.+?)( \[)?$/;
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').replace(/\r$/, '');
    const start = /^test: (.+)$/.exec(line);
    if (start?.[1] !== undefined) {
      open.add(start[1]);
      continue;
    }
    const m = RESULT.exec(line);
    if (m === null || m[1] === undefined || m[2] === undefined) continue;
    let name = m[2];
    let detail: string | undefined;
    if (m[3] !== undefined) {
      const body: string[] = [];
      while (++i < lines.length && (lines[i] ?? '').replace(/\r$/, '') !== ']') body.push(lines[i] ?? '');
      detail = body.join('\n');
    } else {
      // "skip: name [reason]" on one line
      const inline = /^(.*?) \[(.*)\]$/.exec(name);
      if (inline?.[1] !== undefined && open.has(inline[1])) {
        name = inline[1];
        detail = inline[2] ?? '';
      }
    }
    const raw = m[1];
    const status: TortureStatus =
      raw === 'successful' ? 'success' : raw === 'failed' || raw === 'fail' ? 'failure' : (raw as TortureStatus);
    open.delete(name);
    out.push(detail !== undefined ? { name, status, detail } : { name, status });
  }
  for (const name of open) out.push({ name, status: 'timeout', detail: 'no result line (killed or crashed)' });
  return out;
}

export async function runTorture(opts: TortureOptions): Promise<TortureResult> {
  const auth = await writeAuthFile(opts.user, opts.password);
  try {
    const args = [`//${opts.host}/${opts.share}`, '-A', auth.path, '-p', String(opts.port ?? 445), '--configfile=/dev/null'];
    for (const o of [...DEFAULT_OPTIONS, ...(opts.options ?? [])]) args.push(`--option=${o}`);
    args.push(opts.suite);
    const r = await run('smbtorture', args, { timeoutMs: opts.timeoutMs });
    const subtests = parseTortureOutput(r.stdout);
    if (r.timedOut && subtests.every((s) => s.status !== 'timeout')) {
      subtests.push({ name: '(suite)', status: 'timeout', detail: `killed after ${opts.timeoutMs} ms` });
    }
    return {
      suite: opts.suite,
      subtests,
      passed: subtests.filter((s) => s.status === 'success').map((s) => s.name),
      code: r.code,
      timedOut: r.timedOut,
      durationMs: r.durationMs,
      stdout: r.stdout,
      stderr: r.stderr,
    };
  } finally {
    await auth.cleanup();
  }
}

/** Subtest names of a suite, listed offline (`smbtorture --list`). */
export async function listTorture(suite: string): Promise<string[]> {
  const r = await run('smbtorture', ['--list', suite], { timeoutMs: 30_000 });
  return r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith(`${suite}.`))
    .map((l) => {
      // Entries read "suite.tcase.test"; single-test cases repeat the name ("a.a").
      const rest = l.slice(suite.length + 1);
      const parts = rest.split('.');
      return parts.length === 2 && parts[0] === parts[1] ? (parts[0] ?? rest) : rest;
    });
}
