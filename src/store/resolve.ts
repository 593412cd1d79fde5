import type { FileStore, StoreStat } from './types.js';
import { errorCode, storeError } from './types.js';

/** Longest component, in UTF-16 code units (MS-FSCC 2.1.5.2 / NTFS). */
export const MAX_COMPONENT_LENGTH = 255;

/**
 * Splits a store path into components, enforcing the store-path rules shared by every store (see types.ts):
 * '' is the root; no empty, '.' or '..' components; no NUL or '\'; no leading or trailing '/'.
 * Throws EINVAL, or ENAMETOOLONG for a component over 255 UTF-16 units.
 */
export function splitPath(path: string): string[] {
  if (path === '') return [];
  const parts = path.split('/');
  for (const part of parts) {
    if (part === '' || part === '.' || part === '..' || part.includes('\0') || part.includes('\\')) {
      throw storeError('EINVAL', `invalid path ${JSON.stringify(path)}`);
    }
    if (part.length > MAX_COMPONENT_LENGTH) throw storeError('ENAMETOOLONG', `component too long in ${JSON.stringify(path)}`);
  }
  return parts;
}

export function joinPath(...parts: string[]): string {
  return parts.filter((p) => p !== '').join('/');
}

/** The parent of a store path ('' for a top-level name or the root). */
export function parentPath(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

/**
 * A file name a Windows client may use (MS-FSCC 2.1.5.2): 1..255 UTF-16 units, no control characters
 * 0x00-0x1F and none of `" * / : < > ? \ |`. ('.' and '..' are rejected too: they are never real names.)
 */
export function isValidComponent(name: string): boolean {
  if (name.length === 0 || name.length > MAX_COMPONENT_LENGTH || name === '.' || name === '..') return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x20) return false;
    switch (c) {
      case 0x22: // "
      case 0x2a: // *
      case 0x2f: // /
      case 0x3a: // :
      case 0x3c: // <
      case 0x3e: // >
      case 0x3f: // ?
      case 0x5c: // \
      case 0x7c: // |
        return false;
    }
  }
  return true;
}

/** A named stream's name, as stores accept it: 1..255 UTF-16 units with no NUL, '/', '\' or ':'. */
export function isValidStreamName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_COMPONENT_LENGTH && !/[\0/\\:]/.test(name);
}

const ASCII = /^[\x00-\x7f]*$/;

/**
 * Upper-cases a name the way Windows compares names: one code point to one code point (simple case
 * mapping), so a character whose full upper case is longer (ß -> SS) stays as it is.
 */
export function upcase(name: string): string {
  if (ASCII.test(name)) return name.toUpperCase();
  let out = '';
  for (const ch of name) {
    const up = ch.toUpperCase();
    out += up.length === ch.length || [...up].length === 1 ? up : ch;
  }
  return out;
}

/** True when two names are equal under Windows' case-insensitive comparison. */
export function namesEqualIgnoringCase(a: string, b: string): boolean {
  return a === b || upcase(a) === upcase(b);
}

export interface Resolved {
  /** the path with each existing component spelled as the store has it */
  path: string;
  exists: boolean;
  /** the stat of the resolved path when it exists */
  stat: StoreStat | undefined;
}

/**
 * Resolves a path case-insensitively against a store. Each component is tried exactly first (one stat), and
 * only when missing, case-insensitively among the directory's entries (sorted, so the choice is stable when
 * several spellings exist on a case-sensitive disk).
 *
 * A missing or non-directory middle component throws ENOENT/ENOTDIR with `component: 'parent'`
 * (OBJECT_PATH_NOT_FOUND); a missing last component returns the resolved parent + the name as given, with
 * `exists: false` (the caller may create it, or report OBJECT_NAME_NOT_FOUND).
 */
export async function resolveCaseInsensitive(store: FileStore, path: string): Promise<Resolved> {
  const parts = splitPath(path);
  if (parts.length === 0) return { path: '', exists: true, stat: await store.stat('') };
  let resolved = '';
  let stat: StoreStat | undefined;
  for (const [i, name] of parts.entries()) {
    const isLast = i === parts.length - 1;
    let found = await tryStat(store, joinPath(resolved, name));
    let spelled = name;
    if (found === undefined && store.caseSensitive) {
      const match = await findFolded(store, resolved, name);
      if (match !== undefined) {
        spelled = match.name;
        found = match.stat;
      }
    }
    const next = joinPath(resolved, spelled);
    if (found === undefined) {
      if (isLast) return { path: next, exists: false, stat: undefined };
      throw storeError('ENOENT', `path not found: ${next}`, 'parent');
    }
    if (!isLast && found.type !== 'directory') throw storeError('ENOTDIR', `not a directory: ${next}`, 'parent');
    resolved = next;
    stat = found;
  }
  return { path: resolved, exists: true, stat };
}

