/**
 * Persistent handles across a restart of `smbkit serve` (issue #8): a client holds a persistent handle with a lease
 * and a byte-range lock on a continuously available share; the server is stopped (SIGTERM, then SIGKILL as a crash)
 * and started again from the same config; meanwhile a second client cannot take the locked range; the first client
 * reconnects (DH2C), keeps its handle, its data and its lock, and the journal forgets the open once it is closed.
 * Also: smbtorture's durable-v2-open suite against the CA share (persistent-open-* take the CA tables).
 * Server on 127.0.0.33 (smbkit's real CLI with a TOML file, the harness restarts the process).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect, type Client } from '../../src/index.js';
import { LeaseState } from '../../src/protocol/smb2/contexts/create-contexts.js';
import { startSmbkit, type SmbkitServer } from './harness/smbkit.js';
import { childPids, killWorker, servingPids } from './harness/proc.js';
import { runTorture } from './harness/smbtorture.js';

const HOST = '127.0.0.33';
const USER = 'persist_user';
const PASSWORD = 'Pers1st pass!';

/** A server with one continuously available share `ca` (more [server] keys in `extra`). */
function startCa(address: string, extra: Record<string, string | number | boolean> = {}): Promise<SmbkitServer> {
  return startSmbkit({
    address,
    users: [{ name: USER, password: PASSWORD }],
    shares: [{ name: 'ca', continuousAvailability: true }],
    // A break that the disconnected holder cannot acknowledge times out after 2 s instead of 35.
    server: { oplock_break_timeout: 2, signing: 'enabled', ...extra },
  });
}

const caClient = (host: string): Promise<Client> => connect({ host, user: USER, password: PASSWORD, share: 'ca', timeoutMs: 20_000 });

async function journalled(server: SmbkitServer): Promise<string[]> {
  return (await readdir(join(server.dir, 'state'))).filter((f) => f.startsWith('open-'));
}

describe('persistent handles survive a restart of smbkit serve', { timeout: 180_000 }, () => {
  let server: SmbkitServer;

  before(async () => {
    server = await startCa(HOST);
  });
  after(async () => {
    await server?.stop();
  });

  const client = (): Promise<Client> => caClient(HOST);

  for (const crash of [false, true]) {
    test(`${crash ? 'SIGKILL (crash)' : 'SIGTERM (graceful stop)'}: handle, data, lease and lock come back; the range stays locked meanwhile`, async () => {
      const name = `held-${crash ? 'crash' : 'stop'}.bin`;
      const data = randomBytes(64 * 1024);
      const a = await client();
      let b: Client | undefined;
      try {
        const fa = await a.share().open(name, { flags: 'w+', persistent: true });
        assert.equal(fa.durable, 'persistent');
        assert.equal(fa.leaseState, LeaseState.READ_CACHING | LeaseState.HANDLE_CACHING | LeaseState.WRITE_CACHING);
        await fa.writeAt(data, 0);
        await fa.lock(0, 4096, { exclusive: true });
        assert.equal((await journalled(server)).length, 1, 'the open is in the journal');
        const before = JSON.parse(await readFile(join(server.dir, 'state', (await journalled(server))[0]!), 'utf8'));
        assert.deepEqual(before.locks, [{ offset: '0', length: '4096', exclusive: true }]);

        await server.restart({ crash });
        assert.match(await server.logs(), /persistent handles recovered/);

        // Client A has not come back yet: B opens the file (A's lease break cannot be heard and times out) but
        // cannot lock A's range; a range outside it is free.
        b = await client();
        const fb = await b.share().open(name, 'r+');
        await assert.rejects(fb.lock(0, 100, { exclusive: true }), (e: NodeJS.ErrnoException) => e.code === 'EAGAIN');
        await assert.rejects(fb.lock(4000, 200), (e: NodeJS.ErrnoException) => e.code === 'EAGAIN');
        await fb.lock(8192, 100);
        await fb.unlock(8192, 100);

        // A reconnects (new connection, same ClientGuid, DH2C) and finds everything where it was.
        await a.reconnect();
        assert.equal(fa.durable, 'persistent');
        const back = Buffer.alloc(data.length);
        assert.equal(await fa.readInto(back, 0, back.length, 0), data.length);
        assert.ok(back.equals(data), 'the data written before the restart reads back');
        await assert.rejects(fb.lock(0, 100, { exclusive: true }), (e: NodeJS.ErrnoException) => e.code === 'EAGAIN');
        await fa.unlock(0, 4096);
        await fb.lock(0, 100, { exclusive: true });
        await fb.unlock(0, 100);
        await fa.writeAt(Buffer.from('after'), 0);
        await fb.close();
        await fa.close();
        assert.deepEqual(await journalled(server), [], 'a closed persistent open leaves no record');
      } finally {
        await b?.close().catch(() => {});
        await a.close().catch(() => {});
      }
    });
  }

  test('a persistent open nobody reclaims is closed after its timeout, locks and all', async () => {
    const a = await client();
    const fa = await a.share().open('orphan.bin', { flags: 'w+', persistent: true });
    await fa.lock(0, 10, { exclusive: true });
    await server.restart();
    // Without a reconnect the open stays for its timeout (60 s by default): its lock holds.
    const b = await client();
    try {
      const fb = await b.share().open('orphan.bin', 'r+');
      await assert.rejects(fb.lock(0, 10, { exclusive: true }), (e: NodeJS.ErrnoException) => e.code === 'EAGAIN');
      await fb.close();
    } finally {
      await b.close();
      await a.close().catch(() => {});
    }
  });

  test('smbtorture smb2.durable-v2-open on the CA share: persistent opens granted whatever the caching', async () => {
    const r = await runTorture({ host: HOST, share: 'ca', user: USER, password: PASSWORD, suite: 'smb2.durable-v2-open', timeoutMs: 120_000 });
    const failed = r.subtests.filter((x) => x.status !== 'success').map((x) => x.name);
    for (const t of ['persistent-open-oplock', 'persistent-open-lease', 'reopen2', 'reopen2-lease-v2', 'open-lease']) {
      assert.ok(r.passed.includes(t), `${t} passes (failed: ${failed.join(', ')})`);
    }
  });
});

