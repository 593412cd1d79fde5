import { Status } from '../../protocol/nt-status.js';
import { CompletionFilter } from '../../protocol/smb2/commands/change-notify.js';
import {
  encodeFileNotifyInformation,
  notifyEntrySize,
  notifyInfoSize,
  NotifyAction,
  type FileNotifyInformation,
} from '../../protocol/smb2/fscc/notify-info.js';
import type { StoreChange, StoreWatcher } from '../../store/types.js';
import type { Logger } from '../../util/log.js';
import type { ShareDef } from '../shares.js';
import type { Open } from './open.js';

/**
 * Change notification (MS-SMB2 3.3.5.19, MS-FSA 2.1.5.11): each directory open that asked for changes gets a
 * watch, set up by its first CHANGE_NOTIFY with that request's completion filter, WATCH_TREE flag and buffer size
 * (later requests on the handle change none of them, as on Windows). Changes that arrive while no request waits
 * are kept for the next one; when they outgrow the buffer they are dropped and the next request gets
 * STATUS_NOTIFY_ENUM_DIR. Changes come from the server's own operations (`report`) and, where the store can watch
 * the disk, from other programs (their echoes of the server's own operations are recognised and dropped).
 */

/** One change, as the server's operations describe it. */
export interface Change {
  action: number;
  /** Store path of the entry that changed ('/'-separated, from the share root). */
  path: string;
  /** The completion filter bits (MS-SMB2 2.2.35) this change matches. */
  filter: number;
  /** For stream actions: the stream's name (reported as "file:stream"). */
  stream?: string;
}

/** What a CHANGE_NOTIFY answers: changes (FILE_NOTIFY_INFORMATION bytes) or a bare status. */
export type NotifyResult = { status: typeof Status.SUCCESS; data: Buffer } | number;

/** Most bytes of changes kept per watch between requests, whatever buffer the client offered. */
const QUEUE_LIMIT = 64 * 1024;

/** How long after the server changed a path a disk event for it is taken as the echo of that change. */
const ECHO_WINDOW_MS = 1500;
/** How long a disk event waits for the server operation it may echo to report itself. */
const ECHO_DELAY_MS = 300;

interface Waiting {
  outputBufferLength: number;
  settle: (r: NotifyResult) => void;
}

/** The watch of one directory open. */
export class NotifyWatch {
  readonly open: Open;
  readonly filter: number;
  readonly recursive: boolean;
  private readonly limit: number;
  private queue: FileNotifyInformation[] = [];
  private queuedBytes = 0;
  private overflowed = false;
  private readonly waiting: Waiting[] = [];
  /** The disk watcher this watch uses, if any (shared with other watches of the same directory). */
  diskKey: string | undefined;

  constructor(open: Open, filter: number, recursive: boolean, bufferSize: number) {
    this.open = open;
    this.filter = filter;
    this.recursive = recursive;
    this.limit = Math.min(bufferSize, QUEUE_LIMIT);
  }

  get pendingRequests(): number {
    return this.waiting.length;
  }

  /** The name of `path` as this watch reports it, or undefined when the watch does not cover it. */
  nameOf(path: string): string | undefined {
    const dir = this.open.node.path;
    const p = path.toUpperCase();
    const d = dir.toUpperCase();
    let rest: string;
    if (d === '') rest = path;
    else if (p.startsWith(d + '/')) rest = path.slice(dir.length + 1);
    else return undefined;
    if (rest === '') return undefined;
    // The directory's own changes are its parent's business; below it only with WATCH_TREE.
    if (!this.recursive && rest.includes('/')) return undefined;
    return rest.replaceAll('/', '\\');
  }

  /** A request arrived: what is ready answers it now, else undefined (the caller then waits with `wait`). */
  take(outputBufferLength: number): NotifyResult | undefined {
    if (this.overflowed) {
      this.overflowed = false;
      return Status.NOTIFY_ENUM_DIR;
    }
    if (this.queue.length === 0) return undefined;
    const entries = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    return answer(entries, outputBufferLength);
  }

  /** Waits for the next changes. `cancel` ends the wait with STATUS_CANCELLED. */
  wait(outputBufferLength: number): { done: Promise<NotifyResult>; cancel: () => void } {
    let entry!: Waiting;
    const done = new Promise<NotifyResult>((resolve) => {
      entry = { outputBufferLength, settle: resolve };
    });
    this.waiting.push(entry);
    return {
      done,
      cancel: () => {
        const i = this.waiting.indexOf(entry);
        if (i < 0) return;
        this.waiting.splice(i, 1);
        entry.settle(Status.CANCELLED);
      },
    };
  }

