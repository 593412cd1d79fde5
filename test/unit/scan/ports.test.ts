import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, type Server } from 'node:net';
import { decodeProcAddress, localPorts, parseProcNet } from '../../../src/scan/ports.js';

const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 2800007F:01BD 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1 0000000000000000 100 0 0 10 0
   1: 00000000:0087 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 222 1 0000000000000000 100 0 0 10 0
   2: 0100007F:01BD 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 333 1 0000000000000000 100 0 0 10 0
   3: 0100007F:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 444 1 0000000000000000 100 0 0 10 0
   4: 0502A8C0:008B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 555 1 0000000000000000 100 0 0 10 0
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:01BD 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 666 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000001000000:01BD 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 777 1 0000000000000000 100 0 0 10 0
   2: B80D0120000000000000000001000000:01BD 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 888 1 0000000000000000 100 0 0 10 0
`;
const UDP = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  100: 00000000:0089 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 999 2 0000000000000000 0
  101: 0100007F:008A 0100007F:0035 01 00000000:00000000 00:00000000 00000000     0        0 1000 2 0000000000000000 0
`;

test('decodes /proc/net addresses (host-order words)', () => {
  assert.deepEqual(decodeProcAddress('2800007F'), { address: '127.0.0.40', family: 4 });
  assert.deepEqual(decodeProcAddress('00000000000000000000000000000000'), { address: '::', family: 6 });
  assert.deepEqual(decodeProcAddress('00000000000000000000000001000000'), { address: '::1', family: 6 });
  assert.deepEqual(decodeProcAddress('B80D0120000000000000000001000000'), { address: '2001:db8::1', family: 6 });
  assert.deepEqual(decodeProcAddress('0000000000000000FFFF00002800007F'), { address: '::ffff:127.0.0.40', family: 6 });
});

test('keeps TCP listeners and unconnected UDP sockets on the SMB ports only', () => {
  const tcp = parseProcNet(TCP, 'tcp');
  assert.deepEqual(
    tcp.map((s) => `${s.address}:${s.port}:${s.addressClass}:${s.inode}`),
    ['127.0.0.40:445:loopback:111', '0.0.0.0:135:wildcard:222', '192.168.2.5:139:private:555'],
  );
  const tcp6 = parseProcNet(TCP6, 'tcp');
  assert.deepEqual(tcp6.map((s) => `${s.address}:${s.addressClass}`), [':::wildcard', '::1:loopback', '2001:db8::1:public']);
  const udp = parseProcNet(UDP, 'udp');
  assert.deepEqual(udp.map((s) => `${s.protocol}:${s.address}:${s.port}`), ['udp:0.0.0.0:137']);
});

test('a fake /proc: findings for public and wildcard binds, with the owning process', async () => {
  const { mkdtemp, mkdir, writeFile, symlink, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = await mkdtemp(join(tmpdir(), 'smbkit-proc-'));
  try {
    await mkdir(join(dir, 'net'));
    await writeFile(join(dir, 'net', 'tcp'), TCP);
    await writeFile(join(dir, 'net', 'tcp6'), TCP6);
    await writeFile(join(dir, 'net', 'udp'), UDP);
    await writeFile(join(dir, 'net', 'udp6'), UDP.split('\n')[0] + '\n');
    await mkdir(join(dir, '4242', 'fd'), { recursive: true });
    await writeFile(join(dir, '4242', 'comm'), 'smbd\n');
    await symlink('socket:[888]', join(dir, '4242', 'fd', '7'));
    const r = await localPorts({ proc: dir });
    assert.deepEqual(r.unreadable, []);
    const pub = r.sockets.find((s) => s.inode === 888)!;
    assert.equal(pub.pid, 4242);
    assert.equal(pub.command, 'smbd');
    assert.deepEqual(
      r.findings.map((f) => `${f.id}:${f.severity}:${f.socket}`),
      ['listening-public:high:tcp/[2001:db8::1]:445', 'listening-wildcard:medium:tcp/[::]:445', 'listening-wildcard:low:tcp/0.0.0.0:135', 'listening-wildcard:low:udp/0.0.0.0:137'],
    );
    assert.match(r.findings[0]!.detail, /smbd, pid 4242/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

// Live: listeners this test opens. Only loopback and the wildcard address on ports no other test uses for SMB
// (wildcard 445 would collide with the servers other tests bind to 127.0.0.x:445).
const opened: { server?: Server; udp?: UdpSocket; label: string }[] = [];

function listenTcp(host: string, port: number): Promise<Server | undefined> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(undefined));
    s.listen({ host, port, exclusive: true }, () => resolve(s));
  });
}
function bindUdp(type: 'udp4' | 'udp6', address: string, port: number): Promise<UdpSocket | undefined> {
  return new Promise((resolve) => {
    const s = createSocket({ type, reuseAddr: false });
    s.once('error', () => {
      s.close();
      resolve(undefined);
    });
    s.bind({ address, port, exclusive: true }, () => resolve(s));
  });
}

before(async () => {
  const t1 = await listenTcp('127.0.0.46', 139);
  if (t1) opened.push({ server: t1, label: 'tcp/127.0.0.46:139' });
  const t2 = await listenTcp('0.0.0.0', 135);
  if (t2) opened.push({ server: t2, label: 'tcp/0.0.0.0:135' });
  const u1 = await bindUdp('udp4', '0.0.0.0', 137);
  if (u1) opened.push({ udp: u1, label: 'udp/0.0.0.0:137' });
  const u2 = await bindUdp('udp6', '::1', 138);
  if (u2) opened.push({ udp: u2, label: 'udp/[::1]:138' });
});
after(async () => {
  for (const o of opened) {
    o.udp?.close();
    await new Promise<void>((resolve) => (o.server ? o.server.close(() => resolve()) : resolve()));
  }
});

test('live: the listeners this process opened are found, owned by this process, and classified', async (t) => {
  if (opened.length === 0) {
    t.skip('none of the test ports was free');
    return;
  }
  const r = await localPorts();
  const label = (s: (typeof r.sockets)[number]): string => `${s.protocol}/${s.family === 6 ? `[${s.address}]` : s.address}:${s.port}`;
  for (const o of opened) {
    const s = r.sockets.find((x) => label(x) === o.label);
    assert.ok(s, `${o.label} found in ${r.sockets.map(label).join(', ')}`);
    assert.equal(s.pid, process.pid, o.label);
  }
  const byLabel = new Map(r.findings.map((f) => [f.socket, f]));
  if (opened.some((o) => o.label === 'tcp/127.0.0.46:139')) assert.equal(byLabel.has('tcp/127.0.0.46:139'), false);
  if (opened.some((o) => o.label === 'udp/[::1]:138')) assert.equal(byLabel.has('udp/[::1]:138'), false);
  if (opened.some((o) => o.label === 'tcp/0.0.0.0:135')) assert.equal(byLabel.get('tcp/0.0.0.0:135')?.severity, 'low');
  if (opened.some((o) => o.label === 'udp/0.0.0.0:137')) assert.equal(byLabel.get('udp/0.0.0.0:137')?.id, 'listening-wildcard');
});
