/**
 * The exposure scan of one host and of many: ports, NetBIOS, SMB1, each SMB2/3 dialect on its own connection,
 * 3.1.1 algorithms one probe each, the NTLM CHALLENGE's target info, and anonymous/guest sessions through the
 * client library. Hosts run with bounded concurrency; probes of one host run a few at a time.
 */
import { randomBytes } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { connect } from '../client/client.js';
import type { SmbError } from '../errors.js';
import { CompressionAlgorithm } from '../protocol/smb2/contexts/negotiate-contexts.js';
import { Cipher, Dialect, GlobalCapabilities, SecurityMode, SessionFlags, SigningAlgorithm } from '../protocol/smb2/constants.js';
import type { NegotiateResponse } from '../protocol/smb2/commands/negotiate.js';
import { filetimeToMs } from '../util/filetime.js';
import { guidToString } from '../util/guid.js';
import { hostFindings, type HostFacts } from './findings.js';
import {
  probeNegotiate,
  probeNetbiosSession,
  probeNtlmChallenge,
  probeSmb1,
  probeTcpPort,
  type NegotiateProbeResult,
  type Smb311Offer,
} from './probes.js';
import { classifyAddress, type Target } from './targets.js';
import type { AlgorithmReport, DialectName, DialectReport, HostReport, PortReport, ScanReport, SessionReport, Severity } from './types.js';

export interface ScanOptions {
  /** Per-probe timeout (connect, and each answer), ms. Default 3000. */
  timeoutMs?: number;
  /** Hosts scanned at once. Default 16. */
  concurrency?: number;
  /** Connections one host's probes use at once. Default 4. */
  probeConcurrency?: number;
  /** Try anonymous and guest sessions (default true). */
  sessions?: boolean;
  /** Share names to try a TREE_CONNECT to with the anonymous/guest sessions (IPC$ is always tried). */
  shares?: string[];
  /** Called after each host. */
  onHost?: ((done: number, total: number, host: HostReport) => void) | undefined;
}

export const DEFAULT_TIMEOUT_MS = 3000;
export const DEFAULT_CONCURRENCY = 16;

export const DIALECT_PROBES: readonly { name: DialectName; value: number }[] = [
  { name: '2.0.2', value: Dialect.SMB202 },
  { name: '2.1', value: Dialect.SMB210 },
  { name: '3.0', value: Dialect.SMB300 },
  { name: '3.0.2', value: Dialect.SMB302 },
  { name: '3.1.1', value: Dialect.SMB311 },
];

export const CIPHER_NAMES: readonly { name: string; id: number }[] = [
  { name: 'aes-128-ccm', id: Cipher.AES128_CCM },
  { name: 'aes-128-gcm', id: Cipher.AES128_GCM },
  { name: 'aes-256-ccm', id: Cipher.AES256_CCM },
  { name: 'aes-256-gcm', id: Cipher.AES256_GCM },
];
export const SIGNING_NAMES: readonly { name: string; id: number }[] = [
  { name: 'hmac-sha256', id: SigningAlgorithm.HMAC_SHA256 },
  { name: 'aes-cmac', id: SigningAlgorithm.AES_CMAC },
  { name: 'aes-gmac', id: SigningAlgorithm.AES_GMAC },
];
export const COMPRESSION_NAMES: readonly { name: string; id: number }[] = [
  { name: 'lznt1', id: CompressionAlgorithm.LZNT1 },
  { name: 'lz77', id: CompressionAlgorithm.LZ77 },
  { name: 'lz77+huffman', id: CompressionAlgorithm.LZ77_HUFFMAN },
  { name: 'pattern-v1', id: CompressionAlgorithm.PATTERN_V1 },
  { name: 'lz4', id: CompressionAlgorithm.LZ4 },
];

export const CAPABILITY_NAMES: readonly { name: string; bit: number }[] = [
  { name: 'dfs', bit: GlobalCapabilities.DFS },
  { name: 'leasing', bit: GlobalCapabilities.LEASING },
  { name: 'large-mtu', bit: GlobalCapabilities.LARGE_MTU },
  { name: 'multichannel', bit: GlobalCapabilities.MULTI_CHANNEL },
  { name: 'persistent-handles', bit: GlobalCapabilities.PERSISTENT_HANDLES },
  { name: 'directory-leasing', bit: GlobalCapabilities.DIRECTORY_LEASING },
  { name: 'encryption', bit: GlobalCapabilities.ENCRYPTION },
  { name: 'notifications', bit: GlobalCapabilities.NOTIFICATIONS },
];

export function capabilityNames(caps: number): string[] {
  return CAPABILITY_NAMES.filter((c) => (caps & c.bit) !== 0).map((c) => c.name);
}

