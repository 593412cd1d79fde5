import { AccessMask, ShareAccess } from '../../protocol/smb2/constants.js';
import { ByteRangeLocks, type ByteRangeLock } from './locks.js';
import type { Open } from './open.js';
import { DelayedWriteTime } from './write-time.js';

/**
 * One per open path (per share): the opens on it, and what they share (delete-pending). Share-mode rules
 * live here (MS-FSA 2.1.5.1.2 "Check sharing access").
 */
export class FileNode {
  key: string;
  /** The store path with its on-disk spelling; updated on rename. */
  path: string;
  readonly opens = new Set<Open>();
  deletePending = false;
  /** CREATEs working on this path that have not registered their open yet: the node must stay while they run. */
  pendingCreates = 0;
  /** Delete-pending came through the unnamed data stream: the whole file goes, not just a named stream. */
  deletesFile = false;
  /**
   * Allocation a client asked for (AllocationSize create context, FileAllocationInformation) beyond what the store
   * holds. Stores can't reserve space, so it is reported while the file is open (MS-FSA 2.1.5.14.1).
   */
  allocationSize = 0;
  /** Times the file was deleted through a close while the node lived (a CREATE waiting on breaks looks again). */
  deletions = 0;
  /** When smbkit last changed (or was about to change) the file: disk changes right after are its own echo. */
  localChangeAt = 0;
  /** The directory watch that looks for changes by other programs while the file is cached (DiskCachingWatch). */
  diskWatched: string | undefined;
  /** Entries removed from this directory through the server (delete, rename away); open enumerations drop them. */
  childrenRemoved = 0;
  /** The file's last-write time as clients see it while it has written opens (delayed updates, sticky times). */
  readonly writeTime = new DelayedWriteTime<Open>();
  /** WRITEs being served on the file, and who waits for them all to finish (writesSettled). */
  private writes = 0;
  private writeWaiters: (() => void)[] = [];
  /** Byte-range locks per stream ('' = the unnamed data stream), present while a lock is held or awaited. */
  private readonly streamLocks = new Map<string, ByteRangeLocks>();

  constructor(key: string, path: string) {
    this.key = key;
    this.path = path;
  }

  /** Marks the node delete-pending through an open of `stream` (undefined: the file itself). */
  markDeletePending(stream: string | undefined): void {
    this.deletePending = true;
    if (stream === undefined) this.deletesFile = true;
  }

  clearDeletePending(): void {
    this.deletePending = false;
    this.deletesFile = false;
  }

  /**
   * Data is about to be written through `open` (WRITE, copy-chunk, zero-data): the last-write time follows the
   * delayed-update rules (DelayedWriteTime). Writes to a named stream leave the file's time alone.
   */
  async beforeDataWrite(open: Open): Promise<void> {
    this.noteLocalChange();
    open.wroteData = true;
    const handle = open.handle;
    if (open.stream !== undefined || !handle) return;
    await this.writeTime.beforeWrite(open, open.stickyWriteTime, async () => (await handle.stat()).mtimeMs);
  }

  /**
   * A WRITE starts on the file. It stops counting while it waits for other holders' breaks (`waiting(true)`): an
   * acknowledgment that waited for it then would wait for itself.
   */
  beginWrite(): { end(): void; waiting(on: boolean): void } {
    let counted = true;
    this.writes++;
    const uncount = () => {
      if (!counted) return;
      counted = false;
      if (--this.writes === 0) for (const w of this.writeWaiters.splice(0)) w();
    };
    return {
      end: uncount,
      waiting: (on) => {
        if (on) uncount();
        else if (!counted) {
          counted = true;
          this.writes++;
        }
      },
    };
  }

  /** Resolves once no WRITE is being served on the file (those that started before this call have finished). */
  writesSettled(): Promise<void> {
    if (this.writes === 0) return Promise.resolve();
    return new Promise((resolve) => this.writeWaiters.push(resolve));
  }

  /** smbkit is changing the file (data, size, times, attributes, name): the disk will echo it. */
  noteLocalChange(): void {
    this.localChangeAt = Date.now();
  }

