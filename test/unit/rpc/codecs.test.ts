import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WireError } from '../../../src/errors.js';
import { NdrReader, NdrWriter } from '../../../src/protocol/rpc/ndr.js';
import {
  ContextResult,
  decodePdu,
  encodeBind,
  encodeBindAck,
  encodeBindNak,
  encodeFault,
  encodeRequest,
  encodeResponseFragments,
  FaultStatus,
  NDR20_SYNTAX,
  NDR64_SYNTAX,
  PduType,
  PfcFlags,
  ProviderReason,
} from '../../../src/protocol/rpc/pdu.js';
import {
  decodeNetrServerGetInfoRequest,
  decodeNetrServerGetInfoResponse,
  decodeNetrShareEnumRequest,
  decodeNetrShareEnumResponse,
  decodeNetrShareGetInfoRequest,
  decodeNetrShareGetInfoResponse,
  encodeNetrServerGetInfoRequest,
  encodeNetrServerGetInfoResponse,
  encodeNetrShareEnumRequest,
  encodeNetrShareEnumResponse,
  encodeNetrShareGetInfoRequest,
  encodeNetrShareGetInfoResponse,
  shareInfo,
  SRVSVC_SYNTAX,
  StypeFlags,
  WinError,
  type ServerInfo,
} from '../../../src/protocol/rpc/srvsvc.js';
import { decodeNetrWkstaGetInfoRequest, decodeNetrWkstaGetInfoResponse, encodeNetrWkstaGetInfoRequest, encodeNetrWkstaGetInfoResponse } from '../../../src/protocol/rpc/wkssvc.js';

test('bind round trip, with the srvsvc abstract syntax and NDR 2.0 in wire order', () => {
  const buf = encodeBind(PduType.BIND, 7, {
    maxXmitFrag: 4280,
    maxRecvFrag: 4280,
    assocGroupId: 0,
    contexts: [{ contextId: 0, abstractSyntax: SRVSVC_SYNTAX, transferSyntaxes: [NDR20_SYNTAX] }],
  });
  assert.equal(buf.length, 72);
  assert.deepEqual([...buf.subarray(0, 4)], [5, 0, 11, 3]);
  assert.equal(buf.readUInt32LE(4), 0x10);
  assert.equal(buf.readUInt16LE(8), 72);
  // The UUID's first fields are little-endian on the wire: c8 4f 32 4b ...
  assert.equal(buf.subarray(32, 36).toString('hex'), 'c84f324b');
  assert.equal(buf.readUInt32LE(48), 3); // version 3.0
  const pdu = decodePdu(buf);
  assert.equal(pdu.type, PduType.BIND);
  if (pdu.type !== PduType.BIND) return;
  assert.equal(pdu.header.callId, 7);
  assert.deepEqual(pdu.body.contexts[0]?.abstractSyntax, SRVSVC_SYNTAX);
  assert.deepEqual(pdu.body.contexts[0]?.transferSyntaxes, [NDR20_SYNTAX]);
});

test('bind_ack: secondary address with its NUL, padded to 4 before the results', () => {
  const buf = encodeBindAck(PduType.BIND_ACK, 1, {
    maxXmitFrag: 4280,
    maxRecvFrag: 4280,
    assocGroupId: 0x1234,
    secondaryAddress: '\\PIPE\\srvsvc',
    results: [
      { result: ContextResult.ACCEPTANCE, reason: 0, transferSyntax: NDR20_SYNTAX },
      { result: ContextResult.PROVIDER_REJECTION, reason: ProviderReason.PROPOSED_TRANSFER_SYNTAXES_NOT_SUPPORTED, transferSyntax: { uuid: '00000000-0000-0000-0000-000000000000', version: 0 } },
    ],
  });
  assert.equal(buf.readUInt16LE(24), 13); // "\PIPE\srvsvc" + NUL
  assert.equal(buf.readUInt8(40), 2); // 26 + 13 = 39, padded to 40
  const pdu = decodePdu(buf);
  assert.equal(pdu.type, PduType.BIND_ACK);
  if (pdu.type !== PduType.BIND_ACK) return;
  assert.equal(pdu.body.secondaryAddress, '\\PIPE\\srvsvc');
  assert.equal(pdu.body.assocGroupId, 0x1234);
  assert.equal(pdu.body.results[1]?.reason, ProviderReason.PROPOSED_TRANSFER_SYNTAXES_NOT_SUPPORTED);
});

