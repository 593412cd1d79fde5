import type { LeaseBreakNotification, OplockBreak } from '../../protocol/smb2/commands/oplock-break.js';

/**
 * The narrow interface between a file's state and the clients that use it (design.md, "Each file's state has one
 * owner"): requests come in from a Requester, events go out to a ClientAddress. Neither is a connection, so the
 * owner of a file's state can live in another worker or on another node and be reached the same way.
 */

/** Who asked for an operation on a file's state. */
export interface Requester {
  /** ClientGuid of the requesting connection (leases belong to it, MS-SMB2 3.3.1.4). */
  readonly clientGuid: Buffer;
  /** The session the request runs in. */
  readonly sessionId: bigint;
  /** The requesting connection's dialect (leases need 2.1, v2 leases 3.x). */
  readonly dialect: number;
  /** The server offered SMB2_GLOBAL_CAP_DIRECTORY_LEASING on the requesting connection. */
  readonly directoryLeasing: boolean;
  /** The request is about to wait (for breaks): it goes async; `onCancel` runs if the client cancels it. */
  goAsync(onCancel: () => void): void;
}

/**
 * Where an event for a client goes: the client (ClientGuid) and the session of the open it concerns. A lease belongs
 * to the client rather than to a session (`anySession`): its break may go to any of the client's connections.
 */
export interface ClientAddress {
  readonly clientGuid: Buffer;
  readonly sessionId: bigint;
  readonly anySession: boolean;
}

/** A break the state owner sends to a client: an oplock break or a lease break notification (MS-SMB2 2.2.23). */
export type BreakNotice = OplockBreak | LeaseBreakNotification;

/** How the state owner reaches clients; the server implements it over its connections. */
export interface ClientEvents {
  /** Sends a break notice to the client (nothing happens when none of its connections is left). */
  sendBreak(to: ClientAddress, notice: BreakNotice): void;
  /**
   * Whether the client's connection that `to` reaches may be asked for one more acknowledgment: each connection has
   * a cap on breaks awaiting one (AccessPolicy.maxBreaksPerConnection), beyond which breaks need none.
   */
  mayAwaitAck(to: ClientAddress): boolean;
  /** Counts a break awaiting acknowledgment against the connection `to` reaches, until `done` settles. */
  awaitingAck(to: ClientAddress, done: Promise<unknown>): void;
}

/** Events that go nowhere (a server without connections: tests, the restore of persistent opens). */
export const NO_CLIENTS: ClientEvents = {
  sendBreak: () => {},
  mayAwaitAck: () => true,
  awaitingAck: () => {},
};
