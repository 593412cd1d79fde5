/**
 * Property test: two clients on two different workers (`workers = 2`) get exactly what two clients of one process
 * (`workers = 1`) get. Random sequences of opens (access, share modes, oplocks, delete-on-close), reads, writes,
 * byte-range locks and unlocks, closes and disconnects run against both servers; every status, every granted
 * oplock and every break each client hears must be the same.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Status, statusName } from '../../src/protocol/nt-status.js';
import { encodeLockRequest } from '../../src/protocol/smb2/commands/lock.js';
import { decodeOplockBreakResponse } from '../../src/protocol/smb2/commands/oplock-break.js';
import type { FileId } from '../../src/protocol/smb2/commands/file-id.js';
import { AccessMask, Command, CreateDisposition, CreateOptions, LockFlags, OplockLevel } from '../../src/protocol/smb2/constants.js';
import { RawClient } from '../support/raw-client.js';
import { startSmbkit, type SmbkitServer } from '../interop/harness/smbkit.js';
import { servingPids } from '../interop/harness/proc.js';

const ONE = '127.0.0.138';
const TWO = '127.0.0.139';
const LOGIN = { user: 'cmp', password: 'Compare w0rkers!', share: 'data' };
const FILES = 2;
const SLOTS = 4;

/** `pick` chooses among the client's open handles (modulo their number); an open takes a free slot. */
type Op =
  | { k: 'open'; c: number; file: number; access: number; share: number; oplock: number; deleteOnClose: boolean }
  | { k: 'close'; c: number; slot: number }
  | { k: 'write'; c: number; slot: number; at: number; len: number }
  | { k: 'read'; c: number; slot: number; at: number; len: number }
  | { k: 'lock'; c: number; slot: number; at: number; len: number; exclusive: boolean }
  | { k: 'unlock'; c: number; slot: number; at: number; len: number }
  | { k: 'reconnect'; c: number };

const cArb = fc.nat({ max: 1 });
const slotArb = fc.nat({ max: 5 });
const rangeArb = { at: fc.nat({ max: 3 }).map((n) => n * 8), len: fc.constantFrom(1, 8, 16) };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record({
      k: fc.constant('open' as const),
      c: cArb,
      file: fc.nat({ max: FILES - 1 }),
      access: fc.constantFrom(
        AccessMask.FILE_READ_DATA,
        AccessMask.FILE_READ_DATA | AccessMask.FILE_WRITE_DATA,
        AccessMask.FILE_READ_DATA | AccessMask.FILE_WRITE_DATA | AccessMask.DELETE,
        AccessMask.FILE_READ_ATTRIBUTES,
      ),
      share: fc.oneof(fc.constant(7), fc.nat({ max: 7 })),
      oplock: fc.constantFrom(OplockLevel.NONE, OplockLevel.II, OplockLevel.EXCLUSIVE, OplockLevel.BATCH),
      deleteOnClose: fc.nat({ max: 3 }).map((n) => n === 0),
    }),
  },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('close' as const), c: cArb, slot: slotArb }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('write' as const), c: cArb, slot: slotArb, ...rangeArb }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('read' as const), c: cArb, slot: slotArb, ...rangeArb }) },
  { weight: 6, arbitrary: fc.record({ k: fc.constant('lock' as const), c: cArb, slot: slotArb, ...rangeArb, exclusive: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('unlock' as const), c: cArb, slot: slotArb, ...rangeArb }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('reconnect' as const), c: cArb }) },
);

/** One client and what it holds: its handles by slot, with the oplock each has now. */
interface Handle {
  fileId: FileId;
  oplock: number;
  /** Its number among the client's opens (a break may arrive after its close: it is still named). */
  n: number;
}
interface Side {
  c: RawClient;
  slots: (Handle | undefined)[];
  handles: Handle[];
  breaks: string[];
  pump: Promise<void>;
  stop: boolean;
}

