/**
 * Byte-range locks under random interleavings: two clients open one file, write, read, lock (at once or
 * waiting), unlock, cancel, close and drop their connections in any order. After every step no lock may belong to
 * a closed handle or a gone session, and no request may hang: everything but a waiting lock answers within a
 * bound, and once every handle is closed every waiting lock has answered too.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Status } from '../../src/protocol/nt-status.js';
import { Command, CreateDisposition, LockFlags, ShareAccess } from '../../src/protocol/smb2/constants.js';
import { encodeLockRequest, type LockElement } from '../../src/protocol/smb2/commands/lock.js';
import type { FileId } from '../../src/protocol/smb2/commands/file-id.js';
import { ConnectionClosedError, startTestServer, type RawClient, type Started, type TestServer } from '../support/raw-client.js';

const HOST = '127.0.0.75';
/** No request may take longer than this (waiting locks excepted until their holder goes). */
const BOUND_MS = 5000;
const { SHARED_LOCK, EXCLUSIVE_LOCK, UNLOCK, FAIL_IMMEDIATELY } = LockFlags;

type Op =
  | { kind: 'open'; who: number }
  | { kind: 'write' | 'read'; who: number; h: number; offset: number; length: number }
  | { kind: 'lock'; who: number; h: number; offset: number; length: number; exclusive: boolean; wait: boolean }
  | { kind: 'unlock'; who: number; h: number; offset: number; length: number }
  | { kind: 'close'; who: number; h: number }
  | { kind: 'cancel'; who: number; p: number }
  | { kind: 'disconnect'; who: number };

interface Waiting {
  started: Started;
  asyncId: bigint | undefined;
  handle: FileId;
}

interface Side {
  client: RawClient;
  handles: FileId[];
  waiting: Waiting[];
  /** Waits abandoned with the connection: they must end with the connection's close, not hang. */
  orphans: Promise<unknown>[];
}

