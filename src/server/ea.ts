/**
 * Extended attributes as Windows serves them: set by CREATE's EA buffer (MS-SMB2 2.2.13.2.1) and by SET_INFO
 * FileFullEaInformation (MS-FSA 2.1.5.15.5), read by QUERY_INFO FileFullEaInformation (MS-FSA 2.1.5.12.12) and
 * counted by EaSize (MS-FSA 2.1.5.12.10). The store keeps a file's list as a whole; the rules are here:
 * - names are 1..255 printable ASCII characters without the ones FAT forbids, and compare case-insensitively;
 *   they keep the spelling they were set with (NTFS upper-cases them; Linux clients match `getfattr -n` names
 *   case-sensitively, so the given spelling is what lets them read an EA back, and Windows clients don't mind);
 * - setting an EA removes the one of the same name and appends the new one; an empty value only removes;
 * - a file's EAs take at most 64 KiB - 5 bytes, counted as NTFS counts them (STATUS_EA_TOO_LARGE).
 */
import { Status } from '../protocol/nt-status.js';
import { AccessMask, CreateOptions } from '../protocol/smb2/constants.js';
import { QueryInfoFlags, type QueryInfoRequest } from '../protocol/smb2/commands/query-info.js';
import { CreateContextName, findCreateContext, type CreateContext } from '../protocol/smb2/contexts/create-contexts.js';
import { decodeFullEaList, decodeGetEaList, encodeFullEaList, FILE_NEED_EA, fullEaEntrySize, type FullEa } from '../protocol/smb2/fscc/ea.js';
import { WireError } from '../errors.js';
import { Reader } from '../util/reader.js';
import { Writer } from '../util/writer.js';
import type { FileStore, StoreEa, StoreStat } from '../store/types.js';
import type { Open } from './state/open.js';

/** MS-FSA 2.1.5.15.5: Open.File.ExtendedAttributesLength may not pass 64 KB - 5 bytes. */
const MAX_EXTENDED_ATTRIBUTES_LENGTH = 64 * 1024 - 5;

/**
 * The longest EA list one request may carry (SET_INFO's buffer, CREATE's context, QUERY_INFO's list of names):
 * room to delete every EA a file can have and set as many again, with each entry's header and padding. A longer
 * one is refused before it is decoded, so no request makes the server build more than this much.
 */
export const MAX_EA_REQUEST_BYTES = 256 * 1024;

/**
 * MS-FSA File.ExtendedAttributesLength: the EAs packed as NTFS keeps them (OS/2 FEA entries: flags, name length,
 * value length, the name with its NUL, the value; no alignment).
 */
function extendedAttributesLength(eas: readonly { name: string; value: Buffer }[]): number {
  let length = 0;
  for (const ea of eas) length += 5 + Buffer.byteLength(ea.name, 'latin1') + ea.value.length;
  return length;
}

/** EaSize of FileEaInformation, FileAllInformation and directory entries: the length plus a 4-byte header, or 0 (MS-FSA 2.1.5.12.10). */
export function eaSizeOf(eas: readonly { name: string; value: Buffer }[] | undefined): number {
  const length = eas === undefined ? 0 : extendedAttributesLength(eas);
  return length === 0 ? 0 : length + 4;
}

/** Characters FAT forbids in a name, which Windows also refuses in EA names (with the control characters). */
const ILLEGAL_EA_NAME_CHARS = new Set('"*+,/:;<=>?[\\]|');

/**
 * Names Samba keeps its own metadata under (its NT ACL, DOS attributes, stream data) on a disk it may serve
 * too: setting one is refused with STATUS_ACCESS_DENIED, as Samba refuses it, so that no client can plant a forged
 * ACL or attribute for Samba (or for a later xattr-backed store) through smbkit.
 */
const SAMBA_PRIVATE_NAMES = ['security.NTACL', 'user.DOSATTRIB', 'user.SAMBA_PAI', 'user.SAMBA_STREAMS', 'org.netatalk.Metadata'].map((n) => n.toUpperCase());
const SAMBA_PRIVATE_PREFIX = 'user.DosStream.'.toUpperCase();

function isValidEaName(name: string): boolean {
  if (name.length === 0 || name.length > 255) return false;
  for (const ch of name) {
    const c = ch.charCodeAt(0);
    if (c < 0x20 || c > 0x7e || ILLEGAL_EA_NAME_CHARS.has(ch)) return false;
  }
  return true;
}

