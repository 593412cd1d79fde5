import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Question } from 'dns-packet';
import {
  decodeNbAddressEntries,
  decodeNbnsPacket,
  decodeNodeStatus,
  encodeNbnsPacket,
  NbnsRcode,
  NbnsType,
  nameQueryRequest,
  nodeStatusRequest,
} from '../../../src/protocol/netbios/name-service.js';
import { ipv4Interfaces, onSubnet, selectInterfaces, type Ipv4Interface } from '../../../src/server/discovery/interfaces.js';
import { hostLabel, instanceLabel, mdnsAnswer, zoneRecords } from '../../../src/server/discovery/mdns.js';
import { nbnsReply, serverNameTable } from '../../../src/server/discovery/nbns.js';
import { endpointUuid } from '../../../src/server/discovery/wsd.js';

const TABLE = serverNameTable('kitsrv', 'testgroup');
const ask = (name: string, suffix: number, broadcast = false): Buffer | undefined =>
  nbnsReply(decodeNbnsPacket(nameQueryRequest(0x1234, { name, suffix, scope: '' }, broadcast)), TABLE, '198.18.0.1');

test('NBNS: own names get a positive answer with the address and the group bit', () => {
  for (const [name, suffix, group] of [['KITSRV', 0x00, false], ['kitsrv', 0x20, false], ['TESTGROUP', 0x00, true], ['TESTGROUP', 0x1e, true]] as const) {
    const r = decodeNbnsPacket(ask(name, suffix)!);
    assert.equal(r.transactionId, 0x1234);
    assert.equal(r.response, true);
    assert.equal(r.rcode, NbnsRcode.OK);
    assert.deepEqual(r.answers[0]!.name, { name, suffix, scope: '' }, 'the answer repeats the asked name');
    assert.deepEqual(decodeNbAddressEntries(r.answers[0]!.rdata), [{ flags: group ? 0x8000 : 0, address: '198.18.0.1' }]);
  }
});

test('NBNS: other names get a negative answer when asked directly, silence when broadcast', () => {
  const neg = decodeNbnsPacket(ask('OTHER', 0)!);
  assert.equal(neg.rcode, NbnsRcode.NAM_ERR);
  assert.equal(neg.answers[0]!.type, NbnsType.NULL);
  assert.equal(decodeNbnsPacket(ask('KITSRV', 0x1b)!).rcode, NbnsRcode.NAM_ERR, 'a suffix the server does not hold is another name');
  assert.equal(ask('OTHER', 0, true), undefined);
  assert.equal(ask('KITSRV', 0x1b, true), undefined);
  const scoped = nbnsReply(decodeNbnsPacket(nameQueryRequest(1, { name: 'KITSRV', suffix: 0, scope: 'other.scope' }, true)), TABLE, '198.18.0.1');
  assert.equal(scoped, undefined, 'a name in another scope is another name');
});

test('NBNS: node status answers the wildcard and own names with the whole table', () => {
  for (const req of [nodeStatusRequest(5), nodeStatusRequest(5, { name: 'KITSRV', suffix: 0x20, scope: '' })]) {
    const r = decodeNbnsPacket(nbnsReply(decodeNbnsPacket(req), TABLE, '198.18.0.1')!);
    assert.equal(r.answers[0]!.type, NbnsType.NBSTAT);
    assert.deepEqual(
      decodeNodeStatus(r.answers[0]!.rdata).names,
      [
        { name: 'KITSRV', suffix: 0x00, flags: 0x0400 },
        { name: 'KITSRV', suffix: 0x20, flags: 0x0400 },
        { name: 'TESTGROUP', suffix: 0x00, flags: 0x8400 },
        { name: 'TESTGROUP', suffix: 0x1e, flags: 0x8400 },
      ],
    );
  }
  assert.equal(nbnsReply(decodeNbnsPacket(nodeStatusRequest(5, { name: 'OTHER', suffix: 0, scope: '' })), TABLE, '198.18.0.1'), undefined);
});

