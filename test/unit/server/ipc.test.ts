import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Status } from '../../../src/protocol/nt-status.js';
import {
  BindNakReason,
  ContextResult,
  decodePdu,
  encodeBind,
  encodeRequest,
  FaultStatus,
  NDR20_SYNTAX,
  NDR64_SYNTAX,
  PduType,
  PfcFlags,
  ProviderReason,
  type Pdu,
} from '../../../src/protocol/rpc/pdu.js';
import {
  decodeNetrServerGetInfoResponse,
  decodeNetrShareEnumResponse,
  decodeNetrShareGetInfoResponse,
  encodeNetrServerGetInfoRequest,
  encodeNetrShareEnumRequest,
  encodeNetrShareGetInfoRequest,
  SRVSVC_SYNTAX,
  SrvsvcOpnum,
} from '../../../src/protocol/rpc/srvsvc.js';
import { WKSSVC_SYNTAX } from '../../../src/protocol/rpc/wkssvc.js';
import { encodeIoctlRequest, decodeIoctlResponse } from '../../../src/protocol/smb2/commands/ioctl.js';
import { decodeReadResponse } from '../../../src/protocol/smb2/commands/read.js';
import { encodeQueryInfoRequest, decodeQueryInfoResponse } from '../../../src/protocol/smb2/commands/query-info.js';
import { Command, Fsctl, InfoType, IoctlFlags } from '../../../src/protocol/smb2/constants.js';
import { FileInfoClass } from '../../../src/protocol/smb2/fscc/file-info.js';
import { PipeEndpoint } from '../../../src/server/ipc/pipe.js';
import { PipeRegistry } from '../../../src/server/ipc/registry.js';
import { RpcAssociation, MAX_REQUEST_STUB, rpcPipeService } from '../../../src/server/ipc/rpc-server.js';
import { builtInPipes, srvsvcInterface, wkssvcInterface, type IpcHost } from '../../../src/server/ipc/services.js';
import { silentLogger } from '../../../src/util/log.js';
import { ipcShare, type ShareDef } from '../../../src/server/shares.js';
import { startTestServer, TEST_PASSWORD, TEST_USER, type RawClient } from '../../support/raw-client.js';
import type { FileId } from '../../../src/protocol/smb2/commands/file-id.js';

const disk = (name: string, comment: string): ShareDef => ({ ...ipcShare(), name, kind: 'disk', comment, readOnly: false });
const HOST: IpcHost = {
  serverName: 'SRV',
  domain: 'WORKGROUP',
  machineSid: 'S-1-5-21-1-2-3',
  listShares: () => [ipcShare(), disk('data', 'Data share')],
  findUser: () => undefined,
  userNames: () => [],
};
const USER = { user: 'u', domain: 'WORKGROUP', anonymous: false, guest: false, address: '127.0.0.1' };
const ANON = { user: '', domain: '', anonymous: true, guest: false, address: '127.0.0.1' };

function association(caller = USER): RpcAssociation {
  return new RpcAssociation([srvsvcInterface(HOST), wkssvcInterface(HOST)], '\\PIPE\\srvsvc', caller);
}

const bindPdu = (contexts = [{ contextId: 0, abstractSyntax: SRVSVC_SYNTAX, transferSyntaxes: [NDR20_SYNTAX] }], maxFrag = 4280) =>
  encodeBind(PduType.BIND, 1, { maxXmitFrag: maxFrag, maxRecvFrag: maxFrag, assocGroupId: 0, contexts });

function only(out: Buffer[]): Pdu {
  assert.equal(out.length, 1);
  return decodePdu(out[0]!);
}

function faultStatus(p: Pdu): number {
  assert.equal(p.type, PduType.FAULT);
  return p.type === PduType.FAULT ? p.body.status : -1;
}

/** The stub of a (possibly fragmented) response. */
function responseStub(out: Buffer[]): Buffer {
  const parts = out.map((b) => decodePdu(b));
  for (const p of parts) assert.equal(p.type, PduType.RESPONSE, `got ${JSON.stringify(p.header)}`);
  return Buffer.concat(parts.map((p) => (p.type === PduType.RESPONSE ? p.body.stub : Buffer.alloc(0))));
}

test('pipe names are case-insensitive, with or without a leading backslash', () => {
  const pipes = new PipeRegistry(silentLogger, builtInPipes(HOST));
  assert.equal(pipes.lookup('srvsvc')?.name, 'srvsvc');
  assert.equal(pipes.lookup('\\SRVSVC')?.name, 'srvsvc');
  assert.equal(pipes.lookup('WksSvc')?.name, 'wkssvc');
  assert.equal(pipes.lookup('nosuchpipe'), undefined);
  assert.equal(pipes.lookup('srvsvc\\x'), undefined);
});

