import { Status } from '../../protocol/nt-status.js';
import { decodeOplockBreakRequest, encodeOplockBreakResponse } from '../../protocol/smb2/commands/oplock-break.js';
import { requesterOf, type Outcome, type RequestContext } from '../context.js';

/** OPLOCK_BREAK acknowledgments of oplock (MS-SMB2 3.3.5.22.1) and lease (3.3.5.22.2) breaks. */
export async function handleOplockBreak(ctx: RequestContext): Promise<Outcome> {
  const req = decodeOplockBreakRequest(ctx.r);
  const caching = ctx.conn.server.caching;
  if (req.kind === 'oplock') {
    const open = ctx.open(req.fileId);
    if (!open) return Status.FILE_CLOSED;
    // The data the client flushed before acknowledging is in the file before the break ends (write.ts).
    await open.node.writesSettled();
    const out = caching.acknowledgeOplock(open, req.oplockLevel);
    if (typeof out === 'number') return out;
    void ctx.conn.server.durables.changed(open);
    return { body: (w) => encodeOplockBreakResponse(w, { kind: 'oplock', oplockLevel: out.level, fileId: req.fileId }) };
  }
  // Leases came with 2.1; a 2.0.2 client cannot acknowledge one.
  if ((ctx.conn.dialect ?? 0) < 0x0210) return Status.INVALID_PARAMETER;
  const by = requesterOf(ctx);
  await caching.leases.get(by.clientGuid, req.leaseKey)?.node.writesSettled();
  const acked = caching.acknowledgeLease(by, req.leaseKey, req.leaseState);
  if (typeof acked === 'number') return acked;
  for (const o of acked.lease.opens) void ctx.conn.server.durables.changed(o);
  return {
    body: (w) => encodeOplockBreakResponse(w, { kind: 'lease', flags: 0, leaseKey: acked.lease.key, leaseState: acked.state, leaseDuration: 0n }),
  };
}
