/**
 * The exposure scanner against real servers on loopback: Samba in six configurations (127.0.0.40-44) and smbkit's
 * own server (127.0.0.45). For each, the dialects and the signing verdict must equal what nmap's smb-protocols and
 * smb2-security-mode report in the same run, and each finding must appear exactly where the configuration
 * calls for it. Then the failure cases: a closed port, an HTTP server, a server that closes at once and one that
 * never answers, each reported plainly within the timeout.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { scan, scanHost } from '../../src/scan/scan.js';
import type { HostReport } from '../../src/scan/types.js';
import { startSamba, type SambaServer } from './harness/samba.js';
import { repoRootFrom, startSmbkit, type SmbkitServer } from './harness/smbkit.js';

const TIMEOUT_MS = 2000;

interface NmapView {
  dialects: string[];
  smb1: boolean;
  /** The signing line of smb2-security-mode (nmap reports it for the highest dialect). */
  signing: { dialect: string; line: string } | undefined;
}

function run(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: 60_000, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

function unescapeXml(s: string): string {
  return s.replace(/&#x([0-9a-f]+);/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16))).replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&amp;/g, '&');
}

/** Parses the two scripts' tables from nmap's XML output (-oX -). */
export function parseNmapXml(xml: string): NmapView {
  const script = (id: string): string | undefined => new RegExp(`<script id="${id}"[^>]*>([\\s\\S]*?)</script>`).exec(xml)?.[1];
  const elems = (s: string): string[] => [...s.matchAll(/<elem>([^<]*)<\/elem>/g)].map((m) => unescapeXml(m[1]!));
  const protocols = script('smb-protocols');
  const all = protocols ? elems(protocols) : [];
  const security = script('smb2-security-mode');
  let signing: NmapView['signing'];
  if (security) {
    const m = /<table key="([^"]+)">([\s\S]*?)<\/table>/.exec(security);
    if (m) signing = { dialect: m[1]!, line: elems(m[2]!)[0] ?? '' };
  }
  return { dialects: all.filter((d) => /^\d+$/.test(d)), smb1: all.some((d) => d.includes('SMBv1')), signing };
}

async function nmap(address: string): Promise<NmapView> {
  return parseNmapXml(await run('nmap', ['-Pn', '-n', '-p445', '--script', 'smb-protocols,smb2-security-mode', address, '-oX', '-']));
}

/** nmap's "311" for our "3.1.1". */
const nmapName = (d: string): string => d.split('.').concat(['0']).slice(0, 3).join('');

function ids(h: HostReport): string[] {
  return h.findings.map((f) => `${f.id}:${f.severity}`).sort();
}

/** The scanner and nmap agree on the dialect list, SMB1, and the signing verdict of the highest dialect. */
function assertMatchesNmap(h: HostReport, n: NmapView): void {
  const ours = h.dialects.filter((d) => d.accepted).map((d) => nmapName(d.dialect));
  assert.deepEqual(ours, n.dialects, `dialects of ${h.host}: ours ${ours.join(',')} vs nmap ${n.dialects.join(',')}`);
  assert.equal(h.smb1?.accepted === true, n.smb1, `SMB1 of ${h.host}`);
  assert.ok(n.signing, `nmap gave a signing verdict for ${h.host}`);
  const top = h.dialects.find((d) => d.accepted && nmapName(d.dialect) === n.signing!.dialect);
  assert.ok(top, `our dialect ${n.signing!.dialect} on ${h.host}`);
  const nmapRequired = /enabled and required/.test(n.signing!.line);
  const nmapEnabled = !/disabled/.test(n.signing!.line);
  assert.equal(top.signingRequired, nmapRequired, `signing required on ${h.host}: nmap says "${n.signing!.line}"`);
  assert.equal(top.signingEnabled, nmapEnabled, `signing enabled on ${h.host}`);
}

