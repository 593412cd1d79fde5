import type { DirEntry, StoreHandle } from '../../store/types.js';
import type { ChannelSequenceState, OriginalCreate } from '../replay.js';
import type { PipeEndpoint } from '../ipc/pipe.js';
import type { PrintJob } from '../print/spooler.js';
import type { FileNode } from './file-node.js';
import type { Lease } from './leases.js';
import type { Session } from '../session.js';
import type { Tree } from '../tree.js';

/** Directory enumeration state of an open directory (MS-SMB2 3.3.5.18). */
export interface DirectoryCursor {
  pattern: string;
  /** The matching entries of the current enumeration (a snapshot taken by its first query). */
  entries: DirEntry[];
  index: number;
  /** The directory node's childrenRemoved when the snapshot was taken. */
  removedSeen: number;
  /** Set once an entry was removed after the snapshot: each entry is looked up again before it is returned. */
  checkLive: boolean;
}

/** What a durable (or persistent) open keeps for its reconnect. */
export interface DurableState {
  /** 1: DHnQ, 2: DH2Q. */
  version: 1 | 2;
  persistent: boolean;
  /** How long the open waits for its client after a disconnect (Open.DurableOpenTimeout). */
  timeoutMs: number;
}

/** One SMB2 open (MS-SMB2 3.3.1.10): per-handle state. Shared per-file state lives in FileNode. */
export class Open {
  readonly persistentId: bigint;
  readonly volatileId: bigint;
  /** The session and tree the open belongs to; a durable reconnect moves it to the client's new ones. */
  session: Session;
  tree: Tree;
  readonly node: FileNode;
  readonly isDirectory: boolean;
  readonly grantedAccess: number;
  readonly shareAccess: number;
  readonly createOptions: number;
  /** Open.ClientGuid: the ClientGuid of the connection that opened it. */
  readonly clientGuid: Buffer;
  /** Open.DurableOwner: who may reclaim the open after a disconnect (Session.owner). */
  readonly owner: string;
  /** Named stream ("name" of "file:name:$DATA"), or undefined for the default data stream; a stream rename changes it. */
  stream: string | undefined;
  handle: StoreHandle | undefined;
  /** The named pipe of an open on IPC$ (its commands are served by server/ipc/). */
  readonly pipe: PipeEndpoint | undefined;
  /** The print job of an open on a printer share (its handle is the job's spool file). */
  readonly printJob: PrintJob | undefined;
  deleteOnClose: boolean;
  /** FilePositionInformation (kept for clients that set/query it). */
  currentByteOffset = 0n;
  mode = 0;
  dir: DirectoryCursor | undefined;
  /** Set by SET_INFO basic with -1: the server must not update that timestamp on writes (MS-FSA 2.1.5.14.2). */
  stickyWriteTime = false;
  /** The 24-byte key FSCTL_SRV_REQUEST_RESUME_KEY handed out for this open (MS-SMB2 3.3.5.15.5), made on first ask. */
  resumeKey: Buffer | undefined;
  closed = false;
  /** Open.OplockLevel (MS-SMB2 3.3.1.10): NONE, II, EXCLUSIVE, BATCH, or LEASE when `lease` is set. */
  oplockLevel = 0;
  /** The level an oplock break in progress goes to (Open.OplockState Breaking); undefined otherwise. */
  oplockBreakTo: number | undefined;
  /** The lease this open shares with the other opens of its ClientGuid and LeaseKey. */
  lease: Lease | undefined;
  /** Open.AppInstanceId (MS-SMB2 2.2.13.2.13): another client's open with the same id closes this one. */
  appInstanceId: Buffer | undefined;
  /** The ParentLeaseKey of its v2 lease request: the directory lease its changes must not break. */
  parentLeaseKey: Buffer | undefined;
  /** Data was written through this open: its close changes what the directory shows (breaks directory leases). */
  wroteData = false;
  /**
   * Open.LockSequenceArray (MS-SMB2 3.3.1.10): the last LockSequenceNumber that succeeded per LockSequenceIndex
   * (1..64), or undefined where the entry is not valid. Used to detect replayed LOCKs on resilient (and, later,
   * durable) handles; kept in the open so a durable reconnect can carry it.
   */
  readonly lockSequences: (number | undefined)[] = [];
  /** Open.IsResilient (MS-SMB2 3.3.5.15.9, FSCTL_LMR_REQUEST_RESILIENCY). */
  isResilient = false;
  /** Open.ResiliencyTimeout in milliseconds. */
  resiliencyTimeoutMs = 0;
  /**
   * Open.IsDurable / IsPersistent and what goes with them (MS-SMB2 3.3.1.10): set when a DHnQ or DH2Q was granted
   * (server/state/durable.ts decides). A durable open outlives its connection for `timeoutMs`.
   */
  durable: DurableState | undefined;
  /** Open.CreateGuid of a DH2Q, kept even when durability was not granted (replay detection, 3.3.5.9.10). */
  createGuid: Buffer | undefined;
  /**
   * Open.IsReplayEligible (MS-SMB2 3.3.5.9.10): a replay of the DH2Q CREATE that made it gets it back. Cleared by
   * the first other request on the open (server/replay.ts).
   */
  replayEligible = true;
  /** What the CREATE that made a DH2Q open answered, for its replays. */
  original: OriginalCreate | undefined;
  /** Open.ChannelSequence and its outstanding request counts (MS-SMB2 3.3.5.2.10), from the CREATE's header. */
  readonly channel: ChannelSequenceState = { sequence: 0, outstanding: 0, preOutstanding: 0 };
  /** The open lost its connection (or session) and waits for a durable reconnect; no session uses it meanwhile. */
  disconnected = false;
  /** A file was renamed through this open: its close reports an attribute change (as Windows does). */
  renamed = false;
  /** Run when the open closes (a pipe breaks, and the like). */
  readonly onClose = new Set<() => void>();

  constructor(init: {
    persistentId: bigint;
    volatileId: bigint;
    session: Session;
    tree: Tree;
    node: FileNode;
    isDirectory: boolean;
    grantedAccess: number;
    shareAccess: number;
    createOptions: number;
    clientGuid: Buffer;
    owner: string;
    stream: string | undefined;
    handle: StoreHandle | undefined;
    deleteOnClose: boolean;
    pipe?: PipeEndpoint;
    printJob?: PrintJob;
  }) {
    this.persistentId = init.persistentId;
    this.volatileId = init.volatileId;
    this.session = init.session;
    this.tree = init.tree;
    this.node = init.node;
    this.isDirectory = init.isDirectory;
    this.grantedAccess = init.grantedAccess;
    this.shareAccess = init.shareAccess;
    this.createOptions = init.createOptions;
    this.clientGuid = init.clientGuid;
    this.owner = init.owner;
    this.stream = init.stream;
    this.handle = init.handle;
    this.deleteOnClose = init.deleteOnClose;
    this.pipe = init.pipe;
    this.printJob = init.printJob;
    // Closing the handle breaks the pipe: pending reads complete and the RPC association ends.
    if (init.pipe) this.onClose.add(() => init.pipe!.close());
  }

  get isDurable(): boolean {
    return this.durable !== undefined;
  }

  /** Store path of this open's file (follows renames through the node). */
  get path(): string {
    return this.node.path;
  }
}
