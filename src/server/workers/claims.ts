import type { Logger } from '../../util/log.js';
import type { Mesh } from './mesh.js';

/**
 * Who owns each file's state among the workers (claims). Each key has a master among the workers, by hash (as
 * CTDB's location master): the master decides who owns the key's state. The first to ask gets it; a later asker gets
 * it only if the holder gives it up (nothing open there), else it sends its request to the holder. A worker asks
 * one worker, or none when it is the key's master, and the primary is not involved. A master that restarts learns
 * again from the others what they hold.
 */

/** Worker-to-worker messages about claims and shares. */
export type ClaimMessage =
  | { t: 'claim'; key: string }
  | { t: 'revoke'; key: string }
  | { t: 'release'; keys: string[] }
  | { t: 'held' }
  | { t: 'join'; share: string }
  | { t: 'leave'; share: string }
  | { t: 'dissolve'; share: string }
  | { t: 'solo'; share: string };

/** What claims need of the worker they run in. */
export interface ClaimPeers {
  readonly index: number;
  readonly count: number;
  readonly mesh: Mesh;
  readonly log: Logger;
  /** Asks every other worker; the answers of those that gave one, by worker. */
  askPeers(m: ClaimMessage): Promise<Map<number, unknown>>;
  /** Whether this worker has state for a key (a node: something open or being opened there). */
  hasNode(key: string): boolean;
}

type ShareMode = 'solo' | 'shared';

export class Claims {
  private readonly peers: ClaimPeers;
  /** Keys this worker may create nodes for without asking. */
  private readonly held = new Set<string>();
  /** Keys in use by a request running here (never given up meanwhile). */
  private readonly pins = new Map<string, number>();
  /** As a master: the owner of each key, decisions in progress, and what they wait for at start. */
  private readonly owners = new Map<string, number>();
  private readonly claimChains = new Map<string, Promise<unknown>>();
  private directoryReady: Promise<void> = Promise.resolve();
  /** This worker's standing in each share it uses (absent: it joins first), joins under way, claims under way by share. */
  private readonly shareModes = new Map<string, ShareMode>();
  private readonly joining = new Map<string, Promise<void>>();
  private readonly claimsIn = new Map<string, number>();
  /** As a share's master: the workers that use it, and the one that uses it alone. */
  private readonly shareUsers = new Map<string, Set<number>>();
  private readonly soloUser = new Map<string, number>();
  private readonly shareChains = new Map<string, Promise<unknown>>();

  constructor(peers: ClaimPeers) {
    this.peers = peers;
  }

  /** Answers another worker's request about claims or shares. */
  onRequest(from: number, m: Extract<ClaimMessage, { t: 'claim' | 'revoke' | 'held' | 'join' | 'dissolve' }>): Promise<unknown> | unknown {
    switch (m.t) {
      case 'claim':
        return this.decide(from, m.key);
      case 'revoke':
        return this.giveUp(m.key);
      case 'held':
        return {
          keys: [...this.held].filter((k) => this.master(k) === from),
          shares: [...this.shareModes].filter(([share]) => this.shareMaster(share) === from),
        };
      case 'join':
        return this.admit(from, m.share);
      case 'dissolve':
        return this.dissolve(m.share).then(() => true);
    }
  }

  /** Takes another worker's message about claims or shares. */
  onMessage(from: number, m: Extract<ClaimMessage, { t: 'release' | 'leave' | 'solo' }>): void {
    switch (m.t) {
      case 'release':
        this.released(from, m.keys);
        return;
      case 'leave':
        this.leave(from, m.share);
        return;
      case 'solo':
        this.becomeSolo(m.share);
        return;
    }
  }

  /** A key whose open is coming back here (a recovered persistent or durable open): held from now on, before the others can ask. */
  reserve(key: string): void {
    this.held.add(key);
    this.pin(key);
    if (this.master(key) === this.peers.index) this.owners.set(key, this.peers.index);
  }

