import { decodeLogoffRequest, encodeLogoffResponse } from '../../protocol/smb2/commands/logoff.js';
import type { Outcome, RequestContext } from '../context.js';

/**
 * LOGOFF (MS-SMB2 3.3.5.6): the reply is signed with the session's key, then the session goes. Each channel keeps
 * the key a while, so that a signed request the client still sends on the session hears USER_SESSION_DELETED with
 * the SIGNED flag (as Samba and Windows answer it): a client that requires signing takes no unsigned answer.
 */
export function handleLogoff(ctx: RequestContext): Outcome {
  decodeLogoffRequest(ctx.r);
  const session = ctx.session!;
  session.state = 'expired';
  return {
    body: (w) => encodeLogoffResponse(w),
    after: () => {
      for (const c of session.channels) c.connection.sessionEnded(session);
      void ctx.conn.server.destroySession(session);
    },
  };
}
