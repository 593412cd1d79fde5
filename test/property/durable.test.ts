/**
 * Property test of durable handles on the running server: two clients open (durable or not, with random oplocks or
 * leases), write, lock, close, disconnect and reclaim disconnected durable handles in random interleavings. Every
 * request completes within a bound; no lock or lease is ever held through a closed handle; a disconnected open is in
 * no session and a connected one is in its session; and once both clients are gone and the durable timeout has
 * passed, nothing is left (no open, lock, lease, durable handle or file node).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { Status } from '../../src/protocol/nt-status.js';
import { Command, CreateDisposition, Dialect, LockFlags, OplockLevel, ShareAccess } from '../../src/protocol/smb2/constants.js';
import type { FileId } from '../../src/protocol/smb2/commands/file-id.js';
import { encodeLockRequest } from '../../src/protocol/smb2/commands/lock.js';
import { decodeOplockBreakResponse, LeaseBreakFlags } from '../../src/protocol/smb2/commands/oplock-break.js';
import {
  CreateContextName,
  encodeDurableHandleReconnectV2,
  encodeDurableHandleRequestV2,
  encodeLease,
  type CreateContext,
} from '../../src/protocol/smb2/contexts/create-contexts.js';
import { defaultAccessPolicy } from '../../src/config/server-config.js';
import type { SmbServer } from '../../src/server/server.js';
import { startTestServer, type RawClient, type TestServer } from '../support/raw-client.js';

const BREAK_TIMEOUT_MS = 150;
const DURABLE_TIMEOUT_MS = 250;
const REQUEST_BOUND_MS = 8_000;

type Caching = 'none' | 'batch' | 'RH' | 'RWH';
type Op =
  | { kind: 'open'; client: number; file: number; caching: Caching; durable: boolean; key: number }
  | { kind: 'write'; client: number; handle: number }
  | { kind: 'lock'; client: number; handle: number; offset: number }
  | { kind: 'close'; client: number; handle: number }
  | { kind: 'disconnect'; client: number }
  | { kind: 'reclaim'; client: number; which: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('open' as const),
    client: fc.integer({ min: 0, max: 1 }),
    file: fc.integer({ min: 0, max: 1 }),
    caching: fc.constantFrom<Caching>('none', 'batch', 'RH', 'RWH'),
    durable: fc.boolean(),
    key: fc.integer({ min: 0, max: 1 }),
  }),
  fc.record({ kind: fc.constant('write' as const), client: fc.integer({ min: 0, max: 1 }), handle: fc.nat(4) }),
  fc.record({ kind: fc.constant('lock' as const), client: fc.integer({ min: 0, max: 1 }), handle: fc.nat(4), offset: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ kind: fc.constant('close' as const), client: fc.integer({ min: 0, max: 1 }), handle: fc.nat(4) }),
  fc.record({ kind: fc.constant('disconnect' as const), client: fc.integer({ min: 0, max: 1 }) }),
  fc.record({ kind: fc.constant('reclaim' as const), client: fc.integer({ min: 0, max: 1 }), which: fc.nat(4) }),
);

interface Handle {
  name: string;
  fileId: FileId;
  guid: Buffer | undefined;
  lease: CreateContext | undefined;
}

interface Peer {
  client: RawClient;
  handles: Handle[];
  stop: boolean;
  responder: Promise<void>;
}

async function respond(p: Peer): Promise<void> {
  while (!p.stop && !p.client.closed) {
    const b = await p.client.nextBreak(50);
    if (!b) continue;
    const n = decodeOplockBreakResponse(b.body);
    try {
      if (n.kind === 'leaseBreakNotification' && n.flags & LeaseBreakFlags.ACK_REQUIRED) await p.client.ackLease(n.leaseKey, n.newLeaseState);
      else if (n.kind === 'oplock' && n.oplockLevel === OplockLevel.II) await p.client.ackOplock(n.fileId, OplockLevel.II);
    } catch {
      // the connection went away
    }
  }
}

async function peer(t: TestServer): Promise<Peer> {
  const client = await t.login([Dialect.SMB311]);
  const p: Peer = { client, handles: [], stop: false, responder: Promise.resolve() };
  p.responder = respond(p);
  return p;
}

function within<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const limit = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not complete within ${REQUEST_BOUND_MS} ms`)), REQUEST_BOUND_MS)));
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

function checkInvariants(server: SmbServer): void {
  for (const node of server.nodes.values()) {
    for (const o of node.opens) {
      assert.equal(o.closed, false, 'a closed open stays on its node');
      if (o.disconnected) assert.notEqual(o.session.opens.get(o.volatileId), o, 'a disconnected open is still in a session');
      else assert.equal(o.session.opens.get(o.volatileId), o, 'a connected open is missing from its session');
      if (o.lease) assert.ok(o.lease.opens.has(o), 'an open is among its lease opens');
    }
    for (const l of node.lockState().held) {
      assert.equal(l.owner.closed, false, 'a lock is held through a closed open');
      assert.ok(node.opens.has(l.owner), 'a lock is held by an open of another file');
    }
  }
  for (const lease of server.caching.leases.values()) {
    assert.ok(lease.opens.size > 0, 'a lease without opens is kept');
    for (const o of lease.opens) assert.equal(o.closed, false, 'a lease holds a closed open');
  }
  for (const o of server.durables.all()) assert.equal(o.closed, false, 'the durable table keeps a closed open');
}

function openRequest(op: Extract<Op, { kind: 'open' }>): { options: Parameters<RawClient['create']>[1]; guid: Buffer | undefined; lease: CreateContext | undefined } {
  const contexts: CreateContext[] = [];
  let oplockLevel: number = OplockLevel.NONE;
  let lease: CreateContext | undefined;
  if (op.caching === 'batch') oplockLevel = OplockLevel.BATCH;
  else if (op.caching !== 'none') {
    oplockLevel = OplockLevel.LEASE;
    const state = op.caching === 'RH' ? 3 : 7;
    lease = { name: CreateContextName.REQUEST_LEASE, data: encodeLease({ version: 2, leaseKey: Buffer.alloc(16, op.key + 1 + op.file * 2), leaseState: state, leaseFlags: 0, leaseDuration: 0n, parentLeaseKey: Buffer.alloc(16), epoch: 0 }) };
    contexts.push(lease);
  }
  const guid = op.durable ? randomBytes(16) : undefined;
  if (guid) contexts.push({ name: CreateContextName.DURABLE_HANDLE_REQUEST_V2, data: encodeDurableHandleRequestV2({ timeout: 0, flags: 0, createGuid: guid }) });
  const share = ShareAccess.READ | ShareAccess.WRITE | ShareAccess.DELETE;
  return { options: { shareAccess: share, createDisposition: CreateDisposition.OPEN_IF, oplockLevel, contexts }, guid, lease };
}

test('random durable opens, locks, disconnects and reclaims from two clients: every request completes, nothing is left held', async () => {
  const t = await startTestServer({
    access: { ...defaultAccessPolicy(), breakTimeoutMs: BREAK_TIMEOUT_MS },
    durable: { enabled: true, defaultTimeoutMs: DURABLE_TIMEOUT_MS, maxTimeoutMs: DURABLE_TIMEOUT_MS },
  });
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 16 }), async (ops) => {
        const peers = [await peer(t), await peer(t)];
        /** Durable handles of connections that went away, for reclaims (a leased one comes back only to its ClientGuid). */
        const lost: Handle[] = [];
        const pick = (p: Peer, i: number) => p.handles[i % Math.max(1, p.handles.length)];
        try {
          for (const op of ops) {
            const p = peers[op.client]!;
            if (op.kind === 'open') {
              const req = openRequest(op);
              const r = await within(p.client.create(`d${op.file}.txt`, req.options), 'CREATE');
              if (r.status === Status.SUCCESS) p.handles.push({ name: `d${op.file}.txt`, fileId: r.fileId, guid: req.guid, lease: req.lease });
            } else if (op.kind === 'write') {
              const h = pick(p, op.handle);
              if (h) await within(p.client.write(h.fileId, 0, Buffer.from('data')), 'WRITE');
            } else if (op.kind === 'lock') {
              const h = pick(p, op.handle);
              if (h) {
                const locks = [{ offset: BigInt(op.offset * 10), length: 10n, flags: LockFlags.EXCLUSIVE_LOCK | LockFlags.FAIL_IMMEDIATELY }];
                await within(p.client.request(Command.LOCK, (w) => encodeLockRequest(w, { lockSequenceIndex: 0, lockSequenceNumber: 0, fileId: h.fileId, locks })), 'LOCK');
              }
            } else if (op.kind === 'close') {
              const i = op.handle % Math.max(1, p.handles.length);
              const h = p.handles[i];
              if (h) {
                p.handles.splice(i, 1);
                await within(p.client.close(h.fileId), 'CLOSE');
              }
            } else if (op.kind === 'disconnect') {
              p.stop = true;
              p.client.destroy();
              await p.client.waitClosed(5_000);
              await p.responder;
              lost.push(...p.handles.filter((h) => h.guid));
              peers[op.client] = await peer(t);
            } else {
              const h = lost[op.which % Math.max(1, lost.length)];
              if (h) {
                const contexts: CreateContext[] = [{ name: CreateContextName.DURABLE_HANDLE_RECONNECT_V2, data: encodeDurableHandleReconnectV2({ fileId: h.fileId, createGuid: h.guid!, flags: 0 }) }];
                if (h.lease) contexts.push(h.lease);
                const r = await within(p.client.create(h.name, { contexts }), 'reconnect');
                if (r.status === Status.SUCCESS) {
                  lost.splice(lost.indexOf(h), 1);
                  p.handles.push(h);
                }
              }
            }
            checkInvariants(t.server);
          }
        } finally {
          for (const p of peers) {
            p.stop = true;
            p.client.destroy();
            await p.client.waitClosed(5_000);
            await p.responder;
          }
        }
        // Disconnected durable handles go when their timeout passes; then nothing is left.
        const empty = () => t.server.nodes.size === 0 && t.server.caching.leases.size === 0 && t.server.durables.size === 0;
        for (let i = 0; i < 150 && !empty(); i++) await new Promise((r) => setTimeout(r, 20));
        checkInvariants(t.server);
        assert.equal(t.server.durables.size, 0, 'no durable handle (or CreateGuid) is left');
        assert.equal(t.server.caching.leases.size, 0, 'no lease is left');
        assert.equal(t.server.nodes.size, 0, 'no file node is left');
      }),
      { numRuns: 20 },
    );
  } finally {
    await t.stop();
  }
});
