import { readFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { MemoryUserStore } from '../auth/users.js';
import { readUsersFile, UsersFileError, type UsersFileEntry } from '../auth/users-file.js';
import { LocalStore } from '../store/local.js';
import { MemoryStore } from '../store/memory.js';
import type { ListenAddress, ServerConfig, ShareOptions } from '../server/server.js';
import { Cipher } from '../protocol/smb2/constants.js';
import { parseCidr } from '../util/cidr.js';
import type { AccessPolicy } from '../server/access.js';
import { ConfigError, DEFAULT_PORT, DIALECT_CODES, parseConfig, ServerSection, type ConfigFileData } from './schema.js';

const CIPHER_CODES = {
  'aes-128-gcm': Cipher.AES128_GCM,
  'aes-256-gcm': Cipher.AES256_GCM,
  'aes-128-ccm': Cipher.AES128_CCM,
  'aes-256-ccm': Cipher.AES256_CCM,
} as const;

/** Reads a users file for the server; its problems (permissions, a bad line) become ConfigError. */
export async function loadUsersFileEntries(file: string): Promise<UsersFileEntry[]> {
  try {
    return await readUsersFile(file);
  } catch (err) {
    if (err instanceof UsersFileError) throw new ConfigError(err.message);
    throw err;
  }
}

/** Builds the server's resolved configuration from a validated config file (and the users file's accounts). */
export function serverConfigFrom(data: ConfigFileData, fileUsers: readonly UsersFileEntry[] = []): ServerConfig {
  const users = new MemoryUserStore();
  for (const u of fileUsers) users.addHash(u.name, u.ntHash);
  for (const u of data.user) {
    if (users.lookup(u.name)) throw new ConfigError(`user ${u.name} is both in [[user]] and in the users file`);
    if (u.password !== undefined) users.add(u.name, u.password);
    else users.addHash(u.name, Buffer.from(u.nt_hash!, 'hex'));
  }
  const shares: ShareOptions[] = data.share.map((s) => {
    const share: ShareOptions = { name: s.name, readOnly: s.read_only, guest: s.guest, comment: s.comment, encrypt: s.encrypt, continuousAvailability: s.continuous_availability };
    if (s.type === 'printer') {
      share.printer = { spoolDir: resolve(s.path!), commandTimeoutMs: s.print_command_timeout * 1000, ...(s.print_command ? { command: s.print_command } : {}) };
    }
    // Several workers serve one root: they share its per-file records (`smbkit serve` resolves "auto" to a number
    // first; a server built in-process from "auto" is one process).
    else share.store = s.type === 'memory' ? new MemoryStore() : new LocalStore(s.path!, { readOnly: s.read_only, shared: typeof data.server.workers === 'number' && data.server.workers > 1 });
    for (const u of s.users ?? []) if (!users.lookup(u)) throw new ConfigError(`share ${s.name}: unknown user ${u}`);
    if (s.hosts_allow) share.hostsAllow = s.hosts_allow.map(parseCidr);
    if (s.hosts_deny.length) share.hostsDeny = s.hosts_deny.map(parseCidr);
    if (s.users) share.users = s.users;
    return share;
  });
  return {
    name: data.server.name,
    domain: data.server.domain,
    listen: data.server.listen ? data.server.listen.map(parseListen) : defaultListenAddresses(DEFAULT_PORT),
    netbiosListen: data.server.netbios_listen.map(parseListen),
    minDialect: DIALECT_CODES[data.server.min_dialect],
    maxDialect: DIALECT_CODES[data.server.max_dialect],
    signingRequired: data.server.signing === 'required',
    encryption: data.server.encryption,
    ciphers: data.server.ciphers.map((c) => CIPHER_CODES[c]),
    maxIoSize: data.server.max_io_size,
    cryptoThreads: data.server.crypto_threads,
    maxCredits: data.server.max_credits,
    users,
    allowGuest: data.share.some((s) => s.guest),
    allowAnonymous: data.server.anonymous,
    multichannel: data.server.multichannel,
    shares,
    logLevel: data.server.log_level,
    access: accessPolicyFrom(data.server),
    discovery: {
      netbiosNameService: data.server.netbios_name_service,
      mdns: data.server.mdns,
      mdnsModel: data.server.mdns_model,
      wsDiscovery: data.server.wsdiscovery,
    },
    durable: {
      enabled: data.server.durable_handles,
      defaultTimeoutMs: data.server.durable_handle_timeout * 1000,
      maxTimeoutMs: Math.max(data.server.durable_handle_max_timeout, data.server.durable_handle_timeout) * 1000,
    },
    ...(data.server.audit_log !== undefined ? { auditLog: data.server.audit_log } : {}),
    ...(data.server.state_dir !== undefined ? { stateDir: resolve(data.server.state_dir) } : {}),
  };
}

/** The access policy a [server] section describes. */
export function accessPolicyFrom(server: ConfigFileData['server']): AccessPolicy {
  return {
    hostsAllow: server.hosts_allow?.map(parseCidr),
    hostsDeny: server.hosts_deny.map(parseCidr),
    maxConnections: server.max_connections,
    maxConnectionsPerClient: server.max_connections_per_client,
    connectionRatePerClient: server.connection_rate_per_client,
    connectionBurstPerClient: server.connection_burst_per_client,
    connectionBacklogPerClient: server.connection_backlog_per_client,
    maxSessionsPerConnection: server.max_sessions_per_connection,
    maxOpensPerSession: server.max_opens_per_session,
    handshakeTimeoutMs: server.handshake_timeout * 1000,
    idleTimeoutMs: server.idle_timeout * 1000,
    maxOutstandingRequests: server.max_outstanding_requests,
    maxPendingLocksPerSession: server.max_pending_locks_per_session,
    maxPendingNotifiesPerSession: server.max_pending_notifies_per_session,
    maxDiskWatchers: server.max_disk_watchers,
    breakTimeoutMs: server.oplock_break_timeout * 1000,
    maxBreaksPerConnection: server.max_outstanding_breaks,
    bruteForce: {
      failures: server.brute_force_failures,
      windowMs: server.brute_force_window * 1000,
      delayMs: server.brute_force_delay_ms,
      blockMs: server.brute_force_block * 1000,
    },
  };
}

/** The defaults of every access setting (for servers built through the API without a config file). */
export function defaultAccessPolicy(): AccessPolicy {
  return accessPolicyFrom(ServerSection.parse({}));
}

/** Reads and validates a TOML configuration file. */
export async function loadConfigFile(file: string): Promise<ConfigFileData> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read ${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (err) {
    throw new ConfigError(`${file}: not valid TOML: ${(err as Error).message}`);
  }
  return parseConfig(raw);
}

/** `ADDR:PORT` or `[v6]:PORT`. */
export function parseListen(s: string): ListenAddress {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:]+):(\d+)$/.exec(s);
  if (!m) throw new ConfigError(`listen address ${s}: expected ADDRESS:PORT`);
  const port = Number(m[2]);
  if (port < 0 || port > 65535) throw new ConfigError(`listen address ${s}: bad port`);
  return { host: m[1]!, port };
}

