import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encryptionOffered, failsAt, hostFindings, sortFindings, type HostFacts } from '../../../src/scan/findings.js';
import { formatScan, styleFor } from '../../../src/scan/report.js';
import type { DialectName, DialectReport, Finding, ScanReport } from '../../../src/scan/types.js';

const ALL: DialectName[] = ['2.0.2', '2.1', '3.0', '3.0.2', '3.1.1'];

function dialects(accepted: DialectName[], required = false): DialectReport[] {
  return ALL.map((d) => ({
    dialect: d,
    accepted: accepted.includes(d),
    state: accepted.includes(d) ? 'accepted' : 'refused',
    detail: '',
    signingEnabled: accepted.includes(d) ? true : null,
    signingRequired: accepted.includes(d) ? required : null,
    capabilities: accepted.includes(d) && (d === '3.0' || d === '3.0.2') ? ['encryption'] : [],
  }));
}

const alg = (names: string[], on: string[]) => names.map((name, id) => ({ name, id, accepted: on.includes(name) }));
const CIPHERS = ['aes-128-ccm', 'aes-128-gcm', 'aes-256-ccm', 'aes-256-gcm'];

/** A hardened server: 3.0.2 and 3.1.1 only, signing required, GCM, no SMB1, no NetBIOS, no anonymous/guest. */
function host(over: Partial<HostFacts> = {}): HostFacts {
  return {
    target: '127.0.0.40',
    host: '127.0.0.40',
    address: '127.0.0.40',
    addressClass: 'loopback',
    status: 'smb',
    summary: '',
    ports: [
      { port: 445, role: 'smb', state: 'open', detail: '' },
      { port: 139, role: 'netbios', state: 'closed', detail: '' },
    ],
    netbios: null,
    smb1: { accepted: false, state: 'refused', detail: '', signingEnabled: null, signingRequired: null },
    dialects: dialects(['3.0.2', '3.1.1'], true),
    maxDialect: '3.1.1',
    signing: { enabled: true, required: true },
    capabilities: [],
    serverGuid: null,
    systemTime: null,
    bootTime: null,
    maxReadSize: null,
    maxWriteSize: null,
    maxTransactSize: null,
    mechanisms: [],
    smb311: { ciphers: alg(CIPHERS, CIPHERS), signingAlgorithms: [], compressionAlgorithms: [] },
    ntlm: null,
    sessions: {
      anonymous: { accepted: false, detail: 'refused', flags: [], reached: [] },
      guest: { accepted: false, detail: 'refused', flags: [], reached: [] },
    },
    shares: { checked: false, detail: 'not checked', names: [] },
    elapsedSeconds: 0,
    ...over,
  };
}

const ids = (h: HostFacts): string[] => hostFindings(h).map((f) => `${f.id}:${f.severity}`);

test('a hardened server has no findings', () => {
  assert.deepEqual(ids(host()), []);
});

test('each rule fires on its own', () => {
  assert.deepEqual(ids(host({ smb1: { accepted: true, state: 'accepted', detail: '', signingEnabled: true, signingRequired: true } })), ['smb1-enabled:high']);
  assert.deepEqual(ids(host({ addressClass: 'public', address: '203.0.113.5' })), ['public-exposure:high']);
  assert.deepEqual(ids(host({ addressClass: 'private' })), []);
  assert.deepEqual(ids(host({ dialects: dialects(['3.0.2', '3.1.1'], false), signing: { enabled: true, required: false } })), ['signing-not-required:medium']);
  assert.deepEqual(ids(host({ smb311: { ciphers: alg(CIPHERS, ['aes-128-ccm']), signingAlgorithms: [], compressionAlgorithms: [] } })), ['encryption-ccm-only:low']);
  assert.deepEqual(ids(host({ dialects: dialects(['3.1.1'], true), smb311: { ciphers: alg(CIPHERS, []), signingAlgorithms: [], compressionAlgorithms: [] } })), ['no-encryption:low']);
  assert.deepEqual(ids(host({ dialects: dialects(['3.0', '3.0.2'], true), smb311: null })), ['encryption-ccm-only:low']);
  assert.deepEqual(
    ids(host({ dialects: dialects(['2.0.2', '2.1'], true), smb311: null, maxDialect: '2.1' })),
    ['old-dialects-only:medium', 'no-encryption:low'],
  );
  assert.deepEqual(
    ids(host({ ports: [{ port: 445, role: 'smb', state: 'open', detail: '' }, { port: 139, role: 'netbios', state: 'open', detail: '' }] })),
    ['netbios-open:low'],
  );
});

