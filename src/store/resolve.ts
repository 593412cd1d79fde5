import type { DirEntry, FileStore, StoreStat } from './types.js';
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

/**
 * Upper-cases a name the way Windows compares names: one code point to one code point (simple case
 * mapping), so a character whose full upper case is longer (ß -> SS) stays as it is.
 */
export function upcase(name: string): string {
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
      const match = await findIgnoringCase(store, resolved, name);
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

/** The entry of `dir` whose name equals `name` ignoring case (the first in code-unit order when several do). */
async function findIgnoringCase(store: FileStore, dir: string, name: string): Promise<DirEntry | undefined> {
  const wanted = upcase(name);
  let entries: DirEntry[];
  try {
    entries = await store.readdir(dir);
  } catch (err) {
    throw asParentError(err);
  }
  let best: DirEntry | undefined;
  for (const e of entries) {
    if (upcase(e.name) === wanted && (best === undefined || e.name < best.name)) best = e;
  }
  return best;
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