  /** Whether this worker uses a share (upper case, as in keys) alone now: nobody else touches its files. */
  isSolo(share: string): boolean {
    return this.shareModes.get(share) === 'solo';
  }

  /** Pins a key this worker holds (true), for a request that runs here; the caller unpins it. */
  pinIfHeld(key: string): boolean {
    if (!this.held.has(key)) return false;
    this.pin(key);
    return true;
  }

  /** A reserved key's open is being recovered: its master learns it is here. Undefined: another worker has it. */
  async recovering(key: string): Promise<(() => void) | undefined> {
    // Its share counts this worker as a user, so no other worker takes the share alone.
    await this.useShare(shareOf(key));
    const owner = await this.claimAt(key);
    if (owner === this.peers.index) this.unpin(key); // the claim's own pin; the reservation's is the caller's
    const release = (): void => this.unpin(key);
    if (owner === this.peers.index) return release;
    release();
    return undefined;
  }

  /** The worker that decides who owns `key`. */
  private master(key: string): number {
    return masterOf(key, this.peers.count);
  }

  /**
   * The worker that owns `key`: this one when it holds it or its master grants it, and then the key is pinned (in
   * use, so never given up) from the moment that is known: the caller unpins it when done.
   */
  async own(key: string): Promise<number> {
    if (this.held.has(key)) {
      this.pin(key);
      return this.peers.index;
    }
    const share = shareOf(key);
    // Counted from here, so that the share is not left while the claim is under way.
    this.claimsIn.set(share, (this.claimsIn.get(share) ?? 0) + 1);
    try {
      if (!this.shareModes.has(share)) await this.useShare(share);
      if (this.shareModes.get(share) === 'solo') {
        this.held.add(key);
        this.pin(key);
        return this.peers.index;
      }
      return await this.claimAt(key);
    } finally {
      const n = (this.claimsIn.get(share) ?? 1) - 1;
      if (n > 0) this.claimsIn.set(share, n);
      else this.claimsIn.delete(share);
    }
  }

  // ---- shares that one worker uses alone ----
  //
  // While only one worker uses a share, it claims the share's keys without asking anyone ("solo"). The share's
  // master (by hash of its name) knows which workers use it. The first other worker that needs a key there joins
  // the share: the solo worker registers the keys it uses with their masters before the join is answered, and from
  // then on each worker claims that share's keys one by one. A worker leaves a share once it holds nothing there;
  // the one left alone is told it is solo again.

  /** Joins `share` unless this worker uses it already. */
  private async useShare(share: string): Promise<void> {
    while (!this.shareModes.has(share)) {
      let j = this.joining.get(share);
      if (!j) {
        j = this.join(share).finally(() => this.joining.delete(share));
        this.joining.set(share, j);
      }
      await j;
    }
  }

  private async join(share: string): Promise<void> {
    const m = this.shareMaster(share);
    if (m === this.peers.index) {
      await this.admit(this.peers.index, share);
      return;
    }
    // Taken in as the answer is read: a dissolve the master sends after it must find it.
    await this.peers.mesh.requestRetrying(m, { t: 'join', share }, 15_000, (mode) => this.shareModes.set(share, mode as ShareMode));
  }

  /** As a share's master: `asker` uses the share from now on; alone there, or with others (a solo worker shares first). */
  private admit(asker: number, share: string): Promise<ShareMode> {
    return this.inShareOrder(share, async () => {
      const users = this.shareUsers.get(share) ?? new Set<number>();
      this.shareUsers.set(share, users);
      const alone = this.soloUser.get(share);
      if (alone !== undefined && alone !== asker) {
        if (alone === this.peers.index) await this.dissolve(share);
        else await this.peers.mesh.requestRetrying(alone, { t: 'dissolve', share }, 10_000).catch(() => {}); // never back: nothing to share
        this.soloUser.delete(share);
      }
      users.add(asker);
      const mode: ShareMode = users.size === 1 ? 'solo' : 'shared';
      if (mode === 'solo') this.soloUser.set(share, asker);
      if (asker === this.peers.index) this.shareModes.set(share, mode);
      return mode;
    });
  }

