import { Status } from '../protocol/nt-status.js';
import { Command, COMMAND_NAMES } from '../protocol/smb2/constants.js';
import { WireError } from '../errors.js';
import type { Outcome, RequestContext } from './context.js';
import { handleNegotiate } from './handlers/negotiate.js';
import { handleSessionSetup } from './handlers/session-setup.js';
import { handleLogoff } from './handlers/logoff.js';
import { handleTreeConnect, handleTreeDisconnect } from './handlers/tree-connect.js';
import { handleCreate } from './handlers/create.js';
import { handleClose } from './handlers/close.js';
import { handleFlush } from './handlers/flush.js';
import { handleRead } from './handlers/read.js';
import { handleWrite } from './handlers/write.js';
import { handleLock } from './handlers/lock.js';
import { handleIoctl } from './handlers/ioctl.js';
import { handleEcho } from './handlers/echo.js';
import { handleQueryDirectory } from './handlers/query-directory.js';
import { handleChangeNotify } from './handlers/change-notify.js';
import { handleQueryInfo } from './handlers/query-info.js';
import { handleSetInfo } from './handlers/set-info.js';
import { handleOplockBreak } from './handlers/oplock-break.js';

export interface Handler {
  /** The request must carry a valid session (MS-SMB2 3.3.5.2.9). */
  readonly needsSession: boolean;
  /** The request must carry a tree connected in that session (MS-SMB2 3.3.5.2.11). */
  readonly needsTree: boolean;
  run(ctx: RequestContext): Outcome | Promise<Outcome>;
}

/** Runs a handler: malformed input (WireError) is answered with its status; any other exception is a bug. */
export async function runHandler(handler: Handler, ctx: RequestContext): Promise<Outcome> {
  try {
    return await handler.run(ctx);
  } catch (err) {
    if (!(err instanceof WireError)) throw err;
    ctx.conn.server.log.debug('malformed request', { conn: ctx.conn.id, command: COMMAND_NAMES[ctx.header.command], error: err.message });
    return err.status ?? Status.INVALID_PARAMETER;
  }
}

const h = (needsSession: boolean, needsTree: boolean, run: Handler['run']): Handler => ({ needsSession, needsTree, run });

/** The dispatch table by command code. CANCEL is handled by the connection itself. */
export const HANDLERS: Readonly<Record<number, Handler>> = {
  [Command.NEGOTIATE]: h(false, false, handleNegotiate),
  [Command.SESSION_SETUP]: h(false, false, handleSessionSetup),
  [Command.LOGOFF]: h(true, false, handleLogoff),
  [Command.TREE_CONNECT]: h(true, false, handleTreeConnect),
  [Command.TREE_DISCONNECT]: h(true, true, handleTreeDisconnect),
  // The per-session open limit is checked before the handler: a session at its limit cannot open more.
  [Command.CREATE]: h(true, true, (ctx) =>
    ctx.session!.opens.size >= ctx.conn.server.access.policy.maxOpensPerSession ? Status.TOO_MANY_OPENED_FILES : handleCreate(ctx),
  ),
  [Command.CLOSE]: h(true, true, handleClose),
  [Command.FLUSH]: h(true, true, handleFlush),
  [Command.READ]: h(true, true, handleRead),
  [Command.WRITE]: h(true, true, handleWrite),
  [Command.LOCK]: h(true, true, handleLock),
  [Command.IOCTL]: h(true, false, handleIoctl),
  [Command.ECHO]: h(false, false, handleEcho),
  [Command.QUERY_DIRECTORY]: h(true, true, handleQueryDirectory),
  [Command.CHANGE_NOTIFY]: h(true, true, handleChangeNotify),
  [Command.QUERY_INFO]: h(true, true, handleQueryInfo),
  [Command.SET_INFO]: h(true, true, handleSetInfo),
  [Command.OPLOCK_BREAK]: h(true, true, handleOplockBreak),
};
