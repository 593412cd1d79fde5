/**
 * File information classes (MS-FSCC 2.4) carried by SMB2 QUERY_INFO / SET_INFO with InfoType FILE.
 * Query side: the server fills one `FileFacts` and `encodeFileInfo` writes whichever class was asked for.
 * Set side: `decodeSetFileInfo` turns the input buffer into a discriminated union.
 */
import { WireError } from '../../../errors.js';
import { Reader } from '../../../util/reader.js';
import { Writer } from '../../../util/writer.js';
import { Status } from '../../nt-status.js';
import { decodeFullEaList, encodeFullEaList, type FullEa } from './ea.js';

export const FileInfoClass = {
  FileDirectoryInformation: 1,
  FileFullDirectoryInformation: 2,
  FileBothDirectoryInformation: 3,
  FileBasicInformation: 4,
  FileStandardInformation: 5,
  FileInternalInformation: 6,
  FileEaInformation: 7,
  FileAccessInformation: 8,
  FileNameInformation: 9,
  FileRenameInformation: 10,
  FileLinkInformation: 11,
  FileNamesInformation: 12,
  FileDispositionInformation: 13,
  FilePositionInformation: 14,
  FileFullEaInformation: 15,
  FileModeInformation: 16,
  FileAlignmentInformation: 17,
  FileAllInformation: 18,
  FileAllocationInformation: 19,
  FileEndOfFileInformation: 20,
  FileAlternateNameInformation: 21,
  FileStreamInformation: 22,
  FilePipeInformation: 23,
  FilePipeLocalInformation: 24,
  FilePipeRemoteInformation: 25,
  FileMailslotQueryInformation: 26,
  FileMailslotSetInformation: 27,
  FileCompressionInformation: 28,
  FileObjectIdInformation: 29,
  FileMoveClusterInformation: 31,
  FileQuotaInformation: 32,
  FileReparsePointInformation: 33,
  FileNetworkOpenInformation: 34,
  FileAttributeTagInformation: 35,
  FileTrackingInformation: 36,
  FileIdBothDirectoryInformation: 37,
  FileIdFullDirectoryInformation: 38,
  FileValidDataLengthInformation: 39,
  FileShortNameInformation: 40,
  FileSfioReserveInformation: 44,
  FileSfioVolumeInformation: 45,
  FileHardLinkInformation: 46,
  FileNormalizedNameInformation: 48,
  FileIdGlobalTxDirectoryInformation: 50,
  FileStandardLinkInformation: 54,
  FileIdInformation: 59,
  FileIdExtdDirectoryInformation: 60,
  FileDispositionInformationEx: 64,
  FileRenameInformationEx: 65,
  FileStatInformation: 68,
  FileStatLxInformation: 70,
  FileCaseSensitiveInformation: 71,
  FileLinkInformationEx: 72,
} as const;

/** FileModeInformation bits (MS-FSCC 2.4.31). */
export const FileMode = {
  FILE_WRITE_THROUGH: 0x00000002,
  FILE_SEQUENTIAL_ONLY: 0x00000004,
  FILE_NO_INTERMEDIATE_BUFFERING: 0x00000008,
  FILE_SYNCHRONOUS_IO_ALERT: 0x00000010,
  FILE_SYNCHRONOUS_IO_NONALERT: 0x00000020,
  FILE_DELETE_ON_CLOSE: 0x00001000,
} as const;

/** FileDispositionInformationEx flags (MS-FSCC 2.4.12). */
export const DispositionExFlags = {
  FILE_DISPOSITION_DO_NOT_DELETE: 0x00000000,
  FILE_DISPOSITION_DELETE: 0x00000001,
  FILE_DISPOSITION_POSIX_SEMANTICS: 0x00000002,
  FILE_DISPOSITION_FORCE_IMAGE_SECTION_CHECK: 0x00000004,
  FILE_DISPOSITION_ON_CLOSE: 0x00000008,
  FILE_DISPOSITION_IGNORE_READONLY_ATTRIBUTE: 0x00000010,
} as const;

