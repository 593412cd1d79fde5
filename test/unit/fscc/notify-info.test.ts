import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WireError } from '../../../src/errors.js';
import {
  decodeFileNotifyInformation,
  encodeFileNotifyInformation,
  notifyInfoSize,
  NotifyAction,
} from '../../../src/protocol/smb2/fscc/notify-info.js';

/** Two entries laid out by hand from MS-FSCC 2.7.1 (not by the encoder under test). */
function handMade(): Buffer {
  const b = Buffer.alloc(12 + 6 + 2 + 12 + 4);
  // entry 1: "a.b" (6 bytes of UTF-16), padded to 20, so NextEntryOffset = 20
  b.writeUInt32LE(20, 0);
  b.writeUInt32LE(NotifyAction.RENAMED_OLD_NAME, 4);
  b.writeUInt32LE(6, 8);
  b.write('a.b', 12, 'utf16le');
  // entry 2 at 20: "cd", last (NextEntryOffset 0, no padding)
  b.writeUInt32LE(0, 20);
  b.writeUInt32LE(NotifyAction.RENAMED_NEW_NAME, 24);
  b.writeUInt32LE(4, 28);
  b.write('cd', 32, 'utf16le');
  return b;
}

test('FILE_NOTIFY_INFORMATION: encodes entries 4-aligned, the last unpadded with NextEntryOffset 0', () => {
  const entries = [
    { action: NotifyAction.RENAMED_OLD_NAME, fileName: 'a.b' },
    { action: NotifyAction.RENAMED_NEW_NAME, fileName: 'cd' },
  ];
  const bytes = encodeFileNotifyInformation(entries);
  assert.deepEqual(bytes, handMade());
  assert.equal(notifyInfoSize(entries), bytes.length);
  assert.deepEqual(decodeFileNotifyInformation(handMade()), entries);
});

test('FILE_NOTIFY_INFORMATION: empty list, non-ASCII and nested names round-trip', () => {
  assert.equal(encodeFileNotifyInformation([]).length, 0);
  assert.deepEqual(decodeFileNotifyInformation(Buffer.alloc(0)), []);
  const entries = [
    { action: NotifyAction.ADDED, fileName: 'dir\\ünïcødé 😀.txt' },
    { action: NotifyAction.MODIFIED_STREAM, fileName: 'f:stream' },
    { action: NotifyAction.REMOVED, fileName: 'x' },
  ];
  const bytes = encodeFileNotifyInformation(entries);
  assert.equal(bytes.length, notifyInfoSize(entries));
  assert.deepEqual(decodeFileNotifyInformation(bytes), entries);
});

test('FILE_NOTIFY_INFORMATION: malformed chains are WireErrors', () => {
  const good = handMade();
  const bad: [string, (b: Buffer) => void][] = [
    ['offset not 4-aligned', (b) => b.writeUInt32LE(18, 0)],
    ['offset inside the entry', (b) => b.writeUInt32LE(12, 0)],
    ['offset past the end', (b) => b.writeUInt32LE(400, 0)],
    ['name past the end', (b) => b.writeUInt32LE(64, 28)],
    ['odd name length', (b) => b.writeUInt32LE(5, 8)],
  ];
  for (const [what, spoil] of bad) {
    const b = Buffer.from(good);
    spoil(b);
    assert.throws(() => decodeFileNotifyInformation(b), WireError, what);
  }
  assert.throws(() => decodeFileNotifyInformation(good.subarray(0, 10)), WireError, 'truncated header');
});
