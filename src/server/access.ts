import { readFileSync } from 'node:fs';
import { matchesAny, type CidrRange } from '../util/cidr.js';

/**
 * Who may connect, and how much: host allow/deny lists, connection/session/open limits, deadlines, and the
 * brute-force defence (repeated authentication failures slow an address down, then block it for a while).
 * The state is per process; nothing here parses SMB.
 */
export interface AccessPolicy {
  /** Only these may connect (undefined = anyone not denied). */
  hostsAllow: readonly CidrRange[] | undefined;
  /** Never these (deny wins over allow). */
  hostsDeny: readonly CidrRange[];
  maxConnections: number;
  maxConnectionsPerClient: number;
  /** New connections per second one address may open, sustained (0 = no rate limit). */
  connectionRatePerClient: number;
  /** New connections one address may open at once before the rate applies. */
  connectionBurstPerClient: number;
  /** Connections over the rate that wait (unread) for their turn; past it they are refused. */
  connectionBacklogPerClient: number;
  maxSessionsPerConnection: number;
  maxOpensPerSession: number;
  /** A connection must negotiate and authenticate within this time (0 = no deadline). */
  handshakeTimeoutMs: number;
  /** A connection with no request for this long is closed (0 = never). */
  idleTimeoutMs: number;
  /** Requests a connection may have in progress; past it the server stops reading from that client. */
  maxOutstandingRequests: number;
  /** Blocking LOCK requests a session may have waiting; past it they fail with STATUS_INSUFFICIENT_RESOURCES. */
  maxPendingLocksPerSession: number;
  /** CHANGE_NOTIFY requests a session may have waiting; past it they fail with STATUS_INSUFFICIENT_RESOURCES. */
  maxPendingNotifiesPerSession: number;
  /** Directories watched on disk at once for CHANGE_NOTIFY (0 = changes by others are not watched). */
  maxDiskWatchers: number;
  /** How long a request waits for an oplock or lease break acknowledgment before the holder loses its caching. */
  breakTimeoutMs: number;
  /** Unacknowledged breaks one connection may hold others up with; past it, breaks take effect at once. */
  maxBreaksPerConnection: number;
  bruteForce: BruteForcePolicy;
}

export interface BruteForcePolicy {
  /** Failures within `windowMs` that block an address. 0 disables the defence. */
  failures: number;
  windowMs: number;
  /** Added delay per recent failure before a failed logon is answered (capped at 5 s). */
  delayMs: number;
  /** How long a blocked address is refused. */
  blockMs: number;
}

export type HostVerdict = { ok: true } | { ok: false; reason: string };

/** A new connection: refused, or served after `delayMs` (0 = at once) when its address connects faster than its rate. */
export type ConnectionVerdict = { ok: true; delayMs: number } | { ok: false; reason: string };

/** Deny wins; then, when an allow list exists, the address must be in it. */
export function hostAllowed(address: string, allow: readonly CidrRange[] | undefined, deny: readonly CidrRange[]): HostVerdict {
  if (matchesAny(address, deny)) return { ok: false, reason: 'denied by hosts_deny' };
  if (allow && !matchesAny(address, allow)) return { ok: false, reason: 'not in hosts_allow' };
  return { ok: true };
}

const MAX_DELAY_MS = 5000;

/** Descriptors the server needs besides its connections: listeners, logs, the journal, a few open files. */
const DESCRIPTOR_RESERVE = 64;

/**
 * The most files this process may have open (RLIMIT_NOFILE), or undefined where it cannot be read. Node raises the
 * soft limit to the hard one when it starts, so the limit read here is the one that holds.
 */
export function openFileLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (!m) return undefined;
    return m[1] === 'unlimited' ? Infinity : Number(m[1]);
  } catch {
    return undefined;
  }
}

/** A warning when max_connections does not fit the open-file limit: every connection is a descriptor. */
export function descriptorWarning(maxConnections: number, limit: number | undefined): string | undefined {
  if (limit === undefined || maxConnections + DESCRIPTOR_RESERVE <= limit) return undefined;
  return (
    `max_connections (${maxConnections}) does not fit the open-file limit (${limit}): past about ${Math.max(0, limit - DESCRIPTOR_RESERVE)} ` +
    'connections, accepts and opens will fail. Raise the limit (systemd: LimitNOFILE=65536 in the unit; a shell: ulimit -n 65536 ' +
    'before starting) or lower max_connections.'
  );
}

export class AccessControl {
  readonly policy: AccessPolicy;
  private readonly now: () => number;
  private total = 0;
  private readonly perClient = new Map<string, number>();
  /** Recent failure times per address and per user (lower-cased). */
  private readonly failuresByAddress = new Map<string, number[]>();
  private readonly failuresByUser = new Map<string, number[]>();
  private readonly blocked = new Map<string, number>();
  /** Each address's token bucket of new connections; tokens below zero are connections waiting their turn. */
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(policy: AccessPolicy, now: () => number = Date.now) {
    this.policy = policy;
    this.now = now;
  }

