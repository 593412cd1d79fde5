/**
 * Durable and persistent opens, client side: what a CREATE asks for on each dialect, what the server granted,
 * and the CREATE that re-establishes the open on a new connection (MS-SMB2 3.2.4.3.5, 3.2.4.4, 3.2.5.7).
 * A durable open needs HANDLE caching, so it always comes with a lease (2.1 and 3.x) or a batch oplock (2.0.2):
 * without one the server ignores the durable request (MS-SMB2 3.3.5.9.6, 3.3.5.9.10).
 */
import { randomBytes } from 'node:crypto';
import type { CreateResponse } from '../protocol/smb2/commands/create.js';
import type { FileId } from '../protocol/smb2/commands/file-id.js';
import { Dialect, GlobalCapabilities, OplockLevel, ShareCapabilities } from '../protocol/smb2/constants.js';
import {
  CreateContextName,
  decodeDurableHandleResponseV2,
  decodeLease,
  encodeDurableHandleReconnect,
  encodeDurableHandleReconnectV2,
  encodeDurableHandleRequest,
  encodeDurableHandleRequestV2,
  encodeLease,
  findCreateContext,
  DurableHandleV2Flags,
  LeaseState,
  type CreateContext,
} from '../protocol/smb2/contexts/create-contexts.js';

/** What the server granted an open: nothing, a handle that survives a connection loss, or one that survives a server restart. */
export type Durability = 'none' | 'durable' | 'persistent';

/** How each dialect asks for a durable open: context version (DHnQ / DH2Q) and the caching that goes with it. */
const DURABLE_BY_DIALECT: ReadonlyMap<number, { version: 1 | 2; caching: 'batch' | 'lease-v1' | 'lease-v2' }> = new Map([
  [Dialect.SMB202, { version: 1, caching: 'batch' }],
  [Dialect.SMB210, { version: 1, caching: 'lease-v1' }],
  [Dialect.SMB300, { version: 2, caching: 'lease-v2' }],
  [Dialect.SMB302, { version: 2, caching: 'lease-v2' }],
  [Dialect.SMB311, { version: 2, caching: 'lease-v2' }],
] as const);

/** What a durable open asked for, kept so that a reconnect can repeat it. */
export interface DurableOpen {
  /** 1: DHnQ / DHnC (2.x); 2: DH2Q / DH2C (3.x). */
  version: 1 | 2;
  /** DH2Q CreateGuid (random), repeated in DH2C. */
  createGuid: Buffer;
  /** SMB2_DHANDLE_FLAG_PERSISTENT was sent. */
  persistent: boolean;
  /** The lease (same key on reconnect); undefined: a batch oplock. */
  lease: { version: 1 | 2; key: Buffer } | undefined;
}

/** The caching granted by a CREATE response: the lease state when a lease was asked for, and the oplock level. */
export interface Granted {
  durability: Durability;
  leaseState: number | undefined;
  oplockLevel: number;
}

const RWH = LeaseState.READ_CACHING | LeaseState.WRITE_CACHING | LeaseState.HANDLE_CACHING;
const ZERO_KEY = Buffer.alloc(16);

function leaseContext(lease: { version: 1 | 2; key: Buffer }, leaseState: number): CreateContext {
  const data =
    lease.version === 2
      ? encodeLease({ version: 2, leaseKey: lease.key, leaseState, leaseFlags: 0, leaseDuration: 0n, parentLeaseKey: ZERO_KEY, epoch: 0 })
      : encodeLease({ version: 1, leaseKey: lease.key, leaseState, leaseFlags: 0, leaseDuration: 0n });
  return { name: CreateContextName.REQUEST_LEASE, data };
}

/**
 * The oplock level and contexts of a durable CREATE. `persistent` adds SMB2_DHANDLE_FLAG_PERSISTENT only where
 * it can be granted (3.x, the server advertised PERSISTENT_HANDLES and the share CONTINUOUS_AVAILABILITY);
 * elsewhere the open falls back to a durable one (the handle's `durable` tells which was granted).
 */
