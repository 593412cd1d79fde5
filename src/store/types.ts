/**
 * The file-store seam: what the SMB server needs from a file system, and nothing of SMB.
 *
 * A store is a plain hierarchical file system with a few NTFS-flavoured extras that Windows clients set and
 * read back (DOS attribute bits, a settable creation time, named streams). NT semantics — dispositions, share
 * modes, delete-on-close, oplocks, case-insensitive lookup policy, READONLY enforcement — are the server's.
 *
 * Paths are store-relative, '/'-separated, '' is the root. Every component is non-empty, not '.' or '..',
 * has no NUL, '/' or '\', and is at most 255 UTF-16 units (else ENAMETOOLONG). Stores reject other paths
 * with EINVAL. Names are compared exactly unless `caseSensitive` is false.
 *
 * Semantics every store shares (proved by `runStoreContract` in contract.ts):
 * - Handles are bound to the file, not the name (POSIX): a handle keeps working after rename or unlink.
 * - `open` never opens a directory's data (EISDIR), except for a named stream of a directory.
 * - `rename` with `replace` replaces files only: a directory target gives EISDIR, a directory source onto a
 *   file gives ENOTDIR; moving a directory into itself gives EINVAL; the root can't be renamed or removed (EACCES).
 * - Directory stats report size 0 and allocationSize 0.
 * - DOS attributes are kept as given, minus DIRECTORY (0x10) and NORMAL (0x80), which the server derives.
 *   New entries start with 0. They, the birth time, named streams and the file id follow the file on rename
 *   and die with it on unlink/rmdir. So does the security descriptor (`getSecurity`/`setSecurity`, optional):
 *   opaque bytes to the store, which only keeps them; their meaning and every access check are the server's.
 * - Named streams: `open(path, { stream })` with a non-empty stream name. Stream names are matched
 *   case-insensitively (as NTFS does) and keep the spelling they were created with. Creating a stream of a
 *   missing file creates the (empty) file too. `listStreams` lists named streams only (not the unnamed data).
 *   Directories may carry named streams.
 * - Extended attributes (`getEas`/`setEas`, optional): a list of name/value/flags entries set as a whole, kept in
 *   the order given, following the file on rename and dying with it on unlink/rmdir. Opaque to the store like the
 *   security descriptor: which names are valid, how they compare, and every size limit are the server's. A stat of
 *   a file with any carries them (`eas`), so listings need no extra call.
 * - Times: `setTimes` honours birth, write, access and change times; a set change time holds until the next
 *   change of the file (LocalStore: the OS owns ctime, so the override lasts while the OS ctime is unchanged).
 */

export type EntryType = 'file' | 'directory';

export interface StoreStat {
  type: EntryType;
  /** bytes of the data (or of the stream, for a stream handle); 0 for directories */
  size: number;
  allocationSize: number;
  /** ms since epoch, fractional allowed */
  birthtimeMs: number;
  mtimeMs: number;
  atimeMs: number;
  ctimeMs: number;
  /** DOS attribute bits kept by the store (READONLY 0x1, HIDDEN 0x2, SYSTEM 0x4, ARCHIVE 0x20, ...) */
  dosAttributes: number;
  /** stable 64-bit file id: the same for the same file across calls and renames */
  fileId: bigint;
  nlink: number;
  /** The file's extended attributes, present when a store with `setEas` holds some for it. */
  eas?: readonly StoreEa[];
}

/** One extended attribute as a store keeps it. */
export interface StoreEa {
  name: string;
  value: Buffer;
  flags: number;
}

export interface DirEntry {
  name: string;
  stat: StoreStat;
}

export interface StoreHandle {
  /** Reads into `buf` at `offset` (no copy of the caller's buffer); returns bytes read, 0 at end of file. */
  read(buf: Buffer, offset: number, length: number, position: number): Promise<number>;
  /** Writes all of `data` at `position` (a gap past the end reads as zeros); returns bytes written. */
  write(data: Buffer, position: number): Promise<number>;
  truncate(size: number): Promise<void>;
  sync(): Promise<void>;
  stat(): Promise<StoreStat>;
  /** Idempotent. Any other call after close throws EBADF. */
  close(): Promise<void>;
}

export interface OpenOptions {
  /** open for writing too (reads are always allowed); writing on a read-only handle throws EBADF */
  write: boolean;
  /** 'never' (default): must exist; 'always': create if missing; 'new': must not exist (EEXIST) */
  create?: 'new' | 'always' | 'never';
  /** empty an existing file (or stream); needs `write` */
  truncate?: boolean;
  /** a named stream ('' or absent: the unnamed data stream) */
  stream?: string;
}

export interface SetTimes {
  birthtimeMs?: number;
  mtimeMs?: number;
  atimeMs?: number;
  ctimeMs?: number;
}

export interface StreamInfo {
  name: string;
  size: number;
}

