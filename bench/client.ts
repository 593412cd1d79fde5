/**
 * Client benchmark: smbkit's client (share.download/upload, and its streams) next to smbclient against one Samba (127.0.0.24
 * unless `--address`), get and put of one large file, the clients taking turns going first, min/median/max MB/s and
 * the ratio of the medians client/smbclient; then 1 MiB and 64 MiB reads through @marsaud/smb2
 * (NTLMv1 + MD4, so in a child process with Node's legacy OpenSSL provider), its data checked by SHA-256.
 * Both clients run with the same protection: `--protection off` (neither signs: smbclient's default, and smbkit's
 * client with signing 'off'), `sign` (both sign every message), or `both` (the two, one after the other).
 *
 *   node dist/bench/client.js [--size 1G|256M|...] [--runs 3] [--protection off|sign|both] [--address 127.0.0.24]
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { connect } from '../src/index.js';
import { GiB, makeFile, MiB, sha256File } from '../test/interop/harness/files.js';
import { startSamba } from '../test/interop/harness/samba.js';
import { parseAverageRate, quotePath, smbclient } from '../test/interop/harness/smbclient.js';
import type { SmbclientResult } from '../test/interop/harness/smbclient.js';
import { median, parseSize } from './transfer.js';
import { warmPages } from './memory.js';

const DEFAULT_ADDRESS = '127.0.0.24';
const SHARE = 'bench';
const USER = 'smbkit_cb';
const PASSWORD = 'Cl1ent bench!';

export type BenchProtection = 'off' | 'sign';

export interface ClientBenchOptions {
  /** Loopback address Samba listens on (default 127.0.0.24). */
  address?: string;
  size?: number;
  runs?: number;
  /** Protection used by both clients in each pass (default both passes: off, then sign). */
  protections?: BenchProtection[];
  log?: (line: string) => void;
}

export interface Measure {
  label: string;
  runs: number[];
  /** Median bytes/second (NaN when every run failed). */
  bps: number;
}

export interface MarsaudResult {
  size: number;
  bps: number | undefined;
  /** 'ok', 'wrong data (sha256 differs)' or the error. */
  outcome: string;
}

export interface ProtectionPass {
  protection: BenchProtection;
  /** share.download / share.upload (what `smbkit get|put` use). */
  clientGet: Measure;
  smbclientGet: Measure;
  clientPut: Measure;
  smbclientPut: Measure;
  /** share.createReadStream / createWriteStream piped to and from node:fs streams. */
  streamGet: Measure;
  streamPut: Measure;
  /** sha256 of the client's first get (download and stream) equals the source. */
  clientGetVerified: boolean;
}

export interface ClientBenchReport {
  address: string;
  size: number;
  passes: ProtectionPass[];
  marsaud: MarsaudResult[];
}

function smbclientRate(r: SmbclientResult, size: number, what: string): number {
  if (r.code !== 0 || /NT_STATUS_/.test(r.stdout + r.stderr)) throw new Error(`${what} failed (exit ${r.code}): ${r.stdout}${r.stderr}`);
  return parseAverageRate(r.stdout + r.stderr) ?? size / (r.durationMs / 1000);
}

const mb = (bps: number | undefined): string => (bps === undefined || Number.isNaN(bps) ? '-' : (bps / 1e6).toFixed(0));

/** Reads `file` through @marsaud/smb2 in a child (NODE_OPTIONS=--openssl-legacy-provider for MD4). */
function marsaudRead(host: string, file: string, expectedSha: string, size: number): Promise<MarsaudResult> {
  return new Promise((resolve) => {
    const script = fileURLToPath(import.meta.url);
    const child = spawn(process.execPath, [script, '--marsaud-child', host, file], {
      env: { ...process.env, NODE_OPTIONS: `${process.env['NODE_OPTIONS'] ?? ''} --openssl-legacy-provider`.trim() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), Math.max(60_000, (size / 5e6) * 1000));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').at(-1) ?? '';
      try {
        const r = JSON.parse(line) as { ok: boolean; ms?: number; sha?: string; length?: number; error?: string };
        if (!r.ok) return resolve({ size, bps: undefined, outcome: `error: ${r.error ?? '?'}` });
        const bps = size / ((r.ms ?? 1) / 1000);
        const outcome = r.sha === expectedSha ? 'ok' : `wrong data (sha256 differs, ${r.length ?? '?'} bytes)`;
        resolve({ size, bps, outcome });
      } catch {
        const why = signal !== null ? `killed (${signal}, timeout)` : `exit ${code ?? '-'}`;
        resolve({ size, bps: undefined, outcome: `${why}: ${(err || out).trim().split('\n').slice(-3).join(' | ').slice(0, 300)}` });
      }
    });
  });
}

