import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WireError } from '../../../src/errors.js';
import { Status } from '../../../src/protocol/nt-status.js';
import {
  FileInfoClass,
  decodeFileInfo,
  decodeSetFileInfo,
  encodeFileInfo,
  encodeSetFileInfo,
  fileInfoMinSize,
  queryFileInfo,
  setFileInfoClass,
  streamWireName,
  type FileFacts,
  type SetFileInfo,
} from '../../../src/protocol/smb2/fscc/file-info.js';
import { Reader } from '../../../src/util/reader.js';
import { Writer } from '../../../src/util/writer.js';

const facts: FileFacts = {
  creationTime: 0x01d0000000000001n,
  lastAccessTime: 0x01d0000000000002n,
  lastWriteTime: 0x01d0000000000003n,
  changeTime: 0x01d0000000000004n,
  fileAttributes: 0x20,
  allocationSize: 4096n,
  endOfFile: 1234n,
  numberOfLinks: 1,
  deletePending: false,
  directory: false,
  indexNumber: 0x1122334455667788n,
  eaSize: 0,
  accessFlags: 0x001f01ff,
  currentByteOffset: 77n,
  mode: 0x20,
  alignmentRequirement: 0,
  name: '\\dir\\a.txt',
  volumeSerialNumber: 0xabcd1234,
};

function enc(cls: number, f: FileFacts = facts): Buffer {
  const w = new Writer(16);
  assert.equal(encodeFileInfo(w, cls, f), true);
  return Buffer.from(w.finish());
}

test('fixed sizes match MS-FSCC', () => {
  assert.equal(enc(FileInfoClass.FileBasicInformation).length, 40);
  assert.equal(enc(FileInfoClass.FileStandardInformation).length, 24);
  assert.equal(enc(FileInfoClass.FileInternalInformation).length, 8);
  assert.equal(enc(FileInfoClass.FileEaInformation).length, 4);
  assert.equal(enc(FileInfoClass.FileAccessInformation).length, 4);
  assert.equal(enc(FileInfoClass.FilePositionInformation).length, 8);
  assert.equal(enc(FileInfoClass.FileModeInformation).length, 4);
  assert.equal(enc(FileInfoClass.FileAlignmentInformation).length, 4);
  assert.equal(enc(FileInfoClass.FileNetworkOpenInformation).length, 56);
  assert.equal(enc(FileInfoClass.FileAttributeTagInformation).length, 8);
  assert.equal(enc(FileInfoClass.FileCompressionInformation).length, 16);
  assert.equal(enc(FileInfoClass.FileIdInformation).length, 24);
  assert.equal(enc(FileInfoClass.FileStatInformation).length, 72);
  const nameBytes = Buffer.byteLength(facts.name, 'utf16le');
  assert.equal(enc(FileInfoClass.FileAllInformation).length, 100 + nameBytes);
  assert.equal(enc(FileInfoClass.FileNameInformation).length, 4 + nameBytes);
  for (const cls of [4, 5, 6, 7, 8, 14, 16, 17, 34, 35, 28, 59, 68]) {
    assert.equal(fileInfoMinSize(cls), enc(cls).length, `class ${cls}`);
  }
  assert.equal(fileInfoMinSize(FileInfoClass.FileAllInformation), 104);
  assert.equal(fileInfoMinSize(999), undefined);
});

test('FileBasicInformation bytes', () => {
  const b = enc(FileInfoClass.FileBasicInformation);
  assert.equal(b.readBigUInt64LE(0), facts.creationTime);
  assert.equal(b.readBigUInt64LE(8), facts.lastAccessTime);
  assert.equal(b.readBigUInt64LE(16), facts.lastWriteTime);
  assert.equal(b.readBigUInt64LE(24), facts.changeTime);
  assert.equal(b.readUInt32LE(32), 0x20);
  assert.equal(b.readUInt32LE(36), 0);
});

test('FileStandardInformation bytes (2 reserved bytes)', () => {
  const b = enc(FileInfoClass.FileStandardInformation, { ...facts, deletePending: true, directory: true, numberOfLinks: 3 });
  assert.deepEqual(
    b,
    Buffer.from('0010000000000000' + 'd204000000000000' + '03000000' + '0101' + '0000', 'hex'),
  );
});

