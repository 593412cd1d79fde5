import { AccessMask, OplockLevel } from '../protocol/smb2/constants.js';
import type { Connection } from './connection.js';
import type { SmbServer } from './server.js';
import type { ShareDef } from './shares.js';
import { keepsHandle } from './state/durable.js';
import { Lease, LeaseTable } from './state/leases.js';
import type { PersistedOpen } from './state/journal.js';
import { Open } from './state/open.js';
import { Session } from './session.js';
import { Tree } from './tree.js';

/**
 * The stand-in for the connection of a session that existed before the server restarted: a recovered open is
 * disconnected, so nothing is ever sent through it. It only answers the fields that code reading a disconnected
 * open's session touches (break bookkeeping).
 */
function pastConnection(server: SmbServer): Connection {
  return { server, sessions: new Map(), outstandingBreaks: 0, sendBreakNotification: () => {} } as unknown as Connection;
}

/**
 * Rebuilds the persistent opens of the journal after a start (MS-SMB2 3.3.5.9.12 reclaims them), and with workers
 * the durable opens of a worker that died (3.3.5.9.7 reclaims them on its successor): each gets its file handle,
 * its place among the file's opens (share modes hold), its lease or oplock and its byte-range locks back,
 * disconnected, with a fresh reconnect timeout. Records whose share or file is gone are dropped, and so are durable
 * ones that no longer held what keeps a durable open (a batch oplock or a lease with handle caching, 3.3.7.1).
 */
export async function recoverPersistentOpens(
  server: SmbServer,
  records: readonly PersistedOpen[],
  claim?: (share: ShareDef, path: string) => Promise<(() => void) | undefined>,
): Promise<number> {
  const conn = pastConnection(server);
  let recovered = 0;
  for (const rec of records) {
    const share = server.findShare(rec.share);
    const store = share?.store;
    const persistent = rec.persistent ?? true;
    if (!share || !store || (persistent && !share.continuousAvailability)) {
      server.log.warn('persistent open dropped: its share is gone or not continuously available', { share: rec.share, path: rec.path });
      server.durables.dropRecord(rec);
      continue;
    }
    if (!persistent && !keepsHandle(rec.oplockLevel, rec.lease?.state)) {
      server.durables.dropRecord(rec);
      continue;
    }
    // With workers, the file's state must be this worker's (workers/link.ts, claims).
    const unpin = claim ? await claim(share, rec.path) : () => {};
    if (!unpin) {
      server.log.warn('persistent open not recovered: another worker has its file', { share: rec.share, path: rec.path });
      // A journalled one is tried again at the next start; a durable one is gone.
      if (!persistent) server.durables.dropRecord(rec);
      continue;
    }
    try {
      if (await recoverOne(server, conn, share, rec)) recovered++;
    } finally {
      unpin();
    }
  }
  return recovered;
}

async function recoverOne(server: SmbServer, conn: Connection, share: ShareDef, rec: PersistedOpen): Promise<boolean> {
  const store = share.store!;
  const persistentId = BigInt(rec.persistentId);
  let handle;
  try {
    if (!rec.isDirectory) {
      const write = (rec.grantedAccess & (AccessMask.FILE_WRITE_DATA | AccessMask.FILE_APPEND_DATA)) !== 0 && !share.readOnly;
      handle = await store.open(rec.path, { write, ...(rec.stream !== null ? { stream: rec.stream, create: 'never' as const } : {}) });
    } else {
      await store.stat(rec.path);
    }
  } catch (err) {
    server.log.warn('persistent open dropped: its file cannot be opened', { share: rec.share, path: rec.path, error: (err as Error).message });
    server.durables.dropRecord(rec);
    return false;
  }
  const session = new Session(0n, conn);
  session.state = 'expired';
  session.identity = { user: rec.owner, domain: '', guest: rec.owner === '(GUEST)', anonymous: false, sessionKey: Buffer.alloc(0) };
  const tree = new Tree(0, session, share, rec.grantedAccess, share.readOnly, share.encrypt);
  const node = server.node(share, rec.path);
  const open = new Open({
    persistentId,
    volatileId: persistentId,
    session,
    tree,
    node,
    isDirectory: rec.isDirectory,
    grantedAccess: rec.grantedAccess,
    shareAccess: rec.shareAccess,
    createOptions: rec.createOptions,
    clientGuid: Buffer.from(rec.clientGuid, 'hex'),
    owner: rec.owner,
    stream: rec.stream ?? undefined,
    handle,
    deleteOnClose: rec.deleteOnClose,
  });
  open.createGuid = rec.createGuid ? Buffer.from(rec.createGuid, 'hex') : undefined;
  open.durable = { version: rec.durableVersion ?? 2, persistent: rec.persistent ?? true, timeoutMs: rec.timeoutMs };
  open.currentByteOffset = BigInt(rec.position);
  rec.lockSequences.forEach((v, i) => (open.lockSequences[i] = v ?? undefined));
  node.opens.add(open);
  if (rec.lease) {
    const key = Buffer.from(rec.lease.key, 'hex');
    let lease = server.caching.leases.get(open.clientGuid, key);
    if (!lease) {
      lease = new Lease({
        id: LeaseTable.idOf(open.clientGuid, key),
        key,
        clientGuid: open.clientGuid,
        version: rec.lease.version,
        parentKey: rec.lease.parentKey ? Buffer.from(rec.lease.parentKey, 'hex') : undefined,
        node,
        epoch: rec.lease.epoch,
      });
      lease.state = rec.lease.state;
      server.caching.leases.add(lease);
    }
    lease.opens.add(open);
    open.lease = lease;
    open.oplockLevel = OplockLevel.LEASE;
  } else {
    open.oplockLevel = rec.oplockLevel;
  }
  const ranges = rec.locks.map((l) => ({ offset: BigInt(l.offset), length: BigInt(l.length), exclusive: l.exclusive }));
  if (ranges.length > 0 && !node.locksOf(open).tryLock(open, ranges)) {
    server.log.warn('persistent open: its byte-range locks conflict after the restart', { path: rec.path });
  }
  server.notePersistentId(persistentId);
  server.durables.recovered(open);
  return true;
}
