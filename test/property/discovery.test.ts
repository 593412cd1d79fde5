/**
 * The discovery decoders under random and mutated input: only WireError may come out, and what the server then
 * does with a decoded packet never throws. Valid packets round-trip.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import dnsPacket from 'dns-packet';
import { WireError } from '../../src/errors.js';
import { decodeNbAddressEntries, decodeNbnsPacket, decodeNodeStatus, encodeNbnsPacket, NbnsType, type NbnsPacket } from '../../src/protocol/netbios/name-service.js';
import { parseProbe, parseResolve, parseSoapEnvelope, probeMatches } from '../../src/protocol/wsd/messages.js';
import { mdnsAnswer, zoneRecords } from '../../src/server/discovery/mdns.js';
import { nbnsReply, serverNameTable } from '../../src/server/discovery/nbns.js';

const NUM_RUNS = 500;
const nbnsFixture = JSON.parse(readFileSync(new URL('../../../test/fixtures/protocol/nbns-samba.json', import.meta.url), 'utf8')) as { packets: { hex: string }[] };
const NBNS_SEEDS = nbnsFixture.packets.map((p) => Buffer.from(p.hex, 'hex'));
const wsdd = JSON.parse(readFileSync(new URL('../../../test/fixtures/protocol/wsdd-client.json', import.meta.url), 'utf8')) as Record<string, string>;
const WSD_SEEDS = [wsdd.probe!, wsdd.resolve!, wsdd.get!].map((s) => Buffer.from(s));
const TABLE = serverNameTable('SAMBAREF', 'TESTGROUP');

function onlyWireErrors(f: () => unknown): void {
  try {
    f();
  } catch (err) {
    if (!(err instanceof WireError)) throw err;
  }
}

/** A seed with a few bytes changed, maybe cut short or extended. */
function mutated(seeds: readonly Buffer[]): fc.Arbitrary<Buffer> {
  return fc
    .record({
      seed: fc.constantFrom(...seeds),
      edits: fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 6 }),
      cut: fc.option(fc.nat(), { nil: undefined }),
      extra: fc.uint8Array({ maxLength: 24 }),
    })
    .map(({ seed, edits, cut, extra }) => {
      const b = Buffer.concat([seed, Buffer.from(extra)]);
      for (const e of edits) b[e.at % b.length] = e.value;
      return cut === undefined ? b : b.subarray(0, cut % (b.length + 1));
    });
}

/** What the name service does with a datagram: decode, answer, and read any records. */
function serveNbns(b: Buffer): void {
  onlyWireErrors(() => {
    const p = decodeNbnsPacket(b);
    nbnsReply(p, TABLE, '198.18.0.1');
    for (const rr of p.answers) {
      if (rr.type === NbnsType.NB) decodeNbAddressEntries(rr.rdata);
      if (rr.type === NbnsType.NBSTAT) decodeNodeStatus(rr.rdata);
    }
  });
}

test('NBNS: random datagrams decode or throw WireError', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 700 }), (b) => serveNbns(Buffer.from(b))), { numRuns: NUM_RUNS });
});

test('NBNS: mutated captures of nmblookup and nmbd decode or throw WireError', () => {
  fc.assert(fc.property(mutated(NBNS_SEEDS), serveNbns), { numRuns: NUM_RUNS * 2 });
});

