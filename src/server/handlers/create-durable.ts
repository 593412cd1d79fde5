import { Status } from '../../protocol/nt-status.js';
import { CreateAction, OplockLevel } from '../../protocol/smb2/constants.js';
import { encodeCreateResponse, type CreateRequest } from '../../protocol/smb2/commands/create.js';
import { CreateContextName, decodeLease, findCreateContext, type CreateContext } from '../../protocol/smb2/contexts/create-contexts.js';
import type { Outcome, RequestContext } from '../context.js';
import { attributesOf, parseSmbName, timesOf } from '../files.js';
import { storeErrorToStatus } from '../status-map.js';
import type { DurableRequest } from '../state/durable.js';
import type { Open } from '../state/open.js';

const ZERO_GUID = Buffer.alloc(16);

/**
 * A CREATE with DHnC or DH2C: hands a disconnected durable (or resilient, or persistent) open back to its client,
 * in the client's new session and tree (MS-SMB2 3.3.5.9.7 and 3.3.5.9.12). Nothing of the request but the
 * reconnect context, the lease key and (for a leased open) the name is looked at.
 */
export async function reconnectDurable(ctx: RequestContext, req: CreateRequest, dreq: Extract<DurableRequest, { kind: 'reconnect' }>): Promise<Outcome> {
  const server = ctx.conn.server;
  const open = server.durables.find(dreq.fileId.persistent);
  // An open still used by a session is not reconnected (smbtorture durable-open.reopen1).
  if (!open || !open.disconnected) return Status.OBJECT_NAME_NOT_FOUND;
  if (dreq.version === 2) {
    // An open made without a DH2Q has the zero CreateGuid (a DH2C of zeros reclaims a v1 open, as on Samba).
    if (!(open.createGuid ?? ZERO_GUID).equals(dreq.createGuid)) return Status.OBJECT_NAME_NOT_FOUND;
    if (open.durable?.persistent && !dreq.persistent) return Status.OBJECT_NAME_NOT_FOUND;
  } else if (!open.durable && !open.isResilient) {
    return Status.OBJECT_NAME_NOT_FOUND;
  }
  if (open.tree.share !== ctx.tree!.share) return Status.OBJECT_NAME_NOT_FOUND;
  const lease = open.lease;
  if (lease) {
    // A leased open belongs to its client (ClientGuid) and comes back only under its lease key.
    if (!lease.clientGuid.equals(ctx.conn.clientGuid)) return Status.OBJECT_NAME_NOT_FOUND;
    const rq = findCreateContext(req.createContexts, CreateContextName.REQUEST_LEASE);
    // (RequestedOplockLevel is ignored here: smbtorture's reconnects send the RqLs context with level 0.)
    if (!rq) return Status.OBJECT_NAME_NOT_FOUND;
    let key: Buffer;
    try {
      key = decodeLease(rq.data).leaseKey;
    } catch {
      return Status.INVALID_PARAMETER;
    }
    if (!key.equals(lease.key)) return Status.OBJECT_NAME_NOT_FOUND;
    const parsed = parseSmbName(req.name);
    if (typeof parsed === 'number' || parsed.path.toUpperCase() !== open.path.toUpperCase() || parsed.stream?.toUpperCase() !== open.stream?.toUpperCase()) {
      return Status.INVALID_PARAMETER;
    }
  }
  if (open.owner !== ctx.session!.owner) return Status.ACCESS_DENIED;

  // Take it over: it answers to the new session and tree from now on.
  server.durables.attach(open);
  open.session = ctx.session!;
  open.tree = ctx.tree!;
  ctx.session!.opens.set(open.volatileId, open);
  await server.durables.changed(open);
  server.log.debug('durable handle reconnected', { path: open.path, share: open.tree.share.name });
  return existingOpenResponse(ctx, open, []);
}

/** The CREATE response describing an open that already exists (a durable reconnect). */
async function existingOpenResponse(ctx: RequestContext, open: Open, extra: CreateContext[]): Promise<Outcome> {
  const store = open.tree.share.store;
  let stat;
  try {
    const st = open.handle ? await open.handle.stat() : await store!.stat(open.path);
    stat = open.stream !== undefined ? { ...(await store!.stat(open.path)), size: st.size, allocationSize: st.allocationSize } : st;
  } catch (err) {
    return storeErrorToStatus(err, 'leaf');
  }
  const fileId = { persistent: open.persistentId, volatile: open.volatileId };
  ctx.compound.fileId = fileId;
  const caching = ctx.conn.server.caching;
  const contexts = [...(open.lease ? [caching.leaseContext(open.lease)] : []), ...extra];
  const dir = stat.type === 'directory';
  return {
    body: (w) =>
      encodeCreateResponse(w, {
        oplockLevel: open.lease ? OplockLevel.LEASE : open.oplockLevel,
        flags: 0,
        createAction: CreateAction.OPENED,
        ...timesOf(stat),
        allocationSize: dir ? 0n : BigInt(open.node.reportedAllocation(stat.allocationSize)),
        endOfFile: dir ? 0n : BigInt(stat.size),
        fileAttributes: attributesOf(stat),
        fileId,
        createContexts: contexts,
      }),
  };
}
