import { fork, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import type { Logger } from '../../util/log.js';
import type { NegotiatedState } from '../connection.js';
import type { PersistedOpen } from '../state/journal.js';
import type { ClaimFromPrimary, ClaimToPrimary } from './link.js';
import { DurableRecords, type MemoToPrimary } from './memo.js';

/**
 * The primary process of a multi-worker server (`workers` > 1). It owns the listeners and decides admission (host
 * lists, blocks, connection limits and rates: one set of counters for the whole server), then hands each accepted
 * socket to a worker process (`placeConnection`). Workers run the protocol; the primary respawns one
 * that dies. Node cannot pass sockets to worker threads, so workers are processes.
 */

/** Messages from the primary to a worker. */
export type ToWorker =
  | ClaimFromPrimary
  | { t: 'init'; index: number; count: number; group: string; spec: unknown; durables: PersistedOpen[] }
  | { t: 'conn'; kind: 'direct' | 'netbios'; remote: string; moved?: { first: Buffer; established: boolean; state?: NegotiatedState } }
  | { t: 'stop' };

/** Messages from a worker to the primary. */
export type FromWorker =
  | ClaimToPrimary
  | MemoToPrimary
  | { t: 'ready' }
  | { t: 'load'; busy: number }
  | { t: 'closed'; remote: string }
  | { t: 'auth-failed'; remote: string; user: string }
  | { t: 'auth-succeeded'; remote: string };

/** A worker's event loop busier than this takes no more connections while another has room (`placeConnection`). */
export const BUSY_WORKER = 0.5;
/** How often a worker tells the primary how busy it is. */
export const LOAD_REPORT_MS = 500;

/**
 * Which worker gets a new connection (an index into `workers`). The fullest worker that serves fewer than `fill`
 * connections and is not busy; when none is left, the one with the fewest connections (the less busy on a tie).
 *
 * Filling one worker first, instead of spreading from the first connection: clients of the same files on one worker
 * exchange nothing between processes (every share mode check, break and forwarded request between two workers costs
 * a round trip through the kernel), and a few connections whose requests come one at a time are served sooner by one
 * process than by two that take turns on the cores with the clients. Past `fill`, or once a worker is busy, the
 * others take the load, so every core works when there is work for it. `fill = 1` spreads them evenly.
 */
export function placeConnection(workers: readonly { connections: number; busy: number }[], fill: number): number {
  let best = -1;
  workers.forEach((w, i) => {
    // A worker that serves nobody now is not busy, whatever its last report said (it reports twice a second).
    if (w.connections >= fill || (w.busy > BUSY_WORKER && w.connections > 0)) return;
    if (best < 0 || w.connections > workers[best]!.connections) best = i;
  });
  if (best >= 0) return best;
  best = 0;
  workers.forEach((w, i) => {
    const b = workers[best]!;
    if (w.connections < b.connections || (w.connections === b.connections && w.busy < b.busy)) best = i;
  });
  return best;
}

interface WorkerSlot {
  index: number;
  child: ChildProcess;
  /** Connections handed to it and not yet reported closed, by remote address. */
  readonly remotes: Map<string, number>;
  connections: number;
  /** The share of the last moments its event loop was busy (0..1), as the worker last reported it. */
  busy: number;
  /** Load reports before this time are ignored (they cover the moments of the connections that just ended). */
  busyFrom: number;
  ready: Promise<void>;
  isReady: boolean;
  stopping: boolean;
}

export interface WorkerPoolOptions {
  count: number;
  /** The module a worker runs (it reads `init`, builds its server from `spec`, and answers `ready`). */
  entry: string;
  /** What a worker builds its configuration from: plain data, sent over the IPC channel. */
  spec: unknown;
  log: Logger;
  /** Connections a worker takes before the next gets any, while it is not busy (`worker_fill`; 1 spreads them). */
  fill: number;
  /** A connection the primary admitted has ended on its worker (or with it). */
  onClosed: (remote: string) => void;
  onAuthFailed: (remote: string, user: string) => void;
  onAuthSucceeded: (remote: string) => void;
}

export class WorkerPool {
  private readonly slots: WorkerSlot[] = [];
  /** Which worker serves each client (ClientGuid), and how many of its connections are there. */
  private readonly clients = new Map<string, { worker: number; connections: number }>();
  private readonly opts: WorkerPoolOptions;
  /** The workers' durable opens, handed to the worker that replaces one that died. */
  private readonly durables = new DurableRecords();
  private closing = false;

  constructor(opts: WorkerPoolOptions) {
    this.opts = opts;
  }

  /** Starts every worker and resolves once each has built its server. */
  async start(): Promise<void> {
    for (let i = 0; i < this.opts.count; i++) this.slots.push(this.spawn(i));
    await Promise.all(this.slots.map((s) => s.ready));
  }

  /** The worker processes' ids (for tests and status). */
  get pids(): number[] {
    return this.slots.map((s) => s.child.pid ?? 0);
  }

  /** Connections each worker serves now. */
  get load(): number[] {
    return this.slots.map((s) => s.connections);
  }

  /** Hands an admitted socket to a live worker (`placeConnection`); false when none can take it. */
  handOff(socket: Socket, kind: 'direct' | 'netbios', remote: string): boolean {
    // A worker starting (again) gets connections once its server is built.
    const live = this.slots.filter((s) => s.isReady && !s.stopping && s.child.connected);
    if (live.length === 0) return false;
    const slot = live[placeConnection(live, this.opts.fill)]!;
    slot.connections++;
    slot.remotes.set(remote, (slot.remotes.get(remote) ?? 0) + 1);
    const msg: ToWorker = { t: 'conn', kind, remote };
    slot.child.send(msg, socket, { keepOpen: false }, (err) => {
      if (err) {
        this.opts.log.warn('could not hand a connection to a worker', { worker: slot.index, error: err.message });
        this.forget(slot, remote);
        socket.destroy();
      }
    });
    return true;
  }

  /** Stops every worker: each closes its connections (persistent opens stay journalled) and exits. */
  async close(timeoutMs = 10_000): Promise<void> {
    this.closing = true;
    await Promise.all(
      this.slots.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (s.child.exitCode !== null || s.child.signalCode !== null) return resolve();
            s.stopping = true;
            const timer = setTimeout(() => s.child.kill('SIGKILL'), timeoutMs);
            timer.unref();
            s.child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            if (s.child.connected) s.child.send({ t: 'stop' } satisfies ToWorker);
            else s.child.kill('SIGTERM');
          }),
      ),
    );
  }

  private spawn(index: number): WorkerSlot {
    const child = fork(this.opts.entry, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let ready!: () => void;
    let failed!: (e: Error) => void;
    const slot: WorkerSlot = {
      index,
      child,
      remotes: new Map(),
      connections: 0,
      busy: 0,
      busyFrom: 0,
      ready: new Promise<void>((resolve, reject) => {
        ready = resolve;
        failed = reject;
      }),
      isReady: false,
      stopping: false,
    };
    slot.ready.catch(() => {});
    child.on('message', (m: FromWorker, handle?: unknown) => {
      switch (m.t) {
        case 'place': {
          const c = this.clients.get(m.client);
          const worker = c && this.isLive(c.worker) ? c.worker : slot.index;
          if (worker === slot.index) {
            if (c && c.worker === worker) c.connections++;
            else this.clients.set(m.client, { worker, connections: 1 });
          }
          slot.child.send({ t: 'placed', id: m.id, worker } satisfies ToWorker);
          break;
        }
        case 'client-gone': {
          const c = this.clients.get(m.client);
          if (c && c.worker === slot.index && --c.connections <= 0) this.clients.delete(m.client);
          break;
        }
        case 'migrate': {
          const socket = handle as Socket | undefined;
          const to = this.slots.find((s) => s.index === m.to);
          // The connection counts on its new worker from now on.
          const n = slot.remotes.get(m.remote) ?? 0;
          if (n > 0) {
            if (n === 1) slot.remotes.delete(m.remote);
            else slot.remotes.set(m.remote, n - 1);
            this.lost(slot);
          }
          if (!socket) break;
          if (!to?.child.connected) {
            socket.destroy();
            this.opts.onClosed(m.remote);
            break;
          }
          to.connections++;
          to.remotes.set(m.remote, (to.remotes.get(m.remote) ?? 0) + 1);
          const moved = { first: Buffer.from(m.first), established: m.established, ...(m.state ? { state: m.state } : {}) };
          to.child.send({ t: 'conn', kind: m.kind, remote: m.remote, moved } satisfies ToWorker, socket, { keepOpen: false }, (err) => {
            if (err) {
              this.forget(to, m.remote);
              socket.destroy();
            }
          });
          break;
        }
        case 'durable-save':
        case 'durable-forget':
          this.durables.take(slot.index, m);
          break;
        case 'load':
          if (Date.now() >= slot.busyFrom) slot.busy = m.busy;
          break;
        case 'ready':
          slot.isReady = true;
          ready();
          break;
        case 'closed':
          this.forget(slot, m.remote);
          break;
        case 'auth-failed':
          this.opts.onAuthFailed(m.remote, m.user);
          break;
        case 'auth-succeeded':
          this.opts.onAuthSucceeded(m.remote);
          break;
      }
    });
    child.once('exit', (code, signal) => {
      failed(new Error(`worker ${index} exited before it was ready (${signal ?? code})`));
      // Its connections died with it: they no longer count against their addresses.
      for (const [remote, n] of slot.remotes) for (let i = 0; i < n; i++) this.opts.onClosed(remote);
      for (const [k, c] of this.clients) if (c.worker === index) this.clients.delete(k);
      slot.remotes.clear();
      slot.connections = 0;
      if (this.closing || slot.stopping) return;
      this.opts.log.error('worker died: starting another', { worker: index, pid: child.pid, code, signal });
      const next = this.spawn(index);
      this.slots[this.slots.indexOf(slot)] = next;
    });
    const durables = this.durables.of(index);
    child.send({ t: 'init', index, count: this.opts.count, group: String(process.pid), spec: this.opts.spec, durables } satisfies ToWorker);
    return slot;
  }

  private isLive(index: number): boolean {
    const slot = this.slots.find((s) => s.index === index);
    return slot !== undefined && slot.child.connected && !slot.stopping;
  }

  private forget(slot: WorkerSlot, remote: string): void {
    const n = slot.remotes.get(remote) ?? 0;
    if (n <= 0) return;
    if (n === 1) slot.remotes.delete(remote);
    else slot.remotes.set(remote, n - 1);
    this.lost(slot);
    this.opts.onClosed(remote);
  }

  /**
   * One connection fewer on a worker. Once it serves nobody, what kept it busy is gone: it counts as idle at once,
   * and its next report, which still covers the moments of those connections, is not believed.
   */
  private lost(slot: WorkerSlot): void {
    if (--slot.connections > 0) return;
    slot.busy = 0;
    slot.busyFrom = Date.now() + LOAD_REPORT_MS + 100;
  }
}
