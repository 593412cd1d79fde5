/**
 * Starts smbkit's own server the way a user does: `node bin/smbkit.js serve --config FILE` with a TOML file,
 * on a loopback address, as a child process we own; stop() sends SIGTERM (a clean shutdown) and waits.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnServer } from './proc.js';

export interface SmbkitShare {
  name: string;
  /** Defaults to <tempdir>/shares/<name>. */
  path?: string;
  readOnly?: boolean;
  guest?: boolean;
  /** Every request must be encrypted. */
  encrypt?: boolean;
  /** The share's comment (what share listings show). */
  comment?: string;
  /** 'printer': `path` is the spool directory. */
  type?: 'disk' | 'printer';
  /** A printer share's command (program and arguments). */
  printCommand?: string[];
  /** Users allowed (absent = every user). */
  users?: string[];
  /** Continuously available (persistent handles); the harness then gives the server a state_dir. */
  continuousAvailability?: boolean;
}

export interface SmbkitOptions {
  address: string;
  port?: number;
  netbiosPort?: number;
  users: { name: string; password: string }[];
  shares: SmbkitShare[];
  /** Extra [server] keys, TOML-ready values (strings are quoted here). */
  server?: Record<string, string | number | boolean>;
  /** Place connections on workers as the default configuration does (benchmarks), not spread as tests do. */
  defaultPlacement?: boolean;
}

export interface SmbkitServer {
  address: string;
  port: number;
  netbiosPort: number | undefined;
  dir: string;
  sharePaths: Map<string, string>;
  pid: number;
  logs(): Promise<string>;
  /** Stops the server (SIGTERM, or SIGKILL with `crash`) and starts it again with the same files and state. */
  restart(opts?: { crash?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

export function repoRootFrom(url: string): string {
  let dir = dirname(fileURLToPath(url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('package.json not found');
}

const tomlValue = (v: string | number | boolean): string => (typeof v === 'string' ? JSON.stringify(v) : String(v));

export async function startSmbkit(o: SmbkitOptions): Promise<SmbkitServer> {
  const root = repoRootFrom(import.meta.url);
  const dir = await mkdtemp(join(tmpdir(), `smbkit-${o.address}-`));
  const port = o.port ?? 445;
  const sharePaths = new Map<string, string>();
  const lines: string[] = ['[server]', `listen = [${JSON.stringify(`${o.address}:${port}`)}]`];
  if (o.netbiosPort !== undefined) lines.push(`netbios_listen = [${JSON.stringify(`${o.address}:${o.netbiosPort}`)}]`);
  if (o.server?.['log_level'] === undefined) lines.push('log_level = "info"');
  for (const [k, v] of Object.entries(o.server ?? {})) lines.push(`${k} = ${tomlValue(v)}`);
  // SMBKIT_TEST_WORKERS=N runs every server the tests start with N worker processes, unless a test sets `workers`.
  const testWorkers = process.env['SMBKIT_TEST_WORKERS'];
  if (testWorkers && o.server?.['workers'] === undefined) lines.push(`workers = ${/^\d+$/.test(testWorkers) ? testWorkers : JSON.stringify(testWorkers)}`);
  // The tests spread their clients over the workers (the default fills one first), so that what two clients do to
  // one file crosses between workers, the hard case.
  if (o.server?.['worker_fill'] === undefined && !o.defaultPlacement) lines.push('worker_fill = 1');
  for (const u of o.users) lines.push('', '[[user]]', `name = ${tomlValue(u.name)}`, `password = ${tomlValue(u.password)}`);
  for (const s of o.shares) {
    const path = s.path ?? join(dir, 'shares', s.name);
    await mkdir(path, { recursive: true });
    sharePaths.set(s.name, path);
    lines.push('', '[[share]]', `name = ${tomlValue(s.name)}`, `path = ${tomlValue(path)}`);
    if (s.readOnly) lines.push('read_only = true');
    if (s.guest) lines.push('guest = true');
    if (s.encrypt) lines.push('encrypt = true');
    if (s.comment !== undefined) lines.push(`comment = ${tomlValue(s.comment)}`);
    if (s.type !== undefined) lines.push(`type = ${tomlValue(s.type)}`);
    if (s.printCommand !== undefined) lines.push(`print_command = [${s.printCommand.map(tomlValue).join(', ')}]`);
    if (s.users !== undefined) lines.push(`users = [${s.users.map(tomlValue).join(', ')}]`);
    if (s.continuousAvailability) lines.push('continuous_availability = true');
  }
  if (o.shares.some((s) => s.continuousAvailability) && o.server?.['state_dir'] === undefined) {
    lines.splice(1, 0, `state_dir = ${tomlValue(join(dir, 'state'))}`);
  }
  const confPath = join(dir, 'smbkit.toml');
  await writeFile(confPath, lines.join('\n') + '\n');
  const logPath = join(dir, 'server.log');
  const logs = () => readFile(logPath, 'utf8').catch(() => '');
  const spawn = () =>
    spawnServer({
      argv: [process.execPath, join(root, 'bin', 'smbkit.js'), 'serve', '--config', confPath],
      cwd: root,
      logPath,
      host: o.address,
      ports: o.netbiosPort !== undefined ? [port, o.netbiosPort] : [port],
      name: 'smbkit',
    });
  let proc: Awaited<ReturnType<typeof spawn>>;
  try {
    proc = await spawn();
  } catch (e) {
    const text = await logs();
    await rm(dir, { recursive: true, force: true });
    throw new Error(`${(e as Error).message}\n${text}`);
  }
  const stop = async (): Promise<void> => {
    await proc.stop();
    await rm(dir, { recursive: true, force: true });
  };
  const server: SmbkitServer = { address: o.address, port, netbiosPort: o.netbiosPort, dir, sharePaths, pid: proc.pid, logs, stop, restart: async () => {} };
  server.restart = async (opts = {}) => {
    if (opts.crash) process.kill(proc.pid, 'SIGKILL');
    await proc.stop();
    proc = await spawn();
    server.pid = proc.pid;
  };
  return server;
}
