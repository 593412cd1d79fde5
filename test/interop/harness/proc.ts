/**
 * Child processes for interop tests: argv arrays only (never a shell), a hard
 * timeout that kills the whole process group, and captured output.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { connect } from 'node:net';

export interface RunOptions {
  /** Hard limit; the process group is killed with SIGKILL when it passes. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Written to stdin, which is then closed. */
  input?: string | Buffer;
  /** Cap on captured output per stream (bytes); the rest is dropped. */
  maxOutputBytes?: number;
}

export interface RunResult {
  /** Exit code; -1 when the process was killed by a signal or the timeout. */
  code: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  durationMs: number;
}

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_MAX_OUTPUT = 64 * 1024 * 1024;

/** Kill a detached child's process group, falling back to the PID alone. */
export function killTree(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  const pid = child.pid;
  if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

export function run(file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxOut = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(file, [...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
      env: opts.env ?? process.env,
      ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    let timedOut = false;
    child.stdout.on('data', (b: Buffer) => {
      if (outLen < maxOut) out.push(b);
      outLen += b.length;
    });
    child.stderr.on('data', (b: Buffer) => {
      if (errLen < maxOut) err.push(b);
      errLen += b.length;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      killTree(child);
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code: code ?? -1,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
        durationMs: performance.now() - started,
      });
    });
    child.stdin.on('error', () => {
      // the child may exit before reading its input
    });
    if (opts.input !== undefined) child.stdin.end(opts.input);
    else child.stdin.end();
  });
}

/** Like run(), but rejects unless the exit code is 0. */
export async function runChecked(file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await run(file, args, opts);
  if (r.code !== 0) {
    const why = r.timedOut ? 'timed out' : `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}`;
    throw new Error(`${file} ${args.join(' ')}: ${why}\n${r.stderr || r.stdout}`.trim());
  }
  return r;
}

/** One connect attempt; resolves true when the port accepts. */
function tryConnect(host: string, port: number, attemptMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    const done = (ok: boolean): void => {
      clearTimeout(t);
      sock.destroy();
      resolve(ok);
    };
    const t = setTimeout(() => done(false), attemptMs);
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** Poll until host:port accepts a TCP connection; rejects after timeoutMs. */
export async function waitForPort(host: string, port: number, timeoutMs = 15_000, isDead?: () => string | undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await tryConnect(host, port, 1_000)) return;
    const dead = isDead?.();
    if (dead !== undefined) throw new Error(`waiting for ${host}:${port}: ${dead}`);
    if (Date.now() > deadline) throw new Error(`${host}:${port} did not accept within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** True when `pid` names a live process (zombies count as gone). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // /proc/<pid>/stat: "pid (comm) state ..."; Z is a zombie.
    const stat = readFileSyncSafe(`/proc/${pid}/stat`);
    if (stat === undefined) return true;
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return true;
  }
}

function readFileSyncSafe(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Send SIGTERM, wait up to graceMs for the PID to go, then SIGKILL. */
export async function terminatePid(pid: number, graceMs = 3_000): Promise<void> {
  if (!isAlive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}

/** Direct children of `pid`, read from /proc (used to find rpcd_* workers). */
export function childPids(pid: number): number[] {
  const found: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return found;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const stat = readFileSyncSafe(`/proc/${e}/stat`);
    if (stat === undefined) continue;
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(rest[1]) === pid) found.push(Number(e));
  }
  return found;
}

export interface ServerProcess {
  pid: number;
  /** SIGTERM (a clean shutdown), SIGKILL after 5 s; resolves once the process has exited. */
  stop(): Promise<void>;
}

/**
 * Starts a server process we own (its own process group, output to `logPath`) and waits until it accepts on
 * every port; a process that exits first fails the start with the reason.
 */
export async function spawnServer(o: { argv: string[]; cwd: string; logPath: string; host: string; ports: number[]; name: string; startTimeoutMs?: number }): Promise<ServerProcess> {
  const [file, ...args] = o.argv;
  if (file === undefined) throw new Error(`${o.name}: empty command`);
  const log = await open(o.logPath, 'w');
  const child = spawn(file, args, { stdio: ['ignore', log.fd, log.fd], detached: true, cwd: o.cwd });
  await log.close();
  let exited: string | undefined;
  const gone = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = `${o.name} exited (code ${code ?? '-'}, signal ${signal ?? '-'})`;
      resolve();
    });
    child.once('error', (e) => {
      exited = `${o.name} failed to start: ${e.message}`;
      resolve();
    });
  });
  const stop = async (): Promise<void> => {
    if (exited !== undefined) return;
    killTree(child, 'SIGTERM');
    const t = setTimeout(() => killTree(child, 'SIGKILL'), 5_000);
    await gone;
    clearTimeout(t);
  };
  try {
    for (const port of o.ports) await waitForPort(o.host, port, o.startTimeoutMs ?? 20_000, () => exited);
  } catch (e) {
    await stop();
    throw e;
  }
  return { pid: child.pid ?? -1, stop };
}

/** The process serving each of our TCP connections to address:port, by the connection's local (client) port. */
export async function servingPids(address: string, port: number): Promise<Map<number, number>> {
  const r = await run('ss', ['-tnpH', 'state', 'established', 'src', `${address}:${port}`], { timeoutMs: 10_000 });
  const out = new Map<number, number>();
  const served = `${address}:${port}`;
  for (const line of r.stdout.split('\n')) {
    const peer = /\s127\.\d+\.\d+\.\d+:(\d+)\s/.exec(line.replace(served, ''));
    const pid = /pid=(\d+)/.exec(line);
    if (peer?.[1] && pid?.[1]) out.set(Number(peer[1]), Number(pid[1]));
  }
  return out;
}

/**
 * Kills worker `victim` of server `serverPid` with SIGKILL and waits (up to 10 s) until the server runs `workers`
 * live workers again, none of them the victim; true once it does.
 */
export async function killWorker(serverPid: number, victim: number, workers: number): Promise<boolean> {
  process.kill(victim, 'SIGKILL');
  const replaced = (): boolean => {
    const now = childPids(serverPid).filter(isAlive);
    return now.length === workers && !now.includes(victim);
  };
  for (let i = 0; i < 100 && !replaced(); i++) await new Promise((r) => setTimeout(r, 100));
  return replaced();
}
