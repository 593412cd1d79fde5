/**
 * Replays against an in-process server over TCP (MS-SMB2 3.3.5.9.10, 3.3.5.2.10): a replayed DH2Q CREATE gets the
 * first response back, another request on the open ends that, a CREATE waiting for a break outlives the loss of
 * its channel, and WRITE from an older channel epoch is refused while READ is not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Status } from '../../../src/protocol/nt-status.js';
import { Command, CreateAction, CreateDisposition, Dialect, HeaderFlags, OplockLevel } from '../../../src/protocol/smb2/constants.js';
import { encodeCreateRequest } from '../../../src/protocol/smb2/commands/create.js';
import { CreateContextName, encodeDurableHandleRequestV2, encodeLease, findCreateContext, LeaseState, type CreateContext } from '../../../src/protocol/smb2/contexts/create-contexts.js';
import { RawClient, startTestServer, TEST_PASSWORD, TEST_USER, type CreateOptions, type TestServer } from '../../support/raw-client.js';

const HOST = '127.0.0.130';
const REPLAY = { flags: HeaderFlags.REPLAY_OPERATION };
const DH2Q = (createGuid: Buffer): CreateContext => ({
  name: CreateContextName.DURABLE_HANDLE_REQUEST_V2,
  data: encodeDurableHandleRequestV2({ timeout: 0, flags: 0, createGuid }),
});
const RQLS = (key: Buffer): CreateContext => ({
  name: CreateContextName.REQUEST_LEASE,
  data: encodeLease({ version: 1, leaseKey: key, leaseState: LeaseState.READ_CACHING | LeaseState.HANDLE_CACHING, leaseFlags: 0, leaseDuration: 0n }),
});

function server(): Promise<TestServer> {
  return startTestServer({ multichannel: true, durable: { enabled: true, defaultTimeoutMs: 60_000, maxTimeoutMs: 300_000 } }, { host: HOST });
}

test('a replayed DH2Q CREATE answers as the first one did; the caching it may ask for is capped, never switched', async () => {
  const t = await server();
  try {
    const a = await t.login([Dialect.SMB311]);
    const guid = randomBytes(16);
    const first = await a.create('r.txt', { oplockLevel: OplockLevel.BATCH, contexts: [DH2Q(guid)] });
    assert.equal(first.create?.createAction, CreateAction.CREATED);
    // The replay asks to open an existing file: it still hears "created", with the same FileId and times.
    const replay = await a.create('r.txt', { oplockLevel: OplockLevel.BATCH, createDisposition: CreateDisposition.OPEN, contexts: [DH2Q(guid)], opts: REPLAY });
    assert.equal(replay.status, Status.SUCCESS);
    assert.deepEqual(replay.fileId, first.fileId);
    assert.equal(replay.create?.createAction, CreateAction.CREATED);
    assert.equal(replay.create?.creationTime, first.create?.creationTime);
    assert.equal(replay.create?.oplockLevel, OplockLevel.BATCH);
    assert.ok(findCreateContext(replay.create!.createContexts, CreateContextName.DURABLE_HANDLE_REQUEST_V2));
    const none = await a.create('r.txt', { contexts: [DH2Q(guid)], opts: REPLAY });
    assert.equal(none.create?.oplockLevel, OplockLevel.NONE);
    assert.equal(none.create?.createContexts.length, 0, 'no durability without the caching that carries it');
    const leased = await a.create('r.txt', { oplockLevel: OplockLevel.LEASE, contexts: [DH2Q(guid), RQLS(randomBytes(16))], opts: REPLAY });
    assert.equal(leased.status, Status.ACCESS_DENIED);
    assert.equal((await a.create('r.txt', { oplockLevel: OplockLevel.BATCH, contexts: [DH2Q(guid)] })).status, Status.DUPLICATE_OBJECTID);
  } finally {
    await t.stop();
  }
});

test('once another request used the open, a replay of its CREATE makes a new open', async () => {
  const t = await server();
  try {
    const a = await t.login([Dialect.SMB311]);
    const guid = randomBytes(16);
    const first = await a.create('used.txt', { contexts: [DH2Q(guid)], shareAccess: 7 });
    assert.equal((await a.read(first.fileId, 0, 1)).status, Status.END_OF_FILE);
    const again = await a.create('used.txt', { contexts: [DH2Q(guid)], shareAccess: 7, opts: REPLAY });
    assert.equal(again.status, Status.SUCCESS);
    assert.notDeepEqual(again.fileId, first.fileId);
    assert.equal(again.create?.createAction, CreateAction.OPENED);
  } finally {
    await t.stop();
  }
});

test('WRITE from an older channel epoch fails with FILE_NOT_AVAILABLE; READ from it is served', async () => {
  const t = await server();
  try {
    const a = await t.login([Dialect.SMB311]);
    const h = await a.create('csn.txt', { contexts: [DH2Q(randomBytes(16))] });
    assert.equal((await a.write(h.fileId, 0, Buffer.from('abc'), { channelSequence: 1 })).status, Status.SUCCESS);
    assert.equal((await a.write(h.fileId, 0, Buffer.from('old'), { channelSequence: 0 })).status, Status.FILE_NOT_AVAILABLE);
    assert.equal((await a.write(h.fileId, 0, Buffer.from('old'), { channelSequence: 0, ...REPLAY })).status, Status.FILE_NOT_AVAILABLE);
    const r = await a.read(h.fileId, 0, 3, { channelSequence: 0 });
    assert.equal(r.status, Status.SUCCESS);
    assert.equal(r.data.toString(), 'abc');
    // 16-bit arithmetic: 0x8001 is more than 0x7FFF ahead of 1, so it is behind.
    assert.equal((await a.write(h.fileId, 0, Buffer.from('x'), { channelSequence: 0x8001 })).status, Status.FILE_NOT_AVAILABLE);
    assert.equal((await a.write(h.fileId, 0, Buffer.from('x'), { channelSequence: 0x8000 })).status, Status.SUCCESS);
  } finally {
    await t.stop();
  }
});

test('a DH2Q CREATE waiting for a break goes on when its channel is lost; the client replays it on another channel', async () => {
  const t = await server();
  try {
    const holder = await t.login([Dialect.SMB311]);
    const held = await holder.create('p.txt', { oplockLevel: OplockLevel.BATCH, shareAccess: 7 });
    assert.equal(held.create?.oplockLevel, OplockLevel.BATCH);
    const a = await t.login([Dialect.SMB311]);
    const b = await t.connect();
    b.clientGuid = a.clientGuid;
    assert.equal((await b.negotiate([Dialect.SMB311])).status, Status.SUCCESS);
    assert.equal((await b.bindSession(TEST_USER, TEST_PASSWORD, a.sessionKeyOf()!)).status, Status.SUCCESS);
    b.treeId = a.treeId;
    const wanted: CreateOptions = { oplockLevel: OplockLevel.BATCH, shareAccess: 7, contexts: [DH2Q(randomBytes(16))] };
    const pending = a.start(Command.CREATE, (w) => encodeCreateRequest(w, RawClient.createRequest('p.txt', wanted)));
    pending.final.catch(() => {});
    assert.equal((await pending.interim).status, Status.PENDING, 'the CREATE waits for the batch oplock to break');
    assert.ok(await holder.nextBreak());
    a.destroy();
    assert.ok(await a.waitClosed());
    const replay = () => b.create('p.txt', { ...wanted, opts: REPLAY });
    assert.equal((await replay()).status, Status.FILE_NOT_AVAILABLE, 'still waiting');
    assert.equal((await holder.ackOplock(held.fileId, OplockLevel.II)).status, Status.SUCCESS);
    // The CREATE finishes on its own time after the acknowledgment: replay until it has.
    let done = await replay();
    for (let i = 0; i < 500 && done.status === Status.FILE_NOT_AVAILABLE; i++) {
      await new Promise((r) => setTimeout(r, 10));
      done = await replay();
    }
    assert.equal(done.status, Status.SUCCESS);
    assert.equal(done.create?.createAction, CreateAction.OPENED);
    assert.equal(done.create?.oplockLevel, OplockLevel.II);
    assert.deepEqual((await replay()).fileId, done.fileId, 'the open the lost CREATE made, not a new one');
    assert.equal((await b.read(done.fileId, 0, 1)).status, Status.END_OF_FILE);
  } finally {
    await t.stop();
  }
});
