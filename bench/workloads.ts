/**
 * Workload benchmarks of issue 13 (small files, metadata, many sessions): a reference Samba and smbkit in the same
 * run, runs alternating between them (3 by default), min / median / max per server, the ratio smbkit/Samba of the
 * medians, and the server CPU time per operation of each (its process tree's user + system time over the run; see
 * treeCpuMs in workload-servers.ts).
 *
 *   node dist/bench/workloads.js [--workload smallfiles,tar,bigdir,sessions,torture|all] [--runs 3]
 *     [--address-base 127.0.0] [--samba-address A] [--smbkit-address A] [--smbkit-opt key=value]...
 *     [--files 2000] [--tar-files 10000] [--dir-entries 100000]
 *     [--sessions 8,32,64] [--seconds 10] [--list-every 10] [--dialect 3.1.1|3.0.2]
 *     [--torture-seconds 10] [--torture-nprocs 4]
 *
 * Workloads:
 *   smallfiles  one smbclient session (SMB3_11): `put` of a 1-byte file N times, `ls`, N `del`; ops/s and per phase
 *   tar         a tar of small files (0-64 KiB, deterministic, 8 subfolders) extracted with `smbclient -Tx`, then
 *               backed up with `smbclient -Tc` (the backup must list every file); wall time of each
 *   bigdir      a folder of N entries made on disk (not through SMB) listed with `smbclient -c 'cd bigdir; ls'`
 *   sessions    the raw-protocol small-file loop (bench/session-loop.ts) at each session count; ops/s, latencies
 *   torture     smbtorture's smb2.bench.echo, smb2.bench.oplock1 and smb2.bench.path-contention-shared
 */
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, runChecked } from '../test/interop/harness/proc.js';
import { parseLs, smbclientArgs, writeAuthFile } from '../test/interop/harness/smbclient.js';
import { Dialect } from '../src/protocol/smb2/constants.js';
import { METADATA_DIR } from '../src/store/local.js';
import { LIST_FILES, LIST_FOLDER, LOOP_FOLDER, OP_NAMES, runSessionLoop, type OpName } from './session-loop.js';
import { median } from './transfer.js';
import {
  idleChildren,
  parseSmbkitSetting,
  settle,
  startSambaWorkloadServer,
  startSmbkitWorkloadServer,
  treeCpuMs,
  type SmbkitSettings,
  type WorkloadServer,
} from './workload-servers.js';

export const WORKLOADS = ['smallfiles', 'tar', 'bigdir', 'sessions', 'torture'] as const;
export type Workload = (typeof WORKLOADS)[number];
type Kind = WorkloadServer['kind'];
const KINDS: readonly Kind[] = ['samba', 'smbkit'];

export interface WorkloadOptions {
  workloads: Workload[];
  runs: number;
  sambaAddress: string;
  smbkitAddress: string;
  smbkitSettings: SmbkitSettings;
  /** smallfiles: puts and deletes (default 2,000). */
  files: number;
  /** tar: files in the archive (default 10,000). */
  tarFiles: number;
  /** bigdir: entries in the folder (default 100,000). */
  dirEntries: number;
  /** sessions: the session counts (default 8, 32, 64). */
  sessions: number[];
  /** sessions: seconds per configuration and run (default 10). */
  seconds: number;
  listEvery: number;
  dialect: number;
  tortureSeconds: number;
  tortureNprocs: number;
  log: (line: string) => void;
}

/** One run's figure on one server. */
export interface Sample {
  value: number;
  /** Server CPU milliseconds of the run (NaN when not measured apart, e.g. one phase of a session). */
  cpuMs: number;
  /** Operations the CPU time is divided by. */
  ops: number;
}

/** One line of the summary: a figure measured on both servers. */
export interface Row {
  name: string;
  unit: string;
  higherIsBetter: boolean;
  samples: Record<Kind, Sample[]>;
}

export interface LatencyRow {
  config: string;
  server: Kind;
  op: OpName;
  count: number;
  p50: number;
  p99: number;
}