async function connect(address: string, heard: string[], index: number): Promise<Side> {
  const c = await RawClient.connect(address, 445);
  await c.login(LOGIN.user, LOGIN.password, LOGIN.share);
  const side: Side = { c, slots: [], handles: [], breaks: heard, pump: Promise.resolve(), stop: false };
  // Breaks are heard and acknowledged as they come (a CREATE of the other client may wait for the acknowledgment).
  side.pump = (async () => {
    while (!side.stop && !c.closed) {
      const b = await c.nextBreak(100);
      if (!b) continue;
      const n = decodeOplockBreakResponse(b.body);
      if (n.kind !== 'oplock') continue;
      const held = side.handles.find((h) => h.fileId.volatile === n.fileId.volatile && h.fileId.persistent === n.fileId.persistent);
      heard.push(`client ${index} open ${held?.n ?? '?'}: break ${held?.oplock ?? '?'} -> ${n.oplockLevel}`);
      if (!held) continue;
      const needsAck = held.oplock === OplockLevel.EXCLUSIVE || held.oplock === OplockLevel.BATCH;
      held.oplock = n.oplockLevel;
      if (needsAck) await c.ackOplock(n.fileId, n.oplockLevel).catch(() => {});
    }
  })();
  return side;
}

async function end(s: Side): Promise<void> {
  s.stop = true;
  s.c.socket.destroy();
  await s.pump;
}

/** Runs a sequence against one server; what each step answered, and the breaks each client heard. */
async function play(address: string, ops: Op[], run: number, expectBreaks?: number): Promise<{ steps: string[]; breaks: string[] }> {
  const breaks: string[] = [];
  const sides = [await connect(address, breaks, 0), await connect(address, breaks, 1)];
  const steps: string[] = [];
  const name = (file: number) => `r${run}-f${file}.bin`;
  try {
    for (const op of ops) {
      // An operation on a handle goes to the other client when this one has none.
      const c = op.k !== 'open' && op.k !== 'reconnect' && !sides[op.c]!.slots.some(Boolean) ? 1 - op.c : op.c;
      const s = sides[c]!;
      const open = s.slots.flatMap((x, i) => (x ? [i] : []));
      const slot = 'slot' in op && open.length > 0 ? open[op.slot % open.length]! : -1;
      const h = slot >= 0 ? s.slots[slot] : undefined;
      if (op.k === 'reconnect') {
        await end(s);
        sides[op.c] = await connect(address, breaks, op.c);
        steps.push('reconnected');
        continue;
      }
      if (op.k === 'open') {
        const free = [...Array(SLOTS).keys()].find((i) => !s.slots[i]);
        if (free === undefined) {
          steps.push('slots full');
          continue;
        }
        const r = await s.c.create(name(op.file), {
          desiredAccess: op.access | (op.deleteOnClose ? AccessMask.DELETE : 0),
          shareAccess: op.share,
          createDisposition: CreateDisposition.OPEN_IF,
          createOptions: CreateOptions.NON_DIRECTORY_FILE | (op.deleteOnClose ? CreateOptions.DELETE_ON_CLOSE : 0),
          oplockLevel: op.oplock,
        });
        if (r.status === Status.SUCCESS) {
          const handle = { fileId: r.fileId, oplock: r.create?.oplockLevel ?? 0, n: s.handles.length };
          s.handles.push(handle);
          s.slots[free] = handle;
        }
        steps.push(`open ${statusName(r.status)} oplock ${r.create?.oplockLevel ?? '-'}`);
        continue;
      }
      if (!h) {
        steps.push('no handle');
        continue;
      }
      switch (op.k) {
        case 'close':
          s.slots[slot] = undefined;
          steps.push(`close ${statusName((await s.c.close(h.fileId)).status)}`);
          break;
        case 'write':
          steps.push(`write ${statusName((await s.c.write(h.fileId, op.at, Buffer.alloc(op.len, 0x61))).status)}`);
          break;
        case 'read':
          steps.push(`read ${statusName((await s.c.read(h.fileId, op.at, op.len)).status)}`);
          break;
        case 'lock':
        case 'unlock': {
          const flags = op.k === 'unlock' ? LockFlags.UNLOCK : (op.exclusive ? LockFlags.EXCLUSIVE_LOCK : LockFlags.SHARED_LOCK) | LockFlags.FAIL_IMMEDIATELY;
          const r = await s.c.request(Command.LOCK, (w) =>
            encodeLockRequest(w, { lockSequenceIndex: 0, lockSequenceNumber: 0, fileId: h.fileId, locks: [{ offset: BigInt(op.at), length: BigInt(op.len), flags }] }),
          );
          steps.push(`${op.k} ${statusName(r.status)}`);
          break;
        }
      }
    }
    // Breaks that need no acknowledgment may still be on their way from the other worker.
    for (let i = 0; i < 20 && expectBreaks !== undefined && breaks.length < expectBreaks; i++) await new Promise((r) => setTimeout(r, 100));
    for (const s of sides) for (const h of s.slots) if (h) await s.c.close(h.fileId).catch(() => {});
    return { steps, breaks: [...breaks].sort() };
  } finally {
    for (const s of sides) await end(s);
  }
}

