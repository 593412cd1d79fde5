/**
 * A reference Samba (smbd) on one loopback address, owned entirely by the test:
 * every path smbd touches lives in one temporary folder, smbd runs in the
 * foreground as our child, and stop() ends only the PIDs this instance started.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, open, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { childPids, isAlive, run, runChecked, terminatePid, waitForPort } from './proc.js';

export interface SambaShare {
  name: string;
  /** Defaults to <tempdir>/shares/<name>, created world-writable. */
  path?: string;
  readOnly?: boolean;
  guestOk?: boolean;
  /** `smb encrypt` for this share. */
  encrypt?: 'required' | 'desired' | 'if_required' | 'off';
  extra?: Record<string, string>;
}

export interface SambaUser {
  name: string;
  password: string;
}

export interface SambaOptions {
  /** Loopback address to bind, e.g. 127.0.0.2. */
  address: string;
  /** Defaults to [445, 139]. */
  ports?: number[];
  shares?: SambaShare[];
  users?: SambaUser[];
  /** Extra or overriding [global] parameters (server min protocol, server signing, ntlm auth...). */
  global?: Record<string, string>;
  /** Windows-like semantics: acl_xattr + streams_xattr, EAs, DOS attributes. */
  streams?: boolean;
  /** Milliseconds to wait for the ports; default 20 s. */
  startTimeoutMs?: number;
}

export interface SambaServer {
  address: string;
  ports: number[];
  /** The temporary folder holding smb.conf, state, logs and default share paths. */
  dir: string;
  confPath: string;
  /** Share name -> absolute path on disk. */
  sharePaths: Map<string, string>;
  /** PID of the foreground smbd we spawned. */
  pid: number;
  /** Concatenated smbd log files (for failure messages). */
  logs(): Promise<string>;
  stop(): Promise<void>;
}

const SMBD = '/usr/sbin/smbd';

/** Fail early with a hint when a VFS module smbd would need is not installed (Debian: samba-vfs-modules). */
async function checkVfsModules(names: string[]): Promise<void> {
  const dirs = ['/usr/lib/x86_64-linux-gnu/samba/vfs', '/usr/lib/aarch64-linux-gnu/samba/vfs', '/usr/lib/samba/vfs', '/usr/lib64/samba/vfs'];
  for (const n of names) {
    // acl_xattr is built into some smbd builds; only a module found nowhere is an error.
    const found = dirs.some((d) => existsSync(join(d, `${n}.so`)));
    const builtinCandidate = n === 'acl_xattr';
    if (!found && !builtinCandidate) {
      throw new Error(`Samba VFS module ${n} is not installed (Debian package samba-vfs-modules)`);
    }
  }
}

async function userExists(name: string): Promise<boolean> {
  const r = await run('getent', ['passwd', name], { timeoutMs: 10_000 });
  return r.code === 0;
}

/** Create a Unix account for smbd to map the user to, if it does not exist yet. */
export async function ensureUnixUser(name: string): Promise<void> {
  if (await userExists(name)) return;
  const r = await run('useradd', ['-M', '-s', '/usr/sbin/nologin', name], { timeoutMs: 20_000 });
  // A concurrent instance may have created it between the check and useradd.
  if (r.code !== 0 && !(await userExists(name))) {
    throw new Error(`useradd ${name} failed: ${r.stderr.trim()}`);
  }
}

function confLine(key: string, value: string): string {
  if (/[\n\r]/.test(key) || /[\n\r]/.test(value)) throw new Error(`smb.conf value with a newline: ${key}`);
  return `\t${key} = ${value}\n`;
}

function section(name: string, params: Record<string, string>): string {
  let s = `[${name}]\n`;
  for (const [k, v] of Object.entries(params)) s += confLine(k, v);
  return s;
}

