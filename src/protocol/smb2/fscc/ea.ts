/**
 * Extended attributes on the wire: FILE_FULL_EA_INFORMATION lists (MS-FSCC 2.4.15), what CREATE's EA buffer
 * context, SET_INFO and QUERY_INFO carry, and FILE_GET_EA_INFORMATION lists (MS-FSCC 2.4.15.1), the names a
 * QUERY_INFO asks for. Both are chained by NextEntryOffset (0 on the last entry), each entry 4-byte aligned.
 * Names are single-byte strings (read as latin1, so every byte survives; which names are valid is the server's).
 */
import { WireError } from '../../../errors.js';
import type { Reader } from '../../../util/reader.js';
import type { Writer } from '../../../util/writer.js';
import { Status } from '../../nt-status.js';

/** FILE_FULL_EA_INFORMATION Flags: the file can't be understood without this EA (MS-FSCC 2.4.15). */
export const FILE_NEED_EA = 0x80;
/** EaNameLength is one byte. */
export const MAX_EA_NAME_BYTES = 255;
/** EaValueLength is two bytes. */
export const MAX_EA_VALUE_BYTES = 0xffff;

/** One extended attribute (MS-FSCC 2.4.15). */
export interface FullEa {
  flags: number;
  name: string;
  value: Buffer;
}

/** NextEntryOffset, Flags, EaNameLength, EaValueLength. */
const FULL_EA_FIXED = 8;
/** NextEntryOffset, EaNameLength. */
const GET_EA_FIXED = 5;

/** Bytes one FILE_FULL_EA_INFORMATION entry takes, without the padding that follows it in a list. */
export function fullEaEntrySize(ea: { name: string; value: Buffer }): number {
  return FULL_EA_FIXED + Buffer.byteLength(ea.name, 'latin1') + 1 + ea.value.length;
}

/** Writes a FILE_FULL_EA_INFORMATION list; throws RangeError for a name or value too long for its length field. */
export function encodeFullEaList(w: Writer, eas: readonly FullEa[]): void {
  const start = w.pos;
  let prev = -1;
  for (const ea of eas) {
    const name = Buffer.from(ea.name, 'latin1');
    if (name.length > MAX_EA_NAME_BYTES) throw new RangeError('EA name longer than 255 bytes');
    if (ea.value.length > MAX_EA_VALUE_BYTES) throw new RangeError('EA value longer than 65535 bytes');
    if (prev >= 0) {
      w.zeros((4 - ((w.pos - start) % 4)) % 4);
      w.patchU32(prev, w.pos - prev);
    }
    prev = w.pos;
    w.u32(0).u8(ea.flags).u8(name.length).u16(ea.value.length).bytes(name).u8(0).bytes(ea.value);
  }
}

/**
 * Decodes a FILE_FULL_EA_INFORMATION list filling the reader's region. Values are views of the input. A
 * NextEntryOffset that is unaligned, points inside its own entry or past the region, or a name without its NUL,
 * is STATUS_EA_LIST_INCONSISTENT (what Windows' I/O manager answers for a malformed EA buffer).
 */
export function decodeFullEaList(r: Reader): FullEa[] {
  const eas: FullEa[] = [];
  if (r.remaining === 0) return eas;
  for (;;) {
    const entryStart = r.pos;
    if (r.remaining < FULL_EA_FIXED) throw inconsistent('truncated EA entry');
    const next = r.u32();
    const flags = r.u8();
    const nameLength = r.u8();
    const valueLength = r.u16();
    if (r.remaining < nameLength + 1 + valueLength) throw inconsistent('EA entry past the buffer');
    const name = r.bytes(nameLength).toString('latin1');
    if (r.u8() !== 0) throw inconsistent('EA name not NUL-terminated');
    const value = r.bytes(valueLength);
    eas.push({ flags, name, value });
    if (next === 0) return eas;
    if (next % 4 !== 0 || entryStart + next < r.pos || entryStart + next >= r.end) throw inconsistent('bad EA NextEntryOffset');
    r.pos = entryStart + next;
  }
}

/** Writes a FILE_GET_EA_INFORMATION list of names. */
export function encodeGetEaList(w: Writer, names: readonly string[]): void {
  const start = w.pos;
  let prev = -1;
  for (const n of names) {
    const name = Buffer.from(n, 'latin1');
    if (name.length > MAX_EA_NAME_BYTES) throw new RangeError('EA name longer than 255 bytes');
    if (prev >= 0) {
      w.zeros((4 - ((w.pos - start) % 4)) % 4);
      w.patchU32(prev, w.pos - prev);
    }
    prev = w.pos;
    w.u32(0).u8(name.length).bytes(name).u8(0);
  }
}

/** Decodes a FILE_GET_EA_INFORMATION list filling the reader's region, with the same rules as decodeFullEaList. */
export function decodeGetEaList(r: Reader): string[] {
  const names: string[] = [];
  if (r.remaining === 0) return names;
  for (;;) {
    const entryStart = r.pos;
    if (r.remaining < GET_EA_FIXED) throw inconsistent('truncated EA name entry');
    const next = r.u32();
    const nameLength = r.u8();
    if (r.remaining < nameLength + 1) throw inconsistent('EA name past the buffer');
    names.push(r.bytes(nameLength).toString('latin1'));
    if (r.u8() !== 0) throw inconsistent('EA name not NUL-terminated');
    if (next === 0) return names;
    if (next % 4 !== 0 || entryStart + next < r.pos || entryStart + next >= r.end) throw inconsistent('bad EA NextEntryOffset');
    r.pos = entryStart + next;
  }
}

function inconsistent(message: string): WireError {
  return new WireError(message, Status.EA_LIST_INCONSISTENT);
}
