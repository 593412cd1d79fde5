/**
 * The server side of one DCE/RPC association over a named pipe (C706 chapter 12, MS-RPCE 3.3): bind and
 * alter_context negotiate presentation contexts, requests are reassembled from their fragments and dispatched
 * to an interface, and responses are cut into fragments of the negotiated size. Malformed PDUs get a fault or
 * a bind_nak; a header that cannot be framed breaks the association.
 */
import { randomFillSync } from 'node:crypto';
import { WireError } from '../../errors.js';
import {
  BIND_TIME_FEATURE_PREFIX,
  BindNakReason,
  COMMON_HEADER_SIZE,
  ContextResult,
  decodeCommonHeader,
  decodePdu,
  encodeBindAck,
  encodeBindNak,
  encodeFault,
  encodeResponseFragments,
  FaultStatus,
  MIN_FRAG_SIZE,
  NDR20_SYNTAX,
  PduType,
  PfcFlags,
  ProviderReason,
  sameSyntax,
  type BindBody,
  type CommonHeader,
  type ContextResultEntry,
  type SyntaxId,
} from '../../protocol/rpc/pdu.js';
import { Reader } from '../../util/reader.js';
import type { PipeBackend, PipeCaller, PipeEndpoint } from './pipe.js';
import type { PipeService } from './registry.js';

/** What an operation sees of its call: who calls, and the context handles open on the association. */
export interface RpcCall {
  readonly caller: PipeCaller;
  readonly handles: ContextHandles;
}

/** What an operation returns: the response stub, or a fault status. */
export type RpcResult = Buffer | { fault: number };

/** One RPC interface: its abstract syntax and its operations by opnum. */
export interface RpcInterface {
  readonly name: string;
  readonly syntax: SyntaxId;
  readonly operations: ReadonlyMap<number, (stub: Buffer, call: RpcCall) => RpcResult>;
}

/** Context handles open on one association at most (each holds a little state; a client cannot pile them up). */
const MAX_CONTEXT_HANDLES = 256;

/**
 * The context handles of one association (C706 context_handle, MS-RPCE 2.2.4.1.1 [context_handle]): 20 bytes on
 * the wire, an attributes word (0) and a random UUID, each standing for server state until it is closed.
 */
export class ContextHandles {
  private readonly open = new Map<string, unknown>();

  /** A new handle for `value`, or undefined when the association holds too many. */
  add(value: unknown): Buffer | undefined {
    if (this.open.size >= MAX_CONTEXT_HANDLES) return undefined;
    const handle = Buffer.alloc(20);
    randomFillSync(handle, 4, 16);
    this.open.set(handle.toString('hex'), value);
    return handle;
  }

  get(handle: Buffer): unknown {
    return this.open.get(handle.toString('hex'));
  }

  delete(handle: Buffer): boolean {
    return this.open.delete(handle.toString('hex'));
  }
}

/** The fragment size this server offers (what Windows uses). */
export const SERVER_MAX_FRAG = 4280;
/** Largest request stub reassembled from fragments; a larger call is refused with a fault. */
export const MAX_REQUEST_STUB = 1 << 20;
/** Bytes of an incomplete PDU kept while the rest arrives (a fragment is at most 65535 bytes). */
const MAX_PENDING_INPUT = 0x10000;

const ZERO_SYNTAX: SyntaxId = { uuid: '00000000-0000-0000-0000-000000000000', version: 0 };

interface CallInProgress {
  callId: number;
  contextId: number;
  opnum: number;
  chunks: Buffer[];
  size: number;
}

let nextAssocGroup = 0x5301;

export class RpcAssociation {
  /** Set once a PDU could not be framed: the pipe is then broken. */
  broken = false;
  private readonly interfaces: readonly RpcInterface[];
  private readonly secondaryAddress: string;
  private readonly context: RpcCall;
  private readonly contexts = new Map<number, RpcInterface>();
  private bound = false;
  private maxXmitFrag = SERVER_MAX_FRAG;
  private assocGroupId = 0;
  private call: CallInProgress | undefined;
  private input: Buffer = Buffer.alloc(0);

  constructor(interfaces: readonly RpcInterface[], secondaryAddress: string, caller: PipeCaller) {
    this.interfaces = interfaces;
    this.secondaryAddress = secondaryAddress;
    this.context = { caller, handles: new ContextHandles() };
  }