/** FileRenameInformationEx / FileLinkInformationEx flags (MS-FSCC 2.4.42.3). */
export const RenameExFlags = {
  FILE_RENAME_REPLACE_IF_EXISTS: 0x00000001,
  FILE_RENAME_POSIX_SEMANTICS: 0x00000002,
  FILE_RENAME_SUPPRESS_PIN_STATE_INHERITANCE: 0x00000004,
  FILE_RENAME_SUPPRESS_STORAGE_RESERVE_INHERITANCE: 0x00000008,
  FILE_RENAME_NO_INCREASE_AVAILABLE_SPACE: 0x00000010,
  FILE_RENAME_NO_DECREASE_AVAILABLE_SPACE: 0x00000020,
  FILE_RENAME_IGNORE_READONLY_ATTRIBUTE: 0x00000040,
  FILE_RENAME_FORCE_RESIZE_TARGET_SR: 0x00000080,
  FILE_RENAME_FORCE_RESIZE_SOURCE_SR: 0x00000100,
} as const;

export interface StreamFacts {
  /** '' for the default data stream; otherwise the stream name (without ':' and ':$DATA'). */
  name: string;
  size: bigint;
  allocationSize: bigint;
}

/**
 * The four times, the two sizes and the attributes, in the order CREATE and CLOSE responses and
 * FileNetworkOpenInformation all carry them (52 bytes; MS-SMB2 2.2.14, 2.2.16, MS-FSCC 2.4.29).
 */
export interface NetworkOpenFacts {
  creationTime: bigint;
  lastAccessTime: bigint;
  lastWriteTime: bigint;
  changeTime: bigint;
  allocationSize: bigint;
  endOfFile: bigint;
  fileAttributes: number;
}

export function readNetworkOpenFacts(r: Reader): NetworkOpenFacts {
  return {
    creationTime: r.u64(),
    lastAccessTime: r.u64(),
    lastWriteTime: r.u64(),
    changeTime: r.u64(),
    allocationSize: r.u64(),
    endOfFile: r.u64(),
    fileAttributes: r.u32(),
  };
}

export function writeNetworkOpenFacts(w: Writer, f: NetworkOpenFacts): void {
  w.u64(f.creationTime).u64(f.lastAccessTime).u64(f.lastWriteTime).u64(f.changeTime);
  w.u64(f.allocationSize).u64(f.endOfFile).u32(f.fileAttributes);
}

/** Everything a file query can return; the server fills it once per query. */
export interface FileFacts {
  /** FILETIME values. */
  creationTime: bigint;
  lastAccessTime: bigint;
  lastWriteTime: bigint;
  changeTime: bigint;
  fileAttributes: number;
  allocationSize: bigint;
  endOfFile: bigint;
  numberOfLinks: number;
  deletePending: boolean;
  directory: boolean;
  /** The 64-bit file id. */
  indexNumber: bigint;
  eaSize: number;
  /** Granted access of the open. */
  accessFlags: number;
  currentByteOffset: bigint;
  mode: number;
  alignmentRequirement: number;
  /** For FileNameInformation / FileAllInformation: the path from the share root with a leading backslash. */
  name: string;
  volumeSerialNumber?: number | bigint;
  /** 16-byte FILE_ID_128 for FileIdInformation; defaults to indexNumber zero-extended. */
  fileId128?: Buffer;
  /** Data streams; when absent a file has just its default stream and a directory none. */
  streams?: StreamFacts[];
  reparseTag?: number;
  /** 8.3 name for FileAlternateNameInformation. */
  shortName?: string;
}

const BASIC_SIZE = 40;
const STANDARD_SIZE = 24;

/**
 * The fixed part each query class needs: a smaller OutputBufferLength is STATUS_INFO_LENGTH_MISMATCH (MS-SMB2
 * 3.3.5.20.1, MS-FSA 2.1.5.12: "smaller than sizeof(...)"). For classes ending in a name, sizeof counts the first
 * name character and the structure's alignment padding, as Windows measures it (e.g. FILE_NAME_INFORMATION is 8,
 * FILE_ALL_INFORMATION 104, FILE_STREAM_INFORMATION 32).
 */
