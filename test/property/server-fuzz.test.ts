/**
 * Property test of the running server against hostile input: random byte streams, and valid messages with random
 * mutations, each on a fresh connection (some after a valid session setup). The server must never throw past its
 * request loop, every connection must get answers or be closed, and afterwards a normal client must still work.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { Status } from '../../src/protocol/nt-status.js';
import { CreateDisposition, CreateOptions } from '../../src/protocol/smb2/constants.js';
import type { Logger } from '../../src/util/log.js';
import { caseArb, runCase } from '../support/fuzz-cases.js';
import { startTestServer, TEST_PASSWORD, TEST_SHARE, TEST_USER } from '../support/raw-client.js';

// ---- the run ----

test('the server survives random and mutated messages and keeps serving', async (t) => {
  const outcomes = new Map<string, number>();
  const statuses = new Map<string, number>();
  const unexpected: string[] = [];
  const onUncaught = (err: unknown) => unexpected.push(`uncaught: ${(err as Error)?.stack ?? String(err)}`);
  const onRejection = (err: unknown) => unexpected.push(`unhandled rejection: ${(err as Error)?.stack ?? String(err)}`);
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onRejection);
  // Handler exceptions other than WireError are bugs: the connection logs them at error level and disconnects.
  const logger: Logger = {
    error: (msg, fields) => unexpected.push(`server error log: ${msg} ${JSON.stringify(fields, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}`),
    warn() {},
    info: (msg, fields) => {
      if (process.env.FUZZ_DEBUG && msg === 'connection closing') {
        const r = String(fields?.reason).replace(/[0-9]+/g, 'N');
        closeReasons.set(r, (closeReasons.get(r) ?? 0) + 1);
      }
    },
    debug() {},
  };
  const closeReasons = new Map<string, number>();
  const srv = await startTestServer({}, { logger, storeOptions: { sizeLimit: 64 << 20 } });
  try {
    // Something for the logged-in cases to point at.
    const seed = await srv.login();
    const f = await seed.create('f.txt');
    await seed.write(f.fileId, 0, Buffer.from('some data in f'));
    await seed.close(f.fileId);
    const d = await seed.create('d', { createOptions: CreateOptions.DIRECTORY_FILE });
    await seed.close(d.fileId);
    seed.destroy();

    await fc.assert(
      fc.asyncProperty(caseArb, async (k) => {
        const c = await srv.connect();
        try {
          const outcome = await runCase(c, k, { user: TEST_USER, password: TEST_PASSWORD, share: TEST_SHARE });
          const key = `${k.kind}:${outcome}`;
          outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
          for (const r of c.received) {
            const s = `${r.header.command}:0x${r.status.toString(16)}`;
            statuses.set(s, (statuses.get(s) ?? 0) + 1);
          }
          assert.notEqual(outcome, 'hung', 'the connection neither answered nor closed');
          assert.deepEqual(unexpected, []);
        } finally {
          c.destroy();
        }
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 500), interruptAfterTimeLimit: 45_000 },
    );

    t.diagnostic(`outcomes ${JSON.stringify(Object.fromEntries(outcomes))}`);
    if (process.env.FUZZ_DEBUG) t.diagnostic(`close reasons ${JSON.stringify(Object.fromEntries(closeReasons))}`);
    t.diagnostic(`command:status ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
    // A normal client still works.
    const c = await srv.login();
    const h = await c.create('after-fuzz.txt', { createDisposition: CreateDisposition.OVERWRITE_IF });
    assert.equal(h.status, Status.SUCCESS);
    const data = randomBytes(100_000);
    assert.equal((await c.write(h.fileId, 0, data)).count, data.length);
    const back = await c.read(h.fileId, 0, data.length);
    assert.equal(back.status, Status.SUCCESS);
    assert.ok(back.data.equals(data));
    assert.equal((await c.close(h.fileId)).status, Status.SUCCESS);
    assert.deepEqual(unexpected, []);
  } finally {
    await srv.stop();
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onRejection);
  }
});

