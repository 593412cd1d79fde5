/**
 * The share-escape corpus with real clients: smbclient and impacket against the smbkit CLI (127.0.0.9) serving
 * a share whose root has `outside/` next to it and symlinks leading there. Nothing outside the root may be read,
 * written or listed; the sidecar stays invisible; the server keeps serving.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildEscapeLayout,
  etcPicture,
  HIDDEN_ENTRY_NAMES,
  OUTSIDE_MARKER,
  snapshotTree,
  type EscapeLayout,
} from '../fixtures/escape-names.js';
import { impacket, listing, type ImpacketOp } from './harness/impacket.js';
import { ntStatusIn, parseLs, quotePath, smbclient } from './harness/smbclient.js';
import { startSmbkit, type SmbkitServer } from './harness/smbkit.js';

const HOST = '127.0.0.9';
const USER = 'escape_u';
const PASSWORD = 'Escape pass 1!';
const SHARE = 'data';
const haveClients = existsSync('/usr/bin/smbclient') && existsSync('/usr/bin/python3');

describe('share escape through smbclient and impacket (smbkit CLI)', { skip: !haveClients && 'smbclient/python3 missing' }, () => {
  let top: string;
  let local: string;
  let layout: EscapeLayout;
  let server: SmbkitServer;
  let outsideBefore: string[];
  let topBefore: string[];
  let etcBefore: string;
  const outputs: string[] = [];

  before(async () => {
    top = await mkdtemp(join(tmpdir(), 'smbkit-escape-interop-'));
    const tree = join(top, 'tree');
    await mkdir(tree);
    layout = await buildEscapeLayout(tree, Buffer.from(`SMBKIT-INTEROP-SECRET-${Date.now().toString(36)}-x9`));
    local = join(top, 'local');
    await mkdir(local);
    await writeFile(join(local, 'x'), 'local payload');
    outsideBefore = await snapshotTree(layout.outside);
    topBefore = (await readdir(layout.top)).sort();
    etcBefore = await etcPicture();
    server = await startSmbkit({
      address: HOST,
      users: [{ name: USER, password: PASSWORD }],
      shares: [{ name: SHARE, path: layout.root }],
    });
  });

  after(async () => {
    await server?.stop();
    await rm(top, { recursive: true, force: true });
  });

  const client = (commands: string) => smbclient({ host: HOST, share: SHARE, user: USER, password: PASSWORD, commands, cwd: local, timeoutMs: 30_000 });

  it('smbclient: get, cd, ls, put, rename and sidecar paths stay inside', async (t) => {
    const q = quotePath;
    const cases: [string, string][] = [
      ['get ..\\outside\\secret.txt', `get ${q('..\\outside\\secret.txt')} ${q(join(local, 'g1'))}`],
      ['cd .. ; ls', `cd ..; ls`],
      ['ls ..\\*', `ls ${q('..\\*')}`],
      ['put x ..\\evil.txt', `put x ${q('..\\evil.txt')}`],
      ['put x link_out\\evil.txt', `put x ${q('link_out\\evil.txt')}`],
      ['put x link_dangling', `put x link_dangling`],
      ['rename x ..\\x', `put x x; rename x ${q('..\\x')}`],
      ['rename x link_out\\x', `rename x ${q('link_out\\x')}`],
      ['get link_secret', `get link_secret ${q(join(local, 'g2'))}`],
      ['ls link_out\\*', `ls ${q('link_out\\*')}`],
      ['ls link_abs\\*', `ls ${q('link_abs\\*')}`],
      ['get link_abs\\passwd', `get ${q('link_abs\\passwd')} ${q(join(local, 'g3'))}`],
      ['get .smbkit\\meta', `get ${q('.smbkit\\meta')} ${q(join(local, 'g4'))}`],
      ['ls .smbkit\\*', `ls ${q('.smbkit\\*')}`],
      ['ls link_meta\\*', `ls ${q('link_meta\\*')}`],
      ['mkdir ..\\evildir', `mkdir ${q('..\\evildir')}`],
      ['del link_secret', `del link_secret`],
      ['allinfo link_secret', `allinfo link_secret`],
      ['get sub\\link_up\\..\\outside\\secret.txt', `get ${q('sub\\link_up\\..\\outside\\secret.txt')} ${q(join(local, 'g5'))}`],
    ];
    const results = await Promise.all(cases.map(async ([label, cmd]) => ({ label, r: await client(cmd) })));
    for (const { label, r } of results) {
      assert.ok(!r.timedOut, `${label} timed out`);
      outputs.push(r.stdout + r.stderr);
      // the only names a listing may show: the root's own (never outside/, /etc or the sidecar)
      for (const e of parseLs(r.stdout)) {
        assert.ok(!HIDDEN_ENTRY_NAMES.includes(e.name.toLowerCase()), `${label} lists ${e.name}`);
        assert.ok(!['secret.txt', 'passwd', OUTSIDE_MARKER, 'meta', 'streams'].includes(e.name), `${label} lists ${e.name}`);
      }
    }
    // Gets fetched nothing (or an error): no local copy holds the secret.
    for (const f of await readdir(local)) {
      const data = await readFile(join(local, f)).catch(() => Buffer.alloc(0));
      assert.ok(!data.includes(layout.secret), `local ${f} holds the secret`);
    }
    const statuses = results.map(({ label, r }) => `${label}: ${ntStatusIn(r.stdout + r.stderr).join(',') || 'ok'}`);
    for (const line of statuses) t.diagnostic(line);
    // smbclient collapses a leading `..` at the share root itself: what it sent landed in the root.
    const okLabel = (label: string) => statuses.includes(`${label}: ok`);
    if (okLabel('put x ..\\evil.txt')) assert.ok(existsSync(join(layout.root, 'evil.txt')), 'put ..\\evil.txt landed in the root');
    if (okLabel('mkdir ..\\evildir')) assert.ok(existsSync(join(layout.root, 'evildir')), 'mkdir ..\\evildir landed in the root');
    // The refusals a user sees for the gets that aim outside.
    for (const label of ['get ..\\outside\\secret.txt', 'get link_secret', 'get .smbkit\\meta', 'get link_abs\\passwd']) {
      const line = statuses.find((s) => s.startsWith(`${label}:`));
      assert.ok(line !== undefined && /NT_STATUS_/.test(line), `${label} is refused: ${line}`);
    }
  });

  it('impacket: getFile, listPath, putFile, rename, createDirectory, deleteFile with evil names', async (t) => {
    const put = join(local, 'x');
    const got = (n: number) => join(local, `imp${n}`);
    const ops: ImpacketOp[] = [
      { op: 'getFile', remote: '..\\outside\\secret.txt', local: got(1) },
      { op: 'getFile', remote: 'link_secret', local: got(2) },
      { op: 'getFile', remote: 'link_out\\secret.txt', local: got(3) },
      { op: 'getFile', remote: '.smbkit\\meta', local: got(4) },
      { op: 'getFile', remote: 'link_abs\\passwd', local: got(5) },
      { op: 'getFile', remote: '\\..\\outside\\secret.txt', local: got(6) },
      { op: 'listPath', path: '..\\*' },
      { op: 'listPath', path: 'link_out\\*' },
      { op: 'listPath', path: 'link_abs\\*' },
      { op: 'listPath', path: '.smbkit\\*' },
      { op: 'listPath', path: '.SMBKIT\\meta\\*' },
      { op: 'putFile', local: put, remote: '..\\evil.txt' },
      { op: 'putFile', local: put, remote: 'link_out\\evil.txt' },
      { op: 'putFile', local: put, remote: 'link_dangling' },
      { op: 'putFile', local: put, remote: 'link_secret' },
      { op: 'putFile', local: put, remote: '.smbkit\\meta\\1.json' },
      { op: 'putFile', local: put, remote: 'inside.txt' },
      { op: 'rename', from: 'inside.txt', to: '..\\stolen.txt' },
      { op: 'rename', from: 'inside.txt', to: 'link_out\\stolen.txt' },
      { op: 'rename', from: 'inside.txt', to: '.smbkit\\stolen.txt' },
      { op: 'createDirectory', path: '..\\evildir' },
      { op: 'createDirectory', path: 'link_out\\evildir' },
      { op: 'deleteFile', path: 'link_secret' },
      { op: 'deleteFile', path: '..\\outside\\secret.txt' },
      { op: 'deleteDirectory', path: 'link_out' },
      { op: 'listPath', path: '*' },
    ];
    const res = await impacket({ host: HOST, user: USER, password: PASSWORD, share: SHARE, ops });
    assert.equal(res.error, null, JSON.stringify(res.error));
    outputs.push(JSON.stringify(res));
    assert.equal(res.results.length, ops.length);
    res.results.forEach((r, i) => {
      const op = ops[i]!;
      t.diagnostic(`${op.op} ${JSON.stringify(op)}: ${r.ok ? 'ok' : r.status}`);
      const isInside = (op.op === 'putFile' && op.remote === 'inside.txt') || (op.op === 'listPath' && op.path === '*');
      if (isInside) assert.ok(r.ok, `${JSON.stringify(op)}: ${r.status}`);
      else assert.ok(!r.ok, `${JSON.stringify(op)} succeeded`);
      for (const e of listing(r)) {
        assert.ok(!HIDDEN_ENTRY_NAMES.includes(e.name.toLowerCase()), `${JSON.stringify(op)} lists ${e.name}`);
        assert.ok(!['secret.txt', 'passwd', OUTSIDE_MARKER].includes(e.name), `${JSON.stringify(op)} lists ${e.name}`);
      }
    });
    const root = listing(res.results.at(-1)).map((e) => e.name);
    assert.ok(root.includes('inside.txt') && root.includes('sub'), `root listing: ${root.join(', ')}`);
    for (const f of await readdir(local)) {
      const data = await readFile(join(local, f)).catch(() => Buffer.alloc(0));
      assert.ok(!data.includes(layout.secret), `local ${f} holds the secret`);
    }
  });

  it('outside/, the directory above the share and /etc are unchanged; the server still serves', async () => {
    for (const o of outputs) assert.ok(!o.includes(layout.secret.toString()), 'no client output shows the secret');
    assert.deepEqual(await snapshotTree(layout.outside), outsideBefore);
    assert.deepEqual((await readdir(layout.top)).sort(), topBefore);
    assert.equal(await etcPicture(), etcBefore);
    const r = await client(`put x still.txt; get still.txt ${quotePath(join(local, 'still'))}`);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(await readFile(join(local, 'still'), 'utf8'), 'local payload');
    const logs = await server.logs();
    assert.ok(!/request failed unexpectedly|internal error/.test(logs), 'no internal errors in the server log');
  });
});