test('FileAllInformation layout', () => {
  const b = enc(FileInfoClass.FileAllInformation);
  assert.equal(b.readBigUInt64LE(0), facts.creationTime);
  assert.equal(b.readBigUInt64LE(40), facts.allocationSize); // Standard starts at 40
  assert.equal(b.readBigUInt64LE(64), facts.indexNumber); // Internal at 64
  assert.equal(b.readUInt32LE(72), facts.eaSize); // Ea at 72
  assert.equal(b.readUInt32LE(76), facts.accessFlags); // Access at 76
  assert.equal(b.readBigUInt64LE(80), facts.currentByteOffset); // Position at 80
  assert.equal(b.readUInt32LE(88), facts.mode); // Mode at 88
  assert.equal(b.readUInt32LE(92), facts.alignmentRequirement); // Alignment at 92
  assert.equal(b.readUInt32LE(96), Buffer.byteLength(facts.name, 'utf16le'));
  assert.equal(b.toString('utf16le', 100), facts.name);
});

test('FileNetworkOpenInformation layout', () => {
  const b = enc(FileInfoClass.FileNetworkOpenInformation);
  assert.equal(b.readBigUInt64LE(32), 4096n);
  assert.equal(b.readBigUInt64LE(40), 1234n);
  assert.equal(b.readUInt32LE(48), 0x20);
  assert.equal(b.readUInt32LE(52), 0);
});

test('FileIdInformation defaults FileId to the 64-bit id zero-extended', () => {
  const b = enc(FileInfoClass.FileIdInformation);
  assert.equal(b.readBigUInt64LE(0), 0xabcd1234n);
  assert.equal(b.readBigUInt64LE(8), facts.indexNumber);
  assert.equal(b.readBigUInt64LE(16), 0n);
});

test('FileStreamInformation: default stream, named streams, 8-byte alignment', () => {
  const b = enc(FileInfoClass.FileStreamInformation, {
    ...facts,
    streams: [
      { name: '', size: 10n, allocationSize: 4096n },
      { name: 'abc', size: 3n, allocationSize: 8n },
    ],
  });
  // first entry: 24 + '::$DATA' (14 bytes) = 38 -> next at 40
  assert.equal(b.readUInt32LE(0), 40);
  assert.equal(b.readUInt32LE(4), 14);
  assert.equal(b.readBigUInt64LE(8), 10n);
  assert.equal(b.toString('utf16le', 24, 38), '::$DATA');
  assert.equal(b.readUInt32LE(40), 0);
  assert.equal(b.toString('utf16le', 64, 64 + b.readUInt32LE(44)), ':abc:$DATA');
  assert.equal(b.length, 64 + 20);
  const back = decodeFileInfo(new Reader(b), FileInfoClass.FileStreamInformation);
  assert.deepEqual(back.streams?.map((s) => s.name), ['::$DATA', ':abc:$DATA']);
  // a directory without streams lists none
  assert.equal(enc(FileInfoClass.FileStreamInformation, { ...facts, directory: true }).length, 0);
  assert.equal(streamWireName(':x:$DATA'), ':x:$DATA');
  assert.equal(streamWireName(':x'), ':x:$DATA');
});

test('queryFileInfo: INFO_LENGTH_MISMATCH below the fixed part, BUFFER_OVERFLOW on a cut name', () => {
  assert.equal(queryFileInfo(FileInfoClass.FileBasicInformation, facts, 39).status, Status.INFO_LENGTH_MISMATCH);
  const ok = queryFileInfo(FileInfoClass.FileBasicInformation, facts, 40);
  assert.equal(ok.status, Status.SUCCESS);
  assert.equal(ok.data.length, 40);
  const cut = queryFileInfo(FileInfoClass.FileAllInformation, facts, 104);
  assert.equal(cut.status, Status.BUFFER_OVERFLOW);
  assert.equal(cut.data.length, 104);
  assert.equal(cut.data.readUInt32LE(96), Buffer.byteLength(facts.name, 'utf16le'));
  assert.equal(queryFileInfo(FileInfoClass.FileAllInformation, facts, 99).status, Status.INFO_LENGTH_MISMATCH);
  assert.equal(queryFileInfo(200, facts, 1000).status, Status.INVALID_INFO_CLASS);
  assert.equal(queryFileInfo(FileInfoClass.FileAlternateNameInformation, facts, 100).status, Status.OBJECT_NAME_NOT_FOUND);
  const two = { ...facts, streams: [{ name: '', size: 1n, allocationSize: 1n }, { name: 'long', size: 1n, allocationSize: 1n }] };
  const s = queryFileInfo(FileInfoClass.FileStreamInformation, two, 50);
  assert.equal(s.status, Status.BUFFER_OVERFLOW);
  assert.equal(s.data.length, 38);
  assert.equal(s.data.readUInt32LE(0), 0);
});

