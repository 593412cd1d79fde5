import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Status } from '../../../src/protocol/nt-status.js';
import { startTestServer } from '../../support/raw-client.js';

// Known bug (reported): SmbServer.close() awaits net.Server.close(), which waits for every accepted socket to end,
// before it closes the connections itself; so it hangs while a client stays connected.
test('server.close() resolves and disconnects clients that are still connected', async () => {
  const srv = await startTestServer();
  const c = await srv.login();
  assert.equal((await c.echo()).status, Status.SUCCESS);
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    srv.server.close().then(() => 'closed' as const),
    new Promise<'hung'>((resolve) => {
      timer = setTimeout(() => resolve('hung'), 3_000);
    }),
  ]);
  clearTimeout(timer);
  if (outcome === 'hung') c.destroy(); // lets the pending close finish
  assert.equal(outcome, 'closed', 'SmbServer.close() waited for the client to disconnect on its own');
  assert.equal(await c.waitClosed(), true);
});