  /**
   * Takes bytes written to the pipe (whole PDUs, or pieces of one) and returns the PDUs to send back, each one
   * message of the pipe.
   */
  write(data: Buffer): Buffer[] {
    if (this.broken) return [];
    this.input = this.input.length === 0 ? Buffer.from(data) : Buffer.concat([this.input, data]);
    const out: Buffer[] = [];
    while (this.input.length >= COMMON_HEADER_SIZE) {
      let header: CommonHeader;
      try {
        header = decodeCommonHeader(new Reader(this.input));
      } catch {
        return this.breakAssociation(out);
      }
      if (this.input.length < header.fragLength) break;
      const pdu = this.input.subarray(0, header.fragLength);
      this.input = this.input.subarray(header.fragLength);
      out.push(...this.handle(pdu, header));
      if (this.broken) return out;
    }
    if (this.input.length > MAX_PENDING_INPUT) return this.breakAssociation(out);
    return out;
  }

  private breakAssociation(out: Buffer[]): Buffer[] {
    this.broken = true;
    this.input = Buffer.alloc(0);
    this.call = undefined;
    return out;
  }

  private handle(buf: Buffer, header: CommonHeader): Buffer[] {
    let pdu;
    try {
      pdu = decodePdu(buf);
    } catch (err) {
      if (!(err instanceof WireError)) throw err;
      if (header.type === PduType.BIND) return [encodeBindNak(header.callId, { reason: BindNakReason.NOT_SPECIFIED, versions: [[5, 0]] })];
      return [this.fault(header.callId, 0, FaultStatus.PROTO_ERROR)];
    }
    switch (pdu.type) {
      case PduType.BIND:
        return [this.bind(header, pdu.body)];
      case PduType.ALTER_CONTEXT:
        return [this.alterContext(header, pdu.body)];
      case PduType.REQUEST:
        return this.request(header, pdu.body);
      case 'other':
        // auth3, co_cancel, orphaned and shutdown need no answer here.
        if (header.type === PduType.AUTH3 || header.type === PduType.CO_CANCEL || header.type === PduType.ORPHANED || header.type === PduType.SHUTDOWN) {
          return [];
        }
        return [this.fault(header.callId, 0, FaultStatus.PROTO_ERROR)];
      default:
        // A server-to-client PDU sent to the server.
        return [this.fault(header.callId, 0, FaultStatus.PROTO_ERROR)];
    }
  }

  private fault(callId: number, contextId: number, status: number): Buffer {
    return encodeFault(callId, { allocHint: 32, contextId, cancelCount: 0, status }, PfcFlags.FIRST_FRAG | PfcFlags.LAST_FRAG | PfcFlags.DID_NOT_EXECUTE);
  }

  private bind(header: CommonHeader, body: BindBody): Buffer {
    const nak = (reason: number) => encodeBindNak(header.callId, { reason, versions: [[5, 0]] });
    if (this.bound) return nak(BindNakReason.NOT_SPECIFIED);
    if (header.authLength > 0) return nak(BindNakReason.AUTHENTICATION_TYPE_NOT_RECOGNIZED);
    if (body.maxXmitFrag < MIN_FRAG_SIZE || body.maxRecvFrag < MIN_FRAG_SIZE) return nak(BindNakReason.LOCAL_LIMIT_EXCEEDED);
    if (body.contexts.length === 0) return nak(BindNakReason.NOT_SPECIFIED);
    this.bound = true;
    this.maxXmitFrag = Math.min(body.maxRecvFrag, SERVER_MAX_FRAG);
    this.assocGroupId = body.assocGroupId !== 0 ? body.assocGroupId : nextAssocGroup++;
    return encodeBindAck(PduType.BIND_ACK, header.callId, {
      maxXmitFrag: this.maxXmitFrag,
      maxRecvFrag: Math.min(body.maxXmitFrag, SERVER_MAX_FRAG),
      assocGroupId: this.assocGroupId,
      secondaryAddress: this.secondaryAddress,
      results: this.negotiate(body),
    });
  }

  private alterContext(header: CommonHeader, body: BindBody): Buffer {
    if (!this.bound || header.authLength > 0) return this.fault(header.callId, 0, FaultStatus.PROTO_ERROR);
    return encodeBindAck(PduType.ALTER_CONTEXT_RESP, header.callId, {
      maxXmitFrag: this.maxXmitFrag,
      maxRecvFrag: this.maxXmitFrag,
      assocGroupId: this.assocGroupId,
      secondaryAddress: '',
      results: this.negotiate(body),
    });
  }