test('query classes decode back to the facts they carry', () => {
  for (const cls of [4, 5, 6, 7, 8, 9, 14, 16, 17, 18, 34, 35, 68]) {
    const back = decodeFileInfo(new Reader(enc(cls)), cls);
    for (const [k, v] of Object.entries(back)) {
      if (k === 'reparseTag') continue;
      assert.deepEqual(v, facts[k as keyof FileFacts], `class ${cls} field ${k}`);
    }
  }
});

test('SET_INFO: FileBasicInformation with -1 / -2 / 0 times', () => {
  const w = new Writer();
  w.i64(0).i64(-1).i64(-2).i64(123).u32(0x80).u32(0);
  const info = decodeSetFileInfo(new Reader(w.finish()), FileInfoClass.FileBasicInformation);
  assert.deepEqual(info, {
    kind: 'basic', creationTime: 0n, lastAccessTime: -1n, lastWriteTime: -2n, changeTime: 123n, fileAttributes: 0x80,
  });
});

test('SET_INFO: FileRenameInformation uses the 64-bit layout', () => {
  const name = Buffer.from('new\\name.txt', 'utf16le');
  const buf = Buffer.concat([
    Buffer.from('01' + '00000000000000' + '0000000000000000', 'hex'),
    Buffer.from([name.length, 0, 0, 0]),
    name,
  ]);
  assert.deepEqual(decodeSetFileInfo(new Reader(buf), FileInfoClass.FileRenameInformation), {
    kind: 'rename', replaceIfExists: true, rootDirectory: 0n, fileName: 'new\\name.txt',
  });
  assert.deepEqual(decodeSetFileInfo(new Reader(buf), FileInfoClass.FileLinkInformation).kind, 'link');
  const ex = decodeSetFileInfo(new Reader(buf), FileInfoClass.FileRenameInformationEx);
  assert.deepEqual(ex, { kind: 'renameEx', flags: 1, rootDirectory: 0n, fileName: 'new\\name.txt' });
  // name length past the buffer
  const bad = Buffer.from(buf);
  bad.writeUInt32LE(1000, 16);
  assert.throws(() => decodeSetFileInfo(new Reader(bad), FileInfoClass.FileRenameInformation), (e: unknown) =>
    e instanceof WireError && e.status === Status.INVALID_PARAMETER);
});

test('SET_INFO: short input is INFO_LENGTH_MISMATCH', () => {
  const cases: [number, number][] = [[4, 39], [20, 7], [19, 7], [13, 0], [64, 3], [10, 19], [14, 7], [16, 3]];
  for (const [cls, len] of cases) {
    assert.throws(
      () => decodeSetFileInfo(new Reader(Buffer.alloc(len)), cls),
      (e: unknown) => e instanceof WireError && e.status === Status.INFO_LENGTH_MISMATCH,
      `class ${cls}`,
    );
  }
  assert.deepEqual(decodeSetFileInfo(new Reader(Buffer.alloc(8)), 999), { kind: 'unsupported', infoClass: 999 });
});

test('SET_INFO round trips', () => {
  const values: SetFileInfo[] = [
    { kind: 'basic', creationTime: 1n, lastAccessTime: -1n, lastWriteTime: 0n, changeTime: -2n, fileAttributes: 0x21 },
    { kind: 'endOfFile', endOfFile: 1n << 40n },
    { kind: 'allocation', allocationSize: 0n },
    { kind: 'validDataLength', validDataLength: 9n },
    { kind: 'disposition', deletePending: true },
    { kind: 'dispositionEx', flags: 0x13 },
    { kind: 'rename', replaceIfExists: false, rootDirectory: 0n, fileName: 'ä\\b' },
    { kind: 'link', replaceIfExists: true, rootDirectory: 5n, fileName: 'x' },
    { kind: 'renameEx', flags: 3, rootDirectory: 0n, fileName: 'y' },
    { kind: 'linkEx', flags: 1, rootDirectory: 0n, fileName: 'z' },
    { kind: 'position', currentByteOffset: 100n },
    { kind: 'mode', mode: 0x1000 },
    { kind: 'shortName', fileName: 'ABC~1.TXT' },
    { kind: 'fullEa', eas: [{ flags: 0, name: 'user.a', value: Buffer.from('1') }, { flags: 0x80, name: 'B', value: Buffer.alloc(0) }] },
    { kind: 'pipe', readMode: 1, completionMode: 0 },
  ];
  for (const v of values) {
    const w = new Writer(8);
    encodeSetFileInfo(w, v);
    assert.deepEqual(decodeSetFileInfo(new Reader(w.finish()), setFileInfoClass(v)), v);
  }
});

test('negative sizes are rejected', () => {
  const w = new Writer();
  w.i64(-5);
  assert.throws(() => decodeSetFileInfo(new Reader(w.finish()), FileInfoClass.FileEndOfFileInformation), WireError);
});
