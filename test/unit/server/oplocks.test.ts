/**
 * Oplocks and leases over real TCP connections to an in-process server, spoken with the raw test client: grants,
 * break notifications, requests that wait for the acknowledgment (async), acknowledgment validation, the break
 * timeout, and what a closed handle or a lost connection leaves behind (nothing).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Status } from '../../../src/protocol/nt-status.js';
import { AccessMask, Command, CreateDisposition, Dialect, GlobalCapabilities, OplockLevel, ShareAccess } from '../../../src/protocol/smb2/constants.js';
import { decodeCreateResponse, encodeCreateRequest } from '../../../src/protocol/smb2/commands/create.js';
import { decodeOplockBreakResponse, LeaseBreakFlags } from '../../../src/protocol/smb2/commands/oplock-break.js';
import { decodeNegotiateResponse } from '../../../src/protocol/smb2/commands/negotiate.js';
import { type CreateContext, CreateContextName, decodeLease, encodeLease, findCreateContext, LeaseFlags, LeaseState } from '../../../src/protocol/smb2/contexts/create-contexts.js';
import { defaultAccessPolicy } from '../../../src/config/server-config.js';
import { RawClient, startTestServer, type CreateOptions, type TestServer } from '../../support/raw-client.js';

const RWH = LeaseState.READ_CACHING | LeaseState.WRITE_CACHING | LeaseState.HANDLE_CACHING;
const RH = LeaseState.READ_CACHING | LeaseState.HANDLE_CACHING;
const R = LeaseState.READ_CACHING;
const SHARE_ALL = ShareAccess.READ | ShareAccess.WRITE | ShareAccess.DELETE;

function server(breakTimeoutMs = 10_000): Promise<TestServer> {
  return startTestServer({ access: { ...defaultAccessPolicy(), breakTimeoutMs } });
}

function leaseV2(key: Buffer, state: number, epoch = 0): CreateContext[] {
  return [{ name: CreateContextName.REQUEST_LEASE, data: encodeLease({ version: 2, leaseKey: key, leaseState: state, leaseFlags: 0, leaseDuration: 0n, parentLeaseKey: Buffer.alloc(16), epoch }) }];
}

function leaseOf(create: ReturnType<typeof decodeCreateResponse>) {
  const ctx = findCreateContext(create.createContexts, CreateContextName.REQUEST_LEASE);
  assert.ok(ctx, 'the response carries a lease context');
  return decodeLease(ctx.data);
}

/** Starts a CREATE without waiting for its answer. */
function startCreate(c: RawClient, name: string, o: CreateOptions) {
  return c.start(Command.CREATE, (w) => encodeCreateRequest(w, RawClient.createRequest(name, o)));
}

test('LEASING is advertised from 2.1 on, not on 2.0.2; DIRECTORY_LEASING from 3.0 on to clients that offer it', async () => {
  const t = await server();
  try {
    for (const [dialect, leasing, dirLeasing] of [[Dialect.SMB202, false, false], [Dialect.SMB210, true, false], [Dialect.SMB300, true, true], [Dialect.SMB311, true, true]] as const) {
      const c = await t.connect();
      const neg = decodeNegotiateResponse((await c.negotiate([dialect])).body);
      assert.equal((neg.capabilities & GlobalCapabilities.LEASING) !== 0, leasing, `dialect 0x${dialect.toString(16)}`);
      assert.equal((neg.capabilities & GlobalCapabilities.DIRECTORY_LEASING) !== 0, dirLeasing, `dialect 0x${dialect.toString(16)}`);
      c.destroy();
    }
    // As Windows: only to a client that offers it (impacket offers only ENCRYPTION and breaks on it).
    const c = await t.connect();
    c.capabilities = GlobalCapabilities.ENCRYPTION;
    const neg = decodeNegotiateResponse((await c.negotiate([Dialect.SMB300])).body);
    assert.equal(neg.capabilities & GlobalCapabilities.DIRECTORY_LEASING, 0);
    c.destroy();
  } finally {
    await t.stop();
  }
});

