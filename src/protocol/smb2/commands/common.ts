import { WireError } from '../../../errors.js';
import type { Reader } from '../../../util/reader.js';
import type { Writer } from '../../../util/writer.js';
import { Status } from '../../nt-status.js';

/** Shared pieces of the command codecs. */

const EMPTY: Buffer = Buffer.alloc(0);

/** Reads StructureSize and throws WireError(INVALID_PARAMETER) unless it is `expected` (MS-SMB2 3.3.5.2.6). */
export function expectStructureSize(r: Reader, expected: number, what: string): void {
  const size = r.u16();
  if (size !== expected) {
    throw new WireError(`${what}: StructureSize ${size}, expected ${expected}`, Status.INVALID_PARAMETER);
  }
}

/** A view of a variable buffer at a header-relative offset; a zero length yields an empty view whatever the offset. */
export function bufferAt(r: Reader, offset: number, length: number): Buffer {
  if (length === 0) return EMPTY;
  return r.at(offset, length);
}

/** A UTF-16LE string at a header-relative offset. */
export function utf16At(r: Reader, offset: number, length: number): string {
  if (length % 2 !== 0) throw new WireError('odd UTF-16 length', Status.INVALID_PARAMETER);
  return bufferAt(r, offset, length).toString('utf16le');
}

/**
 * Writes `data` at the current position (after aligning to `align`) and patches the reserved offset/length
 * fields; an empty buffer gets offset `emptyOffset` (the spec usually wants 0) and nothing is written.
 */
export function writeBuffer(
  w: Writer,
  data: Uint8Array,
  offsetAt: number,
  offsetSize: 2 | 4,
  lengthAt: number,
  lengthSize: 2 | 4,
  emptyOffset?: number,
  align = 1,
): void {
  if (data.length === 0 && emptyOffset !== undefined) {
    patch(w, offsetAt, offsetSize, emptyOffset);
    patch(w, lengthAt, lengthSize, 0);
    return;
  }
  if (align > 1) w.align(align);
  patch(w, offsetAt, offsetSize, w.offset);
  patch(w, lengthAt, lengthSize, data.length);
  w.bytes(data);
}

function patch(w: Writer, at: number, size: 2 | 4, v: number): void {
  if (size === 2) {
    if (v > 0xffff) throw new RangeError('value does not fit a 16-bit field');
    w.patchU16(at, v);
  } else {
    w.patchU32(at, v);
  }
}

/**
 * A body whose StructureSize counts one byte of its variable part (odd sizes, MS-SMB2 2.2) must still be that
 * long when the variable part is empty: pad with zeros up to `bodyStart + structureSize - 1 + 1`.
 */
export function padBody(w: Writer, bodyStart: number, structureSize: number): void {
  const min = bodyStart + (structureSize & ~1) + 1;
  if (w.pos < min) w.zeros(min - w.pos);
}
