/**
 * Side-by-side transfer benchmark: smbclient gets and puts one large file from a reference Samba and from the
 * server under test, alternating, and prints min/median/max MB/s of each, the server's CPU seconds per GiB
 * (median), and the ratio target/Samba of the medians.
 *
 *   node dist/bench/transfer.js [--size 1G|256M|...] [--runs 3] [--protection encrypt|sign] [--cipher gcm|ccm]
 *     [--dialect SMB3_11|SMB3_00|SMB2_10] [--address 127.0.0.3] [--reference-address 127.0.0.2]
 *     [--crypto-threads auto|N] [--probe]
 *
 * `--cipher gcm` is AES-128-GCM at SMB3_11 (the default); `--cipher ccm` is AES-128-CCM at SMB3_00, the only cipher
 * 3.0 has. `--dialect` overrides the dialect (e.g. SMB3_00 signs with AES-CMAC, SMB2_10 with HMAC-SHA256).
 * `--probe`: during each get, a second connection (smbkit's client, same protection) stats the file over and over;
 * the latencies of those small requests show whether the large transfer holds up other connections.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '../src/index.js';
import { makeFile, GiB } from '../test/interop/harness/files.js';
import { startSamba } from '../test/interop/harness/samba.js';
import { startSmbkit } from '../test/interop/harness/smbkit.js';
import { parseAverageRate, quotePath, smbclient } from '../test/interop/harness/smbclient.js';
import type { SmbclientProtocol, SmbclientResult } from '../test/interop/harness/smbclient.js';
import type { TortureTarget } from '../test/interop/conformance.js';
import { idleChildren, settle, treeCpuMs } from './workload-servers.js';
import { warmPages } from './memory.js';

/** A server to measure: the same shape as a conformance target, and the process whose CPU time is counted. */
export interface BenchTarget extends TortureTarget {
  /** A Node server's pid counts its own time; a forking server's (Samba's master) also its reaped children's. */
  pid?: number;
}

export type StartBenchTarget = () => Promise<BenchTarget>;

export interface BenchOptions {
  /** Bytes in the transferred file; default 1 GiB. */
  size?: number;
  /** get and put runs per server; default 3. */
  runs?: number;
  protection?: 'sign' | 'encrypt';
  /** Dialect smbclient is held to; default SMB3_11. */
  dialect?: SmbclientProtocol;
  referenceAddress?: string;
  /** Measure small-request latency on another connection during each get. */
  probe?: boolean;
  log?: (line: string) => void;
}

export interface BenchRow {
  label: string;
  /** Median bytes/second, by smbclient's own transfer average (wall time when it prints none). */
  getBps: number;
  putBps: number;
  getRuns: number[];
  putRuns: number[];
  /** Server CPU seconds per GiB moved, per run (empty when the server's pid is unknown). */
  getCpu: number[];
  putCpu: number[];
  /** With `probe`: milliseconds of each small request made on another connection during the gets. */
  probeMs: number[];
}

export interface BenchReport {
  size: number;
  dialect: SmbclientProtocol;
  protection: 'sign' | 'encrypt' | undefined;
  reference: BenchRow;
  target: BenchRow;
}

const BENCH_USER = 'smbkit_b';
const BENCH_PASSWORD = 'Sm6kit bench!';

/**
 * smbkit with signing "enabled" (not required), matching Samba's default for file servers, so both serve
 * unsigned unless the client asks (`--protection sign` makes both sign).
 */
export async function startSmbkitBenchTarget(address: string, label = 'smbkit', cryptoThreads: number | 'auto' = 'auto'): Promise<BenchTarget> {
  const s = await startSmbkit({
    address,
    port: 445,
    users: [{ name: BENCH_USER, password: BENCH_PASSWORD }],
    shares: [{ name: 'bench' }],
    server: { signing: 'enabled', log_level: 'warn', crypto_threads: cryptoThreads },
    defaultPlacement: true,
  });
  return { label, host: address, port: 445, share: 'bench', user: BENCH_USER, password: BENCH_PASSWORD, pid: s.pid, stop: () => s.stop() };
}

/** A plain Samba (no streams module) for throughput figures. */
export async function startSambaBenchTarget(address: string, label = `samba@${address}`): Promise<BenchTarget> {
  const samba = await startSamba({
    address,
    ports: [445],
    users: [{ name: BENCH_USER, password: BENCH_PASSWORD }],
    shares: [{ name: 'bench' }],
  });
  return { label, host: address, port: 445, share: 'bench', user: BENCH_USER, password: BENCH_PASSWORD, pid: samba.pid, stop: () => samba.stop() };
}

const PROBE_LIMIT = 100_000;

