import { FileAttributes } from '../protocol/smb2/constants.js';
import { filetimeToMs } from '../util/filetime.js';

/** What a stat or a directory entry tells about a file, shaped like fs.Stats. */
export interface StatFacts {
  creationTime: bigint;
  lastAccessTime: bigint;
  lastWriteTime: bigint;
  changeTime: bigint;
  endOfFile: bigint;
  allocationSize: bigint;
  fileAttributes: number;
  fileId?: bigint;
  numberOfLinks?: number;
}

/** fs.Stats-like file facts: sizes, times (Date and ms), type tests, and the DOS attributes. */
export class SmbStats {
  readonly size: number;
  readonly blocks: number;
  readonly blksize = 4096;
  /** DOS attributes (FILE_ATTRIBUTE_*). */
  readonly attributes: number;
  readonly ino: bigint;
  readonly nlink: number;
  /** A Unix-like mode: 0o40755 for directories, 0o100644 (0o100444 read-only) for files. */
  readonly mode: number;
  readonly atimeMs: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly birthtimeMs: number;

  constructor(f: StatFacts) {
    this.size = Number(f.endOfFile);
    this.blocks = Math.ceil(Number(f.allocationSize) / 512);
    this.attributes = f.fileAttributes;
    this.ino = f.fileId ?? 0n;
    this.nlink = f.numberOfLinks ?? 1;
    const readOnly = (f.fileAttributes & FileAttributes.READONLY) !== 0;
    this.mode = this.isDirectory() ? 0o40755 : readOnly ? 0o100444 : 0o100644;
    this.atimeMs = filetimeToMs(f.lastAccessTime);
    this.mtimeMs = filetimeToMs(f.lastWriteTime);
    this.ctimeMs = filetimeToMs(f.changeTime);
    this.birthtimeMs = filetimeToMs(f.creationTime);
  }

  get atime(): Date {
    return new Date(this.atimeMs);
  }
  get mtime(): Date {
    return new Date(this.mtimeMs);
  }
  get ctime(): Date {
    return new Date(this.ctimeMs);
  }
  get birthtime(): Date {
    return new Date(this.birthtimeMs);
  }
  isDirectory(): boolean {
    return (this.attributes & FileAttributes.DIRECTORY) !== 0;
  }
  isFile(): boolean {
    return !this.isDirectory();
  }
  isSymbolicLink(): boolean {
    return false;
  }
}

/** A directory entry (readdir with `withFileTypes`), shaped like fs.Dirent, with the entry's stats. */
export class SmbDirent {
  constructor(
    readonly name: string,
    /** The directory it was listed from (share-relative, '/'-separated). */
    readonly parentPath: string,
    readonly stats: SmbStats,
  ) {}
  isDirectory(): boolean {
    return this.stats.isDirectory();
  }
  isFile(): boolean {
    return this.stats.isFile();
  }
  isSymbolicLink(): boolean {
    return false;
  }
}