  /** Changes for this watch (already filtered and named): the oldest waiting request gets them, or they queue. */
  deliver(entries: FileNotifyInformation[]): void {
    if (entries.length === 0) return;
    const w = this.waiting.shift();
    if (w) {
      w.settle(answer(entries, w.outputBufferLength));
      return;
    }
    if (this.overflowed) return;
    for (const e of entries) {
      const last = this.queue[this.queue.length - 1];
      // The same change twice in a row is reported once (a write and the close that stamps its time, ...).
      if (last && last.action === e.action && last.fileName === e.fileName) continue;
      this.queuedBytes += notifyEntrySize(e.fileName);
      if (this.queuedBytes > this.limit) {
        this.queue = [];
        this.queuedBytes = 0;
        this.overflowed = true;
        return;
      }
      this.queue.push(e);
    }
  }

  /** Ends every waiting request with `status` (NOTIFY_CLEANUP on close, DELETE_PENDING when the directory goes). */
  finish(status: number): void {
    for (const w of this.waiting.splice(0)) w.settle(status);
  }
}

/** Changes as one request's answer: STATUS_NOTIFY_ENUM_DIR when they do not fit its output buffer. */
function answer(entries: FileNotifyInformation[], outputBufferLength: number): NotifyResult {
  if (notifyInfoSize(entries) > outputBufferLength) return Status.NOTIFY_ENUM_DIR;
  return { status: Status.SUCCESS, data: encodeFileNotifyInformation(entries) };
}

interface DiskWatcher {
  watcher: StoreWatcher;
  watches: Set<NotifyWatch>;
}

/** Every watch of the server, by share; delivers the server's changes and the disk's. */
export class NotifyHub {
  private readonly byShare = new Map<ShareDef, Set<NotifyWatch>>();
  private readonly byOpen = new Map<Open, NotifyWatch>();
  private readonly disk = new Map<string, DiskWatcher>();
  /** Paths (share + upper-cased path) the server changed lately, with when the echo window ends. */
  private readonly recent = new Map<string, number>();
  /** Disk events waiting out ECHO_DELAY_MS. */
  private readonly held = new Set<NodeJS.Timeout>();
  private readonly maxDiskWatchers: number;
  private readonly log: Logger;

  constructor(maxDiskWatchers: number, log: Logger) {
    this.maxDiskWatchers = maxDiskWatchers;
    this.log = log;
  }

  /** The open's watch, if it has one. */
  watchOf(open: Open): NotifyWatch | undefined {
    return this.byOpen.get(open);
  }

  /** The open's watch, set up by this (its first) request when it has none. */
  watch(open: Open, filter: number, recursive: boolean, bufferSize: number): NotifyWatch {
    let w = this.byOpen.get(open);
    if (w) return w;
    w = new NotifyWatch(open, filter, recursive, bufferSize);
    this.byOpen.set(open, w);
    const share = open.tree.share;
    let set = this.byShare.get(share);
    if (!set) {
      set = new Set();
      this.byShare.set(share, set);
    }
    set.add(w);
    this.watchDisk(w);
    return w;
  }

  /** The open closed: its waiting requests end with NOTIFY_CLEANUP and the watch goes. */
  openClosed(open: Open): void {
    const w = this.byOpen.get(open);
    if (!w) return;
    this.byOpen.delete(open);
    const set = this.byShare.get(open.tree.share);
    set?.delete(w);
    if (set?.size === 0) this.byShare.delete(open.tree.share);
    this.unwatchDisk(w);
    w.finish(Status.NOTIFY_CLEANUP);
  }

  /** A watched directory is about to be deleted (delete pending): its waiting requests end with DELETE_PENDING. */
  directoryDeletePending(opens: Iterable<Open>): void {
    for (const o of opens) this.byOpen.get(o)?.finish(Status.DELETE_PENDING);
  }

  /** Whether anything watches the share (operations skip building changes when nothing does). */
  watching(share: ShareDef): boolean {
    return this.byShare.has(share) || this.peers?.watching(share) === true;
  }

  /**
   * The other workers of a multi-worker server, which may hold watches on the same share (server/workers/): those
   * that watch where a change happened hear of it.
   */
  peers: { report(share: ShareDef, changes: readonly Change[]): void; watching(share: ShareDef): boolean } | undefined;

  /** Whether an open of the directory with this node key watches its subtree. */
  watchesTree(key: string): boolean {
    for (const w of this.byOpen.values()) if (w.recursive && w.open.node.key === key) return true;
    return false;
  }

