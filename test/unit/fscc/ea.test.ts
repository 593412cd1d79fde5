import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WireError } from '../../../src/errors.js';
import { Status } from '../../../src/protocol/nt-status.js';
import {
  decodeFullEaList,
  decodeGetEaList,
  encodeFullEaList,
  encodeGetEaList,
  FILE_NEED_EA,
} from '../../../src/protocol/smb2/fscc/ea.js';
import { Reader } from '../../../src/util/reader.js';
import { Writer } from '../../../src/util/writer.js';

// Vectors written out by hand from MS-FSCC 2.4.15 / 2.4.15.1, not produced by the encoder under test.

/** "AB" = [01] (flags 0), then "C" = [02 03] (FILE_NEED_EA): 12 bytes each, the first needs no padding. */
const TWO_EAS = Buffer.from([
  0x0c, 0x00, 0x00, 0x00, /* NextEntryOffset 12 */ 0x00, /* Flags */ 0x02, /* EaNameLength */ 0x01, 0x00, /* EaValueLength */
  0x41, 0x42, 0x00, /* "AB\0" */ 0x01, /* value */
  0x00, 0x00, 0x00, 0x00, 0x80, 0x01, 0x02, 0x00, 0x43, 0x00, 0x02, 0x03,
]);

/** "A" = [09]: 11 bytes, padded with one zero to 12; then "XY" with an empty value (8 + 2 + 1 = 11 bytes, last). */
const PADDED = Buffer.from([
  0x0c, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00, 0x41, 0x00, 0x09, /* pad */ 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x58, 0x59, 0x00,
]);

/** FILE_GET_EA_INFORMATION "AB" (5 + 3 = 8 bytes), then "C" (7 bytes, last). */
const GET_LIST = Buffer.from([0x08, 0x00, 0x00, 0x00, 0x02, 0x41, 0x42, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x43, 0x00]);

function encodeFull(eas: Parameters<typeof encodeFullEaList>[1]): Buffer {
  const w = new Writer();
  encodeFullEaList(w, eas);
  return Buffer.from(w.finish());
}

function inconsistent(fn: () => unknown): void {
  assert.throws(fn, (err: unknown) => err instanceof WireError && err.status === Status.EA_LIST_INCONSISTENT);
}

test('FILE_FULL_EA_INFORMATION: decodes a hand-built list', () => {
  const eas = decodeFullEaList(new Reader(TWO_EAS));
  assert.deepEqual(
    eas.map((e) => ({ flags: e.flags, name: e.name, value: [...e.value] })),
    [
      { flags: 0, name: 'AB', value: [1] },
      { flags: FILE_NEED_EA, name: 'C', value: [2, 3] },
    ],
  );
  assert.deepEqual(
    decodeFullEaList(new Reader(PADDED)).map((e) => [e.name, e.value.length]),
    [
      ['A', 1],
      ['XY', 0],
    ],
  );
});

test('FILE_FULL_EA_INFORMATION: encodes to the same bytes, padding between entries only', () => {
  assert.deepEqual(encodeFull([{ flags: 0, name: 'AB', value: Buffer.from([1]) }, { flags: 0x80, name: 'C', value: Buffer.from([2, 3]) }]), TWO_EAS);
  const padded = [
    { flags: 0, name: 'A', value: Buffer.from([9]) },
    { flags: 0, name: 'XY', value: Buffer.alloc(0) },
  ];
  assert.deepEqual(encodeFull(padded), PADDED);
  assert.deepEqual(encodeFull([]), Buffer.alloc(0));
});

test('FILE_FULL_EA_INFORMATION: names and values too long for their fields are refused by the encoder', () => {
  assert.throws(() => encodeFull([{ flags: 0, name: 'N'.repeat(256), value: Buffer.alloc(0) }]), RangeError);
  assert.throws(() => encodeFull([{ flags: 0, name: 'N', value: Buffer.alloc(0x10000) }]), RangeError);
});

test('FILE_FULL_EA_INFORMATION: malformed lists are STATUS_EA_LIST_INCONSISTENT', () => {
  const bad = (patch: (b: Buffer) => void): Buffer => {
    const b = Buffer.from(TWO_EAS);
    patch(b);
    return b;
  };
  inconsistent(() => decodeFullEaList(new Reader(bad((b) => b.writeUInt32LE(13, 0))))); // unaligned
  inconsistent(() => decodeFullEaList(new Reader(bad((b) => b.writeUInt32LE(8, 0))))); // inside its own entry
  inconsistent(() => decodeFullEaList(new Reader(bad((b) => b.writeUInt32LE(24, 0))))); // past the end
  inconsistent(() => decodeFullEaList(new Reader(bad((b) => (b[10] = 0x41))))); // name without its NUL
  inconsistent(() => decodeFullEaList(new Reader(bad((b) => (b[5] = 0xff))))); // name past the end
  inconsistent(() => decodeFullEaList(new Reader(bad((b) => b.writeUInt16LE(0xffff, 18))))); // value past the end
});

test('FILE_FULL_EA_INFORMATION: every truncation is a WireError, never another exception', () => {
  for (let n = 1; n < TWO_EAS.length; n++) {
    assert.throws(() => decodeFullEaList(new Reader(TWO_EAS.subarray(0, n))), WireError, `cut at ${n}`);
  }
});

test('FILE_GET_EA_INFORMATION: decodes and encodes a hand-built list', () => {
  assert.deepEqual(decodeGetEaList(new Reader(GET_LIST)), ['AB', 'C']);
  const w = new Writer();
  encodeGetEaList(w, ['AB', 'C']);
  assert.deepEqual(Buffer.from(w.finish()), GET_LIST);
  assert.deepEqual(decodeGetEaList(new Reader(Buffer.alloc(0))), []);
  for (let n = 1; n < GET_LIST.length; n++) {
    assert.throws(() => decodeGetEaList(new Reader(GET_LIST.subarray(0, n))), WireError, `cut at ${n}`);
  }
  const unaligned = Buffer.from(GET_LIST);
  unaligned.writeUInt32LE(9, 0);
  inconsistent(() => decodeGetEaList(new Reader(unaligned)));
});
