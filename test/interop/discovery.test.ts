/**
 * Name resolution and announcements with real peers, against the smbkit CLI.
 *
 * 1. Loopback (127.0.0.50): Samba's nmblookup resolves the server's names by unicast and reads its node status;
 *    malformed datagrams on UDP 137 change nothing.
 * 2. A private two-namespace network (test/interop/harness/netns.ts), the server in one namespace and the peers in
 *    the other, so multicast and broadcast never leave it: nmblookup (unicast and broadcast), python3-zeroconf
 *    browsing _smb._tcp (mDNS), dig's legacy unicast query, wsdd in discovery mode (Hello, Probe, Resolve and the
 *    metadata Get over HTTP), a spec-written WS-Discovery client, malformed datagrams on all three ports, hosts_deny,
 *    and the Bye at shutdown.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNetnsPair, stopChild, type NetnsPair } from './harness/netns.js';
import { isAlive, run, type RunResult } from './harness/proc.js';
import { repoRootFrom, startSmbkit, type SmbkitServer } from './harness/smbkit.js';

const root = repoRootFrom(import.meta.url);
const PEER = join(root, 'test', 'interop', 'harness', 'discovery_peer.py');
const PY = '/usr/bin/python3';
const isRoot = process.getuid?.() === 0;
const havePeers = ['/usr/bin/nmblookup', '/usr/bin/dig', '/usr/sbin/wsdd', PY].every((f) => existsSync(f));
const skip = !isRoot ? 'needs root (UDP 137, network namespaces)' : !havePeers ? 'nmblookup, dig, wsdd or python3 missing (.ci/install-peers.sh)' : false;

function show(r: RunResult): string {
  return `exit ${r.code}${r.timedOut ? ' (timed out)' : ''}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
}

/** nmblookup's node status table: name, suffix, group. */
function statusNames(stdout: string): string[] {
  return [...stdout.matchAll(/^\t(\S+)\s+<([0-9a-f]{2})> - (<GROUP>)?\s*B <ACTIVE>/gm)].map((m) => `${m[1]}<${m[2]}>${m[3] ? ' group' : ''}`);
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const readText = (path: string): Promise<string> => readFile(path, 'utf8').catch(() => '');

describe('NetBIOS name service on loopback (nmblookup)', { skip }, () => {
  const HOST = '127.0.0.50';
  let server: SmbkitServer;

  before(async () => {
    server = await startSmbkit({
      address: HOST,
      users: [{ name: 'nb_u', password: 'Nb pass 1!' }],
      shares: [{ name: 'data' }],
      server: { name: 'LOOPKIT', domain: 'LOOPGROUP', netbios_name_service: true, log_level: 'debug' },
    });
  });
  after(async () => {
    await server?.stop();
  });

  it('resolves the server name <00> and <20> by unicast query', async () => {
    const r = await run('nmblookup', ['-U', HOST, 'LOOPKIT'], { timeoutMs: 20_000 });
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /^127\.0\.0\.50 LOOPKIT<00>$/m, show(r));
    const s = await run('nmblookup', ['-U', HOST, 'loopkit#20'], { timeoutMs: 20_000 });
    assert.match(s.stdout, /^127\.0\.0\.50 loopkit<20>$/m, show(s));
    const g = await run('nmblookup', ['-U', HOST, 'LOOPGROUP#1e'], { timeoutMs: 20_000 });
    assert.match(g.stdout, /^127\.0\.0\.50 LOOPGROUP<1e>$/m, show(g));
  });

  it('answers an unknown name negatively', async () => {
    const r = await run('nmblookup', ['-U', HOST, 'NOSUCHNAME'], { timeoutMs: 20_000 });
    assert.match(r.stdout, /name_query failed to find name NOSUCHNAME/, show(r));
  });

  it('reports node status (nmblookup -S and -A)', async () => {
    const expected = ['LOOPKIT<00>', 'LOOPKIT<20>', 'LOOPGROUP<00> group', 'LOOPGROUP<1e> group'];
    const s = await run('nmblookup', ['-U', HOST, '-S', 'LOOPKIT'], { timeoutMs: 20_000 });
    assert.equal(s.code, 0, show(s));
    assert.deepEqual(statusNames(s.stdout), expected, show(s));
    const a = await run('nmblookup', ['-A', HOST], { timeoutMs: 20_000 });
    assert.equal(a.code, 0, show(a));
    assert.match(a.stdout, /Looking up status of 127\.0\.0\.50/, show(a));
    assert.deepEqual(statusNames(a.stdout), expected, show(a));
    assert.match(a.stdout, /MAC Address = 00-00-00-00-00-00/);
  });

  it('survives malformed datagrams and keeps answering', async () => {
    const sock = createSocket('udp4');
    const send = (b: Buffer): Promise<void> => new Promise((r) => sock.send(b, 137, HOST, () => r()));
    const loop = Buffer.from('0003000000010000000000' + '00c00c00200001', 'hex');
    const counts = Buffer.from('0004000000ff00ff00ff00ff', 'hex');
    for (const b of [Buffer.alloc(0), Buffer.alloc(1), loop, counts, Buffer.alloc(1400, 0x3f), Buffer.alloc(9000, 0xc0)]) await send(b);
    for (let i = 0; i < 200; i++) await send(Buffer.from(Array.from({ length: 1 + (i * 37) % 700 }, (_, j) => (i * 131 + j * 17) & 0xff)));
    sock.close();
    const r = await run('nmblookup', ['-U', HOST, 'LOOPKIT'], { timeoutMs: 20_000 });
    assert.match(r.stdout, /^127\.0\.0\.50 LOOPKIT<00>$/m, show(r));
    assert.ok(isAlive(server.pid), 'server still running');
    const logs = await server.logs();
    assert.match(logs, /netbios name service: malformed packet/);
    assert.doesNotMatch(logs, /internal error/);
  });
});