function isSambaPrivate(name: string): boolean {
  const upper = name.toUpperCase();
  return SAMBA_PRIVATE_NAMES.includes(upper) || upper.startsWith(SAMBA_PRIVATE_PREFIX);
}

/** The status refusing a list of EAs to set, or undefined when all may be set (MS-FSA 2.1.5.15.5). */
function refusedEas(eas: readonly FullEa[]): number | undefined {
  for (const ea of eas) {
    if (!isValidEaName(ea.name) || ea.flags & ~FILE_NEED_EA) return Status.INVALID_EA_NAME;
    if (isSambaPrivate(ea.name)) return Status.ACCESS_DENIED;
  }
  return undefined;
}

/**
 * `current` with `changes` applied in order (MS-FSA 2.1.5.15.5): the EA of the same name removed, a non-empty one
 * appended; STATUS_EA_TOO_LARGE as soon as the list passes the limit.
 */
function applyEas(current: readonly StoreEa[], changes: readonly FullEa[]): StoreEa[] | number {
  // Keyed by the upper-cased name; a Map keeps insertion order, so delete + set appends.
  const out = new Map(current.map((e) => [e.name.toUpperCase(), e]));
  let length = extendedAttributesLength(current);
  for (const ea of changes) {
    const key = ea.name.toUpperCase();
    const old = out.get(key);
    if (old !== undefined) {
      out.delete(key);
      length -= extendedAttributesLength([old]);
    }
    if (ea.value.length === 0) continue;
    const added = { name: ea.name, value: Buffer.from(ea.value), flags: ea.flags };
    out.set(key, added);
    length += extendedAttributesLength([added]);
    if (length > MAX_EXTENDED_ATTRIBUTES_LENGTH) return Status.EA_TOO_LARGE;
  }
  return [...out.values()];
}

function decodeEas(data: Buffer): FullEa[] | number {
  try {
    return decodeFullEaList(new Reader(data));
  } catch (err) {
    if (err instanceof WireError) return err.status ?? Status.EA_LIST_INCONSISTENT;
    throw err;
  }
}

/**
 * CREATE's EA buffer context (MS-SMB2 2.2.13.2.1), checked before anything is created: a store without EAs
 * answers STATUS_EAS_NOT_SUPPORTED (MS-SMB2 3.3.5.9), a malformed list STATUS_EA_LIST_INCONSISTENT, a bad name
 * STATUS_INVALID_EA_NAME. Returns what sets the EAs on the file the CREATE created or overwrote (they replace the
 * ones an overwritten file had; a plain open ignores them), or undefined without the context.
 */
export function createEaBuffer(contexts: readonly CreateContext[], store: FileStore): ((path: string) => Promise<void>) | number | undefined {
  const context = findCreateContext(contexts, CreateContextName.EA_BUFFER);
  if (context === undefined) return undefined;
  const setEas = store.setEas?.bind(store);
  if (setEas === undefined) return Status.EAS_NOT_SUPPORTED;
  if (context.data.length > MAX_EA_REQUEST_BYTES) return Status.EA_TOO_LARGE;
  const given = decodeEas(context.data);
  if (typeof given === 'number') return given;
  const refused = refusedEas(given);
  if (refused !== undefined) return refused;
  const eas = applyEas([], given);
  if (typeof eas === 'number') return eas;
  return (path) => setEas(path, eas);
}

/**
 * MS-FSA 2.1.5.1.2: a client that says it does not understand EAs (FILE_NO_EA_KNOWLEDGE) may not open the file or
 * directory itself (its named streams it may) when one of its EAs has FILE_NEED_EA.
 */
export function needsEaKnowledge(createOptions: number, stat: StoreStat, stream: string | undefined): boolean {
  if (!(createOptions & CreateOptions.NO_EA_KNOWLEDGE) || stream !== undefined) return false;
  return stat.eas?.some((ea) => ea.flags & FILE_NEED_EA) === true;
}

/** SET_INFO FileFullEaInformation (MS-SMB2 3.3.5.21.1, MS-FSA 2.1.5.15.5): the list's EAs set, replaced or deleted. */
export async function setFullEaInformation(open: Open, eas: readonly FullEa[]): Promise<number> {
  const store = open.tree.share.store!;
  if (!store.getEas || !store.setEas) return Status.EAS_NOT_SUPPORTED;
  if (!(open.grantedAccess & AccessMask.FILE_WRITE_EA)) return Status.ACCESS_DENIED;
  const refused = refusedEas(eas);
  if (refused !== undefined) return refused;
  const next = applyEas(await store.getEas(open.path), eas);
  if (typeof next === 'number') return next;
  await store.setEas(open.path, next);
  return Status.SUCCESS;
}