export interface WorkloadReport {
  rows: Row[];
  latencies: LatencyRow[];
  /** Error descriptions per server, with counts. */
  errors: Record<Kind, Map<string, number>>;
  notes: string[];
}

interface Server extends WorkloadServer {
  /** Children of the idle server (Samba's helpers), which a settled tree still has. */
  idle: Set<number>;
}

// ---- statistics ----

function sorted(xs: number[]): number[] {
  return [...xs].sort((a, b) => a - b);
}

/** The nearest-rank percentile (p in 0..100) of an ascending array. */
export function percentile(ascending: number[], p: number): number {
  if (ascending.length === 0) return NaN;
  const rank = Math.min(ascending.length, Math.max(1, Math.ceil((p / 100) * ascending.length)));
  return ascending[rank - 1] ?? NaN;
}

// ---- helpers ----

/** A deterministic pseudo-random generator (mulberry32): the same tree on every machine and run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function inBatches(count: number, width: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, count) }, async () => {
      while (next < count) await fn(next++);
    }),
  );
}

/**
 * Removes everything inside a share's folder on disk but the folder itself and smbkit's metadata sidecar
 * (`.smbkit`, which the running server owns: without it every CREATE fails until a restart).
 */
async function clearShare(path: string): Promise<void> {
  for (const e of await readdir(path)) {
    if (e === METADATA_DIR) continue;
    await rm(join(path, e), { recursive: true, force: true });
  }
}

/** A folder on the share that Samba's per-user smbd (not root) can write in. */
async function shareFolder(s: Server, name: string): Promise<string> {
  const p = join(s.sharePath, name);
  await mkdir(p, { recursive: true });
  await chmod(p, 0o777);
  return p;
}

function ntStatusCounts(output: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of output.matchAll(/NT_STATUS_[A-Z0-9_]+/g)) m.set(x[0], (m.get(x[0]) ?? 0) + 1);
  return m;
}

function smbclientBaseArgs(s: Server, authPath: string): string[] {
  return smbclientArgs({ host: s.host, port: s.port, share: s.share, maxProtocol: 'SMB3_11', minProtocol: 'SMB3_11' }, authPath);
}

/** Runs smbclient with the bench account (an auth file, never argv) and extra arguments. */
async function smbclientWith(s: Server, extra: string[], timeoutMs: number): Promise<{ code: number; out: string; ms: number; timedOut: boolean }> {
  const auth = await writeAuthFile(s.user, s.password);
  try {
    const env = { ...process.env };
    delete env['PASSWD'];
    delete env['USER'];
    const r = await run('smbclient', [...smbclientBaseArgs(s, auth.path), ...extra], { timeoutMs, env });
    return { code: r.code, out: r.stdout + r.stderr, ms: r.durationMs, timedOut: r.timedOut };
  } finally {
    await auth.cleanup();
  }
}

/** A line for an smbclient script that prints the wall clock when smbclient reaches it (a shell escape). */
const MARK_COMMAND = '!date +SMBKIT_MARK%s.%N';

/**
 * One smbclient session fed a script on stdin. Each MARK_COMMAND line makes smbclient run `date`, which writes the
 * time smbclient got there straight to the shared stdout, so phase times do not depend on when this process reads
 * the pipe (stdbuf keeps smbclient's stdout line-buffered, so a mark never lands inside one of its lines).
 * Resolves with the marks (epoch seconds, in order) and the output.
 */
async function smbclientScript(s: Server, script: string, cwd: string, timeoutMs: number): Promise<{ code: number; out: string; marks: number[]; ms: number }> {
  const auth = await writeAuthFile(s.user, s.password);
  try {
    const env = { ...process.env };
    delete env['PASSWD'];
    delete env['USER'];
    // Line-buffered, so that smbclient's own output never stops mid-line where `date` writes its mark.
    const r = await run('stdbuf', ['-oL', 'smbclient', ...smbclientBaseArgs(s, auth.path)], { timeoutMs, env, cwd, input: script });
    const out = r.stdout + r.stderr;
    const marks = [...out.matchAll(/SMBKIT_MARK(\d+\.\d+)/g)].map((m) => Number(m[1]));
    return { code: r.code, out, marks, ms: r.durationMs };
  } finally {
    await auth.cleanup();
  }
}

