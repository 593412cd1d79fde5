/**
 * The Linux kernel SMB client (cifs.ko) as a test peer: boots Debian's kernel under QEMU (TCG) with the
 * initramfs test/vm/build.sh makes, adds a per-run cpio archive holding the guest script and its settings,
 * and runs it against one loopback server.
 *
 * The guest reaches nothing but that server: QEMU's user-mode network with restrict=on and a single guestfwd
 * from 10.0.2.100:445 to `nc -N HOST PORT` (one nc per guest connection, so reconnects work).
 * Serial port 0 is the kernel console (kept for failure messages); port 1 carries the script's lines:
 * `ok NAME [detail]`, `fail NAME detail`, `sync NAME ARGS` (answered with `go NAME REPLY`) and `exit N`.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killTree, run } from './proc.js';
import { repoRootFrom } from './smbkit.js';

const QEMU = 'qemu-system-x86_64';
/** Where the guest sees the server (QEMU's user-mode network forwards it to the loopback server). */
const GUEST_SERVER = '10.0.2.100';

export interface KernelVm {
  vmlinux: string;
  initramfs: string;
  /** e.g. "6.1.0-56-amd64 6.1.192-2 (30 modules)". */
  kernelVersion: string;
}

/** Builds the kernel and initramfs once (test/vm/build.sh caches them in .cache/kernel-vm) and returns them. */
export async function ensureKernelVm(): Promise<KernelVm> {
  const qemu = await run(QEMU, ['--version'], { timeoutMs: 30_000 }).catch(() => undefined);
  if (qemu?.code !== 0) throw new Error(`${QEMU} is not installed (Debian package qemu-system-x86; .ci/install-peers.sh)`);
  // The guest's one connection goes through `nc -N` (close the socket's write side at end of input).
  const nc = await run('nc', ['-h'], { timeoutMs: 10_000 }).catch(() => undefined);
  if (nc === undefined || !`${nc.stdout}${nc.stderr}`.includes('-N')) throw new Error('nc is not OpenBSD netcat (Debian package netcat-openbsd)');
  const root = repoRootFrom(import.meta.url);
  const cache = process.env['SMBKIT_VM_CACHE'] ?? join(root, '.cache', 'kernel-vm');
  const r = await run('bash', [join(root, 'test', 'vm', 'build.sh')], { timeoutMs: 15 * 60_000, env: { ...process.env, SMBKIT_VM_CACHE: cache } });
  if (r.code !== 0) throw new Error(`test/vm/build.sh failed (exit ${r.code}${r.timedOut ? ', timed out' : ''}):\n${r.stderr.slice(-3000)}`);
  return {
    vmlinux: join(cache, 'vmlinux'),
    initramfs: join(cache, 'initramfs.cpio'),
    kernelVersion: (await readFile(join(cache, 'kernel-version'), 'utf8')).trim(),
  };
}

export interface CpioEntry {
  /** Path inside the archive, without a leading slash. */
  path: string;
  /** File content; absent for a directory. */
  data?: Buffer | string;
  /** Permission bits; default 0o755 for directories and 0o644 for files. */
  mode?: number;
}

const pad4 = (n: number): number => (4 - (n % 4)) % 4;

/**
 * An uncompressed cpio archive in the "newc" format the kernel's initramfs unpacker reads
 * (Documentation/driver-api/early-userspace/buffer-format.rst): a 110-byte ASCII header, the name with its NUL,
 * the data, each padded to 4 bytes, and a closing TRAILER!!! entry. The kernel unpacks archives one after
 * another, so this one can follow the cached base archive in a single -initrd file.
 */
export function newcArchive(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  const add = (name: string, mode: number, data: Buffer): void => {
    const nameBytes = Buffer.from(`${name}\0`, 'utf8');
    const fields = [ino++, mode, 0, 0, 1, 0, data.length, 0, 0, 0, 0, nameBytes.length, 0];
    const header = '070701' + fields.map((f) => f.toString(16).padStart(8, '0')).join('');
    parts.push(Buffer.from(header, 'ascii'), nameBytes, Buffer.alloc(pad4(110 + nameBytes.length)));
    parts.push(data, Buffer.alloc(pad4(data.length)));
  };
  for (const e of entries) {
    if (e.path.startsWith('/') || e.path.includes('..')) throw new Error(`bad cpio path: ${e.path}`);
    if (e.data === undefined) add(e.path, 0o040000 | (e.mode ?? 0o755), Buffer.alloc(0));
    else add(e.path, 0o100000 | (e.mode ?? 0o644), Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data, 'utf8'));
  }
  add('TRAILER!!!', 0, Buffer.alloc(0));
  return Buffer.concat(parts);
}