/**
 * Case-insensitive name index of a directory: its names grouped by upper-cased form, valid while the directory's
 * stamp (file id + last-write time) is the one it was read at. Names the server creates or removes itself are
 * applied in place (noteCreated/noteRemoved), so a burst of creates in one directory does not re-read it each
 * time (creating N files would otherwise cost N directory listings).
 */
interface DirIndex {
  fileId: bigint;
  mtimeMs: number;
  byUpper: Map<string, string[]>;
}

const MAX_INDEXED_DIRS = 256;
const indexes = new WeakMap<FileStore, Map<string, DirIndex>>();

function indexesOf(store: FileStore): Map<string, DirIndex> {
  let m = indexes.get(store);
  if (!m) {
    m = new Map();
    indexes.set(store, m);
  }
  return m;
}

async function dirIndex(store: FileStore, dir: string): Promise<DirIndex> {
  const st = await store.stat(dir).catch((err: unknown) => {
    throw asParentError(err);
  });
  const map = indexesOf(store);
  const cached = map.get(dir);
  if (cached && cached.fileId === st.fileId && cached.mtimeMs === st.mtimeMs) {
    map.delete(dir);
    map.set(dir, cached); // most recently used last
    return cached;
  }
  const byUpper = new Map<string, string[]>();
  const names = await store.readdirNames(dir).catch((err: unknown) => {
    throw asParentError(err);
  });
  for (const name of names) {
    const k = upcase(name);
    const list = byUpper.get(k);
    if (list) list.push(name);
    else byUpper.set(k, [name]);
  }
  const idx: DirIndex = { fileId: st.fileId, mtimeMs: st.mtimeMs, byUpper };
  map.delete(dir);
  map.set(dir, idx);
  if (map.size > MAX_INDEXED_DIRS) map.delete(map.keys().next().value as string);
  return idx;
}

/** The entry of `dir` whose name equals `name` case-insensitively (the first in code-unit order when several). */
async function findFolded(store: FileStore, dir: string, name: string): Promise<{ name: string; stat: StoreStat } | undefined> {
  const idx = await dirIndex(store, dir);
  const names = [...(idx.byUpper.get(upcase(name)) ?? [])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const n of names) {
    const st = await tryStat(store, joinPath(dir, n));
    if (st) return { name: n, stat: st };
  }
  return undefined;
}

/** Keeps a directory's index current after the server itself created or removed `path` in it. */
async function noteChange(store: FileStore, path: string, add: boolean): Promise<void> {
  if (!store.caseSensitive) return;
  const dir = parentPath(path);
  const map = indexesOf(store);
  const idx = map.get(dir);
  if (!idx) return;
  const name = path.slice(dir === '' ? 0 : dir.length + 1);
  const k = upcase(name);
  const list = idx.byUpper.get(k) ?? [];
  const next = add ? (list.includes(name) ? list : [...list, name]) : list.filter((n) => n !== name);
  if (next.length) idx.byUpper.set(k, next);
  else idx.byUpper.delete(k);
  try {
    const st = await store.stat(dir);
    idx.fileId = st.fileId;
    idx.mtimeMs = st.mtimeMs;
  } catch {
    map.delete(dir);
  }
}

export function noteCreated(store: FileStore, path: string): Promise<void> {
  return noteChange(store, path, true);
}

export function noteRemoved(store: FileStore, path: string): Promise<void> {
  return noteChange(store, path, false);
}

async function tryStat(store: FileStore, path: string): Promise<StoreStat | undefined> {
  try {
    return await store.stat(path);
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return undefined;
    throw asParentError(err);
  }
}

/** A directory on the way vanished or is a file: that is "path not found". */
function asParentError(err: unknown): unknown {
  const code = errorCode(err);
  if (code === 'ENOTDIR' || code === 'ENOENT') return storeError(code, (err as Error).message, 'parent');
  return err;
}