test('anonymous and guest access: medium for IPC$ only, high when another share is reached', () => {
  const s = (reached: string[]) => ({ accepted: true, detail: 'accepted', flags: [] as ('guest' | 'null' | 'encrypt')[], reached });
  const refused = { accepted: false, detail: 'refused', flags: [], reached: [] };
  assert.deepEqual(ids(host({ sessions: { anonymous: s(['IPC$']), guest: refused } })), ['anonymous-access:medium']);
  assert.deepEqual(ids(host({ sessions: { anonymous: s([]), guest: refused } })), ['anonymous-access:medium']);
  assert.deepEqual(ids(host({ sessions: { anonymous: refused, guest: s(['IPC$', 'pub']) } })), ['guest-access:high']);
  assert.deepEqual(
    ids(host({ sessions: { anonymous: s(['IPC$']), guest: refused }, shares: { checked: true, detail: '', names: ['data'] } })),
    ['anonymous-access:medium'],
  );
  assert.deepEqual(ids(host({ sessions: { anonymous: s(['IPC$', 'ADMIN$']), guest: refused } })), ['anonymous-access:high']);
  assert.deepEqual(ids(host({ sessions: { anonymous: { accepted: null, detail: 'no answer', flags: [], reached: [] }, guest: refused } })), []);
});

test('SMB1-only servers: SMB1, signing and old-dialect findings', () => {
  const h = host({
    dialects: dialects([]),
    smb311: null,
    signing: null,
    maxDialect: null,
    smb1: { accepted: true, state: 'accepted', detail: '', signingEnabled: false, signingRequired: false },
  });
  assert.deepEqual(ids(h), ['smb1-enabled:high', 'old-dialects-only:medium', 'signing-not-required:medium', 'no-encryption:low']);
  assert.equal(encryptionOffered(h), 'none');
});

test('hosts without SMB have no findings', () => {
  const closed = host({ status: 'closed', ports: [{ port: 445, role: 'smb', state: 'closed', detail: '' }], smb1: null, dialects: [], smb311: null, signing: null });
  assert.deepEqual(ids(closed), []);
  assert.deepEqual(ids({ ...closed, addressClass: 'public' }), []);
});

test('--fail-on thresholds and ordering', () => {
  const f = (severity: Finding['severity']): Finding => ({ id: severity, severity, title: '', detail: '', remedy: '' });
  assert.equal(failsAt([f('low')], 'low'), true);
  assert.equal(failsAt([f('low')], 'medium'), false);
  assert.equal(failsAt([f('medium')], 'medium'), true);
  assert.equal(failsAt([f('medium')], 'high'), false);
  assert.equal(failsAt([f('high')], 'low'), true);
  assert.equal(failsAt([], 'low'), false);
  assert.deepEqual(sortFindings([f('low'), f('high'), f('medium')]).map((x) => x.severity), ['high', 'medium', 'low']);
});

test('every finding has a one-line title, detail and remedy', () => {
  const worst = host({
    addressClass: 'public',
    smb1: { accepted: true, state: 'accepted', detail: '', signingEnabled: false, signingRequired: false },
    dialects: dialects(['2.0.2', '2.1']),
    signing: { enabled: true, required: false },
    smb311: null,
    ports: [{ port: 445, role: 'smb', state: 'open', detail: '' }, { port: 139, role: 'netbios', state: 'open', detail: '' }],
    sessions: { anonymous: { accepted: true, detail: '', flags: ['null'], reached: ['IPC$'] }, guest: { accepted: true, detail: '', flags: ['guest'], reached: ['pub'] } },
  });
  const all = hostFindings(worst);
  assert.equal(all.length, 8);
  for (const x of all) for (const s of [x.title, x.detail, x.remedy]) assert.ok(s.length > 0 && !s.includes('\n'), x.id);
});

test('text output: colour only on a TTY without NO_COLOR', () => {
  assert.deepEqual(styleFor({ isTTY: true }, {}), { color: true });
  assert.deepEqual(styleFor({ isTTY: true }, { NO_COLOR: '1' }), { color: false });
  assert.deepEqual(styleFor({ isTTY: false }, {}), { color: false });
  assert.deepEqual(styleFor({}, {}), { color: false });
  const h = { ...host({ smb1: { accepted: true, state: 'accepted', detail: '', signingEnabled: true, signingRequired: true } }), findings: [] as Finding[] };
  h.findings = hostFindings(h);
  const report: ScanReport = {
    schema: 'smbkit-scan/1',
    startedAt: '',
    finishedAt: '',
    options: { timeoutMs: 1, concurrency: 1, sessions: true, shares: [] },
    hosts: [h],
    counts: { high: 1, medium: 0, low: 0 },
  };
  const plain = formatScan(report, { color: false });
  assert.ok(!plain.includes('\x1b['));
  assert.match(plain, /HIGH\s+SMB1 is enabled/);
  assert.match(plain, /fix: disable SMB1/);
  assert.match(plain, /1 high, 0 medium, 0 low/);
  assert.ok(formatScan(report, { color: true }).includes('\x1b[31m'));
});