/** The child side: one readFile through @marsaud/smb2, one JSON line on stdout. */
async function marsaudChild(host: string, file: string): Promise<void> {
  const spec = '@marsaud/smb2';
  const mod = (await import(spec)) as { default: new (o: Record<string, unknown>) => { readFile(p: string): Promise<Buffer>; disconnect(): void } };
  const c = new mod.default({ share: `\\\\${host}\\${SHARE}`, domain: 'WORKGROUP', username: USER, password: PASSWORD, autoCloseTimeout: 0 });
  try {
    const t = performance.now();
    const data = await c.readFile(file);
    const ms = performance.now() - t;
    process.stdout.write(`${JSON.stringify({ ok: true, ms, length: data.length, sha: createHash('sha256').update(data).digest('hex') })}\n`);
  } catch (e) {
    process.stdout.write(`${JSON.stringify({ ok: false, error: e instanceof Error ? e.message : String(e) })}\n`);
  } finally {
    try {
      c.disconnect();
    } catch {
      // never connected
    }
  }
}

export async function benchClient(opts: ClientBenchOptions = {}): Promise<ClientBenchReport> {
  const host = opts.address ?? DEFAULT_ADDRESS;
  const size = opts.size ?? GiB;
  const runs = opts.runs ?? 3;
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const local = await mkdtemp(join(tmpdir(), 'smbkit-client-bench-'));
  const src = join(local, 'bench.bin');
  const dst = join(local, 'got.bin');
  const samba = await startSamba({
    address: host,
    ports: [445],
    users: [{ name: USER, password: PASSWORD }],
    shares: [{ name: SHARE }],
    // @marsaud/smb2 speaks SMB 2.0.2 with NTLMv1 only.
    global: { 'ntlm auth': 'yes', 'server min protocol': 'SMB2_02' },
  });
  try {
    const shareDir = samba.sharePaths.get(SHARE);
    if (shareDir === undefined) throw new Error('no share path');
    const flush = async (path: string): Promise<void> => {
      const f = await open(path, 'r');
      try {
        await f.sync();
      } finally {
        await f.close();
      }
    };
    // Each measurement starts with the share's copy on disk: the writeback of the put before must not slow the
    // transfer after it (each put leaves 1 GiB of dirty pages, and the order of the runs is fixed).
    // ... and on warm memory: each get writes the local copy, each put the share's, into the page cache (bench/memory.ts).
    const settle = async (): Promise<void> => {
      await flush(join(shareDir, 'bench.bin'));
      await warmPages(size);
    };
    await makeFile(src, size);
    await flush(src);
    const srcSha = await sha256File(src);
    const smbclientCall = (commands: string, protection: BenchProtection): Promise<SmbclientResult> =>
      smbclient({
        host,
        share: SHARE,
        user: USER,
        password: PASSWORD,
        maxProtocol: 'SMB3_11',
        minProtocol: 'SMB3_11',
        protection,
        commands,
        timeoutMs: Math.max(120_000, (size / 20e6) * 1000),
      });
    smbclientRate(await smbclientCall(`put ${quotePath(src)} bench.bin`, 'off'), size, 'seed put');

    const passes: ProtectionPass[] = [];
    for (const protection of opts.protections ?? ['off', 'sign']) {
      const m = (label: string): Measure => ({ label, runs: [], bps: NaN });
      const r = {
        clientGet: m('smbkit client download'),
        smbclientGet: m('smbclient get'),
        clientPut: m('smbkit client upload'),
        smbclientPut: m('smbclient put'),
        streamGet: m('smbkit client read stream'),
        streamPut: m('smbkit client write stream'),
      };
      let clientGetVerified = true;
      const call = (commands: string): Promise<SmbclientResult> => smbclientCall(commands, protection);
      // One connection for the whole pass, as smbclient's figure excludes connect and login too.
      const client = await connect({
        host,
        share: SHARE,
        user: USER,
        password: PASSWORD,
        timeoutMs: 120_000,
        signing: protection === 'sign' ? 'required' : 'off',
      });
      try {
        const s = client.share();
        await s.connect();
        const timed = async (into: Measure, f: () => Promise<unknown>): Promise<void> => {
          await settle();
          const t = performance.now();
          await f();
          into.runs.push(size / ((performance.now() - t) / 1000));
        };
        const verify = async (): Promise<void> => {
          clientGetVerified &&= (await sha256File(dst)) === srcSha;
        };
        for (let i = 0; i < runs; i++) {
          // The three gets, and then the three puts, take turns going first: here the first get after a put is
          // several times slower whoever makes it (the local file's pages come back slowly after the put), so a
          // fixed order would put that cost on one client every time.
          const gets = [
            async () => {
              await timed(r.clientGet, () => s.download('bench.bin', dst));
              if (i === 0) await verify();
            },
            async () => {
              await settle();
              r.smbclientGet.runs.push(smbclientRate(await call(`get bench.bin ${quotePath(dst)}`), size, 'smbclient get'));
            },
            async () => {
              await timed(r.streamGet, () => pipeline(s.createReadStream('bench.bin'), createWriteStream(dst)));
              if (i === 0) await verify();
            },
          ];
          const puts = [
            () => timed(r.clientPut, () => s.upload(src, 'bench.bin')),
            async () => {
              await settle();
              r.smbclientPut.runs.push(smbclientRate(await call(`put ${quotePath(src)} bench.bin`), size, 'smbclient put'));
            },
            () => timed(r.streamPut, () => pipeline(createReadStream(src, { highWaterMark: MiB }), s.createWriteStream('bench.bin'))),
          ];
          for (let k = 0; k < gets.length; k++) {
            await gets[(i + k) % gets.length]!();
            await rm(dst, { force: true });
          }
          for (let k = 0; k < puts.length; k++) await puts[(i + k) % puts.length]!();
          log(
            `${protection} run ${i + 1}/${runs}: get download ${mb(r.clientGet.runs.at(-1))} stream ${mb(r.streamGet.runs.at(-1))} smbclient ${mb(r.smbclientGet.runs.at(-1))}; ` +
              `put upload ${mb(r.clientPut.runs.at(-1))} stream ${mb(r.streamPut.runs.at(-1))} smbclient ${mb(r.smbclientPut.runs.at(-1))} MB/s`,
          );
        }
      } finally {
        await client.close();
      }
      for (const x of Object.values(r)) x.bps = median(x.runs);
      passes.push({ protection, ...r, clientGetVerified });
    }

    const marsaud: MarsaudResult[] = [];
    for (const n of [MiB, 64 * MiB]) {
      const name = `m${n}.bin`;
      const p = join(shareDir, name);
      await makeFile(p, n);
      await chmod(p, 0o666);
      const res = await marsaudRead(host, name, await sha256File(p), n);
      log(`@marsaud/smb2 readFile ${n} bytes: ${res.outcome}${res.bps !== undefined ? `, ${mb(res.bps)} MB/s` : ''}`);
      marsaud.push(res);
    }
    return { address: host, size, passes, marsaud };
  } finally {
    await samba.stop();
    await rm(local, { recursive: true, force: true });
  }
}

