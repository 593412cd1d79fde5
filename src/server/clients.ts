import { encodeLeaseBreakNotification, encodeOplockBreakNotification } from '../protocol/smb2/commands/oplock-break.js';
import type { Connection } from './connection.js';
import type { BreakNotice, ClientAddress, ClientEvents } from './state/client-events.js';
import type { Session } from './session.js';

/**
 * The server's side of the file state's narrow interface: turns events addressed to a client into messages on one
 * of its connections. Routing rules live here, so the state owner never holds a connection.
 */
export class ConnectionClients implements ClientEvents {
  /** The session of an id: the server's own, or a shadow of another worker's (server/workers/link.ts). */
  private readonly session: (id: bigint) => Session | undefined;
  /** The server's live connections, oldest first. */
  private readonly connections: () => Iterable<Connection>;
  private readonly maxAwaitedPerConnection: number;

  constructor(session: (id: bigint) => Session | undefined, connections: () => Iterable<Connection>, maxAwaitedPerConnection: number) {
    this.session = session;
    this.connections = connections;
    this.maxAwaitedPerConnection = maxAwaitedPerConnection;
  }

  sendBreak(to: ClientAddress, notice: BreakNotice): void {
    const route = this.route(to);
    if (!route) return;
    route.conn.sendBreakNotification(route.session, (w) =>
      notice.kind === 'oplock' ? encodeOplockBreakNotification(w, notice) : encodeLeaseBreakNotification(w, notice),
    );
  }

  mayAwaitAck(to: ClientAddress): boolean {
    const route = this.route(to);
    return !route || route.conn.outstandingBreaks < this.maxAwaitedPerConnection;
  }

  awaitingAck(to: ClientAddress, done: Promise<unknown>): void {
    const conn = this.route(to)?.conn;
    if (!conn) return;
    conn.outstandingBreaks++;
    void done.then(() => conn.outstandingBreaks--);
  }

  /**
   * The connection and session an event goes to. A client-wide event (a lease break) goes to the client's oldest
   * connection with a logged-on session, the addressed session's own connection first among equals (as Samba does:
   * smbtorture smb2.lease.v2_complex1); any other to the addressed session's connection.
   */
  private route(to: ClientAddress): { conn: Connection; session: Session } | undefined {
    const own = this.session(to.sessionId);
    if (to.anySession) {
      for (const conn of this.connections()) {
        if (!conn.clientGuid.equals(to.clientGuid)) continue;
        if (own && conn === own.connection) return { conn, session: own };
        const session = [...conn.sessions.values()].find((s) => s.state === 'valid');
        if (session) return { conn, session };
      }
    }
    return own ? { conn: own.connection, session: own } : undefined;
  }
}
