/**
 * One interop suite for any SMB server: real clients (smbclient, impacket) move
 * files of awkward sizes through it in every dialect and check the errors it
 * gives. The Samba self-check runs it against Samba; smbkit's server runs the same.
 */
import { after, before, describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeFile, sha256File, MiB } from './files.js';
import { impacket, listing } from './impacket.js';
import type { ImpacketDialect, ImpacketOp, ImpacketResult } from './impacket.js';
import { ntStatusIn, parseLs, quotePath, smbclient } from './smbclient.js';
import type { SmbclientOptions, SmbclientProtocol, SmbclientResult } from './smbclient.js';

export interface InteropTarget {
  host: string;
  /** Direct TCP port (445 for Samba). */
  port: number;
  /** NetBIOS session service port (139), when the server listens on one. */
  netbiosPort?: number;
  /** A writable share the user may use freely. */
  share: string;
  /** A share the user can read but not write. */
  readOnlyShare: string;
  user: string;
  password: string;
  stop(): Promise<void>;
}

export interface InteropSuiteOptions {
  /** smbclient dialects to run the round trips in; default all SMB2/3 ones. */
  dialects?: SmbclientProtocol[];
  /** impacket dialects; default 2.0.2, 2.1, 3.0. */
  impacketDialects?: ImpacketDialect[];
  /** File sizes moved per dialect. */
  sizes?: number[];
  /** Size of the one big transfer (SMB3_11); 0 skips it. Default 100 MiB. */
  bigSize?: number;
  /** The server lists shares over srvsvc (impacket listShares); default true. */
  shareListing?: boolean;
  /** smbclient --client-protection modes to round-trip with (SMB3_11); default both. */
  protections?: ('sign' | 'encrypt')[];
}

export const DEFAULT_SIZES = [0, 1, 65535, 65536, 65537, 8 * MiB - 1, 8 * MiB, 8 * MiB + 1];
const ALL_DIALECTS: SmbclientProtocol[] = ['SMB2_02', 'SMB2_10', 'SMB3_00', 'SMB3_02', 'SMB3_11'];
const WRITE_DENIED = ['NT_STATUS_ACCESS_DENIED', 'NT_STATUS_MEDIA_WRITE_PROTECTED'];

