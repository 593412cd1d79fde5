/**
 * Share listing through IPC$, named pipes and DCE/RPC with real clients against the smbkit CLI (127.0.0.15):
 * smbclient -L (signed in and anonymous), rpcclient's srvsvc and wkssvc commands, and impacket's listShares().
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { impacket } from './harness/impacket.js';
import { run, type RunResult } from './harness/proc.js';
import { writeAuthFile } from './harness/smbclient.js';
import { startSmbkit, type SmbkitServer } from './harness/smbkit.js';

const HOST = '127.0.0.15';
const USER = 'ipc_u';
const PASSWORD = 'Ipc pass 1!';
const SHARES = [
  { name: 'data', comment: 'Project data' },
  { name: 'docs', comment: 'Shared documents, with spaces' },
];
const haveClients = existsSync('/usr/bin/smbclient') && existsSync('/usr/bin/rpcclient') && existsSync('/usr/bin/python3');

function show(r: RunResult): string {
  return `exit ${r.code}${r.timedOut ? ' (timed out)' : ''}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
}

/** The rows of smbclient -L's table: name, type, comment. */
function parseShareTable(stdout: string): Map<string, { type: string; comment: string }> {
  const rows = new Map<string, { type: string; comment: string }>();
  for (const line of stdout.split('\n')) {
    const m = /^\t(\S+)\s+(Disk|IPC|Printer)\s*(.*)$/.exec(line);
    if (m) rows.set(m[1]!, { type: m[2]!, comment: m[3]!.trim() });
  }
  return rows;
}

describe('IPC$ share listing with real clients (smbkit CLI)', { skip: !haveClients && 'smbclient/rpcclient/python3 missing' }, () => {
  let server: SmbkitServer;
  let auth: { path: string; cleanup(): Promise<void> };

  before(async () => {
    server = await startSmbkit({ address: HOST, users: [{ name: USER, password: PASSWORD }], shares: SHARES, server: { anonymous: true } });
    auth = await writeAuthFile(USER, PASSWORD);
  });

  after(async () => {
    await auth?.cleanup();
    await server?.stop();
  });

  const smbclientList = (anonymous: boolean, protocol?: string) =>
    run('/usr/bin/smbclient', [
      '-L',
      `//${HOST}`,
      '--configfile=/dev/null',
      ...(anonymous ? ['-N', '-U%'] : ['-A', auth.path]),
      ...(protocol ? [`--option=client max protocol=${protocol}`, '--option=client min protocol=SMB2_02'] : []),
    ], { timeoutMs: 30_000 });

  const rpcclient = (command: string, anonymous = false) =>
    run('/usr/bin/rpcclient', [HOST, '--configfile=/dev/null', ...(anonymous ? ['-N', '-U%'] : ['-A', auth.path]), '-c', command], { timeoutMs: 30_000 });

  const expectAllShares = (stdout: string, what: string) => {
    const rows = parseShareTable(stdout);
    assert.deepEqual(rows.get('IPC$'), { type: 'IPC', comment: 'IPC Service' }, `${what}: IPC$ row\n${stdout}`);
    for (const s of SHARES) assert.deepEqual(rows.get(s.name), { type: 'Disk', comment: s.comment }, `${what}: ${s.name} row\n${stdout}`);
    assert.equal(rows.size, SHARES.length + 1, `${what}: rows\n${stdout}`);
  };

  for (const protocol of ['SMB2_02', 'SMB3_11']) {
    it(`smbclient -L lists every share with type and comment (${protocol})`, async () => {
      const r = await smbclientList(false, protocol);
      assert.equal(r.code, 0, show(r));
      expectAllShares(r.stdout, `smbclient -L ${protocol}`);
    });
  }

  it('smbclient -L -N (anonymous) lists the shares', async () => {
    const r = await smbclientList(true);
    assert.equal(r.code, 0, show(r));
    expectAllShares(r.stdout, 'smbclient -L -N');
  });

  it('rpcclient netshareenumall (level 2) lists every share', async () => {
    const r = await rpcclient('netshareenumall');
    assert.equal(r.code, 0, show(r));
    const names = [...r.stdout.matchAll(/^netname: (.*)$/gm)].map((m) => m[1]);
    assert.deepEqual(names.sort(), ['IPC$', ...SHARES.map((s) => s.name)].sort(), show(r));
    assert.match(r.stdout, /remark:\tShared documents, with spaces/);
  });

  it('rpcclient netshareenum (sticky) lists the configured shares only', async () => {
    const r = await rpcclient('netshareenum 1');
    assert.equal(r.code, 0, show(r));
    const names = [...r.stdout.matchAll(/^netname: (.*)$/gm)].map((m) => m[1]);
    assert.deepEqual(names.sort(), SHARES.map((s) => s.name).sort(), show(r));
  });

  it('rpcclient netsharegetinfo: a share, and an unknown one', async () => {
    const r = await rpcclient('netsharegetinfo docs 1');
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /netname: docs\n\tremark:\tShared documents, with spaces/, show(r));
    const missing = await rpcclient('netsharegetinfo nosuchshare 1');
    assert.match(missing.stdout + missing.stderr, /WERR_NERR_NETNAMENOTFOUND|NET_NAME_NOT_FOUND/i, show(missing));
  });

  it('rpcclient srvinfo reports an NT server', async () => {
    const r = await rpcclient('srvinfo');
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /platform_id\s*:\s*500/, show(r));
    assert.match(r.stdout, /os version\s*:\s*10\.0/, show(r));
  });

  it('rpcclient anonymous: level 1 listing works, level 2 is denied', async () => {
    const ok = await rpcclient('netshareenumall 1', true);
    assert.equal(ok.code, 0, show(ok));
    assert.match(ok.stdout, /netname: data/, show(ok));
    const denied = await rpcclient('netshareenumall 2', true);
    assert.match(denied.stdout + denied.stderr, /WERR_ACCESS_DENIED/, show(denied));
  });

  it('rpcclient wkssvc_wkstagetinfo answers', async () => {
    const r = await rpcclient('wkssvc_wkstagetinfo');
    assert.equal(r.code, 0, show(r));
  });

  for (const anonymous of [false, true]) {
    it(`impacket listShares (${anonymous ? 'anonymous' : 'signed in'})`, async () => {
      const res = await impacket({
        host: HOST,
        ...(anonymous ? { anonymous: true } : { user: USER, password: PASSWORD }),
        share: 'data',
        ops: [{ op: 'listShares' }],
      });
      assert.equal(res.error, null, JSON.stringify(res));
      const shares = res.results[0]?.value;
      assert.ok(Array.isArray(shares), JSON.stringify(res));
      assert.deepEqual([...(shares as string[])].sort(), ['IPC$', ...SHARES.map((s) => s.name)].sort());
    });
  }

  it('the server logged no errors', async () => {
    const logs = await server.logs();
    assert.doesNotMatch(logs, /"level":"error"|\bERROR\b/, logs.slice(-4000));
  });
});