const QUERY_MIN_SIZE: ReadonlyMap<number, number> = new Map([
  [FileInfoClass.FileBasicInformation, BASIC_SIZE],
  [FileInfoClass.FileStandardInformation, STANDARD_SIZE],
  [FileInfoClass.FileInternalInformation, 8],
  [FileInfoClass.FileEaInformation, 4],
  [FileInfoClass.FileAccessInformation, 4],
  [FileInfoClass.FileNameInformation, 8],
  [FileInfoClass.FilePositionInformation, 8],
  [FileInfoClass.FileFullEaInformation, 0],
  [FileInfoClass.FileModeInformation, 4],
  [FileInfoClass.FileAlignmentInformation, 4],
  // Basic 40 + Standard 24 + Internal 8 + Ea 4 + Access 4 + Position 8 + Mode 4 + Alignment 4 + FileNameLength 4
  // + one WCHAR, padded to 8.
  [FileInfoClass.FileAllInformation, 104],
  [FileInfoClass.FileAlternateNameInformation, 8],
  [FileInfoClass.FileStreamInformation, 32],
  [FileInfoClass.FileCompressionInformation, 16],
  [FileInfoClass.FileNetworkOpenInformation, 56],
  [FileInfoClass.FileAttributeTagInformation, 8],
  [FileInfoClass.FileNormalizedNameInformation, 8],
  [FileInfoClass.FileIdInformation, 24],
  [FileInfoClass.FileStatInformation, 72],
]);

/** Fixed size of a query class's output, or undefined when the class is not supported for query. */
export function fileInfoMinSize(infoClass: number): number | undefined {
  return QUERY_MIN_SIZE.get(infoClass);
}

export function isSupportedQueryFileInfoClass(infoClass: number): boolean {
  return QUERY_MIN_SIZE.has(infoClass);
}

function writeBasic(w: Writer, f: FileFacts): void {
  w.u64(f.creationTime).u64(f.lastAccessTime).u64(f.lastWriteTime).u64(f.changeTime);
  w.u32(f.fileAttributes).u32(0); // Reserved
}

function writeStandard(w: Writer, f: FileFacts): void {
  w.u64(f.allocationSize).u64(f.endOfFile).u32(f.numberOfLinks);
  w.u8(f.deletePending ? 1 : 0).u8(f.directory ? 1 : 0).u16(0); // Reserved
}

function writeName(w: Writer, name: string): void {
  w.u32(Buffer.byteLength(name, 'utf16le')).utf16(name);
}

function fileId128(f: FileFacts): Buffer {
  if (f.fileId128) {
    if (f.fileId128.length !== 16) throw new RangeError('fileId128 must be 16 bytes');
    return f.fileId128;
  }
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(BigInt.asUintN(64, f.indexNumber), 0);
  return b;
}

/** Stream names as FileStreamInformation lists them: '::$DATA' for the default stream, ':name:$DATA' otherwise. */
export function streamWireName(name: string): string {
  if (name === '' || name === '::$DATA') return '::$DATA';
  if (name.startsWith(':')) return name.includes(':', 1) ? name : `${name}:$DATA`;
  return `:${name}:$DATA`;
}

function streamsOf(f: FileFacts): StreamFacts[] {
  if (f.streams) return f.streams;
  return f.directory ? [] : [{ name: '', size: f.endOfFile, allocationSize: f.allocationSize }];
}

/** Entries chained by NextEntryOffset and 8-byte aligned (MS-FSCC 2.4.44). Stops before an entry that passes maxLength. */
function writeStreams(w: Writer, streams: StreamFacts[], maxLength = Infinity): { complete: boolean } {
  const start = w.pos;
  let prev = -1;
  for (const s of streams) {
    const wire = streamWireName(s.name);
    const nameBytes = Buffer.byteLength(wire, 'utf16le');
    const pad = (8 - ((w.pos - start) % 8)) % 8;
    const at = prev < 0 ? w.pos : w.pos + pad;
    if (at - start + 24 + nameBytes > maxLength) return { complete: false };
    if (prev >= 0) {
      w.zeros(pad);
      w.patchU32(prev, at - prev);
    }
    prev = w.pos;
    w.u32(0).u32(nameBytes).u64(s.size).u64(s.allocationSize).utf16(wire);
  }
  return { complete: true };
}

