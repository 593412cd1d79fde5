import { Status } from '../protocol/nt-status.js';
import { HeaderFlags, OplockLevel } from '../protocol/smb2/constants.js';
import { encodeCreateResponse, type CreateResponse } from '../protocol/smb2/commands/create.js';
import { LeaseState, type CreateContext } from '../protocol/smb2/contexts/create-contexts.js';
import type { Smb2Header } from '../protocol/smb2/header.js';
import type { Outcome, RequestContext } from './context.js';
import type { Lease } from './state/leases.js';
import type { CachingRequest } from './state/oplocks.js';
import type { Open } from './state/open.js';

/**
 * Replays (MS-SMB2 3.3.5.2.10, 3.3.5.9.10): a client that lost a channel, or timed out waiting, resends a request with
 * SMB2_FLAGS_REPLAY_OPERATION. A replayed CREATE gets back the open the first one made; WRITE, SET_INFO and IOCTL
 * are fenced by the channel sequence, so that a request from a channel the client gave up cannot overtake newer ones.
 */

/** Open.ChannelSequence with Open.OutstandingRequestCount and Open.OutstandingPreRequestCount (MS-SMB2 3.3.1.10). */
export interface ChannelSequenceState {
  sequence: number;
  outstanding: number;
  preOutstanding: number;
}

/** How a request stands against its open's channel sequence. */
export interface ChannelAdmission {
  /** False: the request is from an older channel epoch; WRITE, SET_INFO and IOCTL fail with FILE_NOT_AVAILABLE. */
  current: boolean;
  /** The request was counted in OutstandingRequestCount and must be uncounted when it completes. */
  counted: boolean;
  sequence: number;
}

/**
 * MS-SMB2 3.3.5.2.10: a request naming an open compares its ChannelSequence with Open.ChannelSequence in 16-bit
 * arithmetic. A newer one (at most 0x7FFF ahead) starts a new epoch: requests of the old one still outstanding move
 * to OutstandingPreRequestCount. A replay is only current while nothing of an older epoch is outstanding (it could
 * otherwise overtake the request it replays). Updates `s` and says how the request stands.
 */
export function admitChannelSequence(s: ChannelSequenceState, sequence: number, replay: boolean): ChannelAdmission {
  const ahead = (sequence - s.sequence) & 0xffff;
  if (ahead === 0) {
    if (replay && s.preOutstanding !== 0) return { current: false, counted: false, sequence };
    s.outstanding++;
    return { current: true, counted: true, sequence };
  }
  if (ahead > 0x7fff) return { current: false, counted: false, sequence };
  s.preOutstanding += s.outstanding;
  s.sequence = sequence;
  if (replay && s.preOutstanding !== 0) {
    s.outstanding = 0;
    return { current: false, counted: false, sequence };
  }
  s.outstanding = 1;
  return { current: true, counted: true, sequence };
}

/**
 * A counted request completed: it leaves OutstandingRequestCount when its epoch is still the open's, else
 * OutstandingPreRequestCount. Counts never go below zero (a request of an epoch that came round again, smbtorture
 * replay7, is not counted twice).
 */
export function completeChannelSequence(s: ChannelSequenceState, a: ChannelAdmission): void {
  if (!a.counted) return;
  if (a.sequence === s.sequence && s.outstanding > 0) s.outstanding--;
  else if (s.preOutstanding > 0) s.preOutstanding--;
  else if (s.outstanding > 0) s.outstanding--;
}

/** The ChannelSequence of a request header: the low 16 bits of the Status field (MS-SMB2 2.2.1.2). */
export function channelSequenceOf(h: Smb2Header): number {
  return h.status & 0xffff;
}

/** The request is a resend (SMB2_FLAGS_REPLAY_OPERATION, MS-SMB2 2.2.1.2). */
export function isReplay(h: Smb2Header): boolean {
  return (h.flags & HeaderFlags.REPLAY_OPERATION) !== 0;
}

/**
 * A request other than CREATE names `open`: the client evidently has the CREATE's response, so a later replay of that
 * CREATE is a new create, not a resend (Open.IsReplayEligible, as Windows and Samba answer smbtorture replay6); and
 * the channel sequence is checked (3.x only). Returns the admission to complete when the request is answered.
 */