// ---- the bench ----

export async function benchWorkloads(o: WorkloadOptions): Promise<WorkloadReport> {
  const local = await mkdtemp(join(tmpdir(), 'smbkit-workloads-'));
  const rows: Row[] = [];
  const latencies: LatencyRow[] = [];
  const errors: Record<Kind, Map<string, number>> = { samba: new Map(), smbkit: new Map() };
  const notes: string[] = [];
  const servers: Server[] = [];
  const addError = (k: Kind, what: string, n = 1): void => {
    errors[k].set(what, (errors[k].get(what) ?? 0) + n);
  };
  const row = (name: string, unit: string, higherIsBetter: boolean): Row => {
    const r: Row = { name, unit, higherIsBetter, samples: { samba: [], smbkit: [] } };
    rows.push(r);
    return r;
  };
  /** Runs `fn` once per run and server, alternating which server goes first. */
  const alternate = async (fn: (s: Server, run: number) => Promise<void>): Promise<void> => {
    for (let i = 0; i < o.runs; i++) {
      const order = i % 2 === 0 ? servers : [...servers].reverse();
      for (const s of order) await fn(s, i);
    }
  };
  /** The server's CPU over `fn`, from a settled tree to a settled tree. */
  const measured = async <T>(s: Server, fn: () => Promise<T>): Promise<{ value: T; cpuMs: number }> => {
    await settle(s.pid, s.idle);
    const before = treeCpuMs(s.pid);
    const value = await fn();
    if (!(await settle(s.pid, s.idle))) {
      notes.push(`${s.label}: children still alive 15 s after a run; its CPU figure is a lower bound`);
      s.idle = idleChildren(s.pid);
    }
    return { value, cpuMs: treeCpuMs(s.pid) - before };
  };

  try {
    const samba = await startSambaWorkloadServer(o.sambaAddress);
    servers.push({ ...samba, idle: new Set() });
    const smbkit = await startSmbkitWorkloadServer(o.smbkitAddress, o.smbkitSettings);
    servers.push({ ...smbkit, idle: new Set() });
    // Let smbd start its helpers (notifyd, cleanupd) before taking the idle shape.
    await new Promise((r) => setTimeout(r, 1_000));
    for (const s of servers) s.idle = idleChildren(s.pid);

    for (const w of o.workloads) {
      o.log(`== ${w}`);
      if (w === 'smallfiles') await smallFiles();
      else if (w === 'tar') await tarWorkload();
      else if (w === 'bigdir') await bigDir();
      else if (w === 'sessions') await sessions();
      else await torture();
    }
    return { rows, latencies, errors, notes };
  } finally {
    for (const s of [...servers].reverse()) await s.stop();
    await rm(local, { recursive: true, force: true });
  }

  async function smallFiles(): Promise<void> {
    const n = o.files;
    const ops = 2 * n + 1;
    const total = row(`smallfiles: ${n} put + ls + ${n} del`, 'ops/s', true);
    const put = row(`  put phase (${n} files)`, 's', false);
    const ls = row('  ls phase', 's', false);
    const del = row(`  del phase (${n} files)`, 's', false);
    const one = join(local, 'one.bin');
    await writeFile(one, 'x');
    const names = Array.from({ length: n }, (_, i) => `f${String(i).padStart(6, '0')}.txt`);
    const script = [MARK_COMMAND, ...names.map((f) => `put one.bin ${f}`), MARK_COMMAND, 'ls', MARK_COMMAND, ...names.map((f) => `del ${f}`), MARK_COMMAND, 'quit', ''].join('\n');
    await alternate(async (s, i) => {
      await clearShare(s.sharePath);
      const { value: r, cpuMs } = await measured(s, () => smbclientScript(s, script, local, 600_000));
      const [m0, m1, m2, m3] = r.marks;
      const statuses = ntStatusCounts(r.out);
      for (const [st, c] of statuses) addError(s.kind, `smallfiles ${st}`, c);
      if (r.code !== 0) addError(s.kind, `smallfiles smbclient exit ${r.code}`);
      if (m0 === undefined || m1 === undefined || m2 === undefined || m3 === undefined) {
        addError(s.kind, `smallfiles: ${r.marks.length} of 4 phase markers seen`);
        o.log(`run ${i + 1}/${o.runs} ${s.label}: smallfiles failed (exit ${r.code}): ${r.out.slice(-400)}`);
        return;
      }
      const listed = parseLs(r.out).filter((e) => /^f\d{6}\.txt$/.test(e.name)).length;
      if (listed !== n) addError(s.kind, `smallfiles: ls listed ${listed} of ${n} files`);
      const seconds = m3 - m0;
      total.samples[s.kind].push({ value: ops / seconds, cpuMs, ops });
      put.samples[s.kind].push({ value: m1 - m0, cpuMs: NaN, ops: n });
      ls.samples[s.kind].push({ value: m2 - m1, cpuMs: NaN, ops: 1 });
      del.samples[s.kind].push({ value: m3 - m2, cpuMs: NaN, ops: n });
      o.log(
        `run ${i + 1}/${o.runs} ${s.label}: ${(ops / seconds).toFixed(0)} ops/s (put ${(m1 - m0).toFixed(2)} s, ls ${(m2 - m1).toFixed(3)} s, ` +
          `del ${(m3 - m2).toFixed(2)} s; process ${(r.ms / 1000).toFixed(2)} s with logon), server CPU ${cpuMs.toFixed(0)} ms`,
      );
    });
  }

  async function tarWorkload(): Promise<void> {
    const n = o.tarFiles;
    const src = join(local, 'tree');
    const folders = 8;
    const rnd = prng(13);
    const block = Buffer.alloc(128 * 1024);
    for (let i = 0; i < block.length; i++) block[i] = Math.floor(rnd() * 256);
    for (let d = 0; d < folders; d++) await mkdir(join(src, `d${d}`), { recursive: true });
    const sizes = Array.from({ length: n }, () => Math.floor(rnd() * 65537));
    const starts = Array.from({ length: n }, () => Math.floor(rnd() * 65536));
    const fileName = (i: number): string => join(`d${i % folders}`, `f${String(i).padStart(6, '0')}.bin`);
    await inBatches(n, 64, (i) => writeFile(join(src, fileName(i)), block.subarray(starts[i] ?? 0, (starts[i] ?? 0) + (sizes[i] ?? 0))));
    const tarPath = join(local, 'files.tar');
    await runChecked('tar', ['-cf', tarPath, '-C', src, ...Array.from({ length: folders }, (_, d) => `d${d}`)], { timeoutMs: 600_000 });
    await rm(src, { recursive: true, force: true });
    const bytes = sizes.reduce((a, b) => a + b, 0);
    o.log(`tar of ${n} files, ${(bytes / 1e6).toFixed(1)} MB in ${folders} folders`);
    const extract = row(`tar -Tx: ${n} files (${(bytes / 1e6).toFixed(0)} MB)`, 's', false);
    const backup = row(`tar -Tc: ${n} files`, 's', false);
    const outPath = join(local, 'backup.tar');
    await alternate(async (s, i) => {
      await clearShare(s.sharePath);
      const x = await measured(s, () => smbclientWith(s, ['-Tx', tarPath], 1_800_000));
      const xErrors = ntStatusCounts(x.value.out);
      for (const [st, c] of xErrors) addError(s.kind, `tar -Tx ${st}`, c);
      if (x.value.code !== 0) addError(s.kind, `tar -Tx exit ${x.value.code}${x.value.timedOut ? ' (timed out)' : ''}`);
      else extract.samples[s.kind].push({ value: x.value.ms / 1000, cpuMs: x.cpuMs, ops: n });
      await rm(outPath, { force: true });
      const c = await measured(s, () => smbclientWith(s, ['-Tc', outPath], 1_800_000));
      for (const [st, k] of ntStatusCounts(c.value.out)) addError(s.kind, `tar -Tc ${st}`, k);
      let listed = -1;
      if (c.value.code !== 0) addError(s.kind, `tar -Tc exit ${c.value.code}${c.value.timedOut ? ' (timed out)' : ''}`);
      else {
        const t = await run('tar', ['-tf', outPath], { timeoutMs: 120_000 });
        listed = t.stdout.split('\n').filter((l) => /f\d{6}\.bin$/.test(l)).length;
        if (listed !== n) addError(s.kind, `tar -Tc: the backup lists ${listed} of ${n} files`);
        backup.samples[s.kind].push({ value: c.value.ms / 1000, cpuMs: c.cpuMs, ops: n });
      }
      o.log(
        `run ${i + 1}/${o.runs} ${s.label}: -Tx ${(x.value.ms / 1000).toFixed(2)} s (CPU ${x.cpuMs.toFixed(0)} ms), ` +
          `-Tc ${(c.value.ms / 1000).toFixed(2)} s (CPU ${c.cpuMs.toFixed(0)} ms), backup lists ${listed} files`,
      );
    });
    for (const s of servers) await clearShare(s.sharePath);
  }

  async function bigDir(): Promise<void> {
    const n = o.dirEntries;
    for (const s of servers) {
      await clearShare(s.sharePath);
      const dir = await shareFolder(s, 'bigdir');
      await inBatches(n, 128, (i) => writeFile(join(dir, `e${String(i).padStart(7, '0')}`), ''));
    }
    const list = row(`bigdir: ls of ${n} entries`, 's', false);
    await alternate(async (s, i) => {
      const r = await measured(s, () => smbclientWith(s, ['-c', 'cd bigdir; ls'], 1_800_000));
      for (const [st, c] of ntStatusCounts(r.value.out)) addError(s.kind, `bigdir ${st}`, c);
      const listed = parseLs(r.value.out).filter((e) => e.name !== '.' && e.name !== '..').length;
      if (listed !== n) addError(s.kind, `bigdir: ls listed ${listed} of ${n} entries`);
      if (r.value.code !== 0) addError(s.kind, `bigdir: smbclient exit ${r.value.code}`);
      else list.samples[s.kind].push({ value: r.value.ms / 1000, cpuMs: r.cpuMs, ops: n });
      o.log(`run ${i + 1}/${o.runs} ${s.label}: ls ${(r.value.ms / 1000).toFixed(2)} s, ${listed} entries, server CPU ${r.cpuMs.toFixed(0)} ms`);
    });
    for (const s of servers) await clearShare(s.sharePath);
  }

  async function sessions(): Promise<void> {
    for (const s of servers) {
      await clearShare(s.sharePath);
      await shareFolder(s, LOOP_FOLDER);
      const list = await shareFolder(s, LIST_FOLDER);
      for (let i = 0; i < LIST_FILES; i++) await writeFile(join(list, `file${i}.txt`), `entry ${i}\n`);
    }
    const dialectName = o.dialect === Dialect.SMB302 ? '3.0.2' : '3.1.1';
    for (const count of o.sessions) {
      const config = `${count} sessions`;
      const r = row(`sessions: ${count} x small-file loop (SMB ${dialectName})`, 'ops/s', true);
      const pooled: Record<Kind, Record<OpName, number[]>> = {
        samba: { CREATE: [], WRITE: [], READ: [], CLOSE: [], QUERY_DIRECTORY: [] },
        smbkit: { CREATE: [], WRITE: [], READ: [], CLOSE: [], QUERY_DIRECTORY: [] },
      };
      await alternate(async (s, i) => {
        await clearShare(join(s.sharePath, LOOP_FOLDER));
        let res;
        try {
          res = await measured(s, () =>
            runSessionLoop({
              host: s.host,
              port: s.port,
              share: s.share,
              user: s.user,
              password: s.password,
              sessions: count,
              durationMs: o.seconds * 1000,
              dialect: o.dialect,
              listEvery: o.listEvery,
              runTag: `r${i}`,
            }),
          );
        } catch (e) {
          addError(s.kind, `${config}: ${(e as Error).message}`);
          o.log(`run ${i + 1}/${o.runs} ${s.label}: ${config} failed: ${(e as Error).message}`);
          return;
        }
        const v = res.value;
        for (const [what, c] of v.errorKinds) addError(s.kind, `${config}: ${what}`, c);
        const opsPerSecond = v.ops / (v.elapsedMs / 1000);
        r.samples[s.kind].push({ value: opsPerSecond, cpuMs: res.cpuMs, ops: v.ops });
        for (const op of OP_NAMES) for (const x of v.latencies[op]) pooled[s.kind][op].push(x);
        o.log(
          `run ${i + 1}/${o.runs} ${s.label}: ${config}: ${v.ops} ops in ${(v.elapsedMs / 1000).toFixed(1)} s = ${opsPerSecond.toFixed(0)} ops/s, ` +
            `${v.errors} errors, server CPU ${res.cpuMs.toFixed(0)} ms, client CPU ${v.clientCpuMs.toFixed(0)} ms`,
        );
      });
      for (const k of KINDS) {
        for (const op of OP_NAMES) {
          const xs = sorted(pooled[k][op]);
          latencies.push({ config, server: k, op, count: xs.length, p50: percentile(xs, 50), p99: percentile(xs, 99) });
        }
      }
    }
    for (const s of servers) await clearShare(s.sharePath);
  }

  async function torture(): Promise<void> {
    const tests = [
      { name: 'smb2.bench.echo', label: 'echo' },
      { name: 'smb2.bench.oplock1', label: 'oplock1' },
      { name: 'smb2.bench.path-contention-shared', label: 'path-contention-shared' },
    ];
    for (const t of tests) {
      const r = row(`smbtorture ${t.name} (${o.tortureNprocs} procs, ${o.tortureSeconds} s)`, 'ops/s', true);
      await alternate(async (s, i) => {
        await clearShare(s.sharePath);
        // The password goes through an authentication file, as the harness passes it, never argv.
        const auth = await writeAuthFile(s.user, s.password);
        const res = await measured(s, () =>
          run(
            'smbtorture',
            [
              `//${s.host}/${s.share}`,
              '--configfile=/dev/null',
              '-A',
              auth.path,
              '-p',
              String(s.port),
              `--option=torture:timelimit=${o.tortureSeconds}`,
              `--option=torture:nprocs=${o.tortureNprocs}`,
              t.name,
            ],
            { timeoutMs: (o.tortureSeconds + 120) * 1000 },
          ),
        ).finally(() => auth.cleanup());
        const out = res.value.stdout + res.value.stderr;
        const figure = parseTortureFigure(t.label, out, o.tortureSeconds);
        if (!/^success: /m.test(out)) {
          const why = /^(failure|error): .*$/m.exec(out)?.[0] ?? `exit ${res.value.code}${res.value.timedOut ? ' (timed out)' : ''}`;
          addError(s.kind, `${t.name}: ${why}`);
        }
        if (figure === undefined) {
          addError(s.kind, `${t.name}: no figure in the output`);
          o.log(`run ${i + 1}/${o.runs} ${s.label}: ${t.label}: no figure: ${out.slice(-300).replace(/\s+/g, ' ')}`);
          return;
        }
        r.samples[s.kind].push({ value: figure.opsPerSecond, cpuMs: res.cpuMs, ops: figure.ops });
        o.log(`run ${i + 1}/${o.runs} ${s.label}: ${t.label} ${figure.opsPerSecond.toFixed(0)} ops/s, server CPU ${res.cpuMs.toFixed(0)} ms`);
      });
    }
    for (const s of servers) await clearShare(s.sharePath);
  }
}

