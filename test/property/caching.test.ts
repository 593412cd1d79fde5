/**
 * Property test of oplocks and leases on the running server: two clients open, write, close and disconnect in random
 * interleavings, each asking for random oplocks or leases, and acknowledging breaks or not. Every request must
 * complete within a bound (a holder that does not acknowledge holds others only until the break timeout), and no
 * oplock or lease may stay with a closed handle; once everything is closed nothing is left.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Status } from '../../src/protocol/nt-status.js';
import { CreateDisposition, Dialect, OplockLevel, ShareAccess } from '../../src/protocol/smb2/constants.js';
import type { FileId } from '../../src/protocol/smb2/commands/file-id.js';
import { decodeOplockBreakResponse, LeaseBreakFlags } from '../../src/protocol/smb2/commands/oplock-break.js';
import { CreateContextName, encodeLease, LeaseState } from '../../src/protocol/smb2/contexts/create-contexts.js';
import { defaultAccessPolicy } from '../../src/config/server-config.js';
import type { SmbServer } from '../../src/server/server.js';
import { startTestServer, type RawClient, type TestServer } from '../support/raw-client.js';

const BREAK_TIMEOUT_MS = 150;
/** Any single request: a break round trip or timeout, with room for a slow machine. */
const REQUEST_BOUND_MS = 8_000;

type Caching = 'none' | 'II' | 'batch' | 'R' | 'RH' | 'RWH';
type Op =
  | { kind: 'open'; client: number; file: number; caching: Caching; overwrite: boolean; shareRead: boolean; key: number }
  | { kind: 'write'; client: number; handle: number }
  | { kind: 'close'; client: number; handle: number }
  | { kind: 'disconnect'; client: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('open' as const),
    client: fc.integer({ min: 0, max: 1 }),
    file: fc.integer({ min: 0, max: 1 }),
    caching: fc.constantFrom<Caching>('none', 'II', 'batch', 'R', 'RH', 'RWH'),
    overwrite: fc.boolean(),
    shareRead: fc.boolean(),
    key: fc.integer({ min: 0, max: 2 }),
  }),
  fc.record({ kind: fc.constant('write' as const), client: fc.integer({ min: 0, max: 1 }), handle: fc.nat(4) }),
  fc.record({ kind: fc.constant('close' as const), client: fc.integer({ min: 0, max: 1 }), handle: fc.nat(4) }),
  fc.record({ kind: fc.constant('disconnect' as const), client: fc.integer({ min: 0, max: 1 }) }),
);

interface Peer {
  client: RawClient;
  handles: FileId[];
  acks: boolean;
  stop: boolean;
  responder: Promise<void>;
}

/** Acknowledges every break that asks for it (the polite client), or none (the silent one). */
async function respond(p: Peer): Promise<void> {
  while (!p.stop && !p.client.closed) {
    const b = await p.client.nextBreak(50);
    if (!b || !p.acks) continue;
    const n = decodeOplockBreakResponse(b.body);
    try {
      if (n.kind === 'leaseBreakNotification' && n.flags & LeaseBreakFlags.ACK_REQUIRED) await p.client.ackLease(n.leaseKey, n.newLeaseState);
      else if (n.kind === 'oplock' && n.oplockLevel === OplockLevel.II) await p.client.ackOplock(n.fileId, OplockLevel.II);
    } catch {
      // the connection went away
    }
  }
}

async function peer(t: TestServer, acks: boolean): Promise<Peer> {
  const client = await t.login([Dialect.SMB311]);
  const p: Peer = { client, handles: [], acks, stop: false, responder: Promise.resolve() };
  p.responder = respond(p);
  return p;
}