test('bind: NDR 2.0 accepted, NDR64 and unknown interfaces rejected, feature negotiation acknowledged', () => {
  const a = association();
  const ack = only(a.write(bindPdu([
    { contextId: 0, abstractSyntax: SRVSVC_SYNTAX, transferSyntaxes: [NDR20_SYNTAX] },
    { contextId: 1, abstractSyntax: SRVSVC_SYNTAX, transferSyntaxes: [NDR64_SYNTAX] },
    { contextId: 2, abstractSyntax: SRVSVC_SYNTAX, transferSyntaxes: [{ uuid: '6cb71c2c-9812-4540-0300-000000000000', version: 1 }] },
    { contextId: 3, abstractSyntax: { uuid: '12345778-1234-abcd-ef00-0123456789ab', version: 0 }, transferSyntaxes: [NDR20_SYNTAX] },
  ])));
  assert.equal(ack.type, PduType.BIND_ACK);
  if (ack.type !== PduType.BIND_ACK) return;
  assert.equal(ack.body.secondaryAddress, '\\PIPE\\srvsvc');
  assert.notEqual(ack.body.assocGroupId, 0);
  assert.deepEqual(ack.body.results.map((r) => [r.result, r.reason]), [
    [ContextResult.ACCEPTANCE, 0],
    [ContextResult.PROVIDER_REJECTION, ProviderReason.PROPOSED_TRANSFER_SYNTAXES_NOT_SUPPORTED],
    [ContextResult.NEGOTIATE_ACK, 0],
    [ContextResult.PROVIDER_REJECTION, ProviderReason.ABSTRACT_SYNTAX_NOT_SUPPORTED],
  ]);
  assert.deepEqual(ack.body.results[0]?.transferSyntax, NDR20_SYNTAX);
  // A second bind on the same association is refused.
  const nak = only(a.write(bindPdu()));
  assert.equal(nak.type, PduType.BIND_NAK);
});

test('bind_nak for fragments below the minimum size and for bind authentication', () => {
  const small = only(association().write(bindPdu(undefined, 1000)));
  assert.equal(small.type, PduType.BIND_NAK);
  const withAuth = Buffer.concat([bindPdu(), Buffer.alloc(16)]);
  withAuth.writeUInt16LE(withAuth.length, 8);
  withAuth.writeUInt16LE(8, 10);
  const nak = only(association().write(withAuth));
  assert.equal(nak.type, PduType.BIND_NAK);
  if (nak.type === PduType.BIND_NAK) assert.equal(nak.body.reason, BindNakReason.AUTHENTICATION_TYPE_NOT_RECOGNIZED);
});

test('requests: faults for unbound contexts, unknown opnums, bad stubs, and requests before bind', () => {
  assert.equal(faultStatus(only(association().write(encodeRequest(2, { allocHint: 0, contextId: 0, opnum: 15, stub: Buffer.alloc(0) })))), FaultStatus.PROTO_ERROR);
  const a = association();
  a.write(bindPdu());
  assert.equal(faultStatus(only(a.write(encodeRequest(2, { allocHint: 0, contextId: 5, opnum: 15, stub: Buffer.alloc(0) })))), FaultStatus.UNK_IF);
  assert.equal(faultStatus(only(a.write(encodeRequest(3, { allocHint: 0, contextId: 0, opnum: 99, stub: Buffer.alloc(0) })))), FaultStatus.OP_RNG_ERROR);
  assert.equal(faultStatus(only(a.write(encodeRequest(4, { allocHint: 0, contextId: 0, opnum: 15, stub: Buffer.from([1, 2, 3]) })))), FaultStatus.BAD_STUB_DATA);
  const fault = only(a.write(encodeRequest(5, { allocHint: 0, contextId: 0, opnum: 99, stub: Buffer.alloc(0) })));
  assert.ok(fault.header.flags & PfcFlags.DID_NOT_EXECUTE);
  assert.equal(fault.header.callId, 5);
});

