import { Status, statusName } from '../../protocol/nt-status.js';
import { GlobalCapabilities, HeaderFlags, SigningAlgorithm } from '../../protocol/smb2/constants.js';
import { encodeSessionSetupResponse, type SessionSetupRequest } from '../../protocol/smb2/commands/session-setup.js';
import { ServerAuthenticator } from '../../auth/spnego-server.js';
import { deriveSmbKeys } from '../../crypto/kdf.js';
import { preauthUpdate } from '../../crypto/preauth.js';
import type { Outcome, RequestContext } from '../context.js';
import type { Channel, Session } from '../session.js';

/** Channels one session may have (Windows allows 32 per session). */
export const MAX_CHANNELS_PER_SESSION = 32;

/**
 * Why a SESSION_SETUP with SMB2_SESSION_FLAG_BINDING cannot bind this connection to the session, as a status, or
 * undefined when it may (MS-SMB2 3.3.5.5, step 4). The order is Windows' (smbtorture smb2.session.bind_negative_*):
 * a signing algorithm that cannot carry over (AES-GMAC on one side only) is refused before the dialect, signing,
 * dialect and cipher rules of the specification. The ClientGuid is not compared: Windows binds connections of
 * another ClientGuid too.
 */
export function bindRefusal(
  conn: { dialect: number | undefined; signingAlgorithm: number; cipher: number; serverCapabilities: number },
  session: Session,
  requestSigned: boolean,
): number | undefined {
  const gmac = SigningAlgorithm.AES_GMAC;
  if (session.signingAlgorithm === gmac && conn.signingAlgorithm !== gmac) return Status.REQUEST_OUT_OF_SEQUENCE;
  if (conn.signingAlgorithm === gmac && session.signingAlgorithm !== gmac) return Status.NOT_SUPPORTED;
  // 2.x connections, and a server with multichannel off, take no binding (IsMultiChannelCapable).
  if (!(conn.serverCapabilities & GlobalCapabilities.MULTI_CHANNEL)) return Status.REQUEST_NOT_ACCEPTED;
  if (!requestSigned) return Status.INVALID_PARAMETER;
  if (conn.dialect !== session.dialect) return Status.INVALID_PARAMETER;
  if (conn.cipher !== session.cipher) return Status.INVALID_PARAMETER;
  if (session.state === 'in-progress') return Status.REQUEST_NOT_ACCEPTED;
  if (session.state === 'expired') return Status.NETWORK_SESSION_EXPIRED;
  // Anonymous and guest sessions have no key to bind with.
  if (session.identity?.anonymous || session.identity?.guest) return Status.NOT_SUPPORTED;
  return undefined;
}

/**
 * SESSION_SETUP with SMB2_SESSION_FLAG_BINDING (MS-SMB2 3.3.5.5.2): the session's user authenticates again on this
 * connection, which becomes one more channel of the session with a signing key of its own (MS-SMB2 3.3.5.5.3,
 * derived from this exchange's session key and, for 3.1.1, this connection's preauth hash). A failed binding
 * leaves the session as it was.
 */
export async function handleSessionBind(ctx: RequestContext, req: SessionSetupRequest): Promise<Outcome> {
  const conn = ctx.conn;
  const server = conn.server;
  if (ctx.header.sessionId === 0n) return Status.INVALID_PARAMETER;
  const session = ctx.session;
  if (!session) return Status.USER_SESSION_DELETED;
  const refused = bindRefusal(conn, session, (ctx.header.flags & HeaderFlags.SIGNED) !== 0);
  if (refused !== undefined) return refused;
  let channel = session.channel(conn);
  // Already a channel of the session: binding it again is out of place (a re-authentication does not bind).
  if (channel && channel.binding === undefined) return Status.REQUEST_NOT_ACCEPTED;
  if (!channel) {
    if (session.channels.length >= MAX_CHANNELS_PER_SESSION) return Status.INSUFFICIENT_RESOURCES;
    // A channel counts as one of the connection's sessions ([server] max_sessions_per_connection).
    const limited = server.admitSession(conn);
    if (limited !== undefined) return limited;
    channel = { connection: conn, signingKey: undefined, binding: undefined };
    session.channels.push(channel);
    conn.sessions.set(session.id, session);
  }
  // A new exchange starts over: 3.1.1's preauth hash of the binding starts from this connection's NEGOTIATE.
  if (!channel.binding || isInitialToken(req.securityBuffer)) {
    channel.binding = {
      authenticator: new ServerAuthenticator(server.authOptions()),
      preauthHash: conn.preauthHash ? Buffer.from(conn.preauthHash) : undefined,
    };
  }
  const binding = channel.binding;
  if (binding.preauthHash) binding.preauthHash = preauthUpdate(binding.preauthHash, ctx.message);
  const step = binding.authenticator.step(req.securityBuffer);
  const remote = conn.transport.remoteAddress;
  if (step.kind === 'continue') {
    return {
      status: Status.MORE_PROCESSING_REQUIRED,
      body: (w) => encodeSessionSetupResponse(w, { sessionFlags: 0, securityBuffer: step.token }),
      after: (chunks) => {
        if (binding.preauthHash) binding.preauthHash = preauthUpdate(binding.preauthHash, [...chunks]);
      },
    };
  }
  if (step.kind === 'fail') {
    const user = binding.authenticator.claimedUser ?? '';
    dropChannel(session, channel);
    server.log.info('channel binding failed', { conn: conn.id, remote, user, reason: step.reason, status: statusName(step.status) });
    server.events.emit('auth-failure', { conn: conn.id, remote, user, reason: step.reason });
    const verdict = server.access.authFailed(remote, user);
    if (verdict.delayMs > 0) await new Promise((r) => setTimeout(r, verdict.delayMs));
    return step.status;
  }
  const id = step.identity;
  const owner = session.identity!;
  // MS-SMB2 3.3.5.5.3: the user of the binding must be the session's user.
  if (id.anonymous || id.guest || id.user.toUpperCase() !== owner.user.toUpperCase()) {
    dropChannel(session, channel);
    server.log.info('channel binding refused: another user', { conn: conn.id, remote, session: session.id.toString(16), user: id.user });
    return Status.ACCESS_DENIED;
  }
  if (id.sessionKey.length === 0) {
    dropChannel(session, channel);
    return Status.NOT_SUPPORTED;
  }
  channel.signingKey = deriveSmbKeys(conn.dialect!, id.sessionKey, binding.preauthHash, conn.cipher).signingKey;
  channel.binding = undefined;
  conn.loggedOn();
  server.log.info('channel bound', { conn: conn.id, remote, session: session.id.toString(16), user: id.user, channels: session.channels.length });
  return { body: (w) => encodeSessionSetupResponse(w, { sessionFlags: 0, securityBuffer: step.token }) };
}

/** A binding that failed leaves no channel behind. */
function dropChannel(session: Session, channel: Channel): void {
  const i = session.channels.indexOf(channel);
  if (i >= 0) session.channels.splice(i, 1);
  const conn = channel.connection;
  if (conn.sessions.get(session.id) === session && !session.channel(conn)) conn.sessions.delete(session.id);
}

/** The first token of a GSS exchange: an SPNEGO NegTokenInit ([APPLICATION 0], 0x60) or a raw NTLMSSP NEGOTIATE. */
export function isInitialToken(token: Buffer): boolean {
  if (token.length === 0 || token[0] === 0x60) return true;
  return token.length >= 12 && token.toString('latin1', 0, 8) === 'NTLMSSP\u0000' && token.readUInt32LE(8) === 1;
}