  /** Changes the server made, in order. Each watch gets the ones it covers in one batch (`announce`: tell peers). */
  report(share: ShareDef, changes: readonly Change[], announce = true): void {
    if (announce) this.peers?.report(share, changes);
    const set = this.byShare.get(share);
    if (set === undefined) return;
    for (const c of changes) this.touched(share, c.path);
    for (const w of set) {
      const entries: FileNotifyInformation[] = [];
      for (const c of changes) {
        if ((c.filter & w.filter) === 0) continue;
        const name = w.nameOf(c.path);
        if (name === undefined) continue;
        entries.push({ action: c.action, fileName: c.stream !== undefined ? `${name}:${c.stream}` : name });
      }
      w.deliver(entries);
    }
  }

  /** The server changed a path without a change to report (a close stamping a time): not an external change. */
  touched(share: ShareDef, path: string): void {
    if (this.disk.size === 0) return;
    const now = Date.now();
    if (this.recent.size >= 4096) for (const [k, until] of this.recent) if (until < now) this.recent.delete(k);
    this.recent.set(`${share.name.toUpperCase()}\u0000${path.toUpperCase()}`, now + ECHO_WINDOW_MS);
  }

  /** Stops every disk watcher (server shutdown). */
  close(): void {
    for (const d of this.disk.values()) d.watcher.close();
    this.disk.clear();
    for (const t of this.held) clearTimeout(t);
    this.held.clear();
  }

  private watchDisk(w: NotifyWatch): void {
    const share = w.open.tree.share;
    const store = share.store;
    if (!store?.watch) return;
    const dir = w.open.node.path;
    const key = `${share.name.toUpperCase()}\u0000${dir.toUpperCase()}\u0000${w.recursive ? 'tree' : 'dir'}`;
    let d = this.disk.get(key);
    if (!d) {
      if (this.disk.size >= this.maxDiskWatchers) return;
      const watches = new Set<NotifyWatch>();
      let watcher: StoreWatcher;
      try {
        watcher = store.watch(
          dir,
          { recursive: w.recursive },
          (c) => this.fromDisk(share, watches, c),
          (err) => {
            this.log.warn('watching the disk stopped', { share: share.name, path: dir, error: err.message });
            this.disk.delete(key);
          },
        );
      } catch (err) {
        this.log.warn('cannot watch the disk', { share: share.name, path: dir, error: (err as Error).message });
        return;
      }
      d = { watcher, watches };
      this.disk.set(key, d);
    }
    d.watches.add(w);
    w.diskKey = key;
  }

  private unwatchDisk(w: NotifyWatch): void {
    if (w.diskKey === undefined) return;
    const d = this.disk.get(w.diskKey);
    d?.watches.delete(w);
    if (d && d.watches.size === 0) {
      d.watcher.close();
      this.disk.delete(w.diskKey);
    }
    w.diskKey = undefined;
  }

  /** A change seen on the disk: dropped when it echoes the server's own, else given to the watches of that watcher. */
  private fromDisk(share: ShareDef, watches: ReadonlySet<NotifyWatch>, c: StoreChange): void {
    if (this.isEcho(share, c.path)) return;
    // The disk often tells before the operation that made the change has finished and reported it: look again
    // a little later.
    const timer = setTimeout(() => {
      this.held.delete(timer);
      if (!this.isEcho(share, c.path)) this.deliverDisk(watches, c);
    }, ECHO_DELAY_MS);
    timer.unref();
    this.held.add(timer);
  }

  private isEcho(share: ShareDef, path: string): boolean {
    const until = this.recent.get(`${share.name.toUpperCase()}\u0000${path.toUpperCase()}`);
    return until !== undefined && until >= Date.now();
  }

  private deliverDisk(watches: ReadonlySet<NotifyWatch>, c: StoreChange): void {
    const change = diskChange(c);
    for (const w of watches) {
      if ((change.filter & w.filter) === 0) continue;
      const name = w.nameOf(change.path);
      if (name !== undefined) w.deliver([{ action: change.action, fileName: name }]);
    }
  }
}

const NAME_FILTER = CompletionFilter.FILE_NAME | CompletionFilter.DIR_NAME;

/** The notification a disk change makes; removals don't say whether a file or a directory went, so both match. */
function diskChange(c: StoreChange): Change {
  switch (c.type) {
    case 'added':
      return { action: NotifyAction.ADDED, path: c.path, filter: nameFilter(c.directory) };
    case 'removed':
      return { action: NotifyAction.REMOVED, path: c.path, filter: nameFilter(c.directory) };
    default:
      return {
        action: NotifyAction.MODIFIED,
        path: c.path,
        filter: CompletionFilter.LAST_WRITE | CompletionFilter.SIZE | CompletionFilter.ATTRIBUTES,
      };
  }
}

/** FILE_NAME or DIR_NAME for an entry's kind (both when unknown). */
export function nameFilter(directory: boolean | undefined): number {
  if (directory === undefined) return NAME_FILTER;
  return directory ? CompletionFilter.DIR_NAME : CompletionFilter.FILE_NAME;
}