  /** One result per proposed context: NDR 2.0 accepted, NDR64 and feature negotiation declined (MS-RPCE 3.3.1.5.3). */
  private negotiate(body: BindBody): ContextResultEntry[] {
    return body.contexts.map((c): ContextResultEntry => {
      const iface = this.interfaces.find((i) => sameSyntax(i.syntax, c.abstractSyntax));
      const feature = c.transferSyntaxes.find((t) => t.uuid.startsWith(BIND_TIME_FEATURE_PREFIX));
      if (feature) {
        // negotiate_ack; the reason field carries the features supported: none.
        return { result: ContextResult.NEGOTIATE_ACK, reason: 0, transferSyntax: ZERO_SYNTAX };
      }
      if (!iface) return { result: ContextResult.PROVIDER_REJECTION, reason: ProviderReason.ABSTRACT_SYNTAX_NOT_SUPPORTED, transferSyntax: ZERO_SYNTAX };
      const ndr = c.transferSyntaxes.find((t) => sameSyntax(t, NDR20_SYNTAX));
      if (!ndr) {
        return { result: ContextResult.PROVIDER_REJECTION, reason: ProviderReason.PROPOSED_TRANSFER_SYNTAXES_NOT_SUPPORTED, transferSyntax: ZERO_SYNTAX };
      }
      this.contexts.set(c.contextId, iface);
      return { result: ContextResult.ACCEPTANCE, reason: 0, transferSyntax: NDR20_SYNTAX };
    });
  }

  private request(header: CommonHeader, body: { contextId: number; opnum: number; stub: Buffer }): Buffer[] {
    if (!this.bound) return [this.fault(header.callId, body.contextId, FaultStatus.PROTO_ERROR)];
    if (header.authLength > 0) {
      this.call = undefined;
      return [this.fault(header.callId, body.contextId, FaultStatus.ACCESS_DENIED)];
    }
    const first = (header.flags & PfcFlags.FIRST_FRAG) !== 0;
    if (first) {
      this.call = { callId: header.callId, contextId: body.contextId, opnum: body.opnum, chunks: [], size: 0 };
    } else if (!this.call || this.call.callId !== header.callId) {
      this.call = undefined;
      return [this.fault(header.callId, body.contextId, FaultStatus.PROTO_ERROR)];
    }
    const call = this.call!;
    call.size += body.stub.length;
    if (call.size > MAX_REQUEST_STUB) {
      this.call = undefined;
      return [this.fault(header.callId, call.contextId, FaultStatus.REMOTE_NO_MEMORY)];
    }
    call.chunks.push(Buffer.from(body.stub));
    if (!(header.flags & PfcFlags.LAST_FRAG)) return [];
    this.call = undefined;
    const iface = this.contexts.get(call.contextId);
    if (!iface) return [this.fault(call.callId, call.contextId, FaultStatus.UNK_IF)];
    const op = iface.operations.get(call.opnum);
    if (!op) return [this.fault(call.callId, call.contextId, FaultStatus.OP_RNG_ERROR)];
    let result: RpcResult;
    try {
      result = op(call.chunks.length === 1 ? call.chunks[0]! : Buffer.concat(call.chunks), this.context);
    } catch (err) {
      if (!(err instanceof WireError)) throw err;
      result = { fault: FaultStatus.BAD_STUB_DATA };
    }
    if (!Buffer.isBuffer(result)) return [this.fault(call.callId, call.contextId, result.fault)];
    return encodeResponseFragments(call.callId, call.contextId, result, this.maxXmitFrag);
  }
}

/** Bytes of responses a pipe holds for a client that does not read them; requests beyond it are refused. */
const MAX_QUEUED_BYTES = 4 << 20;

/** A pipe served by RPC interfaces: each open is one association (srvsvc, wkssvc, lsarpc). */
export function rpcPipeService(name: string, interfaces: readonly RpcInterface[]): PipeService {
  return {
    name,
    builtIn: true,
    admits: () => true,
    open(endpoint: PipeEndpoint, caller: PipeCaller): void {
      const assoc = new RpcAssociation(interfaces, `\\PIPE\\${name}`, caller);
      const backend: PipeBackend = {
        receive(message) {
          if (endpoint.bytesAvailable > MAX_QUEUED_BYTES) return 'full';
          for (const m of assoc.write(message)) endpoint.push(m);
          if (assoc.broken) endpoint.end();
          return 'ok';
        },
        clientClosed() {},
      };
      endpoint.attach(backend);
    },
  };
}
