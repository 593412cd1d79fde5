import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { WireError } from '../../src/errors.js';
import { NdrReader, NdrWriter } from '../../src/protocol/rpc/ndr.js';
import {
  decodeGetUserNameRequest,
  decodeGetUserNameResponse,
  decodeHandleRequest,
  decodeHandleResponse,
  decodeLookupNamesRequest,
  decodeLookupNamesResponse,
  decodeLookupSidsRequest,
  decodeLookupSidsResponse,
  decodeOpenPolicyRequest,
  decodeQueryInfoRequest,
  decodeQueryInfoResponse,
  encodeGetUserNameRequest,
  encodeGetUserNameResponse,
  encodeLookupNamesRequest,
  encodeLookupNamesResponse,
  encodeLookupSidsRequest,
  encodeLookupSidsResponse,
  encodeOpenPolicyRequest,
  encodeQueryInfoRequest,
  encodeQueryInfoResponse,
  LSARPC_SYNTAX,
  LsarOpnum,
  type LookupNamesVersion,
  type LookupSidsVersion,
  type PolicyInformation,
} from '../../src/protocol/rpc/lsarpc.js';
import { decodePdu, encodeBind, encodeRequest, NDR20_SYNTAX, PduType } from '../../src/protocol/rpc/pdu.js';
import { lsarpcInterface } from '../../src/server/ipc/lsarpc.js';
import { RpcAssociation } from '../../src/server/ipc/rpc-server.js';

const NUM_RUNS = 300;

function onlyWireErrors(f: () => unknown): void {
  try {
    f();
  } catch (err) {
    if (!(err instanceof WireError)) throw err;
  }
}

/** A valid encoding with a few bytes changed, maybe truncated or extended. */
function mutated(seed: Buffer): fc.Arbitrary<Buffer> {
  return fc
    .record({
      edits: fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 6 }),
      cut: fc.option(fc.nat(), { nil: undefined }),
      extra: fc.uint8Array({ maxLength: 16 }),
    })
    .map(({ edits, cut, extra }) => {
      const b = Buffer.concat([seed, Buffer.from(extra)]);
      for (const e of edits) b[e.at % Math.max(1, b.length)] = e.value;
      return cut === undefined ? b : b.subarray(0, cut % (b.length + 1));
    });
}

const sid = fc
  .record({ authority: fc.integer({ min: 0, max: 0xffffffff }), subs: fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 15 }) })
  .map(({ authority, subs }) => [`S-1-${authority}`, ...subs].join('-'));
const name = fc.string({ unit: 'binary', maxLength: 24 });
const handle = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((u) => Buffer.from(u));
const domains = fc.array(fc.record({ name, sid: fc.option(sid, { nil: undefined }) }).map((d) => ({ ...d })), { maxLength: 4 });

test('RPC_UNICODE_STRING and RPC_SID round-trip through the NDR writer and reader', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(name, sid), { maxLength: 5 }), (items) => {
      const w = new NdrWriter();
      w.top(() => w.array(items, ([n, s]) => {
        w.unicodeString(n);
        w.sidPointer(s);
      }));
      const r = new NdrReader(w.finish());
      const got = r.top(() => r.array(12, () => {
        const x = { n: '', s: '' };
        r.unicodeString((v) => (x.n = v));
        r.sidPointer((v) => (x.s = v));
        return x;
      }));
      assert.deepEqual(got.map((x) => [x.n, x.s]), items);
      assert.equal(r.remaining, 0);
    }),
    { numRuns: NUM_RUNS },
  );
});

test('lookup requests round-trip in every version', () => {
  fc.assert(
    fc.property(
      fc.array(name, { maxLength: 6 }),
      fc.array(sid, { maxLength: 6 }),
      handle,
      fc.integer({ min: 0, max: 0xffff }),
      fc.constantFrom<LookupNamesVersion>(1, 2, 3, 4),
      fc.constantFrom<LookupSidsVersion>(1, 2, 3),
      (names, sids, h, level, nv, sv) => {
        const n = decodeLookupNamesRequest(encodeLookupNamesRequest({ handle: h, names, lookupLevel: level, lookupOptions: 0, clientRevision: 2 }, nv), nv);
        assert.deepEqual(n.names, names);
        assert.equal(n.lookupLevel, level);
        assert.deepEqual(n.handle, nv === 4 ? undefined : h);
        assert.equal(n.clientRevision, nv > 1 ? 2 : 0);
        const s = decodeLookupSidsRequest(encodeLookupSidsRequest({ handle: h, sids, lookupLevel: level, lookupOptions: 0, clientRevision: 1 }, sv), sv);
        assert.deepEqual(s.sids, sids);
        assert.deepEqual(s.handle, sv === 3 ? undefined : h);
      },
    ),
    { numRuns: NUM_RUNS },
  );
});

