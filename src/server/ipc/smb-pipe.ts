/**
 * SMB2 commands on named-pipe opens (MS-SMB2 3.3.5.9 - 3.3.5.21 on IPC$, MS-FSCC 2.3.x pipe FSCTLs): the
 * handlers route pipe opens here, so every pipe I/O rule sits in this file.
 */
import { Status } from '../../protocol/nt-status.js';
import { FileAttributes, Fsctl, InfoType } from '../../protocol/smb2/constants.js';
import type { CreateResponse } from '../../protocol/smb2/commands/create.js';
import type { FileId } from '../../protocol/smb2/commands/file-id.js';
import { encodeIoctlResponse, type IoctlRequest } from '../../protocol/smb2/commands/ioctl.js';
import { encodeQueryInfoResponse, type QueryInfoRequest } from '../../protocol/smb2/commands/query-info.js';
import { encodeReadResponseHeader, type ReadRequest } from '../../protocol/smb2/commands/read.js';
import { encodeWriteResponse, type WriteRequest } from '../../protocol/smb2/commands/write.js';
import { decodeSetFileInfo, FileInfoClass } from '../../protocol/smb2/fscc/file-info.js';
import { decodePipeWaitRequest } from '../../protocol/smb2/fscc/fsctl.js';
import { WireError } from '../../errors.js';
import { Reader } from '../../util/reader.js';
import { Writer } from '../../util/writer.js';
import type { Outcome, RequestContext } from '../context.js';
import { checkCreditCharge } from '../handlers/io-checks.js';
import type { Open } from '../state/open.js';
import { PipeEndpoint } from './pipe.js';

/** FILE_PIPE_* values (MS-FSCC 2.4.33, 2.4.34). */
const PipeType = { MESSAGE: 1 } as const;
const PipeConfiguration = { FULL_DUPLEX: 2 } as const;
const PipeState = { CONNECTED: 3 } as const;
const PipeEnd = { CLIENT: 0 } as const;
/** The quotas reported for each direction (what Windows reports for RPC pipes). */
const PIPE_QUOTA = 4096;

/**
 * A new endpoint for a CREATE on IPC$, served by the pipe of that name: OBJECT_NAME_NOT_FOUND when there is
 * none, ACCESS_DENIED when the pipe does not admit the session's user.
 */
export function openPipeEndpoint(ctx: RequestContext, name: string): PipeEndpoint | number {
  const server = ctx.conn.server;
  const service = server.pipes.lookup(name);
  if (!service) return Status.OBJECT_NAME_NOT_FOUND;
  const id = ctx.session!.identity;
  const caller = {
    user: id?.anonymous ? '' : (id?.user ?? ''),
    domain: id?.domain ?? '',
    anonymous: id?.anonymous ?? true,
    guest: id?.guest ?? false,
    address: ctx.conn.transport.remoteAddress,
  };
  if (!service.admits(caller)) {
    server.log.info('pipe open denied', { pipe: service.name, user: ctx.session!.userName });
    server.events.emit('pipe-refused', { conn: ctx.conn.id, remote: caller.address, user: ctx.session!.userName, pipe: service.name });
    return Status.ACCESS_DENIED;
  }
  server.log.debug('pipe open', { pipe: service.name, user: ctx.session!.userName });
  const endpoint = new PipeEndpoint(service.name);
  service.open(endpoint, caller);
  return endpoint;
}

/** The CREATE response of a pipe open (what Windows answers: no times, NORMAL attributes, no size). */
export function pipeCreateResponse(fileId: FileId): CreateResponse {
  return {
    oplockLevel: 0,
    flags: 0,
    createAction: 1, // FILE_OPENED
    creationTime: 0n,
    lastAccessTime: 0n,
    lastWriteTime: 0n,
    changeTime: 0n,
    allocationSize: 4096n,
    endOfFile: 0n,
    fileAttributes: FileAttributes.NORMAL,
    fileId,
    createContexts: [],
  };
}

/**
 * Waits for the pipe's next message: goes async (MS-SMB2 3.3.4.2) and completes with `done` once a message
 * arrives, with CANCELLED on CANCEL, or PIPE_BROKEN when the pipe closes. Inside a compound, where a request
 * cannot go async, the answer is PIPE_EMPTY at once.
 */
