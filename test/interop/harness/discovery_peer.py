#!/usr/bin/python3
"""Discovery peers for test/interop/discovery.test.ts, run inside the client network namespace.

  mdns-browse ADDR TIMEOUT INSTANCE   python3-zeroconf browses _smb._tcp.local. and reads INSTANCE's _device-info
  wsd-probe ADDR TIMEOUT [TYPES]      a WS-Discovery client written against the spec: multicast Probe, Resolve of
                                      each match, then the WS-Transfer Get of its metadata over HTTP
  http-check XADDR                    the metadata service's answers to broken requests, and to a valid Get
  garbage HOST                        malformed datagrams to UDP 137, 5353 and 3702 of HOST

Each command prints one JSON object on stdout.
"""
import json
import random
import socket
import struct
import sys
import time
import urllib.error
import urllib.request
import uuid
import xml.etree.ElementTree as ET

NS = {
    'soap': 'http://www.w3.org/2003/05/soap-envelope',
    'wsa': 'http://schemas.xmlsoap.org/ws/2004/08/addressing',
    'wsd': 'http://schemas.xmlsoap.org/ws/2005/04/discovery',
    'wsx': 'http://schemas.xmlsoap.org/ws/2004/09/mex',
    'wsdp': 'http://schemas.xmlsoap.org/ws/2006/02/devprof',
    'pub': 'http://schemas.microsoft.com/windows/pub/2005/07',
}
WSD_GROUP = ('239.255.255.250', 3702)


def mdns_browse(addr, timeout, instance):
    from zeroconf import IPVersion, ServiceBrowser, Zeroconf
    zc = Zeroconf(interfaces=[addr], ip_version=IPVersion.V4Only)
    found = {}

    class Listener:
        def add_service(self, zc, type_, name):
            info = zc.get_service_info(type_, name, timeout=3000)
            if info is not None:
                found[name] = {
                    'server': info.server,
                    'port': info.port,
                    'addresses': info.parsed_addresses(),
                    'txt': {k.decode(): (v.decode() if v is not None else None) for k, v in info.properties.items()},
                }

        def remove_service(self, zc, type_, name):
            found.pop(name, None)

        def update_service(self, zc, type_, name):
            pass

    ServiceBrowser(zc, '_smb._tcp.local.', Listener())
    deadline = time.time() + timeout
    while time.time() < deadline and not found:
        time.sleep(0.1)
    dev = zc.get_service_info('_device-info._tcp.local.', instance + '._device-info._tcp.local.', timeout=3000)
    zc.close()
    device_info = None if dev is None else {k.decode(): (v.decode() if v is not None else None) for k, v in dev.properties.items()}
    return {'services': found, 'deviceInfo': device_info}


def envelope(action, body, to='urn:schemas-xmlsoap-org:ws:2005:04:discovery'):
    msg_id = 'urn:uuid:' + str(uuid.uuid4())
    xml = ('<?xml version="1.0" encoding="utf-8"?>'
           '<s:Envelope xmlns:s="%s" xmlns:a="%s" xmlns:d="%s" xmlns:dp="%s" xmlns:p="%s">'
           '<s:Header><a:To>%s</a:To><a:Action>%s</a:Action><a:MessageID>%s</a:MessageID></s:Header>'
           '<s:Body>%s</s:Body></s:Envelope>') % (NS['soap'], NS['wsa'], NS['wsd'], NS['wsdp'], NS['pub'], to, action, msg_id, body)
    return msg_id, xml.encode('utf-8')


def udp_exchange(sock, payload, relates_to, timeout):
    """Sends by multicast, collects the replies that relate to the message."""
    sock.sendto(payload, WSD_GROUP)
    replies = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        sock.settimeout(max(0.05, deadline - time.time()))
        try:
            data, src = sock.recvfrom(65535)
        except socket.timeout:
            break
        root = ET.fromstring(data)
        if root.findtext('soap:Header/wsa:RelatesTo', namespaces=NS) == relates_to:
            replies.append((root, src))
    return replies


def wsd_probe(addr, timeout, types):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((addr, 0))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(addr))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
    probe_body = '<d:Probe>%s</d:Probe>' % ('<d:Types>%s</d:Types>' % types if types else '')
    probe_id, probe = envelope(NS['wsd'] + '/Probe', probe_body)
    matches = []
    seen = set()
    for root, src in udp_exchange(sock, probe, probe_id, timeout):
        if root.findtext('soap:Header/wsa:Action', namespaces=NS) != NS['wsd'] + '/ProbeMatches':
            continue
        for m in root.findall('soap:Body/wsd:ProbeMatches/wsd:ProbeMatch', NS):
            endpoint = m.findtext('wsa:EndpointReference/wsa:Address', namespaces=NS)
            if endpoint in seen:
                continue
            seen.add(endpoint)
            matches.append({'endpoint': endpoint, 'types': m.findtext('wsd:Types', namespaces=NS),
                            'xaddrs': m.findtext('wsd:XAddrs', namespaces=NS), 'from': '%s:%d' % src})
    result = {'probeMatches': matches, 'resolved': []}
    for match in matches:
        rid, resolve = envelope(NS['wsd'] + '/Resolve',
                                '<d:Resolve><a:EndpointReference><a:Address>%s</a:Address></a:EndpointReference></d:Resolve>' % match['endpoint'])
        for root, src in udp_exchange(sock, resolve, rid, timeout):
            rm = root.find('soap:Body/wsd:ResolveMatches/wsd:ResolveMatch', NS)
            if rm is None:
                continue
            xaddr = rm.findtext('wsd:XAddrs', namespaces=NS).split()[0]
            _, get = envelope('http://schemas.xmlsoap.org/ws/2004/09/transfer/Get', '', to=match['endpoint'])
            req = urllib.request.Request(xaddr, data=get, method='POST', headers={'Content-Type': 'application/soap+xml'})
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                meta = ET.fromstring(resp.read())
            host = meta.find('soap:Body/wsx:Metadata/wsx:MetadataSection/wsdp:Relationship/wsdp:Host', NS)
            result['resolved'].append({
                'endpoint': rm.findtext('wsa:EndpointReference/wsa:Address', namespaces=NS),
                'xaddr': xaddr,
                'action': meta.findtext('soap:Header/wsa:Action', namespaces=NS),
                'friendlyName': meta.findtext('soap:Body/wsx:Metadata/wsx:MetadataSection/wsdp:ThisDevice/wsdp:FriendlyName', namespaces=NS),
                'computer': None if host is None else host.findtext('pub:Computer', namespaces=NS),
            })
            break
    return result


