/**
 * Printer shares with real clients against the smbkit CLI (127.0.0.65): `smbclient -c 'print FILE'` (small and
 * 10 MiB jobs, checked by sha256 in the spool directory), the print command run without a shell (its argv
 * recorded by a small script, with a user name and a document name full of shell metacharacters), access rules
 * as for disk shares (a user list, guests), what clients cannot do (choose where a job lands, read it back, list
 * the queue), a failing print command, and the share type in srvsvc listings (smbclient -L, rpcclient,
 * impacket, smbkit's client).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '../../src/client/client.js';
import { makeFile, MiB, sha256File } from './harness/files.js';
import { impacket } from './harness/impacket.js';
import { run, type RunResult } from './harness/proc.js';
import { writeAuthFile } from './harness/smbclient.js';
import { startSmbkit, type SmbkitServer } from './harness/smbkit.js';

const HOST = '127.0.0.65';
const ALICE = { name: 'alice', password: 'Alice print 1!' };
const BOB = { name: 'bob', password: 'Bob print 2!' };
/** A user whose name a shell would run. */
const EVE = { name: 'eve;$(touch PWNED-user)`touch PWNED-tick`', password: 'Eve print 3!' };
const haveClients = existsSync('/usr/bin/smbclient') && existsSync('/usr/bin/rpcclient') && existsSync('/usr/bin/python3');

