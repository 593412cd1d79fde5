import type { Session } from '../session.js';
import { Status, statusName } from '../../protocol/nt-status.js';
import { SecurityMode, SessionFlags, SessionSetupFlags } from '../../protocol/smb2/constants.js';
import { decodeSessionSetupRequest, encodeSessionSetupResponse } from '../../protocol/smb2/commands/session-setup.js';
import { ServerAuthenticator } from '../../auth/spnego-server.js';
import { deriveSmbKeys } from '../../crypto/kdf.js';
import { preauthUpdate } from '../../crypto/preauth.js';
import { cipherName } from '../../crypto/encryption.js';
import { encodeErrorResponse } from '../../protocol/smb2/commands/error.js';
import type { Outcome, RequestContext } from '../context.js';
import { handleSessionBind, isInitialToken } from './session-bind.js';

/** SESSION_SETUP (MS-SMB2 3.3.5.5): SPNEGO/NTLMSSP rounds, then keys and the session's signing rule. */
export async function handleSessionSetup(ctx: RequestContext): Promise<Outcome> {
  const conn = ctx.conn;
  const server = conn.server;
  const req = decodeSessionSetupRequest(ctx.r);
  if (req.flags & SessionSetupFlags.BINDING) return handleSessionBind(ctx, req);
  let session = ctx.session;
  if (ctx.header.sessionId === 0n) {
    const limited = server.admitSession(conn);
    if (limited !== undefined) return limited;
    session = server.createSession(conn);
    ctx.session = session;
  } else if (!session || !session.isBoundTo(conn)) {
    // Not a session of this connection (MS-SMB2 3.3.5.5, step 5): only a binding adds a connection to a session.
    return Status.USER_SESSION_DELETED;
  } else if ((session.state === 'valid' || session.state === 'expired') && isInitialToken(req.securityBuffer)) {
    // Re-authentication (MS-SMB2 3.3.5.5.2): a new exchange on the same session; its later legs continue it.
    session.authenticator = undefined;
  }
  // Re-authentication (MS-SMB2 3.3.5.5.2) runs a new exchange on a valid session; its keys stay those of the first.
  const reauthenticating = session.state === 'valid' || session.state === 'expired';
  if (!session.authenticator) {
    session.authenticator = new ServerAuthenticator(server.authOptions());
    if (conn.preauthHash) session.preauthHash = Buffer.from(conn.preauthHash);
  }
  if (session.preauthHash) session.preauthHash = preauthUpdate(session.preauthHash, ctx.message);
  const step = session.authenticator.step(req.securityBuffer);
  const remote = conn.transport.remoteAddress;
  if (step.kind === 'continue') {
    const s = session;
    return {
      status: Status.MORE_PROCESSING_REQUIRED,
      body: (w) => encodeSessionSetupResponse(w, { sessionFlags: 0, securityBuffer: step.token }),
      after: (chunks) => {
        if (s.preauthHash) s.preauthHash = preauthUpdate(s.preauthHash, [...chunks]);
      },
    };
  }
  if (step.kind === 'fail') {
    const user = session.authenticator.claimedUser ?? '';
    server.log.info('authentication failed', { conn: conn.id, remote, user, reason: step.reason, status: statusName(step.status) });
    server.events.emit('auth-failure', { conn: conn.id, remote, user, reason: step.reason });
    // A failed first logon ends the session, and so does a failed re-authentication (MS-SMB2 3.3.5.5.3): the
    // session's opens close and its further requests get USER_SESSION_DELETED, as on Windows.
    void server.destroySession(session);
    // Brute-force defence: hold the answer back a little more per recent failure, then block the address.
    const verdict = server.access.authFailed(remote, user);
    if (verdict.delayMs > 0) await new Promise((r) => setTimeout(r, verdict.delayMs));
    if (verdict.blocked) {
      const blockSeconds = Math.round(server.access.policy.bruteForce.blockMs / 1000);
      server.log.warn('address blocked after repeated logon failures', { remote, seconds: blockSeconds });
      server.events.emit('blocked', { remote, user, seconds: blockSeconds });
      return { status: step.status, body: (w) => encodeErrorResponse(w), onSent: () => conn.close('address blocked', true) };
    }
    return step.status;
  }
  const id = step.identity;
  session.identity = id;
  session.authenticator = undefined;
  const wantsSigning = (req.securityMode & SecurityMode.SIGNING_REQUIRED) !== 0 || server.config.signingRequired;
  if (!id.anonymous && !id.guest && id.sessionKey.length > 0 && !(reauthenticating && session.signingKey)) {
    const keys = deriveSmbKeys(conn.dialect!, id.sessionKey, session.preauthHash, conn.cipher);
    session.signingKey = keys.signingKey;
    // The first channel signs with the session's key (MS-SMB2 3.3.5.5.3).
    session.channel(conn)!.signingKey = keys.signingKey;
    session.decryptionKey = keys.clientToServerKey;
    session.encryptionKey = keys.serverToClientKey;
    session.applicationKey = keys.applicationKey;
    session.signingRequired = wantsSigning;
    // MS-SMB2 3.3.5.5.3: encrypt the session when the server wants it and the connection negotiated a cipher.
    const mode = server.config.encryption;
    if (conn.cipher !== 0 && (mode === 'desired' || mode === 'required')) session.encryptData = true;
  }
  if (server.config.encryption === 'required' && !session.encryptData) {
    server.log.info('session refused: encryption required', { conn: conn.id, remote, user: id.user });
    void server.destroySession(session);
    return Status.ACCESS_DENIED;
  }
  session.state = 'valid';
  // MS-SMB2 3.3.5.5.3: a client reconnecting names its previous session; that session of the same user goes,
  // with its opens.
  const previous = req.previousSessionId !== 0n && req.previousSessionId !== session.id ? server.sessions.get(req.previousSessionId) : undefined;
  if (previous && replacedBy(previous, id)) {
    server.log.info('previous session replaced', { conn: conn.id, session: previous.id.toString(16) });
    await server.destroySession(previous);
  } else if (!previous && req.previousSessionId !== 0n && req.previousSessionId !== session.id && !id.anonymous) {
    // With workers, the previous session may live on another one (a client that reconnects with another ClientGuid).
    await server.workers?.endPreviousSession(req.previousSessionId, { user: id.user, guest: id.guest });
  }
  // MS-SMB2 3.3.5.5.3: IS_NULL for a null session, IS_GUEST for a guest; a client that gave a name and no credential
  // is a guest to it (as Samba answers), whatever the server lets it reach.
  let flags = 0;
  if (id.guest) flags |= SessionFlags.IS_GUEST;
  else if (id.anonymous) flags |= SessionFlags.IS_NULL;
  if (session.encryptData) flags |= SessionFlags.ENCRYPT_DATA;
  server.log.info('session established', {
    conn: conn.id,
    remote,
    session: session.id.toString(16),
    user: id.anonymous ? '(anonymous)' : `${id.domain}\\${id.user}`,
    guest: id.guest,
    signing: session.signingRequired,
    cipher: cipherName(conn.cipher),
    encrypted: session.encryptData,
  });
  server.access.authSucceeded(remote);
  conn.loggedOn();
  server.events.emit('auth-success', {
    conn: conn.id,
    remote,
    user: id.anonymous ? '' : id.user,
    domain: id.domain,
    guest: id.guest,
    anonymous: id.anonymous,
    dialect: conn.traits?.name,
    signing: session.signingRequired,
    cipher: cipherName(conn.cipher),
    encrypted: session.encryptData,
  });
  return {
    body: (w) => encodeSessionSetupResponse(w, { sessionFlags: flags, securityBuffer: step.token }),
  };
}

/** Users are the server's own, so the name alone says who it is (the domain is whatever the client sent). */
function sameUser(a: { user: string; guest: boolean }, b: { user: string; guest: boolean }): boolean {
  return a.user.toUpperCase() === b.user.toUpperCase() && a.guest === b.guest;
}

/** Whether a reconnecting client's new logon ends its previous session (MS-SMB2 3.3.5.5.3): the same user's, not anonymous. */
export function replacedBy(previous: Session, id: { user: string; guest: boolean }): boolean {
  return previous.identity !== undefined && !previous.identity.anonymous && sameUser(previous.identity, id);
}