/**
 * Writes the whole structure of a query class. Returns false when the class is not supported for query
 * (the caller answers STATUS_INVALID_INFO_CLASS or STATUS_NOT_SUPPORTED), or when the facts lack what the
 * class needs (FileAlternateNameInformation without a shortName; FileFullEaInformation, whose list the server
 * builds itself from the file's EAs, server/ea.ts).
 */
export function encodeFileInfo(w: Writer, infoClass: number, f: FileFacts): boolean {
  switch (infoClass) {
    case FileInfoClass.FileBasicInformation:
      writeBasic(w, f);
      return true;
    case FileInfoClass.FileStandardInformation:
      writeStandard(w, f);
      return true;
    case FileInfoClass.FileInternalInformation:
      w.u64(f.indexNumber);
      return true;
    case FileInfoClass.FileEaInformation:
      w.u32(f.eaSize);
      return true;
    case FileInfoClass.FileAccessInformation:
      w.u32(f.accessFlags);
      return true;
    case FileInfoClass.FileNameInformation:
    case FileInfoClass.FileNormalizedNameInformation:
      writeName(w, f.name);
      return true;
    case FileInfoClass.FilePositionInformation:
      w.u64(f.currentByteOffset);
      return true;
    case FileInfoClass.FileModeInformation:
      w.u32(f.mode);
      return true;
    case FileInfoClass.FileAlignmentInformation:
      w.u32(f.alignmentRequirement);
      return true;
    case FileInfoClass.FileAllInformation:
      writeBasic(w, f);
      writeStandard(w, f);
      w.u64(f.indexNumber).u32(f.eaSize).u32(f.accessFlags).u64(f.currentByteOffset).u32(f.mode);
      w.u32(f.alignmentRequirement);
      writeName(w, f.name);
      return true;
    case FileInfoClass.FileAlternateNameInformation:
      if (f.shortName === undefined) return false;
      writeName(w, f.shortName);
      return true;
    case FileInfoClass.FileStreamInformation:
      writeStreams(w, streamsOf(f));
      return true;
    case FileInfoClass.FileCompressionInformation:
      // CompressedFileSize, CompressionFormat NONE, unit/chunk/cluster shifts, Reserved(3)
      w.u64(f.endOfFile).u16(0).u8(0).u8(0).u8(0).zeros(3);
      return true;
    case FileInfoClass.FileNetworkOpenInformation:
      writeNetworkOpenFacts(w, f);
      w.u32(0);
      return true;
    case FileInfoClass.FileAttributeTagInformation:
      w.u32(f.fileAttributes).u32(f.reparseTag ?? 0);
      return true;
    case FileInfoClass.FileIdInformation:
      w.u64(BigInt(f.volumeSerialNumber ?? 0)).bytes(fileId128(f));
      return true;
    case FileInfoClass.FileStatInformation:
      w.u64(f.indexNumber).u64(f.creationTime).u64(f.lastAccessTime).u64(f.lastWriteTime).u64(f.changeTime);
      w.u64(f.allocationSize).u64(f.endOfFile).u32(f.fileAttributes).u32(f.reparseTag ?? 0);
      w.u32(f.numberOfLinks).u32(f.accessFlags);
      return true;
    default:
      return false;
  }
}

export interface FileInfoQueryResult {
  /** SUCCESS, BUFFER_OVERFLOW (data truncated), INFO_LENGTH_MISMATCH, INVALID_INFO_CLASS or OBJECT_NAME_NOT_FOUND. */
  status: number;
  data: Buffer;
}

/**
 * Answers a QUERY_INFO for a file class within OutputBufferLength (MS-SMB2 3.3.5.20.1): a buffer smaller than
 * the fixed part is INFO_LENGTH_MISMATCH; a cut variable part is BUFFER_OVERFLOW with the bytes that fit
 * (FileStreamInformation is cut at an entry boundary, MS-FSA 2.1.5.11.29).
 */
