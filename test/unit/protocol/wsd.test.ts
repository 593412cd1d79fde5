import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { WireError } from '../../../src/errors.js';
import {
  Action,
  ANONYMOUS,
  buildEnvelope,
  getResponseBody,
  helloBody,
  Ns,
  parseProbe,
  parseResolve,
  parseSoapEnvelope,
  probeMatches,
  probeMatchesBody,
  resolveMatchesBody,
} from '../../../src/protocol/wsd/messages.js';
import { descend, parseXml } from '../../../src/protocol/wsd/xml.js';

/** Real messages of wsdd 0.7.0 in discovery mode (test/fixtures/protocol/wsdd-client.json). */
const wsdd = JSON.parse(readFileSync(new URL('../../../../test/fixtures/protocol/wsdd-client.json', import.meta.url), 'utf8')) as {
  probe: string;
  resolve: string;
  get: string;
};

const env = (body: string, decls = ''): Buffer =>
  Buffer.from(
    `<?xml version="1.0"?><e:Envelope xmlns:e="${Ns.soap}" xmlns:a="${Ns.wsa}" xmlns:d="${Ns.wsd}"${decls}><e:Header>` +
      `<a:Action> ${Action.PROBE} </a:Action><a:MessageID>urn:uuid:1</a:MessageID><a:To>${'urn:schemas-xmlsoap-org:ws:2005:04:discovery'}</a:To>` +
      `</e:Header><e:Body>${body}</e:Body></e:Envelope>`,
  );

test("wsdd's Probe, Resolve and Get parse", () => {
  const probe = parseSoapEnvelope(Buffer.from(wsdd.probe));
  assert.equal(probe.action, Action.PROBE);
  assert.match(probe.messageId, /^urn:uuid:/);
  assert.deepEqual(parseProbe(probe.body), { types: [{ uri: Ns.wsdp, local: 'Device' }], scopes: [] });
  assert.equal(probeMatches(parseProbe(probe.body)), true);
  const resolve = parseSoapEnvelope(Buffer.from(wsdd.resolve));
  assert.equal(resolve.action, Action.RESOLVE);
  assert.equal(parseResolve(resolve.body), 'urn:uuid:58dfd970-4ed0-50e9-81da-ea9e120b6fd5');
  const get = parseSoapEnvelope(Buffer.from(wsdd.get));
  assert.equal(get.action, Action.GET);
  assert.equal(get.to, 'urn:uuid:58dfd970-4ed0-50e9-81da-ea9e120b6fd5');
  assert.equal(get.body, undefined);
});

test('Probe types are QNames resolved by namespace, whatever the prefix', () => {
  const other = parseProbe(parseSoapEnvelope(env('<d:Probe><d:Types xmlns:x="http://schemas.xmlsoap.org/ws/2006/02/devprof">x:Device</d:Types></d:Probe>')).body);
  assert.equal(probeMatches(other), true);
  const both = parseProbe(parseSoapEnvelope(env(`<d:Probe><d:Types>dp:Device  pc:Computer</d:Types></d:Probe>`, ` xmlns:dp="${Ns.wsdp}" xmlns:pc="${Ns.pub}"`)).body);
  assert.equal(probeMatches(both), true);
  const dflt = parseProbe(parseSoapEnvelope(env(`<d:Probe><d:Types xmlns="${Ns.pub}">Computer</d:Types></d:Probe>`)).body);
  assert.equal(probeMatches(dflt), true);
  const none = parseProbe(parseSoapEnvelope(env('<d:Probe/>')).body);
  assert.equal(probeMatches(none), true, 'a Probe without types matches every target');
  const printer = parseProbe(parseSoapEnvelope(env('<d:Probe><d:Types xmlns:p="http://schemas.microsoft.com/windows/2006/08/wdp/print">p:PrintDeviceType</d:Types></d:Probe>')).body);
  assert.equal(probeMatches(printer), false);
  const wrongNs = parseProbe(parseSoapEnvelope(env('<d:Probe><d:Types xmlns:x="urn:other">x:Device</d:Types></d:Probe>')).body);
  assert.equal(probeMatches(wrongNs), false, 'same local name, other namespace');
  const scoped = parseProbe(parseSoapEnvelope(env('<d:Probe><d:Scopes>ldap:///ou=x</d:Scopes></d:Probe>')).body);
  assert.equal(probeMatches(scoped), false, 'we declare no scopes');
  assert.throws(() => parseProbe(parseSoapEnvelope(env('<d:Probe><d:Types>nope:Device</d:Types></d:Probe>')).body), WireError);
});