function show(r: RunResult): string {
  return `exit ${r.code}${r.timedOut ? ' (timed out)' : ''}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
}

/** Records its arguments (after the output directory) as JSON, one file per run. */
const RECORDER = `
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');
writeFileSync(join(process.argv[2], 'argv-' + process.pid + '.json'), JSON.stringify(process.argv.slice(3)));
`;

describe('printer shares with real clients (smbkit CLI)', { skip: !haveClients && 'smbclient/rpcclient/python3 missing' }, () => {
  let server: SmbkitServer;
  let work: string;
  let spool: string;
  let guestSpool: string;
  let records: string;
  const auths = new Map<string, { path: string; cleanup(): Promise<void> }>();

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'smbkit-print-'));
    spool = join(work, 'spool');
    guestSpool = join(work, 'guest-spool');
    records = join(work, 'records');
    await run('/bin/mkdir', ['-p', records]);
    const recorder = join(work, 'record.cjs');
    await writeFile(recorder, RECORDER);
    const record = [process.execPath, recorder, records];
    server = await startSmbkit({
      address: HOST,
      users: [ALICE, BOB, EVE],
      shares: [
        { name: 'printer', type: 'printer', path: spool, comment: 'Office printer', users: [ALICE.name, EVE.name], printCommand: [...record, '{file}', '{user}', '{name}', '{size}', 'job={job} share={share} from={client}'] },
        { name: 'guestprinter', type: 'printer', path: guestSpool, guest: true, printCommand: [...record, '{user}', '{file}'] },
        { name: 'broken', type: 'printer', path: join(work, 'broken-spool'), printCommand: [join(work, 'no-such-program'), '{file}'] },
        { name: 'data' },
      ],
    });
    for (const u of [ALICE, BOB, EVE]) auths.set(u.name, await writeAuthFile(u.name, u.password));
  });

  after(async () => {
    for (const a of auths.values()) await a.cleanup();
    await server?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const smbclient = (share: string, user: string | 'guest', commands: string, cwd = work) =>
    run('/usr/bin/smbclient', [`//${HOST}/${share}`, '--configfile=/dev/null', ...(user === 'guest' ? ['-U', 'nobody%'] : ['-A', auths.get(user)!.path]), '-c', commands], { timeoutMs: 120_000, cwd });

  /** The finished jobs of a spool directory (no partial files left). */
  const jobs = async (dir: string) => (await readdir(dir).catch(() => [] as string[])).sort();

  /** Record files already returned by newRuns. */
  const seen = new Set<string>();
  /** Waits for `n` more runs of the print command; returns their argv (in no particular order). */
  const newRuns = async (n: number): Promise<string[][]> => {
    const end = Date.now() + 20_000;
    for (;;) {
      const fresh = (await readdir(records)).filter((f) => f.endsWith('.json') && !seen.has(f));
      if (fresh.length > n) throw new Error(`the print command ran ${fresh.length} times, expected ${n}`);
      if (fresh.length === n) {
        for (const f of fresh) seen.add(f);
        return Promise.all(fresh.map(async (f) => JSON.parse(await readFile(join(records, f), 'utf8')) as string[]));
      }
      if (Date.now() > end) throw new Error(`the print command ran ${fresh.length} times, expected ${n}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const newRun = async (): Promise<string[]> => (await newRuns(1))[0]!;

  it('smbclient print delivers a job whole to the spool directory and runs the command with its file and user', async () => {
    const doc = join(work, 'letter.txt');
    await makeFile(doc, 123_457);
    const r = await smbclient('printer', ALICE.name, 'print letter.txt');
    assert.equal(r.code, 0, show(r));
    const argv = await newRun();
    const [file, user, name, size, extra] = argv;
    assert.equal(user, 'alice');
    assert.equal(name, 'letter.txt');
    assert.equal(size, '123457');
    assert.match(extra!, new RegExp(`^job=\\S+ share=printer from=127\\.`));
    assert.equal(join(spool, file!.slice(spool.length + 1)), file, 'the job file is in the spool directory');
    assert.equal(await sha256File(file!), await sha256File(doc));
    assert.deepEqual(await jobs(spool), [file!.slice(spool.length + 1)], 'one finished job, no partial file');
  });

  it('a 10 MiB job arrives whole', async () => {
    const doc = join(work, 'big.bin');
    await makeFile(doc, 10 * MiB);
    const r = await smbclient('printer', ALICE.name, 'print big.bin');
    assert.equal(r.code, 0, show(r));
    const [file, , name, size] = await newRun();
    assert.equal(name, 'big.bin');
    assert.equal(size, String(10 * MiB));
    assert.equal(await sha256File(file!), await sha256File(doc));
  });

  it('the command sees shell metacharacters in the user and document names as plain text', async () => {
    const docName = 'memo;$(touch PWNED-doc);`touch PWNED-doc2`|x&y.txt';
    const local = join(work, 'memo.txt');
    await writeFile(local, 'quarterly numbers\n');
    // impacket names the remote file as it is given (smbclient's command line would split at ';').
    const put = await impacket({ host: HOST, user: EVE.name, password: EVE.password, share: 'printer', ops: [{ op: 'putFile', local, remote: docName }] });
    assert.equal(put.error, null, JSON.stringify(put));
    assert.ok(put.results[0]?.ok, JSON.stringify(put));
    const [file, user, name] = await newRun();
    assert.equal(user, EVE.name);
    assert.equal(name, docName);
    assert.equal(await readFile(file!, 'utf8'), 'quarterly numbers\n');
    // smbclient too, with the user's name in its credentials file and spaces in the document name.
    await writeFile(join(work, 'a $(touch PWNED-space).txt'), 'x');
    const r = await smbclient('printer', EVE.name, 'print "a $(touch PWNED-space).txt"');
    assert.equal(r.code, 0, show(r));
    const [, user2, name2] = await newRun();
    assert.deepEqual([user2, name2], [EVE.name, 'a $(touch PWNED-space).txt']);
    for (const dir of [spool, work, records, process.cwd()]) {
      const pwned = (await readdir(dir)).filter((f) => f.startsWith('PWNED'));
      assert.deepEqual(pwned, [], `nothing was run by a shell in ${dir}`);
    }
  });

  it('the client chooses neither where a job lands nor what it replaces', async () => {
    const local = join(work, 'evil.txt');
    await writeFile(local, 'evil');
    const before = await jobs(spool);
    const names = ['..\\..\\escaped.txt', before[0]!, before[0]!];
    const res = await impacket({ host: HOST, user: ALICE.name, password: ALICE.password, share: 'printer', ops: names.map((remote) => ({ op: 'putFile' as const, local, remote })) });
    assert.ok(res.results.every((x) => x.ok), JSON.stringify(res));
    assert.deepEqual((await newRuns(3)).map((argv) => argv[2]).sort(), [...names].sort());
    const after = await jobs(spool);
    assert.equal(after.length, before.length + 3, 'three new jobs');
    for (const f of before) assert.notEqual(await readFile(join(spool, f), 'utf8').catch(() => ''), 'evil', `${f} was not overwritten`);
    assert.equal(existsSync(join(work, 'escaped.txt')), false);
    assert.equal(existsSync(join(spool, '..', '..', 'escaped.txt')), false);
  });

  it('jobs cannot be read back and the queue cannot be listed', async () => {
    const listing = await impacket({ host: HOST, user: ALICE.name, password: ALICE.password, share: 'printer', ops: [{ op: 'listPath', path: '*' }] });
    assert.equal(listing.results[0]?.status, 'STATUS_NOT_SUPPORTED', JSON.stringify(listing));
    const got = await impacket({ host: HOST, user: ALICE.name, password: ALICE.password, share: 'printer', ops: [{ op: 'getFile', remote: 'letter.txt', local: join(work, 'back.txt') }] });
    assert.equal(got.results[0]?.ok, false, JSON.stringify(got));
    assert.equal(got.results[0]?.status, 'STATUS_ACCESS_DENIED');
  });

  it('access as for disk shares: the user list, guests only on a guest printer', async () => {
    const local = join(work, 'g.txt');
    await writeFile(local, 'guest page');
    const bob = await smbclient('printer', BOB.name, 'print g.txt');
    assert.match(bob.stdout + bob.stderr, /NT_STATUS_ACCESS_DENIED/, show(bob));
    const guestDenied = await smbclient('printer', 'guest', 'print g.txt');
    assert.match(guestDenied.stdout + guestDenied.stderr, /NT_STATUS_ACCESS_DENIED/, show(guestDenied));
    const guest = await smbclient('guestprinter', 'guest', 'print g.txt');
    assert.equal(guest.code, 0, show(guest));
    const [user, file] = await newRun();
    assert.equal(user, 'guest');
    assert.equal(await readFile(file!, 'utf8'), 'guest page');
    assert.deepEqual((await jobs(guestSpool)).length, 1);
  });

  it('a print command that cannot run is logged; the server keeps printing', async () => {
    await writeFile(join(work, 'b.txt'), 'to a broken printer');
    const r = await smbclient('broken', ALICE.name, 'print b.txt');
    assert.equal(r.code, 0, show(r));
    const deadline = Date.now() + 10_000;
    while (!/print command failed/.test(await server.logs()) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
    assert.match(await server.logs(), /print command failed.*ENOENT/);
    assert.equal((await jobs(join(work, 'broken-spool'))).length, 1, 'the job itself was kept');
    const again = await smbclient('printer', ALICE.name, 'print b.txt');
    assert.equal(again.code, 0, show(again));
    assert.equal((await newRun())[2], 'b.txt');
  });

  it('printer shares are listed with type Printer: smbclient -L, rpcclient, impacket, smbkit client', async () => {
    const l = await run('/usr/bin/smbclient', ['-L', `//${HOST}`, '--configfile=/dev/null', '-A', auths.get(ALICE.name)!.path], { timeoutMs: 30_000 });
    assert.equal(l.code, 0, show(l));
    assert.match(l.stdout, /^\tprinter\s+Printer\s+Office printer$/m, show(l));
    assert.match(l.stdout, /^\tguestprinter\s+Printer/m, show(l));
    assert.match(l.stdout, /^\tdata\s+Disk/m, show(l));
    const rpc = await run('/usr/bin/rpcclient', [HOST, '--configfile=/dev/null', '-A', auths.get(ALICE.name)!.path, '-c', 'netshareenumall 502'], { timeoutMs: 30_000 });
    assert.match(rpc.stdout, /netname: printer\n(?:\t.*\n)*?\ttype:\t0x1\n/, show(rpc));
    const imp = await impacket({ host: HOST, user: ALICE.name, password: ALICE.password, ops: [{ op: 'listShares' }] });
    assert.ok((imp.results[0]?.value as string[]).includes('printer'), JSON.stringify(imp));
    const client = await connect({ host: HOST, user: ALICE.name, password: ALICE.password });
    try {
      const shares = await client.listShares();
      assert.deepEqual(shares.find((s) => s.name === 'printer'), { name: 'printer', type: 'printer', special: false, comment: 'Office printer' });
    } finally {
      await client.close();
    }
  });

  it('no partial job is left behind and the server logged no errors', async () => {
    assert.deepEqual((await readdir(spool)).filter((f) => f.startsWith('.')), []);
    const logs = await server.logs();
    assert.doesNotMatch(logs, /\bERROR\b/, logs.slice(-4000));
  });
});