/** Loopback and private-range addresses only (RFC 1918, link-local, IPv6 ULA): never a public one by default. */
export function isPrivateAddress(addr: string): boolean {
  const a = addr.toLowerCase().split('%')[0]!;
  if (isIP(a) === 4) {
    const [x, y] = a.split('.').map(Number) as [number, number];
    return x === 127 || x === 10 || (x === 172 && y >= 16 && y <= 31) || (x === 192 && y === 168) || (x === 169 && y === 254);
  }
  if (isIP(a) === 6) {
    return a === '::1' || a.startsWith('fe8') || a.startsWith('fe9') || a.startsWith('fea') || a.startsWith('feb') || a.startsWith('fc') || a.startsWith('fd');
  }
  return false;
}

/** The default listeners: every local loopback or private address, on `port`. */
export function defaultListenAddresses(port: number): ListenAddress[] {
  const out: ListenAddress[] = [];
  for (const [ifname, addrs] of Object.entries(networkInterfaces())) {
    for (const a of addrs ?? []) {
      if (!isPrivateAddress(a.address)) continue;
      const host = a.family === 'IPv6' && a.address.toLowerCase().startsWith('fe80') ? `${a.address}%${ifname}` : a.address;
      out.push({ host, port });
    }
  }
  return out.length > 0 ? out : [{ host: '127.0.0.1', port }];
}