test('NBNS: responses, other opcodes and multi-question packets are ignored', () => {
  const q = decodeNbnsPacket(nameQueryRequest(1, { name: 'KITSRV', suffix: 0, scope: '' }));
  assert.equal(nbnsReply({ ...q, response: true }, TABLE, '198.18.0.1'), undefined);
  assert.equal(nbnsReply({ ...q, opcode: 5 }, TABLE, '198.18.0.1'), undefined);
  assert.equal(nbnsReply({ ...q, questions: [q.questions[0]!, q.questions[0]!] }, TABLE, '198.18.0.1'), undefined);
  assert.equal(nbnsReply(decodeNbnsPacket(encodeNbnsPacket({ ...q, questions: [{ ...q.questions[0]!, class: 3 }] })), TABLE, '198.18.0.1'), undefined);
});

const IFACES: Ipv4Interface[] = ipv4Interfaces({
  lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' }],
  eth0: [
    { address: '198.18.0.1', netmask: '255.255.255.0', family: 'IPv4', mac: '02:00:00:00:00:01', internal: false, cidr: '198.18.0.1/24' },
    { address: 'fe80::1', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '02:00:00:00:00:01', internal: false, cidr: 'fe80::1/64', scopeid: 2 },
  ],
  eth1: [{ address: '198.19.7.9', netmask: '255.255.255.252', family: 'IPv4', mac: '02:00:00:00:00:02', internal: false, cidr: '198.19.7.9/30' }],
  tun0: [{ address: '198.19.8.1', netmask: '255.255.255.255', family: 'IPv4', mac: '00:00:00:00:00:00', internal: false, cidr: '198.19.8.1/32' }],
});

test('interfaces: broadcast addresses, subnets and the selection by listen address', () => {
  assert.deepEqual(
    IFACES.map((i) => [i.name, i.address, i.broadcast]),
    [
      ['lo', '127.0.0.1', undefined],
      ['eth0', '198.18.0.1', '198.18.0.255'],
      ['eth1', '198.19.7.9', '198.19.7.11'],
      ['tun0', '198.19.8.1', undefined],
    ],
  );
  assert.equal(onSubnet('198.18.0.77', IFACES[1]!), true);
  assert.equal(onSubnet('::ffff:198.18.0.77', IFACES[1]!), true);
  assert.equal(onSubnet('198.18.1.77', IFACES[1]!), false);
  assert.equal(onSubnet('fe80::2', IFACES[1]!), false);
  const names = (l: Ipv4Interface[]): string[] => l.map((i) => i.name);
  assert.deepEqual(names(selectInterfaces(['198.18.0.1'], true, IFACES)), ['eth0']);
  assert.deepEqual(names(selectInterfaces(['127.0.0.1', '198.19.7.9'], true, IFACES)), ['eth1'], 'multicast skips loopback');
  assert.deepEqual(names(selectInterfaces(['127.0.0.1'], false, IFACES)), ['lo']);
  assert.deepEqual(names(selectInterfaces(['0.0.0.0'], true, IFACES)), ['eth0', 'eth1', 'tun0']);
  assert.deepEqual(names(selectInterfaces(['[::]'], true, IFACES)), ['eth0', 'eth1', 'tun0']);
  assert.deepEqual(names(selectInterfaces(['fe80::1%eth0', 'fileserver.lan', '203.0.113.9'], true, IFACES)), [], 'IPv6, names and foreign addresses select nothing');
});

const ZONE = zoneRecords({ instance: instanceLabel('KIT.SRV'), host: hostLabel('KIT.SRV'), port: 445, addresses: ['198.18.0.1'], model: 'RackMac' });
const q = (name: string, type: string, cls = 'IN'): Question => ({ name, type, class: cls }) as Question;
const names = (rs: { answer: { name: string; type: string } }[]): string[] => rs.map((r) => `${r.answer.name} ${r.answer.type}`);

test('mDNS: labels from the server name', () => {
  assert.equal(instanceLabel('KIT.SRV'), 'KIT-SRV');
  assert.equal(hostLabel('KIT.SRV'), 'kit-srv');
  assert.equal(hostLabel('A_B~C'), 'a-b-c');
  assert.equal(hostLabel('__'), 'smbkit');
});