function whenReadable(ctx: RequestContext, pipe: PipeEndpoint, done: () => Outcome): Promise<Outcome> | Outcome {
  return new Promise<Outcome>((resolve) => {
    const stop = pipe.onReadable(() => resolve(pipe.hasMessage ? done() : Status.PIPE_BROKEN));
    ctx.goAsync(() => {
      stop();
      resolve(Status.CANCELLED);
    });
    if (ctx.asyncId === undefined) {
      stop();
      resolve(Status.PIPE_EMPTY);
    }
  });
}

/** READ on a pipe: the next message, or as much of it as fits with BUFFER_OVERFLOW (MS-SMB2 3.3.5.12). */
export function pipeRead(ctx: RequestContext, pipe: PipeEndpoint, req: ReadRequest): Outcome | Promise<Outcome> {
  if (req.length > ctx.conn.maxReadSize) return Status.INVALID_PARAMETER;
  const charge = checkCreditCharge(ctx, req.length);
  if (charge !== undefined) return charge;
  const take = (): Outcome => {
    const m = pipe.read(req.length);
    if (!m) return Status.PIPE_EMPTY;
    return {
      status: m.more ? Status.BUFFER_OVERFLOW : Status.SUCCESS,
      body: (w) => encodeReadResponseHeader(w, { dataLength: m.data.length, dataRemaining: 0 }),
      tail: m.data,
    };
  };
  if (pipe.hasMessage) return take();
  // The server's end closed and everything it sent was read (Windows: ERROR_BROKEN_PIPE).
  if (pipe.broken) return Status.PIPE_BROKEN;
  return whenReadable(ctx, pipe, take);
}

/** WRITE on a pipe: one request message for the RPC association. */
export function pipeWrite(ctx: RequestContext, pipe: PipeEndpoint, req: WriteRequest): Outcome {
  if (req.data.length > ctx.conn.maxWriteSize) return Status.INVALID_PARAMETER;
  const charge = checkCreditCharge(ctx, req.data.length);
  if (charge !== undefined) return charge;
  const result = pipe.write(req.data);
  if (result === 'broken') return Status.PIPE_CLOSING;
  if (result === 'full') return Status.INSUFFICIENT_RESOURCES;
  return { body: (w) => encodeWriteResponse(w, { count: req.data.length, remaining: 0 }) };
}

function ioctlReply(req: IoctlRequest, output: Buffer, status: number = Status.SUCCESS): Outcome {
  return { status, body: (w) => encodeIoctlResponse(w, { ctlCode: req.ctlCode, fileId: req.fileId, input: Buffer.alloc(0), output, flags: 0 }) };
}

/**
 * FSCTL_PIPE_WAIT (MS-FSCC 2.3.49), sent on the IPC$ tree without a pipe open: succeeds at once when a pipe of
 * that name exists (there is always a free instance).
 */
export function pipeWait(ctx: RequestContext, req: IoctlRequest): Outcome {
  let name: string;
  try {
    name = decodePipeWaitRequest(new Reader(req.input)).name;
  } catch (err) {
    if (err instanceof WireError) return Status.INVALID_PARAMETER;
    throw err;
  }
  return ctx.conn.server.pipes.has(name) ? ioctlReply(req, Buffer.alloc(0)) : Status.OBJECT_NAME_NOT_FOUND;
}