export interface StoreStatFs {
  totalBytes: number;
  freeBytes: number;
  availableBytes: number;
  blockSize: number;
}

/**
 * A change `watch` saw. Changes made through the store itself are reported too; a store may merge, delay or
 * (under load) drop changes, so watching is best effort.
 */
export interface StoreChange {
  type: 'added' | 'removed' | 'modified';
  /** The store path of the entry that changed. */
  path: string;
  /** Whether the entry is a directory, when the store knows. */
  directory?: boolean;
}

export interface StoreWatcher {
  /** Idempotent: no change is reported after it. */
  close(): void;
}

export interface FileStore {
  stat(path: string): Promise<StoreStat>;
  open(path: string, opts: OpenOptions): Promise<StoreHandle>;
  /** Entries in no particular order, without '.' and '..' and without the store's own metadata. */
  readdir(path: string): Promise<DirEntry[]>;
  /**
   * The names of a directory's entries (same rules as readdir), without stat'ing them: what name lookups and
   * emptiness checks need. With `limit`, at most that many names (any of them).
   */
  readdirNames(path: string, limit?: number): Promise<string[]>;
  mkdir(path: string): Promise<void>;
  rmdir(path: string): Promise<void>;
  unlink(path: string): Promise<void>;
  rename(from: string, to: string, opts: { replace: boolean }): Promise<void>;
  setTimes(path: string, times: SetTimes): Promise<void>;
  setAttributes(path: string, dosAttributes: number): Promise<void>;
  listStreams?(path: string): Promise<StreamInfo[]>;
  deleteStream?(path: string, stream: string): Promise<void>;
  /**
   * Renames a named stream of a file (the data and open handles follow it). An existing target is EEXIST unless
   * `replace`; a missing source is ENOENT. Names compare case-insensitively; the new spelling is kept.
   */
  renameStream?(path: string, from: string, to: string, opts: { replace: boolean }): Promise<void>;
  /** The file's stored security descriptor (self-relative bytes), or undefined when none was ever set. */
  getSecurity?(path: string): Promise<Buffer | undefined>;
  /** Replaces the file's stored security descriptor (EROFS on a read-only store). */
  setSecurity?(path: string, sd: Buffer): Promise<void>;
  /** The file's extended attributes in the order they were set ([] when it has none). */
  getEas?(path: string): Promise<StoreEa[]>;
  /** Replaces all of the file's extended attributes ([] removes them; EROFS on a read-only store). */
  setEas?(path: string, eas: readonly StoreEa[]): Promise<void>;
  statfs(): Promise<StoreStatFs>;
  /**
   * Reports changes to the entries of directory `path` (with `recursive`, to everything below it) until closed;
   * the store's own metadata is never reported. `onError` is called once if watching stops by itself.
   */
  watch?(path: string, opts: { recursive: boolean }, onChange: (c: StoreChange) => void, onError?: (err: Error) => void): StoreWatcher;
  readonly caseSensitive: boolean;
  close?(): Promise<void>;
}

/**
 * Error codes a store throws. EROFS: a write to a read-only store. EBADF: a call on a closed handle or a
 * write through a read-only handle (a caller bug). Stores may pass through other OS codes (EMFILE, ...).
 */
export type StoreErrorCode =
  | 'ENOENT'
  | 'EEXIST'
  | 'ENOTDIR'
  | 'EISDIR'
  | 'ENOTEMPTY'
  | 'EACCES'
  | 'EPERM'
  | 'ENOSPC'
  | 'EINVAL'
  | 'ENAMETOOLONG'
  | 'EXDEV'
  | 'EBUSY'
  | 'EROFS'
  | 'EBADF';

/** Which part of a path was missing: the last component ('leaf') or a directory on the way ('parent'). */
export type MissingComponent = 'parent' | 'leaf';

export class StoreError extends Error {
  override readonly name = 'StoreError';
  readonly code: string;
  /** Set on ENOENT/ENOTDIR when the store or resolver knows which component failed. */
  readonly component: MissingComponent | undefined;
  constructor(code: string, message: string, component?: MissingComponent) {
    super(`${code}: ${message}`);
    this.code = code;
    this.component = component;
  }
}

export function storeError(code: StoreErrorCode, message: string, component?: MissingComponent): StoreError {
  return new StoreError(code, message, component);
}

/** The Node-style code of an error (`undefined` if it has none). */
export function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * The attributes of an entry whose attributes were never set: ARCHIVE for a file, what NTFS gives every new or
 * changed file; none for a directory. Stores keep nothing for an entry until its attributes differ from these.
 */
export function defaultAttributes(type: 'file' | 'directory'): number {
  return type === 'file' ? 0x20 /* ARCHIVE */ : 0;
}

/** DOS attribute bits the server derives and stores never keep (MS-FSCC 2.6). */
export const DERIVED_ATTRIBUTES = 0x10 /* DIRECTORY */ | 0x80; /* NORMAL */