function within<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const limit = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not complete within ${REQUEST_BOUND_MS} ms`)), REQUEST_BOUND_MS)));
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

/** No oplock or lease is held through a closed handle, and every lease belongs to live opens of its own file. */
function checkInvariants(server: SmbServer): void {
  for (const node of server.nodes.values()) {
    for (const o of node.opens) {
      assert.equal(o.closed, false, 'a closed open stays on its node');
      if (o.lease) assert.ok(o.lease.opens.has(o), 'an open is among its lease opens');
    }
  }
  for (const lease of server.caching.leases.values()) {
    assert.ok(lease.opens.size > 0, 'a lease without opens is kept');
    for (const o of lease.opens) {
      assert.equal(o.closed, false, 'a lease holds a closed open');
      assert.equal(o.node, lease.node, 'a lease spans two files');
    }
  }
}

function createOptions(op: Extract<Op, { kind: 'open' }>) {
  const share = (op.shareRead ? ShareAccess.READ : 0) | ShareAccess.WRITE | ShareAccess.DELETE;
  const disposition = op.overwrite ? CreateDisposition.OVERWRITE_IF : CreateDisposition.OPEN_IF;
  const base = { shareAccess: share, createDisposition: disposition };
  if (op.caching === 'none') return base;
  if (op.caching === 'II') return { ...base, oplockLevel: OplockLevel.II };
  if (op.caching === 'batch') return { ...base, oplockLevel: OplockLevel.BATCH };
  const state = { R: LeaseState.READ_CACHING, RH: LeaseState.READ_CACHING | LeaseState.HANDLE_CACHING, RWH: 7 }[op.caching];
  const key = Buffer.alloc(16, op.key + 1);
  const data = encodeLease({ version: 2, leaseKey: key, leaseState: state, leaseFlags: 0, leaseDuration: 0n, parentLeaseKey: Buffer.alloc(16), epoch: 0 });
  return { ...base, oplockLevel: OplockLevel.LEASE, contexts: [{ name: CreateContextName.REQUEST_LEASE, data }] };
}

test('random opens, writes, closes and disconnects from two clients: every request completes, nothing is left held', async () => {
  const t = await startTestServer({ access: { ...defaultAccessPolicy(), breakTimeoutMs: BREAK_TIMEOUT_MS } });
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 14 }), fc.boolean(), fc.boolean(), async (ops, acks0, acks1) => {
        const peers = [await peer(t, acks0), await peer(t, acks1)];
        try {
          for (const op of ops) {
            const p = peers[op.client]!;
            if (op.kind === 'open') {
              const r = await within(p.client.create(`f${op.file}.txt`, createOptions(op)), 'CREATE');
              if (r.status === Status.SUCCESS) p.handles.push(r.fileId);
            } else if (op.kind === 'write') {
              const h = p.handles[op.handle % Math.max(1, p.handles.length)];
              if (h) await within(p.client.write(h, 0, Buffer.from('data')), 'WRITE');
            } else if (op.kind === 'close') {
              const i = op.handle % Math.max(1, p.handles.length);
              const h = p.handles[i];
              if (h) {
                p.handles.splice(i, 1);
                await within(p.client.close(h), 'CLOSE');
              }
            } else {
              p.stop = true;
              p.client.destroy();
              await p.client.waitClosed(5_000);
              await p.responder;
              peers[op.client] = await peer(t, p.acks);
            }
            checkInvariants(t.server);
          }
        } finally {
          for (const p of peers) {
            p.stop = true;
            for (const h of p.handles) await within(p.client.close(h), 'CLOSE').catch(() => undefined);
            p.client.destroy();
            await p.client.waitClosed(5_000);
            await p.responder;
          }
        }
        // Connections tear down asynchronously: wait for the last opens to go.
        for (let i = 0; i < 100 && (t.server.nodes.size > 0 || t.server.caching.leases.size > 0); i++) await new Promise((r) => setTimeout(r, 20));
        checkInvariants(t.server);
        assert.equal(t.server.caching.leases.size, 0, 'no lease is left');
        assert.equal(t.server.nodes.size, 0, 'no file node is left');
      }),
      { numRuns: 25 },
    );
  } finally {
    await t.stop();
  }
});