describe('discovery in a private two-namespace network (nmblookup, zeroconf, dig, wsdd)', { skip }, () => {
  let net: NetnsPair;
  let dir: string;
  let smbkit: ChildProcess | undefined;
  let wsdd: ChildProcess | undefined;
  const serverLog = (): Promise<string> => readText(join(dir, 'server.log'));
  const wsddLog = (): Promise<string> => readText(join(dir, 'wsdd.log'));
  const peer = (args: string[], timeoutMs = 30_000): Promise<RunResult> => net.exec(net.client, [PY, PEER, ...args], { timeoutMs });

  async function startServer(extra: string[] = [], listen = `${net.server.address}:445`): Promise<ChildProcess> {
    const conf = join(dir, 'smbkit.toml');
    await mkdir(join(dir, 'share'), { recursive: true });
    const lines = [
      '[server]',
      'name = "KITSRV"',
      'domain = "TESTGROUP"',
      `listen = ["${listen}"]`,
      'netbios_name_service = true',
      'mdns = true',
      'wsdiscovery = true',
      'log_level = "debug"',
      ...extra,
      '',
      '[[user]]',
      'name = "disc_u"',
      'password = "Disc pass 1!"',
      '',
      '[[share]]',
      'name = "data"',
      `path = ${JSON.stringify(join(dir, 'share'))}`,
    ];
    await writeFile(conf, lines.join('\n') + '\n');
    const child = await net.spawn(net.server, [process.execPath, join(root, 'bin', 'smbkit.js'), 'serve', '--config', conf], join(dir, 'server.log'), root);
    await waitFor('smbkit to start in the server namespace', 20_000, async () => {
      if (child.exitCode !== null) throw new Error(`smbkit exited ${child.exitCode}:\n${await serverLog()}`);
      return (await serverLog()).includes('smbkit serving on') ? true : undefined;
    });
    return child;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'smbkit-discovery-'));
    net = await createNetnsPair('dsc');
    // wsdd first, in discovery mode only (-o: it announces nothing itself), so it sees the server's Hello.
    wsdd = await net.spawn(net.client, [PY, '/usr/sbin/wsdd', '--discovery', '--no-host', '-4', '-i', net.client.ifname, '-v'], join(dir, 'wsdd.log'));
    await waitFor('wsdd to join the multicast group', 15_000, async () => ((await wsddLog()).includes('joined multicast group') ? true : undefined));
    smbkit = await startServer();
  });

  after(async () => {
    if (smbkit) await stopChild(smbkit);
    if (wsdd) await stopChild(wsdd);
    await net?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('nmblookup resolves the name by unicast and by broadcast, and reads node status', async () => {
    const u = await net.exec(net.client, ['nmblookup', '-U', net.server.address, 'KITSRV']);
    assert.match(u.stdout, /^198\.18\.50\.1 KITSRV<00>$/m, show(u));
    const b = await net.exec(net.client, ['nmblookup', '-B', '198.18.50.255', 'KITSRV#20']);
    assert.match(b.stdout, /^198\.18\.50\.1 KITSRV<20>$/m, show(b));
    const a = await net.exec(net.client, ['nmblookup', '-A', net.server.address]);
    assert.deepEqual(statusNames(a.stdout), ['KITSRV<00>', 'KITSRV<20>', 'TESTGROUP<00> group', 'TESTGROUP<1e> group'], show(a));
    // A broadcast query for a name the server does not hold gets no answer at all.
    const n = await net.exec(net.client, ['nmblookup', '-B', '198.18.50.255', 'SOMEONEELSE']);
    assert.match(n.stdout, /name_query failed to find name SOMEONEELSE/, show(n));
  });

  it('python3-zeroconf finds _smb._tcp by multicast, with SRV, address and the device-info model', async () => {
    const r = await peer(['mdns-browse', net.client.address, '8', 'KITSRV']);
    assert.equal(r.code, 0, show(r));
    const out = JSON.parse(r.stdout) as { services: Record<string, { server: string; port: number; addresses: string[] }>; deviceInfo: Record<string, string> | null };
    assert.deepEqual(out.services['KITSRV._smb._tcp.local.'], { server: 'kitsrv.local.', port: 445, addresses: ['198.18.50.1'], txt: {} });
    assert.deepEqual(out.deviceInfo, { model: 'RackMac' });
  });

  it('dig gets the DNS-SD records by a legacy unicast query', async () => {
    const r = await net.exec(net.client, ['dig', '+time=2', '+tries=2', '-p', '5353', `@${net.server.address}`, '_smb._tcp.local', 'PTR']);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, /^_smb\._tcp\.local\.\s+10\s+IN\s+PTR\s+KITSRV\._smb\._tcp\.local\.$/m, show(r));
    assert.match(r.stdout, /^KITSRV\._smb\._tcp\.local\.\s+10\s+IN\s+SRV\s+0 0 445 kitsrv\.local\.$/m, show(r));
    assert.match(r.stdout, /^kitsrv\.local\.\s+10\s+IN\s+A\s+198\.18\.50\.1$/m, show(r));
  });

  it('wsdd discovers the server from its Hello (metadata fetched over HTTP)', async () => {
    const line = await waitFor('wsdd to report the server', 20_000, async () => /discovered (\S+) in (\S+) on ([\d.]+)/.exec(await wsddLog()) ?? undefined);
    assert.deepEqual([line[1], line[2], line[3]], ['KITSRV', 'Workgroup:TESTGROUP', '198.18.50.1']);
    assert.match(await wsddLog(), /Hello from urn:uuid:[0-9a-f-]{36} on http:\/\/198\.18\.50\.1:5357\//);
  });

  it('a WS-Discovery client gets ProbeMatch, ResolveMatch and the metadata; other types get nothing', async () => {
    const r = await peer(['wsd-probe', net.client.address, '2']);
    assert.equal(r.code, 0, show(r));
    const out = JSON.parse(r.stdout) as { probeMatches: { endpoint: string; types: string; from: string }[]; resolved: { xaddr: string; computer: string; action: string }[] };
    assert.equal(out.probeMatches.length, 1, r.stdout);
    assert.match(out.probeMatches[0]!.endpoint, /^urn:uuid:[0-9a-f-]{36}$/);
    assert.equal(out.probeMatches[0]!.types, 'wsdp:Device pub:Computer');
    assert.equal(out.probeMatches[0]!.from, '198.18.50.1:3702');
    assert.equal(out.resolved.length, 1, r.stdout);
    assert.equal(out.resolved[0]!.xaddr, `http://198.18.50.1:5357/${out.probeMatches[0]!.endpoint.slice('urn:uuid:'.length)}`);
    assert.equal(out.resolved[0]!.action, 'http://schemas.xmlsoap.org/ws/2004/09/transfer/GetResponse');
    assert.equal(out.resolved[0]!.computer, 'KITSRV/Workgroup:TESTGROUP');
    const http = await peer(['http-check', out.resolved[0]!.xaddr]);
    assert.deepEqual(JSON.parse(http.stdout), { get: 405, wrongPath: 404, wrongType: 415, tooLarge: 413, badXml: 400, notGet: 400, valid: 200 }, show(http));
    const printer = await peer(['wsd-probe', net.client.address, '1.5', 'p:Printer']);
    assert.deepEqual(JSON.parse(printer.stdout), { probeMatches: [], resolved: [] }, show(printer));
  });

  it('malformed datagrams on 137, 5353 and 3702 (unicast and multicast) are dropped; everything keeps answering', async () => {
    for (const dest of [net.server.address, '224.0.0.251', '239.255.255.250', '198.18.50.255']) {
      const g = await peer(['garbage', dest]);
      assert.equal(g.code, 0, show(g));
    }
    const u = await net.exec(net.client, ['nmblookup', '-U', net.server.address, 'KITSRV']);
    assert.match(u.stdout, /^198\.18\.50\.1 KITSRV<00>$/m, show(u));
    const w = await peer(['wsd-probe', net.client.address, '2']);
    assert.equal((JSON.parse(w.stdout) as { resolved: unknown[] }).resolved.length, 1, show(w));
    const d = await net.exec(net.client, ['dig', '+short', '+time=2', '-p', '5353', `@${net.server.address}`, 'kitsrv.local', 'A']);
    assert.equal(d.stdout.trim(), '198.18.50.1', show(d));
    assert.equal(smbkit?.exitCode, null, 'server still running');
    const logs = await serverLog();
    assert.match(logs, /netbios name service: malformed packet/);
    assert.match(logs, /ws-discovery: malformed message .*XML DOCTYPE not allowed/);
    assert.match(logs, /ws-discovery: malformed message .*too large/);
    assert.doesNotMatch(logs, /internal error/);
  });

  it('says Bye when it stops', async () => {
    await stopChild(smbkit!);
    assert.equal(smbkit!.exitCode, 0, await serverLog());
    smbkit = undefined;
    await waitFor('wsdd to receive the Bye', 10_000, async () => (/198\.18\.50\.1:3702\([^)]*\) - - "Bye urn:uuid:/.test(await wsddLog()) ? true : undefined));
  });

  it('with a wildcard listener (0.0.0.0) every service answers with the interface address', async () => {
    smbkit = await startServer([], '0.0.0.0:445');
    const u = await net.exec(net.client, ['nmblookup', '-U', net.server.address, 'KITSRV']);
    assert.match(u.stdout, /^198\.18\.50\.1 KITSRV<00>$/m, show(u));
    const b = await net.exec(net.client, ['nmblookup', '-B', '198.18.50.255', 'KITSRV']);
    assert.match(b.stdout, /^198\.18\.50\.1 KITSRV<00>$/m, show(b));
    const m = await peer(['mdns-browse', net.client.address, '8', 'KITSRV']);
    const services = (JSON.parse(m.stdout) as { services: Record<string, { addresses: string[] }> }).services;
    assert.deepEqual(services['KITSRV._smb._tcp.local.']?.addresses, ['198.18.50.1'], show(m));
    const w = await peer(['wsd-probe', net.client.address, '2']);
    const resolved = (JSON.parse(w.stdout) as { resolved: { xaddr: string; computer: string }[] }).resolved;
    assert.equal(resolved.length, 1, show(w));
    assert.match(resolved[0]!.xaddr, /^http:\/\/198\.18\.50\.1:5357\//);
    await stopChild(smbkit);
    smbkit = undefined;
  });

  it('answers nobody that hosts_deny refuses', async () => {
    smbkit = await startServer([`hosts_deny = ["${net.client.address}"]`]);
    const u = await net.exec(net.client, ['nmblookup', '-U', net.server.address, 'KITSRV']);
    assert.match(u.stdout, /name_query failed to find name KITSRV/, show(u));
    const w = await peer(['wsd-probe', net.client.address, '1.5']);
    assert.deepEqual(JSON.parse(w.stdout), { probeMatches: [], resolved: [] }, show(w));
  });
});