  /** As a share's master: `from` no longer uses it; a worker left alone there is solo again. */
  private leave(from: number, share: string): void {
    void this.inShareOrder(share, async () => {
      const users = this.shareUsers.get(share);
      if (!users?.delete(from)) return;
      if (this.soloUser.get(share) === from) this.soloUser.delete(share);
      if (users.size === 0) {
        this.shareUsers.delete(share);
        return;
      }
      const [last] = users;
      if (users.size !== 1 || last === undefined || this.soloUser.has(share)) return;
      this.soloUser.set(share, last);
      if (last === this.peers.index) this.becomeSolo(share);
      else this.peers.mesh.send(last, { t: 'solo', share } satisfies ClaimMessage);
    });
  }

  private inShareOrder<T>(share: string, step: () => Promise<T>): Promise<T> {
    return inOrder(this.shareChains, share, this.directoryReady, step);
  }

  private becomeSolo(share: string): void {
    if (this.shareModes.get(share) === 'shared') this.shareModes.set(share, 'solo');
  }

  /** Another worker joins a share this one used alone: what it uses there is registered with the keys' masters. */
  private async dissolve(share: string): Promise<void> {
    // Also when this worker does not use the share yet: it may be the successor of the solo one, with the keys of
    // the persistent opens it recovers.
    if (this.shareModes.get(share) === 'shared') return;
    if (this.shareModes.has(share)) this.shareModes.set(share, 'shared');
    const used: string[] = [];
    for (const k of this.held) {
      if (shareOf(k) !== share) continue;
      if (this.inUse(k)) used.push(k);
      else this.held.delete(k);
    }
    await Promise.all(
      used.map(async (k) => {
        const owner = await this.claimAt(k);
        if (owner === this.peers.index) this.unpin(k);
        else this.peers.log.error('a key used alone was owned elsewhere', { key: k, owner });
      }),
    );
  }

  /** Leaves the shares where this worker holds nothing and claims nothing. */
  private leaveIdleShares(): void {
    const busy = new Set<string>();
    for (const k of this.held) busy.add(shareOf(k));
    for (const share of [...this.shareModes.keys()]) {
      if (busy.has(share) || this.claimsIn.has(share) || this.joining.has(share)) continue;
      this.shareModes.delete(share);
      const m = this.shareMaster(share);
      if (m === this.peers.index) this.leave(this.peers.index, share);
      else this.peers.mesh.send(m, { t: 'leave', share } satisfies ClaimMessage);
    }
  }

  private shareMaster(share: string): number {
    return masterOf(`${share}\u0001`, this.peers.count);
  }

  /** Where `key` is decided: here when this worker is its master, else by asking the master. */
  private claimAt(key: string): Promise<number> {
    const m = this.master(key);
    if (m === this.peers.index) return this.decide(this.peers.index, key);
    // Held and pinned from the moment the answer is read: a revoke the master sends after it must find it so.
    const held = (owner: unknown): void => {
      if (owner !== this.peers.index) return;
      this.held.add(key);
      this.pin(key);
    };
    return this.peers.mesh.requestRetrying(m, { t: 'claim', key }, 15_000, held) as Promise<number>;
  }

  /** As the master of `key`: who owns it now that `asker` wants it. Decisions about one key come one after another. */
  private decide(asker: number, key: string): Promise<number> {
    return inOrder(this.claimChains, key, this.directoryReady, async () => {
      const holder = this.owners.get(key);
      if (holder !== undefined && holder !== asker) {
        const released = holder === this.peers.index ? this.giveUp(key) : await this.askRevoke(holder, key);
        if (!released || this.owners.get(key) !== holder) return this.owners.get(key) ?? holder;
      }
      this.owners.set(key, asker);
      if (asker === this.peers.index) {
        this.held.add(key);
        this.pin(key);
      }
      return asker;
    });
  }