/**
 * smbtorture's smb2.bench figures. echo and path-contention-shared print a line per second,
 * `N second: echo[num/s=X,...]` (path-contention: `open[num/s=X,...] close[num/s=Y,...]`): the operations of that
 * second, which we sum (open and close each count) and divide by the seconds. oplock1 rewrites `X ops/second` in
 * place (carriage returns) as a running average over the run: the last one is the run's.
 */
export function parseTortureFigure(label: string, output: string, seconds: number): { opsPerSecond: number; ops: number } | undefined {
  if (label === 'oplock1') {
    const all = [...output.matchAll(/([\d.]+) ops\/second/g)];
    const last = all.at(-1)?.[1];
    if (last === undefined) return undefined;
    const rate = Number(last);
    return { opsPerSecond: rate, ops: rate * seconds };
  }
  const perSecond = [...output.matchAll(/([\d.]+) seconds?: ((?:\w+\[num\/s=\d+[^\]]*\]\s*)+)/g)];
  if (perSecond.length === 0) return undefined;
  let ops = 0;
  for (const m of perSecond) for (const x of (m[2] ?? '').matchAll(/num\/s=(\d+)/g)) ops += Number(x[1]);
  return { opsPerSecond: ops / perSecond.length, ops };
}

// ---- the report ----

