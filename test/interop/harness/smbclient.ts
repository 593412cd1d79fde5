/**
 * Samba's smbclient as a test client. The password goes through an
 * authentication file (-A), never argv, so it does not show in `ps`.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from './proc.js';

export type SmbclientProtocol = 'NT1' | 'SMB2_02' | 'SMB2_10' | 'SMB3_00' | 'SMB3_02' | 'SMB3_11';

export interface SmbclientOptions {
  host: string;
  port?: number;
  share: string;
  user?: string;
  password?: string;
  domain?: string;
  anonymous?: boolean;
  maxProtocol?: SmbclientProtocol;
  minProtocol?: SmbclientProtocol;
  protection?: 'sign' | 'encrypt' | 'off';
  /** smbclient -c command string; `;` separates commands. Quote paths with quotePath(). */
  commands: string;
  timeoutMs?: number;
  /** Further `--option=` values, e.g. 'client ipc signing=required'. */
  options?: string[];
  /** Working directory (relative local paths in put/get resolve against it). */
  cwd?: string;
}

export interface SmbclientResult {
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  durationMs: number;
}

/** Quote a path for smbclient's command parser (double quotes; no quote allowed inside). */
export function quotePath(p: string): string {
  if (p.includes('"') || p.includes(';')) throw new Error(`path not expressible in smbclient -c: ${p}`);
  return `"${p}"`;
}

/** The argv (minus the credentials file) for a given run; exported for the benchmark. */
export function smbclientArgs(opts: Omit<SmbclientOptions, 'commands'>, authFile?: string): string[] {
  const args = [`//${opts.host}/${opts.share}`];
  // The client must not pick up the machine's own smb.conf.
  args.push('--configfile=/dev/null');
  if (opts.port !== undefined) args.push('-p', String(opts.port));
  if (opts.anonymous) args.push('-N', '-U%');
  else if (authFile !== undefined) args.push('-A', authFile);
  if (opts.maxProtocol !== undefined) args.push(`--option=client max protocol=${opts.maxProtocol}`);
  if (opts.minProtocol !== undefined) args.push(`--option=client min protocol=${opts.minProtocol}`);
  else if (opts.maxProtocol !== undefined) args.push(`--option=client min protocol=${opts.maxProtocol === 'NT1' ? 'NT1' : 'SMB2_02'}`);
  if (opts.protection !== undefined) args.push(`--client-protection=${opts.protection}`);
  for (const o of opts.options ?? []) args.push(`--option=${o}`);
  return args;
}

/** Write a 0600 credentials file in a private temp dir; returns it and a cleanup. */
export async function writeAuthFile(user: string, password: string, domain?: string): Promise<{ path: string; cleanup(): Promise<void> }> {
  for (const v of [user, password, domain ?? '']) {
    if (/[\r\n]/.test(v)) throw new Error('credentials must not contain newlines');
  }
  const dir = await mkdtemp(join(tmpdir(), 'smbkit-auth-'));
  const path = join(dir, 'auth');
  let text = `username = ${user}\npassword = ${password}\n`;
  if (domain !== undefined) text += `domain = ${domain}\n`;
  await writeFile(path, text, { mode: 0o600 });
  return { path, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export async function smbclient(opts: SmbclientOptions): Promise<SmbclientResult> {
  let auth: { path: string; cleanup(): Promise<void> } | undefined;
  if (!opts.anonymous) auth = await writeAuthFile(opts.user ?? 'guest', opts.password ?? '', opts.domain);
  try {
    const args = [...smbclientArgs(opts, auth?.path), '-c', opts.commands];
    const env = { ...process.env };
    delete env['PASSWD'];
    delete env['USER'];
    const r = await run('smbclient', args, {
      timeoutMs: opts.timeoutMs ?? 120_000,
      env,
      ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
    });
    return { code: r.code, stdout: r.stdout, stderr: r.stderr, timedOut: r.timedOut, durationMs: r.durationMs };
  } finally {
    await auth?.cleanup();
  }
}

export interface LsEntry {
  name: string;
  /** smbclient's attribute letters: D directory, A archive, H hidden, S system, R read-only, N normal. */
  attrs: string;
  size: number;
}

// smbclient prints "  %-30s%7s %8.0f  %s": name, attribute letters, size, date.
const LS_LINE = /^ {2}(.*?)\s+([DAHSRNIVE]*)\s+(\d+)\s+\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}$/;

/** Parse the entries of smbclient's `ls` output (the "blocks available" summary is skipped). */
export function parseLs(stdout: string): LsEntry[] {
  const entries: LsEntry[] = [];
  for (const line of stdout.split('\n')) {
    const m = LS_LINE.exec(line.replace(/\r$/, ''));
    if (m === null) continue;
    entries.push({ name: m[1] ?? '', attrs: m[2] ?? '', size: Number(m[3]) });
  }
  return entries;
}

/** The distinct NT_STATUS_* names mentioned in smbclient output, in order of appearance. */
export function ntStatusIn(output: string): string[] {
  const seen: string[] = [];
  for (const m of output.matchAll(/NT_STATUS_[A-Z0-9_]+/g)) {
    if (!seen.includes(m[0])) seen.push(m[0]);
  }
  return seen;
}

/**
 * smbclient's own average rate of the last put/get in bytes per second, when printed:
 * puts say "(average X kb/s)", gets "(average X KiloBytes/sec)"; both count KiB.
 */
export function parseAverageRate(output: string): number | undefined {
  const all = [...output.matchAll(/\(average ([\d.]+) (?:kb\/s|KiloBytes\/sec)\)/g)];
  const last = all.at(-1);
  return last?.[1] !== undefined ? Number(last[1]) * 1024 : undefined;
}
