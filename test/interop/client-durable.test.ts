/**
 * Durable handles and reconnect in smbkit's client against Samba (127.0.0.110): durable opens on 3.1.1 (DH2Q +
 * lease v2), 2.1 (DHnQ + lease v1) and 2.0.2 (DHnQ + batch oplock) survive a dropped TCP connection, with their
 * byte-range locks; non-durable handles fail with EBADF after it; lease and oplock breaks are acknowledged.
 * A TCP relay on 127.0.0.111 plays a server that goes away. Samba keeps durable handles only with kernel oplocks, kernel share modes and POSIX locking off.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, connect as tcpConnect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { connect, type Client, type DialectName, type FileHandle } from '../../src/index.js';
import { LeaseState } from '../../src/protocol/smb2/contexts/create-contexts.js';
import { OplockLevel } from '../../src/protocol/smb2/constants.js';
import { startSamba, type SambaServer } from './harness/samba.js';

const HOST = '127.0.0.110';
const USER = 'durable_user';
const PASSWORD = 'Dur4ble pass!';
const DROP = Symbol.for('smbkit.dropConnection');

const RELAY = '127.0.0.111';
const RELAY_PORT = 4450;

/** A TCP relay to the server that the test can take away (closing every connection) and bring back. */
function tcpRelay(host: string, port: number, toHost: string, toPort: number): { start(): Promise<void>; stop(): Promise<void> } {
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  return {
    start: () =>
      new Promise((resolve, reject) => {
        server = createServer((down) => {
          const up = tcpConnect(toPort, toHost);
          for (const s of [down, up]) {
            sockets.add(s);
            s.on('error', () => undefined);
            s.on('close', () => {
              sockets.delete(s);
              down.destroy();
              up.destroy();
            });
          }
          down.pipe(up);
          up.pipe(down);
        });
        server.once('error', reject);
        server.listen(port, host, () => resolve());
      }),
    stop: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        if (!server?.listening) {
          resolve();
          return;
        }
        server.close(() => resolve());
      }),
  };
}

function drop(c: Client): void {
  (c as unknown as Record<symbol, () => void>)[DROP]!();
}

async function rejectsWithCode(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.equal((e as { code?: string }).code, code, String(e));
    return true;
  });
}

async function readAll(h: FileHandle, size: number): Promise<Buffer> {
  const buf = Buffer.alloc(size);
  const { bytesRead } = await h.read(buf, 0, size, 0);
  return buf.subarray(0, bytesRead);
}

