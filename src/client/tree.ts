/**
 * A connected share (tree): adds its TreeId and encryption to requests, and builds the requests the share and
 * file-handle layers compound (CREATE, READ, WRITE, QUERY_INFO, SET_INFO, CLOSE).
 */
import { Status } from '../protocol/nt-status.js';
import { encodeCloseRequest } from '../protocol/smb2/commands/close.js';
import { decodeCreateResponse, encodeCreateRequest, type CreateResponse } from '../protocol/smb2/commands/create.js';
import { RELATED_FILE_ID, type FileId } from '../protocol/smb2/commands/file-id.js';
import { encodeIoctlRequest } from '../protocol/smb2/commands/ioctl.js';
import { encodeQueryDirectoryRequest } from '../protocol/smb2/commands/query-directory.js';
import { encodeQueryInfoRequest } from '../protocol/smb2/commands/query-info.js';
import { encodeReadRequest } from '../protocol/smb2/commands/read.js';
import { encodeSetInfoRequest } from '../protocol/smb2/commands/set-info.js';
import { encodeWriteRequestHeader } from '../protocol/smb2/commands/write.js';
import { Command, ImpersonationLevel, InfoType, IoctlFlags, ShareAccess } from '../protocol/smb2/constants.js';
import { encodeSetFileInfo, setFileInfoClass, type SetFileInfo } from '../protocol/smb2/fscc/file-info.js';
import type { CreateContext } from '../protocol/smb2/contexts/create-contexts.js';
import { Writer } from '../util/writer.js';
import type { SmbRequest, SmbResponse } from './connection.js';
import { smbError } from './errors.js';
import type { Session, TreeInfo } from './session.js';

export interface CreateSpec {
  desiredAccess: number;
  createDisposition: number;
  createOptions: number;
  fileAttributes?: number;
  shareAccess?: number;
  /** RequestedOplockLevel (default none). */
  oplockLevel?: number;
  /** Create contexts to send (durable handle and lease requests). */
  contexts?: CreateContext[];
}

export interface TreeTuning {
  /** Bytes per READ / WRITE. */
  readSize: number;
  writeSize: number;
  /** READs of that size kept in flight by read streams, downloads and large reads. */
  concurrency: number;
  /** WRITEs kept in flight by uploads, write streams and large writes. */
  uploadConcurrency: number;
  /** QUERY_DIRECTORY output buffer size. */
  listSize: number;
}

/** A request, or a function that builds it once it can go (after a reconnect, with the FileIds of then). */
export type RequestSource = SmbRequest | (() => SmbRequest);

export class Tree {
  constructor(
    readonly session: Session,
    /** Replaced when a reconnect connects the tree again. */
    public info: TreeInfo,
    readonly tuning: TreeTuning,
  ) {}

  /** `\\host\share\a\b.txt` for a share-relative SMB path (`a\b.txt`). */
  unc(path: string): string {
    return path === '' ? this.info.unc : `${this.info.unc}\\${path}`;
  }

  /** Sends once the session can (waiting out a reconnect); a function is called then to build the request. */
  async send(req: RequestSource): Promise<SmbResponse> {
    for (let wait = this.session.whenReady(); wait; wait = this.session.whenReady()) await wait;
    return this.session.send(this.fill(typeof req === 'function' ? req() : req));
  }

  async sendCompound(reqs: SmbRequest[]): Promise<SmbResponse[]> {
    for (let wait = this.session.whenReady(); wait; wait = this.session.whenReady()) await wait;
    return this.session.sendCompound(reqs.map((r) => this.fill(r)));
  }

  private fill(req: SmbRequest): SmbRequest {
    return { ...req, treeId: this.info.treeId, encrypt: req.encrypt === true || this.info.encrypt };
  }

  /** Throws the SmbError of a failed response (warnings such as BUFFER_OVERFLOW pass unless `strict`). */
  check(res: SmbResponse, path: string): SmbResponse {
    if (res.status !== Status.SUCCESS) throw smbError(res.status, this.unc(path));
    return res;
  }

  createRequest(path: string, spec: CreateSpec): SmbRequest {
    return {
      command: Command.CREATE,
      body: (w) =>
        encodeCreateRequest(w, {
          securityFlags: 0,
          requestedOplockLevel: spec.oplockLevel ?? 0,
          impersonationLevel: ImpersonationLevel.IMPERSONATION,
          smbCreateFlags: 0n,
          desiredAccess: spec.desiredAccess,
          fileAttributes: spec.fileAttributes ?? 0,
          shareAccess: spec.shareAccess ?? (ShareAccess.READ | ShareAccess.WRITE | ShareAccess.DELETE),
          createDisposition: spec.createDisposition,
          createOptions: spec.createOptions,
          name: path,
          createContexts: spec.contexts ?? [],
        }),
    };
  }

