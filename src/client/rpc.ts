/**
 * DCE/RPC over an SMB named pipe on IPC$ (MS-RPCE 2.1.1.2, C706 chapter 12): bind one interface
 * with NDR 2.0, and make calls. Requests go out as one fragment through FSCTL_PIPE_TRANSCEIVE, or as WRITEs of
 * all but the last fragment first; response bytes are collected from the transceive output and then READs until
 * a fragment with PFC_LAST_FRAG is whole. STATUS_BUFFER_OVERFLOW on either only says "more of this message
 * follows": the bytes are kept and the rest read.
 */
import { SmbError } from '../errors.js';
import { Status, statusErrno } from '../protocol/nt-status.js';
import {
  BindNakReason,
  ContextResult,
  decodePdu,
  encodeBind,
  encodeRequest,
  FaultStatus,
  NDR20_SYNTAX,
  PduType,
  peekFragLength,
  PfcFlags,
  type Pdu,
  type SyntaxId,
} from '../protocol/rpc/pdu.js';
import type { SmbPipe } from './pipe.js';

/**
 * Sizes the client uses: fragments it sends and accepts (C706 12.6.3.1; 4280 is what Windows and Samba offer),
 * the transceive's MaxOutputResponse and the READ length for the rest. Mutable for tests that force short reads.
 */
export const rpcTuning = { maxFrag: 4280, transceiveSize: 4280, readSize: 65536 };

/** Request header (16) + alloc_hint, p_cont_id, opnum (8). */
const REQUEST_OVERHEAD = 24;
/** A response bigger than this is refused (a share list is a few KiB). */
const MAX_RESPONSE = 16 * 1024 * 1024;

const FAULT_NAMES = new Map<number, string>([
  [FaultStatus.OP_RNG_ERROR, 'nca_s_op_rng_error (no such operation)'],
  [FaultStatus.UNK_IF, 'nca_s_unk_if (unknown interface)'],
  [FaultStatus.PROTO_ERROR, 'nca_s_proto_error'],
  [FaultStatus.CONTEXT_MISMATCH, 'nca_s_fault_context_mismatch'],
  [FaultStatus.REMOTE_NO_MEMORY, 'nca_s_fault_remote_no_memory'],
  [FaultStatus.ACCESS_DENIED, 'access denied'],
  [FaultStatus.BAD_STUB_DATA, 'bad stub data'],
]);

const WERR_NAMES = new Map<number, [string, number]>([
  [5, ['WERR_ACCESS_DENIED', Status.ACCESS_DENIED]],
  [50, ['WERR_NOT_SUPPORTED', Status.NOT_SUPPORTED]],
  [87, ['WERR_INVALID_PARAMETER', Status.INVALID_PARAMETER]],
  [124, ['WERR_INVALID_LEVEL', Status.INVALID_PARAMETER]],
  [2310, ['NERR_NetNameNotFound', Status.BAD_NETWORK_NAME]],
]);

function hex(v: number): string {
  return `0x${(v >>> 0).toString(16).padStart(8, '0')}`;
}

/**
 * A failed RPC: a bind the server refused, a fault PDU, a Win32 error the call returned, or a malformed answer.
 * An SmbError, so callers handle it like any other: `status` is the nearest NTSTATUS, `statusName` says what
 * happened (e.g. `WERR_ACCESS_DENIED`, `RPC fault nca_s_op_rng_error`), `path` the pipe and the call.
 */
export class RpcError extends SmbError {
  constructor(
    readonly kind: 'bind' | 'fault' | 'werror' | 'protocol',
    /** The fault status, bind_nak reason, or Win32 error; 0 for a protocol error. */
    readonly rpcStatus: number,
    what: string,
    path: string,
    status: number,
  ) {
    super(status >>> 0, what, rpcStatus === FaultStatus.ACCESS_DENIED && kind !== 'protocol' ? 'EACCES' : statusErrno(status), path);
  }

  static fault(status: number, path: string): RpcError {
    const name = FAULT_NAMES.get(status >>> 0) ?? hex(status);
    const nt = status === FaultStatus.ACCESS_DENIED ? Status.ACCESS_DENIED : Status.UNSUCCESSFUL;
    return new RpcError('fault', status >>> 0, `RPC fault ${name}`, path, nt);
  }

  /** A Win32 error (WERROR/NET_API_STATUS) returned by a call. */
  static werror(code: number, path: string): RpcError {
    const known = WERR_NAMES.get(code >>> 0);
    return new RpcError('werror', code >>> 0, known?.[0] ?? `WERR ${hex(code)}`, path, known?.[1] ?? Status.UNSUCCESSFUL);
  }

  static protocol(message: string, path: string): RpcError {
    return new RpcError('protocol', 0, `RPC protocol error (${message})`, path, Status.INVALID_NETWORK_RESPONSE);
  }
}

/** DCE/RPC over one open pipe, with one bound interface (presentation context 0). */
export class RpcPipe {
  private callId = 1;
  /** Largest fragment the server accepts from us (bind_ack max_recv_frag). */
  private sendFrag = rpcTuning.maxFrag;

  constructor(private readonly pipe: SmbPipe) {}

  /** `\\host\IPC$\srvsvc`: for error messages. */
  get path(): string {
    return this.pipe.path;
  }