function fmt(v: number): string {
  if (!Number.isFinite(v)) return '-';
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v.toFixed(3);
}

function spread(samples: Sample[]): string {
  if (samples.length === 0) return 'failed';
  const vs = sorted(samples.map((s) => s.value));
  return `${fmt(median(vs))} [${fmt(vs[0] ?? NaN)}-${fmt(vs.at(-1) ?? NaN)}]`;
}

function cpuPerOp(samples: Sample[]): string {
  const per = samples.filter((s) => Number.isFinite(s.cpuMs) && s.ops > 0).map((s) => (s.cpuMs * 1000) / s.ops);
  return fmt(median(per));
}

function table(header: string[], lines: string[][], rightFrom = 1): string {
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const fmtLine = (l: string[]): string => l.map((c, i) => (i < rightFrom ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [fmtLine(header), ...lines.map(fmtLine)].join('\n');
}

export function formatWorkloads(r: WorkloadReport, runs: number): string {
  const out: string[] = [];
  if (r.latencies.length > 0) {
    out.push('', 'sessions: latency per operation, ms (all runs pooled; p50 / p99, count)');
    const configs = [...new Set(r.latencies.map((l) => l.config))];
    const lines: string[][] = [];
    for (const c of configs) {
      for (const op of OP_NAMES) {
        const cell = (k: Kind): string => {
          const l = r.latencies.find((x) => x.config === c && x.server === k && x.op === op);
          return l === undefined || l.count === 0 ? '-' : `${fmt(l.p50)} / ${fmt(l.p99)} (${l.count})`;
        };
        lines.push([c, op, cell('samba'), cell('smbkit')]);
      }
    }
    out.push(table(['config', 'op', 'samba', 'smbkit'], lines, 2));
  }
  for (const k of KINDS) {
    if (r.errors[k].size === 0) continue;
    out.push('', `${k}: errors`);
    for (const [what, n] of r.errors[k]) out.push(`  ${n} x ${what}`);
  }
  for (const n of new Set(r.notes)) out.push(`note: ${n}`);
  out.push('', `summary: ${runs} runs per server, alternating; median [min-max]; CPU = server user+system time per operation (median over runs)`);
  const lines = r.rows.map((row) => {
    const ms = median(row.samples.samba.map((s) => s.value));
    const mk = median(row.samples.smbkit.map((s) => s.value));
    const ratio = Number.isFinite(ms) && Number.isFinite(mk) && ms > 0 ? (mk / ms).toFixed(2) : '-';
    return [row.name, `${row.unit} (${row.higherIsBetter ? 'higher' : 'lower'} better)`, spread(row.samples.samba), spread(row.samples.smbkit), ratio, cpuPerOp(row.samples.samba), cpuPerOp(row.samples.smbkit)];
  });
  out.push(table(['workload', 'unit', 'samba', 'smbkit', 'smbkit/samba', 'samba CPU µs/op', 'smbkit CPU µs/op'], lines, 2));
  return out.join('\n');
}

// ---- command line ----

function parseArgs(argv: string[]): WorkloadOptions {
  const values = new Map<string, string[]>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const eq = a.indexOf('=');
    const [name, value] = eq > 0 ? [a.slice(2, eq), a.slice(eq + 1)] : [a.slice(2), argv[++i]];
    if (value === undefined) throw new Error(`--${name} needs a value`);
    values.set(name, [...(values.get(name) ?? []), value]);
  }
  const known = ['workload', 'runs', 'address-base', 'samba-address', 'smbkit-address', 'smbkit-opt', 'files', 'tar-files', 'dir-entries', 'sessions', 'seconds', 'list-every', 'dialect', 'torture-seconds', 'torture-nprocs'];
  for (const k of values.keys()) if (!known.includes(k)) throw new Error(`unknown option --${k}`);
  const one = (k: string): string | undefined => values.get(k)?.at(-1);
  const num = (k: string, d: number): number => {
    const v = one(k);
    if (v === undefined) return d;
    const n = Number(v.replace(/_/g, ''));
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${k}: not a positive number: ${v}`);
    return n;
  };
  const base = one('address-base') ?? '127.0.0';
  if (!/^127\.\d{1,3}\.\d{1,3}$/.test(base)) throw new Error('--address-base: three loopback octets, e.g. 127.0.4');
  const loopback = (k: string, d: string): string => {
    const v = one(k) ?? d;
    if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v)) throw new Error(`--${k}: not a loopback address: ${v}`);
    return v;
  };
  const wl = (one('workload') ?? 'all').split(',').map((x) => x.trim());
  const workloads = wl.includes('all') ? [...WORKLOADS] : wl.map((x) => {
    if (!(WORKLOADS as readonly string[]).includes(x)) throw new Error(`--workload: one or more of ${WORKLOADS.join(', ')}, or all`);
    return x as Workload;
  });
  const smbkitSettings: SmbkitSettings = {};
  for (const s of values.get('smbkit-opt') ?? []) parseSmbkitSetting(s, smbkitSettings);
  const dialectText = one('dialect') ?? '3.1.1';
  if (dialectText !== '3.1.1' && dialectText !== '3.0.2') throw new Error('--dialect 3.1.1|3.0.2');
  const sessions = (one('sessions') ?? '8,32,64').split(',').map((x) => {
    const n = Number(x);
    if (!Number.isInteger(n) || n <= 0 || n > 1024) throw new Error(`--sessions: bad count ${x}`);
    return n;
  });
  return {
    workloads,
    runs: Math.round(num('runs', 3)),
    sambaAddress: loopback('samba-address', `${base}.2`),
    smbkitAddress: loopback('smbkit-address', `${base}.3`),
    smbkitSettings,
    files: Math.round(num('files', 2000)),
    tarFiles: Math.round(num('tar-files', 10_000)),
    dirEntries: Math.round(num('dir-entries', 100_000)),
    sessions,
    seconds: num('seconds', 10),
    listEvery: Math.round(num('list-every', 10)),
    dialect: dialectText === '3.0.2' ? Dialect.SMB302 : Dialect.SMB311,
    tortureSeconds: Math.round(num('torture-seconds', 10)),
    tortureNprocs: Math.round(num('torture-nprocs', 4)),
    log: (l: string) => process.stderr.write(`${l}\n`),
  };
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const settings = Object.entries(o.smbkitSettings).map(([k, v]) => `${k}=${String(v)}`);
  o.log(`samba on ${o.sambaAddress}, smbkit on ${o.smbkitAddress}${settings.length > 0 ? ` with ${settings.join(', ')}` : ''}; workloads ${o.workloads.join(', ')}; ${o.runs} runs`);
  const report = await benchWorkloads(o);
  process.stdout.write(`${formatWorkloads(report, o.runs)}\n`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  });
}
