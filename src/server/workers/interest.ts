import { nodeKey } from '../server.js';
import type { ShareDef } from '../shares.js';

/**
 * Which directories each worker has open or watches ("interest"). A change to an entry concerns only the workers
 * that have its directory open (its directory leases, enumerations and watches) or watch a directory above it with
 * its subtree. Each worker tells the others what it has open or watches, and waits until they all know before it
 * answers the request that opened or watched it: a change made elsewhere before that is already on the disk when
 * the client looks, and one made after it is told. What a worker no longer has open is withdrawn with the idle
 * claims (a withdrawn directory costs only messages nobody needs).
 */

/** A worker's announcement: it has `key` open (`tree`: and watches its subtree), or (`on` false) no longer. */
export interface InterestMessage {
  t: 'interest';
  key: string;
  tree: boolean;
  on: boolean;
}

export interface InterestPeers {
  /** Tells every other worker; settles once they all know. */
  ask(m: InterestMessage): Promise<unknown>;
  /** Tells every other worker, without waiting. */
  broadcast(m: InterestMessage): void;
  /** Whether this worker has anything open at a key (its node has opens). */
  hasOpen(key: string): boolean;
  /** Whether a watch here covers a key's subtree. */
  watchesTree(key: string): boolean;
}

export class Interests {
  private readonly peers: InterestPeers;
  /** Directories this worker told the others it has open, and whether it watches their subtrees; `told` while not all know. */
  private readonly mine = new Map<string, { tree: boolean; told: Promise<void> | undefined }>();
  /** The other workers' (bit masks) by directory key: those with it open, those that watch its subtree. */
  private readonly peerDirs = new Map<string, number>();
  private readonly peerTrees = new Map<string, number>();
  /** How many directories of each share (upper case) the others have open, and watch with their subtrees. */
  private readonly peerShares = new Map<string, number>();
  private readonly peerTreeShares = new Map<string, number>();

  constructor(peers: InterestPeers) {
    this.peers = peers;
  }

  /**
   * Tells the other workers that this one has a directory open (`tree`: watches it with its subtree). Undefined
   * when they know already, else a promise that settles when they all do.
   */
  announce(share: ShareDef, path: string, tree: boolean): Promise<void> | undefined {
    const key = nodeKey(share, path);
    const had = this.mine.get(key);
    if (had && (had.tree || !tree)) return had.told;
    const i = { tree, told: undefined as Promise<void> | undefined };
    this.mine.set(key, i);
    i.told = this.peers.ask({ t: 'interest', key, tree, on: true }).then(() => {
      i.told = undefined;
    });
    return i.told;
  }

  /** What this worker has announced (for a worker that starts and asks). */
  announced(): { key: string; tree: boolean }[] {
    return [...this.mine].map(([key, i]) => ({ key, tree: i.tree }));
  }

  /** `on`: `from` has the directory open (and watches its subtree: `tree`); off: it no longer watches the subtree, or (not `tree`) has nothing there. */
  peer(from: number, key: string, tree: boolean, on: boolean): void {
    const bit = 1 << from;
    if (on) {
      setBit(this.peerDirs, this.peerShares, key, bit, true);
      if (tree) setBit(this.peerTrees, this.peerTreeShares, key, bit, true);
    } else {
      setBit(this.peerTrees, this.peerTreeShares, key, bit, false);
      if (!tree) setBit(this.peerDirs, this.peerShares, key, bit, false);
    }
  }

  /** A worker (re)started: what it had announced went with the process it replaces. */
  forgetPeer(from: number): void {
    for (const key of [...this.peerDirs.keys()]) this.peer(from, key, false, false);
  }

  /** Whether any other worker has anything open or watched. */
  get any(): boolean {
    return this.peerDirs.size > 0;
  }

  /** Whether another worker has a directory of the share open (otherwise changes need not be described for them). */
  inShare(share: ShareDef): boolean {
    return (this.peerShares.get(share.name.toUpperCase()) ?? 0) > 0;
  }

  /** The workers (a bit mask) that have the directory of `path` open, or watch a directory above it with its subtree. */
  interested(share: ShareDef, path: string): number {
    const slash = path.lastIndexOf('/');
    let mask = this.peerDirs.get(nodeKey(share, slash < 0 ? '' : path.slice(0, slash))) ?? 0;
    if ((this.peerTreeShares.get(share.name.toUpperCase()) ?? 0) > 0) {
      for (let at = slash; at >= 0; at = path.lastIndexOf('/', at - 1)) mask |= this.peerTrees.get(nodeKey(share, path.slice(0, at))) ?? 0;
      mask |= this.peerTrees.get(nodeKey(share, '')) ?? 0;
    }
    return mask;
  }

  /** Withdraws what this worker no longer has open or watches. */
  withdrawIdle(): void {
    for (const [key, i] of this.mine) {
      if (i.told !== undefined) continue;
      if (this.peers.hasOpen(key)) {
        if (i.tree && !this.peers.watchesTree(key)) {
          i.tree = false;
          this.peers.broadcast({ t: 'interest', key, tree: true, on: false });
        }
        continue;
      }
      this.mine.delete(key);
      this.peers.broadcast({ t: 'interest', key, tree: false, on: false });
    }
  }
}

/** Sets or clears a worker's bit of a directory key, and counts the share's keys that have any. */
function setBit(map: Map<string, number>, counts: Map<string, number>, key: string, bit: number, on: boolean): void {
  const had = map.get(key) ?? 0;
  const next = on ? had | bit : had & ~bit;
  if (next === had) return;
  const share = key.slice(0, key.indexOf('\u0000'));
  if (next === 0) {
    map.delete(key);
    const n = (counts.get(share) ?? 1) - 1;
    if (n > 0) counts.set(share, n);
    else counts.delete(share);
  } else {
    map.set(key, next);
    if (had === 0) counts.set(share, (counts.get(share) ?? 0) + 1);
  }
}