  /** Binds `syntax` with NDR 2.0 as context 0 (C706 12.6.4.3); throws RpcError when it is refused. */
  async bind(syntax: SyntaxId): Promise<void> {
    const callId = this.callId++;
    const pdu = encodeBind(PduType.BIND, callId, {
      maxXmitFrag: rpcTuning.maxFrag,
      maxRecvFrag: rpcTuning.maxFrag,
      assocGroupId: 0,
      contexts: [{ contextId: 0, abstractSyntax: syntax, transferSyntaxes: [NDR20_SYNTAX] }],
    });
    const ack = (await this.exchange([pdu], callId))[0]!;
    if (ack.type === PduType.BIND_NAK) {
      const reason = Object.entries(BindNakReason).find(([, v]) => v === ack.body.reason)?.[0] ?? String(ack.body.reason);
      throw new RpcError('bind', ack.body.reason, `RPC bind refused (${reason.toLowerCase()})`, this.path, Status.UNSUCCESSFUL);
    }
    if (ack.type !== PduType.BIND_ACK) throw RpcError.protocol(`expected bind_ack, got PDU type ${ack.header.type}`, this.path);
    const res = ack.body.results[0];
    if (!res || res.result !== ContextResult.ACCEPTANCE) {
      const why = res ? `result ${res.result}, reason ${res.reason}` : 'no result';
      throw new RpcError('bind', res?.reason ?? 0, `RPC bind: interface ${syntax.uuid} not accepted (${why})`, this.path, Status.NOT_SUPPORTED);
    }
    // Fragments we send must fit what the server receives (at least the minimum every peer accepts).
    this.sendFrag = Math.max(1432, Math.min(rpcTuning.maxFrag, ack.body.maxRecvFrag));
  }

  /** Calls `opnum` with an NDR stub; returns the response stub (fragments joined) or throws RpcError on a fault. */
  async call(opnum: number, stub: Buffer, what = `opnum ${opnum}`): Promise<Buffer> {
    const callId = this.callId++;
    // Every fragment's stub but the last is a multiple of 8 bytes (C706 12.6.2).
    const room = Math.floor((this.sendFrag - REQUEST_OVERHEAD) / 8) * 8;
    const frags: Buffer[] = [];
    let at = 0;
    do {
      const piece = stub.subarray(at, at + room);
      const flags = (at === 0 ? PfcFlags.FIRST_FRAG : 0) | (at + piece.length >= stub.length ? PfcFlags.LAST_FRAG : 0);
      frags.push(encodeRequest(callId, { allocHint: stub.length - at, contextId: 0, opnum, stub: piece }, flags));
      at += piece.length;
    } while (at < stub.length);
    const path = `${this.path} (${what})`;
    const pdus = await this.exchange(frags, callId, path);
    const parts: Buffer[] = [];
    for (const [i, p] of pdus.entries()) {
      if (p.type === PduType.FAULT) throw RpcError.fault(p.body.status, path);
      if (p.type !== PduType.RESPONSE) throw RpcError.protocol(`expected a response, got PDU type ${p.header.type}`, path);
      if (i === 0 && (p.header.flags & PfcFlags.FIRST_FRAG) === 0) throw RpcError.protocol('first fragment without PFC_FIRST_FRAG', path);
      parts.push(p.body.stub);
    }
    return Buffer.concat(parts);
  }

  /**
   * Sends `frags` (all but the last with WRITE, the last with a transceive) and collects the answer's fragments
   * up to the one with PFC_LAST_FRAG, checking each belongs to `callId`.
   */
  private async exchange(frags: Buffer[], callId: number, path = this.path): Promise<Pdu[]> {
    for (const f of frags.slice(0, -1)) await this.pipe.writeRaw(f);
    let pending = (await this.pipe.transceiveRaw(frags[frags.length - 1]!, rpcTuning.transceiveSize)).data;
    let total = pending.length;
    const out: Pdu[] = [];
    for (;;) {
      // Take every whole fragment buffered so far.
      for (let len = peekFragLength(pending); len !== undefined && len >= 16 && pending.length >= len; len = peekFragLength(pending)) {
        let pdu: Pdu;
        try {
          pdu = decodePdu(pending.subarray(0, len));
        } catch (e) {
          throw RpcError.protocol(e instanceof Error ? e.message : String(e), path);
        }
        pending = pending.subarray(len);
        if (pdu.header.callId !== callId) throw RpcError.protocol(`call id ${pdu.header.callId} answers ${callId}`, path);
        out.push(pdu);
        // A fault, bind_ack or bind_nak is always a single fragment; responses end with LAST_FRAG.
        if (pdu.type !== PduType.RESPONSE || (pdu.header.flags & PfcFlags.LAST_FRAG) !== 0) {
          if (pending.length > 0) throw RpcError.protocol('bytes after the last fragment', path);
          return out;
        }
      }
      if (peekFragLength(pending) !== undefined && peekFragLength(pending)! < 16) throw RpcError.protocol('fragment length below the header size', path);
      const more = (await this.pipe.readRaw(rpcTuning.readSize)).data;
      if (more.length === 0) throw RpcError.protocol('empty read from the pipe', path);
      total += more.length;
      if (total > MAX_RESPONSE) throw RpcError.protocol('response too long', path);
      pending = Buffer.concat([pending, more]);
    }
  }

  /** Closes the pipe (errors ignored: the tree goes next anyway). */
  close(): Promise<void> {
    return this.pipe.close();
  }
}