const RW = AccessMask.FILE_READ_DATA | AccessMask.FILE_WRITE_DATA;
/** A sequence that reaches a break, a lock conflict, a refused lock and sharing violations, run before the random ones. */
const EXAMPLE: Op[] = [
  { k: 'open', c: 0, file: 0, access: RW, share: 7, oplock: OplockLevel.BATCH, deleteOnClose: false },
  { k: 'open', c: 1, file: 0, access: RW, share: 7, oplock: OplockLevel.NONE, deleteOnClose: false },
  { k: 'lock', c: 0, slot: 0, at: 0, len: 8, exclusive: true },
  { k: 'write', c: 1, slot: 0, at: 0, len: 8 },
  { k: 'lock', c: 1, slot: 0, at: 0, len: 8, exclusive: false },
  { k: 'write', c: 1, slot: 0, at: 16, len: 8 },
  { k: 'open', c: 0, file: 0, access: AccessMask.FILE_READ_DATA, share: 0, oplock: OplockLevel.NONE, deleteOnClose: false },
  { k: 'close', c: 0, slot: 0 },
  { k: 'open', c: 1, file: 1, access: RW, share: 7, oplock: OplockLevel.EXCLUSIVE, deleteOnClose: true },
  { k: 'open', c: 0, file: 1, access: AccessMask.FILE_READ_DATA, share: 1, oplock: OplockLevel.II, deleteOnClose: false },
  { k: 'reconnect', c: 1 },
  { k: 'open', c: 0, file: 1, access: AccessMask.FILE_READ_DATA, share: 1, oplock: OplockLevel.II, deleteOnClose: false },
];

let one: SmbkitServer;
let two: SmbkitServer;
before(async () => {
  const config = { users: [{ name: LOGIN.user, password: LOGIN.password }], shares: [{ name: LOGIN.share }] };
  one = await startSmbkit({ address: ONE, ...config, server: { workers: 1, log_level: 'warn' } });
  two = await startSmbkit({ address: TWO, ...config, server: { workers: 2, log_level: 'warn' } });
});
after(async () => {
  await one?.stop();
  await two?.stop();
});

test('two clients on two workers get what two clients of one process get', async (t) => {
  // The two clients of a sequence land on different workers (the primary hands each connection to the least loaded).
  const probe = [await RawClient.connect(TWO, 445), await RawClient.connect(TWO, 445)];
  await Promise.all(probe.map((c) => c.login(LOGIN.user, LOGIN.password, LOGIN.share)));
  const pids = await servingPids(TWO, 445);
  assert.notEqual(pids.get(probe[0]!.socket.localPort!), pids.get(probe[1]!.socket.localPort!), 'two clients, two workers');
  for (const c of probe) c.socket.destroy();

  let run = 0;
  let compared = 0;
  const seen = new Map<string, number>();
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 20 }), async (ops) => {
      run++;
      const alone = await play(ONE, ops, run);
      const split = await play(TWO, ops, run, alone.breaks.length);
      try {
        assert.deepEqual(split, alone);
      } catch (err) {
        if (process.env['COMPARE_DEBUG']) console.error(`${JSON.stringify(ops)}\none process: ${JSON.stringify(alone)}\ntwo workers: ${JSON.stringify(split)}`);
        throw err;
      }
      compared += ops.length;
      for (const x of [...alone.steps, ...alone.breaks.map((b) => b.replace(/^client \d open \d+: /, ''))]) seen.set(x, (seen.get(x) ?? 0) + 1);
    }),
    { numRuns: Number(process.env.COMPARE_RUNS ?? 150), interruptAfterTimeLimit: 120_000, examples: [[EXAMPLE]] },
  );
  t.diagnostic(`${run} sequences, ${compared} steps compared`);
  t.diagnostic(`outcomes ${JSON.stringify(Object.fromEntries([...seen].sort()))}`);
  // The sequences reach the cases that matter: conflicts, locks and breaks.
  for (const x of ['open STATUS_SHARING_VIOLATION oplock -', 'lock STATUS_LOCK_NOT_GRANTED', 'write STATUS_FILE_LOCK_CONFLICT']) assert.ok(seen.has(x), x);
  assert.ok([...seen.keys()].some((k) => k.startsWith('break')), 'breaks');
});