test('mDNS: a browse gets the PTR with SRV, TXT and A as additionals (RFC 6763 12.1)', () => {
  const r = mdnsAnswer([q('_smb._tcp.local', 'PTR')], [], ZONE);
  assert.deepEqual(names(r.answers), ['_smb._tcp.local PTR']);
  assert.deepEqual(names(r.additionals), ['KIT-SRV._smb._tcp.local SRV', 'KIT-SRV._smb._tcp.local TXT', 'kit-srv.local A']);
  assert.deepEqual(r.answers[0]!.answer, { name: '_smb._tcp.local', type: 'PTR', ttl: 4500, data: 'KIT-SRV._smb._tcp.local' });
  assert.deepEqual(names(mdnsAnswer([q('_services._dns-sd._udp.local', 'PTR')], [], ZONE).answers), ['_services._dns-sd._udp.local PTR']);
});

test('mDNS: names match case-insensitively; ANY, QU and unknown names', () => {
  const srv = mdnsAnswer([q('kit-srv._SMB._tcp.LOCAL', 'ANY')], [], ZONE);
  assert.deepEqual(names(srv.answers), ['KIT-SRV._smb._tcp.local SRV', 'KIT-SRV._smb._tcp.local TXT']);
  assert.deepEqual(names(srv.additionals), ['kit-srv.local A']);
  assert.deepEqual(names(mdnsAnswer([q('KIT-SRV.local', 'A', 'UNKNOWN_32769')], [], ZONE).answers), ['kit-srv.local A'], 'a QU question');
  assert.deepEqual(names(mdnsAnswer([q('kit-srv.local', 'AAAA')], [], ZONE).answers), []);
  assert.deepEqual(names(mdnsAnswer([q('kit-srv.local', 'A', 'CH')], [], ZONE).answers), [], 'another class');
  assert.deepEqual(names(mdnsAnswer([q('_http._tcp.local', 'PTR')], [], ZONE).answers), []);
  const dev = mdnsAnswer([q('KIT-SRV._device-info._tcp.local', 'TXT')], [], ZONE);
  assert.deepEqual(dev.answers[0]!.answer.data, ['model=RackMac']);
});

test('mDNS: known answers with at least half their TTL left are suppressed (RFC 6762 7.1)', () => {
  const known = (ttl: number) => [{ name: '_smb._tcp.local', type: 'PTR', class: 'IN', ttl, data: 'kit-srv._smb._tcp.local' }] as never[];
  assert.deepEqual(mdnsAnswer([q('_smb._tcp.local', 'PTR')], known(4000), ZONE).answers, []);
  assert.equal(mdnsAnswer([q('_smb._tcp.local', 'PTR')], known(100), ZONE).answers.length, 1);
});

test('WS-Discovery endpoint: a stable name-based (version 5) UUID', () => {
  const a = endpointUuid('KITSRV', 'TESTGROUP');
  assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(endpointUuid('kitsrv', 'testgroup'), a);
  assert.notEqual(endpointUuid('OTHER', 'TESTGROUP'), a);
});

test('config: the switches default to off and reach the server configuration', async () => {
  const { parseConfig, ConfigError } = await import('../../../src/config/schema.js');
  const { serverConfigFrom } = await import('../../../src/config/server-config.js');
  const share = [{ name: 'm', type: 'memory' as const, guest: true }];
  const off = serverConfigFrom(parseConfig({ server: { listen: ['127.0.0.1:445'] }, share }));
  assert.deepEqual(off.discovery, { netbiosNameService: false, mdns: false, mdnsModel: 'RackMac', wsDiscovery: false });
  const on = serverConfigFrom(parseConfig({ server: { listen: ['127.0.0.1:445'], netbios_name_service: true, mdns: true, mdns_model: 'Xserve', wsdiscovery: true }, share }));
  assert.deepEqual(on.discovery, { netbiosNameService: true, mdns: true, mdnsModel: 'Xserve', wsDiscovery: true });
  assert.throws(() => parseConfig({ server: { mdns_model: 'Mac\nPro' }, share }), ConfigError);
  assert.throws(() => parseConfig({ server: { mdns: 'yes' }, share }), ConfigError);
});
