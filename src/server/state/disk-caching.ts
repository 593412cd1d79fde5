import type { StoreChange, StoreWatcher } from '../../store/types.js';
import type { Logger } from '../../util/log.js';
import type { ShareDef } from '../shares.js';
import type { FileNode } from './file-node.js';

/**
 * How long after a change made through smbkit a change seen on the disk is taken for its echo, not for another
 * program's (inotify reports smbkit's own writes too; they reach the disk watcher within milliseconds).
 */
export const LOCAL_ECHO_WINDOW_MS = 1_000;
/** Disk changes are looked at after this delay, so that the server's own operation has marked its node. */
const SETTLE_MS = 200;
/**
 * A directory watch outlives the last cached file in it this long, so that a client that opens and closes files of
 * one folder in a loop does not add and remove an inotify watch for each open.
 */
export const WATCH_LINGER_MS = 5_000;

interface DirWatch {
  watcher: StoreWatcher;
  /** Cached files of the directory, by upper-cased store path. */
  nodes: Map<string, FileNode>;
  /** Set while no file of the directory is cached: closes the watch when it fires. */
  linger?: NodeJS.Timeout | undefined;
}

/**
 * Watches the directories of files that clients cache (an oplock or a lease), where the store can watch, so that a
 * change made on the disk by another program breaks that caching (issue: "changes made to the disk by others than
 * smbkit break leases too"). One watcher per directory, shared by its cached files, capped like CHANGE_NOTIFY's
 * watchers; smbkit's own changes are told apart by FileNode.localChangeAt. Best effort, as disk watching is.
 */
export class DiskCachingWatch {
  private readonly dirs = new Map<string, DirWatch>();
  private readonly held = new Set<NodeJS.Timeout>();

  constructor(
    private readonly maxWatchers: number,
    private readonly log: Logger,
    /** Breaks every oplock and lease of a node whose file changed on the disk. */
    private readonly changed: (node: FileNode) => void,
    private readonly lingerMs = WATCH_LINGER_MS,
  ) {}

  /** A file of `share` is now cached by some open: its directory is watched. */
  track(share: ShareDef, node: FileNode): void {
    const store = share.store;
    if (!store?.watch || node.diskWatched) return;
    const dir = parentOf(node.path);
    const key = `${share.name.toUpperCase()}\u0000${dir.toUpperCase()}`;
    let d = this.dirs.get(key);
    if (d?.linger) {
      clearTimeout(d.linger);
      d.linger = undefined;
    }
    if (!d) {
      if (this.dirs.size >= this.maxWatchers && !this.dropIdle()) return;
      const nodes = new Map<string, FileNode>();
      let watcher: StoreWatcher;
      try {
        watcher = store.watch(dir, { recursive: false }, (c) => this.seen(nodes, c), (err) => {
          this.log.warn('watching cached files stopped', { share: share.name, path: dir, error: err.message });
          this.dirs.delete(key);
          for (const n of nodes.values()) n.diskWatched = undefined;
        });
      } catch (err) {
        this.log.warn('cannot watch cached files', { share: share.name, path: dir, error: (err as Error).message });
        return;
      }
      d = { watcher, nodes };
      this.dirs.set(key, d);
    }
    d.nodes.set(node.path.toUpperCase(), node);
    node.diskWatched = key;
  }

  /** No open caches the file any more. */
  untrack(node: FileNode): void {
    const key = node.diskWatched;
    if (key === undefined) return;
    node.diskWatched = undefined;
    const d = this.dirs.get(key);
    if (!d) return;
    for (const [k, n] of d.nodes) if (n === node) d.nodes.delete(k);
    if (d.nodes.size === 0 && !d.linger) {
      const idle = d;
      idle.linger = setTimeout(() => {
        if (this.dirs.get(key) !== idle || idle.nodes.size > 0) return;
        idle.watcher.close();
        this.dirs.delete(key);
      }, this.lingerMs);
      idle.linger.unref();
    }
  }

  /** Closes one watch that no cached file needs any more (to make room under the cap); false when there is none. */
  private dropIdle(): boolean {
    for (const [key, d] of this.dirs) {
      if (d.nodes.size > 0) continue;
      clearTimeout(d.linger);
      d.watcher.close();
      this.dirs.delete(key);
      return true;
    }
    return false;
  }

  /** Watched directories (for tests and limits), lingering ones included. */
  get size(): number {
    return this.dirs.size;
  }

  /** Files cached by some open in the watched directories. */
  get cached(): number {
    let n = 0;
    for (const d of this.dirs.values()) n += d.nodes.size;
    return n;
  }

  close(): void {
    for (const d of this.dirs.values()) {
      clearTimeout(d.linger);
      d.watcher.close();
    }
    this.dirs.clear();
    for (const t of this.held) clearTimeout(t);
    this.held.clear();
  }

  private seen(nodes: ReadonlyMap<string, FileNode>, c: StoreChange): void {
    const node = nodes.get(c.path.toUpperCase());
    if (!node) return;
    const t = setTimeout(() => {
      this.held.delete(t);
      if (node.diskWatched === undefined) return;
      if (Date.now() - node.localChangeAt < LOCAL_ECHO_WINDOW_MS) return;
      this.log.debug('cached file changed on disk', { path: node.path, change: c.type });
      this.changed(node);
    }, SETTLE_MS);
    t.unref();
    this.held.add(t);
  }
}

function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}
