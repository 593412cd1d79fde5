import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { readWhole } from '../../src/store/contract.js';
import { LocalStore } from '../../src/store/local.js';
import { MemoryStore } from '../../src/store/memory.js';
import type { FileStore } from '../../src/store/types.js';
import { errorCode } from '../../src/store/types.js';

type Op =
  | { op: 'mkdir'; p: string }
  | { op: 'write'; p: string; pos: number; data: Uint8Array; stream: string }
  | { op: 'create'; p: string; exclusive: boolean }
  | { op: 'truncate'; p: string; size: number }
  | { op: 'unlink'; p: string }
  | { op: 'rmdir'; p: string }
  | { op: 'rename'; from: string; to: string; replace: boolean }
  | { op: 'attributes'; p: string; attributes: number }
  | { op: 'deleteStream'; p: string; stream: string };

const name = fc.constantFrom('a', 'b', 'B', 'c');
const path = fc.array(name, { minLength: 1, maxLength: 3 }).map((parts) => parts.join('/'));
const stream = fc.constantFrom('', '', 's', 'S', 't');
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('mkdir' as const), p: path }),
  fc.record({
    op: fc.constant('write' as const),
    p: path,
    pos: fc.nat(20),
    data: fc.uint8Array({ minLength: 0, maxLength: 12 }),
    stream,
  }),
  fc.record({ op: fc.constant('create' as const), p: path, exclusive: fc.boolean() }),
  fc.record({ op: fc.constant('truncate' as const), p: path, size: fc.nat(30) }),
  fc.record({ op: fc.constant('unlink' as const), p: path }),
  fc.record({ op: fc.constant('rmdir' as const), p: path }),
  fc.record({ op: fc.constant('rename' as const), from: path, to: path, replace: fc.boolean() }),
  fc.record({ op: fc.constant('attributes' as const), p: path, attributes: fc.constantFrom(0, 0x1, 0x2, 0x22, 0x10) }),
  fc.record({ op: fc.constant('deleteStream' as const), p: path, stream: fc.constantFrom('s', 'T') }),
);

async function apply(store: FileStore, o: Op): Promise<string> {
  try {
    switch (o.op) {
      case 'mkdir':
        await store.mkdir(o.p);
        break;
      case 'write': {
        const h = await store.open(o.p, { write: true, create: 'always', ...(o.stream !== '' ? { stream: o.stream } : {}) });
        try {
          await h.write(Buffer.from(o.data), o.pos);
        } finally {
          await h.close();
        }
        break;
      }
      case 'create':
        await (await store.open(o.p, { write: true, create: o.exclusive ? 'new' : 'always', truncate: true })).close();
        break;
      case 'truncate': {
        const h = await store.open(o.p, { write: true });
        try {
          await h.truncate(o.size);
        } finally {
          await h.close();
        }
        break;
      }
      case 'unlink':
        await store.unlink(o.p);
        break;
      case 'rmdir':
        await store.rmdir(o.p);
        break;
      case 'rename':
        await store.rename(o.from, o.to, { replace: o.replace });
        break;
      case 'attributes':
        await store.setAttributes(o.p, o.attributes);
        break;
      case 'deleteStream':
        await store.deleteStream?.(o.p, o.stream);
        break;
    }
    return 'ok';
  } catch (err) {
    return errorCode(err) ?? String(err);
  }
}

/** The whole tree as plain data: names, types, contents, attributes and streams. */
async function tree(store: FileStore, dir = ''): Promise<unknown> {
  const out: Record<string, unknown> = {};
  for (const e of (await store.readdir(dir)).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = dir === '' ? e.name : `${dir}/${e.name}`;
    const streams: Record<string, string> = {};
    for (const s of (await store.listStreams?.(p)) ?? []) streams[s.name] = (await readWhole(store, p, s.name)).toString('hex');
    out[e.name] = {
      type: e.stat.type,
      attributes: e.stat.dosAttributes,
      streams,
      content: e.stat.type === 'directory' ? await tree(store, p) : (await readWhole(store, p)).toString('hex'),
    };
  }
  return out;
}

test('random operations leave MemoryStore and LocalStore with the same tree and the same errors', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 30 }), async (ops) => {
      const root = await mkdtemp(join(tmpdir(), 'smbkit-prop-'));
      const local = new LocalStore(root);
      const memory = new MemoryStore();
      try {
        for (const [i, o] of ops.entries()) {
          const a = await apply(memory, o);
          const b = await apply(local, o);
          assert.equal(b, a, `step ${i} ${JSON.stringify(o)}: local ${b}, memory ${a}`);
        }
        assert.deepEqual(await tree(local), await tree(memory));
      } finally {
        await local.close();
        await rm(root, { recursive: true, force: true });
      }
    }),
    { numRuns: 60, includeErrorInReport: true },
  );
});
