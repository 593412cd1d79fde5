/**
 * Directory information classes returned by SMB2 QUERY_DIRECTORY (MS-FSCC 2.4): entries chained by
 * NextEntryOffset, each starting on an 8-byte boundary; the last entry's NextEntryOffset is 0.
 */
import { WireError } from '../../../errors.js';
import { Writer } from '../../../util/writer.js';
import { FileAttributes } from '../constants.js';
import { FileInfoClass } from './file-info.js';

export interface DirEntryFacts {
  fileName: string;
  /** 8.3 name (at most 12 characters) for the Both classes. */
  shortName?: string;
  fileIndex?: number;
  creationTime: bigint;
  lastAccessTime: bigint;
  lastWriteTime: bigint;
  changeTime: bigint;
  endOfFile: bigint;
  allocationSize: bigint;
  fileAttributes: number;
  eaSize: number;
  fileId: bigint;
  /** For entries with FILE_ATTRIBUTE_REPARSE_POINT the EaSize field carries this tag (MS-FSCC 2.4.17). */
  reparseTag?: number;
}

/** Size of each class's fixed part (up to FileName). */
const FIXED_SIZE: ReadonlyMap<number, number> = new Map([
  [FileInfoClass.FileDirectoryInformation, 64],
  [FileInfoClass.FileFullDirectoryInformation, 68],
  [FileInfoClass.FileBothDirectoryInformation, 94],
  [FileInfoClass.FileNamesInformation, 12],
  [FileInfoClass.FileIdBothDirectoryInformation, 104],
  [FileInfoClass.FileIdFullDirectoryInformation, 80],
  [FileInfoClass.FileIdExtdDirectoryInformation, 88],
]);

export function isSupportedDirInfoClass(c: number): boolean {
  return FIXED_SIZE.has(c);
}

/** Fixed part of one entry of a directory class, or undefined when unsupported. */
export function dirInfoFixedSize(c: number): number | undefined {
  return FIXED_SIZE.get(c);
}

const SHORT_NAME_BYTES = 24;

function shortNameBytes(e: DirEntryFacts): Buffer {
  const s = e.shortName;
  if (s === undefined) return Buffer.alloc(0);
  const b = Buffer.from(s, 'utf16le');
  return b.length <= SHORT_NAME_BYTES ? b : Buffer.alloc(0);
}

function eaOrTag(e: DirEntryFacts): number {
  return e.fileAttributes & FileAttributes.REPARSE_POINT ? (e.reparseTag ?? 0) : e.eaSize;
}

function writeEntry(w: Writer, infoClass: number, e: DirEntryFacts, name: Buffer): void {
  w.u32(0).u32(e.fileIndex ?? 0); // NextEntryOffset (patched later), FileIndex
  if (infoClass === FileInfoClass.FileNamesInformation) {
    w.u32(name.length).bytes(name);
    return;
  }
  w.u64(e.creationTime).u64(e.lastAccessTime).u64(e.lastWriteTime).u64(e.changeTime);
  w.u64(e.endOfFile).u64(e.allocationSize).u32(e.fileAttributes).u32(name.length);
  switch (infoClass) {
    case FileInfoClass.FileDirectoryInformation:
      break;
    case FileInfoClass.FileFullDirectoryInformation:
      w.u32(eaOrTag(e));
      break;
    case FileInfoClass.FileIdFullDirectoryInformation:
      w.u32(eaOrTag(e)).u32(0).u64(e.fileId);
      break;
    case FileInfoClass.FileBothDirectoryInformation:
    case FileInfoClass.FileIdBothDirectoryInformation: {
      const short = shortNameBytes(e);
      w.u32(eaOrTag(e)).u8(short.length).u8(0).bytes(short).zeros(SHORT_NAME_BYTES - short.length);
      if (infoClass === FileInfoClass.FileIdBothDirectoryInformation) w.u16(0).u64(e.fileId);
      break;
    }
    case FileInfoClass.FileIdExtdDirectoryInformation:
      // EaSize, ReparsePointTag, FileId (128-bit: the 64-bit id zero-extended)
      w.u32(e.fileAttributes & FileAttributes.REPARSE_POINT ? 0 : e.eaSize).u32(e.reparseTag ?? 0);
      w.u64(e.fileId).u64(0);
      break;
  }
  w.bytes(name);
}

/**
 * Fills one QUERY_DIRECTORY output buffer up to maxOutputLength. An entry is included only if it fits
 * entirely (MS-SMB2 3.3.5.18); `add` returns false (writing nothing) when it does not, so the caller keeps
 * it for the next request. Padding after the last entry is not part of the output.
 */
export class DirectoryListingEncoder {
  private readonly w = new Writer(1024);
  private readonly fixed: number;
  private lastStart = -1;
  private n = 0;

  constructor(
    readonly infoClass: number,
    readonly maxOutputLength: number,
  ) {
    const fixed = FIXED_SIZE.get(infoClass);
    if (fixed === undefined) throw new RangeError(`unsupported directory info class ${infoClass}`);
    this.fixed = fixed;
  }

