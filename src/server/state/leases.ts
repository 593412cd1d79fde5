import { LeaseState } from '../../protocol/smb2/contexts/create-contexts.js';
import type { FileNode } from './file-node.js';
import type { Open } from './open.js';

/** R, RH, RW and RWH are the only states a file lease can hold (MS-SMB2 3.3.1.12); anything without R is none. */
export function validLeaseState(requested: number): number {
  const s = requested & (LeaseState.READ_CACHING | LeaseState.HANDLE_CACHING | LeaseState.WRITE_CACHING);
  return s & LeaseState.READ_CACHING ? s : LeaseState.NONE;
}

/** A break that the request causing it may wait for: settled by the ack, the timeout, or the holder going away. */
export class PendingBreak {
  readonly done: Promise<void>;
  private settle!: () => void;
  private timer: NodeJS.Timeout | undefined;
  settled = false;

  private readonly timeoutMs: number;
  private readonly onTimeout: () => void;

  constructor(timeoutMs: number, onTimeout: () => void) {
    this.done = new Promise((resolve) => (this.settle = resolve));
    this.timeoutMs = timeoutMs;
    this.onTimeout = onTimeout;
    this.arm();
  }

  /** Starts the timeout again (a further step of the same break went out). */
  arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (this.settled) return;
      this.onTimeout();
      this.finish();
    }, this.timeoutMs);
    this.timer.unref();
  }

  finish(): void {
    if (this.settled) return;
    this.settled = true;
    if (this.timer) clearTimeout(this.timer);
    this.settle();
  }
}

/**
 * One lease (MS-SMB2 3.3.1.12): a client's (ClientGuid) caching state for one file under its LeaseKey, shared by
 * every open that names the key. Lives as long as one of its opens does.
 */
export class Lease {
  readonly id: string;
  readonly key: Buffer;
  readonly clientGuid: Buffer;
  readonly version: 1 | 2;
  readonly parentKey: Buffer | undefined;
  readonly node: FileNode;
  state = LeaseState.NONE as number;
  /** Lease.Epoch (v2): bumped on every state change. */
  epoch = 0;
  /** The state a break in progress goes to; undefined when no acknowledged break is pending (Lease.Breaking). */
  breakTo: number | undefined;
  /**
   * What the requests waiting on the break need the lease to end at (at most breakTo): a request arriving during a
   * break narrows it, and the acknowledgment then starts the next step (Samba's breaking_to_required).
   */
  breakRequired: number | undefined;
  pending: PendingBreak | undefined;
  readonly opens = new Set<Open>();

  constructor(init: { id: string; key: Buffer; clientGuid: Buffer; version: 1 | 2; parentKey: Buffer | undefined; node: FileNode; epoch: number }) {
    this.id = init.id;
    this.key = init.key;
    this.clientGuid = init.clientGuid;
    this.version = init.version;
    this.parentKey = init.parentKey;
    this.node = init.node;
    this.epoch = init.epoch;
  }

  get breaking(): boolean {
    return this.breakTo !== undefined;
  }
}

/** GlobalLeaseTableList (MS-SMB2 3.3.1.5): leases by ClientGuid and LeaseKey. */
export class LeaseTable {
  private readonly leases = new Map<string, Lease>();

  static idOf(clientGuid: Buffer, key: Buffer): string {
    return clientGuid.toString('hex') + key.toString('hex');
  }

  get(clientGuid: Buffer, key: Buffer): Lease | undefined {
    return this.leases.get(LeaseTable.idOf(clientGuid, key));
  }

  add(lease: Lease): void {
    this.leases.set(lease.id, lease);
  }

  /** Drops a lease whose last open closed, ending any break in progress. */
  removeIfUnused(lease: Lease): void {
    if (lease.opens.size > 0) return;
    lease.breakTo = undefined;
    lease.breakRequired = undefined;
    lease.pending?.finish();
    lease.pending = undefined;
    if (this.leases.get(lease.id) === lease) this.leases.delete(lease.id);
  }

  values(): IterableIterator<Lease> {
    return this.leases.values();
  }

  get size(): number {
    return this.leases.size;
  }
}