/** Stats the file on a connection of its own until `busy` settles; returns each request's milliseconds. */
async function probeLatency(s: BenchTarget, protection: 'sign' | 'encrypt' | undefined, busy: Promise<unknown>): Promise<number[]> {
  const client = await connect({
    host: s.host,
    port: s.port,
    share: s.share,
    user: s.user,
    password: s.password,
    encryption: protection === 'encrypt' ? 'required' : 'off',
    signing: protection === 'sign' ? 'required' : 'desired',
  });
  let done = false;
  void busy.finally(() => {
    done = true;
  });
  const times: number[] = [];
  try {
    const share = client.share();
    while (!done && times.length < PROBE_LIMIT) {
      const t = performance.now();
      await share.stat('bench.bin');
      times.push(performance.now() - t);
    }
  } finally {
    await client.close();
  }
  return times;
}

/**
 * Runs `work` and returns the server's CPU seconds over it: its process tree's time (workload-servers.ts treeCpuMs),
 * once a forking server has reaped the connection's child (a bounded wait for the tree to settle).
 */
async function measureCpu<T>(pid: number | undefined, work: () => Promise<T>): Promise<{ result: T; cpu: number | undefined }> {
  if (pid === undefined) return { result: await work(), cpu: undefined };
  const idle = idleChildren(pid);
  const before = treeCpuMs(pid);
  const result = await work();
  await settle(pid, idle, 2000);
  return { result, cpu: (treeCpuMs(pid) - before) / 1000 };
}

/** The median of a sample (NaN for none): every bench reports it. */
export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

function rate(r: SmbclientResult, size: number, what: string): number {
  if (r.code !== 0 || /NT_STATUS_/.test(r.stdout + r.stderr)) {
    throw new Error(`${what} failed (exit ${r.code}): ${r.stdout}${r.stderr}`);
  }
  // smbclient reports its own average over the transfer (excluding connect and login);
  // it prints it with one decimal in KiB/s, precise enough for files of megabytes.
  return parseAverageRate(r.stdout + r.stderr) ?? size / (r.durationMs / 1000);
}

const mb = (bps: number): string => (bps / 1e6).toFixed(0);

export async function bench(startTarget: StartBenchTarget = () => startSmbkitBenchTarget('127.0.0.3'), opts: BenchOptions = {}): Promise<BenchReport> {
  const size = opts.size ?? GiB;
  const runs = opts.runs ?? 3;
  const dialect = opts.dialect ?? 'SMB3_11';
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const local = await mkdtemp(join(tmpdir(), 'smbkit-bench-'));
  const src = join(local, 'bench.bin');
  let reference: BenchTarget | undefined;
  let target: BenchTarget | undefined;
  try {
    await makeFile(src, size);
    reference = await startSambaBenchTarget(opts.referenceAddress ?? '127.0.0.2', 'samba');
    target = await startTarget();
    const servers = [reference, target];
    const rows = new Map<BenchTarget, BenchRow>(
      servers.map((s) => [s, { label: s.label, getBps: 0, putBps: 0, getRuns: [], putRuns: [], getCpu: [], putCpu: [], probeMs: [] }]),
    );
    const call = (s: BenchTarget, commands: string): Promise<SmbclientResult> =>
      smbclient({
        host: s.host,
        port: s.port,
        share: s.share,
        user: s.user,
        password: s.password,
        maxProtocol: dialect,
        minProtocol: dialect,
        ...(opts.protection !== undefined ? { protection: opts.protection } : {}),
        commands,
        timeoutMs: Math.max(120_000, (size / 20e6) * 1000),
      });
    // Seed each server with the file so the first get has something to read.
    for (const s of servers) rate(await call(s, `put ${quotePath(src)} bench.bin`), size, `${s.label} seed put`);
    for (let i = 0; i < runs; i++) {
      for (const s of servers) {
        const row = rows.get(s);
        if (row === undefined) continue;
        const get = await measureCpu(s.pid, async () => {
          const transfer = call(s, 'get bench.bin /dev/null');
          if (opts.probe) row.probeMs.push(...(await probeLatency(s, opts.protection, transfer)));
          return transfer;
        });
        const g = rate(get.result, size, `${s.label} get`);
        row.getRuns.push(g);
        if (get.cpu !== undefined) row.getCpu.push((get.cpu * GiB) / size);
        // The put writes `size` into the server's page cache: on warm pages for each server (bench/memory.ts).
        await warmPages(size);
        const put = await measureCpu(s.pid, () => call(s, `put ${quotePath(src)} bench.bin`));
        const p = rate(put.result, size, `${s.label} put`);
        row.putRuns.push(p);
        if (put.cpu !== undefined) row.putCpu.push((put.cpu * GiB) / size);
        log(`run ${i + 1}/${runs} ${s.label}: get ${mb(g)} MB/s (${cpuText(row.getCpu.at(-1))}), put ${mb(p)} MB/s (${cpuText(row.putCpu.at(-1))})`);
      }
    }
    for (const row of rows.values()) {
      row.getBps = median(row.getRuns);
      row.putBps = median(row.putRuns);
    }
    const ref = rows.get(reference);
    const tgt = rows.get(target);
    if (ref === undefined || tgt === undefined) throw new Error('missing rows');
    return { size, dialect, protection: opts.protection, reference: ref, target: tgt };
  } finally {
    await target?.stop();
    await reference?.stop();
    await rm(local, { recursive: true, force: true });
  }
}