function show(r: SmbclientResult): string {
  return `exit ${r.code}${r.timedOut ? ' (timed out)' : ''}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
}

function assertOk(r: SmbclientResult, what: string): void {
  const statuses = ntStatusIn(r.stdout + r.stderr);
  assert.ok(r.code === 0 && statuses.length === 0, `${what} failed: ${show(r)}`);
}

/**
 * Expect one of `expected` in smbclient's output. smbclient exits 0 after some failed
 * commands (mkdir, cd), so the exit code is only checked when `failExit` is set.
 */
function assertStatus(t: TestContext, r: SmbclientResult, expected: string[], what: string, failExit = false): string {
  const statuses = ntStatusIn(r.stdout + r.stderr);
  const hit = statuses.find((s) => expected.includes(s));
  assert.ok(hit !== undefined, `${what}: expected one of ${expected.join(', ')}, got [${statuses.join(', ')}]: ${show(r)}`);
  if (failExit) assert.notEqual(r.code, 0, `${what}: smbclient exited 0`);
  t.diagnostic(`${what}: ${hit}`);
  return hit;
}

function impacketOk(res: ImpacketResult, what: string): void {
  assert.equal(res.error, null, `${what}: ${JSON.stringify(res.error)}`);
  res.results.forEach((r, i) => assert.ok(r.ok, `${what}: op ${i} (${r.op}) failed: ${r.status ?? ''} ${r.message ?? ''}`));
}

export function runServerInteropSuite(
  name: string,
  start: () => Promise<InteropTarget>,
  opts: InteropSuiteOptions = {},
): void {
  const dialects = opts.dialects ?? ALL_DIALECTS;
  const impacketDialects = opts.impacketDialects ?? ['2.0.2', '2.1', '3.0'];
  const sizes = opts.sizes ?? DEFAULT_SIZES;
  const bigSize = opts.bigSize ?? 100 * MiB;

  describe(name, () => {
    let target: InteropTarget | undefined;
    let local = '';
    const files: { size: number; name: string; path: string; hash: string }[] = [];
    const tgt = (): InteropTarget => {
      assert.ok(target, 'server did not start');
      return target;
    };
    const client = (over: Partial<SmbclientOptions> & { commands: string }): Promise<SmbclientResult> => {
      const t = tgt();
      return smbclient({ host: t.host, port: t.port, share: t.share, user: t.user, password: t.password, ...over });
    };

    before(async () => {
      local = await mkdtemp(join(tmpdir(), 'smbkit-interop-'));
      for (const size of sizes) {
        const fname = `f_${size}.bin`;
        const path = join(local, fname);
        await makeFile(path, size);
        files.push({ size, name: fname, path, hash: await sha256File(path) });
      }
      target = await start();
    });

    after(async () => {
      try {
        await target?.stop();
      } finally {
        if (local !== '') await rm(local, { recursive: true, force: true });
      }
    });

    /** Round trips in one smbclient dialect (or over port 139). */
    const roundTrip = async (t: TestContext, label: string, over: Partial<SmbclientOptions>): Promise<void> => {
      const dir = `rt_${label}`;
      const outDir = await mkdtemp(join(local, `out_${label}_`));
      const put = [`mkdir ${dir}`, `cd ${dir}`, ...files.map((f) => `put ${quotePath(f.path)} ${f.name}`), 'ls'];
      let r = await client({ ...over, commands: put.join('; ') });
      assertOk(r, `${label}: put`);
      const listed = new Map(parseLs(r.stdout).map((e) => [e.name, e]));
      for (const f of files) {
        const e = listed.get(f.name);
        assert.ok(e, `${label}: ${f.name} missing from ls: ${r.stdout}`);
        assert.equal(e.size, f.size, `${label}: size of ${f.name}`);
        assert.ok(!e.attrs.includes('D'), `${label}: ${f.name} listed as a directory`);
      }
      assert.ok(listed.get('.')?.attrs.includes('D'), `${label}: '.' missing or not a directory`);

      const get = [`cd ${dir}`, ...files.map((f) => `get ${f.name} ${quotePath(join(outDir, f.name))}`)];
      r = await client({ ...over, commands: get.join('; ') });
      assertOk(r, `${label}: get`);
      for (const f of files) {
        assert.equal(await sha256File(join(outDir, f.name)), f.hash, `${label}: content of ${f.name} after the round trip`);
      }

      const [first, second] = files;
      assert.ok(first && second, 'need two sizes');
      const ops = [
        `cd ${dir}`,
        `rename ${first.name} renamed.bin`,
        `del ${second.name}`,
        'mkdir sub',
        'mkdir gone',
        'rmdir gone',
        'ls',
      ];
      r = await client({ ...over, commands: ops.join('; ') });
      assertOk(r, `${label}: rename/del/mkdir/rmdir`);
      const names = new Set(parseLs(r.stdout).map((e) => e.name));
      assert.ok(names.has('renamed.bin'), `${label}: renamed file missing`);
      assert.ok(!names.has(first.name), `${label}: old name still listed after rename`);
      assert.ok(!names.has(second.name), `${label}: deleted file still listed`);
      assert.ok(names.has('sub'), `${label}: mkdir sub not listed`);
      assert.ok(!names.has('gone'), `${label}: rmdir gone still listed`);

      r = await client({ ...over, commands: [`cd ${dir}`, 'rmdir sub', 'del *', 'cd ..', `rmdir ${dir}`, 'ls'].join('; ') });
      assertOk(r, `${label}: cleanup`);
      assert.ok(!parseLs(r.stdout).some((e) => e.name === dir), `${label}: ${dir} still listed after rmdir`);
      await rm(outDir, { recursive: true, force: true });
      t.diagnostic(`${label}: ${files.length} files put, got and checked`);
    };

    describe('smbclient', () => {
      for (const dialect of dialects) {
        it(`round trips in ${dialect}`, async (t) => {
          await roundTrip(t, dialect, { maxProtocol: dialect, minProtocol: dialect });
        });
      }

      it('round trips over the NetBIOS session port', async (t) => {
        const nb = tgt().netbiosPort;
        if (nb === undefined) {
          t.skip('target has no NetBIOS port');
          return;
        }
        await roundTrip(t, 'port139', { port: nb, maxProtocol: 'SMB3_11' });
      });

      {
        for (const protection of opts.protections ?? (['sign', 'encrypt'] as const)) {
          it(`round trips with --client-protection=${protection} (SMB3_11)`, async (t) => {
            await roundTrip(t, protection, { maxProtocol: 'SMB3_11', minProtocol: 'SMB3_11', protection });
          });
        }
      }

      if (bigSize > 0) {
        it(`moves ${bigSize} bytes both ways in SMB3_11`, async () => {
          const src = join(local, 'big.bin');
          const back = join(local, 'big.back');
          await makeFile(src, bigSize);
          const hash = await sha256File(src);
          const r = await client({
            maxProtocol: 'SMB3_11',
            commands: `put ${quotePath(src)} big.bin; ls big.bin; get big.bin ${quotePath(back)}; del big.bin`,
            timeoutMs: 300_000,
          });
          assertOk(r, 'big transfer');
          assert.equal(parseLs(r.stdout).find((e) => e.name === 'big.bin')?.size, bigSize);
          assert.equal(await sha256File(back), hash, 'big file content after the round trip');
          await rm(src, { force: true });
          await rm(back, { force: true });
        });
      }

      it('refuses a wrong password with NT_STATUS_LOGON_FAILURE', async (t) => {
        const r = await client({ password: `${tgt().password}-wrong`, commands: 'ls' });
        assertStatus(t, r, ['NT_STATUS_LOGON_FAILURE'], 'wrong password', true);
      });

      it('refuses an unknown user with NT_STATUS_LOGON_FAILURE', async (t) => {
        const r = await client({ user: 'nosuchuser_smbkit', commands: 'ls' });
        assertStatus(t, r, ['NT_STATUS_LOGON_FAILURE'], 'unknown user', true);
      });

      it('answers an unknown share with NT_STATUS_BAD_NETWORK_NAME', async (t) => {
        const r = await client({ share: 'no_such_share_x', commands: 'ls' });
        assertStatus(t, r, ['NT_STATUS_BAD_NETWORK_NAME'], 'unknown share', true);
      });

      it('answers a missing file with NT_STATUS_OBJECT_NAME_NOT_FOUND', async (t) => {
        const r = await client({ commands: `get missing_file.bin ${quotePath(join(local, 'never'))}` });
        assertStatus(t, r, ['NT_STATUS_OBJECT_NAME_NOT_FOUND'], 'missing file', true);
      });

      it('answers a missing directory with NT_STATUS_OBJECT_NAME_NOT_FOUND or _PATH_NOT_FOUND', async (t) => {
        const r = await client({ commands: 'cd missing_dir; ls' });
        assertStatus(t, r, ['NT_STATUS_OBJECT_NAME_NOT_FOUND', 'NT_STATUS_OBJECT_PATH_NOT_FOUND'], 'missing directory');
      });

      it('refuses writes to a read-only share', async (t) => {
        const f = files.find((x) => x.size > 0) ?? files[0];
        assert.ok(f);
        const r = await client({ share: tgt().readOnlyShare, commands: `put ${quotePath(f.path)} denied.bin` });
        assertStatus(t, r, WRITE_DENIED, 'put to read-only share', true);
        const m = await client({ share: tgt().readOnlyShare, commands: 'mkdir denied_dir' });
        assertStatus(t, m, WRITE_DENIED, 'mkdir on read-only share');
        const l = await client({ share: tgt().readOnlyShare, commands: 'ls' });
        assertOk(l, 'ls of read-only share');
      });
    });

    describe('impacket', () => {
      for (const dialect of impacketDialects) {
        it(`round trips in ${dialect}`, async (t) => {
          const x = tgt();
          const dir = `imp_${dialect.replace(/\./g, '')}`;
          const outDir = await mkdtemp(join(local, `imp_out_${dialect}_`));
          const moved = files.filter((f) => f.size <= 8 * MiB);
          const listShares = opts.shareListing ?? true;
          const ops: ImpacketOp[] = [
            ...(listShares ? [{ op: 'listShares' } as ImpacketOp] : []),
            { op: 'createDirectory', path: dir },
            ...moved.map((f): ImpacketOp => ({ op: 'putFile', local: f.path, remote: `${dir}/${f.name}` })),
            { op: 'listPath', path: `${dir}/*` },
            ...moved.map((f): ImpacketOp => ({ op: 'getFile', remote: `${dir}/${f.name}`, local: join(outDir, f.name) })),
          ];
          const base = { host: x.host, port: x.port, user: x.user, password: x.password, share: x.share, dialect };
          const res = await impacket({ ...base, ops });
          impacketOk(res, `impacket ${dialect}`);
          assert.equal(res.dialect, dialect, 'negotiated dialect');
          if (listShares) {
            const shares = res.results[0]?.value;
            assert.ok(Array.isArray(shares) && shares.includes(x.share), `listShares: ${JSON.stringify(shares)}`);
          }
          const list = new Map(listing(res.results[(listShares ? 2 : 1) + moved.length]).map((e) => [e.name, e]));
          for (const f of moved) {
            assert.equal(list.get(f.name)?.size, f.size, `listPath size of ${f.name}`);
            assert.equal(await sha256File(join(outDir, f.name)), f.hash, `content of ${f.name}`);
          }

          const [first, ...rest] = moved;
          assert.ok(first);
          const cleanup: ImpacketOp[] = [
            { op: 'rename', from: `${dir}/${first.name}`, to: `${dir}/renamed.bin` },
            { op: 'deleteFile', path: `${dir}/renamed.bin` },
            ...rest.map((f): ImpacketOp => ({ op: 'deleteFile', path: `${dir}/${f.name}` })),
            { op: 'createDirectory', path: `${dir}/sub` },
            { op: 'deleteDirectory', path: `${dir}/sub` },
            { op: 'deleteDirectory', path: dir },
            { op: 'listPath', path: '*' },
          ];
          const res2 = await impacket({ ...base, ops: cleanup });
          impacketOk(res2, `impacket ${dialect} cleanup`);
          assert.ok(!listing(res2.results.at(-1)).some((e) => e.name === dir), `${dir} still listed`);

          const errs = await impacket({
            ...base,
            ops: [
              { op: 'getFile', remote: 'missing_file.bin', local: join(outDir, 'never') },
              { op: 'deleteDirectory', path: 'missing_dir' },
              { op: 'createDirectory', path: 'denied', share: x.readOnlyShare },
            ],
          });
          assert.equal(errs.error, null);
          assert.equal(errs.results[0]?.status, 'STATUS_OBJECT_NAME_NOT_FOUND', JSON.stringify(errs.results[0]));
          assert.equal(errs.results[1]?.status, 'STATUS_OBJECT_NAME_NOT_FOUND', JSON.stringify(errs.results[1]));
          assert.ok(WRITE_DENIED.includes(`NT_${errs.results[2]?.status ?? ''}`), JSON.stringify(errs.results[2]));
          t.diagnostic(`impacket ${dialect}: read-only share answers ${errs.results[2]?.status ?? ''}`);

          const bad = await impacket({ ...base, password: `${x.password}-wrong`, ops: [] });
          assert.equal(bad.loggedIn, false);
          assert.equal(bad.error?.status, 'STATUS_LOGON_FAILURE', JSON.stringify(bad.error));
          await rm(outDir, { recursive: true, force: true });
        });
      }

      it('round trips over the NetBIOS session port', async (t) => {
        const x = tgt();
        if (x.netbiosPort === undefined) {
          t.skip('target has no NetBIOS port');
          return;
        }
        const f = files.find((y) => y.size === 65537) ?? files[0];
        assert.ok(f);
        const back = join(local, 'imp139.back');
        const res = await impacket({
          host: x.host,
          port: x.netbiosPort,
          user: x.user,
          password: x.password,
          share: x.share,
          dialect: '3.0',
          ops: [
            { op: 'putFile', local: f.path, remote: 'imp139.bin' },
            { op: 'getFile', remote: 'imp139.bin', local: back },
            { op: 'deleteFile', path: 'imp139.bin' },
          ],
        });
        impacketOk(res, 'impacket port 139');
        assert.equal(await sha256File(back), f.hash);
        await rm(back, { force: true });
      });
    });
  });
}