/** The pipe FSCTLs on a pipe open: TRANSCEIVE (MS-FSCC 2.3.50) and PEEK (2.3.46). */
export function pipeIoctl(ctx: RequestContext, pipe: PipeEndpoint, req: IoctlRequest): Outcome | Promise<Outcome> {
  switch (req.ctlCode) {
    case Fsctl.PIPE_TRANSCEIVE: {
      // A transceive needs an empty pipe: with a message still unread it is PIPE_BUSY (MS-FSCC 2.3.50).
      if (pipe.hasMessage) return Status.PIPE_BUSY;
      const result = pipe.write(req.input);
      if (result === 'broken') return Status.PIPE_CLOSING;
      if (result === 'full') return Status.INSUFFICIENT_RESOURCES;
      const take = (): Outcome => {
        const m = pipe.read(req.maxOutputResponse);
        if (!m) return Status.PIPE_EMPTY;
        return ioctlReply(req, m.data, m.more ? Status.BUFFER_OVERFLOW : Status.SUCCESS);
      };
      if (pipe.hasMessage) return take();
      return pipe.broken ? Status.PIPE_BROKEN : whenReadable(ctx, pipe, take);
    }
    case Fsctl.PIPE_PEEK: {
      // FILE_PIPE_PEEK_BUFFER: NamedPipeState, ReadDataAvailable, NumberOfMessages, MessageLength, Data.
      if (req.maxOutputResponse < 16) return Status.BUFFER_TOO_SMALL;
      const data = pipe.peek(req.maxOutputResponse - 16);
      const w = new Writer(16 + data.length);
      w.u32(PipeState.CONNECTED).u32(pipe.bytesAvailable).u32(pipe.messageCount).u32(pipe.headLength).bytes(data);
      return ioctlReply(req, Buffer.from(w.finish()), data.length < pipe.headLength ? Status.BUFFER_OVERFLOW : Status.SUCCESS);
    }
    case Fsctl.PIPE_WAIT:
      return pipeWait(ctx, req);
    default:
      return Status.INVALID_DEVICE_REQUEST;
  }
}

/** QUERY_INFO on a pipe: the classes clients ask of pipes (MS-FSCC 2.4.4, 2.4.33, 2.4.34, 2.4.41). */
export function pipeQueryInfo(open: Open, pipe: PipeEndpoint, req: QueryInfoRequest): Outcome {
  if (req.infoType !== InfoType.FILE) return Status.NOT_SUPPORTED;
  const w = new Writer(64);
  switch (req.fileInfoClass) {
    case FileInfoClass.FileBasicInformation:
      w.u64(0n).u64(0n).u64(0n).u64(0n).u32(FileAttributes.NORMAL).u32(0);
      break;
    case FileInfoClass.FileStandardInformation:
      // As Windows: one cluster allocated, no data, delete pending (a pipe goes away with its last handle).
      w.u64(4096n).u64(0n).u32(1).u8(1).u8(0).u16(0);
      break;
    case FileInfoClass.FileAccessInformation:
      w.u32(open.grantedAccess);
      break;
    case FileInfoClass.FilePositionInformation:
      w.u64(0n);
      break;
    case FileInfoClass.FileModeInformation:
      w.u32(open.mode);
      break;
    case FileInfoClass.FilePipeInformation:
      w.u32(pipe.readMode).u32(pipe.completionMode);
      break;
    case FileInfoClass.FilePipeLocalInformation:
      w.u32(PipeType.MESSAGE).u32(PipeConfiguration.FULL_DUPLEX).u32(0xffffffff).u32(1);
      w.u32(PIPE_QUOTA).u32(pipe.bytesAvailable).u32(PIPE_QUOTA).u32(PIPE_QUOTA);
      w.u32(PipeState.CONNECTED).u32(PipeEnd.CLIENT);
      break;
    default:
      return Status.INVALID_PARAMETER;
  }
  const data = Buffer.from(w.finish());
  if (req.outputBufferLength < data.length) return Status.INFO_LENGTH_MISMATCH;
  return { body: (bw) => encodeQueryInfoResponse(bw, { outputBuffer: data }) };
}

/** SET_INFO FilePipeInformation (MS-FSCC 2.4.33): byte or message read mode, queued or complete operation. */
export function pipeSetInfo(pipe: PipeEndpoint, infoType: number, infoClass: number, buffer: Buffer): number {
  if (infoType !== InfoType.FILE || infoClass !== FileInfoClass.FilePipeInformation) return Status.INVALID_PARAMETER;
  let info;
  try {
    info = decodeSetFileInfo(new Reader(buffer), infoClass);
  } catch (err) {
    if (err instanceof WireError) return err.status ?? Status.INVALID_PARAMETER;
    throw err;
  }
  if (info.kind !== 'pipe' || info.readMode > 1 || info.completionMode > 1) return Status.INVALID_PARAMETER;
  pipe.readMode = info.readMode;
  pipe.completionMode = info.completionMode;
  return Status.SUCCESS;
}