  /**
   * Decides on a new connection before any byte of it is read. Limits that real use reaches (many users behind one
   * NAT or terminal server) do not refuse: an address that connects faster than its rate has its connections served
   * later, in turn; only a backlog past its bound is refused.
   */
  admit(address: string): ConnectionVerdict {
    const host = hostAllowed(address, this.policy.hostsAllow, this.policy.hostsDeny);
    if (!host.ok) return host;
    const until = this.blocked.get(address);
    if (until !== undefined) {
      if (until > this.now()) return { ok: false, reason: 'blocked after repeated authentication failures' };
      this.blocked.delete(address);
    }
    if (this.total >= this.policy.maxConnections) return { ok: false, reason: 'too many connections' };
    if ((this.perClient.get(address) ?? 0) >= this.policy.maxConnectionsPerClient) {
      return { ok: false, reason: 'too many connections from this address' };
    }
    return this.takeConnectionToken(address);
  }

  /**
   * The address's token bucket: `burst` tokens, refilled at `rate` per second. A connection with a token goes at
   * once; without one it borrows the next token to come (down to -backlog) and waits until that token is due.
   */
  private takeConnectionToken(address: string): ConnectionVerdict {
    const { connectionRatePerClient: rate, connectionBurstPerClient: burst, connectionBacklogPerClient: backlog } = this.policy;
    if (rate <= 0) return { ok: true, delayMs: 0 };
    const t = this.now();
    const bucket = this.buckets.get(address) ?? { tokens: burst, at: t };
    const tokens = Math.min(burst, bucket.tokens + ((t - bucket.at) * rate) / 1000);
    if (tokens - 1 < -backlog) {
      this.buckets.set(address, { tokens, at: t });
      return { ok: false, reason: 'new connections from this address come faster than connection_rate_per_client' };
    }
    this.buckets.delete(address);
    this.buckets.set(address, { tokens: tokens - 1, at: t });
    this.forgetFullBuckets(t);
    return { ok: true, delayMs: tokens >= 1 ? 0 : Math.ceil(((1 - tokens) * 1000) / rate) };
  }

  /**
   * Bounds the bucket table: a bucket that has refilled is the same as none. The table is in order of last use, so
   * the sweep stops at the first bucket still refilling.
   */
  private forgetFullBuckets(t: number): void {
    if (this.buckets.size <= 4096) return;
    const { connectionRatePerClient: rate, connectionBurstPerClient: burst } = this.policy;
    for (const [address, b] of this.buckets) {
      if (b.tokens + ((t - b.at) * rate) / 1000 < burst) return;
      this.buckets.delete(address);
    }
  }

  opened(address: string): void {
    this.total++;
    this.perClient.set(address, (this.perClient.get(address) ?? 0) + 1);
  }

  closed(address: string): void {
    this.total = Math.max(0, this.total - 1);
    const n = (this.perClient.get(address) ?? 1) - 1;
    if (n <= 0) this.perClient.delete(address);
    else this.perClient.set(address, n);
  }

  get connections(): number {
    return this.total;
  }

  /**
   * Records a failed logon. Returns how long to hold the answer back and whether the address is now blocked
   * (the caller closes the connection then).
   */
  authFailed(address: string, user: string): { delayMs: number; blocked: boolean } {
    const bf = this.policy.bruteForce;
    if (bf.failures <= 0) return { delayMs: 0, blocked: false };
    const t = this.now();
    const byAddr = this.recent(this.failuresByAddress, address, t);
    byAddr.push(t);
    const byUser = this.recent(this.failuresByUser, user.toLowerCase(), t);
    byUser.push(t);
    if (byAddr.length >= bf.failures) {
      this.blocked.set(address, t + bf.blockMs);
      this.failuresByAddress.delete(address);
      return { delayMs: 0, blocked: true };
    }
    // One user attacked from many addresses is slowed down too, but never locked out (that would be a DoS).
    const n = Math.max(byAddr.length, byUser.length);
    return { delayMs: Math.min(MAX_DELAY_MS, n * bf.delayMs), blocked: false };
  }

  authSucceeded(address: string): void {
    this.failuresByAddress.delete(address);
  }

  isBlocked(address: string): boolean {
    const until = this.blocked.get(address);
    return until !== undefined && until > this.now();
  }

  private recent(map: Map<string, number[]>, key: string, t: number): number[] {
    const list = (map.get(key) ?? []).filter((x) => t - x < this.policy.bruteForce.windowMs);
    map.set(key, list);
    // Bound the tables: forget the oldest keys past a few thousand.
    if (map.size > 4096) map.delete(map.keys().next().value as string);
    return list;
  }
}