export function queryFileInfo(infoClass: number, f: FileFacts, outputBufferLength: number): FileInfoQueryResult {
  const empty = Buffer.alloc(0);
  const min = fileInfoMinSize(infoClass);
  if (min === undefined) return { status: Status.INVALID_INFO_CLASS, data: empty };
  if (outputBufferLength < min) return { status: Status.INFO_LENGTH_MISMATCH, data: empty };
  const w = new Writer(128);
  if (infoClass === FileInfoClass.FileStreamInformation) {
    const { complete } = writeStreams(w, streamsOf(f), outputBufferLength);
    const data = w.finish();
    // MS-FSA 2.1.5.12.29: an entry that does not fit is STATUS_BUFFER_OVERFLOW, even the first one.
    return { status: complete ? Status.SUCCESS : Status.BUFFER_OVERFLOW, data };
  }
  if (!encodeFileInfo(w, infoClass, f)) {
    const status =
      infoClass === FileInfoClass.FileAlternateNameInformation
        ? Status.OBJECT_NAME_NOT_FOUND
        : infoClass === FileInfoClass.FileFullEaInformation
          ? Status.NO_EAS_ON_FILE
          : Status.INVALID_INFO_CLASS;
    return { status, data: empty };
  }
  const data = w.finish();
  if (data.length <= outputBufferLength) return { status: Status.SUCCESS, data };
  return { status: Status.BUFFER_OVERFLOW, data: data.subarray(0, outputBufferLength) };
}

/** Query results as the client reads them back: the facts the class carries (and FileFullEaInformation's list). */
export type QueriedFileInfo = Partial<FileFacts> & { eas?: FullEa[] };

function readBasic(r: Reader): Pick<FileFacts, 'creationTime' | 'lastAccessTime' | 'lastWriteTime' | 'changeTime' | 'fileAttributes'> {
  const creationTime = r.u64();
  const lastAccessTime = r.u64();
  const lastWriteTime = r.u64();
  const changeTime = r.u64();
  const fileAttributes = r.u32();
  r.skip(4);
  return { creationTime, lastAccessTime, lastWriteTime, changeTime, fileAttributes };
}

function readStandard(r: Reader): Pick<FileFacts, 'allocationSize' | 'endOfFile' | 'numberOfLinks' | 'deletePending' | 'directory'> {
  const allocationSize = r.u64();
  const endOfFile = r.u64();
  const numberOfLinks = r.u32();
  const deletePending = r.u8() !== 0;
  const directory = r.u8() !== 0;
  r.skip(2);
  return { allocationSize, endOfFile, numberOfLinks, deletePending, directory };
}

function readName(r: Reader): string {
  const n = r.u32();
  return r.utf16(n);
}

/** Decodes a FileStreamInformation list; names come back as on the wire ('::$DATA', ':name:$DATA'). */
export function decodeStreamList(r: Reader): StreamFacts[] {
  const out: StreamFacts[] = [];
  if (r.remaining === 0) return out;
  for (;;) {
    const entryStart = r.pos;
    const next = r.u32();
    const nameLength = r.u32();
    const size = r.u64();
    const allocationSize = r.u64();
    const name = r.utf16(nameLength);
    out.push({ name, size, allocationSize });
    if (next === 0) return out;
    if (entryStart + next < r.pos || entryStart + next >= r.end) throw new WireError('bad stream NextEntryOffset');
    r.pos = entryStart + next;
  }
}