test('batch oplock: granted alone; a second open waits (async) until the holder acknowledges the break to level II', async () => {
  const t = await server();
  try {
    const a = await t.login([Dialect.SMB210]);
    const b = await t.login([Dialect.SMB210]);
    const first = await a.create('f.txt', { oplockLevel: OplockLevel.BATCH, shareAccess: SHARE_ALL });
    assert.equal(first.status, Status.SUCCESS);
    assert.equal(first.create?.oplockLevel, OplockLevel.BATCH);

    const second = startCreate(b, 'f.txt', { oplockLevel: OplockLevel.BATCH, shareAccess: SHARE_ALL });
    const brk = await a.nextBreak();
    assert.ok(brk, 'the holder gets a break notification');
    assert.equal(brk.header.sessionId, 0n);
    const n = decodeOplockBreakResponse(brk.body);
    assert.equal(n.kind, 'oplock');
    assert.equal(n.kind === 'oplock' && n.oplockLevel, OplockLevel.II);
    assert.equal((await second.interim).status, Status.PENDING, 'the conflicting open went async');

    const ack = await a.ackOplock(first.fileId, OplockLevel.II);
    assert.equal(ack.status, Status.SUCCESS);
    const ackBody = decodeOplockBreakResponse(ack.body);
    assert.equal(ackBody.kind === 'oplock' && ackBody.oplockLevel, OplockLevel.II);
    const done = await second.final;
    assert.equal(done.status, Status.SUCCESS);
    const opened = decodeCreateResponse(done.body);
    assert.equal(opened.oplockLevel, OplockLevel.II, 'the second open shares level II');

    // A write through the second handle breaks the first handle's level II to none, without waiting.
    const fid = opened.fileId;
    const w = await b.write(fid, 0, Buffer.from('x'));
    assert.equal(w.status, Status.SUCCESS);
    const toNone = await a.nextBreak();
    assert.ok(toNone);
    const nn = decodeOplockBreakResponse(toNone.body);
    assert.equal(nn.kind === 'oplock' && nn.oplockLevel, OplockLevel.NONE);
    // Nothing is breaking now: an acknowledgment is a protocol error; an unknown handle is closed.
    assert.equal((await a.ackOplock(first.fileId, OplockLevel.NONE)).status, Status.INVALID_OPLOCK_PROTOCOL);
    assert.equal((await a.ackOplock({ persistent: 999n, volatile: 999n }, OplockLevel.NONE)).status, Status.FILE_CLOSED);
  } finally {
    await t.stop();
  }
});

test('lease v2: RWH granted with epoch; a second client breaks it to RH; acknowledgments are validated', async () => {
  const t = await server();
  try {
    const a = await t.login([Dialect.SMB311]);
    const b = await t.login([Dialect.SMB311]);
    const key = randomBytes(16);
    const first = await a.create('l.txt', { oplockLevel: OplockLevel.LEASE, contexts: leaseV2(key, RWH), shareAccess: SHARE_ALL });
    assert.equal(first.status, Status.SUCCESS);
    assert.equal(first.create?.oplockLevel, OplockLevel.LEASE);
    const granted = leaseOf(first.create!);
    assert.equal(granted.leaseState, RWH);
    assert.equal(granted.version === 2 && granted.epoch, 1);

    // The same key on a second open of the same client shares the lease (no break).
    const again = await a.create('l.txt', { oplockLevel: OplockLevel.LEASE, contexts: leaseV2(key, RWH), shareAccess: SHARE_ALL });
    assert.equal(leaseOf(again.create!).leaseState, RWH);
    assert.equal(a.breaks.length, 0);

    const otherKey = randomBytes(16);
    const second = startCreate(b, 'l.txt', { oplockLevel: OplockLevel.LEASE, contexts: leaseV2(otherKey, RWH), shareAccess: SHARE_ALL });
    const brk = await a.nextBreak();
    assert.ok(brk);
    const n = decodeOplockBreakResponse(brk.body);
    assert.equal(n.kind, 'leaseBreakNotification');
    if (n.kind !== 'leaseBreakNotification') return;
    assert.deepEqual(n.leaseKey, key);
    assert.equal(n.currentLeaseState, RWH);
    assert.equal(n.newLeaseState, RH);
    assert.equal(n.flags & LeaseBreakFlags.ACK_REQUIRED, LeaseBreakFlags.ACK_REQUIRED);
    assert.equal(n.newEpoch, 2);
    assert.equal((await second.interim).status, Status.PENDING);

    // A third open with the holder's key while the break is in progress is told so.
    const during = await a.create('l.txt', { oplockLevel: OplockLevel.LEASE, contexts: leaseV2(key, RWH), shareAccess: SHARE_ALL });
    assert.equal(leaseOf(during.create!).leaseFlags & LeaseFlags.BREAK_IN_PROGRESS, LeaseFlags.BREAK_IN_PROGRESS);

    assert.equal((await a.ackLease(randomBytes(16), RH)).status, Status.OBJECT_NAME_NOT_FOUND, 'unknown key');
    assert.equal((await a.ackLease(key, RWH)).status, Status.REQUEST_NOT_ACCEPTED, 'more than the break allows');
    const ack = await a.ackLease(key, RH);
    assert.equal(ack.status, Status.SUCCESS);
    const ackBody = decodeOplockBreakResponse(ack.body);
    assert.equal(ackBody.kind === 'lease' && ackBody.leaseState, RH);
    assert.equal((await a.ackLease(key, RH)).status, Status.UNSUCCESSFUL, 'no break in progress');

    const done = await second.final;
    assert.equal(done.status, Status.SUCCESS);
    assert.equal(leaseOf(decodeCreateResponse(done.body)).leaseState, RH, 'W is never shared');
  } finally {
    await t.stop();
  }
});