const nbName = fc.record({
  name: fc.stringMatching(/^[A-Z0-9!#$%&'()\-.@^_{}~]{1,15}$/),
  suffix: fc.integer({ min: 0, max: 255 }),
  scope: fc.constantFrom('', 'corp', 'a.b.example'),
}).map((n) => ({ ...n }));
const rr = fc.record({
  name: nbName,
  type: fc.constantFrom(NbnsType.NB, NbnsType.NBSTAT, NbnsType.NULL),
  class: fc.constant(1),
  ttl: fc.nat(),
  rdata: fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
}).map((r) => ({ ...r }));

test('NBNS: encode then decode is the identity', () => {
  fc.assert(
    fc.property(
      fc.record({
        transactionId: fc.integer({ min: 0, max: 0xffff }),
        response: fc.boolean(),
        opcode: fc.constantFrom(0, 5, 6, 7, 8),
        nmFlags: fc.constantFrom(0, 0x0010, 0x0110, 0x0500, 0x0580),
        rcode: fc.integer({ min: 0, max: 7 }),
        questions: fc.array(fc.record({ name: nbName, type: fc.constantFrom(NbnsType.NB, NbnsType.NBSTAT), class: fc.constant(1) }).map((q) => ({ ...q })), { maxLength: 2 }),
        answers: fc.array(rr, { maxLength: 2 }),
        authorities: fc.array(rr, { maxLength: 1 }),
        additionals: fc.array(rr, { maxLength: 2 }),
      }).map((p) => ({ ...p })),
      (p: NbnsPacket) => {
        assert.deepEqual(decodeNbnsPacket(encodeNbnsPacket(p)), p);
      },
    ),
    { numRuns: NUM_RUNS },
  );
});

/** What the WS-Discovery service does with a datagram. */
function serveWsd(b: Buffer): void {
  onlyWireErrors(() => {
    const m = parseSoapEnvelope(b);
    if (m.body?.local === 'Probe') probeMatches(parseProbe(m.body));
    if (m.body?.local === 'Resolve') parseResolve(m.body);
  });
}

test('WS-Discovery: random bytes and random text parse or throw WireError', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (b) => serveWsd(Buffer.from(b))), { numRuns: NUM_RUNS });
  fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => serveWsd(Buffer.from(`<?xml version="1.0"?>${s}`))), { numRuns: NUM_RUNS });
});

test("WS-Discovery: mutated captures of wsdd's messages parse or throw WireError", () => {
  fc.assert(fc.property(mutated(WSD_SEEDS), serveWsd), { numRuns: NUM_RUNS * 2 });
});

test('WS-Discovery: random element trees of the SOAP vocabulary parse or throw WireError', () => {
  const names = ['soap:Envelope', 'soap:Header', 'soap:Body', 'wsa:Action', 'wsa:MessageID', 'wsd:Probe', 'wsd:Types', 'wsd:Scopes', 'wsd:Resolve', 'wsa:EndpointReference', 'wsa:Address', 'x:y'];
  const tree: fc.Arbitrary<string> = fc.letrec<{ node: string }>((tie) => ({
    node: fc.oneof(
      { depthSize: 'small' },
      fc.constantFrom('wsdp:Device', 'pub:Computer', 'urn:uuid:1', 'http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe', '', 'q:z', '&amp;', '<!-- c -->'),
      fc.tuple(fc.constantFrom(...names), fc.array(tie('node'), { maxLength: 4 })).map(([n, kids]) => `<${n}>${kids.join('')}</${n}>`),
    ),
  })).node;
  const decl = 'xmlns:soap="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:wsd="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:wsdp="http://schemas.xmlsoap.org/ws/2006/02/devprof"';
  fc.assert(fc.property(tree, (body) => serveWsd(Buffer.from(`<soap:Envelope ${decl}>${body}</soap:Envelope>`))), { numRuns: NUM_RUNS });
});

test('mDNS: whatever dns-packet decodes, the responder answers without throwing', () => {
  const zone = zoneRecords({ instance: 'SRV', host: 'srv', port: 445, addresses: ['198.18.0.1'], model: 'RackMac' });
  const seed = dnsPacket.encode({
    type: 'query',
    questions: [
      { name: '_smb._tcp.local', type: 'PTR' },
      { name: 'srv.local', type: 'A' },
    ],
    answers: [{ name: '_smb._tcp.local', type: 'PTR', ttl: 4500, data: 'SRV._smb._tcp.local' }],
  });
  fc.assert(
    fc.property(fc.oneof(mutated([seed]), fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a))), (b) => {
      let p;
      try {
        p = dnsPacket.decode(b); // multicast-dns drops what dns-packet cannot decode
      } catch {
        return;
      }
      mdnsAnswer(p.questions ?? [], p.answers ?? [], zone);
    }),
    { numRuns: NUM_RUNS * 2 },
  );
});