/** Client side: parses a QUERY_INFO output buffer of a file class. Unknown classes are a WireError. */
export function decodeFileInfo(r: Reader, infoClass: number): QueriedFileInfo {
  switch (infoClass) {
    case FileInfoClass.FileBasicInformation:
      return readBasic(r);
    case FileInfoClass.FileStandardInformation:
      return readStandard(r);
    case FileInfoClass.FileInternalInformation:
      return { indexNumber: r.u64() };
    case FileInfoClass.FileEaInformation:
      return { eaSize: r.u32() };
    case FileInfoClass.FileAccessInformation:
      return { accessFlags: r.u32() };
    case FileInfoClass.FileNameInformation:
    case FileInfoClass.FileNormalizedNameInformation:
      return { name: readName(r) };
    case FileInfoClass.FilePositionInformation:
      return { currentByteOffset: r.u64() };
    case FileInfoClass.FileModeInformation:
      return { mode: r.u32() };
    case FileInfoClass.FileAlignmentInformation:
      return { alignmentRequirement: r.u32() };
    case FileInfoClass.FileAllInformation: {
      const basic = readBasic(r);
      const standard = readStandard(r);
      const indexNumber = r.u64();
      const eaSize = r.u32();
      const accessFlags = r.u32();
      const currentByteOffset = r.u64();
      const mode = r.u32();
      const alignmentRequirement = r.u32();
      const name = readName(r);
      return { ...basic, ...standard, indexNumber, eaSize, accessFlags, currentByteOffset, mode, alignmentRequirement, name };
    }
    case FileInfoClass.FileAlternateNameInformation:
      return { shortName: readName(r) };
    case FileInfoClass.FileStreamInformation:
      return { streams: decodeStreamList(r) };
    case FileInfoClass.FileFullEaInformation:
      return { eas: decodeFullEaList(r) };
    case FileInfoClass.FileCompressionInformation: {
      const endOfFile = r.u64();
      r.skip(8);
      return { endOfFile };
    }
    case FileInfoClass.FileNetworkOpenInformation: {
      const facts = readNetworkOpenFacts(r);
      r.skip(4);
      return facts;
    }
    case FileInfoClass.FileAttributeTagInformation:
      return { fileAttributes: r.u32(), reparseTag: r.u32() };
    case FileInfoClass.FileIdInformation: {
      const volumeSerialNumber = r.u64();
      return { volumeSerialNumber, fileId128: Buffer.from(r.bytes(16)) };
    }
    case FileInfoClass.FileStatInformation: {
      const indexNumber = r.u64();
      const creationTime = r.u64();
      const lastAccessTime = r.u64();
      const lastWriteTime = r.u64();
      const changeTime = r.u64();
      const allocationSize = r.u64();
      const endOfFile = r.u64();
      const fileAttributes = r.u32();
      const reparseTag = r.u32();
      const numberOfLinks = r.u32();
      const accessFlags = r.u32();
      return {
        indexNumber, creationTime, lastAccessTime, lastWriteTime, changeTime, allocationSize, endOfFile,
        fileAttributes, reparseTag, numberOfLinks, accessFlags,
      };
    }
    default:
      throw new WireError(`file info class ${infoClass} not decodable`, Status.INVALID_INFO_CLASS);
  }
}

// ---------------------------------------------------------------------------------------------------------
// SET_INFO

/**
 * FileBasicInformation for set: each time is a signed FILETIME where 0 = leave unchanged, -1 = stop updating
 * it automatically for this handle, -2 = resume automatic updates (MS-FSCC 2.4.7). FileAttributes 0 = unchanged.
 */
export interface SetBasicInfo {
  kind: 'basic';
  creationTime: bigint;
  lastAccessTime: bigint;
  lastWriteTime: bigint;
  changeTime: bigint;
  fileAttributes: number;
}

export interface SetRenameInfo {
  kind: 'rename' | 'link';
  replaceIfExists: boolean;
  rootDirectory: bigint;
  fileName: string;
}

export interface SetRenameExInfo {
  kind: 'renameEx' | 'linkEx';
  /** RenameExFlags */
  flags: number;
  rootDirectory: bigint;
  fileName: string;
}

export type SetFileInfo =
  | SetBasicInfo
  | { kind: 'endOfFile'; endOfFile: bigint }
  | { kind: 'allocation'; allocationSize: bigint }
  | { kind: 'validDataLength'; validDataLength: bigint }
  | { kind: 'disposition'; deletePending: boolean }
  | { kind: 'dispositionEx'; flags: number }
  | SetRenameInfo
  | SetRenameExInfo
  | { kind: 'position'; currentByteOffset: bigint }
  | { kind: 'mode'; mode: number }
  | { kind: 'shortName'; fileName: string }
  | { kind: 'fullEa'; eas: FullEa[] }
  | { kind: 'pipe'; readMode: number; completionMode: number }
  | { kind: 'unsupported'; infoClass: number };