test('NetrShareEnum level 1 through the association, with fragmented request and response', () => {
  const a = association();
  a.write(bindPdu(undefined, 1432));
  const stub = encodeNetrShareEnumRequest({ serverName: '\\\\127.0.0.1', level: 1, shares: undefined, preferedMaximumLength: 0xffffffff, resumeHandle: 0 });
  // Three request fragments, as a client with a tiny max_xmit_frag would send.
  const cuts = [0, 8, 16, stub.length];
  const out: Buffer[] = [];
  for (let i = 0; i < 3; i++) {
    const flags = (i === 0 ? PfcFlags.FIRST_FRAG : 0) | (i === 2 ? PfcFlags.LAST_FRAG : 0);
    out.push(...a.write(encodeRequest(7, { allocHint: stub.length, contextId: 0, opnum: SrvsvcOpnum.NetrShareEnum, stub: stub.subarray(cuts[i], cuts[i + 1]) }, flags)));
  }
  const res = decodeNetrShareEnumResponse(responseStub(out));
  assert.equal(res.status, 0);
  assert.deepEqual(res.shares?.map((s) => [s.netname, s.type, s.remark]), [['IPC$', 0x80000003, 'IPC Service'], ['data', 0, 'Data share']]);
});

test('large responses are fragmented at the bound max_recv_frag', () => {
  const many: ShareDef[] = Array.from({ length: 200 }, (_, i) => disk(`share${i}`, `comment number ${i}`));
  const a = new RpcAssociation([srvsvcInterface({ ...HOST, listShares: () => many })], '\\PIPE\\srvsvc', USER);
  a.write(bindPdu(undefined, 1432));
  const stub = encodeNetrShareEnumRequest({ serverName: undefined, level: 1, shares: undefined, preferedMaximumLength: 0xffffffff, resumeHandle: undefined });
  const out = a.write(encodeRequest(2, { allocHint: stub.length, contextId: 0, opnum: 15, stub }));
  assert.ok(out.length > 3);
  for (const f of out) assert.ok(f.length <= 1432);
  assert.equal(decodeNetrShareEnumResponse(responseStub(out)).shares?.length, 200);
});

test('a fragment flood past the reassembly cap gets a fault; a broken header breaks the association', () => {
  const a = association();
  a.write(bindPdu());
  const piece = Buffer.alloc(4000);
  let fault: Pdu | undefined;
  for (let i = 0; i * piece.length <= MAX_REQUEST_STUB + piece.length && !fault; i++) {
    const out = a.write(encodeRequest(9, { allocHint: 0, contextId: 0, opnum: 15, stub: piece }, i === 0 ? PfcFlags.FIRST_FRAG : 0));
    if (out.length > 0) fault = only(out);
  }
  assert.ok(fault, 'no fault for an oversized call');
  assert.equal(faultStatus(fault), FaultStatus.REMOTE_NO_MEMORY);
  // A continuation of a call that was dropped is a protocol error.
  assert.equal(faultStatus(only(a.write(encodeRequest(9, { allocHint: 0, contextId: 0, opnum: 15, stub: piece }, PfcFlags.LAST_FRAG)))), FaultStatus.PROTO_ERROR);
  const garbage = Buffer.alloc(16, 0xff);
  assert.deepEqual(a.write(garbage), []);
  assert.equal(a.broken, true);
});

test('srvsvc levels: 2 for users, denied to anonymous; GetInfo of unknown share; ServerGetInfo; sticky without IPC$', () => {
  const call = (caller: typeof USER, opnum: number, stub: Buffer) => {
    const a = association(caller);
    a.write(bindPdu());
    return responseStub(a.write(encodeRequest(2, { allocHint: stub.length, contextId: 0, opnum, stub })));
  };
  const enumReq = (level: number) => encodeNetrShareEnumRequest({ serverName: undefined, level, shares: undefined, preferedMaximumLength: 0xffffffff, resumeHandle: 0 });
  assert.equal(decodeNetrShareEnumResponse(call(USER, 15, enumReq(2))).shares?.length, 2);
  assert.equal(decodeNetrShareEnumResponse(call(ANON, 15, enumReq(2))).status, 5);
  assert.equal(decodeNetrShareEnumResponse(call(ANON, 15, enumReq(7))).status, 124);
  assert.deepEqual(decodeNetrShareEnumResponse(call(USER, 36, enumReq(1))).shares?.map((s) => s.netname), ['data']);
  const get = (name: string, level: number) => decodeNetrShareGetInfoResponse(call(USER, 16, encodeNetrShareGetInfoRequest({ serverName: undefined, netName: name, level })));
  assert.equal(get('DATA', 1).share?.remark, 'Data share');
  assert.equal(get('ipc$', 501).share?.type, 0x80000003);
  assert.equal(get('nope', 1).status, 2310);
  const srv = decodeNetrServerGetInfoResponse(call(USER, 21, encodeNetrServerGetInfoRequest({ serverName: undefined, level: 101 })));
  assert.equal(srv.info?.name, 'SRV');
  assert.equal(srv.info?.platformId, 500);
});