  /** The allocation size to report for a store's actual allocation. */
  reportedAllocation(actual: number): number {
    return Math.max(actual, this.allocationSize);
  }

  /** The byte-range locks of an open's stream, created on first use. */
  locksOf(open: Open): ByteRangeLocks {
    const key = open.stream ?? '';
    let l = this.streamLocks.get(key);
    if (!l) {
      l = new ByteRangeLocks();
      this.streamLocks.set(key, l);
    }
    return l;
  }

  /** The byte-range locks of an open's stream, if any lock is held or awaited there. */
  existingLocks(open: Open): ByteRangeLocks | undefined {
    return this.streamLocks.get(open.stream ?? '');
  }

  /** Drops a stream's lock list once nothing is held or awaited there. */
  pruneLocks(open: Open): void {
    const key = open.stream ?? '';
    const l = this.streamLocks.get(key);
    if (l && l.size === 0 && l.waiters === 0) this.streamLocks.delete(key);
  }

  /** Every lock held on the file's streams and how many lock requests wait (for checks and tests). */
  lockState(): { held: ByteRangeLock[]; waiting: number } {
    const held: ByteRangeLock[] = [];
    let waiting = 0;
    for (const l of this.streamLocks.values()) {
      held.push(...l.list());
      waiting += l.waiters;
    }
    return { held, waiting };
  }

  /** Releases every lock an open holds and ends its waiting lock requests (close, logoff, disconnect). */
  releaseLocks(open: Open): void {
    const l = this.existingLocks(open);
    if (!l) return;
    l.releaseOpen(open);
    this.pruneLocks(open);
  }

  /**
   * True when an open with (access, share) of `stream` (undefined: the unnamed data) may coexist with every current
   * open. Each data stream keeps its own share state, as on NTFS: opens of other streams never conflict.
   */
  shareAllows(access: number, share: number, stream?: string): boolean {
    const key = stream?.toUpperCase();
    for (const o of this.opens) {
      // Opens without data or delete access are not counted in the share state (MS-FSA 2.1.5.1.2).
      if (!isDataAccess(o.grantedAccess)) continue;
      if (o.stream?.toUpperCase() !== key) {
        // Deleting the file deletes its streams: DELETE on the unnamed stream must be shared by every stream's opens.
        if (stream === undefined && access & AccessMask.DELETE && !(o.shareAccess & ShareAccess.DELETE)) return false;
        continue;
      }
      if (!sharingCompatible(o.grantedAccess, o.shareAccess, access, share)) return false;
    }
    return true;
  }
}

const READ_LIKE = AccessMask.FILE_READ_DATA | AccessMask.FILE_EXECUTE;
const WRITE_LIKE = AccessMask.FILE_WRITE_DATA | AccessMask.FILE_APPEND_DATA;

/** Allocation is reported in whole clusters of this size (what FileFsSizeInformation reports for most disks). */
export const CLUSTER_SIZE = 4096;

/** A byte count rounded up to whole clusters. */
export function roundToClusters(bytes: bigint): number {
  const c = BigInt(CLUSTER_SIZE);
  return Number(((bytes + c - 1n) / c) * c);
}

/** Only data and delete access take part in sharing; attribute-only opens never conflict. */
export function sharingCompatible(aAccess: number, aShare: number, bAccess: number, bShare: number): boolean {
  const conflicts = (access: number, share: number) =>
    ((access & READ_LIKE) !== 0 && (share & ShareAccess.READ) === 0) ||
    ((access & WRITE_LIKE) !== 0 && (share & ShareAccess.WRITE) === 0) ||
    ((access & AccessMask.DELETE) !== 0 && (share & ShareAccess.DELETE) === 0);
  return !conflicts(bAccess, aShare) && !conflicts(aAccess, bShare);
}

/** Whether an access mask touches data or delete (and so takes part in share-mode checks). */
export function isDataAccess(access: number): boolean {
  return (access & (READ_LIKE | WRITE_LIKE | AccessMask.DELETE)) !== 0;
}