test('lookup, policy and user-name responses round-trip', () => {
  const translatedSid = fc.record({ use: fc.integer({ min: 0, max: 10 }), relativeId: fc.integer({ min: 0, max: 0xffffffff }), sid: fc.option(sid, { nil: undefined }), domainIndex: fc.integer({ min: -1, max: 5 }), flags: fc.integer({ min: 0, max: 0xffffffff }) });
  const translatedName = fc.record({ use: fc.integer({ min: 0, max: 10 }), name, domainIndex: fc.integer({ min: -1, max: 5 }), flags: fc.integer({ min: 0, max: 0xffffffff }) });
  fc.assert(
    fc.property(domains, fc.array(translatedSid, { maxLength: 5 }), fc.array(translatedName, { maxLength: 5 }), fc.constantFrom<LookupNamesVersion>(1, 2, 3), fc.constantFrom<LookupSidsVersion>(1, 2), (d, ts, tn, nv, sv) => {
      const sids = ts.map((t) => ({ ...t, relativeId: nv >= 3 ? 0 : t.relativeId, sid: nv >= 3 ? t.sid : undefined, flags: nv >= 2 ? t.flags : 0 }));
      assert.deepEqual(decodeLookupNamesResponse(encodeLookupNamesResponse({ domains: d, sids, mappedCount: 3, status: 0x107 }, nv), nv), { domains: d, sids, mappedCount: 3, status: 0x107 });
      const names = tn.map((t) => ({ ...t, flags: sv >= 2 ? t.flags : 0 }));
      assert.deepEqual(decodeLookupSidsResponse(encodeLookupSidsResponse({ domains: d, names, mappedCount: 1, status: 0 }, sv), sv), { domains: d, names, mappedCount: 1, status: 0 });
    }),
    { numRuns: NUM_RUNS },
  );
  fc.assert(
    fc.property(name, fc.option(sid, { nil: undefined }), fc.constantFrom(3, 5, 12), fc.option(name, { nil: undefined }), fc.boolean(), (n, s, cls, domain, want) => {
      const policy: PolicyInformation =
        cls === 12
          ? { informationClass: 12, info: { name: n, sid: s, dnsDomainName: 'dns', dnsForestName: n, domainGuid: Buffer.alloc(16, 7) } }
          : { informationClass: cls as 3 | 5, info: { name: n, sid: s } };
      assert.deepEqual(decodeQueryInfoResponse(encodeQueryInfoResponse({ policy, status: 0 })), { policy, status: 0 });
      const u = decodeGetUserNameResponse(encodeGetUserNameResponse({ userName: n, domainName: domain, status: 0 }, want));
      assert.deepEqual(u, { userName: n, domainName: want ? domain : undefined, status: 0 });
    }),
    { numRuns: NUM_RUNS },
  );
});

test('lsarpc request decoders throw only WireError on mutated and random stubs', () => {
  const h = Buffer.alloc(20, 1);
  const seeds: [(b: Buffer) => unknown, Buffer][] = [
    [(b) => decodeOpenPolicyRequest(b, 2), encodeOpenPolicyRequest({ systemName: '\\\\srv', desiredAccess: 0x02000000 }, 2)],
    [(b) => decodeOpenPolicyRequest(b, 1), encodeOpenPolicyRequest({ systemName: '\\', desiredAccess: 0x800 }, 1)],
    [decodeHandleRequest, h],
    [decodeQueryInfoRequest, encodeQueryInfoRequest({ handle: h, informationClass: 5 })],
    [decodeGetUserNameRequest, encodeGetUserNameRequest({ systemName: 'srv', wantDomain: true })],
    [decodeHandleResponse, Buffer.alloc(24)],
    [decodeQueryInfoResponse, encodeQueryInfoResponse({ policy: { informationClass: 5, info: { name: 'SRV', sid: 'S-1-5-21-1-2-3' } }, status: 0 })],
  ];
  for (const v of [1, 2, 3, 4] as const) {
    seeds.push([(b) => decodeLookupNamesRequest(b, v), encodeLookupNamesRequest({ handle: h, names: ['alice', 'BUILTIN\\Users'], lookupLevel: 1, lookupOptions: 0, clientRevision: 1 }, v)]);
    seeds.push([(b) => decodeLookupNamesResponse(b, v), encodeLookupNamesResponse({ domains: [{ name: 'SRV', sid: 'S-1-5-21-1-2-3' }], sids: [{ use: 1, relativeId: 1000, sid: v >= 3 ? 'S-1-5-21-1-2-3-1000' : undefined, domainIndex: 0, flags: 0 }], mappedCount: 1, status: 0 }, v)]);
  }
  for (const v of [1, 2, 3] as const) {
    seeds.push([(b) => decodeLookupSidsRequest(b, v), encodeLookupSidsRequest({ handle: h, sids: ['S-1-1-0', 'S-1-5-21-1-2-3-1000'], lookupLevel: 1, lookupOptions: 0, clientRevision: 1 }, v)]);
    seeds.push([(b) => decodeLookupSidsResponse(b, v), encodeLookupSidsResponse({ domains: [{ name: '', sid: 'S-1-1' }], names: [{ use: 5, name: 'Everyone', domainIndex: 0, flags: 0 }], mappedCount: 1, status: 0 }, v)]);
  }
  for (const [decode, seed] of seeds) {
    fc.assert(fc.property(mutated(seed), (b) => onlyWireErrors(() => decode(b))), { numRuns: NUM_RUNS });
    fc.assert(fc.property(fc.uint8Array({ maxLength: 120 }), (u) => onlyWireErrors(() => decode(Buffer.from(u)))), { numRuns: 100 });
  }
});