/** Runs `fn` over `items`, at most `limit` at once, keeping the order of results. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

function isoFromFiletime(ft: bigint): string | null {
  if (ft === 0n) return null;
  const ms = filetimeToMs(ft);
  return Number.isFinite(ms) && ms > 0 && ms < 8.64e15 ? new Date(ms).toISOString() : null;
}

function dialectReport(name: DialectName, r: NegotiateProbeResult): DialectReport {
  const res = r.state === 'accepted' ? r.response : undefined;
  return {
    dialect: name,
    accepted: res !== undefined,
    state: r.state,
    detail: r.detail,
    signingEnabled: res ? (res.securityMode & SecurityMode.SIGNING_ENABLED) !== 0 : null,
    signingRequired: res ? (res.securityMode & SecurityMode.SIGNING_REQUIRED) !== 0 : null,
    capabilities: res ? capabilityNames(res.capabilities) : [],
  };
}

/** Which of the offered algorithm ids the 3.1.1 response accepted (the context lists the server's choice). */
function acceptedIn(res: NegotiateResponse | undefined, kind: 'encryption' | 'signing' | 'compression', id: number): boolean {
  if (res === undefined) return false;
  for (const c of res.negotiateContexts) {
    if (kind === 'encryption' && c.kind === 'encryption') return c.ciphers.includes(id);
    if (kind === 'signing' && c.kind === 'signing') return c.signingAlgorithms.includes(id);
    if (kind === 'compression' && c.kind === 'compression') return c.compressionAlgorithms.includes(id);
  }
  return false;
}

function sessionFlagNames(flags: number): SessionReport['flags'] {
  const out: SessionReport['flags'] = [];
  if (flags & SessionFlags.IS_GUEST) out.push('guest');
  if (flags & SessionFlags.IS_NULL) out.push('null');
  if (flags & SessionFlags.ENCRYPT_DATA) out.push('encrypt');
  return out;
}

/**
 * The session probes run only against servers that answered NEGOTIATE; share listing there may start an RPC
 * service on demand (Samba's samba-dcerpcd), which takes seconds, so they wait at least this long.
 */
const SESSION_MIN_TIMEOUT_MS = 10_000;

const notChecked = (detail: string): SessionReport => ({ accepted: null, detail, flags: [], reached: [] });

interface ListedShare {
  name: string;
}

async function trySession(
  host: string,
  port: number,
  kind: 'anonymous' | 'guest',
  timeoutMs: number,
  shareNames: readonly string[],
): Promise<{ session: SessionReport; listed: { checked: boolean; detail: string; names: string[] } }> {
  const creds = kind === 'anonymous' ? { user: '' } : { user: `smbkit-scan-${randomBytes(4).toString('hex')}`, password: randomBytes(12).toString('base64') };
  const unlisted = { checked: false, detail: 'not checked', names: [] as string[] };
  let client;
  try {
    client = await connect({ host, port, ...creds, timeoutMs: Math.max(timeoutMs, SESSION_MIN_TIMEOUT_MS), signing: 'desired' });
  } catch (e) {
    const err = e as Partial<SmbError> & Error;
    const refused = typeof err.status === 'number';
    return { session: { accepted: refused ? false : null, detail: refused ? `refused: ${err.statusName}` : `no session: ${err.message}`, flags: [], reached: [] }, listed: unlisted };
  }
  try {
    // The session's flags are not part of ClientInfo; read them where the client keeps them.
    const flags = (client as unknown as { session?: { flags?: unknown } }).session?.flags;
    let listed = unlisted;
    const names = new Set<string>(['IPC$', ...shareNames]);
    try {
      const shares = (await (client as unknown as { listShares(): Promise<unknown> }).listShares()) as unknown;
      if (Array.isArray(shares)) {
        const list = shares.map((s) => (typeof s === 'string' ? s : (s as ListedShare).name)).filter((s): s is string => typeof s === 'string');
        listed = { checked: true, detail: `${list.length} share(s) listed`, names: list };
        for (const n of list) names.add(n);
      }
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      listed = { checked: false, detail: code === 'ENOTSUP' ? 'not checked (share listing needs srvsvc, not implemented)' : `listing failed: ${(e as Error).message}`, names: [] };
    }
    const reached: string[] = [];
    for (const n of names) {
      try {
        await client.share(n).connect();
        reached.push(n);
      } catch {
        // refused or unreachable: not reached
      }
    }
    return {
      session: {
        accepted: true,
        detail: `session accepted${typeof flags === 'number' && flags & (SessionFlags.IS_GUEST | SessionFlags.IS_NULL) ? ` as ${sessionFlagNames(flags).join('+')}` : ''}`,
        flags: typeof flags === 'number' ? sessionFlagNames(flags) : [],
        reached,
      },
      listed,
    };
  } finally {
    await client.close().catch(() => undefined);
  }
}