function within<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${BOUND_MS} ms`)), BOUND_MS);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

const small = fc.integer({ min: 0, max: 40 });
const len = fc.integer({ min: 0, max: 12 });
const who = fc.integer({ min: 0, max: 1 });
const idx = fc.integer({ min: 0, max: 3 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('open' as const), who }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constantFrom('write' as const, 'read' as const), who, h: idx, offset: small, length: len }) },
  { weight: 9, arbitrary: fc.record({ kind: fc.constant('lock' as const), who, h: idx, offset: small, length: len, exclusive: fc.boolean(), wait: fc.boolean() }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('unlock' as const), who, h: idx, offset: small, length: len }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('close' as const), who, h: idx }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('cancel' as const), who, p: idx }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('disconnect' as const), who }) },
);

/** A fresh server per run, so a failure shrinks to its own steps. */
let srv: TestServer;

/** No lock or waiting lock belongs to a closed handle, a handle its session no longer has, or a gone session. */
function checkInvariant(): void {
  for (const node of srv.server.nodes.values()) {
    for (const l of node.lockState().held) {
      assert.equal(l.owner.closed, false, 'a lock held by a closed handle');
      assert.equal(l.owner.session.opens.get(l.owner.volatileId), l.owner, 'a lock held by a handle its session lost');
      assert.ok(srv.server.sessions.has(l.owner.session.id), 'a lock held by a gone session');
    }
  }
}

/** Waits (bounded) until the server has dropped every connection but the live ones. */
async function settled(live: number): Promise<void> {
  const end = Date.now() + BOUND_MS;
  while (srv.server.connections.size > live) {
    if (Date.now() > end) assert.fail('the server kept a dropped connection');
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function run(ops: Op[], file: string): Promise<void> {
  const sides: Side[] = [];
  for (let i = 0; i < 2; i++) sides.push({ client: await srv.login(), handles: [], waiting: [], orphans: [] });
  for (const op of ops) {
    const s = sides[op.who]!;
    const h = 'h' in op ? s.handles[op.h % Math.max(1, s.handles.length)] : undefined;
    switch (op.kind) {
      case 'open': {
        if (s.handles.length >= 4) break;
        const r = await within(
          s.client.create(file, { shareAccess: ShareAccess.READ | ShareAccess.WRITE | ShareAccess.DELETE, createDisposition: CreateDisposition.OPEN_IF }),
          'create',
        );
        assert.equal(r.status, Status.SUCCESS);
        s.handles.push(r.fileId);
        break;
      }
      case 'write':
      case 'read': {
        if (!h) break;
        const r =
          op.kind === 'write'
            ? await within(s.client.write(h, op.offset, Buffer.alloc(op.length, 1)), 'write')
            : await within(s.client.read(h, op.offset, op.length), 'read');
        assert.ok(([Status.SUCCESS, Status.FILE_LOCK_CONFLICT, Status.END_OF_FILE] as number[]).includes(r.status), `${op.kind}: ${r.status.toString(16)}`);
        break;
      }
      case 'lock': {
        if (!h) break;
        const flags = (op.exclusive ? EXCLUSIVE_LOCK : SHARED_LOCK) | (op.wait ? 0 : FAIL_IMMEDIATELY);
        const started = s.client.start(Command.LOCK, (w) =>
          encodeLockRequest(w, { lockSequenceIndex: 0, lockSequenceNumber: 0, fileId: h, locks: [lockEl(op.offset, op.length, flags)] }),
        );
        const first = await within(started.interim, 'lock');
        if (first.status === Status.PENDING) {
          assert.ok(op.wait, 'only a waiting lock goes async');
          s.waiting.push({ started, asyncId: first.header.asyncId, handle: h });
        } else {
          assert.ok(([Status.SUCCESS, Status.LOCK_NOT_GRANTED] as number[]).includes(first.status), `lock: ${first.status.toString(16)}`);
        }
        break;
      }
      case 'unlock': {
        if (!h) break;
        const r = await within(
          s.client.request(Command.LOCK, (w) =>
            encodeLockRequest(w, { lockSequenceIndex: 0, lockSequenceNumber: 0, fileId: h, locks: [lockEl(op.offset, op.length, UNLOCK)] }),
          ),
          'unlock',
        );
        assert.ok(([Status.SUCCESS, Status.RANGE_NOT_LOCKED] as number[]).includes(r.status));
        break;
      }
      case 'close': {
        if (!h) break;
        assert.equal((await within(s.client.close(h), 'close')).status, Status.SUCCESS);
        s.handles.splice(s.handles.indexOf(h), 1);
        // The handle's waiting locks end now (unless a grant was already on its way).
        for (const w of s.waiting.filter((x) => x.handle === h)) {
          const r = await within(w.started.final, 'waiting lock of a closed handle');
          assert.ok(([Status.RANGE_NOT_LOCKED, Status.SUCCESS] as number[]).includes(r.status));
        }
        s.waiting = s.waiting.filter((x) => x.handle !== h);
        break;
      }
      case 'cancel': {
        const w = s.waiting[op.p % Math.max(1, s.waiting.length)];
        if (!w) break;
        s.client.cancel(w.started.messageId, w.asyncId);
        const r = await within(w.started.final, 'cancelled lock');
        // It may have been granted just before the CANCEL arrived.
        assert.ok(([Status.CANCELLED, Status.SUCCESS] as number[]).includes(r.status));
        s.waiting.splice(s.waiting.indexOf(w), 1);
        break;
      }
      case 'disconnect': {
        for (const w of s.waiting) s.orphans.push(w.started.final.catch((e: unknown) => assert.ok(e instanceof ConnectionClosedError)));
        s.client.destroy();
        sides[op.who] = { client: await srv.login(), handles: [], waiting: [], orphans: s.orphans };
        await settled(2);
        break;
      }
    }
    // Settle what the step set going (a grant to the other side, a connection's teardown) before looking.
    await new Promise((r) => setImmediate(r));
    checkInvariant();
    // Any waiting lock that has been answered meanwhile was granted (its holder went away) or ended.
    for (const side of sides) {
      for (const w of [...side.waiting]) {
        const done = await Promise.race([w.started.final.then((r) => r.status), new Promise<undefined>((r) => setImmediate(() => r(undefined)))]);
        if (done === undefined) continue;
        assert.equal(done, Status.SUCCESS);
        side.waiting.splice(side.waiting.indexOf(w), 1);
      }
    }
  }
  // Close everything: every waiting lock must answer (granted as holders go, or RANGE_NOT_LOCKED).
  for (const s of sides) {
    for (const h of [...s.handles]) assert.equal((await within(s.client.close(h), 'final close')).status, Status.SUCCESS);
  }
  for (const s of sides) {
    for (const w of s.waiting) {
      const r = await within(w.started.final, 'waiting lock at the end');
      assert.ok(([Status.SUCCESS, Status.RANGE_NOT_LOCKED] as number[]).includes(r.status));
    }
    await within(Promise.all(s.orphans), 'waits of dropped connections');
    s.client.destroy();
  }
  await settled(0);
  for (const node of srv.server.nodes.values()) assert.equal(node.lockState().held.length + node.lockState().waiting, 0, 'locks left behind');
}

function lockEl(offset: number, length: number, flags: number): LockElement {
  return { offset: BigInt(offset), length: BigInt(length), flags };
}

test('random interleavings of two clients never leave a lock with a closed handle and never hang', async () => {
  let n = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 30 }), async (ops) => {
      srv = await startTestServer({}, { host: HOST });
      try {
        await run(ops, `prop-${n++}.dat`);
      } finally {
        await srv.stop();
      }
    }),
    { numRuns: 60 },
  );
});