const cpuText = (s: number | undefined): string => (s === undefined ? 'cpu ?' : `${s.toFixed(2)} cpu-s/GiB`);

const spread = (xs: number[]): string =>
  xs.length === 0 ? '-' : `${mb(Math.min(...xs))}/${mb(median(xs))}/${mb(Math.max(...xs))}`;

export function formatBench(r: BenchReport): string {
  const lines = [
    `file ${r.size} bytes, smbclient ${r.dialect}${r.protection ? ` ${r.protection}` : ''}, ${r.reference.getRuns.length} runs each, ` +
      'alternating (MB = 10^6 bytes; CPU = server CPU seconds per GiB, median)',
    `${'server'.padEnd(14)} ${'get MB/s min/med/max'.padStart(22)} ${'CPU'.padStart(6)} ${'put MB/s min/med/max'.padStart(22)} ${'CPU'.padStart(6)}`,
  ];
  const cpu = (xs: number[]): string => (xs.length ? median(xs).toFixed(2) : '-');
  for (const row of [r.reference, r.target]) {
    lines.push(
      `${row.label.padEnd(14)} ${spread(row.getRuns).padStart(22)} ${cpu(row.getCpu).padStart(6)} ${spread(row.putRuns).padStart(22)} ${cpu(row.putCpu).padStart(6)}`,
    );
  }
  for (const row of [r.reference, r.target]) {
    if (row.probeMs.length === 0) continue;
    const sorted = [...row.probeMs].sort((a, b) => a - b);
    const at = (q: number): string => (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0).toFixed(1);
    lines.push(`${row.label}: ${sorted.length} stats on another connection during the gets: p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms`);
  }
  const ratio = (a: number, b: number): string => (b > 0 ? (a / b).toFixed(2) : '-');
  lines.push(`${'target/samba'.padEnd(14)} ${ratio(r.target.getBps, r.reference.getBps).padStart(22)} ${''.padStart(6)} ${ratio(r.target.putBps, r.reference.putBps).padStart(22)}`);
  return lines.join('\n');
}

/** "1G", "256M", "64k" or a plain byte count. */
export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgKMG]?)i?[bB]?$/.exec(s.trim());
  if (m === null) throw new Error(`bad size ${s}`);
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] ?? '').toLowerCase()] ?? 1;
  return Math.round(Number(m[1]) * unit);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    if (i >= 0) return argv[i + 1];
    return argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  };
  const size = get('size');
  const runs = get('runs');
  const protection = get('protection');
  if (protection !== undefined && protection !== 'sign' && protection !== 'encrypt') throw new Error('--protection sign|encrypt');
  const cipher = get('cipher') ?? 'gcm';
  if (cipher !== 'gcm' && cipher !== 'ccm') throw new Error('--cipher gcm|ccm');
  const dialect = (get('dialect') ?? (cipher === 'ccm' ? 'SMB3_00' : 'SMB3_11')) as SmbclientProtocol;
  if (!['SMB2_02', 'SMB2_10', 'SMB3_00', 'SMB3_02', 'SMB3_11'].includes(dialect)) throw new Error('--dialect SMB2_02|SMB2_10|SMB3_00|SMB3_02|SMB3_11');
  if (cipher === 'ccm' && dialect === 'SMB3_11') throw new Error('--cipher ccm needs a 3.0 dialect (smbclient offers GCM first at 3.1.1)');
  const threads = get('crypto-threads') ?? 'auto';
  const cryptoThreads = threads === 'auto' ? 'auto' : Number(threads);
  const address = get('address') ?? '127.0.0.3';
  const referenceAddress = get('reference-address') ?? '127.0.0.2';
  const report = await bench(() => startSmbkitBenchTarget(address, 'smbkit', cryptoThreads), {
    ...(size !== undefined ? { size: parseSize(size) } : {}),
    ...(runs !== undefined ? { runs: Number(runs) } : {}),
    ...(protection !== undefined ? { protection } : {}),
    dialect,
    referenceAddress,
    probe: argv.includes('--probe'),
  });
  process.stdout.write(`${formatBench(report)}\n`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  });
}
