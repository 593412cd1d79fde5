/**
 * The two servers the workload benchmarks compare, with what the benches need beyond a BenchTarget: the PID whose
 * process tree does the serving (for CPU time), and the share's folder on disk (to seed and clear it directly).
 * Both are configured as bench/transfer.ts configures them: a plain Samba share, and smbkit with signing "enabled"
 * so both serve unsigned unless a client asks.
 */
import { readFileSync } from 'node:fs';
import { startSamba } from '../test/interop/harness/samba.js';
import { startSmbkit } from '../test/interop/harness/smbkit.js';
import { childPids } from '../test/interop/harness/proc.js';
import type { BenchTarget } from './transfer.js';

export interface WorkloadServer extends BenchTarget {
  kind: 'samba' | 'smbkit';
  /** The process whose tree serves every connection (smbd's master; smbkit's `serve` process). */
  pid: number;
  /** The share's folder on this machine. */
  sharePath: string;
}

const BENCH_USER = 'smbkit_b';
const BENCH_PASSWORD = 'Sm6kit bench!';
const SHARE = 'bench';

/** Extra smbkit [server] settings from the command line: `workers=2`, `log_level=debug`, `max_credits=512`. */
export type SmbkitSettings = Record<string, string | number | boolean>;

/** Parses one `--smbkit-opt key=value`: numbers and true/false keep their TOML type, anything else is a string. */
export function parseSmbkitSetting(text: string, into: SmbkitSettings): void {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new Error(`--smbkit-opt expects key=value, got ${text}`);
  const key = text.slice(0, eq).trim();
  const raw = text.slice(eq + 1).trim();
  if (!/^[A-Za-z0-9_]+$/.test(key)) throw new Error(`--smbkit-opt: bad key ${key}`);
  into[key] = /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw === 'true' ? true : raw === 'false' ? false : raw;
}

export async function startSmbkitWorkloadServer(address: string, settings: SmbkitSettings = {}): Promise<WorkloadServer> {
  const s = await startSmbkit({
    address,
    port: 445,
    users: [{ name: BENCH_USER, password: BENCH_PASSWORD }],
    shares: [{ name: SHARE }],
    server: { signing: 'enabled', log_level: 'warn', ...settings },
    defaultPlacement: true,
  });
  const sharePath = s.sharePaths.get(SHARE);
  if (sharePath === undefined) throw new Error('smbkit share path missing');
  return {
    kind: 'smbkit',
    label: 'smbkit',
    host: address,
    port: 445,
    share: SHARE,
    user: BENCH_USER,
    password: BENCH_PASSWORD,
    pid: s.pid,
    sharePath,
    stop: () => s.stop(),
  };
}

export async function startSambaWorkloadServer(address: string): Promise<WorkloadServer> {
  const samba = await startSamba({
    address,
    ports: [445],
    users: [{ name: BENCH_USER, password: BENCH_PASSWORD }],
    shares: [{ name: SHARE }],
  });
  const sharePath = samba.sharePaths.get(SHARE);
  if (sharePath === undefined) throw new Error('samba share path missing');
  return {
    kind: 'samba',
    label: 'samba',
    host: address,
    port: 445,
    share: SHARE,
    user: BENCH_USER,
    password: BENCH_PASSWORD,
    pid: samba.pid,
    sharePath,
    stop: () => samba.stop(),
  };
}

// ---- server CPU time ----

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ; Linux reports /proc/<pid>/stat times in these on every architecture we run

interface ProcTimes {
  ppid: number;
  /** utime + stime: what the process itself used. */
  own: number;
  /** cutime + cstime: what its children used, counted once the process reaped them. */
  reaped: number;
}

function procTimes(pid: number): ProcTimes | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid ...": fields after the command name, so rest[0] is field 3 (state).
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const f = (n: number): number => Number(rest[n - 3]);
  return { ppid: f(4), own: f(14) + f(15), reaped: f(16) + f(17) };
}

/**
 * CPU milliseconds used so far by `pid` and every process below it.
 *
 * Samba forks one smbd per connection, and the per-connection smbd exits when its client disconnects. We count a
 * run's CPU through the master's cutime + cstime: when the master reaps a connection child, the kernel adds the
 * child's whole user + system time (and that of anything the child had reaped) to them, so after the run's clients
 * have disconnected and their children are reaped (see settle()), the growth of the master's utime + stime + cutime
 * + cstime is exactly what the master and the run's connections used, teardown included. Summing the children's
 * /proc/<pid>/stat while they are alive would not be right: a child that exits between two samples takes its time
 * with it, and the last sample always misses the work done after it (logoff, close, exit). The few long-lived helpers
 * (smbd-notifyd, smbd-cleanupd) are never reaped during a run, so their own times are added while alive.
 * The same sum serves smbkit: one process (its worker threads count in its own utime + stime), plus any child
 * processes it may start.
 */
export function treeCpuMs(pid: number): number {
  return (treeTicks(pid) * 1000) / CLOCK_TICKS_PER_SECOND;
}

function treeTicks(pid: number): number {
  const t = procTimes(pid);
  if (t === undefined) return 0;
  let ticks = t.own + t.reaped;
  for (const c of childPids(pid)) ticks += treeTicks(c);
  return ticks;
}

/**
 * Waits until the server's process tree is back to its idle shape: the children alive now are only those of
 * `idle` (for Samba: the connection smbds of the run have exited and been reaped; zombies count as not reaped).
 * Returns false when that did not happen within `timeoutMs` (the CPU figure of the run is then a lower bound).
 */
export async function settle(pid: number, idle: ReadonlySet<number>, timeoutMs = 15_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const extra = childPids(pid).filter((c) => !idle.has(c));
    if (extra.length === 0) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The children of an idle server (Samba: notifyd, cleanupd; smbkit: none or its workers). */
export function idleChildren(pid: number): Set<number> {
  return new Set(childPids(pid));
}