def http_check(xaddr):
    """Status codes of the metadata service for broken and valid requests."""
    def status(url, data=None, method='POST', ctype='application/soap+xml'):
        req = urllib.request.Request(url, data=data, method=method, headers={'Content-Type': ctype} if ctype else {})
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return resp.status
        except urllib.error.HTTPError as e:
            return e.code
        except (urllib.error.URLError, ConnectionError) as e:
            return 'closed: %s' % e
    endpoint = 'urn:uuid:' + xaddr.rsplit('/', 1)[1]
    _, get = envelope('http://schemas.xmlsoap.org/ws/2004/09/transfer/Get', '', to=endpoint)
    _, probe = envelope(NS['wsd'] + '/Probe', '<d:Probe/>')
    base = xaddr.rsplit('/', 1)[0]
    return {
        'get': status(xaddr, method='GET', ctype=None),
        'wrongPath': status(base + '/00000000-0000-0000-0000-000000000000', get),
        'wrongType': status(xaddr, get, ctype='text/plain'),
        'tooLarge': status(xaddr, b'<a>' + b'x' * 100000 + b'</a>'),
        'badXml': status(xaddr, b'<soap:Envelope'),
        'notGet': status(xaddr, probe),
        'valid': status(xaddr, get),
    }


def nbns_name(name, suffix):
    raw = name.encode('latin1').ljust(15, b' ') + bytes([suffix])
    return bytes([32]) + bytes(b for c in raw for b in (0x41 + (c >> 4), 0x41 + (c & 15))) + b'\x00'


def garbage(host):
    rnd = random.Random(7)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sent = 0
    query = struct.pack('>HHHHHH', 1, 0, 1, 0, 0, 0) + nbns_name('X', 0) + struct.pack('>HH', 0x20, 1)
    nbns = [
        b'', b'\x00', query[:20], query[:-1],
        struct.pack('>HHHHHH', 2, 0, 0xffff, 0xffff, 0xffff, 0xffff),  # counts far beyond the packet
        struct.pack('>HHHHHH', 3, 0, 1, 0, 0, 0) + b'\xc0\x0c' + struct.pack('>HH', 0x20, 1),  # a pointer to itself
        struct.pack('>HHHHHH', 4, 0, 1, 0, 0, 0) + b'\x20' + b'Z' * 32 + b'\x00' + struct.pack('>HH', 0x20, 1),
        struct.pack('>HHHHHH', 5, 0, 1, 0, 0, 0) + b'\x3f' * 300,
    ] + [bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 600))) for _ in range(40)]
    mdns = [b'', b'\x00' * 11, struct.pack('>HHHHHH', 0, 0, 0xffff, 0, 0, 0),
            struct.pack('>HHHHHH', 0, 0, 1, 0, 0, 0) + b'\xc0\x0c\x00\x0c\x00\x01'] + \
           [bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 600))) for _ in range(40)]
    lol = '<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
    wsd = [b'', b'<', b'\xff\xfe<\x00', b'<a>' * 5000, (lol + '<l>&c;&c;&c;</l>').encode(),
           envelope(NS['wsd'] + '/Probe', '<d:Probe><d:Types>nope:Device</d:Types></d:Probe>')[1],
           envelope(NS['wsd'] + '/Probe', '<d:Probe>' + '<x>' * 200 + '</x>' * 200 + '</d:Probe>')[1],
           envelope(NS['wsd'] + '/Resolve', '<d:Resolve/>')[1],
           b'<s:Envelope xmlns:s="%s">' % NS['soap'].encode() + b'A' * 40000 + b'</s:Envelope>'] + \
          [bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 600))) for _ in range(40)]
    for port, packets in ((137, nbns), (5353, mdns), (3702, wsd)):
        for p in packets:
            try:
                sock.sendto(p, (host, port))
                sent += 1
            except OSError:
                pass
            time.sleep(0.002)
    return {'sent': sent}


def main():
    cmd = sys.argv[1]
    if cmd == 'mdns-browse':
        out = mdns_browse(sys.argv[2], float(sys.argv[3]), sys.argv[4])
    elif cmd == 'wsd-probe':
        out = wsd_probe(sys.argv[2], float(sys.argv[3]), sys.argv[4] if len(sys.argv) > 4 else 'dp:Device')
    elif cmd == 'http-check':
        out = http_check(sys.argv[2])
    elif cmd == 'garbage':
        out = garbage(sys.argv[2])
    else:
        raise SystemExit('unknown command ' + cmd)
    print(json.dumps(out))


if __name__ == '__main__':
    main()