test('what we send parses back with the fields a client reads', () => {
  const t = { endpoint: 'urn:uuid:11111111-2222-5333-8444-555555555555', xaddrs: ['http://198.18.0.1:5357/11111111-2222-5333-8444-555555555555'], metadataVersion: 1 };
  const pm = parseSoapEnvelope(
    Buffer.from(buildEnvelope({ to: ANONYMOUS, action: Action.PROBE_MATCHES, messageId: 'urn:uuid:2', relatesTo: 'urn:uuid:1', appSequence: { instanceId: 5, messageNumber: 2 } }, probeMatchesBody(t))),
  );
  assert.equal(pm.relatesTo, 'urn:uuid:1');
  assert.equal(pm.to, ANONYMOUS);
  const match = descend(pm.body, [Ns.wsd, 'ProbeMatch']);
  assert.equal(descend(match, [Ns.wsa, 'EndpointReference'], [Ns.wsa, 'Address'])?.text, t.endpoint);
  assert.equal(descend(match, [Ns.wsd, 'Types'])?.text, 'wsdp:Device pub:Computer');
  assert.equal(descend(match, [Ns.wsd, 'XAddrs']), undefined, 'ProbeMatch leaves XAddrs to Resolve');
  const rm = parseSoapEnvelope(Buffer.from(buildEnvelope({ to: ANONYMOUS, action: Action.RESOLVE_MATCHES, messageId: 'urn:uuid:3' }, resolveMatchesBody(t))));
  assert.equal(descend(rm.body, [Ns.wsd, 'ResolveMatch'], [Ns.wsd, 'XAddrs'])?.text, t.xaddrs[0]);
  const hello = parseXml(Buffer.from(buildEnvelope({ to: 'urn:x', action: Action.HELLO, messageId: 'urn:uuid:4' }, helloBody(t))));
  assert.equal(descend(hello, [Ns.soap, 'Body'], [Ns.wsd, 'Hello'], [Ns.wsd, 'MetadataVersion'])?.text, '1');
  const meta = parseXml(
    Buffer.from(
      buildEnvelope(
        { to: ANONYMOUS, action: Action.GET_RESPONSE, messageId: 'urn:uuid:5' },
        getResponseBody({ endpoint: t.endpoint, friendlyName: 'a<b & "c"', manufacturer: 'm', modelName: 'n', firmwareVersion: '1', serialNumber: 's', computerName: 'SRV', workgroup: 'WG&CO', domainMember: false }),
      ),
    ),
  );
  const sections = descend(meta, [Ns.soap, 'Body'], [Ns.wsx, 'Metadata'])!.children;
  assert.deepEqual(
    sections.map((s) => s.attributes.get('Dialect')),
    [`${Ns.wsdp}/ThisDevice`, `${Ns.wsdp}/ThisModel`, `${Ns.wsdp}/Relationship`],
  );
  assert.equal(descend(sections[0], [Ns.wsdp, 'ThisDevice'], [Ns.wsdp, 'FriendlyName'])?.text, 'a<b & "c"');
  assert.equal(descend(sections[2], [Ns.wsdp, 'Relationship'], [Ns.wsdp, 'Host'], [Ns.pub, 'Computer'])?.text, 'SRV/Workgroup:WG&CO');
});

test('hostile or broken XML is a WireError, within the limits', () => {
  const bomb = '<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><l>&b;</l>';
  const cases: [string, Buffer][] = [
    ['entity expansion', Buffer.from(bomb)],
    ['external entity', Buffer.from('<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>')],
    ['undeclared entity', Buffer.from('<x>&e;</x>')],
    ['too deep', Buffer.from('<a>'.repeat(30) + '</a>'.repeat(30))],
    ['too many elements', Buffer.from(`<a>${'<b/>'.repeat(600)}</a>`)],
    ['too large', Buffer.from(`<a>${'x'.repeat(40_000)}</a>`)],
    ['unbound prefix', Buffer.from('<q:a/>')],
    ['two roots', Buffer.from('<a/><b/>')],
    ['unclosed', Buffer.from('<a><b></a>')],
    ['empty', Buffer.alloc(0)],
    ['not SOAP', Buffer.from('<Envelope/>')],
    ['no action', Buffer.from(`<e:Envelope xmlns:e="${Ns.soap}"><e:Header/><e:Body/></e:Envelope>`)],
  ];
  for (const [what, b] of cases) assert.throws(() => parseSoapEnvelope(b), WireError, what);
  assert.throws(() => parseResolve(parseSoapEnvelope(env('<d:Resolve/>')).body), WireError);
  assert.throws(() => parseProbe(parseSoapEnvelope(env('<d:Resolve/>')).body), WireError);
});