export function formatClientBench(r: ClientBenchReport): string {
  const ratio = (a: number, b: number): string => (b > 0 && !Number.isNaN(a) ? (a / b).toFixed(2) : '-');
  // min / median / max of the runs, so the noise of a shared machine shows next to the median.
  const spread = (m: Measure): string => {
    const s = [...m.runs].sort((a, b) => a - b);
    return `${mb(s[0])} ${mb(m.bps)} ${mb(s.at(-1))}`.padStart(16);
  };
  const row = (label: string, get: string, put: string): string => `${label.padEnd(22)} ${get.padStart(16)} ${put.padStart(16)}`;
  const lines = [
    `file ${r.size} bytes, Samba ${r.address}, SMB 3.1.1, ${r.passes[0]?.clientGet.runs.length ?? 0} runs each, ratios of the medians (MB = 10^6 bytes)`,
  ];
  for (const p of r.passes) {
    const what = p.protection === 'sign' ? 'both clients sign' : 'neither client signs';
    lines.push(
      '',
      `${what}; client get sha256 ${p.clientGetVerified ? 'ok' : 'MISMATCH'}`,
      row('MB/s min median max', 'get', 'put'),
      row('smbkit download/upload', spread(p.clientGet), spread(p.clientPut)),
      row('smbkit streams', spread(p.streamGet), spread(p.streamPut)),
      row('smbclient', spread(p.smbclientGet), spread(p.smbclientPut)),
      row('client/smbclient', ratio(p.clientGet.bps, p.smbclientGet.bps), ratio(p.clientPut.bps, p.smbclientPut.bps)),
      row('streams/smbclient', ratio(p.streamGet.bps, p.smbclientGet.bps), ratio(p.streamPut.bps, p.smbclientPut.bps)),
    );
  }
  lines.push('', `${'@marsaud/smb2 readFile'.padEnd(22)} ${'MB/s'.padStart(9)}  outcome`);
  for (const m of r.marsaud) lines.push(`${`${m.size / MiB} MiB`.padEnd(22)} ${mb(m.bps).padStart(9)}  ${m.outcome}`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--marsaud-child') {
    await marsaudChild(argv[1] ?? DEFAULT_ADDRESS, argv[2] ?? '');
    return;
  }
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    if (i >= 0) return argv[i + 1];
    return argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  };
  const size = get('size');
  const runs = get('runs');
  const protection = get('protection') ?? 'both';
  const address = get('address');
  if (!['off', 'sign', 'both'].includes(protection)) throw new Error('--protection is off, sign or both');
  const report = await benchClient({
    protections: protection === 'both' ? ['off', 'sign'] : [protection as BenchProtection],
    ...(size !== undefined ? { size: parseSize(size) } : {}),
    ...(runs !== undefined ? { runs: Number(runs) } : {}),
    ...(address !== undefined ? { address } : {}),
  });
  process.stdout.write(`${formatClientBench(report)}\n`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  });
}
