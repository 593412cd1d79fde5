import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WireError } from '../../../src/errors.js';
import { chainCompound, chainCompoundBuffers, splitCompound } from '../../../src/protocol/smb2/compound.js';
import { encodeHeader, emptyHeader } from '../../../src/protocol/smb2/header.js';
import { Writer } from '../../../src/util/writer.js';

function message(bodyLength: number, command: number): Buffer {
  const w = new Writer();
  encodeHeader(w, { ...emptyHeader(), command });
  w.zeros(bodyLength);
  return Buffer.from(w.finish());
}

test('chain then split gives back each message', () => {
  const msgs = [message(9, 5), message(24, 6), message(3, 16)];
  const lengths = msgs.map((m) => m.length);
  const chained = chainCompoundBuffers(msgs);
  const frame = Buffer.concat(chained);
  const parts = splitCompound(frame);
  assert.equal(parts.length, 3);
  assert.deepStrictEqual(parts.map((p) => p.start % 8), [0, 0, 0]);
  assert.equal(parts[0]!.end - parts[0]!.start, 80); // 73 padded to 80
  assert.equal(parts[1]!.end - parts[1]!.start, 88);
  assert.equal(parts[2]!.end - parts[2]!.start, lengths[2]); // the last is not padded
  assert.deepStrictEqual(parts.map((p) => frame.readUInt16LE(p.start + 12)), [5, 6, 16]);
  assert.equal(frame.readUInt32LE(parts[2]!.start + 20), 0);
});

test('chainCompound pads chunk lists and patches the header chunk', () => {
  const a = message(0, 8);
  const data = Buffer.alloc(5, 0xaa);
  const b = message(4, 6);
  const out = chainCompound([[a, data], [b]]);
  assert.equal(out[0]!.length, 3); // header, data, padding
  assert.equal(a.readUInt32LE(20), 72);
  assert.equal(b.readUInt32LE(20), 0);
  const frame = Buffer.concat(out.flat());
  assert.deepStrictEqual(splitCompound(frame), [
    { start: 0, end: 72 },
    { start: 72, end: 140 },
  ]);
});

test('splitCompound rejects bad NextCommand values', () => {
  const m = Buffer.concat(chainCompoundBuffers([message(8, 1), message(8, 2)]));
  const unaligned = Buffer.from(m);
  unaligned.writeUInt32LE(68, 20);
  assert.throws(() => splitCompound(unaligned), WireError);
  const past = Buffer.from(m);
  past.writeUInt32LE(m.length, 20);
  assert.throws(() => splitCompound(past), WireError);
  const small = Buffer.from(m);
  small.writeUInt32LE(8, 20);
  assert.throws(() => splitCompound(small), WireError);
  assert.throws(() => splitCompound(Buffer.alloc(10)), WireError);
  // the second message claims a NextCommand but what follows is shorter than a header
  const tail = Buffer.concat([m, Buffer.alloc(8)]);
  tail.writeUInt32LE(72, 72 + 20);
  assert.throws(() => splitCompound(tail), WireError);
});
