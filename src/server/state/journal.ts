import { randomBytes } from 'node:crypto';
import { mkdir, open as openFile, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../util/log.js';
import type { PersistentJournal as JournalHooks } from './durable.js';
import type { Open } from './open.js';

/**
 * What a persistent open needs to be rebuilt after a restart of the server: its file, its access, its owner, the
 * lease or oplock it held and its byte-range locks (MS-SMB2 3.3.1.10 Open; 3.3.5.9.12 reclaims it). Plain JSON, one
 * file per open; numbers beyond 2^53 are decimal strings.
 */
export interface PersistedOpen {
  version: 1;
  persistentId: string;
  share: string;
  path: string;
  stream: string | null;
  isDirectory: boolean;
  grantedAccess: number;
  shareAccess: number;
  createOptions: number;
  clientGuid: string;
  owner: string;
  createGuid: string | null;
  timeoutMs: number;
  deleteOnClose: boolean;
  oplockLevel: number;
  lease: { key: string; state: number; version: 1 | 2; epoch: number; parentKey: string | null } | null;
  locks: { offset: string; length: string; exclusive: boolean }[];
  lockSequences: (number | null)[];
  position: string;
  /**
   * The durable context version, and whether the open is persistent. Absent in the journal's records (persistent
   * v2 opens); a multi-worker primary also keeps records of plain durable opens, which a worker's successor rebuilds.
   */
  durableVersion?: 1 | 2;
  persistent?: boolean;
}

/** The journal's own facts: the server's GUID (clients see the same server after a restart) and the next FileId. */
interface JournalMeta {
  serverGuid: string;
}

const OPEN_FILE = /^open-([0-9]+)\.json$/;

/** The record of an open as it is now. */
export function snapshot(open: Open): PersistedOpen {
  const l = open.lease;
  const locks = open.node.existingLocks(open)?.list().filter((x) => x.owner === open) ?? [];
  return {
    version: 1,
    persistentId: open.persistentId.toString(),
    share: open.tree.share.name,
    path: open.path,
    stream: open.stream ?? null,
    isDirectory: open.isDirectory,
    grantedAccess: open.grantedAccess,
    shareAccess: open.shareAccess,
    createOptions: open.createOptions,
    clientGuid: open.clientGuid.toString('hex'),
    owner: open.owner,
    createGuid: open.createGuid?.toString('hex') ?? null,
    timeoutMs: open.durable?.timeoutMs ?? 0,
    deleteOnClose: open.deleteOnClose,
    oplockLevel: open.oplockLevel,
    lease: l ? { key: l.key.toString('hex'), state: l.state, version: l.version, epoch: l.epoch, parentKey: l.parentKey?.toString('hex') ?? null } : null,
    locks: locks.map((x) => ({ offset: x.offset.toString(), length: x.length.toString(), exclusive: x.exclusive })),
    lockSequences: Array.from({ length: open.lockSequences.length }, (_, i) => open.lockSequences[i] ?? null),
    position: open.currentByteOffset.toString(),
    durableVersion: open.durable?.version ?? 2,
    persistent: open.durable?.persistent ?? true,
  };
}

/**
 * The on-disk journal of persistent opens, one JSON file per open in `dir` (made 0700). Each change rewrites the
 * open's file (write to a temporary name, fsync, rename), in the order the changes happened; closing an open
 * deletes its file. A crash loses at most the change being written, never a whole file.
 */
export class FileJournal implements JournalHooks {
  private readonly dir: string;
  private readonly log: Logger;
  /** Writes in progress per open, chained so that they land in order. */
  private readonly chains = new Map<string, Promise<void>>();

  constructor(dir: string, log: Logger) {
    this.dir = dir;
    this.log = log;
  }

  /** Creates the directory and returns the server GUID kept there (made on first use) with every journalled open. */
  async load(): Promise<{ serverGuid: Buffer; opens: PersistedOpen[] }> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    let meta: JournalMeta | undefined;
    try {
      meta = JSON.parse(await readFile(join(this.dir, 'server.json'), 'utf8')) as JournalMeta;
    } catch {
      meta = undefined;
    }
    let serverGuid = meta && /^[0-9a-f]{32}$/.test(meta.serverGuid) ? Buffer.from(meta.serverGuid, 'hex') : undefined;
    if (!serverGuid) {
      serverGuid = randomBytes(16);
      await this.writeAtomic('server.json', JSON.stringify({ serverGuid: serverGuid.toString('hex') }));
    }
    const opens: PersistedOpen[] = [];
    for (const name of await readdir(this.dir)) {
      if (!OPEN_FILE.test(name)) continue;
      try {
        const rec = JSON.parse(await readFile(join(this.dir, name), 'utf8')) as PersistedOpen;
        if (rec.version === 1 && typeof rec.persistentId === 'string' && typeof rec.path === 'string') opens.push(rec);
        else this.log.warn('journal record ignored', { file: name });
      } catch (err) {
        this.log.warn('journal record unreadable', { file: name, error: (err as Error).message });
      }
    }
    return { serverGuid, opens };
  }

  save(open: Open): Promise<void> {
    const rec = snapshot(open);
    return this.enqueue(rec.persistentId, () => this.writeAtomic(`open-${rec.persistentId}.json`, JSON.stringify(rec)));
  }

  remove(open: Open): Promise<void> {
    return this.forget(open.persistentId.toString());
  }

  /** Deletes the record of an open id (also for records found unusable at start); resolves once it is gone. */
  forget(persistentId: string): Promise<void> {
    return this.enqueue(persistentId, () => unlink(join(this.dir, `open-${persistentId}.json`)).catch(() => {}));
  }

  /** Resolves once every write started so far has landed. */
  async flush(): Promise<void> {
    while (this.chains.size > 0) await Promise.all([...this.chains.values()]);
  }

  private enqueue(id: string, job: () => Promise<void>): Promise<void> {
    const prev = this.chains.get(id) ?? Promise.resolve();
    const next = prev
      .then(job)
      .catch((err: Error) => this.log.error('journal write failed', { open: id, error: err.message }))
      .finally(() => {
        if (this.chains.get(id) === next) this.chains.delete(id);
      });
    this.chains.set(id, next);
    return next;
  }

  private async writeAtomic(name: string, text: string): Promise<void> {
    const tmp = join(this.dir, `.${name}.${randomBytes(4).toString('hex')}.tmp`);
    const fh = await openFile(tmp, 'w', 0o600);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, join(this.dir, name));
  }
}
