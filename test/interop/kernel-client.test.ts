/**
 * The Linux kernel client (cifs.ko, Debian's kernel in a QEMU VM, test/interop/harness/vm.ts) against Samba on
 * 127.0.0.80 and smbkit on 127.0.0.81: one boot per server mounts the share with vers=2.0, 2.1, 3.0, 3.02 and
 * 3.1.1 (3.x also with seal) and runs test/vm/kernel-client.sh, whose every check is a subtest here. The host answers
 * the guest's sync requests through smbclient (cache coherence) and impacket (EAs set and read across clients).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSamba } from './harness/samba.js';
import { startSmbkit, repoRootFrom } from './harness/smbkit.js';
import { impacket } from './harness/impacket.js';
import { ntStatusIn, smbclient } from './harness/smbclient.js';
import { ensureKernelVm, runKernelClientVm, type KernelVm, type VmRun } from './harness/vm.js';

/**
 * What smbkit cannot pass yet because the feature is work in progress elsewhere: each entry is reported as a
 * node:test `todo` with its reason. Remove an entry when the feature lands (a todo that passes shows as such).
 */
const SMBKIT_TODO: { checks: string[]; mounts?: string[]; reason: string }[] = [
];

const MOUNTS = ['2.0', '2.1', '3.0', '3.0+seal', '3.02', '3.02+seal', '3.1.1', '3.1.1+seal'];
/** In the order the guest script runs them; `encrypted` only on seal mounts. */
const CHECKS = [
  'mount',
  'encrypted',
  'create',
  'unicode-names',
  'write-read',
  'append',
  'truncate',
  'rename',
  'rename-replace',
  'times',
  'mkdir-rmdir',
  'hardlink',
  'symlink',
  'xattr',
  'xattr-remote',
  'listing',
  'lock-local',
  'lock-remote',
  'coherence-read',
  'lease-break',
  'coherence-write',
  'delete',
  'statfs',
  'cleanup',
  'umount',
];
const MANY = 3000;
const SHARE = 'kc';
const USER = 'smbkit_kc';
const PASSWORD = 'Kc pass 1!';
const VM_TIMEOUT_MS = 12 * 60_000;

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

interface Target {
  host: string;
  sharePath: string;
  logs(): Promise<string>;
  stop(): Promise<void>;
}

/** 3,000 empty files the guest lists; made on the server's disk, so only the listing goes over SMB. */
async function populateMany(sharePath: string): Promise<string> {
  const dir = join(sharePath, 'many');
  await mkdir(dir, { mode: 0o755 });
  const names: string[] = [];
  for (let i = 0; i < MANY; i++) names.push(`f${String(i).padStart(4, '0')}`);
  for (const n of names) await writeFile(join(dir, n), '');
  return sha256(names.sort().join('\n') + '\n');
}

