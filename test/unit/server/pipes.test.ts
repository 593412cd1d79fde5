import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PipeEndpoint, type PipeCaller } from '../../../src/server/ipc/pipe.js';
import type { PipeConnection } from '../../../src/server/ipc/pipe-connection.js';
import { PipeRegistry, type PipeHandler, type PipeOptions } from '../../../src/server/ipc/registry.js';
import { builtInPipes } from '../../../src/server/ipc/services.js';
import { ipcShare } from '../../../src/server/shares.js';
import { silentLogger, type Logger } from '../../../src/util/log.js';

const HOST = { serverName: 'SRV', domain: 'WORKGROUP', machineSid: 'S-1-5-21-1-2-3', listShares: () => [ipcShare()], findUser: () => undefined, userNames: () => [] };
const ALICE: PipeCaller = { user: 'Alice', domain: 'LAB', anonymous: false, guest: false, address: '127.0.0.1' };
const GUEST: PipeCaller = { user: 'visitor', domain: '', anonymous: false, guest: true, address: '127.0.0.1' };
const ANON: PipeCaller = { user: '', domain: '', anonymous: true, guest: false, address: '127.0.0.1' };

function registry(log: Logger = silentLogger): PipeRegistry {
  return new PipeRegistry(log, builtInPipes(HOST));
}

/** Opens `name` as `caller` the way the SMB side does; returns the endpoint and the handler's connection. */
function open(pipes: PipeRegistry, name: string, caller: PipeCaller = ALICE): { endpoint: PipeEndpoint; conn: () => PipeConnection } {
  const service = pipes.lookup(name);
  assert.ok(service, `no pipe ${name}`);
  const endpoint = new PipeEndpoint(service.name);
  service.open(endpoint, caller);
  return { endpoint, conn: () => lastConn! };
}

let lastConn: PipeConnection | undefined;
const capture = (inner: PipeHandler = () => {}): PipeHandler => (conn) => {
  lastConn = conn;
  return inner(conn);
};

const tick = () => new Promise((r) => setImmediate(r));

test('register: names are case-insensitive, validated, and never replace a built-in pipe', () => {
  const pipes = registry();
  pipes.register('MyService', capture());
  assert.equal(pipes.has('myservice'), true);
  assert.equal(pipes.has('\\MYSERVICE'), true);
  assert.throws(() => pipes.register('myservice', capture()), /already registered/);
  for (const builtIn of ['srvsvc', 'WKSSVC', 'LsaRpc']) assert.throws(() => pipes.register(builtIn, capture()), /built in/);
  for (const bad of ['', 'a\\b', 'a/b', 'x:y', 'tab\there', 'x'.repeat(256)]) assert.throws(() => pipes.register(bad, capture()), RangeError, bad);
  assert.throws(() => pipes.register('nofn', 42 as unknown as PipeHandler), TypeError);
  assert.equal(pipes.unregister('srvsvc'), false);
  assert.equal(pipes.unregister('MYSERVICE'), true);
  assert.equal(pipes.has('myservice'), false);
  assert.deepEqual(pipes.names().sort(), ['lsarpc', 'srvsvc', 'wkssvc']);
});

test('access rules: authenticated users by default; a user list; guests and anonymous only when allowed', () => {
  const pipes = registry();
  const admits = (options: PipeOptions, caller: PipeCaller) => {
    pipes.register('p', capture(), options);
    try {
      return pipes.lookup('p')!.admits(caller);
    } finally {
      pipes.unregister('p');
    }
  };
  assert.equal(admits({}, ALICE), true);
  assert.equal(admits({}, GUEST), false);
  assert.equal(admits({}, ANON), false);
  assert.equal(admits({ users: ['alice'] }, ALICE), true);
  assert.equal(admits({ users: ['bob'] }, ALICE), false);
  assert.equal(admits({ allowGuest: true }, GUEST), true);
  assert.equal(admits({ allowAnonymous: true }, ANON), true);
  assert.equal(admits({ allowAnonymous: true }, GUEST), false);
  // Built-in RPC pipes admit every session (their operations decide).
  assert.equal(pipes.lookup('srvsvc')!.admits(ANON), true);
});