/** Fixed input sizes of the set classes (a shorter InputBuffer is STATUS_INFO_LENGTH_MISMATCH, MS-FSA 2.1.5.15). */
const SET_MIN_SIZE: ReadonlyMap<number, number> = new Map([
  [FileInfoClass.FileBasicInformation, BASIC_SIZE],
  [FileInfoClass.FileEndOfFileInformation, 8],
  [FileInfoClass.FileAllocationInformation, 8],
  [FileInfoClass.FileValidDataLengthInformation, 8],
  [FileInfoClass.FileDispositionInformation, 1],
  [FileInfoClass.FileDispositionInformationEx, 4],
  // ReplaceIfExists(1) Reserved(7) RootDirectory(8) FileNameLength(4): the 64-bit layout SMB2 uses (MS-FSCC 2.4.42.2)
  [FileInfoClass.FileRenameInformation, 20],
  [FileInfoClass.FileLinkInformation, 20],
  [FileInfoClass.FileRenameInformationEx, 20],
  [FileInfoClass.FileLinkInformationEx, 20],
  [FileInfoClass.FilePositionInformation, 8],
  [FileInfoClass.FileModeInformation, 4],
  [FileInfoClass.FileShortNameInformation, 4],
  [FileInfoClass.FileFullEaInformation, 8],
  [FileInfoClass.FilePipeInformation, 8],
]);

/** Fixed input size of a set class, or undefined when not supported for set. */
export function setFileInfoMinSize(infoClass: number): number | undefined {
  return SET_MIN_SIZE.get(infoClass);
}

function readRenameLike(r: Reader): { first: number; rootDirectory: bigint; fileName: string } {
  const first = r.u32(); // ReplaceIfExists (u8, then 3 reserved bytes) or Flags
  r.skip(4);
  const rootDirectory = r.u64();
  const nameLength = r.u32();
  if (nameLength > r.remaining || nameLength % 2 !== 0) {
    throw new WireError('rename FileNameLength outside the buffer', Status.INVALID_PARAMETER);
  }
  return { first, rootDirectory, fileName: r.utf16(nameLength) };
}

/**
 * Decodes a SET_INFO input buffer (the reader's whole region) of a file class. A buffer shorter than the
 * class's fixed size is a WireError with STATUS_INFO_LENGTH_MISMATCH; other malformations INVALID_PARAMETER.
 */
export function decodeSetFileInfo(r: Reader, infoClass: number): SetFileInfo {
  const min = SET_MIN_SIZE.get(infoClass);
  if (min === undefined) return { kind: 'unsupported', infoClass };
  if (r.remaining < min) throw new WireError(`info class ${infoClass} needs ${min} bytes`, Status.INFO_LENGTH_MISMATCH);
  switch (infoClass) {
    case FileInfoClass.FileBasicInformation: {
      const creationTime = r.i64();
      const lastAccessTime = r.i64();
      const lastWriteTime = r.i64();
      const changeTime = r.i64();
      const fileAttributes = r.u32();
      return { kind: 'basic', creationTime, lastAccessTime, lastWriteTime, changeTime, fileAttributes };
    }
    case FileInfoClass.FileEndOfFileInformation:
      return { kind: 'endOfFile', endOfFile: nonNegative(r.i64()) };
    case FileInfoClass.FileAllocationInformation:
      return { kind: 'allocation', allocationSize: nonNegative(r.i64()) };
    case FileInfoClass.FileValidDataLengthInformation:
      return { kind: 'validDataLength', validDataLength: nonNegative(r.i64()) };
    case FileInfoClass.FileDispositionInformation:
      return { kind: 'disposition', deletePending: r.u8() !== 0 };
    case FileInfoClass.FileDispositionInformationEx:
      return { kind: 'dispositionEx', flags: r.u32() };
    case FileInfoClass.FileRenameInformation:
    case FileInfoClass.FileLinkInformation: {
      const { first, rootDirectory, fileName } = readRenameLike(r);
      const kind = infoClass === FileInfoClass.FileRenameInformation ? 'rename' : 'link';
      return { kind, replaceIfExists: (first & 0xff) !== 0, rootDirectory, fileName };
    }
    case FileInfoClass.FileRenameInformationEx:
    case FileInfoClass.FileLinkInformationEx: {
      const { first, rootDirectory, fileName } = readRenameLike(r);
      const kind = infoClass === FileInfoClass.FileRenameInformationEx ? 'renameEx' : 'linkEx';
      return { kind, flags: first, rootDirectory, fileName };
    }
    case FileInfoClass.FilePositionInformation:
      return { kind: 'position', currentByteOffset: nonNegative(r.i64()) };
    case FileInfoClass.FileModeInformation:
      return { kind: 'mode', mode: r.u32() };
    case FileInfoClass.FileShortNameInformation: {
      const n = r.u32();
      if (n > r.remaining || n % 2 !== 0) throw new WireError('short name length outside the buffer', Status.INVALID_PARAMETER);
      return { kind: 'shortName', fileName: r.utf16(n) };
    }
    case FileInfoClass.FileFullEaInformation:
      return { kind: 'fullEa', eas: decodeFullEaList(r) };
    case FileInfoClass.FilePipeInformation:
      return { kind: 'pipe', readMode: r.u32(), completionMode: r.u32() };
    default:
      return { kind: 'unsupported', infoClass };
  }
}