describe('smbkit scan against Samba, smbkit and nmap', { timeout: 110_000 }, () => {
  const sambas: SambaServer[] = [];
  let smbkit: SmbkitServer | undefined;
  const reports = new Map<string, HostReport>();
  const nmaps = new Map<string, NmapView>();

  const configs: { address: string; ports?: number[]; global?: Record<string, string>; guest?: boolean }[] = [
    // SMB1 on (with the NetBIOS session service on 139).
    { address: '127.0.0.40', ports: [445, 139], global: { 'server min protocol': 'NT1', 'ntlm auth': 'yes' } },
    { address: '127.0.0.41', global: { 'server signing': 'mandatory' } },
    { address: '127.0.0.42', global: { 'server smb encrypt': 'required' } },
    { address: '127.0.0.43', global: { 'map to guest': 'bad user' }, guest: true },
    { address: '127.0.0.44', global: { 'server min protocol': 'SMB3_00', 'server max protocol': 'SMB3_02' } },
  ];

  before(async () => {
    const started = await Promise.allSettled(
      configs.map((c) =>
        startSamba({
          address: c.address,
          ports: c.ports ?? [445],
          users: [{ name: 'scan_user', password: 'Sc4n pass!' }],
          shares: [{ name: 'pub', guestOk: c.guest === true }],
          global: c.global ?? {},
        }),
      ),
    );
    for (const s of started) if (s.status === 'fulfilled') sambas.push(s.value);
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    smbkit = await startSmbkit({
      address: '127.0.0.45',
      users: [{ name: 'scan_user', password: 'Sc4n pass!' }],
      shares: [{ name: 'pub' }],
    });
    const targets = [...configs.map((c) => c.address), '127.0.0.45'];
    const [report, ...views] = await Promise.all([
      scan(
        targets.map((t) => ({ source: t, host: t, port: undefined })),
        { timeoutMs: TIMEOUT_MS, shares: ['pub'] },
      ),
      ...targets.map((t) => nmap(t)),
    ]);
    for (const h of report.hosts) reports.set(h.host, h);
    targets.forEach((t, i) => nmaps.set(t, views[i]!));
  });

  after(async () => {
    await Promise.allSettled([...sambas.map((s) => s.stop()), smbkit?.stop()]);
  });

  for (const address of ['127.0.0.40', '127.0.0.41', '127.0.0.42', '127.0.0.43', '127.0.0.44', '127.0.0.45']) {
    test(`${address}: dialects and signing equal nmap's`, (t) => {
      const h = reports.get(address)!;
      const n = nmaps.get(address)!;
      t.diagnostic(`scan: ${h.summary} | findings: ${ids(h).join(' ')} | anonymous: ${h.sessions.anonymous.detail}, guest: ${h.sessions.guest.detail}`);
      t.diagnostic(`nmap: ${n.smb1 ? 'SMBv1 ' : ''}${n.dialects.join(' ')} | ${n.signing?.dialect}: ${n.signing?.line}`);
      assert.equal(h.status, 'smb', h.summary);
      assertMatchesNmap(h, n);
    });
  }

  test('SMB1 on: smb1-enabled, NetBIOS open, signing not required', () => {
    const h = reports.get('127.0.0.40')!;
    assert.equal(h.smb1?.accepted, true);
    assert.equal(h.netbios?.state, 'positive');
    assert.deepEqual(h.dialects.map((d) => d.accepted), [true, true, true, true, true]);
    assert.deepEqual(ids(h), ['anonymous-access:medium', 'netbios-open:low', 'signing-not-required:medium', 'smb1-enabled:high']);
    assert.equal(h.ntlm?.netbiosComputerName, 'SMBKITREF0040');
    assert.match(h.ntlm?.osVersion ?? '', /^\d+\.\d+ build \d+$/);
    assert.match(h.serverGuid ?? '', /^[0-9a-f-]{36}$/);
    assert.ok(h.systemTime !== null && Math.abs(Date.parse(h.systemTime) - Date.now()) < 5 * 60_000);
  });

  test('signing required: no signing finding, SMB1 refused', () => {
    const h = reports.get('127.0.0.41')!;
    assert.equal(h.smb1?.accepted, false);
    assert.deepEqual(h.signing, { enabled: true, required: true });
    assert.ok(h.dialects.filter((d) => d.accepted).every((d) => d.signingRequired === true));
    assert.ok(!ids(h).some((f) => f.startsWith('signing-not-required') || f.startsWith('smb1') || f.startsWith('netbios')), ids(h).join());
    assert.equal(h.ports.length, 2);
    assert.equal(h.ports[1]!.state, 'closed');
  });

  test('encryption required: GCM ciphers accepted, no encryption finding', () => {
    const h = reports.get('127.0.0.42')!;
    const ciphers = h.smb311?.ciphers.filter((c) => c.accepted).map((c) => c.name);
    assert.ok(ciphers?.includes('aes-128-gcm'), String(ciphers));
    assert.ok(!ids(h).some((f) => f.startsWith('no-encryption') || f.startsWith('encryption-ccm-only')), ids(h).join());
    assert.ok(ids(h).includes('signing-not-required:medium'));
    assert.equal(h.sessions.guest.accepted, false);
  });

  test('guest on: guest-access high (reaches the guest share); guest off elsewhere', () => {
    const h = reports.get('127.0.0.43')!;
    assert.equal(h.sessions.guest.accepted, true);
    assert.ok(h.sessions.guest.reached.includes('pub'), h.sessions.guest.reached.join());
    assert.deepEqual(h.sessions.guest.flags, ['guest']);
    assert.ok(ids(h).includes('guest-access:high'), ids(h).join());
    for (const other of ['127.0.0.40', '127.0.0.41', '127.0.0.42', '127.0.0.44']) {
      const o = reports.get(other)!;
      assert.equal(o.sessions.guest.accepted, false, `${other}: ${o.sessions.guest.detail}`);
      assert.ok(!ids(o).some((f) => f.startsWith('guest-access')), `${other}: ${ids(o).join()}`);
    }
    // Until the client lists shares (srvsvc) the listing is "not checked"; once it can, the guest share is listed.
    if (h.shares.checked) assert.ok(h.shares.names.includes('pub'), h.shares.names.join());
    else assert.match(h.shares.detail, /not checked|listing failed/);
  });

  test('narrow range 3.0-3.0.2: only those dialects, CCM only, no 3.1.1 algorithms', () => {
    const h = reports.get('127.0.0.44')!;
    assert.deepEqual(h.dialects.filter((d) => d.accepted).map((d) => d.dialect), ['3.0', '3.0.2']);
    assert.equal(h.smb311, null);
    assert.equal(h.maxDialect, '3.0.2');
    assert.ok(h.capabilities.includes('encryption'));
    assert.ok(ids(h).includes('encryption-ccm-only:low'), ids(h).join());
    assert.ok(!ids(h).some((f) => f.startsWith('old-dialects-only')));
  });

  test('3.1.1 algorithms: one probe each, Samba accepts every cipher and signing algorithm', () => {
    const h = reports.get('127.0.0.40')!;
    assert.deepEqual(h.smb311?.ciphers.map((c) => c.accepted), [true, true, true, true]);
    assert.deepEqual(h.smb311?.signingAlgorithms.map((c) => c.accepted), [true, true, true]);
    assert.equal(h.smb311?.compressionAlgorithms.length, 5);
  });

  test("smbkit's defaults: no anonymous or guest access, signing required, no SMB1", () => {
    const h = reports.get('127.0.0.45')!;
    assert.equal(h.sessions.anonymous.accepted, false, h.sessions.anonymous.detail);
    assert.equal(h.sessions.guest.accepted, false, h.sessions.guest.detail);
    assert.deepEqual(ids(h).filter((f) => /anonymous|guest|signing|smb1/.test(f)), []);
  });

  test('no public exposure finding on loopback', () => {
    for (const h of reports.values()) {
      assert.equal(h.addressClass, 'loopback');
      assert.ok(!ids(h).some((f) => f.startsWith('public-exposure')));
    }
  });

  test('the CLI: --json has the schema, --fail-on high exits 3, --fail-on on a clean finding set exits 0', async () => {
    const root = repoRootFrom(import.meta.url);
    const bin = join(root, 'bin', 'smbkit.js');
    const out = await run(process.execPath, [bin, 'scan', '--json', '--timeout', String(TIMEOUT_MS), '127.0.0.41']);
    const j = JSON.parse(out) as { schema: string; hosts: HostReport[] };
    assert.equal(j.schema, 'smbkit-scan/1');
    assert.equal(j.hosts[0]!.host, '127.0.0.41');
    const code = await new Promise<number | null>((resolve) => {
      execFile(process.execPath, [bin, 'scan', '--fail-on', 'high', '--timeout', String(TIMEOUT_MS), '127.0.0.40'], (err) =>
        resolve(err ? ((err as { code?: number }).code ?? null) : 0),
      );
    });
    assert.equal(code, 3);
  });
});