test('bind_nak, fault and request round trips', () => {
  const nak = decodePdu(encodeBindNak(3, { reason: 8, versions: [[5, 0]] }));
  assert.equal(nak.type, PduType.BIND_NAK);
  if (nak.type === PduType.BIND_NAK) assert.deepEqual(nak.body, { reason: 8, versions: [[5, 0]] });
  const faultBuf = encodeFault(4, { allocHint: 32, contextId: 1, cancelCount: 0, status: FaultStatus.OP_RNG_ERROR });
  assert.equal(faultBuf.length, 32);
  const fault = decodePdu(faultBuf);
  assert.equal(fault.type, PduType.FAULT);
  if (fault.type === PduType.FAULT) assert.equal(fault.body.status, 0x1c010002);
  const req = decodePdu(encodeRequest(5, { allocHint: 3, contextId: 2, opnum: 15, stub: Buffer.from([1, 2, 3]), object: '11111111-2222-3333-4444-555555555555' }));
  assert.equal(req.type, PduType.REQUEST);
  if (req.type !== PduType.REQUEST) return;
  assert.equal(req.body.opnum, 15);
  assert.equal(req.body.object, '11111111-2222-3333-4444-555555555555');
  assert.deepEqual([...req.body.stub], [1, 2, 3]);
});

test('responses are fragmented at the negotiated size with 8-byte multiples and FIRST/LAST flags', () => {
  const stub = Buffer.alloc(10_000, 0xab);
  const frags = encodeResponseFragments(9, 0, stub, 1432);
  assert.ok(frags.length > 1);
  let joined = Buffer.alloc(0);
  frags.forEach((f, i) => {
    assert.ok(f.length <= 1432);
    const p = decodePdu(f);
    assert.equal(p.type, PduType.RESPONSE);
    if (p.type !== PduType.RESPONSE) return;
    assert.equal((p.header.flags & PfcFlags.FIRST_FRAG) !== 0, i === 0);
    assert.equal((p.header.flags & PfcFlags.LAST_FRAG) !== 0, i === frags.length - 1);
    if (i < frags.length - 1) assert.equal(p.body.stub.length % 8, 0);
    assert.equal(p.body.allocHint, stub.length - joined.length);
    joined = Buffer.concat([joined, p.body.stub]);
  });
  assert.deepEqual(joined, stub);
  assert.equal(encodeResponseFragments(1, 0, Buffer.alloc(0), 1432).length, 1);
});

test('malformed PDU headers are WireErrors', () => {
  const good = encodeBind(PduType.BIND, 1, { maxXmitFrag: 4280, maxRecvFrag: 4280, assocGroupId: 0, contexts: [{ contextId: 0, abstractSyntax: SRVSVC_SYNTAX, transferSyntaxes: [NDR64_SYNTAX] }] });
  const bad = (f: (b: Buffer) => void) => {
    const b = Buffer.from(good);
    f(b);
    assert.throws(() => decodePdu(b), WireError);
  };
  bad((b) => (b[0] = 4)); // version
  bad((b) => b.writeUInt32LE(0, 4)); // big-endian drep
  bad((b) => b.writeUInt16LE(200, 8)); // frag_length past the buffer
  bad((b) => b.writeUInt16LE(60, 10)); // auth_length past the fragment
  bad((b) => (b[24] = 9)); // more contexts than bytes
  assert.throws(() => decodePdu(good.subarray(0, 10)), WireError);
});

test('NDR: alignment, unique pointers and deferred pointees in order', () => {
  const n = new NdrWriter();
  n.top(() => {
    n.u8(1);
    n.u32(2); // aligned to 4
    n.stringPointer('ab');
    n.stringPointer(null);
    n.stringPointer('c');
  });
  const buf = n.finish();
  // u8, 3 pad, u32, 3 pointers, then "ab" (12 + 6 bytes), pad 2, "c" (12 + 4 bytes)
  assert.equal(buf.readUInt32LE(4), 2);
  assert.equal(buf.readUInt32LE(8), 0x20000);
  assert.equal(buf.readUInt32LE(12), 0);
  assert.equal(buf.readUInt32LE(16), 0x20004);
  assert.equal(buf.readUInt32LE(20), 3); // max_count of "ab\0"
  assert.equal(buf.subarray(32, 38).toString('utf16le'), 'ab\0');
  assert.equal(buf.readUInt32LE(40), 2); // "c\0" after 2 pad bytes
  const r = new NdrReader(buf);
  const got: string[] = [];
  r.top(() => {
    assert.equal(r.u8(), 1);
    assert.equal(r.u32(), 2);
    r.stringPointer((s) => got.push(s));
    assert.equal(r.stringPointer(() => got.push('never')), false);
    r.stringPointer((s) => got.push(s));
  });
  assert.deepEqual(got, ['ab', 'c']);
  assert.equal(r.remaining, 0);
});

test('NDR: a string with bad bounds or an oversized array is a WireError', () => {
  const w = new NdrWriter();
  w.u32(2).u32(0).u32(3); // actual > max
  assert.throws(() => new NdrReader(w.finish()).string(), WireError);
  const a = new NdrWriter();
  a.u32(0x7fffffff);
  assert.throws(() => new NdrReader(a.finish()).array(4, () => 0), WireError);
});

const SHARES = [
  shareInfo({ netname: 'IPC$', type: (StypeFlags.IPC | StypeFlags.SPECIAL) >>> 0, remark: 'IPC Service' }),
  shareInfo({ netname: 'data', type: StypeFlags.DISKTREE, remark: 'Project data', path: 'C:\\data' }),
];

