import { isIPv4 } from 'node:net';
import { Status } from '../../protocol/nt-status.js';
import { Fsctl, IoctlFlags } from '../../protocol/smb2/constants.js';
import { decodeIoctlRequest, encodeIoctlResponse, type IoctlRequest } from '../../protocol/smb2/commands/ioctl.js';
import { isRelatedFileId } from '../../protocol/smb2/commands/file-id.js';
import {
  decodeNetworkResiliencyRequest,
  decodeValidateNegotiateInfoRequest,
  NETWORK_RESILIENCY_REQUEST_SIZE,
  encodeNetworkInterfaceInfo,
  encodeValidateNegotiateInfoResponse,
} from '../../protocol/smb2/fscc/fsctl.js';
import { Reader } from '../../util/reader.js';
import { Writer } from '../../util/writer.js';
import type { Outcome, RequestContext } from '../context.js';
import { checkCreditCharge } from './io-checks.js';
import { pipeIoctl, pipeWait } from '../ipc/smb-pipe.js';
import type { Open } from '../state/open.js';
import { copyChunk, requestResumeKey } from './fsctl-copy.js';
import {
  fileLevelTrim,
  getCompression,
  getIntegrityInformation,
  getObjectId,
  queryAllocatedRanges,
  setCompression,
  setSparse,
  setZeroData,
} from './fsctl-file.js';
import { encodeSnapshotArray } from '../../protocol/smb2/fscc/fsctl.js';
import { staleChannel } from '../replay.js';

const ALL_ONES = 0xffffffffffffffffn;

/** IOCTL (MS-SMB2 3.3.5.15): the FSCTLs that clients send to a file server. */
export async function handleIoctl(ctx: RequestContext): Promise<Outcome> {
  const req = decodeIoctlRequest(ctx.r);
  if (!(req.flags & IoctlFlags.IS_FSCTL)) return Status.NOT_SUPPORTED;
  const conn = ctx.conn;
  if (req.input.length > conn.maxTransactSize || req.maxOutputResponse > conn.maxTransactSize) return Status.INVALID_PARAMETER;
  const charge = checkCreditCharge(ctx, Math.max(req.input.length, req.maxOutputResponse));
  if (charge !== undefined) return charge;
  const session = ctx.session!;
  ctx.tree = session.trees.get(ctx.header.treeId);
  switch (req.ctlCode) {
    case Fsctl.VALIDATE_NEGOTIATE_INFO:
      return validateNegotiate(ctx, req);
    case Fsctl.QUERY_NETWORK_INTERFACE_INFO:
      // MS-SMB2 3.3.5.15.11: the request names no file; any FileId but all ones is invalid.
      if (req.fileId.persistent !== ALL_ONES || req.fileId.volatile !== ALL_ONES) return Status.INVALID_PARAMETER;
      return reply(req, (w) =>
        encodeNetworkInterfaceInfo(w, [
          { ifIndex: 1, capability: 0, linkSpeed: 10_000_000_000n, address: conn.transport.localAddress, ...(isIPv4(conn.transport.localAddress) ? {} : { scopeId: 0 }) },
        ]),
      );
    case Fsctl.DFS_GET_REFERRALS:
    case Fsctl.DFS_GET_REFERRALS_EX:
      // MS-SMB2 3.3.5.15.2: a server without DFS answers FS_DRIVER_REQUIRED.
      return Status.FS_DRIVER_REQUIRED;
    default:
      break;
  }
  if (!ctx.tree) return Status.NETWORK_NAME_DELETED;
  // MS-FSCC 2.3.49: FSCTL_PIPE_WAIT goes to the IPC$ tree itself, not to an open.
  if (req.ctlCode === Fsctl.PIPE_WAIT && ctx.tree.share.kind === 'ipc') return pipeWait(ctx, req);
  const open = ctx.open(req.fileId);
  if (!open) return Status.FILE_CLOSED;
  if (staleChannel(ctx)) return Status.FILE_NOT_AVAILABLE;
  if (open.pipe) return pipeIoctl(ctx, open.pipe, req);
  if (ctx.tree.share.kind === 'ipc') return Status.NOT_SUPPORTED;
  switch (req.ctlCode) {
    case Fsctl.LMR_REQUEST_RESILIENCY:
      return requestResiliency(ctx, open, req);
    case Fsctl.SRV_REQUEST_RESUME_KEY:
      return requestResumeKey(open, req);
    case Fsctl.SRV_COPYCHUNK:
    case Fsctl.SRV_COPYCHUNK_WRITE:
      return copyChunk(session, open, req);
    case Fsctl.SET_SPARSE:
      return setSparse(open, req);
    case Fsctl.SET_ZERO_DATA:
      return setZeroData(open, req);
    case Fsctl.QUERY_ALLOCATED_RANGES:
      return queryAllocatedRanges(open, req);
    case Fsctl.GET_COMPRESSION:
      return getCompression(req);
    case Fsctl.SET_COMPRESSION:
      return setCompression(open, req);
    case Fsctl.GET_INTEGRITY_INFORMATION:
      return getIntegrityInformation(req);
    case Fsctl.FILE_LEVEL_TRIM:
      return fileLevelTrim(open, req);
    case Fsctl.CREATE_OR_GET_OBJECT_ID:
    case Fsctl.GET_OBJECT_ID:
      return getObjectId(open, req);
    case Fsctl.SRV_ENUMERATE_SNAPSHOTS:
      // MS-SMB2 3.3.5.15.1: no previous versions are kept, so the array is empty.
      if (req.maxOutputResponse < 16) return Status.INVALID_PARAMETER;
      return reply(req, (w) => encodeSnapshotArray(w, [], req.maxOutputResponse));
    case Fsctl.DUPLICATE_EXTENTS_TO_FILE:
      // Block cloning needs extent sharing the stores don't offer (the volume does not claim FILE_SUPPORTS_BLOCK_REFCOUNTING).
      return Status.NOT_SUPPORTED;
    default:
      return Status.INVALID_DEVICE_REQUEST;
  }
}

