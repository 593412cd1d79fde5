import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Status } from '../../../src/protocol/nt-status.js';
import {
  DEFAULT_FILE_SYSTEM_ATTRIBUTES,
  DeviceType,
  FsInfoClass,
  decodeFsInfo,
  decodeSetFsInfo,
  encodeFsInfo,
  fsInfoMinSize,
  queryFsInfo,
  type FsFacts,
} from '../../../src/protocol/smb2/fscc/fs-info.js';
import { Reader } from '../../../src/util/reader.js';
import { Writer } from '../../../src/util/writer.js';

const fs: FsFacts = {
  volumeCreationTime: 0x01d9000000000000n,
  volumeSerialNumber: 0x12345678,
  volumeLabel: 'share',
  totalAllocationUnits: 1000n,
  callerAvailableAllocationUnits: 400n,
  actualAvailableAllocationUnits: 500n,
  sectorsPerAllocationUnit: 8,
  bytesPerSector: 512,
  fileSystemAttributes: DEFAULT_FILE_SYSTEM_ATTRIBUTES,
  maximumComponentNameLength: 255,
  fileSystemName: 'NTFS',
  deviceType: DeviceType.FILE_DEVICE_DISK,
  deviceCharacteristics: 0x20,
  objectId: Buffer.alloc(16, 7),
};

function enc(cls: number): Buffer {
  const w = new Writer(8);
  assert.equal(encodeFsInfo(w, cls, fs), true);
  return Buffer.from(w.finish());
}

test('sizes match MS-FSCC 2.5', () => {
  assert.equal(enc(FsInfoClass.FileFsVolumeInformation).length, 18 + 10);
  assert.equal(enc(FsInfoClass.FileFsSizeInformation).length, 24);
  assert.equal(enc(FsInfoClass.FileFsDeviceInformation).length, 8);
  assert.equal(enc(FsInfoClass.FileFsAttributeInformation).length, 12 + 8);
  assert.equal(enc(FsInfoClass.FileFsControlInformation).length, 48);
  assert.equal(enc(FsInfoClass.FileFsFullSizeInformation).length, 32);
  assert.equal(enc(FsInfoClass.FileFsObjectIdInformation).length, 64);
  assert.equal(enc(FsInfoClass.FileFsSectorSizeInformation).length, 28);
  assert.equal(fsInfoMinSize(FsInfoClass.FileFsVolumeInformation), 24);
  assert.equal(fsInfoMinSize(FsInfoClass.FileFsLabelInformation), undefined);
  assert.equal(encodeFsInfo(new Writer(), 2, fs), false);
});

test('FileFsVolumeInformation and FileFsAttributeInformation bytes', () => {
  const v = enc(FsInfoClass.FileFsVolumeInformation);
  assert.equal(v.readBigUInt64LE(0), fs.volumeCreationTime);
  assert.equal(v.readUInt32LE(8), 0x12345678);
  assert.equal(v.readUInt32LE(12), 10);
  assert.equal(v[16], 0);
  assert.equal(v.toString('utf16le', 18), 'share');
  const a = enc(FsInfoClass.FileFsAttributeInformation);
  assert.deepEqual(a, Buffer.concat([
    Buffer.from([0x4f, 0x00, 0x05, 0x00, 0xff, 0, 0, 0, 8, 0, 0, 0]),
    Buffer.from('NTFS', 'utf16le'),
  ]));
});

test('decode returns the facts', () => {
  for (const cls of [1, 3, 4, 5, 7, 8]) {
    const back = decodeFsInfo(new Reader(enc(cls)), cls);
    for (const [k, v] of Object.entries(back)) {
      if (k === 'supportsObjects') continue;
      assert.deepEqual(v, fs[k as keyof FsFacts], `class ${cls} field ${k}`);
    }
  }
});

test('queryFsInfo lengths', () => {
  assert.equal(queryFsInfo(3, fs, 23).status, Status.INFO_LENGTH_MISMATCH);
  assert.equal(queryFsInfo(3, fs, 24).status, Status.SUCCESS);
  assert.equal(queryFsInfo(5, fs, 15).status, Status.INFO_LENGTH_MISMATCH);
  const cut = queryFsInfo(5, fs, 16);
  assert.equal(cut.status, Status.BUFFER_OVERFLOW);
  assert.equal(cut.data.length, 16);
  assert.equal(queryFsInfo(99, fs, 100).status, Status.INVALID_INFO_CLASS);
});

test('set: label', () => {
  const w = new Writer();
  w.u32(6).utf16('abc');
  assert.deepEqual(decodeSetFsInfo(new Reader(w.finish()), 2), { kind: 'label', volumeLabel: 'abc' });
});