export function requestOnOpen(open: Open, h: Smb2Header, dialect: number): ChannelAdmission | undefined {
  open.replayEligible = false;
  if (dialect < 0x0300) return undefined;
  return admitChannelSequence(open.channel, channelSequenceOf(h), isReplay(h));
}

/** MS-SMB2 3.3.5.2.10: WRITE, SET_INFO and IOCTL from an older channel epoch fail with STATUS_FILE_NOT_AVAILABLE. */
export function staleChannel(ctx: RequestContext): boolean {
  return ctx.channel !== undefined && !ctx.channel.admission.current;
}

/** What a DH2Q CREATE's response said, kept so that a replay answers the same (MS-SMB2 3.3.5.9.10). */
export type OriginalCreate = Omit<CreateResponse, 'oplockLevel' | 'flags' | 'fileId' | 'createContexts'>;

/**
 * How a replayed CREATE answers, when its CreateGuid names `open` (MS-SMB2 3.3.5.9.10): the original response,
 * with the open's caching now. A replay may ask for less caching than the open holds: it is told what it asked
 * (and durability only where that would carry it) while the open keeps what it has; it may not switch between an
 * oplock and a lease, nor name another lease (ACCESS_DENIED, as Windows and Samba answer smbtorture
 * replay-dhv2-oplock-lease and replay-dhv2-lease3).
 */
export function replayedCaching(open: Open, req: CachingRequest): { oplockLevel: number; durable: boolean } | number {
  const lease = open.lease;
  if (lease) {
    if (!req.lease || !req.lease.leaseKey.equals(lease.key)) return Status.ACCESS_DENIED;
    const durable = open.durable !== undefined && (open.durable.persistent || (lease.state & LeaseState.HANDLE_CACHING) !== 0);
    return { oplockLevel: OplockLevel.LEASE, durable };
  }
  if (req.lease) return Status.ACCESS_DENIED;
  const oplockLevel = Math.min(req.oplockLevel, open.oplockLevel);
  const durable = open.durable !== undefined && (open.durable.persistent || oplockLevel === OplockLevel.BATCH);
  return { oplockLevel, durable };
}

/** Contexts a replay's response carries: the lease now, the durable response (both built by their owners). */
export interface ReplayContexts {
  lease(lease: Lease): CreateContext;
  durable(open: Open): CreateContext[];
}

/**
 * A DH2Q CREATE whose CreateGuid names an open of this client (MS-SMB2 3.3.5.9.10). Without the replay flag the GUID
 * is a duplicate. A replay gets the open back, unless it comes from another session or tree, or asks for other
 * caching (then the client did not send that CREATE). A replay of a CREATE still in progress (waiting for a break)
 * is answered FILE_NOT_AVAILABLE, so that the client retries rather than waits twice (Samba's answer to smbtorture
 * dhv2-pending*-sane; Windows answers ACCESS_DENIED or, after the break, SHARING_VIOLATION).
 */
export function replayCreate(ctx: RequestContext, found: Open | 'in-progress', req: CachingRequest, contexts: ReplayContexts): Outcome {
  if (!isReplay(ctx.header)) return Status.DUPLICATE_OBJECTID;
  if (found === 'in-progress') return Status.FILE_NOT_AVAILABLE;
  const open = found;
  // The open is this session's, on any of its channels; another user or session gets no handle of it. An open
  // rebuilt from the journal after a restart has no first response to repeat.
  if (open.session !== ctx.session || open.tree !== ctx.tree || !open.original) return Status.ACCESS_DENIED;
  const caching = replayedCaching(open, req);
  if (typeof caching === 'number') return caching;
  const fileId = { persistent: open.persistentId, volatile: open.volatileId };
  ctx.compound.fileId = fileId;
  const createContexts = [...(open.lease ? [contexts.lease(open.lease)] : []), ...(caching.durable ? contexts.durable(open) : [])];
  const original = open.original;
  return {
    body: (w) => encodeCreateResponse(w, { ...original, oplockLevel: caching.oplockLevel, flags: 0, fileId, createContexts }),
  };
}
