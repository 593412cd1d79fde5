import type { Reader } from '../util/reader.js';
import type { Writer } from '../util/writer.js';
import type { Smb2Header } from '../protocol/smb2/header.js';
import { isRelatedFileId, type FileId } from '../protocol/smb2/commands/file-id.js';
import type { Connection } from './connection.js';
import type { Session } from './session.js';
import type { Tree } from './tree.js';
import type { Open } from './state/open.js';
import type { Requester } from './state/client-events.js';
import { GlobalCapabilities } from '../protocol/smb2/constants.js';
import { requestOnOpen, type ChannelAdmission } from './replay.js';

/** What a handler returns on success (or with a warning status such as BUFFER_OVERFLOW). */
export interface Reply {
  status?: number;
  /** Writes the response body after the 64-byte header. */
  body: (w: Writer) => void;
  /** Payload sent as its own chunk after the body, never copied (READ data). */
  tail?: Buffer;
  /** Runs once the socket has written the reply (gives pooled buffers back). */
  onSent?: () => void;
  /** Runs once the response is built, with its chunks (for the preauth hash, or to drop a session after LOGOFF). */
  after?: (chunks: readonly Buffer[]) => void;
}

/** A handler answers with a Reply, or with an error status (sent as an ERROR response). */
export type Outcome = Reply | number;

/** State carried between the requests of one compound (MS-SMB2 3.3.5.2.7.2). */
export interface CompoundState {
  sessionId: bigint;
  treeId: number;
  fileId: FileId | undefined;
  /**
   * Set when a request that creates what the chain inherits (CREATE's FileId, SESSION_SETUP's session,
   * TREE_CONNECT's tree) failed: every later related request fails with this status. A failure of any other
   * request (a SET_INFO, a WRITE) stays its own: the next related request, often the CLOSE, still runs.
   */
  chainFailure: number | undefined;
  /**
   * The first request carried SMB2_FLAGS_RELATED_OPERATIONS: it and every later related request fail with
   * STATUS_INVALID_PARAMETER (MS-SMB2 3.3.5.2.7.2, as Windows and Samba do).
   */
  relatedOnFirst: boolean;
}

/** One request being served: the connection, the resolved session and tree, and its bytes. */
export interface RequestContext {
  readonly conn: Connection;
  readonly header: Smb2Header;
  /** The whole message (header + body), a view of the frame. */
  readonly message: Buffer;
  /** Positioned after the header; base = header start. */
  readonly r: Reader;
  readonly related: boolean;
  /** The request arrived inside a TRANSFORM (encrypted) message; its replies are encrypted too. */
  readonly encrypted: boolean;
  readonly compound: CompoundState;
  session: Session | undefined;
  tree: Tree | undefined;
  /** Set when the handler went async (an interim STATUS_PENDING was sent). */
  asyncId: bigint | undefined;
  /** Called by CANCEL for this request while it is pending. */
  onCancel: (() => void) | undefined;
  /** A CANCEL came before the request went async: it is cancelled once it does. */
  cancelRequested?: boolean;
  /** How the request stands against the channel sequence of the open it names (MS-SMB2 3.3.5.2.10), set by open(). */
  channel: { open: Open; admission: ChannelAdmission } | undefined;
  /**
   * The request goes on when its connection is lost while the session has other channels (a DH2Q CREATE, which its
   * client replays on one of them, MS-SMB2 3.3.5.9.10); other pending requests are cancelled with their connection.
   */
  survivesChannelLoss: boolean;
  /** Resolves an open by FileId, applying the compound rule for the 0xFFFF... id. */
  open(fileId: FileId): Open | undefined;
  /** Sends the interim response now and marks the request async (MS-SMB2 3.3.4.2). */
  goAsync(onCancel: () => void): void;
}

/** The request as the file state sees it: who asks, never the connection it came on (state/client-events.ts). */
export function requesterOf(ctx: RequestContext): Requester {
  const conn = ctx.conn;
  return {
    clientGuid: conn.clientGuid,
    sessionId: ctx.session?.id ?? ctx.header.sessionId,
    dialect: conn.dialect ?? 0,
    directoryLeasing: (conn.serverCapabilities & GlobalCapabilities.DIRECTORY_LEASING) !== 0,
    goAsync: (onCancel) => ctx.goAsync(onCancel),
  };
}

/**
 * The open a request's FileId names, in its session and tree (MS-SMB2 3.3.5.2.7.2: a related request's all-ones
 * FileId is the one the previous request used, found or not). The request counts against the open's channel
 * sequence (MS-SMB2 3.3.5.2.10), wherever the open lives.
 */
export function resolveOpen(ctx: RequestContext, fileId: FileId, dialect: number): Open | undefined {
  let id: FileId | undefined = fileId;
  if (isRelatedFileId(fileId)) id = ctx.related ? ctx.compound.fileId : undefined;
  ctx.compound.fileId = id;
  if (id === undefined) return undefined;
  const o = ctx.session?.opens.get(id.volatile);
  if (!o || o.persistentId !== id.persistent || o.closed) return undefined;
  if (ctx.tree && o.tree !== ctx.tree) return undefined;
  if (!ctx.channel) {
    const admission = requestOnOpen(o, ctx.header, dialect);
    if (admission) ctx.channel = { open: o, admission };
  }
  return o;
}