/**
 * Where each open's scan of its file's EAs continues (MS-FSA Open.NextEaEntry: an index into the file's list).
 * Kept here, by the one module that reads it, and dropped with the open.
 */
const nextEaEntry = new WeakMap<Open, number>();

/**
 * QUERY_INFO FileFullEaInformation (MS-SMB2 3.3.5.20.1, MS-FSA 2.1.5.12.12). With a FILE_GET_EA_INFORMATION list
 * in the input buffer, the named EAs in the list's order (a missing one comes back with an empty value, as NTFS
 * answers); otherwise a scan from SL_INDEX_SPECIFIED's AdditionalInformation (1 is the first EA), from the start
 * with SL_RESTART_SCAN, or from where the open's last scan stopped. Entries are never cut: none fitting is
 * STATUS_BUFFER_TOO_SMALL, some is STATUS_BUFFER_OVERFLOW.
 */
export async function queryFullEaInformation(open: Open, req: QueryInfoRequest): Promise<{ status: number; data: Buffer }> {
  const empty = Buffer.alloc(0);
  const store = open.tree.share.store!;
  if (!store.getEas) return { status: Status.EAS_NOT_SUPPORTED, data: empty };
  const eas = await store.getEas(open.path);
  if (eas.length === 0) return { status: Status.NO_EAS_ON_FILE, data: empty };
  const single = (req.flags & QueryInfoFlags.RETURN_SINGLE_ENTRY) !== 0;
  if (req.inputBuffer.length > 0) {
    if (req.inputBuffer.length > MAX_EA_REQUEST_BYTES) return { status: Status.INVALID_PARAMETER, data: empty };
    let names: string[];
    try {
      names = decodeGetEaList(new Reader(req.inputBuffer));
    } catch (err) {
      if (err instanceof WireError) return { status: err.status ?? Status.EA_LIST_INCONSISTENT, data: empty };
      throw err;
    }
    if (names.some((n) => !isValidEaName(n))) return { status: Status.INVALID_EA_NAME, data: empty };
    const byName = new Map(eas.map((e) => [e.name.toUpperCase(), e]));
    const wanted = names.map((name) => byName.get(name.toUpperCase()) ?? { name, value: empty, flags: 0 });
    return fill(single ? wanted.slice(0, 1) : wanted, req.outputBufferLength).result;
  }
  let start: number;
  if (req.flags & QueryInfoFlags.INDEX_SPECIFIED) {
    if (req.additionalInformation === 0 || req.additionalInformation > eas.length) return { status: Status.NONEXISTENT_EA_ENTRY, data: empty };
    start = req.additionalInformation - 1;
  } else {
    start = req.flags & QueryInfoFlags.RESTART_SCAN ? 0 : (nextEaEntry.get(open) ?? 0);
    if (start >= eas.length) return { status: Status.NO_MORE_EAS, data: empty };
  }
  const rest = eas.slice(start, single ? start + 1 : undefined);
  const { result, count } = fill(rest, req.outputBufferLength);
  nextEaEntry.set(open, start + count);
  // Entries left after this answer, in the file's list, make it an overflow even when a single one was asked for.
  if (result.status === Status.SUCCESS && start + count < eas.length && !single) return { ...result, status: Status.BUFFER_OVERFLOW };
  return result;
}

/** As many whole entries as fit in `max` bytes. */
function fill(eas: readonly StoreEa[], max: number): { result: { status: number; data: Buffer }; count: number } {
  let size = 0;
  let count = 0;
  for (const ea of eas) {
    const end = (count === 0 ? 0 : (size + 3) & ~3) + fullEaEntrySize(ea);
    if (end > max) break;
    size = end;
    count++;
  }
  if (count === 0) return { result: { status: Status.BUFFER_TOO_SMALL, data: Buffer.alloc(0) }, count };
  const w = new Writer(size);
  encodeFullEaList(w, eas.slice(0, count));
  return { result: { status: count < eas.length ? Status.BUFFER_OVERFLOW : Status.SUCCESS, data: w.finish() }, count };
}
