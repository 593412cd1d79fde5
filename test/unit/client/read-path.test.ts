/**
 * The client's bulk read path in isolation: the frame reader puts a large frame's payload straight into its own
 * buffer (only the headers of a large frame that follows another are read into the stage), and the read-ahead
 * hands chunks on in order with the next READs already sent, re-reading after a short answer; a WRITE gathered
 * from several buffers (write streams) continues after a short count.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { SmbRequest, SmbResponse } from '../../../src/client/connection.js';
import { FileHandle, readAhead, type ChunkView } from '../../../src/client/file-handle.js';
import { Tree } from '../../../src/client/tree.js';
import { frameHeader } from '../../../src/protocol/framing.js';
import type { FileId } from '../../../src/protocol/smb2/commands/file-id.js';
import { encodeWriteResponse } from '../../../src/protocol/smb2/commands/write.js';
import { FrameReader } from '../../../src/transport/tcp.js';
import { BufferPool } from '../../../src/util/buffer-pool.js';
import { Reader } from '../../../src/util/reader.js';
import { Writer } from '../../../src/util/writer.js';

/** Feeds `wire` to a reader the way the socket does: each read fills at most `step` bytes of the buffer offered. */
function feed(reader: FrameReader, wire: Buffer, step: number): number[] {
  const offered: number[] = [];
  let at = 0;
  while (at < wire.length) {
    const into = reader.nextBuffer();
    offered.push(into.length);
    const n = Math.min(into.length, step, wire.length - at);
    wire.copy(into, 0, at, at + n);
    at += n;
    reader.received(n);
  }
  return offered;
}

test('frames of every size come out whole and in order, however the reads split them', () => {
  const messages = [randomBytes(300 * 1024), randomBytes(90), randomBytes(200 * 1024), randomBytes(200 * 1024), randomBytes(5), randomBytes(1)];
  const wire = Buffer.concat(messages.flatMap((m) => [frameHeader(m.length), m]));
  for (const step of [1, 7, 128, 4096, 65_536, 1 << 20]) {
    const got: Buffer[] = [];
    const reader = new FrameReader(false, 1 << 24, (_t, p) => got.push(Buffer.from(p)), new BufferPool());
    feed(reader, wire, step);
    assert.deepEqual(got, messages, `reads of ${step} bytes`);
  }
});

test('after a large frame only the next frame headers are read into the stage', () => {
  const large = [randomBytes(1 << 20), randomBytes(1 << 20), randomBytes(1 << 20)];
  const wire = Buffer.concat(large.flatMap((m) => [frameHeader(m.length), m]));
  const got: Buffer[] = [];
  const pool = new BufferPool();
  const reader = new FrameReader(false, 1 << 24, (_t, p) => got.push(p), pool);
  const offered = feed(reader, wire, 1 << 22);
  assert.deepEqual(got, large);
  // The first read gets the stage; each later large frame starts with a read of at most 128 bytes, and the rest
  // of its payload is read straight into its own buffer (one read each here).
  assert.equal(offered.length, 6);
  assert.ok(offered[2]! <= 128 && offered[4]! <= 128, `reads offered: ${offered.join(', ')}`);
});

/** A file handle stand-in that answers READs from `data`, shortening the answers at the offsets in `shortAt`. */
function fakeHandle(data: Buffer, readSize: number, shortAt: Set<number>, log: string[]): FileHandle {
  return {
    tuning: { readSize, writeSize: readSize, concurrency: 2, uploadConcurrency: 2, listSize: 4096 },
    readChunkView: async (offset: number, length: number): Promise<ChunkView> => {
      log.push(`read ${offset}`);
      await new Promise((r) => setImmediate(r));
      const end = Math.min(data.length, offset + (shortAt.has(offset) ? Math.floor(length / 2) : length));
      return { data: data.subarray(offset, Math.max(offset, end)), release: () => log.push(`release ${offset}`) };
    },
  } as unknown as FileHandle;
}

test('read-ahead yields the bytes in order, with the next READs sent before a chunk is handed on', async () => {
  const data = randomBytes(10_000);
  const log: string[] = [];
  const out: Buffer[] = [];
  for await (const c of readAhead(fakeHandle(data, 1000, new Set(), log), 0, data.length, 3)) {
    out.push(Buffer.from(c.data));
    c.release();
  }
  assert.deepEqual(Buffer.concat(out), data);
  // When the first chunk is handed on, the READs at 0..3000 are out: the window is full while it is consumed.
  assert.deepEqual(log.slice(0, 5), ['read 0', 'read 1000', 'read 2000', 'read 3000', 'release 0']);
});

test('read-ahead re-reads after a short answer, stops at end of file, and releases what it did not hand on', async () => {
  const data = randomBytes(9_500);
  const log: string[] = [];
  const out: Buffer[] = [];
  // The READ at 2000 answers half; the file ends at 9500 although 12000 bytes are asked for.
  for await (const c of readAhead(fakeHandle(data, 1000, new Set([2000]), log), 0, 12_000, 4)) {
    out.push(Buffer.from(c.data));
    c.release();
  }
  assert.deepEqual(Buffer.concat(out), data);
  assert.ok(log.includes('read 2500'), 'the rest of the short chunk is asked for again');
  const reads = log.filter((l) => l.startsWith('read')).length;
  assert.equal(log.filter((l) => l.startsWith('release')).length, reads, 'every answer is released once');

  const early: string[] = [];
  for await (const c of readAhead(fakeHandle(data, 1000, new Set(), early), 0, data.length, 4)) {
    c.release();
    break;
  }
  assert.equal(early.filter((l) => l.startsWith('release')).length, early.filter((l) => l.startsWith('read')).length);
});

test('a WRITE gathered from several buffers is continued from the right byte after a short count', async () => {
  const file = Buffer.alloc(5000);
  const parts = [randomBytes(1500), randomBytes(10), randomBytes(2490)];
  const sent: number[] = [];
  const tree = {
    session: {},
    writeRequest: Tree.prototype.writeRequest,
    check: (r: SmbResponse) => r,
    // A server that takes at most 700 bytes of each WRITE.
    send: async (build: () => SmbRequest): Promise<SmbResponse> => {
      const req = build();
      const w = new Writer(64);
      req.body(w);
      const head = w.finish();
      const offset = Number(head.readBigUInt64LE(8));
      const data = Buffer.concat(req.payload ?? []);
      assert.equal(head.readUInt32LE(4), data.length, 'DataLength is the gathered length');
      const count = Math.min(700, data.length);
      data.copy(file, offset, 0, count);
      sent.push(offset);
      const r = new Writer(16);
      encodeWriteResponse(r, { count, remaining: 0 });
      return { body: new Reader(r.finish()) } as SmbResponse;
    },
  };
  const h = new FileHandle(tree as unknown as Tree, { persistent: 0n, volatile: 0n } as FileId, 'f', { append: false, size: 0, onClose: () => {} });
  await h.writeChunk(1000, parts);
  assert.deepEqual(file.subarray(1000), Buffer.concat(parts));
  assert.deepEqual(sent, [1000, 1700, 2400, 3100, 3800, 4500]);
});
