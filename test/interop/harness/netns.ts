/**
 * A private two-host network for multicast and broadcast tests: two network namespaces joined by a veth pair,
 * with addresses from the benchmarking range 198.18.0.0/15 (RFC 2544) that exist only inside them. Nothing sent
 * there can leave: the namespaces have no other interface and no default route. destroy() deletes both (and
 * with them the veth pair); create() first removes leftovers of an earlier run with the same tag.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { open } from 'node:fs/promises';
import { killTree, run, runChecked, type RunOptions, type RunResult } from './proc.js';

export interface NetnsHost {
  ns: string;
  ifname: string;
  address: string;
}

export interface NetnsPair {
  server: NetnsHost;
  client: NetnsHost;
  /** Runs argv inside a host's namespace (bounded by the run() timeout). */
  exec(host: NetnsHost, argv: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** Starts a long-running process inside a host's namespace, its output going to logPath. */
  spawn(host: NetnsHost, argv: readonly string[], logPath: string, cwd?: string): Promise<ChildProcess>;
  destroy(): Promise<void>;
}

const ip = (args: string[]): Promise<RunResult> => runChecked('ip', args, { timeoutMs: 10_000 });

/** Namespaces smbkit-t-<tag>-s and -c; `tag` must be short (interface names are limited to 15 bytes). */
export async function createNetnsPair(tag: string, subnet = '198.18.50'): Promise<NetnsPair> {
  const server: NetnsHost = { ns: `smbkit-t-${tag}-s`, ifname: `skt-${tag}-s`, address: `${subnet}.1` };
  const client: NetnsHost = { ns: `smbkit-t-${tag}-c`, ifname: `skt-${tag}-c`, address: `${subnet}.2` };
  if (server.ifname.length > 15) throw new Error(`netns tag too long: ${tag}`);
  const destroy = async (): Promise<void> => {
    for (const h of [server, client]) await run('ip', ['netns', 'delete', h.ns], { timeoutMs: 10_000 });
  };
  await destroy();
  try {
    await ip(['netns', 'add', server.ns]);
    await ip(['netns', 'add', client.ns]);
    await ip(['link', 'add', server.ifname, 'netns', server.ns, 'type', 'veth', 'peer', 'name', client.ifname, 'netns', client.ns]);
    for (const h of [server, client]) {
      await ip(['-n', h.ns, 'link', 'set', 'lo', 'up']);
      await ip(['-n', h.ns, 'addr', 'add', `${h.address}/24`, 'dev', h.ifname]);
      await ip(['-n', h.ns, 'link', 'set', h.ifname, 'up']);
      // Multicast needs a route; this one covers only the multicast range and only this link.
      await ip(['-n', h.ns, 'route', 'add', '224.0.0.0/4', 'dev', h.ifname]);
    }
  } catch (e) {
    await destroy();
    throw e;
  }
  return {
    server,
    client,
    exec: (h, argv, opts) => run('ip', ['netns', 'exec', h.ns, ...argv], { timeoutMs: 30_000, ...opts }),
    spawn: async (h, argv, logPath, cwd) => {
      const log = await open(logPath, 'w');
      const child = spawn('ip', ['netns', 'exec', h.ns, ...argv], { stdio: ['ignore', log.fd, log.fd], detached: true, ...(cwd ? { cwd } : {}) });
      await log.close();
      return child;
    },
    destroy,
  };
}

/** SIGTERM, then SIGKILL after graceMs; resolves when the process has exited. */
export async function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  killTree(child, 'SIGTERM');
  const t = setTimeout(() => killTree(child, 'SIGKILL'), graceMs);
  await gone;
  clearTimeout(t);
}
