/**
 * lsarpc with real clients against the smbkit CLI (127.0.0.62): rpcclient's lsaquery, lookupnames, lookupsids
 * and getusername; impacket's LsarOpenPolicy(2), LsarQueryInformationPolicy(2), LsarLookupNames(2,3),
 * LsarLookupSids(2), LsarGetUserName and LsarClose; smbcacls, which names a file's owner through lsarpc (so the
 * account SIDs are the ones file ACLs use).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { serverDomainSid, userSid } from '../../src/server/acl.js';
import { impacket, type ImpacketLsaCall, type ImpacketLsaResult } from './harness/impacket.js';
import { run, type RunResult } from './harness/proc.js';
import { writeAuthFile } from './harness/smbclient.js';
import { startSmbkit, type SmbkitServer } from './harness/smbkit.js';

const HOST = '127.0.0.62';
const SERVER_NAME = 'LSATEST';
const WORKGROUP = 'TESTGROUP';
const ALICE = { name: 'Alice', password: 'Alice lsa 1!' };
const BOB = { name: 'bob', password: 'Bob lsa 2!' };
const haveClients = existsSync('/usr/bin/rpcclient') && existsSync('/usr/bin/smbcacls') && existsSync('/usr/bin/python3');

const MACHINE_SID = serverDomainSid(SERVER_NAME);
const ALICE_SID = userSid(MACHINE_SID, ALICE.name);
const BOB_SID = userSid(MACHINE_SID, BOB.name);

function show(r: RunResult): string {
  return `exit ${r.code}${r.timedOut ? ' (timed out)' : ''}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
}

describe('lsarpc with real clients (smbkit CLI)', { skip: !haveClients && 'rpcclient/smbcacls/python3 missing' }, () => {
  let server: SmbkitServer;
  let auth: { path: string; cleanup(): Promise<void> };

  before(async () => {
    server = await startSmbkit({
      address: HOST,
      users: [ALICE, BOB],
      shares: [{ name: 'data' }],
      server: { name: SERVER_NAME, domain: WORKGROUP, anonymous: true },
    });
    auth = await writeAuthFile(ALICE.name, ALICE.password);
  });

  after(async () => {
    await auth?.cleanup();
    await server?.stop();
  });

  const rpcclient = (command: string, anonymous = false) =>
    run('/usr/bin/rpcclient', [HOST, '--configfile=/dev/null', ...(anonymous ? ['-N', '-U%'] : ['-A', auth.path]), '-c', command], { timeoutMs: 30_000 });

  const lsa = async (calls: ImpacketLsaCall[], who: { user: string; password: string } = { user: BOB.name, password: BOB.password }): Promise<ImpacketLsaResult[]> => {
    const res = await impacket({ host: HOST, ...who, ops: [{ op: 'lsa', calls }] });
    assert.equal(res.error, null, JSON.stringify(res));
    assert.ok(res.results[0]?.ok, JSON.stringify(res));
    return res.results[0]!.value as ImpacketLsaResult[];
  };

  it('rpcclient lsaquery: the workgroup as primary domain, the server and its machine SID as account domain', async () => {
    const primary = await rpcclient('lsaquery');
    assert.equal(primary.code, 0, show(primary));
    assert.match(primary.stdout, new RegExp(`Domain Name: ${WORKGROUP}\\nDomain Sid: \\(NULL SID\\)`), show(primary));
    const account = await rpcclient('lsaquery 5');
    assert.match(account.stdout, new RegExp(`Domain Name: ${SERVER_NAME}\\nDomain Sid: ${MACHINE_SID}\\n`), show(account));
    const dns = await rpcclient('lsaquery 12');
    assert.match(dns.stdout, new RegExp(`Domain NetBios Name: ${WORKGROUP}`), show(dns));
    const other = await rpcclient('lsaquery 2');
    assert.match(other.stdout + other.stderr, /NT_STATUS_INVALID_PARAMETER/, show(other));
  });

  it('rpcclient lookupnames: users, qualified names, well-known principals, domains, unknown names', async () => {
    // rpcclient's command line treats a backslash as an escape: two pass one.
    const r = await rpcclient(`lookupnames alice ${SERVER_NAME}\\\\bob Everyone BUILTIN\\\\Administrators ${SERVER_NAME}`);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, new RegExp(`^alice ${ALICE_SID} \\(User: 1\\)$`, 'm'), show(r));
    assert.match(r.stdout, new RegExp(`^${SERVER_NAME}\\\\bob ${BOB_SID} \\(User: 1\\)$`, 'm'), show(r));
    assert.match(r.stdout, /^Everyone S-1-1-0 \(Well-known Group: 5\)$/m, show(r));
    assert.match(r.stdout, /^BUILTIN\\Administrators S-1-5-32-544 \(Local Group: 4\)$/m, show(r));
    assert.match(r.stdout, new RegExp(`^${SERVER_NAME} ${MACHINE_SID} \\(Domain: 3\\)$`, 'm'), show(r));
    const some = await rpcclient('lookupnames bob nosuchuser');
    assert.match(some.stdout, /^nosuchuser S-0-0 \(UNKNOWN: 8\)$/m, show(some));
    const none = await rpcclient('lookupnames nosuchuser');
    assert.match(none.stdout + none.stderr, /NT_STATUS_NONE_MAPPED/, show(none));
  });

  it('rpcclient lookupsids: account, guest, well-known and unknown SIDs', async () => {
    const r = await rpcclient(`lookupsids ${ALICE_SID} ${MACHINE_SID}-501 S-1-1-0 S-1-5-7 S-1-5-32-545 S-1-5-21-1-2-3-4`);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, new RegExp(`^${ALICE_SID} ${SERVER_NAME}\\\\Alice \\(1\\)$`, 'm'), show(r));
    assert.match(r.stdout, new RegExp(`^${MACHINE_SID}-501 ${SERVER_NAME}\\\\Guest \\(1\\)$`, 'm'), show(r));
    assert.match(r.stdout, /^S-1-1-0 \\Everyone \(5\)$/m, show(r));
    assert.match(r.stdout, /^S-1-5-7 NT AUTHORITY\\ANONYMOUS LOGON \(5\)$/m, show(r));
    assert.match(r.stdout, /^S-1-5-32-545 BUILTIN\\Users \(4\)$/m, show(r));
    assert.match(r.stdout, /^S-1-5-21-1-2-3-4 \*unknown\*\\\*unknown\* \(8\)$/m, show(r));
    const levels = await rpcclient(`lookupsids_level 1 ${BOB_SID}`);
    assert.match(levels.stdout, new RegExp(`${SERVER_NAME}\\\\bob \\(1\\)`), show(levels));
  });

  it('rpcclient getusername: the account and its authority; anonymous is ANONYMOUS LOGON', async () => {
    const r = await rpcclient('getusername');
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, new RegExp(`Account Name: Alice, Authority Name: ${SERVER_NAME}`), show(r));
    const anon = await rpcclient('getusername', true);
    assert.match(anon.stdout, /Account Name: ANONYMOUS LOGON, Authority Name: NT AUTHORITY/, show(anon));
    // Anonymous sessions may not translate names (no policy handle for them).
    const denied = await rpcclient('lookupnames bob', true);
    assert.match(denied.stdout + denied.stderr, /NT_STATUS_ACCESS_DENIED/, show(denied));
  });

  it('rpcclient lookupnames4 / lookupsids3 are refused over a named pipe (MS-LSAT 2.1)', async () => {
    for (const c of ['lookupnames4 bob', 'lookupsids3 S-1-1-0']) {
      const r = await rpcclient(c);
      assert.match(r.stdout + r.stderr, /NT_STATUS_ACCESS_DENIED/, show(r));
    }
  });

  it('impacket: OpenPolicy(2), QueryInformationPolicy(2), GetUserName and Close', async () => {
    const out = await lsa([
      { call: 'openPolicy2' },
      { call: 'queryInfo2', level: 5 },
      { call: 'queryInfo2', level: 3 },
      { call: 'queryInfo', level: 5 },
      { call: 'getUserName' },
      { call: 'close' },
      { call: 'queryInfo2', level: 5 },
      { call: 'openPolicy' },
      { call: 'queryInfo', level: 12 },
      { call: 'close' },
    ]);
    assert.deepEqual(out.map((r) => r.ok), [true, true, true, true, true, true, false, true, true, true], JSON.stringify(out));
    assert.deepEqual(out[1]!.value, { name: SERVER_NAME, sid: MACHINE_SID });
    assert.deepEqual(out[2]!.value, { name: WORKGROUP, sid: null });
    assert.deepEqual(out[3]!.value, { name: SERVER_NAME, sid: MACHINE_SID });
    assert.deepEqual(out[4]!.value, { user: 'bob' });
    assert.equal(out[6]!.code, 0xc0000008, 'a closed handle is INVALID_HANDLE');
    assert.deepEqual(out[8]!.value, { name: WORKGROUP, sid: null });
  });

  it('impacket: LookupNames, LookupNames2, LookupNames3 and LookupSids, LookupSids2', async () => {
    const names = ['Alice', 'Everyone', 'nosuch'];
    const out = await lsa([
      { call: 'openPolicy2' },
      ...([1, 2, 3] as const).map((version): ImpacketLsaCall => ({ call: 'lookupNames', version, names: names.slice(0, 2) })),
      { call: 'lookupSids', version: 1, sids: [BOB_SID, 'S-1-5-32-544'] },
      { call: 'lookupSids', version: 2, sids: [BOB_SID, 'S-1-5-18'] },
      { call: 'close' },
    ]);
    for (const r of out) assert.ok(r.ok, JSON.stringify(r));
    type Names = { status: number; mapped: number; domains: { name: string; sid: string }[]; sids: { use: number; domainIndex: number; rid?: number; sid?: string }[] };
    for (const [i, version] of [[1, 1], [2, 2], [3, 3]] as const) {
      const v = out[i]!.value as Names;
      assert.equal(v.status, 0, `LookupNames${version}`);
      assert.equal(v.mapped, 2);
      const sidOf = (t: Names['sids'][number]) => t.sid ?? `${v.domains[t.domainIndex]!.sid}-${t.rid}`;
      assert.deepEqual(v.sids.map((t) => [t.use, sidOf(t)]), [[1, ALICE_SID], [5, 'S-1-1-0']], `LookupNames${version}: ${JSON.stringify(v)}`);
      assert.equal(v.domains[v.sids[0]!.domainIndex]!.name, SERVER_NAME);
    }
    type Sids = { status: number; mapped: number; domains: { name: string }[]; names: { use: number; name: string; domainIndex: number }[] };
    const one = out[4]!.value as Sids;
    assert.deepEqual(one.names.map((n) => `${one.domains[n.domainIndex]!.name}\\${n.name} (${n.use})`), [`${SERVER_NAME}\\bob (1)`, 'BUILTIN\\Administrators (4)']);
    const two = out[5]!.value as Sids;
    assert.deepEqual(two.names.map((n) => `${two.domains[n.domainIndex]!.name}\\${n.name} (${n.use})`), [`${SERVER_NAME}\\bob (1)`, 'NT AUTHORITY\\SYSTEM (5)']);
  });

  it('impacket: some names unmapped is STATUS_SOME_NOT_MAPPED; an unknown opnum is nca_s_op_rng_error', async () => {
    const res = await impacket({
      host: HOST,
      user: BOB.name,
      password: BOB.password,
      ops: [{ op: 'lsa', calls: [{ call: 'openPolicy2' }, { call: 'lookupNames', version: 3, names: ['bob', 'nosuch'] }, { call: 'raw', opnum: 99 }] }],
    });
    const out = res.results[0]!.value as ImpacketLsaResult[];
    assert.equal(out[1]!.code, 0x00000107, JSON.stringify(out));
    assert.equal(out[2]!.ok, false);
    assert.match(out[2]!.message ?? '', /nca_s_op_rng_error/, JSON.stringify(out));
  });

  it('smbcacls names a file owner through lsarpc: the ACLs and lsarpc share one machine SID', async () => {
    const put = await run('/usr/bin/smbclient', [`//${HOST}/data`, '--configfile=/dev/null', '-A', auth.path, '-c', 'put /etc/hostname mine.txt'], { timeoutMs: 30_000 });
    assert.equal(put.code, 0, show(put));
    const r = await run('/usr/bin/smbcacls', [`//${HOST}/data`, 'mine.txt', '--configfile=/dev/null', '-A', auth.path], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, new RegExp(`^OWNER:${SERVER_NAME}\\\\Alice$`, 'm'), show(r));
    assert.match(r.stdout, /^ACL:BUILTIN\\Administrators:ALLOWED/m, show(r));
  });

  it('the server logged no errors', async () => {
    const logs = await server.logs();
    assert.doesNotMatch(logs, /"level":"error"|\bERROR\b/, logs.slice(-4000));
  });
});