/** `export NAME='value'` lines for the guest's /test/env. */
export function shellEnv(vars: Record<string, string>): string {
  let s = '';
  for (const [k, v] of Object.entries(vars)) {
    if (!/^[A-Z_][A-Z0-9_]*$/.test(k)) throw new Error(`bad variable name ${k}`);
    if (/[\n\r\0]/.test(v)) throw new Error(`variable ${k} has a newline or NUL`);
    s += `export ${k}='${v.replace(/'/g, `'\\''`)}'\n`;
  }
  return s;
}

export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
}

export type VmLine =
  | { kind: 'result'; result: CheckResult }
  | { kind: 'sync'; name: string; args: string }
  | { kind: 'exit'; code: number }
  | { kind: 'other'; text: string };

/** One line of the test port: `ok NAME [detail]`, `fail NAME detail`, `sync NAME ARGS`, `exit N`, or anything else. */
export function parseVmLine(line: string): VmLine {
  const m = /^(ok|fail|sync|exit) (\S+)(?: (.*))?$/.exec(line.replace(/\r$/, ''));
  if (m === null) return { kind: 'other', text: line };
  const [, kind, name = '', rest = ''] = m;
  if (kind === 'exit') return /^\d+$/.test(name) && rest === '' ? { kind: 'exit', code: Number(name) } : { kind: 'other', text: line };
  if (kind === 'sync') return { kind: 'sync', name, args: rest };
  return { kind: 'result', result: { name, ok: kind === 'ok', detail: rest } };
}

export interface VmRunOptions {
  vm: KernelVm;
  /** The loopback server the guest's 10.0.2.100:445 leads to. */
  host: string;
  port: number;
  /** The guest script (shell for busybox ash), run as /test/script.sh. */
  script: string;
  /** Written to /test/env as exported variables. */
  env: Record<string, string>;
  /** Answers a `sync NAME ARGS` line; the reply goes back as `go NAME REPLY`. */
  onSync?: (name: string, args: string) => Promise<string>;
  /** Called for each result line as it arrives (progress). */
  onResult?: (r: CheckResult) => void;
  /** Whole run, boot included; QEMU is killed when it passes. */
  timeoutMs: number;
  memoryMb?: number;
}

export interface VmRun {
  results: CheckResult[];
  /** The script's exit status; undefined when the guest never reported one (crash, hang, timeout). */
  exitCode: number | undefined;
  timedOut: boolean;
  /** Lines on the test port that are not results. */
  other: string[];
  /** The kernel console (serial port 0). */
  console: string;
  durationMs: number;
}

/** Boots the VM once, runs the script, and resolves when the guest powers off or the time limit passes. */
export async function runKernelClientVm(o: VmRunOptions): Promise<VmRun> {
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(o.host)) throw new Error(`not a loopback IPv4 address: ${o.host}`);
  if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535) throw new Error(`bad port ${o.port}`);
  for (const f of [o.vm.vmlinux, o.vm.initramfs]) if (!existsSync(f)) throw new Error(`${f} is missing (test/vm/build.sh)`);

  const dir = await mkdtemp(join(tmpdir(), 'smbkit-vm-'));
  const started = performance.now();
  try {
    const extra = newcArchive([
      { path: 'test' },
      { path: 'test/script.sh', data: o.script, mode: 0o755 },
      { path: 'test/env', data: shellEnv(o.env), mode: 0o600 },
    ]);
    const initrd = join(dir, 'initrd.cpio');
    await writeFile(initrd, Buffer.concat([await readFile(o.vm.initramfs), extra]));
    const consolePath = join(dir, 'console.log');

    const args = [
      '-accel', 'tcg', '-cpu', 'max', '-smp', '1', '-m', `${o.memoryMb ?? 512}M`,
      '-nodefaults', '-display', 'none', '-no-reboot',
      '-kernel', o.vm.vmlinux, '-initrd', initrd,
      '-append', 'console=ttyS0 panic=-1 quiet loglevel=4',
      '-chardev', `file,id=con,path=${consolePath}`, '-serial', 'chardev:con',
      '-chardev', 'stdio,id=io,signal=off', '-serial', 'chardev:io',
      '-netdev', `user,id=n0,restrict=on,ipv6=off,guestfwd=tcp:${GUEST_SERVER}:445-cmd:nc -N ${o.host} ${o.port}`,
      '-device', 'virtio-net-pci,netdev=n0',
    ];
    const child = spawn(QEMU, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const results: CheckResult[] = [];
    const other: string[] = [];
    let exitCode: number | undefined;
    let timedOut = false;
    let stderr = '';
    let pending = '';
    // Sync requests are answered one at a time, in order.
    let syncChain: Promise<void> = Promise.resolve();

    const onLine = (line: string): void => {
      const l = parseVmLine(line);
      if (l.kind === 'other') {
        if (l.text.trim() !== '') other.push(l.text);
      } else if (l.kind === 'exit') {
        exitCode = l.code;
      } else if (l.kind === 'sync') {
        syncChain = syncChain.then(async () => {
          let reply: string;
          try {
            reply = o.onSync ? await o.onSync(l.name, l.args) : 'unhandled';
          } catch (e) {
            reply = `error ${(e as Error).message.split('\n')[0] ?? ''}`;
          }
          if (!child.stdin.destroyed) child.stdin.write(`go ${l.name} ${reply.replace(/[\r\n]/g, ' ')}\n`);
        });
      } else {
        results.push(l.result);
        o.onResult?.(l.result);
      }
    };
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (s: string) => {
      pending += s;
      let i;
      while ((i = pending.indexOf('\n')) >= 0) {
        onLine(pending.slice(0, i));
        pending = pending.slice(i + 1);
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (s: string) => {
      if (stderr.length < 64 * 1024) stderr += s;
    });
    child.stdin.on('error', () => {
      // QEMU may exit while a reply is on its way
    });

    const timer = setTimeout(() => {
      timedOut = true;
      killTree(child, 'SIGKILL');
    }, o.timeoutMs);
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (c) => resolve(c));
    }).finally(() => clearTimeout(timer));
    // QEMU's nc children (its process group) end with their connections; make sure none outlives the run.
    if (child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // the group is gone already
      }
    }
    if (pending.trim() !== '') onLine(pending);
    await syncChain;

    let consoleText = await readFile(consolePath, 'utf8').catch(() => '');
    if (code !== 0 && !timedOut) consoleText += `\n[qemu exited with ${code}] ${stderr}`;
    return { results, exitCode, timedOut, other, console: consoleText, durationMs: performance.now() - started };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
