import { FileAttributes } from '../protocol/smb2/constants.js';
import type { DirEntryFacts } from '../protocol/smb2/fscc/dir-info.js';
import type { FileFacts } from '../protocol/smb2/fscc/file-info.js';
import { isValidComponent, isValidStreamName } from '../store/resolve.js';
import type { StoreStat } from '../store/types.js';
import { Status } from '../protocol/nt-status.js';
import { msToFiletime } from '../util/filetime.js';
import { eaSizeOf } from './ea.js';
import type { FileNode } from './state/file-node.js';

/**
 * How the server turns SMB names into store paths and store stats into the facts SMB reports. One place for the
 * name rules (MS-FSCC 2.1.5) and attribute derivation.
 */

export interface ParsedName {
  /** Store path ('/'-separated, '' = share root). */
  path: string;
  /** Named stream, or undefined for the default data stream. */
  stream: string | undefined;
  /** The name spelled the unnamed data stream out ("file::$DATA"): only a file has one. */
  unnamedData?: boolean;
}

/**
 * Parses a CREATE or rename name: `dir\file` (or `dir/file`), `file:stream`, `file:stream:$DATA`, `file::$DATA`.
 * Returns a status for names Windows refuses.
 */
export function parseSmbName(name: string): ParsedName | number {
  if (name === '') return { path: '', stream: undefined };
  if (name.startsWith('\\') || name.startsWith('/')) return Status.INVALID_PARAMETER;
  // '/' cannot be part of a file name (MS-FSCC 2.1.5.2); like Samba and ksmbd, the server reads it as a separator
  // (smbtorture sends "dir/file"), so both spellings name the same file and pass the same component checks.
  const parts = name.split(/[\\/]/);
  // A trailing separator names the same object (Windows accepts "dir\").
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  let stream: string | undefined;
  let unnamedData = false;
  const last = parts[parts.length - 1]!;
  const colon = last.indexOf(':');
  if (colon >= 0) {
    const base = last.slice(0, colon);
    const rest = last.slice(colon + 1);
    const m = /^([^:]*)(?::(\$[A-Za-z_]+))?$/.exec(rest);
    if (!m) return Status.OBJECT_NAME_INVALID;
    const type = m[2];
    if (type !== undefined && type.toUpperCase() !== '$DATA') return Status.OBJECT_NAME_INVALID;
    if (m[1] === '' && type === undefined) return Status.OBJECT_NAME_INVALID;
    if (m[1] !== '') {
      if (!isValidStreamName(m[1]!)) return Status.OBJECT_NAME_INVALID;
      stream = m[1];
    } else {
      unnamedData = true;
    }
    parts[parts.length - 1] = base;
    if (base === '' && parts.length === 1 && stream !== undefined) return Status.INVALID_PARAMETER;
  }
  // '..' names the parent, as Windows resolves it; climbing above the share root is a syntax error.
  const resolved: string[] = [];
  for (const p of parts) {
    if (p === '' && parts.length === 1) continue;
    if (p === '..' && (stream === undefined || p !== parts[parts.length - 1])) {
      if (resolved.pop() === undefined) return Status.OBJECT_PATH_SYNTAX_BAD;
      continue;
    }
    if (p === '' || p === '.' || p === '..') return Status.OBJECT_NAME_INVALID;
    if (!isValidComponent(p)) return Status.OBJECT_NAME_INVALID;
    resolved.push(p);
  }
  const path = resolved.join('/');
  return unnamedData ? { path, stream, unnamedData } : { path, stream };
}

/** The NTFS quota file's name (MS-FSCC 2.1.5.4); the server answers opens of it itself. */
const QUOTA_FAKE_NAME = '$EXTEND\\$QUOTA:$Q:$INDEX_ALLOCATION';
/** The node path the quota file's opens share (a name no store path can take: it holds ':'). */
export const QUOTA_FAKE_PATH = '$Extend/$Quota:$Q';

export function isQuotaFakeFile(name: string): boolean {
  return name.toUpperCase() === QUOTA_FAKE_NAME;
}

/** DOS attributes as SMB reports them: stored bits plus DIRECTORY; NORMAL alone when nothing else is set. */
export function attributesOf(st: StoreStat): number {
  let a = st.dosAttributes & ~(FileAttributes.DIRECTORY | FileAttributes.NORMAL);
  if (st.type === 'directory') a |= FileAttributes.DIRECTORY;
  return a === 0 ? FileAttributes.NORMAL : a;
}

