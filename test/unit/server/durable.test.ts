/**
 * Durable handles (MS-SMB2 3.3.5.9.6-.12, 3.3.7.1) over real TCP connections to an in-process server: which contexts
 * combine, what is granted, an open kept across a lost connection with its lock, the scavenger closing it when
 * nobody reclaims it, the owner check, a CreateGuid reused without and with the replay flag, and the journal of
 * persistent opens (snapshot and reload).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Status } from '../../../src/protocol/nt-status.js';
import { Command, Dialect, HeaderFlags, LockFlags, OplockLevel } from '../../../src/protocol/smb2/constants.js';
import { encodeLockRequest } from '../../../src/protocol/smb2/commands/lock.js';
import type { FileId } from '../../../src/protocol/smb2/commands/file-id.js';
import {
  CreateContextName,
  decodeDurableHandleResponseV2,
  DurableHandleV2Flags,
  encodeDurableHandleReconnect,
  encodeDurableHandleReconnectV2,
  encodeDurableHandleRequest,
  encodeDurableHandleRequestV2,
  findCreateContext,
  type CreateContext,
} from '../../../src/protocol/smb2/contexts/create-contexts.js';
import { decodeDurableRequest } from '../../../src/server/state/durable.js';
import { FileJournal } from '../../../src/server/state/journal.js';
import { DurableMemo, DurableRecords } from '../../../src/server/workers/memo.js';
import { MemoryUserStore } from '../../../src/auth/users.js';
import { MemoryStore } from '../../../src/store/memory.js';
import { silentLogger } from '../../../src/util/log.js';
import { startTestServer, TEST_PASSWORD, TEST_SHARE, TEST_USER, type RawClient, type TestServer } from '../../support/raw-client.js';

const HOST = '127.0.0.76';
const DH2Q = (createGuid: Buffer, timeout = 0, flags = 0): CreateContext => ({
  name: CreateContextName.DURABLE_HANDLE_REQUEST_V2,
  data: encodeDurableHandleRequestV2({ timeout, flags, createGuid }),
});
const DHNQ: CreateContext = { name: CreateContextName.DURABLE_HANDLE_REQUEST, data: encodeDurableHandleRequest() };
const DHNC = (fileId: FileId): CreateContext => ({ name: CreateContextName.DURABLE_HANDLE_RECONNECT, data: encodeDurableHandleReconnect({ fileId }) });
const DH2C = (fileId: FileId, createGuid: Buffer): CreateContext => ({
  name: CreateContextName.DURABLE_HANDLE_RECONNECT_V2,
  data: encodeDurableHandleReconnectV2({ fileId, createGuid, flags: 0 }),
});

function lockRange(c: RawClient, fileId: FileId, offset: number, length: number) {
  return c.request(Command.LOCK, (w) =>
    encodeLockRequest(w, { lockSequenceIndex: 0, lockSequenceNumber: 0, fileId, locks: [{ offset: BigInt(offset), length: BigInt(length), flags: LockFlags.EXCLUSIVE_LOCK | LockFlags.FAIL_IMMEDIATELY }] }),
  );
}

function server(timeoutMs = 60_000, extra: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
  return startTestServer({ durable: { enabled: true, defaultTimeoutMs: timeoutMs, maxTimeoutMs: 300_000 }, ...extra }, { host: HOST });
}

const kindOf = (r: ReturnType<typeof decodeDurableRequest>) => (typeof r === 'number' ? r : r.kind);

test('context combinations: v2 contexts need 3.x; a reconnect beside another durability context is refused', () => {
  const g = randomBytes(16);
  const id = { persistent: 1n, volatile: 1n };
  assert.deepEqual(decodeDurableRequest([], 0x0311), { kind: 'none' });
  assert.equal(kindOf(decodeDurableRequest([DH2Q(g)], 0x0210)), 'none', 'DH2Q is unknown to 2.1');
  assert.equal(kindOf(decodeDurableRequest([DHNQ], 0x0202)), 'open');
  assert.equal(decodeDurableRequest([DH2C(id, g), DHNQ], 0x0311), Status.INVALID_PARAMETER);
  assert.equal(decodeDurableRequest([DHNC(id), DH2Q(g)], 0x0311), Status.INVALID_PARAMETER);
  assert.equal(decodeDurableRequest([DHNC(id), DH2C(id, g)], 0x0311), Status.INVALID_PARAMETER);
  assert.equal(decodeDurableRequest([DH2Q(g), DHNQ], 0x0311), Status.INVALID_PARAMETER);
  assert.equal(kindOf(decodeDurableRequest([DHNC(id), DHNQ], 0x0311)), 'reconnect', 'a DHnQ beside a DHnC is ignored');
  assert.equal(decodeDurableRequest([{ name: CreateContextName.DURABLE_HANDLE_REQUEST_V2, data: Buffer.alloc(31) }], 0x0311), Status.INVALID_PARAMETER);
});

test('granted only with a batch oplock or a handle lease; the timeout asked for is capped', async () => {
  const t = await server();
  try {
    const a = await t.login([Dialect.SMB311]);
    const none = await a.create('a.txt', { contexts: [DH2Q(randomBytes(16))] });
    assert.equal(findCreateContext(none.create!.createContexts, CreateContextName.DURABLE_HANDLE_REQUEST_V2), undefined, 'no caching, no durability');
    const batch = await a.create('b.txt', { oplockLevel: OplockLevel.BATCH, contexts: [DH2Q(randomBytes(16), 0xffffffff)] });
    const dh = findCreateContext(batch.create!.createContexts, CreateContextName.DURABLE_HANDLE_REQUEST_V2);
    assert.ok(dh);
    assert.deepEqual(decodeDurableHandleResponseV2(dh.data), { timeout: 300_000, flags: 0 });
    const persistent = await a.create('c.txt', { oplockLevel: OplockLevel.BATCH, contexts: [DH2Q(randomBytes(16), 0, DurableHandleV2Flags.PERSISTENT)] });
    assert.deepEqual(decodeDurableHandleResponseV2(findCreateContext(persistent.create!.createContexts, CreateContextName.DURABLE_HANDLE_REQUEST_V2)!.data), { timeout: 60_000, flags: 0 }, 'not a CA share: durable, not persistent');
  } finally {
    await t.stop();
  }
});

test('a lost connection keeps the durable open and its lock; a reconnect takes both back; a TREE_DISCONNECT closes it', async () => {
  const t = await server();
  try {
    const a = await t.login([Dialect.SMB311]);
    const guid = randomBytes(16);
    const h = await a.create('keep.txt', { oplockLevel: OplockLevel.BATCH, contexts: [DH2Q(guid)] });
    assert.equal((await lockRange(a, h.fileId, 0, 10)).status, Status.SUCCESS);
    a.destroy();
    await a.waitClosed();
    const node = [...t.server.nodes.values()].find((n) => n.path === 'keep.txt')!;
    assert.equal(node.lockState().held.length, 1, 'the lock outlives the connection');
    const c = await t.login([Dialect.SMB311]);
    assert.equal((await c.create('', { contexts: [DH2C(h.fileId, randomBytes(16))] })).status, Status.OBJECT_NAME_NOT_FOUND, 'wrong CreateGuid');
    const r = await c.create('whatever', { contexts: [DH2C(h.fileId, guid)] });
    assert.equal(r.status, Status.SUCCESS);
    assert.equal(r.fileId.persistent, h.fileId.persistent);
    assert.equal((await c.write(r.fileId, 0, Buffer.from('x'))).status, Status.SUCCESS);
    assert.equal((await c.create('', { contexts: [DH2C(h.fileId, guid)] })).status, Status.OBJECT_NAME_NOT_FOUND, 'in use again: not reconnectable');
    assert.equal(node.lockState().held.length, 1);
    c.destroy();
    await c.waitClosed();
    const d = await t.login([Dialect.SMB311]);
    const again = await d.create('', { contexts: [DH2C(h.fileId, guid)] });
    assert.equal(again.status, Status.SUCCESS, 'reconnected twice');
    assert.equal((await d.request(Command.TREE_DISCONNECT, (w) => w.u16(4).u16(0))).status, Status.SUCCESS);
    const e = await t.login([Dialect.SMB311]);
    assert.equal((await e.create('', { contexts: [DH2C(h.fileId, guid)] })).status, Status.OBJECT_NAME_NOT_FOUND, 'closed by TREE_DISCONNECT');
    assert.equal(node.lockState().held.length, 0);
  } finally {
    await t.stop();
  }
});

test('the scavenger closes an open nobody reclaims: its lock, lease and node go', async () => {
  const t = await server(300);
  try {
    const a = await t.login([Dialect.SMB300]);
    const h = await a.create('gone.txt', { oplockLevel: OplockLevel.BATCH, contexts: [DHNQ] });
    assert.ok(findCreateContext(h.create!.createContexts, CreateContextName.DURABLE_HANDLE_REQUEST));
    assert.equal((await lockRange(a, h.fileId, 0, 10)).status, Status.SUCCESS);
    a.destroy();
    await a.waitClosed();
    await new Promise((r) => setTimeout(r, 100));
    assert.ok([...t.server.nodes.values()].some((n) => n.path === 'gone.txt'), 'kept while the timeout runs');
    for (let i = 0; i < 50 && [...t.server.nodes.values()].some((n) => n.path === 'gone.txt'); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(![...t.server.nodes.values()].some((n) => n.path === 'gone.txt'), 'closed after the timeout');
    assert.equal(t.server.durables.all().length, 0);
    const b = await t.login([Dialect.SMB300]);
    assert.equal((await b.create('', { contexts: [DHNC(h.fileId)] })).status, Status.OBJECT_NAME_NOT_FOUND);
  } finally {
    await t.stop();
  }
});

test('only the owner reclaims a durable open; a CreateGuid in use is a duplicate unless the CREATE is a replay', async () => {
  const users = new MemoryUserStore().add(TEST_USER, TEST_PASSWORD).add('other', TEST_PASSWORD);
  const t = await server(60_000, { users });
  try {
    const a = await t.login([Dialect.SMB311]);
    const guid = randomBytes(16);
    const h = await a.create('own.txt', { oplockLevel: OplockLevel.BATCH, contexts: [DH2Q(guid)] });
    assert.equal((await a.create('own.txt', { oplockLevel: OplockLevel.BATCH, contexts: [DH2Q(guid)] })).status, Status.DUPLICATE_OBJECTID);
    const replay = await a.create('own.txt', { oplockLevel: OplockLevel.BATCH, contexts: [DH2Q(guid)], opts: { flags: HeaderFlags.REPLAY_OPERATION } });
    assert.equal(replay.status, Status.SUCCESS);
    assert.equal(replay.fileId.persistent, h.fileId.persistent, 'the replay answers with the open it made the first time');
    a.destroy();
    await a.waitClosed();
    const o = await t.connect();
    await o.login('other', TEST_PASSWORD, TEST_SHARE, [Dialect.SMB311]);
    assert.equal((await o.create('', { contexts: [DH2C(h.fileId, guid)] })).status, Status.ACCESS_DENIED);
    const b = await t.login([Dialect.SMB311]);
    assert.equal((await b.create('', { contexts: [DH2C(h.fileId, guid)] })).status, Status.SUCCESS);
  } finally {
    await t.stop();
  }
});

test('journal: a persistent open on a CA share is on disk with its lock before the reply, and gone after CLOSE', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'smbkit-journal-'));
  try {
    const store = new MemoryStore();
    const t = await server(60_000, { stateDir: dir, shares: [{ name: TEST_SHARE, store, continuousAvailability: true }] });
    try {
      const a = await t.login([Dialect.SMB311]);
      const h = await a.create('p.txt', { contexts: [DH2Q(randomBytes(16), 0, DurableHandleV2Flags.PERSISTENT)] });
      assert.equal(decodeDurableHandleResponseV2(findCreateContext(h.create!.createContexts, CreateContextName.DURABLE_HANDLE_REQUEST_V2)!.data).flags, DurableHandleV2Flags.PERSISTENT, 'persistent without any caching');
      assert.equal((await lockRange(a, h.fileId, 5, 10)).status, Status.SUCCESS);
      const files = (await readdir(dir)).filter((f) => f.startsWith('open-'));
      assert.equal(files.length, 1);
      const rec = JSON.parse(await readFile(join(dir, files[0]!), 'utf8'));
      assert.equal(rec.path, 'p.txt');
      assert.deepEqual(rec.locks, [{ offset: '5', length: '10', exclusive: true }]);
      assert.equal((await a.close(h.fileId)).status, Status.SUCCESS);
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith('open-')), []);
    } finally {
      await t.stop();
    }
    const first = await new FileJournal(dir, silentLogger).load();
    const second = await new FileJournal(dir, silentLogger).load();
    assert.ok(first.serverGuid.equals(second.serverGuid), 'the server GUID is kept');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('memo (workers): a durable open\'s record follows its grant, lock and lease acknowledgment, and goes with its close', async () => {
  const t = await server();
  const records = new DurableRecords();
  t.server.durables.memo = new DurableMemo((m) => records.take(3, m));
  try {
    const a = await t.login([Dialect.SMB311]);
    const plain = await a.create('plain.txt', { oplockLevel: OplockLevel.NONE, contexts: [DH2Q(randomBytes(16))] });
    assert.equal(plain.status, Status.SUCCESS);
    assert.deepEqual(records.of(3), [], 'no caching, so not durable: no record');
    const h = await a.create('memo.txt', { oplockLevel: OplockLevel.BATCH, contexts: [DHNQ] });
    const [rec] = records.of(3);
    assert.equal(rec?.path, 'memo.txt');
    assert.equal(rec.durableVersion, 1);
    assert.equal(rec.persistent, false);
    assert.equal(rec.oplockLevel, OplockLevel.BATCH);
    assert.equal((await lockRange(a, h.fileId, 0, 10)).status, Status.SUCCESS);
    assert.deepEqual(records.of(3)[0]?.locks, [{ offset: '0', length: '10', exclusive: true }]);
    assert.deepEqual(records.of(4), [], 'kept under the worker that sent it');
    // Lost with its connection, the open is still durable: its record stays for a successor to rebuild.
    a.destroy();
    await a.waitClosed();
    assert.equal(records.of(3).length, 1);
    const c = await t.login([Dialect.SMB311]);
    const r = await c.create('memo.txt', { contexts: [DHNC(h.fileId)], oplockLevel: OplockLevel.BATCH });
    assert.equal(r.status, Status.SUCCESS);
    assert.equal((await c.close(r.fileId)).status, Status.SUCCESS);
    assert.deepEqual(records.of(3), [], 'closed: no record');
  } finally {
    await t.stop();
  }
});
