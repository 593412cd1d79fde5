import { Status } from '../../protocol/nt-status.js';
import { ShareCapabilities, ShareFlags, ShareType } from '../../protocol/smb2/constants.js';
import { decodeTreeConnectRequest, encodeTreeConnectResponse } from '../../protocol/smb2/commands/tree-connect.js';
import { decodeTreeDisconnectRequest, encodeTreeDisconnectResponse } from '../../protocol/smb2/commands/tree-disconnect.js';
import type { Outcome, RequestContext } from '../context.js';
import { Tree } from '../tree.js';

/** Access granted on a read-only share: read data/EA/attributes, execute, READ_CONTROL, SYNCHRONIZE. */
export const READ_ONLY_ACCESS = 0x001200a9;
/** Full access: every standard and specific right. */
export const FULL_ACCESS = 0x001f01ff;

/** The ShareType of each kind of share (MS-SMB2 2.2.10). */
const SHARE_TYPES = { disk: ShareType.DISK, ipc: ShareType.PIPE, printer: ShareType.PRINT } as const;

/** TREE_CONNECT (MS-SMB2 3.3.5.7): `\\server\share`; who may connect is decided in SmbServer.shareAccess. */
export function handleTreeConnect(ctx: RequestContext): Outcome {
  const req = decodeTreeConnectRequest(ctx.r);
  const session = ctx.session!;
  const server = ctx.conn.server;
  const m = /^\\\\[^\\]+\\([^\\]+)$/.exec(req.path);
  if (!m) return Status.BAD_NETWORK_NAME;
  const share = server.findShare(m[1]!);
  const remote = ctx.conn.transport.remoteAddress;
  if (!share) {
    server.log.info('tree connect to unknown share', { conn: ctx.conn.id, share: m[1] });
    server.events.emit('tree-refused', { conn: ctx.conn.id, remote, user: session.userName, share: m[1], reason: 'no such share' });
    return Status.BAD_NETWORK_NAME;
  }
  const access = server.shareAccess(session, share);
  if (access === 'denied') {
    server.log.info('tree connect denied', { conn: ctx.conn.id, share: share.name, user: session.userName });
    server.events.emit('tree-refused', { conn: ctx.conn.id, remote, user: session.userName, share: share.name, reason: 'access denied' });
    return Status.ACCESS_DENIED;
  }
  const readOnly = access === 'read';
  // MS-SMB2 3.3.5.7: a share that requires encryption refuses a connection that cannot encrypt.
  if (share.encrypt && ctx.conn.cipher === 0) {
    server.log.info('tree connect refused: share requires encryption', { conn: ctx.conn.id, share: share.name });
    return Status.ACCESS_DENIED;
  }
  const tree = new Tree(session.allocTreeId(), session, share, readOnly ? READ_ONLY_ACCESS : FULL_ACCESS, readOnly, share.encrypt);
  session.trees.set(tree.id, tree);
  ctx.header.treeId = tree.id;
  server.log.info('tree connect', { conn: ctx.conn.id, share: share.name, user: session.userName, tree: tree.id });
  server.events.emit('tree-connect', { conn: ctx.conn.id, remote, user: session.userName, share: share.name, readOnly });
  return {
    body: (w) =>
      encodeTreeConnectResponse(w, {
        shareType: SHARE_TYPES[share.kind],
        shareFlags:
          (share.kind === 'ipc' ? ShareFlags.NO_CACHING : ShareFlags.MANUAL_CACHING) |
          (tree.encrypt ? ShareFlags.ENCRYPT_DATA : 0),
        // MS-SMB2 3.3.5.7: a CA share says so to 3.x clients (which may then ask for persistent handles).
        capabilities: share.continuousAvailability && (ctx.conn.dialect ?? 0) >= 0x0300 ? ShareCapabilities.CONTINUOUS_AVAILABILITY : 0,
        maximalAccess: tree.maximalAccess,
      }),
  };
}

/** TREE_DISCONNECT (MS-SMB2 3.3.5.8): closes the tree's opens. */
export async function handleTreeDisconnect(ctx: RequestContext): Promise<Outcome> {
  decodeTreeDisconnectRequest(ctx.r);
  const tree = ctx.tree!;
  ctx.conn.server.workers?.treeEnded(tree);
  await ctx.conn.server.closeTree(tree);
  return { body: (w) => encodeTreeDisconnectResponse(w) };
}
