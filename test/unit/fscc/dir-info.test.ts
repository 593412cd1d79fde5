import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WireError } from '../../../src/errors.js';
import {
  DirectoryListingEncoder,
  decodeDirectoryListing,
  dirInfoFixedSize,
  encodeDirectoryListing,
  isSupportedDirInfoClass,
  type DirEntryFacts,
} from '../../../src/protocol/smb2/fscc/dir-info.js';
import { FileInfoClass } from '../../../src/protocol/smb2/fscc/file-info.js';

const entry = (fileName: string, extra: Partial<DirEntryFacts> = {}): DirEntryFacts => ({
  fileName,
  creationTime: 1n,
  lastAccessTime: 2n,
  lastWriteTime: 3n,
  changeTime: 4n,
  endOfFile: 5n,
  allocationSize: 4096n,
  fileAttributes: 0x20,
  eaSize: 0,
  fileId: 0x99n,
  fileIndex: 0,
  ...extra,
});

const CLASSES = [1, 2, 3, 12, 37, 38, 60];

test('fixed sizes match MS-FSCC', () => {
  assert.equal(dirInfoFixedSize(FileInfoClass.FileDirectoryInformation), 64);
  assert.equal(dirInfoFixedSize(FileInfoClass.FileFullDirectoryInformation), 68);
  assert.equal(dirInfoFixedSize(FileInfoClass.FileBothDirectoryInformation), 94);
  assert.equal(dirInfoFixedSize(FileInfoClass.FileNamesInformation), 12);
  assert.equal(dirInfoFixedSize(FileInfoClass.FileIdBothDirectoryInformation), 104);
  assert.equal(dirInfoFixedSize(FileInfoClass.FileIdFullDirectoryInformation), 80);
  assert.equal(dirInfoFixedSize(FileInfoClass.FileIdExtdDirectoryInformation), 88);
  for (const c of CLASSES) {
    assert.equal(isSupportedDirInfoClass(c), true);
    // a one-letter name: fixed + 2 bytes, no trailing padding
    assert.equal(encodeDirectoryListing(c, [entry('a')]).length, dirInfoFixedSize(c)! + 2);
  }
  assert.equal(isSupportedDirInfoClass(4), false);
});

test('FileIdBothDirectoryInformation byte layout', () => {
  const b = encodeDirectoryListing(37, [entry('file.txt', { shortName: 'FILE.TXT', fileIndex: 7, eaSize: 3 })]);
  assert.equal(b.readUInt32LE(0), 0);
  assert.equal(b.readUInt32LE(4), 7);
  assert.equal(b.readBigUInt64LE(8), 1n);
  assert.equal(b.readBigUInt64LE(32), 4n);
  assert.equal(b.readBigUInt64LE(40), 5n);
  assert.equal(b.readBigUInt64LE(48), 4096n);
  assert.equal(b.readUInt32LE(56), 0x20);
  assert.equal(b.readUInt32LE(60), 16);
  assert.equal(b.readUInt32LE(64), 3);
  assert.equal(b[68], 16);
  assert.equal(b[69], 0);
  assert.equal(b.toString('utf16le', 70, 86), 'FILE.TXT');
  assert.ok(b.subarray(86, 96).every((x) => x === 0)); // rest of ShortName + Reserved2
  assert.equal(b.readBigUInt64LE(96), 0x99n);
  assert.equal(b.toString('utf16le', 104), 'file.txt');
});

test('entries are 8-byte aligned and chained; the last NextEntryOffset is 0', () => {
  for (const c of CLASSES) {
    const es = [entry('a'), entry('bb'), entry('.'), entry('..'), entry('ünïcødé name.txt')];
    const b = encodeDirectoryListing(c, es);
    let off = 0;
    let n = 0;
    for (;;) {
      assert.equal(off % 8, 0);
      n++;
      const next = b.readUInt32LE(off);
      if (next === 0) break;
      off += next;
    }
    assert.equal(n, es.length);
    const back = decodeDirectoryListing(b, c);
    assert.deepEqual(back.map((e) => e.fileName), es.map((e) => e.fileName));
  }
});

test('round trip keeps every field the class carries', () => {
  const es = [
    entry('x', { shortName: 'X', fileIndex: 1, eaSize: 12, fileId: 1234n }),
    entry('link', { fileAttributes: 0x420, reparseTag: 0xa000000c, eaSize: 0, fileId: 5n }),
  ];
  const both = decodeDirectoryListing(encodeDirectoryListing(37, es), 37);
  assert.deepEqual(both[0], es[0]);
  assert.equal(both[1]!.reparseTag, 0xa000000c);
  assert.equal(both[1]!.fileId, 5n);
  const full = decodeDirectoryListing(encodeDirectoryListing(38, es), 38);
  assert.equal(full[0]!.fileId, 1234n);
  assert.equal(full[0]!.eaSize, 12);
  const extd = decodeDirectoryListing(encodeDirectoryListing(60, es), 60);
  assert.equal(extd[1]!.reparseTag, 0xa000000c);
  assert.equal(extd[0]!.fileId, 1234n);
});

test('the encoder stops at maxOutputLength and only includes whole entries', () => {
  // FileDirectoryInformation: 'a' -> 66 bytes; the second starts at 72 and ends at 138
  const enc = new DirectoryListingEncoder(1, 137);
  assert.equal(enc.add(entry('a')), true);
  assert.equal(enc.add(entry('b')), false);
  assert.equal(enc.count, 1);
  assert.equal(enc.finish().length, 66);
  const enc2 = new DirectoryListingEncoder(1, 138);
  assert.equal(enc2.add(entry('a')), true);
  assert.equal(enc2.add(entry('b')), true);
  const b = enc2.finish();
  assert.equal(b.length, 138);
  assert.equal(b.readUInt32LE(0), 72);
  const none = new DirectoryListingEncoder(12, 13);
  assert.equal(none.add(entry('ab')), false);
  assert.equal(none.finish().length, 0);
  assert.throws(() => new DirectoryListingEncoder(4, 100), RangeError);
});

test('decoder rejects bad NextEntryOffset and truncation', () => {
  const b = Buffer.from(encodeDirectoryListing(1, [entry('a'), entry('b')]));
  const loop = Buffer.from(b);
  loop.writeUInt32LE(8, 0); // does not pass the entry's own bytes
  assert.throws(() => decodeDirectoryListing(loop, 1), WireError);
  const out = Buffer.from(b);
  out.writeUInt32LE(1000, 0);
  assert.throws(() => decodeDirectoryListing(out, 1), WireError);
  assert.throws(() => decodeDirectoryListing(b.subarray(0, 100), 1), WireError);
  const longName = Buffer.from(b);
  longName.writeUInt32LE(400, 60);
  assert.throws(() => decodeDirectoryListing(longName, 1), WireError);
  assert.deepEqual(decodeDirectoryListing(Buffer.alloc(0), 1), []);
});
