import { decodeLogoffRequest, encodeLogoffResponse } from '../../protocol/smb2/commands/logoff.js';
import type { Outcome, RequestContext } from '../context.js';

/** LOGOFF (MS-SMB2 3.3.5.6): the reply is signed with the session's key, then the session goes. */
export function handleLogoff(ctx: RequestContext): Outcome {
  decodeLogoffRequest(ctx.r);
  const session = ctx.session!;
  session.state = 'expired';
  return {
    body: (w) => encodeLogoffResponse(w),
    after: () => void ctx.conn.server.destroySession(session),
  };
}
