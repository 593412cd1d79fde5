import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { WireError } from '../../src/errors.js';
import { decodePdu, encodeBind, encodeRequest, NDR20_SYNTAX, PduType } from '../../src/protocol/rpc/pdu.js';
import {
  decodeNetrServerGetInfoRequest,
  decodeNetrShareEnumRequest,
  decodeNetrShareEnumResponse,
  decodeNetrShareGetInfoRequest,
  decodeNetrShareGetInfoResponse,
  encodeNetrShareEnumRequest,
  encodeNetrShareEnumResponse,
  encodeNetrShareGetInfoRequest,
  shareInfo,
  SRVSVC_SYNTAX,
} from '../../src/protocol/rpc/srvsvc.js';
import { decodeNetrWkstaGetInfoRequest } from '../../src/protocol/rpc/wkssvc.js';
import { RpcAssociation } from '../../src/server/ipc/rpc-server.js';
import { srvsvcInterface, wkssvcInterface } from '../../src/server/ipc/services.js';
import { ipcShare } from '../../src/server/shares.js';

const NUM_RUNS = 400;

function onlyWireErrors(f: () => unknown): void {
  try {
    f();
  } catch (err) {
    if (!(err instanceof WireError)) throw err;
  }
}

/** A valid encoding with a few bytes changed, maybe truncated or extended. */
function mutated(seed: Buffer, from = 0): fc.Arbitrary<Buffer> {
  return fc
    .record({
      edits: fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 6 }),
      cut: fc.option(fc.nat(), { nil: undefined }),
      extra: fc.uint8Array({ maxLength: 16 }),
    })
    .map(({ edits, cut, extra }) => {
      const b = Buffer.concat([seed, Buffer.from(extra)]);
      for (const e of edits) b[from + (e.at % Math.max(1, b.length - from))] = e.value;
      return cut === undefined ? b : b.subarray(0, cut % (b.length + 1));
    });
}

const BIND = encodeBind(PduType.BIND, 1, { maxXmitFrag: 4280, maxRecvFrag: 4280, assocGroupId: 0, contexts: [{ contextId: 0, abstractSyntax: SRVSVC_SYNTAX, transferSyntaxes: [NDR20_SYNTAX] }] });
const ENUM_STUB = encodeNetrShareEnumRequest({ serverName: '\\\\srv', level: 1, shares: [shareInfo({ netname: 'a', remark: 'b' })], preferedMaximumLength: 0xffffffff, resumeHandle: 0 });
const ENUM_RESPONSE = encodeNetrShareEnumResponse({ level: 502, shares: [shareInfo({ netname: 'IPC$', remark: 'IPC Service' }), shareInfo({ netname: 'x', path: 'p' })], totalEntries: 2, resumeHandle: 0, status: 0 });
const GETINFO_STUB = encodeNetrShareGetInfoRequest({ serverName: undefined, netName: 'data', level: 1 });
const REQUEST = encodeRequest(2, { allocHint: ENUM_STUB.length, contextId: 0, opnum: 15, stub: ENUM_STUB });

test('PDU decoding of mutated and random bytes throws only WireError', () => {
  for (const seed of [BIND, REQUEST]) fc.assert(fc.property(mutated(seed), (b) => onlyWireErrors(() => decodePdu(b))), { numRuns: NUM_RUNS });
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => onlyWireErrors(() => decodePdu(Buffer.from(b)))), { numRuns: NUM_RUNS });
});

test('srvsvc and wkssvc stub decoders throw only WireError on mutated stubs', () => {
  const decoders: [(b: Buffer) => unknown, Buffer][] = [
    [decodeNetrShareEnumRequest, ENUM_STUB],
    [decodeNetrShareEnumResponse, ENUM_RESPONSE],
    [decodeNetrShareGetInfoRequest, GETINFO_STUB],
    [decodeNetrShareGetInfoResponse, ENUM_RESPONSE],
    [decodeNetrServerGetInfoRequest, GETINFO_STUB],
    [decodeNetrWkstaGetInfoRequest, GETINFO_STUB],
  ];
  for (const [decode, seed] of decoders) {
    fc.assert(fc.property(mutated(seed), (b) => onlyWireErrors(() => decode(b))), { numRuns: NUM_RUNS });
  }
});

test('the RPC association never throws on any byte sequence: faults, bind_naks or a broken pipe', () => {
  const host = { serverName: 'SRV', domain: 'WG', machineSid: 'S-1-5-21-1-2-3', listShares: () => [ipcShare()], findUser: () => undefined, userNames: () => [] };
  const chunks = fc.array(fc.oneof(mutated(BIND), mutated(REQUEST, 16), fc.uint8Array({ maxLength: 64 }).map((u) => Buffer.from(u)), fc.constant(BIND), fc.constant(REQUEST)), { maxLength: 8 });
  fc.assert(
    fc.property(chunks, (list) => {
      const a = new RpcAssociation([srvsvcInterface(host), wkssvcInterface(host)], '\\PIPE\\srvsvc', { user: '', domain: '', anonymous: true, guest: false, address: '127.0.0.1' });
      for (const c of list) {
        for (const out of a.write(c)) {
          // Everything the server sends back decodes.
          const p = decodePdu(out);
          assert.ok(([PduType.BIND_ACK, PduType.BIND_NAK, PduType.RESPONSE, PduType.FAULT, PduType.ALTER_CONTEXT_RESP] as (number | string)[]).includes(p.type));
        }
      }
    }),
    { numRuns: NUM_RUNS },
  );
});