/** Host side of the coherence checks: rewrite or read the file through smbclient while the guest holds it open. */
function syncHandler(host: string, local: string): (name: string, args: string) => Promise<string> {
  return async (name, args) => {
    const remote = args.trim().replace(/\//g, '\\');
    const file = join(local, `${name}.bin`);
    const common = { host, share: SHARE, user: USER, password: PASSWORD, timeoutMs: 60_000, cwd: local };
    if (name === 'coherence-read') {
      const data = randomBytes(64 * 1024);
      await writeFile(file, data);
      const r = await smbclient({ ...common, commands: `put "${name}.bin" "${remote}"` });
      if (r.code !== 0) return `error smbclient put: ${ntStatusIn(r.stdout + r.stderr).join(' ') || r.stderr.trim()}`;
      return sha256(data);
    }
    if (name === 'coherence-write') {
      // cifs.ko acknowledges a break to read caching once it has started writing its dirty pages back, not once
      // they are written (filemap_fdatawrite without a wait), so the first read may come just before them; against
      // Samba as against smbkit. A second read a moment later must see them: without a break, the guest would still
      // hold them, as it keeps the file open until we answer.
      const get = async (): Promise<string | undefined> => {
        const r = await smbclient({ ...common, commands: `get "${remote}" "${name}.bin"` });
        return r.code !== 0 ? `error smbclient get: ${ntStatusIn(r.stdout + r.stderr).join(' ') || r.stderr.trim()}` : undefined;
      };
      const failed = (await get()) ?? (await new Promise((resolve) => setTimeout(resolve, 500)), await get());
      if (failed !== undefined) return failed;
      return sha256(await readFile(file));
    }
    if (name === 'xattr-remote') {
      const token = randomBytes(6).toString('hex');
      const res = await impacket({
        host,
        port: 445,
        user: USER,
        password: PASSWORD,
        share: SHARE,
        dialect: '3.0',
        ops: [
          { op: 'getEas', path: remote },
          { op: 'setEas', path: remote, eas: [{ name: 'fromHost', value: Buffer.from(token).toString('base64') }] },
        ],
      });
      const failed = res.error ?? res.results.find((r) => !r.ok);
      if (failed) return `error impacket: ${JSON.stringify(failed)}`;
      const seen = (res.results[0]!.value as { name: string; value: string }[]).find((e) => e.name === 'fromGuest');
      return `${token}:${seen ? Buffer.from(seen.value, 'base64').toString() : '(none)'}`;
    }
    return 'error unknown sync';
  };
}

function todoFor(server: string, mount: string, check: string): string | undefined {
  if (server !== 'smbkit') return undefined;
  return SMBKIT_TODO.find((t) => t.checks.includes(check) && (t.mounts === undefined || t.mounts.includes(mount)))?.reason;
}

/** Built once for both suites (the first call may download and unpack Debian's kernel). */
let prepared: Promise<{ vm: KernelVm; script: string }> | undefined;
const prepare = (): Promise<{ vm: KernelVm; script: string }> =>
  (prepared ??= (async () => ({
    vm: await ensureKernelVm(),
    script: await readFile(join(repoRootFrom(import.meta.url), 'test', 'vm', 'kernel-client.sh'), 'utf8'),
  }))());

function kernelClientSuite(server: 'Samba' | 'smbkit', start: () => Promise<Target>): void {
  describe(`kernel client (cifs.ko) against ${server}`, { timeout: VM_TIMEOUT_MS + 120_000 }, () => {
    let target: Target | undefined;
    let local: string;
    let vm: KernelVm | undefined;
    let vmRun: VmRun | undefined;
    let failure: Error | undefined;

    before(async () => {
      try {
        const { vm: built, script } = await prepare();
        vm = built;
        target = await start();
        local = await mkdtemp(join(tmpdir(), 'smbkit-kc-'));
        const manySha = await populateMany(target.sharePath);
        vmRun = await runKernelClientVm({
          vm,
          host: target.host,
          port: 445,
          script,
          env: { SMB_SHARE: SHARE, SMB_USER: USER, SMB_PASS: PASSWORD, MOUNTS: MOUNTS.join(' '), MANY: String(MANY), MANY_SHA: manySha },
          onSync: syncHandler(target.host, local),
          timeoutMs: VM_TIMEOUT_MS,
        });
      } catch (e) {
        failure = e as Error;
      }
    });
    after(async () => {
      await target?.stop();
      if (local) await rm(local, { recursive: true, force: true });
    });

    test('the guest boots and runs the script to its end', async () => {
      if (failure) throw failure;
      assert.ok(vmRun);
      const why = vmRun.timedOut ? `timed out after ${VM_TIMEOUT_MS} ms` : `exit ${vmRun.exitCode ?? 'never reported'}`;
      assert.ok(
        !vmRun.timedOut && vmRun.exitCode === 0,
        `${why}; kernel ${vm?.kernelVersion ?? '?'}\n-- other lines --\n${vmRun.other.join('\n')}\n-- console --\n${vmRun.console.slice(-4000)}\n-- server log --\n${(await target?.logs())?.slice(-3000) ?? ''}`,
      );
    });

    for (const mount of MOUNTS) {
      const [vers, seal] = mount.split('+');
      for (const check of CHECKS) {
        if (check === 'encrypted' && seal === undefined) continue;
        const name = `${mount}/${check}`;
        const todo = todoFor(server, mount, check);
        test(`vers=${vers}${seal ? ',seal' : ''} ${check}`, todo !== undefined ? { todo } : {}, (t) => {
          if (failure) throw failure;
          const r = vmRun?.results.find((x) => x.name === name);
          if (r === undefined) {
            const mountFailed = vmRun?.results.find((x) => x.name === `${mount}/mount` && !x.ok);
            assert.fail(mountFailed ? `not run: ${mountFailed.detail}` : 'the guest never reported this check (see the first subtest)');
          }
          if (r.detail !== '') t.diagnostic(r.detail);
          assert.ok(r.ok, r.detail);
        });
      }
    }

    test('the guest reported no unknown checks', () => {
      if (failure) throw failure;
      const known = new Set(MOUNTS.flatMap((m) => CHECKS.map((c) => `${m}/${c}`)));
      assert.deepEqual(vmRun?.results.filter((r) => !known.has(r.name)).map((r) => r.name) ?? [], []);
    });
  });
}

kernelClientSuite('Samba', async () => {
  const s = await startSamba({
    address: '127.0.0.80',
    ports: [445],
    streams: true,
    users: [{ name: USER, password: PASSWORD }],
    shares: [{ name: SHARE }],
    global: { 'server min protocol': 'SMB2_02' },
  });
  return { host: s.address, sharePath: s.sharePaths.get(SHARE)!, logs: s.logs, stop: s.stop };
});

kernelClientSuite('smbkit', async () => {
  const s = await startSmbkit({ address: '127.0.0.81', port: 445, users: [{ name: USER, password: PASSWORD }], shares: [{ name: SHARE }] });
  return { host: s.address, sharePath: s.sharePaths.get(SHARE)!, logs: s.logs, stop: s.stop };
});