async function resolve(host: string, timeoutMs: number): Promise<string | undefined> {
  if (isIP(host) !== 0) return host;
  let timer: NodeJS.Timeout | undefined;
  try {
    const r = await Promise.race([
      lookup(host),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), timeoutMs);
      }),
    ]);
    return r.address;
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

/** Scans one host; never throws for network reasons. */
export async function scanHost(target: Target, o: ScanOptions = {}): Promise<HostReport> {
  const started = Date.now();
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const limit = o.probeConcurrency ?? 4;
  const smbPort = target.port ?? 445;
  const netbiosPort = target.port === undefined ? 139 : undefined;
  const base: HostFacts = {
    target: target.source,
    host: target.host,
    address: null,
    addressClass: 'unknown',
    status: 'error',
    summary: '',
    ports: [],
    netbios: null,
    smb1: null,
    dialects: [],
    maxDialect: null,
    signing: null,
    capabilities: [],
    serverGuid: null,
    systemTime: null,
    bootTime: null,
    maxReadSize: null,
    maxWriteSize: null,
    maxTransactSize: null,
    mechanisms: [],
    smb311: null,
    ntlm: null,
    sessions: { anonymous: notChecked('not checked'), guest: notChecked('not checked') },
    shares: { checked: false, detail: 'not checked', names: [] },
    elapsedSeconds: 0,
  };
  const finish = (h: HostFacts): HostReport => {
    h.elapsedSeconds = Math.round((Date.now() - started) / 100) / 10;
    return { ...h, findings: hostFindings(h) };
  };

  const address = await resolve(target.host, timeoutMs);
  if (address === undefined) {
    return finish({ ...base, status: 'unreachable', summary: `${target.host} does not resolve` });
  }
  const h: HostFacts = { ...base, address, addressClass: classifyAddress(address) };

  const portList: { port: number; role: 'smb' | 'netbios' }[] = [{ port: smbPort, role: 'smb' }];
  if (netbiosPort !== undefined) portList.push({ port: netbiosPort, role: 'netbios' });
  h.ports = await Promise.all(
    portList.map(async ({ port, role }): Promise<PortReport> => {
      const r = await probeTcpPort(address, port, timeoutMs);
      return { port, role, state: r.state, detail: r.detail };
    }),
  );
  const smb = h.ports[0]!;
  const nb = h.ports[1];

  if (nb?.state === 'open') {
    const r = await probeNetbiosSession(address, nb.port, timeoutMs);
    h.netbios = { state: r.state, detail: r.detail };
  }

  if (smb.state !== 'open') {
    h.status = smb.state === 'not-checked' ? 'error' : smb.state;
    h.summary = `port ${smbPort}: ${smb.detail}`;
    if (nb?.state === 'open') h.summary += `; port ${nb.port} open (${h.netbios?.detail ?? 'NetBIOS'})`;
    return finish(h);
  }

  // SMB1 and each dialect on a fresh connection.
  const jobs: (() => Promise<void>)[] = [];
  const dialectResults = new Map<DialectName, NegotiateProbeResult>();
  jobs.push(async () => {
    const r = await probeSmb1(address, smbPort, timeoutMs);
    h.smb1 = { accepted: r.state === 'accepted' ? true : r.state === 'refused' ? false : null, state: r.state, detail: r.detail, signingEnabled: r.signingEnabled, signingRequired: r.signingRequired };
  });
  for (const d of DIALECT_PROBES) {
    jobs.push(async () => {
      dialectResults.set(d.name, await probeNegotiate(address, smbPort, [d.value], timeoutMs));
    });
  }
  await mapLimit(jobs, limit, (j) => j());
  h.dialects = DIALECT_PROBES.map((d) => dialectReport(d.name, dialectResults.get(d.name)!));
  const accepted = DIALECT_PROBES.filter((d) => dialectResults.get(d.name)?.state === 'accepted');
  const responses = accepted.map((d) => dialectResults.get(d.name)!.response!);

  if (responses.length > 0) {
    const last = responses[responses.length - 1]!;
    h.maxDialect = accepted[accepted.length - 1]!.name;
    h.signing = {
      enabled: responses.every((r) => (r.securityMode & SecurityMode.SIGNING_ENABLED) !== 0),
      required: responses.every((r) => (r.securityMode & SecurityMode.SIGNING_REQUIRED) !== 0),
    };
    h.capabilities = capabilityNames(responses.reduce((a, r) => a | r.capabilities, 0));
    h.serverGuid = guidToString(last.serverGuid);
    h.systemTime = isoFromFiletime(last.systemTime);
    h.bootTime = isoFromFiletime(last.serverStartTime);
    h.maxReadSize = last.maxReadSize;
    h.maxWriteSize = last.maxWriteSize;
    h.maxTransactSize = last.maxTransactSize;
  }

  const post: (() => Promise<void>)[] = [];
  const listings: HostFacts['shares'][] = [];
  if (dialectResults.get('3.1.1')?.state === 'accepted') {
    const smb311 = { ciphers: [] as AlgorithmReport[], signingAlgorithms: [] as AlgorithmReport[], compressionAlgorithms: [] as AlgorithmReport[] };
    h.smb311 = smb311;
    const algo = (list: AlgorithmReport[], kind: 'encryption' | 'signing' | 'compression', name: string, id: number, offer: Smb311Offer) => {
      const entry: AlgorithmReport = { name, id, accepted: null };
      list.push(entry);
      post.push(async () => {
        const r = await probeNegotiate(address, smbPort, [Dialect.SMB311], timeoutMs, offer);
        entry.accepted = r.state === 'accepted' ? acceptedIn(r.response, kind, id) : r.state === 'refused' ? false : null;
      });
    };
    for (const c of CIPHER_NAMES) algo(smb311.ciphers, 'encryption', c.name, c.id, { ciphers: [c.id] });
    for (const s of SIGNING_NAMES) algo(smb311.signingAlgorithms, 'signing', s.name, s.id, { signingAlgorithms: [s.id] });
    for (const c of COMPRESSION_NAMES) algo(smb311.compressionAlgorithms, 'compression', c.name, c.id, { compressionAlgorithms: [c.id] });
  }
  if (accepted.length > 0) {
    post.push(async () => {
      const r = await probeNtlmChallenge(address, smbPort, accepted.map((d) => d.value), timeoutMs);
      h.mechanisms = r.mechanisms;
      if (r.info) h.ntlm = { ...r.info, timestamp: r.info.timestamp === null ? null : isoFromFiletime(r.info.timestamp) };
    });
    if (o.sessions !== false) {
      for (const kind of ['anonymous', 'guest'] as const) {
        post.push(async () => {
          const r = await trySession(address, smbPort, kind, timeoutMs, o.shares ?? []);
          h.sessions[kind] = r.session;
          if (r.session.accepted === true) listings.push(r.listed);
        });
      }
    } else {
      h.sessions = { anonymous: notChecked('not checked (--no-sessions)'), guest: notChecked('not checked (--no-sessions)') };
    }
  }
  await mapLimit(post, limit, (j) => j());
  h.shares = listings.find((l) => l.checked) ?? listings[0] ?? h.shares;

  if (responses.length > 0 || h.smb1?.accepted === true) {
    h.status = 'smb';
    const parts: string[] = [];
    parts.push(accepted.length > 0 ? `SMB ${accepted.map((d) => d.name).join(', ')}` : 'no SMB2/3 dialect');
    parts.push(h.smb1?.accepted ? 'SMB1 on' : 'SMB1 off');
    if (h.signing) parts.push(h.signing.required ? 'signing required' : h.signing.enabled ? 'signing not required' : 'signing disabled');
    h.summary = parts.join('; ');
  } else {
    // Port open but nothing spoke SMB: say what happened plainly.
    const failures = [...dialectResults.values(), ...(h.smb1 ? [{ state: h.smb1.state, detail: h.smb1.detail }] : [])];
    const worst = failures.find((f) => f.state === 'not-smb') ?? failures.find((f) => f.state === 'timeout') ?? failures[0];
    h.status = worst?.state === 'timeout' ? 'timeout' : worst?.state === 'not-smb' ? 'not-smb' : 'not-smb';
    h.summary = `port ${smbPort} open but no SMB answer: ${worst?.detail ?? 'nothing'}`;
  }
  return finish(h);
}

/** Scans every target with bounded concurrency. */
export async function scan(targets: readonly Target[], o: ScanOptions = {}): Promise<ScanReport> {
  const startedAt = new Date().toISOString();
  let done = 0;
  const hosts = await mapLimit(targets, o.concurrency ?? DEFAULT_CONCURRENCY, async (t) => {
    const r = await scanHost(t, o);
    done++;
    o.onHost?.(done, targets.length, r);
    return r;
  });
  const counts: Record<Severity, number> = { high: 0, medium: 0, low: 0 };
  for (const h of hosts) for (const f of h.findings) counts[f.severity]++;
  return {
    schema: 'smbkit-scan/1',
    startedAt,
    finishedAt: new Date().toISOString(),
    options: {
      timeoutMs: o.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      concurrency: o.concurrency ?? DEFAULT_CONCURRENCY,
      sessions: o.sessions !== false,
      shares: o.shares ?? [],
    },
    hosts,
    counts,
  };
}