test('a connection sees its user; messages wait for a late listener, receive() and the iterator', async () => {
  const pipes = registry();
  pipes.register('late', capture(async () => {}));
  const { endpoint, conn } = open(pipes, 'late');
  assert.deepEqual({ ...conn().user }, { name: 'Alice', domain: 'LAB', anonymous: false, guest: false, address: '127.0.0.1' });
  assert.equal(conn().pipe, 'late');
  const frame = Buffer.from('first');
  assert.equal(endpoint.write(frame), 'ok');
  frame.fill(0); // the connection copied the frame's bytes
  assert.equal(endpoint.write(Buffer.from('second')), 'ok');
  const got: string[] = [];
  conn().on('message', (m) => got.push(m.toString()));
  await tick();
  assert.deepEqual(got, ['first', 'second']);
  conn().removeAllListeners('message');

  endpoint.write(Buffer.from('third'));
  assert.equal((await conn().receive())?.toString(), 'third');
  const next = conn().receive();
  endpoint.write(Buffer.from('fourth'));
  assert.equal((await next)?.toString(), 'fourth');

  const iterated: string[] = [];
  const loop = (async () => {
    for await (const m of conn()) iterated.push(m.toString());
  })();
  endpoint.write(Buffer.from('fifth'));
  endpoint.close(); // the client closes its handle
  await loop;
  assert.deepEqual(iterated, ['fifth']);
  assert.equal(conn().closed, true);
  assert.equal(await conn().receive(), undefined);
});

test('send: messages queue for the client; false above the high-water mark, then drain; dropped after close', async () => {
  const pipes = registry();
  pipes.register('flow', capture(), { highWaterMark: 10 });
  const { endpoint, conn } = open(pipes, 'flow');
  assert.equal(conn().send('12345'), true);
  assert.equal(conn().send(new Uint8Array([54, 55, 56, 57, 48])), false);
  let drained = 0;
  conn().on('drain', () => drained++);
  assert.equal(endpoint.read(100)?.data.toString(), '12345');
  assert.equal(drained, 1);
  assert.equal(endpoint.read(3)?.data.toString(), '678');
  assert.equal(endpoint.read(100)?.data.toString(), '90');
  let closes = 0;
  conn().on('close', () => closes++);
  conn().send('last');
  conn().close();
  assert.equal(conn().send('dropped'), false);
  // What was sent before the close stays readable; then the pipe is broken.
  assert.equal(endpoint.read(100)?.data.toString(), 'last');
  assert.equal(endpoint.broken, true);
  assert.equal(endpoint.write(Buffer.from('x')), 'broken');
  endpoint.close();
  assert.equal(closes, 1);
});

test('a handler that throws, rejects, or has a throwing listener closes only its connection and is logged', async () => {
  const errors: string[] = [];
  const log: Logger = { ...silentLogger, error: (m, f) => errors.push(`${m} ${String(f?.['error'])}`) };
  const pipes = registry(log);
  pipes.register('sync', capture(() => {
    throw new Error('sync failure');
  }));
  pipes.register('async', capture(async () => {
    throw new Error('async failure');
  }));
  pipes.register('listener', capture((conn) => {
    conn.on('message', () => {
      throw new Error('listener failure');
    });
  }));
  const a = open(pipes, 'sync');
  assert.equal(a.conn().closed, true);
  assert.equal(a.endpoint.broken, true);
  const b = open(pipes, 'async');
  await tick();
  assert.equal(b.conn().closed, true);
  const c = open(pipes, 'listener');
  assert.equal(c.endpoint.write(Buffer.from('x')), 'ok');
  assert.equal(c.conn().closed, true);
  assert.deepEqual(errors, ['pipe handler failed sync failure', 'pipe handler failed async failure', 'pipe handler failed listener failure']);
});

test('a client that writes past what the handler consumes is told the pipe is full', () => {
  const pipes = registry();
  pipes.register('slow', capture(async () => {}));
  const { endpoint } = open(pipes, 'slow');
  const big = Buffer.alloc(1 << 20);
  let result = 'ok';
  for (let i = 0; i < 8 && result === 'ok'; i++) result = endpoint.write(big);
  assert.equal(result, 'full');
});