  /** False when the entry does not fit (nothing written). */
  add(e: DirEntryFacts): boolean {
    const name = Buffer.from(e.fileName, 'utf16le');
    const pad = this.lastStart < 0 ? 0 : (8 - (this.w.pos % 8)) % 8;
    const start = this.w.pos + pad;
    if (start + this.fixed + name.length > this.maxOutputLength) return false;
    this.w.zeros(pad);
    if (this.lastStart >= 0) this.w.patchU32(this.lastStart, start - this.lastStart);
    this.lastStart = start;
    writeEntry(this.w, this.infoClass, e, name);
    this.n++;
    return true;
  }

  get count(): number {
    return this.n;
  }

  /** Bytes written so far (the output length if finished now). */
  get length(): number {
    return this.w.pos;
  }

  finish(): Buffer {
    return this.w.finish();
  }
}

/** Encodes all entries without a length limit (tests, and the client side of fixtures). */
export function encodeDirectoryListing(infoClass: number, entries: readonly DirEntryFacts[]): Buffer {
  const enc = new DirectoryListingEncoder(infoClass, Number.MAX_SAFE_INTEGER);
  for (const e of entries) enc.add(e);
  return enc.finish();
}

/**
 * Parses a QUERY_DIRECTORY output buffer. NextEntryOffset must move forward past the entry's own bytes and stay
 * inside the buffer; a violation is a WireError.
 */
export function decodeDirectoryListing(buf: Buffer, infoClass: number): DirEntryFacts[] {
  const fixed = FIXED_SIZE.get(infoClass);
  if (fixed === undefined) throw new WireError(`unsupported directory info class ${infoClass}`);
  const out: DirEntryFacts[] = [];
  if (buf.length === 0) return out;
  let off = 0;
  for (;;) {
    if (off + fixed > buf.length) throw new WireError('directory entry truncated');
    const next = buf.readUInt32LE(off);
    const fileIndex = buf.readUInt32LE(off + 4);
    const e = decodeEntry(buf, off, infoClass, fixed, fileIndex);
    out.push(e.facts);
    if (next === 0) return out;
    if (next < e.size || off + next >= buf.length) throw new WireError('bad directory NextEntryOffset');
    off += next;
  }
}

function nameAt(buf: Buffer, at: number, length: number): string {
  if (length % 2 !== 0) throw new WireError('odd FileNameLength');
  if (at + length > buf.length) throw new WireError('directory entry name outside the buffer');
  return buf.toString('utf16le', at, at + length);
}

function decodeEntry(
  buf: Buffer,
  off: number,
  infoClass: number,
  fixed: number,
  fileIndex: number,
): { facts: DirEntryFacts; size: number } {
  if (infoClass === FileInfoClass.FileNamesInformation) {
    const len = buf.readUInt32LE(off + 8);
    const fileName = nameAt(buf, off + fixed, len);
    const facts: DirEntryFacts = {
      fileName, fileIndex, creationTime: 0n, lastAccessTime: 0n, lastWriteTime: 0n, changeTime: 0n,
      endOfFile: 0n, allocationSize: 0n, fileAttributes: 0, eaSize: 0, fileId: 0n,
    };
    return { facts, size: fixed + len };
  }
  const fileAttributes = buf.readUInt32LE(off + 56);
  const nameLength = buf.readUInt32LE(off + 60);
  const fileName = nameAt(buf, off + fixed, nameLength);
  const facts: DirEntryFacts = {
    fileName,
    fileIndex,
    creationTime: buf.readBigUInt64LE(off + 8),
    lastAccessTime: buf.readBigUInt64LE(off + 16),
    lastWriteTime: buf.readBigUInt64LE(off + 24),
    changeTime: buf.readBigUInt64LE(off + 32),
    endOfFile: buf.readBigUInt64LE(off + 40),
    allocationSize: buf.readBigUInt64LE(off + 48),
    fileAttributes,
    eaSize: 0,
    fileId: 0n,
  };
  const isReparse = (fileAttributes & FileAttributes.REPARSE_POINT) !== 0;
  const setEa = (v: number): void => {
    if (isReparse) facts.reparseTag = v;
    else facts.eaSize = v;
  };
  switch (infoClass) {
    case FileInfoClass.FileFullDirectoryInformation:
      setEa(buf.readUInt32LE(off + 64));
      break;
    case FileInfoClass.FileIdFullDirectoryInformation:
      setEa(buf.readUInt32LE(off + 64));
      facts.fileId = buf.readBigUInt64LE(off + 72);
      break;
    case FileInfoClass.FileBothDirectoryInformation:
    case FileInfoClass.FileIdBothDirectoryInformation: {
      setEa(buf.readUInt32LE(off + 64));
      const shortLength = buf[off + 68]!;
      if (shortLength > SHORT_NAME_BYTES || shortLength % 2 !== 0) throw new WireError('bad ShortNameLength');
      if (shortLength > 0) facts.shortName = buf.toString('utf16le', off + 70, off + 70 + shortLength);
      if (infoClass === FileInfoClass.FileIdBothDirectoryInformation) facts.fileId = buf.readBigUInt64LE(off + 96);
      break;
    }
    case FileInfoClass.FileIdExtdDirectoryInformation: {
      facts.eaSize = buf.readUInt32LE(off + 64);
      const tag = buf.readUInt32LE(off + 68);
      if (isReparse || tag !== 0) facts.reparseTag = tag;
      facts.fileId = buf.readBigUInt64LE(off + 72);
      break;
    }
  }
  return { facts, size: fixed + nameLength };
}