describe('smbkit scan of things that are not SMB servers', { timeout: 60_000 }, () => {
  const HOST = '127.0.0.47';
  let http: HttpServer;
  let closer: Server;
  let silent: Server;
  const sockets = new Set<Socket>();
  const port = (s: Server | HttpServer): number => (s.address() as { port: number }).port;

  before(async () => {
    http = createHttpServer((_, res) => res.end('hello'));
    closer = createServer((s) => s.destroy());
    silent = createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    });
    for (const s of [http, closer, silent]) await new Promise<void>((resolve) => s.listen(0, HOST, resolve));
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await Promise.all([http, closer, silent].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  });

  const scanPort = (p: number): Promise<HostReport> => scanHost({ source: `${HOST}:${p}`, host: HOST, port: p }, { timeoutMs: 1000 });

  test('a closed port', async () => {
    const h = await scanPort(1);
    assert.equal(h.status, 'closed');
    assert.match(h.summary, /refused/);
    assert.deepEqual(h.findings, []);
  });

  test('a port speaking HTTP', async () => {
    const h = await scanPort(port(http));
    assert.equal(h.status, 'not-smb');
    assert.match(h.summary, /not SMB/);
    assert.equal(h.dialects.filter((d) => d.accepted).length, 0);
    assert.deepEqual(h.findings, []);
  });

  test('a server that closes at once', async () => {
    const h = await scanPort(port(closer));
    assert.equal(h.status, 'not-smb');
    assert.match(h.summary, /closed the connection/);
    assert.deepEqual(h.findings, []);
  });

  // Six probes, four at a time, each bounded by the timeout: the test's own limit catches a hang.
  test('a server that never answers', { timeout: 20_000 }, async () => {
    const h = await scanPort(port(silent));
    assert.equal(h.status, 'timeout');
    assert.match(h.summary, /no answer within 1000 ms/);
    assert.deepEqual(h.findings, []);
  });
});
