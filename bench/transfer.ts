/**
 * Side-by-side transfer benchmark: smbclient (SMB3_11) gets and puts one large
 * file from a reference Samba and from the server under test, alternating, and
 * prints the median MB/s of each and the ratio target/Samba.
 *
 *   node dist/bench/transfer.js [--size 1G|256M|...] [--runs 3] [--protection encrypt|sign]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeFile, GiB } from '../test/interop/harness/files.js';
import { startSamba } from '../test/interop/harness/samba.js';
import { startSmbkit } from '../test/interop/harness/smbkit.js';
import { parseAverageRate, quotePath, smbclient } from '../test/interop/harness/smbclient.js';
import type { SmbclientResult } from '../test/interop/harness/smbclient.js';
import type { TortureTarget } from '../test/interop/conformance.js';

/** A server to measure: the same shape as a conformance target. */
export type BenchTarget = TortureTarget;

export type StartBenchTarget = () => Promise<BenchTarget>;

export interface BenchOptions {
  /** Bytes in the transferred file; default 1 GiB. */
  size?: number;
  /** get and put runs per server; default 3. */
  runs?: number;
  protection?: 'sign' | 'encrypt';
  referenceAddress?: string;
  log?: (line: string) => void;
}

export interface BenchRow {
  label: string;
  /** Median bytes/second, by smbclient's own transfer average (wall time when it prints none). */
  getBps: number;
  putBps: number;
  getRuns: number[];
  putRuns: number[];
}

export interface BenchReport {
  size: number;
  reference: BenchRow;
  target: BenchRow;
}

const BENCH_USER = 'smbkit_b';
const BENCH_PASSWORD = 'Sm6kit bench!';

/**
 * smbkit with signing "enabled" (not required), matching Samba's default for file servers, so both serve
 * unsigned unless the client asks (`--protection sign` makes both sign).
 */
export async function startSmbkitBenchTarget(address: string, label = 'smbkit'): Promise<BenchTarget> {
  const s = await startSmbkit({
    address,
    port: 445,
    users: [{ name: BENCH_USER, password: BENCH_PASSWORD }],
    shares: [{ name: 'bench' }],
    server: { signing: 'enabled', log_level: 'warn' },
  });
  return { label, host: address, port: 445, share: 'bench', user: BENCH_USER, password: BENCH_PASSWORD, stop: () => s.stop() };
}

/** A plain Samba (no streams module) for throughput figures. */
export async function startSambaBenchTarget(address: string, label = `samba@${address}`): Promise<BenchTarget> {
  const samba = await startSamba({
    address,
    ports: [445],
    users: [{ name: BENCH_USER, password: BENCH_PASSWORD }],
    shares: [{ name: 'bench' }],
  });
  return { label, host: address, port: 445, share: 'bench', user: BENCH_USER, password: BENCH_PASSWORD, stop: () => samba.stop() };
}

function median(xs: number[]): number {
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
    const rows = new Map<BenchTarget, BenchRow>(servers.map((s) => [s, { label: s.label, getBps: 0, putBps: 0, getRuns: [], putRuns: [] }]));
    const call = (s: BenchTarget, commands: string): Promise<SmbclientResult> =>
      smbclient({
        host: s.host,
        port: s.port,
        share: s.share,
        user: s.user,
        password: s.password,
        maxProtocol: 'SMB3_11',
        minProtocol: 'SMB3_11',
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
        const g = rate(await call(s, 'get bench.bin /dev/null'), size, `${s.label} get`);
        row.getRuns.push(g);
        const p = rate(await call(s, `put ${quotePath(src)} bench.bin`), size, `${s.label} put`);
        row.putRuns.push(p);
        log(`run ${i + 1}/${runs} ${s.label}: get ${mb(g)} MB/s, put ${mb(p)} MB/s`);
      }
    }
    for (const row of rows.values()) {
      row.getBps = median(row.getRuns);
      row.putBps = median(row.putRuns);
    }
    const ref = rows.get(reference);
    const tgt = rows.get(target);
    if (ref === undefined || tgt === undefined) throw new Error('missing rows');
    return { size, reference: ref, target: tgt };
  } finally {
    await target?.stop();
    await reference?.stop();
    await rm(local, { recursive: true, force: true });
  }
}

export function formatBench(r: BenchReport): string {
  const lines = [
    `file ${r.size} bytes, smbclient SMB3_11, median of ${r.reference.getRuns.length} runs (MB = 10^6 bytes)`,
    `${'server'.padEnd(16)} ${'get MB/s'.padStart(9)} ${'put MB/s'.padStart(9)}`,
  ];
  for (const row of [r.reference, r.target]) {
    lines.push(`${row.label.padEnd(16)} ${mb(row.getBps).padStart(9)} ${mb(row.putBps).padStart(9)}`);
  }
  const ratio = (a: number, b: number): string => (b > 0 ? (a / b).toFixed(2) : '-');
  lines.push(`${'target/samba'.padEnd(16)} ${ratio(r.target.getBps, r.reference.getBps).padStart(9)} ${ratio(r.target.putBps, r.reference.putBps).padStart(9)}`);
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
  const report = await bench(undefined, {
    ...(size !== undefined ? { size: parseSize(size) } : {}),
    ...(runs !== undefined ? { runs: Number(runs) } : {}),
    ...(protection !== undefined ? { protection } : {}),
  });
  process.stdout.write(`${formatBench(report)}\n`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  });
}
