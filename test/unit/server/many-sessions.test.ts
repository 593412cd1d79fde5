/**
 * Real load from one address with the default limits: an office behind NAT, a terminal server or a VPN concentrator
 * is one address with a connection per user. Floods from one address are held back by its connection rate instead.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultAccessPolicy } from '../../../src/config/server-config.js';
import { openFileLimit } from '../../../src/server/access.js';
import { Status } from '../../../src/protocol/nt-status.js';
import { RawClient, startTestServer, TEST_PASSWORD, TEST_USER } from '../../support/raw-client.js';

const SESSIONS = 1000;
/** Clients connecting and logging on at once (the rest queue in the test, not in the server). */
const CONCURRENCY = 50;

test('1,000 logged-on sessions from one address are served with the default limits', async (t) => {
  // This process holds both ends of every connection.
  const limit = openFileLimit();
  if (limit !== undefined && limit < 2 * SESSIONS + 100) {
    t.skip(`the open-file limit (${limit}) is below ${2 * SESSIONS + 100}: raise it with ulimit -n`);
    return;
  }
  const srv = await startTestServer();
  const refused: string[] = [];
  srv.server.events.on('refused', (e: { reason: string }) => refused.push(e.reason));
  const clients: RawClient[] = [];
  try {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < SESSIONS) {
        next++;
        const c = await RawClient.connect('127.0.0.1', srv.port);
        clients.push(c);
        assert.equal((await c.negotiate()).status, Status.SUCCESS);
        assert.equal((await c.sessionSetup(TEST_USER, TEST_PASSWORD)).status, Status.SUCCESS);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    assert.deepEqual(refused, []);
    assert.equal(srv.server.connections.size, SESSIONS);
    assert.equal(srv.server.sessions.size, SESSIONS);
    // Every session is still usable.
    const echoes = await Promise.all(clients.map((c) => c.echo()));
    assert.equal(echoes.filter((r) => r.status === Status.SUCCESS).length, SESSIONS);
  } finally {
    for (const c of clients) c.destroy();
    await srv.stop();
  }
});

test('a burst of new connections past the per-address rate: the backlog waits its turn, the rest are refused', async () => {
  const srv = await startTestServer({
    access: { ...defaultAccessPolicy(), connectionRatePerClient: 1, connectionBurstPerClient: 4, connectionBacklogPerClient: 2 },
  });
  const refused: string[] = [];
  srv.server.events.on('refused', (e: { remote: string; reason: string }) => refused.push(e.reason));
  try {
    const clients = await Promise.all(Array.from({ length: 10 }, () => RawClient.connect('127.0.0.1', srv.port, '127.0.0.61')));
    const outcomes = await Promise.all(
      clients.map((c) => c.negotiate().then((r) => (r.status === Status.SUCCESS ? 'served' : 'failed'), () => 'refused')),
    );
    assert.equal(outcomes.filter((o) => o === 'served').length, 6, 'the burst (4) at once, the backlog (2) in turn');
    assert.equal(outcomes.filter((o) => o === 'refused').length, 4);
    assert.equal(refused.length, 4);
    assert.match(refused[0]!, /connection_rate_per_client/);
    // Another address is not held back by this one.
    const other = await RawClient.connect('127.0.0.1', srv.port, '127.0.0.62');
    assert.equal((await other.negotiate()).status, Status.SUCCESS);
    for (const c of [...clients, other]) c.destroy();
  } finally {
    await srv.stop();
  }
});