export function durableCreate(
  dialect: number,
  serverCapabilities: number,
  shareCapabilities: number,
  persistent: boolean,
): { oplockLevel: number; contexts: CreateContext[]; durable: DurableOpen } {
  const row = DURABLE_BY_DIALECT.get(dialect) ?? { version: 1, caching: 'batch' };
  // A server without leasing (SMB2_GLOBAL_CAP_LEASING) gets a batch oplock instead.
  const leasing = row.caching !== 'batch' && (serverCapabilities & GlobalCapabilities.LEASING) !== 0;
  const lease = leasing ? { version: row.caching === 'lease-v2' ? (2 as const) : (1 as const), key: randomBytes(16) } : undefined;
  const asPersistent =
    persistent &&
    row.version === 2 &&
    (serverCapabilities & GlobalCapabilities.PERSISTENT_HANDLES) !== 0 &&
    (shareCapabilities & ShareCapabilities.CONTINUOUS_AVAILABILITY) !== 0;
  const durable: DurableOpen = { version: row.version, createGuid: randomBytes(16), persistent: asPersistent, lease };
  const contexts: CreateContext[] = [];
  if (row.version === 2) {
    const flags = asPersistent ? DurableHandleV2Flags.PERSISTENT : 0;
    // Timeout 0: the server picks its default (MS-SMB2 2.2.13.2.11).
    contexts.push({ name: CreateContextName.DURABLE_HANDLE_REQUEST_V2, data: encodeDurableHandleRequestV2({ timeout: 0, flags, createGuid: durable.createGuid }) });
  } else {
    contexts.push({ name: CreateContextName.DURABLE_HANDLE_REQUEST, data: encodeDurableHandleRequest() });
  }
  if (lease) contexts.push(leaseContext(lease, RWH));
  return { oplockLevel: lease ? OplockLevel.LEASE : OplockLevel.BATCH, contexts, durable };
}

/** What the CREATE response of a durable request granted (MS-SMB2 3.2.5.7). */
export function durableGranted(d: DurableOpen, res: CreateResponse): Granted {
  let durability: Durability = 'none';
  if (d.version === 2) {
    const c = findCreateContext(res.createContexts, CreateContextName.DURABLE_HANDLE_REQUEST_V2);
    if (c) durability = (decodeDurableHandleResponseV2(c.data).flags & DurableHandleV2Flags.PERSISTENT) !== 0 ? 'persistent' : 'durable';
  } else if (findCreateContext(res.createContexts, CreateContextName.DURABLE_HANDLE_REQUEST)) {
    durability = 'durable';
  }
  return { durability, leaseState: leaseStateOf(d, res), oplockLevel: res.oplockLevel };
}

/** The lease state a response grants (undefined when no lease was asked for or none was granted). */
export function leaseStateOf(d: DurableOpen, res: CreateResponse): number | undefined {
  if (!d.lease || res.oplockLevel !== OplockLevel.LEASE) return undefined;
  const c = findCreateContext(res.createContexts, CreateContextName.REQUEST_LEASE);
  return c ? decodeLease(c.data).leaseState : undefined;
}

/**
 * The oplock level and contexts that re-establish a durable open (MS-SMB2 3.2.4.4): DHnC with the old FileId,
 * or DH2C with the FileId, the CreateGuid and the PERSISTENT flag; plus the open's lease with its key.
 */
export function durableReconnect(d: DurableOpen, fileId: FileId, oplockLevel: number, leaseState: number | undefined): { oplockLevel: number; contexts: CreateContext[] } {
  const contexts: CreateContext[] = [];
  if (d.version === 2) {
    const flags = d.persistent ? DurableHandleV2Flags.PERSISTENT : 0;
    contexts.push({ name: CreateContextName.DURABLE_HANDLE_RECONNECT_V2, data: encodeDurableHandleReconnectV2({ fileId, createGuid: d.createGuid, flags }) });
  } else {
    contexts.push({ name: CreateContextName.DURABLE_HANDLE_RECONNECT, data: encodeDurableHandleReconnect({ fileId }) });
  }
  if (d.lease) contexts.push(leaseContext(d.lease, leaseState ?? RWH));
  return { oplockLevel: d.lease ? OplockLevel.LEASE : oplockLevel, contexts };
}