/** The longest resiliency timeout a client may ask for (Windows' MaxResiliencyTimeout: 5 minutes). */
const MAX_RESILIENCY_TIMEOUT_MS = 300_000;

/**
 * FSCTL_LMR_REQUEST_RESILIENCY (MS-SMB2 3.3.5.15.9): marks the open resilient, which turns on LOCK replay
 * detection (3.3.5.14) and keeps the open for its timeout after the connection goes (a DHnC reclaims it).
 */
function requestResiliency(ctx: RequestContext, open: Open, req: IoctlRequest): Outcome {
  if (ctx.conn.dialect === 0x0202) return Status.INVALID_DEVICE_REQUEST;
  if (req.input.length < NETWORK_RESILIENCY_REQUEST_SIZE) return Status.INVALID_PARAMETER;
  const { timeoutMs } = decodeNetworkResiliencyRequest(new Reader(req.input));
  if (timeoutMs > MAX_RESILIENCY_TIMEOUT_MS) return Status.INVALID_PARAMETER;
  open.isResilient = true;
  open.resiliencyTimeoutMs = timeoutMs === 0 ? MAX_RESILIENCY_TIMEOUT_MS : timeoutMs;
  ctx.conn.server.durables.resilient(open);
  return reply(req, () => {});
}

function reply(req: IoctlRequest, write: (w: Writer) => void): Outcome {
  const w = new Writer(256);
  write(w);
  const out = w.finish();
  if (out.length > req.maxOutputResponse) return Status.BUFFER_TOO_SMALL;
  return {
    body: (bw) => encodeIoctlResponse(bw, { ctlCode: req.ctlCode, fileId: req.fileId, input: Buffer.alloc(0), output: out, flags: 0 }),
  };
}

/**
 * FSCTL_VALIDATE_NEGOTIATE_INFO (MS-SMB2 3.3.5.15.12): the client repeats what it negotiated; any difference means
 * a downgrade attempt and the connection is dropped.
 */
function validateNegotiate(ctx: RequestContext, req: IoctlRequest): Outcome {
  const conn = ctx.conn;
  if (!isRelatedFileId(req.fileId)) return Status.INVALID_PARAMETER;
  if (!conn.traits?.validateNegotiate && conn.dialect !== 0x0311 && (conn.dialect ?? 0) < 0x0300) {
    return Status.FILE_CLOSED;
  }
  const v = decodeValidateNegotiateInfoRequest(new Reader(req.input));
  const sameDialects =
    v.dialects.length === conn.clientDialects.length && v.dialects.every((d, i) => d === conn.clientDialects[i]);
  if (
    !sameDialects ||
    !v.guid.equals(conn.clientGuid) ||
    v.securityMode !== conn.clientSecurityMode ||
    v.capabilities !== conn.clientCapabilities
  ) {
    conn.log.warn('validate negotiate mismatch: dropping connection', { conn: conn.id });
    conn.close('validate negotiate mismatch');
    return Status.ACCESS_DENIED;
  }
  return reply(req, (w) =>
    encodeValidateNegotiateInfoResponse(w, {
      capabilities: conn.serverCapabilities,
      guid: conn.server.serverGuid,
      securityMode: conn.serverSecurityMode,
      dialect: conn.dialect!,
    }),
  );
}