test('alter_context adds a context after the bind; before a bind it is a fault', () => {
  const a = association();
  a.write(bindPdu());
  const resp = only(a.write(encodeBind(PduType.ALTER_CONTEXT, 2, { maxXmitFrag: 4280, maxRecvFrag: 4280, assocGroupId: 0, contexts: [{ contextId: 1, abstractSyntax: WKSSVC_SYNTAX, transferSyntaxes: [NDR20_SYNTAX] }] })));
  assert.equal(resp.type, PduType.ALTER_CONTEXT_RESP);
  if (resp.type === PduType.ALTER_CONTEXT_RESP) {
    assert.equal(resp.body.secondaryAddress, '');
    assert.equal(resp.body.results[0]?.result, ContextResult.ACCEPTANCE);
  }
  const stub = Buffer.from('0000000064000000', 'hex'); // NULL server name, level 100
  const out = a.write(encodeRequest(3, { allocHint: stub.length, contextId: 1, opnum: 0, stub }));
  assert.equal(decodePdu(out[0]!).type, PduType.RESPONSE);
  const fresh = association();
  assert.equal(faultStatus(only(fresh.write(encodeBind(PduType.ALTER_CONTEXT, 2, { maxXmitFrag: 4280, maxRecvFrag: 4280, assocGroupId: 0, contexts: [] })))), FaultStatus.PROTO_ERROR);
});

test('wkssvc binds on its own syntax', () => {
  const a = association();
  const ack = only(a.write(bindPdu([{ contextId: 0, abstractSyntax: WKSSVC_SYNTAX, transferSyntaxes: [NDR20_SYNTAX] }])));
  assert.equal(ack.type === PduType.BIND_ACK && ack.body.results[0]?.result, ContextResult.ACCEPTANCE);
});

test('PipeEndpoint: message reads, partial reads, close wakes readers', () => {
  const p = new PipeEndpoint('srvsvc');
  rpcPipeService('srvsvc', [srvsvcInterface(HOST)]).open(p, USER);
  assert.equal(p.write(bindPdu()), 'ok');
  const len = p.headLength;
  const first = p.read(10);
  assert.deepEqual([first?.data.length, first?.more], [10, true]);
  const rest = p.read(4096);
  assert.deepEqual([rest?.data.length, rest?.more], [len - 10, false]);
  assert.equal(p.read(10), undefined);
  let woke = false;
  p.onReadable(() => (woke = true));
  p.close();
  assert.equal(woke, true);
  assert.equal(p.write(bindPdu()), 'broken');
});

// ---- over SMB2 ----

const SRVSVC_BIND = bindPdu();

async function ipcLogin(anonymous = false): Promise<{ c: RawClient; stop: () => Promise<void> }> {
  const ts = await startTestServer({ shares: [], allowAnonymous: true });
  const c = await ts.connect();
  await c.negotiate();
  const ss = anonymous ? await c.sessionSetup('', '') : await c.sessionSetup(TEST_USER, TEST_PASSWORD);
  assert.equal(ss.status, Status.SUCCESS);
  const tc = await c.treeConnect('\\\\127.0.0.1\\IPC$');
  assert.equal(tc.status, Status.SUCCESS);
  return { c, stop: () => ts.stop() };
}

async function transceive(c: RawClient, fileId: FileId, input: Buffer, maxOutputResponse = 4280) {
  const res = await c.request(Command.IOCTL, (w) =>
    encodeIoctlRequest(w, { ctlCode: Fsctl.PIPE_TRANSCEIVE, fileId, input, maxInputResponse: 0, output: Buffer.alloc(0), maxOutputResponse, flags: IoctlFlags.IS_FSCTL }),
  );
  return { status: res.status, output: res.status === Status.SUCCESS || res.status === Status.BUFFER_OVERFLOW ? decodeIoctlResponse(res.body).output : Buffer.alloc(0) };
}