export async function startSamba(opts: SambaOptions): Promise<SambaServer> {
  const ports = opts.ports ?? [445, 139];
  const address = opts.address;
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(address)) throw new Error(`not a loopback IPv4 address: ${address}`);

  if (opts.streams) await checkVfsModules(['acl_xattr', 'streams_xattr']);
  for (const port of ports) {
    const busy = await waitForPort(address, port, 0).then(
      () => true,
      () => false,
    );
    if (busy) throw new Error(`${address}:${port} is already in use`);
  }

  const dir = await mkdtemp(join(tmpdir(), `smbkit-samba-${address}-`));
  // mkdtemp makes 0700; smbd's per-user processes must reach the share paths below.
  await chmod(dir, 0o755);
  const sub = (n: string): string => join(dir, n);
  for (const d of ['state', 'lock', 'cache', 'private', 'pid', 'ncalrpc', 'winbindd', 'log', 'shares']) {
    await mkdir(sub(d), { recursive: true });
  }
  await chmod(sub('shares'), 0o755);

  const global: Record<string, string> = {
    'server role': 'standalone server',
    'netbios name': `SMBKITREF${address.split('.').slice(1).join('')}`.slice(0, 15),
    workgroup: 'WORKGROUP',
    interfaces: `${address}/8`,
    'bind interfaces only': 'yes',
    'smb ports': ports.join(' '),
    'disable netbios': 'yes',
    'state directory': sub('state'),
    'lock directory': sub('lock'),
    'cache directory': sub('cache'),
    'private dir': sub('private'),
    'pid directory': sub('pid'),
    'ncalrpc dir': sub('ncalrpc'),
    'winbindd socket directory': sub('winbindd'),
    'passdb backend': `tdbsam:${join(sub('private'), 'passdb.tdb')}`,
    'smb passwd file': join(sub('private'), 'smbpasswd'),
    'log file': join(sub('log'), 'log.%m'),
    'max log size': '0',
    'load printers': 'no',
    'printcap name': '/dev/null',
    'disable spoolss': 'yes',
    'map to guest': 'never',
    'ntlm auth': 'ntlmv2-only',
    'usershare max shares': '0',
  };
  if (opts.streams) {
    global['vfs objects'] = 'acl_xattr streams_xattr';
    global['ea support'] = 'yes';
    global['store dos attributes'] = 'yes';
  }
  Object.assign(global, opts.global ?? {});

  let conf = section('global', global);
  const sharePaths = new Map<string, string>();
  for (const share of opts.shares ?? []) {
    const path = share.path ?? join(sub('shares'), share.name);
    await mkdir(path, { recursive: true });
    await chmod(path, 0o777);
    sharePaths.set(share.name, path);
    const p: Record<string, string> = {
      path,
      'read only': share.readOnly ? 'yes' : 'no',
      'guest ok': share.guestOk ? 'yes' : 'no',
      browseable: 'yes',
    };
    if (share.encrypt !== undefined) p['smb encrypt'] = share.encrypt;
    Object.assign(p, share.extra ?? {});
    conf += section(share.name, p);
  }
  const confPath = sub('smb.conf');
  await writeFile(confPath, conf);

  const cleanupDir = async (): Promise<void> => {
    await rm(dir, { recursive: true, force: true });
  };

  try {
    for (const u of opts.users ?? []) {
      await ensureUnixUser(u.name);
      await runChecked('smbpasswd', ['-c', confPath, '-s', '-a', u.name], {
        input: `${u.password}\n${u.password}\n`,
        timeoutMs: 20_000,
      });
    }
  } catch (e) {
    await cleanupDir();
    throw e;
  }

  const logFd = await open(join(sub('log'), 'smbd.stdout'), 'a');
  let child: ChildProcess;
  try {
    // Foreground, in its own process group (detached) so stop() can reach every fork.
    child = spawn(SMBD, ['-F', '--no-process-group', '-s', confPath], {
      stdio: ['ignore', logFd.fd, logFd.fd],
      detached: true,
      cwd: dir,
    });
  } finally {
    await logFd.close();
  }
  let exited: string | undefined;
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = `smbd exited (code ${code ?? '-'}, signal ${signal ?? '-'})`;
      resolve();
    });
    child.once('error', (e) => {
      exited = `smbd failed to start: ${e.message}`;
      resolve();
    });
  });
  const pid = child.pid;

  const logs = async (): Promise<string> => {
    let out = '';
    try {
      for (const f of (await readdir(sub('log'))).sort()) {
        try {
          out += `==> ${f} <==\n${await readFile(join(sub('log'), f), 'utf8')}\n`;
        } catch {
          // directories (cores) and vanished files
        }
      }
    } catch {
      // removed already
    }
    return out;
  };

  const readPid = async (name: string): Promise<number | undefined> => {
    try {
      const n = Number((await readFile(join(sub('pid'), name), 'utf8')).trim());
      return Number.isInteger(n) && n > 1 ? n : undefined;
    } catch {
      return undefined;
    }
  };

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // samba-dcerpcd (spawned on demand for share listings) daemonizes away from our
    // process group; its pid file names it, and its rpcd_* workers are its children.
    const dcerpcd = await readPid('samba-dcerpcd.pid');
    const workers = dcerpcd !== undefined ? childPids(dcerpcd) : [];
    if (pid !== undefined && exited === undefined) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // gone
      }
      const t = setTimeout(() => {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // gone
        }
      }, 5_000);
      await exitPromise;
      clearTimeout(t);
    }
    if (pid !== undefined) {
      // Per-connection forks left behind in smbd's process group.
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // none left
      }
    }
    if (dcerpcd !== undefined) await terminatePid(dcerpcd);
    for (const w of workers) await terminatePid(w, 1_000);
    await cleanupDir();
  };

  try {
    if (pid === undefined) {
      await exitPromise;
      throw new Error(exited ?? 'smbd did not start');
    }
    for (const port of ports) {
      await waitForPort(address, port, opts.startTimeoutMs ?? 20_000, () => exited);
    }
  } catch (e) {
    const l = await logs();
    await stop();
    throw new Error(`${(e as Error).message}\n${l.slice(-4000)}`);
  }

  return { address, ports, dir, confPath, sharePaths, pid, logs, stop };
}

/** True while the PID of a started server is alive (for tests of stop()). */
export function sambaAlive(server: SambaServer): boolean {
  return isAlive(server.pid);
}