  /**
   * Asks a holder to give a key up. A holder that cannot be reached is being replaced (the primary starts another
   * in its place): its successor answers, and keeps the keys of the persistent opens it recovers.
   */
  private async askRevoke(holder: number, key: string): Promise<boolean> {
    return ((await this.peers.mesh.requestRetrying(holder, { t: 'revoke', key }, 10_000).catch(() => undefined)) as boolean | undefined) ?? true;
  }

  /** Gives a key up unless something here uses it. */
  private giveUp(key: string): boolean {
    if (this.held.has(key) && this.inUse(key)) return false;
    this.held.delete(key);
    return true;
  }

  /** As a master: keys that `from` no longer uses. */
  private released(from: number, keys: string[]): void {
    for (const k of keys) if (this.owners.get(k) === from) this.owners.delete(k);
  }

  /** At start: the keys the others hold, and the shares they use, that this worker is the master of (a master that restarts lost its tables). */
  async learnOwners(): Promise<void> {
    let ready!: () => void;
    this.directoryReady = new Promise<void>((r) => (ready = r));
    await this.askHeld().finally(ready);
  }

  private async askHeld(): Promise<void> {
    // A worker not started yet holds nothing.
    for (const [i, answer] of await this.peers.askPeers({ t: 'held' })) {
      const { keys, shares } = answer as { keys: string[]; shares: [string, ShareMode][] };
      for (const k of keys) if (!this.owners.has(k)) this.owners.set(k, i);
      for (const [share, mode] of shares) {
        const users = this.shareUsers.get(share) ?? new Set<number>();
        this.shareUsers.set(share, users);
        users.add(i);
        if (mode === 'solo') this.soloUser.set(share, i);
      }
    }
  }

  /** Claims a key for a request running here (a rename's destination): its unpin, or undefined when another worker has it. */
  async claimHere(key: string): Promise<(() => void) | undefined> {
    const owner = await this.own(key);
    return owner === this.peers.index ? () => this.unpin(key) : undefined;
  }

  private pin(key: string): void {
    this.pins.set(key, (this.pins.get(key) ?? 0) + 1);
  }

  unpin(key: string): void {
    const n = (this.pins.get(key) ?? 1) - 1;
    if (n <= 0) this.pins.delete(key);
    else this.pins.set(key, n);
  }

  private inUse(key: string): boolean {
    return (this.pins.get(key) ?? 0) > 0 || this.peers.hasNode(key);
  }

  /** Gives back to their masters the keys nothing here uses, and leaves shares where nothing is held. */
  releaseIdle(): void {
    const byMaster = new Map<number, string[]>();
    for (const k of this.held) {
      if (this.inUse(k)) continue;
      this.held.delete(k);
      // A key taken while alone in its share was never registered with its master.
      if (this.shareModes.get(shareOf(k)) === 'solo') continue;
      const m = this.master(k);
      (byMaster.get(m) ?? byMaster.set(m, []).get(m)!).push(k);
    }
    for (const [m, keys] of byMaster) {
      if (m === this.peers.index) this.released(this.peers.index, keys);
      else this.peers.mesh.send(m, { t: 'release', keys } satisfies ClaimMessage);
    }
    this.leaveIdleShares();
  }
}

/** Runs `step` after the steps chained under `key` before it (or after `first`), whether they succeeded or not. */
function inOrder<T>(chains: Map<string, Promise<unknown>>, key: string, first: Promise<unknown>, step: () => Promise<T>): Promise<T> {
  const next = (chains.get(key) ?? first).then(step, step);
  chains.set(key, next);
  void next
    .finally(() => {
      if (chains.get(key) === next) chains.delete(key);
    })
    .catch(() => {});
  return next;
}

/** The share part of a file key (nodeKey: the share's name, NUL, the path). */
function shareOf(key: string): string {
  return key.slice(0, key.indexOf('\u0000'));
}

/** Which of `count` workers is the master of a key (FNV-1a of its UTF-16 code units). */
export function masterOf(key: string, count: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return (h >>> 0) % count;
}