/**
 * With two workers (`workers = 2`, server on 127.0.0.34): a worker killed with SIGKILL takes its connections with
 * it, but its persistent opens come back on the worker that replaces it (they are journalled), and their client
 * reclaims them there while the other worker's client still finds the range locked.
 */
describe('a persistent open outlives its worker', { timeout: 120_000 }, () => {
  const host = '127.0.0.34';
  let server: SmbkitServer;
  before(async () => {
    server = await startCa(host, { workers: 2 });
  });
  after(async () => {
    await server?.stop();
  });
  const client = (): Promise<Client> => caClient(host);

  test('SIGKILL of the worker that holds it: the open, its data and its lock come back on the worker that replaces it', async () => {
    const data = randomBytes(32 * 1024);
    const a = await client();
    let b: Client | undefined;
    try {
      const fa = await a.share().open('worker-held.bin', { flags: 'w+', persistent: true });
      assert.equal(fa.durable, 'persistent');
      await fa.writeAt(data, 0);
      await fa.lock(0, 4096, { exclusive: true });
      // a's one connection is served by one of the two workers.
      const workers = childPids(server.pid);
      const victim = [...(await servingPids(host, 445)).values()].find((pid) => workers.includes(pid));
      assert.ok(victim !== undefined, `a worker serves a (workers ${workers.join(', ')})`);
      // The primary starts another worker in its place.
      assert.ok(await killWorker(server.pid, victim, 2), `the killed worker is replaced\n${await server.logs()}`);

      b = await client();
      const fb = await b.share().open('worker-held.bin', 'r+');
      await assert.rejects(fb.lock(0, 100, { exclusive: true }), (e: NodeJS.ErrnoException) => e.code === 'EAGAIN');

      await a.reconnect();
      assert.equal(fa.durable, 'persistent');
      const back = Buffer.alloc(data.length);
      assert.equal(await fa.readInto(back, 0, back.length, 0), data.length);
      assert.ok(back.equals(data), 'the data written before the kill reads back');
      await fa.unlock(0, 4096);
      await fb.lock(0, 100, { exclusive: true });
      await fb.unlock(0, 100);
      await fb.close();
      await fa.close();
      assert.deepEqual(await journalled(server), [], 'a closed persistent open leaves no record');
    } finally {
      await b?.close().catch(() => {});
      await a.close().catch(() => {});
    }
  });
});