  decodeCreate(res: SmbResponse, path: string): CreateResponse {
    return decodeCreateResponse(this.check(res, path).body);
  }

  async create(path: string, spec: CreateSpec): Promise<CreateResponse> {
    return this.decodeCreate(await this.send(this.createRequest(path, spec)), path);
  }

  /**
   * CREATE + `middle` (related, on the new handle) + CLOSE in one compound. A server may fail the CLOSE with the
   * status of a failed middle request (MS-SMB2 3.3.5.2.7.2), leaving the handle open: it is then closed on its own.
   * Throws the CREATE's error; returns the middle responses unchecked.
   */
  async withFile(path: string, spec: CreateSpec, middle: SmbRequest[]): Promise<{ create: CreateResponse; responses: SmbResponse[] }> {
    const res = await this.sendCompound([this.createRequest(path, spec), ...middle, this.closeRequest(RELATED_FILE_ID)]);
    const create = this.decodeCreate(res[0]!, path);
    const close = res[res.length - 1]!;
    if (close.status !== Status.SUCCESS && close.status !== Status.FILE_CLOSED) {
      await this.send(this.closeRequest(create.fileId)).catch(() => undefined);
    }
    return { create, responses: res.slice(1, -1) };
  }

  /** An FSCTL on an open (its answer may carry output even with an error status, e.g. copychunk limits). */
  fsctlRequest(fileId: FileId, ctlCode: number, input: Buffer, maxOutputResponse: number): SmbRequest {
    return {
      command: Command.IOCTL,
      body: (w) =>
        encodeIoctlRequest(w, {
          ctlCode,
          fileId,
          input,
          maxInputResponse: 0,
          output: Buffer.alloc(0),
          maxOutputResponse,
          flags: IoctlFlags.IS_FSCTL,
        }),
    };
  }

  closeRequest(fileId: FileId): SmbRequest {
    return { command: Command.CLOSE, body: (w) => encodeCloseRequest(w, { flags: 0, fileId }) };
  }

  readRequest(fileId: FileId, offset: number, length: number): SmbRequest {
    return {
      command: Command.READ,
      ioSize: length,
      body: (w) =>
        encodeReadRequest(w, {
          padding: 0x50,
          flags: 0,
          length,
          offset: BigInt(offset),
          fileId,
          minimumCount: 0,
          channel: 0,
          remainingBytes: 0,
          readChannelInfo: Buffer.alloc(0),
        }),
    };
  }

  /** A WRITE of `data`, or of the concatenation of its buffers (sent as they are, not copied into one). */
  writeRequest(fileId: FileId, offset: number, data: Buffer | readonly Buffer[]): SmbRequest {
    const payload = Buffer.isBuffer(data) ? [data] : data;
    let dataLength = 0;
    for (const p of payload) dataLength += p.length;
    return {
      command: Command.WRITE,
      ioSize: dataLength,
      payload,
      body: (w) =>
        encodeWriteRequestHeader(w, {
          offset: BigInt(offset),
          fileId,
          channel: 0,
          remainingBytes: 0,
          flags: 0,
          dataLength,
        }),
    };
  }

  queryInfoRequest(fileId: FileId, infoType: number, infoClass: number, outputBufferLength: number): SmbRequest {
    return {
      command: Command.QUERY_INFO,
      ioSize: outputBufferLength,
      body: (w) =>
        encodeQueryInfoRequest(w, {
          infoType,
          fileInfoClass: infoClass,
          outputBufferLength,
          additionalInformation: 0,
          flags: 0,
          fileId,
          inputBuffer: Buffer.alloc(0),
        }),
    };
  }

  setInfoRequest(fileId: FileId, info: SetFileInfo): SmbRequest {
    const b = new Writer(64);
    encodeSetFileInfo(b, info);
    const buffer = Buffer.from(b.finish());
    return {
      command: Command.SET_INFO,
      body: (w) =>
        encodeSetInfoRequest(w, { infoType: InfoType.FILE, fileInfoClass: setFileInfoClass(info), additionalInformation: 0, fileId, buffer }),
    };
  }

  queryDirectoryRequest(fileId: FileId, infoClass: number, flags: number, pattern = '*'): SmbRequest {
    const outputBufferLength = this.tuning.listSize;
    return {
      command: Command.QUERY_DIRECTORY,
      ioSize: outputBufferLength,
      body: (w) => encodeQueryDirectoryRequest(w, { fileInformationClass: infoClass, flags, fileIndex: 0, fileId, fileName: pattern, outputBufferLength }),
    };
  }
}