test('a holder that never acknowledges holds the conflicting open only until the break timeout', async () => {
  const t = await server(300);
  try {
    const a = await t.login([Dialect.SMB311]);
    const b = await t.login([Dialect.SMB311]);
    const first = await a.create('t.txt', { oplockLevel: OplockLevel.BATCH, shareAccess: SHARE_ALL });
    assert.equal(first.create?.oplockLevel, OplockLevel.BATCH);
    const second = await b.create('t.txt', { oplockLevel: OplockLevel.BATCH, shareAccess: SHARE_ALL });
    assert.equal(second.status, Status.SUCCESS, 'the open completes after the timeout');
    assert.ok(a.breaks.length >= 1);
    // The holder lost its oplock: a late acknowledgment finds no break.
    assert.equal((await a.ackOplock(first.fileId, OplockLevel.II)).status, Status.INVALID_OPLOCK_PROTOCOL);
  } finally {
    await t.stop();
  }
});

test('a sharing conflict breaks handle caching; the holder closing lets the open through', async () => {
  const t = await server();
  try {
    const a = await t.login([Dialect.SMB311]);
    const b = await t.login([Dialect.SMB311]);
    const key = randomBytes(16);
    const first = await a.create('s.txt', { oplockLevel: OplockLevel.LEASE, contexts: leaseV2(key, RWH), shareAccess: ShareAccess.READ });
    assert.equal(leaseOf(first.create!).leaseState, RWH);
    const second = startCreate(b, 's.txt', { desiredAccess: AccessMask.GENERIC_WRITE, shareAccess: SHARE_ALL });
    const brk = await a.nextBreak();
    assert.ok(brk);
    const n = decodeOplockBreakResponse(brk.body);
    // The open is headed for a sharing violation: only H goes, so the holder may close (as smb2.lease.break_twice shows).
    assert.equal(n.kind === 'leaseBreakNotification' && n.newLeaseState, R | LeaseState.WRITE_CACHING, 'H goes: the share modes conflict');
    assert.equal((await a.close(first.fileId)).status, Status.SUCCESS);
    const done = await second.final;
    assert.equal(done.status, Status.SUCCESS);
    assert.equal(t.server.caching.leases.size, 0, 'the closed lease is gone');
  } finally {
    await t.stop();
  }
});

test('losing the connection releases its oplocks and leases, and the waiting open completes', async () => {
  const t = await server();
  try {
    const a = await t.login([Dialect.SMB311]);
    const b = await t.login([Dialect.SMB311]);
    const key = randomBytes(16);
    await a.create('d.txt', { oplockLevel: OplockLevel.LEASE, contexts: leaseV2(key, RWH), shareAccess: SHARE_ALL });
    const second = startCreate(b, 'd.txt', { oplockLevel: OplockLevel.BATCH, createDisposition: CreateDisposition.OVERWRITE_IF, shareAccess: SHARE_ALL });
    assert.ok(await a.nextBreak());
    a.destroy();
    const done = await second.final;
    assert.equal(done.status, Status.SUCCESS);
    assert.equal(decodeCreateResponse(done.body).oplockLevel, OplockLevel.BATCH, 'alone again: batch');
    assert.equal(t.server.caching.leases.size, 0);
    assert.equal(b.breaks.length, 0);
  } finally {
    await t.stop();
  }
});

test('outstanding breaks are capped per connection: past the cap a break takes effect without waiting', async () => {
  const t = await startTestServer({ access: { ...defaultAccessPolicy(), breakTimeoutMs: 30_000, maxBreaksPerConnection: 1 } });
  try {
    const holder = await t.login([Dialect.SMB210]);
    const b = await t.login([Dialect.SMB210]);
    const one = await holder.create('one.txt', { oplockLevel: OplockLevel.BATCH, shareAccess: SHARE_ALL });
    const two = await holder.create('two.txt', { oplockLevel: OplockLevel.BATCH, shareAccess: SHARE_ALL });
    assert.equal(one.create?.oplockLevel, OplockLevel.BATCH);
    assert.equal(two.create?.oplockLevel, OplockLevel.BATCH);
    // The first break waits for an acknowledgment the holder never sends...
    const first = startCreate(b, 'one.txt', { shareAccess: SHARE_ALL });
    assert.equal((await first.interim).status, Status.PENDING);
    // ...so the holder is at its cap, and the second break is applied at once.
    const second = await b.create('two.txt', { shareAccess: SHARE_ALL });
    assert.equal(second.status, Status.SUCCESS);
    let firstDone = false;
    void first.final.then(() => (firstDone = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(firstDone, false, 'the first open still waits for its acknowledgment');
    assert.equal(holder.breaks.length >= 2, true, 'both breaks were notified');
    assert.equal((await holder.ackOplock(one.fileId, OplockLevel.II)).status, Status.SUCCESS);
    assert.equal((await first.final).status, Status.SUCCESS);
  } finally {
    await t.stop();
  }
});
