import { Status } from '../../protocol/nt-status.js';
import { AccessMask, QueryDirectoryFlags } from '../../protocol/smb2/constants.js';
import { decodeQueryDirectoryRequest, encodeQueryDirectoryResponse } from '../../protocol/smb2/commands/query-directory.js';
import { DirectoryListingEncoder, dirInfoFixedSize, isSupportedDirInfoClass } from '../../protocol/smb2/fscc/dir-info.js';
import { hasWildcards, matchWildcard } from '../../protocol/smb2/fscc/wildcard.js';
import { isValidComponent, joinPath, namesEqualIgnoringCase, parentPath, resolveCaseInsensitive } from '../../store/resolve.js';
import type { DirEntry, FileStore, StoreStat } from '../../store/types.js';
import type { Outcome, RequestContext } from '../context.js';
import { dirEntryFacts } from '../files.js';
import type { Open } from '../state/open.js';
import { storeErrorToStatus } from '../status-map.js';
import { nodeKey } from '../server.js';
import { checkCreditCharge } from './io-checks.js';

/** QUERY_DIRECTORY (MS-SMB2 3.3.5.18): a snapshot per enumeration, served in order across requests. */
export async function handleQueryDirectory(ctx: RequestContext): Promise<Outcome> {
  const req = decodeQueryDirectoryRequest(ctx.r);
  const open = ctx.open(req.fileId);
  if (!open) return Status.FILE_CLOSED;
  // A print queue cannot be listed (what Samba answers; its jobs are not files for clients to browse).
  if (open.tree.share.kind === 'printer') return Status.NOT_SUPPORTED;
  if (!open.isDirectory) return Status.INVALID_PARAMETER;
  if (!(open.grantedAccess & AccessMask.FILE_READ_DATA)) return Status.ACCESS_DENIED;
  if (!isSupportedDirInfoClass(req.fileInformationClass)) return Status.INVALID_INFO_CLASS;
  if (req.outputBufferLength > ctx.conn.maxTransactSize) return Status.INVALID_PARAMETER;
  const charge = checkCreditCharge(ctx, req.outputBufferLength);
  if (charge !== undefined) return charge;
  const pattern = req.fileName === '' ? '*' : req.fileName;
  if (pattern.includes('\\') || pattern.includes('/')) return Status.OBJECT_NAME_INVALID;

  const restart = (req.flags & (QueryDirectoryFlags.RESTART_SCANS | QueryDirectoryFlags.REOPEN)) !== 0;
  let first = false;
  if (!open.dir || restart) {
    try {
      const removedSeen = open.node.childrenRemoved;
      open.dir = { pattern, entries: await snapshot(open.tree.share.store!, open, pattern), index: 0, removedSeen, checkLive: false };
    } catch (err) {
      return storeErrorToStatus(err);
    }
    first = true;
  }
  const cursor = open.dir;
  // Entries deleted since the snapshot are no longer returned (MS-FSA 2.1.5.6.3 enumerates the live directory):
  // from then on each entry is looked up again as it is returned, a cost per entry sent, not per folder size.
  if (cursor.removedSeen !== open.node.childrenRemoved) cursor.checkLive = true;
  const fixed = dirInfoFixedSize(req.fileInformationClass) ?? 0;
  if (req.outputBufferLength < fixed) return Status.INFO_LENGTH_MISMATCH;
  const enc = new DirectoryListingEncoder(req.fileInformationClass, req.outputBufferLength);
  const single = (req.flags & QueryDirectoryFlags.RETURN_SINGLE_ENTRY) !== 0;
  const nodes = ctx.conn.server.nodes;
  const share = open.tree.share;
  const store = share.store!;
  while (cursor.index < cursor.entries.length) {
    let e = cursor.entries[cursor.index]!;
    if (cursor.checkLive && e.name !== '.' && e.name !== '..') {
      const live = await statIfPresent(store, joinPath(open.path, e.name));
      if (live === undefined) {
        cursor.index++;
        continue;
      }
      e = cursor.entries[cursor.index] = { name: e.name, stat: live };
    }
    // An open file's entry reports the last-write time its handles see (DelayedWriteTime).
    const node = e.name === '.' || e.name === '..' ? undefined : nodes.get(nodeKey(share, open.path === '' ? e.name : `${open.path}/${e.name}`));
    if (!enc.add(dirEntryFacts(e.name, e.stat, node))) break;
    cursor.index++;
    if (single) break;
  }
  if (enc.count === 0) {
    if (cursor.index < cursor.entries.length) return Status.INFO_LENGTH_MISMATCH; // the next entry alone is too big
    return first ? Status.NO_SUCH_FILE : Status.NO_MORE_FILES;
  }
  const data = enc.finish();
  return { body: (w) => encodeQueryDirectoryResponse(w, { outputBuffer: data }) };
}

async function snapshot(store: FileStore, open: Open, pattern: string): Promise<DirEntry[]> {
  const dirPath = open.path;
  const wild = hasWildcards(pattern);
  const out: DirEntry[] = [];
  const matches = (name: string) => (wild ? matchWildcard(pattern, name) : namesEqualIgnoringCase(pattern, name));
  if (matches('.')) out.push({ name: '.', stat: await store.stat(dirPath) });
  if (matches('..')) out.push({ name: '..', stat: await store.stat(dirPath === '' ? '' : parentPath(dirPath)) });
  if (!wild) {
    // One name: looked up, not searched for among the folder's entries.
    if (pattern === '.' || pattern === '..' || !isValidComponent(pattern)) return out;
    const found = await resolveCaseInsensitive(store, joinPath(dirPath, pattern));
    if (found.exists && found.stat) out.push({ name: found.path.slice(found.path.lastIndexOf('/') + 1), stat: found.stat });
    return out;
  }
  const entries = await store.readdir(dirPath);
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) if (matches(e.name)) out.push(e);
  return out;
}

/** An entry's current stat, or undefined when it is gone (or can no longer be read: not listed, as in readdir). */
async function statIfPresent(store: FileStore, path: string): Promise<StoreStat | undefined> {
  return store.stat(path).catch(() => undefined);
}
