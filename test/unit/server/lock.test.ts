/**
 * LOCK through the raw protocol: blocking locks (async, granted on unlock, CANCEL, the waiter's handle closing,
 * the holder's connection dropping), the READ/WRITE checks, the per-session cap and lock sequence replay.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Status } from '../../../src/protocol/nt-status.js';
import { Command, CreateDisposition, Fsctl, HeaderFlags, IoctlFlags, LockFlags, ShareAccess } from '../../../src/protocol/smb2/constants.js';
import { encodeLockRequest, type LockElement } from '../../../src/protocol/smb2/commands/lock.js';
import { encodeIoctlRequest } from '../../../src/protocol/smb2/commands/ioctl.js';
import { encodeEchoRequest } from '../../../src/protocol/smb2/commands/echo.js';
import type { FileId } from '../../../src/protocol/smb2/commands/file-id.js';
import { defaultAccessPolicy } from '../../../src/config/server-config.js';
import { Writer } from '../../../src/util/writer.js';
import { encodeNetworkResiliencyRequest } from '../../../src/protocol/smb2/fscc/fsctl.js';
import { startTestServer, type RawClient } from '../../support/raw-client.js';

const HOST = '127.0.0.74';
const { SHARED_LOCK, EXCLUSIVE_LOCK, UNLOCK, FAIL_IMMEDIATELY } = LockFlags;
const el = (offset: number, length: number, flags: number): LockElement => ({ offset: BigInt(offset), length: BigInt(length), flags });

function lock(c: RawClient, fileId: FileId, locks: LockElement[], seq: { index: number; number: number } = { index: 0, number: 0 }) {
  return c.start(Command.LOCK, (w) => encodeLockRequest(w, { lockSequenceIndex: seq.index, lockSequenceNumber: seq.number, fileId, locks }));
}

async function openFile(c: RawClient, name = 'f.dat'): Promise<FileId> {
  const r = await c.create(name, {
    shareAccess: ShareAccess.READ | ShareAccess.WRITE | ShareAccess.DELETE,
    createDisposition: CreateDisposition.OPEN_IF,
  });
  assert.equal(r.status, Status.SUCCESS);
  return r.fileId;
}

test('a blocking lock goes async and is granted when the holder unlocks; CANCEL ends one with STATUS_CANCELLED', async () => {
  const srv = await startTestServer({}, { host: HOST });
  try {
    const a = await srv.login();
    const b = await srv.login();
    const ha = await openFile(a);
    const hb = await openFile(b);
    assert.equal((await a.write(ha, 0, Buffer.alloc(100))).status, Status.SUCCESS);
    assert.equal((await lock(a, ha, [el(10, 10, EXCLUSIVE_LOCK)]).final).status, Status.SUCCESS);
    assert.equal((await lock(b, hb, [el(15, 1, SHARED_LOCK | FAIL_IMMEDIATELY)]).final).status, Status.LOCK_NOT_GRANTED);
    // I/O on the range: the holder reads and writes, the other open neither.
    assert.equal((await b.read(hb, 10, 5)).status, Status.FILE_LOCK_CONFLICT);
    assert.equal((await b.write(hb, 19, Buffer.from('x'))).status, Status.FILE_LOCK_CONFLICT);
    assert.equal((await b.read(hb, 0, 10)).status, Status.SUCCESS);
    assert.equal((await a.write(ha, 10, Buffer.from('y'))).status, Status.SUCCESS);

    const waiting = lock(b, hb, [el(12, 2, EXCLUSIVE_LOCK)]);
    const interim = await waiting.interim;
    assert.equal(interim.status, Status.PENDING);
    assert.ok(interim.header.flags & HeaderFlags.ASYNC_COMMAND);
    assert.equal((await a.echo()).status, Status.SUCCESS, 'the holder is still served');
    assert.equal((await lock(a, ha, [el(10, 10, UNLOCK)]).final).status, Status.SUCCESS);
    const granted = await waiting.final;
    assert.equal(granted.status, Status.SUCCESS);
    assert.equal(granted.header.asyncId, interim.header.asyncId);
    assert.equal((await a.read(ha, 12, 1)).status, Status.FILE_LOCK_CONFLICT, 'now b holds it');

    const cancelled = lock(a, ha, [el(13, 1, SHARED_LOCK)]);
    const ci = await cancelled.interim;
    assert.equal(ci.status, Status.PENDING);
    a.cancel(cancelled.messageId, ci.header.asyncId);
    assert.equal((await cancelled.final).status, Status.CANCELLED);
  } finally {
    await srv.stop();
  }
});

test('closing the waiting handle ends its lock with RANGE_NOT_LOCKED; a dropped connection releases its locks', async () => {
  const srv = await startTestServer({}, { host: HOST });
  try {
    const a = await srv.login();
    const b = await srv.login();
    const c = await srv.login();
    const ha = await openFile(a);
    const hb = await openFile(b);
    const hc = await openFile(c);
    assert.equal((await lock(a, ha, [el(0, 1, EXCLUSIVE_LOCK)]).final).status, Status.SUCCESS);
    const wb = lock(b, hb, [el(0, 1, EXCLUSIVE_LOCK)]);
    assert.equal((await wb.interim).status, Status.PENDING);
    const wc = lock(c, hc, [el(0, 1, EXCLUSIVE_LOCK)]);
    assert.equal((await wc.interim).status, Status.PENDING);
    await b.close(hb);
    assert.equal((await wb.final).status, Status.RANGE_NOT_LOCKED);
    a.destroy();
    assert.equal((await wc.final).status, Status.SUCCESS, 'the waiter is granted once the holder\'s connection is gone');
    // Nothing is left of a's locks or b's waiter: c holds the only lock.
    const state = [...srv.server.nodes.values()].map((n) => n.lockState());
    assert.deepEqual(state.map((s) => s.waiting), state.map(() => 0));
    const held = state.flatMap((s) => s.held);
    assert.equal(held.length, 1);
    assert.equal(held[0]!.owner.closed, false);
    assert.equal(held[0]!.owner.session.connection, [...srv.server.connections].find((x) => x.sessions.has(held[0]!.owner.session.id)));
  } finally {
    await srv.stop();
  }
});

test('several elements must all fail immediately; a blocking lock that is not last in a compound fails at once', async () => {
  const srv = await startTestServer({}, { host: HOST });
  try {
    const a = await srv.login();
    const b = await srv.login();
    const ha = await openFile(a);
    const hb = await openFile(b);
    assert.equal((await lock(a, ha, [el(0, 1, EXCLUSIVE_LOCK), el(5, 1, EXCLUSIVE_LOCK)]).final).status, Status.INVALID_PARAMETER);
    assert.equal((await lock(a, ha, [el(0, 1, EXCLUSIVE_LOCK | FAIL_IMMEDIATELY), el(5, 1, SHARED_LOCK | FAIL_IMMEDIATELY)]).final).status, Status.SUCCESS);
    const [l, e] = await b.compound([
      { command: Command.LOCK, encodeBody: (w) => encodeLockRequest(w, { lockSequenceIndex: 0, lockSequenceNumber: 0, fileId: hb, locks: [el(0, 1, EXCLUSIVE_LOCK)] }) },
      { command: Command.ECHO, encodeBody: (w) => encodeEchoRequest(w) },
    ]);
    assert.equal(l!.status, Status.LOCK_NOT_GRANTED);
    assert.equal(e!.status, Status.SUCCESS);
  } finally {
    await srv.stop();
  }
});

test('waiting locks are capped per session (STATUS_INSUFFICIENT_RESOURCES past the cap)', async () => {
  const srv = await startTestServer({ access: { ...defaultAccessPolicy(), maxPendingLocksPerSession: 1 } }, { host: HOST });
  try {
    const a = await srv.login();
    const b = await srv.login();
    const ha = await openFile(a);
    const hb = await openFile(b);
    assert.equal((await lock(a, ha, [el(0, 10, EXCLUSIVE_LOCK)]).final).status, Status.SUCCESS);
    const w1 = lock(b, hb, [el(0, 1, EXCLUSIVE_LOCK)]);
    assert.equal((await w1.interim).status, Status.PENDING);
    assert.equal((await lock(b, hb, [el(1, 1, EXCLUSIVE_LOCK)]).final).status, Status.INSUFFICIENT_RESOURCES);
    await a.close(ha);
    assert.equal((await w1.final).status, Status.SUCCESS);
  } finally {
    await srv.stop();
  }
});

test('lock sequence replay is detected on resilient opens only (MS-SMB2 3.3.5.14)', async () => {
  const srv = await startTestServer({}, { host: HOST });
  try {
    const a = await srv.login([0x0311]);
    const h = await openFile(a);
    const seq = { index: 1, number: 1 };
    assert.equal((await lock(a, h, [el(100, 100, EXCLUSIVE_LOCK | FAIL_IMMEDIATELY)], seq).final).status, Status.SUCCESS);
    assert.equal((await lock(a, h, [el(100, 100, EXCLUSIVE_LOCK | FAIL_IMMEDIATELY)], seq).final).status, Status.LOCK_NOT_GRANTED, 'not resilient: no replay check');
    assert.equal((await lock(a, h, [el(100, 100, UNLOCK)], seq).final).status, Status.SUCCESS);
    const input = new Writer(8);
    encodeNetworkResiliencyRequest(input, { timeoutMs: 1000 });
    const ioctl = await a.request(Command.IOCTL, (w) =>
      encodeIoctlRequest(w, { ctlCode: Fsctl.LMR_REQUEST_RESILIENCY, fileId: h, input: input.finish(), maxInputResponse: 0, output: Buffer.alloc(0), maxOutputResponse: 0, flags: IoctlFlags.IS_FSCTL }),
    );
    assert.equal(ioctl.status, Status.SUCCESS);
    assert.equal((await lock(a, h, [el(100, 100, EXCLUSIVE_LOCK | FAIL_IMMEDIATELY)], seq).final).status, Status.SUCCESS);
    assert.equal((await lock(a, h, [el(100, 100, EXCLUSIVE_LOCK | FAIL_IMMEDIATELY)], seq).final).status, Status.SUCCESS, 'a replay');
    assert.equal((await lock(a, h, [el(100, 100, UNLOCK)], seq).final).status, Status.SUCCESS, 'a replay too: nothing unlocked');
    assert.equal((await lock(a, h, [el(100, 100, EXCLUSIVE_LOCK | FAIL_IMMEDIATELY)], { index: 1, number: 2 }).final).status, Status.LOCK_NOT_GRANTED);
    assert.equal((await lock(a, h, [el(100, 100, UNLOCK)], { index: 65, number: 1 }).final).status, Status.SUCCESS, 'index 65 is outside the array');
    assert.equal((await lock(a, h, [el(100, 100, UNLOCK)], { index: 65, number: 1 }).final).status, Status.RANGE_NOT_LOCKED);
  } finally {
    await srv.stop();
  }
});
