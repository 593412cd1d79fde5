/**
 * Named pipes registered from Node (`server.pipes.register`) with real clients: impacket (openFile / writeFile /
 * readFile / transactNamedPipe on IPC$) and smbkit's own client (`client.openPipe`), against an in-process
 * SmbServer on 127.0.0.60. The handlers record who they saw, so the identity checks are the server's own view.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { connect, type Client } from '../../src/client/client.js';
import type { SmbError } from '../../src/errors.js';
import { parseConfig } from '../../src/config/schema.js';
import { serverConfigFrom } from '../../src/config/server-config.js';
import type { PipeConnection, PipeUser } from '../../src/server/ipc/pipe-connection.js';
import { SmbServer } from '../../src/server/server.js';
import { createLogger } from '../../src/util/log.js';
import { impacket, type ImpacketPipeStep, type ImpacketResult } from './harness/impacket.js';

const HOST = '127.0.0.60';
const ALICE = { name: 'alice', password: 'Alice pipe 1!' };
const BOB = { name: 'bob', password: 'Bob pipe 2!' };
const haveImpacket = existsSync('/usr/bin/python3');

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
const unb64 = (s: unknown) => Buffer.from(String(s), 'base64').toString();

function pipeSteps(res: ImpacketResult): ImpacketPipeStep[] {
  assert.equal(res.error, null, JSON.stringify(res));
  const r = res.results[0];
  assert.ok(r?.ok, `pipe op failed: ${JSON.stringify(res)}`);
  return r.value as ImpacketPipeStep[];
}

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('named pipes registered from Node', () => {
  let server: SmbServer;
  const logs: string[] = [];
  /** Every connection the handlers saw, by pipe. */
  const seen: { pipe: string; user: PipeUser }[] = [];
  const closed: string[] = [];

  before(async () => {
    const config = serverConfigFrom(
      parseConfig({
        server: { listen: [`${HOST}:445`], log_level: 'info', anonymous: true },
        user: [ALICE, BOB],
        share: [{ name: 'data', type: 'memory' }],
      }),
    );
    server = new SmbServer({ ...config, logger: createLogger('info', { write: (s: string) => logs.push(s) }) });
    const track = (conn: PipeConnection) => {
      seen.push({ pipe: conn.pipe, user: conn.user });
      conn.on('close', () => closed.push(`${conn.pipe}:${conn.user.name}`));
    };
    // Request/response: each message is answered with who sent it.
    server.pipes.register('echo', (conn) => {
      track(conn);
      conn.on('message', (m) => conn.send(`${conn.user.domain}\\${conn.user.name}: ${m.toString()}`));
    });
    // Async iteration, answering a big message to force BUFFER_OVERFLOW reads.
    server.pipes.register('Big', async (conn) => {
      track(conn);
      for await (const m of conn) conn.send(Buffer.alloc(Number(m.toString()), 0x61));
    });
    // Only alice.
    server.pipes.register('alice-only', (conn) => {
      track(conn);
      conn.on('message', () => conn.send('hello alice'));
    }, { users: ['ALICE'] });
    // Server-initiated messages while the pipe is open, then the server closes its end.
    server.pipes.register('ticker', (conn) => {
      track(conn);
      let n = 0;
      const t = setInterval(() => {
        conn.send(`tick ${++n}`);
        if (n === 3) {
          clearInterval(t);
          conn.close();
        }
      }, 20);
      conn.on('close', () => clearInterval(t));
    });
    // A handler that fails on its first message (an async listener rejecting).
    server.pipes.register('faulty', (conn) => {
      track(conn);
      conn.on('message', async (m) => {
        if (m.toString() === 'boom') throw new Error('handler exploded');
        conn.send('fine');
      });
    });
    server.pipes.register('public', (conn) => {
      track(conn);
      conn.on('message', () => conn.send(conn.user.anonymous ? 'anonymous' : conn.user.name));
    }, { allowAnonymous: true });
    await server.listen();
  });

  after(async () => {
    await server?.close();
  });

  describe('through impacket', { skip: !haveImpacket && 'python3 missing' }, () => {
    it('write + read and transact on a registered pipe; the handler sees the user', async () => {
      const res = await impacket({
        host: HOST,
        user: ALICE.name,
        password: ALICE.password,
        domain: 'LAB',
        ops: [{ op: 'pipe', name: 'echo', steps: [{ write: b64('ping') }, { read: 4096 }, { transact: b64('second') }] }],
      });
      const steps = pipeSteps(res);
      assert.deepEqual(steps.map((s) => s.ok), [true, true, true], JSON.stringify(steps));
      assert.equal(steps[0]!.value, 4);
      assert.equal(unb64(steps[1]!.value), 'LAB\\alice: ping');
      assert.equal(unb64(steps[2]!.value), 'LAB\\alice: second');
      const who = seen.filter((s) => s.pipe === 'echo').at(-1)!.user;
      assert.equal(who.name, 'alice');
      assert.equal(who.domain, 'LAB');
      assert.equal(who.guest, false);
      assert.equal(who.anonymous, false);
      assert.match(who.address, /^127\./);
      await until(() => closed.includes('echo:alice'), 'the close event of echo');
    });

    it('a pipe restricted to alice: bob is refused with ACCESS_DENIED, alice gets in', async () => {
      const denied = await impacket({ host: HOST, user: BOB.name, password: BOB.password, ops: [{ op: 'pipe', name: 'alice-only', steps: [] }] });
      assert.equal(denied.results[0]?.ok, false, JSON.stringify(denied));
      assert.equal(denied.results[0]?.status, 'STATUS_ACCESS_DENIED');
      const ok = await impacket({ host: HOST, user: ALICE.name, password: ALICE.password, ops: [{ op: 'pipe', name: 'ALICE-ONLY', steps: [{ transact: b64('hi') }] }] });
      assert.equal(unb64(pipeSteps(ok)[0]!.value), 'hello alice');
    });

    it('an unknown pipe is OBJECT_NAME_NOT_FOUND; anonymous only where allowed', async () => {
      const missing = await impacket({ host: HOST, user: BOB.name, password: BOB.password, ops: [{ op: 'pipe', name: 'nosuchpipe', steps: [] }] });
      assert.equal(missing.results[0]?.status, 'STATUS_OBJECT_NAME_NOT_FOUND', JSON.stringify(missing));
      const anonDenied = await impacket({ host: HOST, anonymous: true, ops: [{ op: 'pipe', name: 'echo', steps: [] }] });
      assert.equal(anonDenied.results[0]?.status, 'STATUS_ACCESS_DENIED', JSON.stringify(anonDenied));
      const anon = await impacket({ host: HOST, anonymous: true, ops: [{ op: 'pipe', name: 'public', steps: [{ transact: b64('who') }] }] });
      assert.equal(unb64(pipeSteps(anon)[0]!.value), 'anonymous');
    });

    it('server-initiated messages: impacket reads the ticks, then the pipe is broken', async () => {
      const res = await impacket({ host: HOST, user: BOB.name, password: BOB.password, ops: [{ op: 'pipe', name: 'ticker', steps: [{ read: 100 }, { read: 100 }, { read: 100 }, { read: 100 }] }] });
      const steps = pipeSteps(res);
      assert.deepEqual(steps.slice(0, 3).map((s) => unb64(s.value)), ['tick 1', 'tick 2', 'tick 3'], JSON.stringify(steps));
      assert.equal(steps[3]!.ok, false);
      assert.equal(steps[3]!.status, 'STATUS_PIPE_BROKEN');
    });
  });

  describe("through smbkit's client", () => {
    let alice: Client;
    let bob: Client;

    before(async () => {
      alice = await connect({ host: HOST, user: ALICE.name, password: ALICE.password });
      bob = await connect({ host: HOST, user: BOB.name, password: BOB.password, maxDialect: '3.0' });
    });

    after(async () => {
      await alice?.close();
      await bob?.close();
    });

    it('transact, write and read on a pipe opened with a different case', async () => {
      const pipe = await bob.openPipe('ECHO');
      assert.equal((await pipe.transact('one')).toString(), '\\bob: one');
      await pipe.write('two');
      assert.equal((await pipe.read()).toString(), '\\bob: two');
      await pipe.close();
      await until(() => closed.includes('echo:bob'), 'the close event of echo for bob');
      assert.equal(seen.filter((s) => s.pipe === 'echo').at(-1)!.user.name, 'bob');
    });

    it('messages bigger than one read come back whole (BUFFER_OVERFLOW on transact and read)', async () => {
      const pipe = await alice.openPipe('big');
      const viaTransact = await pipe.transact('300000');
      assert.equal(viaTransact.length, 300000);
      assert.ok(viaTransact.every((b) => b === 0x61));
      await pipe.write('150001');
      assert.equal((await pipe.read()).length, 150001);
      await pipe.close();
    });

    it('restricted pipe: bob gets EACCES, alice is served', async () => {
      await assert.rejects(bob.openPipe('alice-only'), (e: SmbError) => e.code === 'EACCES' && e.statusName === 'STATUS_ACCESS_DENIED');
      const pipe = await alice.openPipe('alice-only');
      assert.equal((await pipe.transact('x')).toString(), 'hello alice');
      await pipe.close();
      await assert.rejects(alice.openPipe('nosuchpipe'), (e: SmbError) => e.code === 'ENOENT');
    });

    it('server-initiated messages arrive through the async iterator, which ends when the server closes', async () => {
      const pipe = await alice.openPipe('ticker');
      const got: string[] = [];
      for await (const m of pipe) got.push(m.toString());
      assert.deepEqual(got, ['tick 1', 'tick 2', 'tick 3']);
      await assert.rejects(pipe.write('late'), (e: SmbError) => e.code === 'EPIPE');
      await pipe.close();
    });

    it('a failing handler closes only its connection; the server keeps serving', async () => {
      const pipe = await bob.openPipe('faulty');
      assert.equal((await pipe.transact('ok?')).toString(), 'fine');
      await pipe.write('boom');
      await assert.rejects(pipe.read({ timeoutMs: 10_000 }), (e: SmbError) => e.code === 'EPIPE');
      await pipe.close();
      const again = await bob.openPipe('faulty');
      assert.equal((await again.transact('still there?')).toString(), 'fine');
      await again.close();
      assert.ok(logs.some((l) => /pipe handler failed.*handler exploded/.test(l)), 'the failure was logged');
    });

    it('closing the client end ends a read that is waiting, and the handler sees the close', async () => {
      const pipe = await alice.openPipe('echo');
      const waiting = pipe.read();
      await new Promise((r) => setTimeout(r, 100));
      const before = closed.filter((c) => c === 'echo:alice').length;
      await pipe.close();
      await assert.rejects(waiting, (e: SmbError) => e.code === 'EPIPE');
      await until(() => closed.filter((c) => c === 'echo:alice').length === before + 1, 'the close event');
    });

    it('unregister closes open connections and later opens find no pipe', async () => {
      server.pipes.register('temp', (conn) => {
        conn.on('message', (m) => conn.send(m));
      });
      const pipe = await alice.openPipe('temp');
      assert.equal((await pipe.transact('abc')).toString(), 'abc');
      assert.equal(server.pipes.unregister('TEMP'), true);
      await assert.rejects(pipe.read({ timeoutMs: 10_000 }), (e: SmbError) => e.code === 'EPIPE');
      await pipe.close();
      await assert.rejects(alice.openPipe('temp'), (e: SmbError) => e.code === 'ENOENT');
      assert.equal(server.pipes.unregister('temp'), false);
    });
  });

  it('the server logged no errors but the one the faulty handler caused', () => {
    const errors = logs.filter((l) => / ERROR /.test(l) && !/handler exploded/.test(l));
    assert.deepEqual(errors, []);
  });
});