function nonNegative(v: bigint): bigint {
  if (v < 0n) throw new WireError('negative size or offset', Status.INVALID_PARAMETER);
  return v;
}

/** The info class a SetFileInfo value is sent with. */
export function setFileInfoClass(info: SetFileInfo): number {
  switch (info.kind) {
    case 'basic': return FileInfoClass.FileBasicInformation;
    case 'endOfFile': return FileInfoClass.FileEndOfFileInformation;
    case 'allocation': return FileInfoClass.FileAllocationInformation;
    case 'validDataLength': return FileInfoClass.FileValidDataLengthInformation;
    case 'disposition': return FileInfoClass.FileDispositionInformation;
    case 'dispositionEx': return FileInfoClass.FileDispositionInformationEx;
    case 'rename': return FileInfoClass.FileRenameInformation;
    case 'link': return FileInfoClass.FileLinkInformation;
    case 'renameEx': return FileInfoClass.FileRenameInformationEx;
    case 'linkEx': return FileInfoClass.FileLinkInformationEx;
    case 'position': return FileInfoClass.FilePositionInformation;
    case 'mode': return FileInfoClass.FileModeInformation;
    case 'shortName': return FileInfoClass.FileShortNameInformation;
    case 'fullEa': return FileInfoClass.FileFullEaInformation;
    case 'pipe': return FileInfoClass.FilePipeInformation;
    case 'unsupported': return info.infoClass;
  }
}

/** Client side: writes a SET_INFO input buffer. */
export function encodeSetFileInfo(w: Writer, info: SetFileInfo): void {
  switch (info.kind) {
    case 'basic':
      w.i64(info.creationTime).i64(info.lastAccessTime).i64(info.lastWriteTime).i64(info.changeTime);
      w.u32(info.fileAttributes).u32(0);
      return;
    case 'endOfFile':
      w.i64(info.endOfFile);
      return;
    case 'allocation':
      w.i64(info.allocationSize);
      return;
    case 'validDataLength':
      w.i64(info.validDataLength);
      return;
    case 'disposition':
      w.u8(info.deletePending ? 1 : 0);
      return;
    case 'dispositionEx':
      w.u32(info.flags);
      return;
    case 'rename':
    case 'link':
      w.u8(info.replaceIfExists ? 1 : 0).zeros(7).u64(info.rootDirectory);
      writeName(w, info.fileName);
      return;
    case 'renameEx':
    case 'linkEx':
      w.u32(info.flags).zeros(4).u64(info.rootDirectory);
      writeName(w, info.fileName);
      return;
    case 'position':
      w.i64(info.currentByteOffset);
      return;
    case 'mode':
      w.u32(info.mode);
      return;
    case 'shortName':
      writeName(w, info.fileName);
      return;
    case 'fullEa':
      encodeFullEaList(w, info.eas);
      return;
    case 'pipe':
      w.u32(info.readMode).u32(info.completionMode);
      return;
    case 'unsupported':
      throw new RangeError(`cannot encode unsupported info class ${info.infoClass}`);
  }
}

/** Helper for callers holding a Buffer: decodes with a fresh Reader over the whole buffer. */
export function decodeSetFileInfoBuffer(buf: Buffer, infoClass: number): SetFileInfo {
  return decodeSetFileInfo(new Reader(buf), infoClass);
}
