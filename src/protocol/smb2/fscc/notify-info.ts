/**
 * FILE_NOTIFY_INFORMATION (MS-FSCC 2.7.1): the entries of a CHANGE_NOTIFY response, chained by NextEntryOffset,
 * each starting on a 4-byte boundary; the last entry's NextEntryOffset is 0. FileName is UTF-16LE, relative to the
 * watched directory, without a terminator.
 */
import { WireError } from '../../../errors.js';
import { Reader } from '../../../util/reader.js';
import { Writer } from '../../../util/writer.js';
import { Status } from '../../nt-status.js';

/** FILE_NOTIFY_INFORMATION Action values (MS-FSCC 2.7.1). */
export const NotifyAction = {
  ADDED: 0x00000001,
  REMOVED: 0x00000002,
  MODIFIED: 0x00000003,
  RENAMED_OLD_NAME: 0x00000004,
  RENAMED_NEW_NAME: 0x00000005,
  ADDED_STREAM: 0x00000006,
  REMOVED_STREAM: 0x00000007,
  MODIFIED_STREAM: 0x00000008,
} as const;

export interface FileNotifyInformation {
  action: number;
  fileName: string;
}

/** Fixed part of an entry: NextEntryOffset, Action, FileNameLength. */
const FIXED = 12;

/** The encoded size of one entry, padded to the next 4-byte boundary (what it adds to a chain). */
export function notifyEntrySize(fileName: string): number {
  return (FIXED + Buffer.byteLength(fileName, 'utf16le') + 3) & ~3;
}

/** The encoded size of a whole chain (the last entry is not padded). */
export function notifyInfoSize(entries: readonly FileNotifyInformation[]): number {
  if (entries.length === 0) return 0;
  let n = 0;
  for (const e of entries) n += notifyEntrySize(e.fileName);
  const last = entries[entries.length - 1]!;
  return n - notifyEntrySize(last.fileName) + FIXED + Buffer.byteLength(last.fileName, 'utf16le');
}

/** Encodes a chain of entries; an empty list encodes to nothing. */
export function encodeFileNotifyInformation(entries: readonly FileNotifyInformation[]): Buffer {
  const w = new Writer(Math.max(16, notifyInfoSize(entries)));
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    const start = w.pos;
    const next = w.reserveU32();
    const nameBytes = Buffer.byteLength(e.fileName, 'utf16le');
    w.u32(e.action).u32(nameBytes).utf16(e.fileName);
    if (i < entries.length - 1) {
      w.align(4);
      w.patchU32(next, w.pos - start);
    }
  }
  return w.finish();
}

/** Most entries one chain may hold (a 64 KiB buffer holds at most 5461 entries of 12 bytes). */
const MAX_ENTRIES = 65536;

/** Decodes a chain; offsets must move forward, stay 4-aligned and inside the buffer. */
export function decodeFileNotifyInformation(buf: Buffer): FileNotifyInformation[] {
  const out: FileNotifyInformation[] = [];
  if (buf.length === 0) return out;
  let pos = 0;
  for (;;) {
    if (out.length >= MAX_ENTRIES) throw new WireError('FILE_NOTIFY_INFORMATION: too many entries', Status.INVALID_PARAMETER);
    const r = new Reader(buf, pos, buf.length);
    const next = r.u32();
    const action = r.u32();
    const nameLength = r.u32();
    if (nameLength % 2 !== 0) throw new WireError('FILE_NOTIFY_INFORMATION: odd FileNameLength', Status.INVALID_PARAMETER);
    const fileName = r.utf16(nameLength);
    out.push({ action, fileName });
    if (next === 0) return out;
    if (next % 4 !== 0 || next < FIXED + nameLength) {
      throw new WireError('FILE_NOTIFY_INFORMATION: bad NextEntryOffset', Status.INVALID_PARAMETER);
    }
    pos += next;
    if (pos >= buf.length) throw new WireError('FILE_NOTIFY_INFORMATION: NextEntryOffset past the end', Status.INVALID_PARAMETER);
  }
}
