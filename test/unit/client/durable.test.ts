/**
 * The client's durable-open rules (src/client/durable.ts): which contexts and oplock level each dialect sends,
 * when the PERSISTENT flag is asked for, how a response is read, and what the reconnect CREATE carries. The
 * contexts are decoded with the protocol codecs, so a wrong layout shows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { durableCreate, durableGranted, durableReconnect } from '../../../src/client/durable.js';
import type { CreateResponse } from '../../../src/protocol/smb2/commands/create.js';
import { Dialect, GlobalCapabilities, OplockLevel, ShareCapabilities } from '../../../src/protocol/smb2/constants.js';
import {
  decodeDurableHandleReconnect,
  decodeDurableHandleReconnectV2,
  decodeDurableHandleRequestV2,
  decodeLease,
  encodeDurableHandleResponse,
  encodeDurableHandleResponseV2,
  encodeLease,
  findCreateContext,
  DurableHandleV2Flags,
  LeaseState,
  type CreateContext,
} from '../../../src/protocol/smb2/contexts/create-contexts.js';

const LEASING = GlobalCapabilities.LEASING;
const RWH = LeaseState.READ_CACHING | LeaseState.WRITE_CACHING | LeaseState.HANDLE_CACHING;
const names = (cs: CreateContext[]): string[] => cs.map((c) => c.name);

function response(oplockLevel: number, createContexts: CreateContext[]): CreateResponse {
  return {
    oplockLevel,
    flags: 0,
    createAction: 1,
    creationTime: 0n,
    lastAccessTime: 0n,
    lastWriteTime: 0n,
    changeTime: 0n,
    allocationSize: 0n,
    endOfFile: 0n,
    fileAttributes: 0x80,
    fileId: { persistent: 7n, volatile: 8n },
    createContexts,
  };
}

test('3.x: DH2Q (timeout 0, random CreateGuid) with a v2 RWH lease; PERSISTENT only with both capabilities', () => {
  const a = durableCreate(Dialect.SMB311, LEASING, 0, true);
  assert.equal(a.oplockLevel, OplockLevel.LEASE);
  assert.deepEqual(names(a.contexts), ['DH2Q', 'RqLs']);
  const q = decodeDurableHandleRequestV2(findCreateContext(a.contexts, 'DH2Q')!.data);
  assert.equal(q.timeout, 0);
  assert.equal(q.flags, 0, 'no PERSISTENT without SMB2_GLOBAL_CAP_PERSISTENT_HANDLES and a CA share');
  assert.ok(q.createGuid.equals(a.durable.createGuid));
  const lease = decodeLease(findCreateContext(a.contexts, 'RqLs')!.data);
  assert.equal(lease.version, 2);
  assert.equal(lease.leaseState, RWH);
  assert.ok(lease.leaseKey.equals(a.durable.lease!.key));

  const p = durableCreate(Dialect.SMB300, LEASING | GlobalCapabilities.PERSISTENT_HANDLES, ShareCapabilities.CONTINUOUS_AVAILABILITY, true);
  assert.equal(decodeDurableHandleRequestV2(findCreateContext(p.contexts, 'DH2Q')!.data).flags, DurableHandleV2Flags.PERSISTENT);
  assert.equal(p.durable.persistent, true);
  const noCa = durableCreate(Dialect.SMB311, LEASING | GlobalCapabilities.PERSISTENT_HANDLES, 0, true);
  assert.equal(noCa.durable.persistent, false);
  assert.notDeepEqual(a.durable.createGuid, durableCreate(Dialect.SMB311, LEASING, 0, false).durable.createGuid);
});

test('2.1: DHnQ with a v1 lease; 2.0.2 (or no leasing): DHnQ with a batch oplock', () => {
  const v21 = durableCreate(Dialect.SMB210, LEASING, 0, true);
  assert.deepEqual(names(v21.contexts), ['DHnQ', 'RqLs']);
  assert.equal(decodeLease(findCreateContext(v21.contexts, 'RqLs')!.data).version, 1);
  assert.equal(v21.durable.persistent, false);
  for (const [dialect, caps] of [
    [Dialect.SMB202, LEASING],
    [Dialect.SMB210, 0],
  ] as const) {
    const b = durableCreate(dialect, caps, 0, false);
    assert.equal(b.oplockLevel, OplockLevel.BATCH);
    assert.deepEqual(names(b.contexts), ['DHnQ']);
    assert.equal(b.durable.lease, undefined);
  }
});

test('granted: read from the response contexts; none without the durable response', () => {
  const a = durableCreate(Dialect.SMB311, LEASING, 0, false);
  const lease = (state: number): CreateContext => ({
    name: 'RqLs',
    data: encodeLease({ version: 2, leaseKey: a.durable.lease!.key, leaseState: state, leaseFlags: 0, leaseDuration: 0n, parentLeaseKey: Buffer.alloc(16), epoch: 1 }),
  });
  const dh2q = (flags: number): CreateContext => ({ name: 'DH2Q', data: encodeDurableHandleResponseV2({ timeout: 60000, flags }) });
  assert.deepEqual(durableGranted(a.durable, response(OplockLevel.LEASE, [dh2q(0), lease(RWH)])), { durability: 'durable', leaseState: RWH, oplockLevel: OplockLevel.LEASE });
  assert.equal(durableGranted(a.durable, response(OplockLevel.LEASE, [dh2q(DurableHandleV2Flags.PERSISTENT)])).durability, 'persistent');
  assert.deepEqual(durableGranted(a.durable, response(OplockLevel.NONE, [])), { durability: 'none', leaseState: undefined, oplockLevel: 0 });
  const b = durableCreate(Dialect.SMB202, 0, 0, false);
  assert.equal(durableGranted(b.durable, response(OplockLevel.BATCH, [{ name: 'DHnQ', data: encodeDurableHandleResponse() }])).durability, 'durable');
});

test('reconnect: DH2C with FileId, CreateGuid and flags plus the same lease key; DHnC with the FileId', () => {
  const fileId = { persistent: 0x1122n, volatile: 0x3344n };
  const a = durableCreate(Dialect.SMB311, LEASING | GlobalCapabilities.PERSISTENT_HANDLES, ShareCapabilities.CONTINUOUS_AVAILABILITY, true);
  const r = durableReconnect(a.durable, fileId, OplockLevel.LEASE, LeaseState.READ_CACHING | LeaseState.HANDLE_CACHING);
  assert.equal(r.oplockLevel, OplockLevel.LEASE);
  assert.deepEqual(names(r.contexts), ['DH2C', 'RqLs']);
  const c = decodeDurableHandleReconnectV2(findCreateContext(r.contexts, 'DH2C')!.data);
  assert.deepEqual(c.fileId, fileId);
  assert.ok(c.createGuid.equals(a.durable.createGuid));
  assert.equal(c.flags, DurableHandleV2Flags.PERSISTENT);
  const lease = decodeLease(findCreateContext(r.contexts, 'RqLs')!.data);
  assert.ok(lease.leaseKey.equals(a.durable.lease!.key));
  assert.equal(lease.leaseState, LeaseState.READ_CACHING | LeaseState.HANDLE_CACHING);

  const b = durableCreate(Dialect.SMB202, 0, 0, false);
  const rb = durableReconnect(b.durable, fileId, OplockLevel.BATCH, undefined);
  assert.equal(rb.oplockLevel, OplockLevel.BATCH);
  assert.deepEqual(names(rb.contexts), ['DHnC']);
  assert.deepEqual(decodeDurableHandleReconnect(rb.contexts[0]!.data).fileId, fileId);
});
