/**
 * The fuzz property test (server-fuzz.test.ts) against a server of two worker processes (`workers = 2`). A holder
 * keeps a file and a folder open on one worker, so that the logged-on cases, which arrive mostly on the other, open
 * them there and their mutated requests run through the link between the workers. No worker may die or log an
 * error, every connection gets answers or is closed, and afterwards clients of both workers still work.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { Status } from '../../src/protocol/nt-status.js';
import { CreateDisposition, CreateOptions } from '../../src/protocol/smb2/constants.js';
import { caseArb, runCase } from '../support/fuzz-cases.js';
import { RawClient } from '../support/raw-client.js';
import { startSmbkit } from '../interop/harness/smbkit.js';
import { childPids } from '../interop/harness/proc.js';

const ADDRESS = '127.0.0.137';
const LOGIN = { user: 'fz', password: 'Fuzz w0rkers!', share: 'data' };

async function client(): Promise<RawClient> {
  const c = await RawClient.connect(ADDRESS, 445);
  await c.login(LOGIN.user, LOGIN.password, LOGIN.share);
  return c;
}

test('two workers survive random and mutated messages, also across the link, and keep serving', async (t) => {
  const server = await startSmbkit({
    address: ADDRESS,
    users: [{ name: LOGIN.user, password: LOGIN.password }],
    shares: [{ name: LOGIN.share }],
    server: { workers: 2, log_level: 'warn' },
  });
  try {
    const workers = childPids(server.pid).sort();
    assert.equal(workers.length, 2);
    const holder = await client();
    const f = await holder.create('f.txt', { createDisposition: CreateDisposition.OVERWRITE_IF });
    assert.equal(f.status, Status.SUCCESS);
    await holder.write(f.fileId, 0, Buffer.from('some data in f'));
    const d = await holder.create('d', { createDisposition: CreateDisposition.OPEN_IF, createOptions: CreateOptions.DIRECTORY_FILE });
    assert.equal(d.status, Status.SUCCESS);

    const outcomes = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(caseArb, async (k) => {
        const c = await RawClient.connect(ADDRESS, 445);
        try {
          const outcome = await runCase(c, k, LOGIN);
          const key = `${k.kind}:${outcome}`;
          outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
          assert.notEqual(outcome, 'hung', 'the connection neither answered nor closed');
        } finally {
          c.destroy();
        }
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 1000), interruptAfterTimeLimit: 45_000 },
    );
    t.diagnostic(`outcomes ${JSON.stringify(Object.fromEntries(outcomes))}`);

    assert.deepEqual(childPids(server.pid).sort(), workers, 'no worker died');
    const errors = (await server.logs()).split('\n').filter((l) => / ERROR /.test(l));
    assert.deepEqual(errors, [], 'no worker logged an error');
    // The holder's worker and the other one still serve.
    assert.equal((await holder.echo()).status, Status.SUCCESS);
    const a = await client();
    const b = await client();
    try {
      for (const [i, c] of [a, b].entries()) {
        const h = await c.create(`after-${i}.bin`, { createDisposition: CreateDisposition.OVERWRITE_IF });
        assert.equal(h.status, Status.SUCCESS);
        const data = randomBytes(100_000);
        assert.equal((await c.write(h.fileId, 0, data)).count, data.length);
        assert.ok((await c.read(h.fileId, 0, data.length)).data.equals(data));
        assert.equal((await c.close(h.fileId)).status, Status.SUCCESS);
      }
      const again = await a.create('f.txt', { createDisposition: CreateDisposition.OPEN });
      if (again.status === Status.SUCCESS) await a.close(again.fileId);
      else assert.equal(again.status, Status.DELETE_PENDING, 'f.txt opens unless a case set it to be deleted');
    } finally {
      a.destroy();
      b.destroy();
      holder.destroy();
    }
  } finally {
    await server.stop();
  }
});