test('raw client: bind + NetrShareEnum level 1 over write/read on \\srvsvc', async () => {
  const { c, stop } = await ipcLogin();
  try {
    assert.equal((await c.create('nosuchpipe')).status, Status.OBJECT_NAME_NOT_FOUND);
    const open = await c.create('\\SRVSVC');
    assert.equal(open.status, Status.SUCCESS);
    assert.equal((await c.write(open.fileId, 0, SRVSVC_BIND)).count, SRVSVC_BIND.length);
    const ack = await c.read(open.fileId, 0, 4280);
    assert.equal(ack.status, Status.SUCCESS);
    assert.equal(decodePdu(ack.data).type, PduType.BIND_ACK);
    const stub = encodeNetrShareEnumRequest({ serverName: '\\\\127.0.0.1', level: 1, shares: undefined, preferedMaximumLength: 0xffffffff, resumeHandle: 0 });
    await c.write(open.fileId, 0, encodeRequest(2, { allocHint: stub.length, contextId: 0, opnum: 15, stub }));
    // A read smaller than the message: BUFFER_OVERFLOW with the first bytes, the rest on the next read.
    const head = await c.read(open.fileId, 0, 20);
    assert.equal(head.status, Status.BUFFER_OVERFLOW);
    const headData = decodeReadResponse(head.response.body).data;
    assert.equal(headData.length, 20);
    const tail = await c.read(open.fileId, 0, 4280);
    assert.equal(tail.status, Status.SUCCESS);
    const res = decodeNetrShareEnumResponse(responseStub([Buffer.concat([headData, tail.data])]));
    assert.deepEqual(res.shares?.map((s) => [s.netname, s.type]), [['IPC$', 0x80000003]]);
    assert.equal((await c.close(open.fileId)).status, Status.SUCCESS);
  } finally {
    await stop();
  }
});

test('raw client (anonymous): transceive, pipe info classes, pending read completes on close', async () => {
  const { c, stop } = await ipcLogin(true);
  try {
    const open = await c.create('srvsvc');
    assert.equal(open.status, Status.SUCCESS);
    const ack = await transceive(c, open.fileId, SRVSVC_BIND);
    assert.equal(ack.status, Status.SUCCESS);
    assert.equal(decodePdu(ack.output).type, PduType.BIND_ACK);
    const stub = encodeNetrShareEnumRequest({ serverName: undefined, level: 1, shares: undefined, preferedMaximumLength: 0xffffffff, resumeHandle: 0 });
    const small = await transceive(c, open.fileId, encodeRequest(2, { allocHint: stub.length, contextId: 0, opnum: 15, stub }), 24);
    assert.equal(small.status, Status.BUFFER_OVERFLOW);
    const rest = await c.read(open.fileId, 0, 4280);
    assert.equal(rest.status, Status.SUCCESS);
    assert.equal(decodeNetrShareEnumResponse(responseStub([Buffer.concat([small.output, rest.data])])).status, 0);

    const query = async (infoClass: number) => {
      const r = await c.request(Command.QUERY_INFO, (w) =>
        encodeQueryInfoRequest(w, { infoType: InfoType.FILE, fileInfoClass: infoClass, outputBufferLength: 1024, additionalInformation: 0, flags: 0, fileId: open.fileId, inputBuffer: Buffer.alloc(0) }),
      );
      return { status: r.status, data: r.status === Status.SUCCESS ? decodeQueryInfoResponse(r.body).outputBuffer : Buffer.alloc(0) };
    };
    const pipeInfo = await query(FileInfoClass.FilePipeInformation);
    assert.deepEqual([pipeInfo.data.readUInt32LE(0), pipeInfo.data.readUInt32LE(4)], [1, 0]);
    const local = await query(FileInfoClass.FilePipeLocalInformation);
    assert.equal(local.data.length, 40);
    assert.equal(local.data.readUInt32LE(0), 1); // message type
    assert.equal(local.data.readUInt32LE(32), 3); // connected
    const std = await query(FileInfoClass.FileStandardInformation);
    assert.equal(std.data.readBigUInt64LE(0), 4096n);

    // A read with nothing queued goes async and ends with PIPE_BROKEN when the handle closes.
    const pending = c.start(Command.READ, (w) =>
      w.u16(49).u8(0x50).u8(0).u32(100).u64(0n).u64(open.fileId.persistent).u64(open.fileId.volatile).u32(0).u32(0).u32(0).u16(0).u16(0).u8(0),
    );
    const interim = await pending.interim;
    assert.equal(interim.status, Status.PENDING);
    assert.equal((await c.close(open.fileId)).status, Status.SUCCESS);
    assert.equal((await pending.final).status, Status.PIPE_BROKEN);
  } finally {
    await stop();
  }
});

test('null sessions are refused unless the server allows anonymous logons', async () => {
  const ts = await startTestServer({ shares: [] });
  try {
    const c = await ts.connect();
    await c.negotiate();
    assert.equal((await c.sessionSetup('', '')).status, Status.LOGON_FAILURE);
    // Real users are unaffected.
    const c2 = await ts.connect();
    await c2.negotiate();
    assert.equal((await c2.sessionSetup(TEST_USER, TEST_PASSWORD)).status, Status.SUCCESS);
  } finally {
    await ts.stop();
  }
});