/** Attribute bits a client may store (MS-FSA 2.1.5.14.2): DIRECTORY and NORMAL are derived, not kept. */
export const SETTABLE_ATTRIBUTES =
  FileAttributes.READONLY |
  FileAttributes.HIDDEN |
  FileAttributes.SYSTEM |
  FileAttributes.ARCHIVE |
  FileAttributes.TEMPORARY |
  FileAttributes.OFFLINE |
  FileAttributes.NOT_CONTENT_INDEXED;

export interface Times {
  creationTime: bigint;
  lastAccessTime: bigint;
  lastWriteTime: bigint;
  changeTime: bigint;
}

/** The times SMB reports for a stat; with the file's node, the last-write time it holds (DelayedWriteTime). */
export function timesOf(st: StoreStat, node?: FileNode): Times {
  return {
    creationTime: msToFiletime(st.birthtimeMs),
    lastAccessTime: msToFiletime(st.atimeMs),
    lastWriteTime: msToFiletime(node ? node.writeTime.report(st.mtimeMs) : st.mtimeMs),
    changeTime: msToFiletime(st.ctimeMs),
  };
}

function allocationOf(st: StoreStat): bigint {
  return st.type === 'directory' ? 0n : BigInt(st.allocationSize);
}

/** The characters an 8.3 name may hold (MS-FSCC 2.1.5.2.1): letters, digits and these. */
const SHORT_CHAR = "A-Za-z0-9!#$%&'()\\-@^_`{}~";
/** A valid 8.3 name (MS-FSCC 2.1.5.2.1): 1-8 short-name characters, an optional extension of 1-3. */
const SHORT_NAME = new RegExp(`^[${SHORT_CHAR}]{1,8}(?:\\.[${SHORT_CHAR}]{1,3})?$`);
/** Any character (code point) an 8.3 name can't hold. */
const NOT_SHORT_CHAR = new RegExp(`[^${SHORT_CHAR}]`, 'gu');

/** Whether a name is already a valid 8.3 name. */
export function isShortName(name: string): boolean {
  return name === '.' || name === '..' || SHORT_NAME.test(name);
}

/**
 * The 8.3 alternate name of a long name (MS-FSCC 2.1.5.2.1): a valid 8.3 name is its own (upper-cased);
 * otherwise up to four characters of the name, '~', three characters of a hash of the whole name (so the same
 * name always gets the same short name without per-directory state), and up to three of the extension.
 */
export function shortNameOf(name: string): string {
  if (isShortName(name)) return name.toUpperCase();
  const clean = (part: string) => part.toUpperCase().replace(/[ .]/g, '').replace(NOT_SHORT_CHAR, '_');
  const dot = name.lastIndexOf('.');
  const base = clean(dot > 0 ? name.slice(0, dot) : name);
  const ext = dot > 0 ? clean(name.slice(dot + 1)).slice(0, 3) : '';
  let h = 0x811c9dc5;
  for (const c of name.toUpperCase()) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  const hash = (h % 46656).toString(36).toUpperCase().padStart(3, '0');
  return `${base.slice(0, 4) || '_'}~${hash}${ext ? '.' + ext : ''}`;
}

export function dirEntryFacts(name: string, st: StoreStat, node?: FileNode): DirEntryFacts {
  return {
    fileName: name,
    // Directory listings carry a short name only where it differs from the long one (as NTFS does).
    ...(isShortName(name) ? {} : { shortName: shortNameOf(name) }),
    ...timesOf(st, node),
    endOfFile: st.type === 'directory' ? 0n : BigInt(st.size),
    allocationSize: allocationOf(st),
    fileAttributes: attributesOf(st),
    eaSize: eaSizeOf(st.eas),
    fileId: st.fileId,
  };
}

export function fileFacts(
  st: StoreStat,
  extra: { name: string; deletePending: boolean; accessFlags: number; currentByteOffset: bigint; mode: number; node?: FileNode },
): FileFacts {
  return {
    ...timesOf(st, extra.node),
    fileAttributes: attributesOf(st),
    allocationSize: allocationOf(st),
    endOfFile: st.type === 'directory' ? 0n : BigInt(st.size),
    // MS-FSA 2.1.5.12.27: a link pending delete no longer counts.
    numberOfLinks: Math.max(1, st.nlink) - (extra.deletePending ? 1 : 0),
    deletePending: extra.deletePending,
    directory: st.type === 'directory',
    indexNumber: st.fileId,
    eaSize: eaSizeOf(st.eas),
    accessFlags: extra.accessFlags,
    currentByteOffset: extra.currentByteOffset,
    mode: extra.mode,
    alignmentRequirement: 0,
    name: extra.name,
  };
}

/** `\dir\file` as FileNameInformation reports it, from a store path. */
export function smbPathOf(path: string): string {
  return '\\' + path.split('/').filter(Boolean).join('\\');
}