test('the lsarpc interface answers any stub on any opnum with a response or a fault, never an exception', () => {
  const host = { serverName: 'SRV', domain: 'WG', machineSid: 'S-1-5-21-1-2-3', findUser: (n: string) => (n.toLowerCase() === 'alice' ? 'Alice' : undefined), userNames: () => ['Alice'] };
  const bind = encodeBind(PduType.BIND, 1, { maxXmitFrag: 4280, maxRecvFrag: 4280, assocGroupId: 0, contexts: [{ contextId: 0, abstractSyntax: LSARPC_SYNTAX, transferSyntaxes: [NDR20_SYNTAX] }] });
  const caller = { user: 'alice', domain: '', anonymous: false, guest: false, address: '127.0.0.1' };
  const open = encodeOpenPolicyRequest({ systemName: undefined, desiredAccess: 0x02000000 }, 2);
  const opnums = Object.values(LsarOpnum);
  const seedFor = (opnum: number, h: Buffer): Buffer => {
    switch (opnum) {
      case LsarOpnum.LookupNames:
      case LsarOpnum.LookupNames2:
      case LsarOpnum.LookupNames3:
        return encodeLookupNamesRequest({ handle: h, names: ['alice', 'Everyone', 'SRV\\nobody'], lookupLevel: 1, lookupOptions: 0, clientRevision: 1 }, opnum === 14 ? 1 : opnum === 58 ? 2 : 3);
      case LsarOpnum.LookupSids:
      case LsarOpnum.LookupSids2:
        return encodeLookupSidsRequest({ handle: h, sids: ['S-1-1-0', 'S-1-5-21-1-2-3-501', 'S-1-5-21-9'], lookupLevel: 1, lookupOptions: 0, clientRevision: 1 }, opnum === 15 ? 1 : 2);
      case LsarOpnum.QueryInformationPolicy:
      case LsarOpnum.QueryInformationPolicy2:
        return encodeQueryInfoRequest({ handle: h, informationClass: 5 });
      case LsarOpnum.GetUserName:
        return encodeGetUserNameRequest({ systemName: undefined, wantDomain: true });
      case LsarOpnum.Close:
        return h;
      default:
        return open;
    }
  };
  fc.assert(
    fc.property(fc.constantFrom(...opnums, 1, 99), fc.boolean(), fc.uint8Array({ maxLength: 8 }), fc.nat(), (opnum, mutate, junk, at) => {
      const a = new RpcAssociation([lsarpcInterface(host)], '\\PIPE\\lsarpc', caller);
      a.write(bind);
      const opened = decodePdu(a.write(encodeRequest(2, { allocHint: open.length, contextId: 0, opnum: LsarOpnum.OpenPolicy2, stub: open }))[0]!);
      assert.equal(opened.type, PduType.RESPONSE);
      const h = opened.type === PduType.RESPONSE ? opened.body.stub.subarray(0, 20) : Buffer.alloc(20);
      const stub = Buffer.from(seedFor(opnum, h));
      if (mutate && stub.length > 0) {
        const i = at % stub.length;
        stub[i] = stub[i]! ^ (junk[0] ?? 0xff);
      }
      const full = Buffer.concat([stub, Buffer.from(junk)]);
      for (const out of a.write(encodeRequest(3, { allocHint: full.length, contextId: 0, opnum, stub: mutate ? full : stub }))) {
        const p = decodePdu(out);
        assert.ok(p.type === PduType.RESPONSE || p.type === PduType.FAULT, `PDU type ${p.type}`);
      }
    }),
    { numRuns: NUM_RUNS },
  );
});
