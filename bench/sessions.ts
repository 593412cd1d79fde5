/**
 * Many sessions from one address against smbkit's server with its default configuration (the real CLI, a child
 * process): N connections (default 1,000) from one source address, each negotiating (3.1.1 and below), logging on
 * and connecting the share, C at a time. Prints the time to establish them, the server's RSS and PSS before and with
 * all of them open, and the server's CPU time (user + system) per session; with workers, the server's figures are
 * those of its process and its workers together. Timings are noisy on a shared machine;
 * the CPU time per session is the steadier figure.
 *
 *   node dist/bench/sessions.js [--host 127.0.0.67] [--source 127.0.0.68] [--sessions 1000] [--concurrency 50]
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { startSmbkit } from '../test/interop/harness/smbkit.js';
import { childPids } from '../test/interop/harness/proc.js';
import { RawClient } from '../test/support/raw-client.js';
import { Status } from '../src/protocol/nt-status.js';

const USER = 'smbkit_sb';
const PASSWORD = 'Sess1on bench!';
const SHARE = 'bench';

interface ProcessFigures {
  rssKiB: number;
  pssKiB: number;
  cpuMs: number;
}

/** The server's figures: its process and its worker processes (`workers`), summed. */
async function figures(pid: number): Promise<ProcessFigures> {
  const all = await Promise.all([pid, ...childPids(pid)].map(processFigures));
  return all.reduce((a, b) => ({ rssKiB: a.rssKiB + b.rssKiB, pssKiB: a.pssKiB + b.pssKiB, cpuMs: a.cpuMs + b.cpuMs }));
}

async function processFigures(pid: number): Promise<ProcessFigures> {
  const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? NaN);
  // utime and stime are the 14th and 15th fields of /proc/PID/stat, in clock ticks (100 per second on Linux).
  const stat = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  const cpuMs = (Number(stat[11]) + Number(stat[12])) * 10;
  return { rssKiB: kib('Rss'), pssKiB: kib('Pss'), cpuMs };
}

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : dflt;
}

async function main(): Promise<void> {
  const host = arg('host', '127.0.0.67');
  const source = arg('source', '127.0.0.68');
  const sessions = Number(arg('sessions', '1000'));
  const concurrency = Number(arg('concurrency', '50'));
  const server = await startSmbkit({ address: host, port: 445, users: [{ name: USER, password: PASSWORD }], shares: [{ name: SHARE }], server: { log_level: 'warn' }, defaultPlacement: true });
  const clients: RawClient[] = [];
  try {
    await new Promise((r) => setTimeout(r, 1000));
    const before = await figures(server.pid);
    const started = process.hrtime.bigint();
    let next = 0;
    let failed = 0;
    const worker = async (): Promise<void> => {
      while (next < sessions) {
        next++;
        const c = await RawClient.connect(host, 445, source);
        clients.push(c);
        const ok =
          (await c.negotiate()).status === Status.SUCCESS &&
          (await c.sessionSetup(USER, PASSWORD)).status === Status.SUCCESS &&
          (await c.treeConnect(`\\\\${host}\\${SHARE}`)).status === Status.SUCCESS;
        if (!ok) failed++;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    await new Promise((r) => setTimeout(r, 1000));
    const after = await figures(server.pid);
    const mib = (k: number): string => (k / 1024).toFixed(1);
    process.stdout.write(
      `${sessions - failed}/${sessions} sessions (negotiate + logon + tree connect) from ${source} in ${seconds.toFixed(1)} s, ${concurrency} at a time\n` +
        `server RSS ${mib(before.rssKiB)} -> ${mib(after.rssKiB)} MiB, PSS ${mib(before.pssKiB)} -> ${mib(after.pssKiB)} MiB: ` +
        `${((after.pssKiB - before.pssKiB) / sessions).toFixed(1)} KiB PSS per session\n` +
        `server CPU ${((after.cpuMs - before.cpuMs) / sessions).toFixed(2)} ms per session (user + system)\n`,
    );
  } finally {
    for (const c of clients) c.destroy();
    await server.stop();
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  });
}