describe('client durable handles and reconnect against Samba', { timeout: 300_000 }, () => {
  let samba: SambaServer;
  let dataDir: string;
  const clients: Client[] = [];

  before(async () => {
    samba = await startSamba({
      address: HOST,
      ports: [445],
      users: [{ name: USER, password: PASSWORD }],
      shares: [
        {
          name: 'data',
          extra: { 'durable handles': 'yes', 'kernel oplocks': 'no', 'kernel share modes': 'no', 'posix locking': 'no' },
        },
      ],
      global: { 'server min protocol': 'SMB2_02', 'smb2 leases': 'yes' },
    });
    dataDir = samba.sharePaths.get('data')!;
  });
  after(async () => {
    await Promise.allSettled(clients.map((c) => c.close()));
    await samba?.stop();
  });

  const open = async (d: DialectName, reconnect: boolean, o: { encrypt?: boolean; host?: string; port?: number; attempts?: number } = {}): Promise<Client> => {
    const c = await connect(
      { host: o.host ?? HOST, port: o.port ?? 445, share: 'data', user: USER, password: PASSWORD, signing: 'required', timeoutMs: 20_000 },
      {
        minDialect: d,
        maxDialect: d,
        ...(reconnect ? { reconnect: { attempts: o.attempts ?? 20, delayMs: 250 } } : {}),
        ...(o.encrypt ? { encryption: 'required' as const } : {}),
      },
    );
    clients.push(c);
    return c;
  };

  const cases: { d: DialectName; encrypt?: boolean }[] = [{ d: '3.1.1' }, { d: '3.1.1', encrypt: true }, { d: '3.0' }, { d: '2.1' }, { d: '2.0.2' }];
  for (const { d, encrypt } of cases) {
    const label = `${d}${encrypt ? ' encrypted' : ''}`;
    test(`${label}: a durable handle and its lock survive a dropped connection; a plain handle does not`, async () => {
      const c = await open(d, true, { encrypt: encrypt === true });
      assert.equal(c.info.encryption, encrypt === true);
      const name = `durable-${label.replace(' ', '-')}.bin`;
      const h = await c.share().open(name, 'w+', { durable: true });
      assert.equal(h.durable, 'durable');
      if (d === '2.0.2') {
        assert.equal(h.oplockLevel, OplockLevel.BATCH);
        assert.equal(h.leaseState, undefined);
      } else {
        assert.equal(h.oplockLevel, OplockLevel.LEASE);
        assert.ok(((h.leaseState ?? 0) & LeaseState.HANDLE_CACHING) !== 0, `lease state ${h.leaseState}`);
      }
      const first = randomBytes(100_000);
      await h.write(first, 0, first.length, 0);
      await h.lock(0, 10);
      await c.share().writeFile(`plain-${label}.txt`, 'plain');
      const plain = await c.share().open(`plain-${label}.txt`, 'r');

      // A read in flight when the connection drops is sent again after the reconnect.
      const inFlight = readAll(h, first.length);
      drop(c);
      assert.ok((await inFlight).equals(first));

      const more = randomBytes(5000);
      await h.write(more, 0, more.length, first.length);
      const whole = Buffer.concat([first, more]);
      assert.ok((await readAll(h, whole.length)).equals(whole));
      assert.equal(h.durable, 'durable');
      assert.equal(c.info.encryption, encrypt === true);
      await rejectsWithCode(plain.read(Buffer.alloc(5), 0, 5, 0), 'EBADF');
      await plain.close();

      // The lock taken before the drop still excludes another client, and is released through the same handle.
      const other = await open(d, false, { encrypt: encrypt === true });
      const o = await other.share().open(name, 'r+');
      await rejectsWithCode(o.lock(0, 10), 'EAGAIN');
      await h.unlock(0, 10);
      await o.lock(0, 10);
      await o.unlock(0, 10);
      await o.close();
      await h.close();
      assert.ok((await readFile(join(dataDir, name))).equals(whole));
    });
  }

  test('3.1.1: explicit reconnect() keeps a durable handle; a second reconnect too', async () => {
    const c = await open('3.1.1', true);
    const h = await c.share().open('explicit.txt', 'w+', { durable: true });
    await h.write(Buffer.from('one'), 0, 3, 0);
    const session = c.info.sessionId;
    await c.reconnect();
    assert.notEqual(c.info.sessionId, session);
    await h.write(Buffer.from('two'), 0, 3, 3);
    await c.reconnect();
    assert.equal((await readAll(h, 10)).toString(), 'onetwo');
    await h.close();
  });

  test('3.1.1: persistent falls back to durable on a share without continuous availability', async () => {
    const c = await open('3.1.1', false);
    const h = await c.share().open('persistent.txt', { flags: 'w+', persistent: true });
    assert.equal(h.durable, 'durable');
    await h.close();
  });

  test('without reconnect, a dropped connection fails the calls', async () => {
    const c = await open('3.1.1', false);
    const h = await c.share().open('noreconnect.txt', 'w+', { durable: true });
    drop(c);
    await rejectsWithCode(h.write(Buffer.from('x'), 0, 1, 0), 'ECONNRESET');
  });

  test('3.1.1: a lease break is acknowledged: another client opens for write, the first handle keeps working', async () => {
    const c = await open('3.1.1', true);
    const h = await c.share().open('leased.txt', 'w+', { durable: true });
    assert.equal(h.leaseState, LeaseState.READ_CACHING | LeaseState.WRITE_CACHING | LeaseState.HANDLE_CACHING);
    await h.write(Buffer.from('first'), 0, 5, 0);
    const other = await open('3.1.1', false);
    // Samba holds this open until the first client acknowledges the break (or 35 s pass, past this timeout).
    const o = await other.share().open('leased.txt', 'r+');
    assert.equal(h.leaseState, LeaseState.READ_CACHING | LeaseState.HANDLE_CACHING);
    await o.write(Buffer.from('-other'), 0, 6, 5);
    await h.write(Buffer.from('!'), 0, 1, 11);
    assert.equal((await readAll(h, 20)).toString(), 'first-other!');
    await o.close();
    await h.close();
  });

  test('2.0.2: a batch oplock break is acknowledged', async () => {
    const c = await open('2.0.2', true);
    const h = await c.share().open('batch.txt', 'w+', { durable: true });
    assert.equal(h.oplockLevel, OplockLevel.BATCH);
    const other = await open('2.0.2', false);
    const o = await other.share().open('batch.txt', 'r+');
    assert.notEqual(h.oplockLevel, OplockLevel.BATCH);
    await h.write(Buffer.from('ok'), 0, 2, 0);
    assert.equal((await readAll(o, 2)).toString(), 'ok');
    await o.close();
    await h.close();
  });

  test('3.1.1 through a relay that goes away: calls wait for the reconnect, fail once it gives up; reconnect() recovers', async () => {
    const relay = tcpRelay(RELAY, RELAY_PORT, HOST, 445);
    await relay.start();
    try {
      const c = await open('3.1.1', true, { host: RELAY, port: RELAY_PORT, attempts: 8 });
      const h = await c.share().open('relayed.txt', 'w+', { durable: true });
      await h.write(Buffer.from('abc'), 0, 3, 0);
      // Away for a moment (as a restarting server): a write issued meanwhile waits and completes once it is back.
      await relay.stop();
      const during = h.write(Buffer.from('def'), 0, 3, 3);
      await new Promise((r) => setTimeout(r, 600));
      await relay.start();
      await during;
      assert.equal((await readAll(h, 10)).toString(), 'abcdef');
      // Away for longer than the 8 attempts: the waiting call fails with the reconnect's error, later calls too.
      await relay.stop();
      const giveUp = (e: unknown): boolean => (e as Error).name === 'TransportError' && /could not reconnect/.test((e as Error).message);
      await assert.rejects(h.write(Buffer.from('x'), 0, 1, 0), giveUp);
      await assert.rejects(c.share().stat('relayed.txt'), giveUp);
      await relay.start();
      await c.reconnect();
      assert.equal((await readAll(h, 10)).toString(), 'abcdef');
      await h.close();
    } finally {
      await relay.stop();
    }
  });
});