test('NetrShareEnum request and response round trips at every level', () => {
  const req = encodeNetrShareEnumRequest({ serverName: '\\\\srv', level: 1, shares: undefined, preferedMaximumLength: 0xffffffff, resumeHandle: 0 });
  assert.deepEqual(decodeNetrShareEnumRequest(req), { serverName: '\\\\srv', level: 1, shares: [], preferedMaximumLength: 0xffffffff, resumeHandle: 0 });
  for (const level of [0, 1, 2, 501, 502]) {
    const res = decodeNetrShareEnumResponse(encodeNetrShareEnumResponse({ level, shares: SHARES, totalEntries: 2, resumeHandle: 0, status: 0 }));
    assert.equal(res.level, level);
    assert.equal(res.totalEntries, 2);
    assert.equal(res.status, 0);
    assert.deepEqual(res.shares?.map((s) => s.netname), ['IPC$', 'data']);
    if (level !== 0) assert.deepEqual(res.shares?.map((s) => [s.type, s.remark]), [[0x80000003, 'IPC Service'], [0, 'Project data']]);
    if (level === 2 || level === 502) assert.equal(res.shares?.[1]?.path, 'C:\\data');
  }
  const denied = decodeNetrShareEnumResponse(encodeNetrShareEnumResponse({ level: 2, shares: undefined, totalEntries: 0, resumeHandle: undefined, status: WinError.ACCESS_DENIED }));
  assert.deepEqual(denied, { level: 2, shares: undefined, totalEntries: 0, resumeHandle: undefined, status: 5 });
});

test('NetrShareEnum level 1 response matches the NDR layout byte for byte', () => {
  const stub = encodeNetrShareEnumResponse({ level: 1, shares: [SHARES[1]!], totalEntries: 1, resumeHandle: 0, status: 0 });
  const words = (from: number, n: number) => Array.from({ length: n }, (_, i) => stub.readUInt32LE(from + i * 4));
  // level, tag, container ptr, count, array ptr, max_count, [netname ptr, type, remark ptr]
  assert.deepEqual(words(0, 9), [1, 1, 0x20000, 1, 0x20004, 1, 0x20008, 0, 0x2000c]);
  assert.deepEqual(words(36, 3), [5, 0, 5]); // "data\0"
  assert.equal(stub.subarray(48, 58).toString('utf16le'), 'data\0');
  assert.deepEqual(words(60, 3), [13, 0, 13]); // "Project data\0"
  const tail = stub.subarray(stub.length - 16);
  assert.deepEqual([tail.readUInt32LE(0), tail.readUInt32LE(4), tail.readUInt32LE(8), tail.readUInt32LE(12)], [1, 0x20010, 0, 0]);
});

test('NetrShareGetInfo and NetrServerGetInfo round trips', () => {
  assert.deepEqual(decodeNetrShareGetInfoRequest(encodeNetrShareGetInfoRequest({ serverName: undefined, netName: 'data', level: 501 })), { serverName: undefined, netName: 'data', level: 501 });
  const share = decodeNetrShareGetInfoResponse(encodeNetrShareGetInfoResponse({ level: 501, share: SHARES[1], status: 0 }));
  assert.equal(share.share?.netname, 'data');
  assert.equal(share.share?.remark, 'Project data');
  const missing = decodeNetrShareGetInfoResponse(encodeNetrShareGetInfoResponse({ level: 1, share: undefined, status: WinError.NERR_NET_NAME_NOT_FOUND }));
  assert.deepEqual(missing, { level: 1, share: undefined, status: 2310 });

  assert.deepEqual(decodeNetrServerGetInfoRequest(encodeNetrServerGetInfoRequest({ serverName: 'x', level: 101 })), { serverName: 'x', level: 101 });
  const info: ServerInfo = { platformId: 500, name: 'SRV', versionMajor: 10, versionMinor: 0, type: 0x8003, comment: 'c', users: 1, disc: -1, hidden: 0, announce: 240, anndelta: 3000, licenses: 0, userpath: 'C:\\' };
  for (const level of [100, 101, 102]) {
    const got = decodeNetrServerGetInfoResponse(encodeNetrServerGetInfoResponse({ level, info, status: 0 }));
    assert.equal(got.info?.name, 'SRV');
    if (level >= 101) assert.equal(got.info?.comment, 'c');
    if (level === 102) assert.deepEqual(got.info, info);
  }
});

test('NetrWkstaGetInfo round trip', () => {
  assert.deepEqual(decodeNetrWkstaGetInfoRequest(encodeNetrWkstaGetInfoRequest({ serverName: undefined, level: 100 })), { serverName: undefined, level: 100 });
  const info = { platformId: 500, computerName: 'SRV', langroup: 'WORKGROUP', versionMajor: 10, versionMinor: 0 };
  assert.deepEqual(decodeNetrWkstaGetInfoResponse(encodeNetrWkstaGetInfoResponse({ level: 100, info, status: 0 })), { level: 100, info, status: 0 });
});
