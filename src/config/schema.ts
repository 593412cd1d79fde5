import { z } from 'zod';
import { parseCidr } from '../util/cidr.js';
import { PRINT_PLACEHOLDERS, unknownPlaceholders } from '../server/print/spooler.js';

/**
 * The server's configuration: the TOML file's schema, and every default. Nothing else in smbkit chooses a
 * default for a server setting; the CLI builds the same object from its flags.
 */

export const DIALECT_NAMES = ['2.0.2', '2.1', '3.0', '3.0.2', '3.1.1'] as const;
export type DialectName = (typeof DIALECT_NAMES)[number];
export const DIALECT_CODES: Record<DialectName, number> = {
  '2.0.2': 0x0202,
  '2.1': 0x0210,
  '3.0': 0x0300,
  '3.0.2': 0x0302,
  '3.1.1': 0x0311,
};

const listenAddr = z
  .string()
  .regex(/^(\[[0-9a-fA-F:.]+\]|[0-9.]+|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected ADDRESS:PORT (IPv6 as [addr]:port)');

const cidr = z.string().refine((s) => {
  try {
    parseCidr(s);
    return true;
  } catch {
    return false;
  }
}, 'expected an IPv4/IPv6 address or CIDR range (10.0.0.0/8, fd00::/8)');

const shareName = z
  .string()
  .min(1)
  .max(80)
  .regex(/^[^\\/:*?"<>|\x00-\x1f]+$/, 'share names cannot contain \\ / : * ? " < > | or control characters')
  .refine((n) => n.toUpperCase() !== 'IPC$', 'IPC$ is built in');

export const ServerSection = z
  .object({
    name: z.string().min(1).max(15).regex(/^[A-Za-z0-9!@#$%^&()\-'{}._~]+$/, 'not a valid NetBIOS name').default('SMBKIT'),
    domain: z.string().min(1).max(15).default('WORKGROUP'),
    listen: z.array(listenAddr).optional(),
    netbios_listen: z.array(listenAddr).default([]),
    min_dialect: z.enum(DIALECT_NAMES).default('2.0.2'),
    max_dialect: z.enum(DIALECT_NAMES).default('3.1.1'),
    signing: z.enum(['enabled', 'required']).default('required'),
    /**
     * SMB 3 encryption: "off" negotiates no cipher; "enabled" negotiates one and encrypts whenever the client
     * does (or a share requires it); "desired" encrypts every session whose client can; "required" refuses
     * sessions that cannot encrypt.
     */
    encryption: z.enum(['off', 'enabled', 'desired', 'required']).default('enabled'),
    /** Ciphers offered to 3.1.1 clients, in the server's order of preference. */
    ciphers: z
      .array(z.enum(['aes-128-gcm', 'aes-256-gcm', 'aes-128-ccm', 'aes-256-ccm']))
      .min(1)
      .default(['aes-128-gcm', 'aes-256-gcm', 'aes-128-ccm', 'aes-256-ccm']),
    /** Largest READ/WRITE/TRANSACT the server offers (MaxReadSize etc.), bytes. */
    max_io_size: z.number().int().min(65536).max(8 * 1024 * 1024).default(8 * 1024 * 1024),
    /**
     * Worker threads that encrypt, decrypt, sign and verify large messages (64 KiB and up), so one connection's
     * 8 MiB READ does not hold up the others: "auto" = one fewer than the processors (1 to 4); 0 = all inline.
     */
    crypto_threads: z.union([z.literal('auto'), z.number().int().min(0).max(64)]).default('auto'),
    /**
     * Processes that serve connections: "auto" (default) = one per processor, 1 = the primary serves them itself
     * (as does "auto" on one processor, or with a memory share). With more, the primary admits each connection and
     * hands it to a worker (server/workers/pool.ts).
     */
    workers: z.union([z.literal('auto'), z.number().int().min(1).max(256)]).default('auto'),
    /**
     * With several workers: connections a worker takes before the next one gets any, while its event loop is less
     * than half busy (server/workers/pool.ts `placeConnection`); 1 spreads connections evenly from the first.
     */
    worker_fill: z.number().int().min(1).max(65536).default(16),
    /** Credits a connection may hold at once. */
    max_credits: z.number().int().min(16).max(65535).default(8192),
    log_level: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
    /** Only these addresses may connect (absent = any address not denied); checked before any SMB byte is read. */
    hosts_allow: z.array(cidr).optional(),
    hosts_deny: z.array(cidr).default([]),
    /**
     * Connections at once, from everyone. Each is a file descriptor: the server warns at start when this does not fit
     * the process's open-file limit (RLIMIT_NOFILE).
     */
    max_connections: z.number().int().min(1).default(8192),
    /**
     * Connections at once from one address. High: one address can be a whole office behind NAT, a terminal server or
     * a VPN concentrator, each user with a connection. Floods are held back by the connection rate below.
     */
    max_connections_per_client: z.number().int().min(1).default(4096),
    /**
     * New connections per second one address may open, sustained (a token bucket; 0 = no limit). Faster ones wait
     * their turn, unread; past connection_backlog_per_client waiting, they are refused.
     */
    connection_rate_per_client: z.number().min(0).default(100),
    /** New connections one address may open at once before connection_rate_per_client applies (a login rush). */
    connection_burst_per_client: z.number().int().min(1).default(200),
    /** Connections over the rate that may wait for their turn, per address; more are refused. */
    connection_backlog_per_client: z.number().int().min(0).default(200),
    max_sessions_per_connection: z.number().int().min(1).default(16),
    max_opens_per_session: z.number().int().min(16).default(16384),
    /** Seconds a new connection has to negotiate and log on. */
    handshake_timeout: z.number().min(1).max(3600).default(30),
    /** Seconds without a request (and with no open file) after which a connection is closed; 0 = never. */
    idle_timeout: z.number().min(0).default(900),
    /** Requests in progress per connection before the server stops reading from it. */
    max_outstanding_requests: z.number().int().min(1).default(1024),
    /** Blocking byte-range LOCK requests a session may have waiting at once. */
    max_pending_locks_per_session: z.number().int().min(1).default(1024),
    /** CHANGE_NOTIFY requests a session may have waiting at once. */
    max_pending_notifies_per_session: z.number().int().min(1).default(1024),
    /**
     * Directories the server watches on disk at once for CHANGE_NOTIFY (changes made by other programs); past it,
     * such changes go unreported for further watched directories. Changes made through smbkit are always reported.
     */
    max_disk_watchers: z.number().int().min(0).default(256),
    /**
     * Seconds a conflicting request waits for an oplock or lease break acknowledgment (Windows waits 35); then the
     * holder loses its caching and the request goes on.
     */
    oplock_break_timeout: z.number().min(0.01).max(300).default(35),
    /** Unacknowledged oplock/lease breaks one connection may have; past it, further breaks take effect at once. */
    max_outstanding_breaks: z.number().int().min(1).default(256),
    /**
     * Failed logons from one address within brute_force_window seconds that block it (0 = off). Not lower: behind one
     * NAT, users' typos and clients retrying a changed password add up, and the block shuts out the whole address.
     */
    brute_force_failures: z.number().int().min(0).default(100),
    brute_force_window: z.number().min(1).default(600),
    /** Milliseconds added per recent failure before a failed logon is answered. */
    brute_force_delay_ms: z.number().int().min(0).max(5000).default(200),
    /** Seconds a blocked address is refused. */
    brute_force_block: z.number().min(1).default(900),
    /** Users file kept by `smbkit user add|del|list --users FILE` (NAME:NTHASH lines, mode 0600), relative to the config file. */
    users_file: z.string().min(1).optional(),
    /** JSON-lines audit log: a file path, or "-" for standard output. */
    audit_log: z.string().min(1).optional(),
    /**
     * NetBIOS name service on UDP 137 of the listen addresses: answers name queries for `name` (<00>, <20>) and
     * `domain` (group <00>, <1E>) and node status requests, so `\\NAME` and nmblookup find the server.
     */
    netbios_name_service: z.boolean().default(false),
    /** mDNS/DNS-SD announcement of _smb._tcp (and _device-info._tcp) on the listen interfaces (macOS Finder). */
    mdns: z.boolean().default(false),
    /** The model= of the _device-info._tcp record: the icon macOS shows (RackMac, Xserve, MacPro, TimeCapsule...). */
    mdns_model: z.string().min(1).max(64).regex(/^[\x20-\x7e]+$/, 'printable ASCII only').default('RackMac'),
    /** WS-Discovery (UDP 3702) and its metadata over HTTP (TCP 5357) on the listen interfaces (Windows Network view). */
    wsdiscovery: z.boolean().default(false),
    /**
     * Null sessions (no password: `smbclient -N`, `mount -t cifs -o guest`) may use IPC$, where they can list the
     * shares (`smbclient -L -N`). Off by default: Windows restricts anonymous access the same way, and the share list
     * is reconnaissance for an attacker. Guest shares admit null sessions whatever this says; no other share does.
     */
    anonymous: z.boolean().default(false),
    /**
     * Durable handles (SMB 2.1+): a client's open file with a batch oplock or a handle lease outlives a dropped
     * connection (Wi-Fi, sleep) for a while, and the client takes it back when it reconnects.
     */
    durable_handles: z.boolean().default(true),
    /**
     * SMB 3 multichannel: a client may bind further connections (another NIC, more TCP streams) to its session
     * (SMB2_GLOBAL_CAP_MULTI_CHANNEL, session binding). A lost connection then drops only that channel. Windows
     * servers offer it too.
     */
    multichannel: z.boolean().default(true),
    /** Seconds a durable open waits for its client when the client names no time (Windows and Samba: 60). */
    durable_handle_timeout: z.number().min(1).max(3600).default(60),
    /** The longest wait (seconds) a client may ask for a durable open (longer requests are cut to it). */
    durable_handle_max_timeout: z.number().min(1).max(86_400).default(300),
    /**
     * Directory for state that outlives a restart: the journal of persistent handles on continuously available
     * shares (made 0700 if missing). Needed when a share has continuous_availability.
     */
    state_dir: z.string().min(1).optional(),
  })
  .strict();

export const UserEntry = z
  .object({
    name: z.string().min(1).max(104),
    password: z.string().min(1).optional(),
    nt_hash: z.string().regex(/^[0-9a-fA-F]{32}$/, 'expected 32 hex digits').optional(),
  })
  .strict()
  .refine((u) => (u.password === undefined) !== (u.nt_hash === undefined), 'give exactly one of password or nt_hash');

/**
 * A printer share's command: the program, then its arguments, run without a shell for each finished job.
 * Arguments may hold the placeholders of PRINT_PLACEHOLDERS ({file}, {user}, {name}...); the program may not.
 */
const printCommand = z
  .array(z.string().min(1))
  .min(1)
  .superRefine((cmd, ctx) => {
    if (/\{[a-z]+\}/.test(cmd[0]!)) ctx.addIssue({ code: 'custom', message: 'the program (first element) cannot contain a placeholder', path: [0] });
    cmd.forEach((arg, i) => {
      for (const p of unknownPlaceholders(arg)) {
        ctx.addIssue({ code: 'custom', message: `unknown placeholder {${p}} (known: ${Object.keys(PRINT_PLACEHOLDERS).map((k) => `{${k}}`).join(', ')})`, path: [i] });
      }
    });
  });

export const ShareEntry = z
  .object({
    name: shareName,
    /** The folder shared (disk), or the spool directory where print jobs land (printer). */
    path: z.string().min(1).optional(),
    type: z.enum(['disk', 'memory', 'printer']).default('disk'),
    /** Printer shares: program and arguments run for each finished job, e.g. ["/usr/bin/lp", "-t", "{name}", "{file}"]. */
    print_command: printCommand.optional(),
    /** Seconds a print command may run; then it is killed (SIGKILL) and the failure logged. */
    print_command_timeout: z.number().min(1).max(86_400).default(300),
    comment: z.string().max(256).default(''),
    guest: z.boolean().default(false),
    read_only: z.boolean().default(false),
    /** Users allowed (by name); absent = every configured user. */
    users: z.array(z.string().min(1)).optional(),
    /** Every request to this share must be encrypted (SMB 3.x clients only). */
    encrypt: z.boolean().default(false),
    /**
     * Continuously available (SMB 3.x): clients may open persistent handles, whose state (open files, byte-range
     * locks, leases) is journalled under [server] state_dir and survives a restart of the server.
     */
    continuous_availability: z.boolean().default(false),
    hosts_allow: z.array(cidr).optional(),
    hosts_deny: z.array(cidr).default([]),
  })
  .strict()
  .refine((s) => s.type === 'memory' || s.path !== undefined, { message: 'a disk or printer share needs a path', path: ['path'] })
  .refine((s) => s.type === 'printer' || s.print_command === undefined, { message: 'print_command is for printer shares', path: ['print_command'] })
  .refine((s) => s.type !== 'printer' || !s.read_only, { message: 'a printer share cannot be read-only', path: ['read_only'] });

export const ConfigFile = z
  .object({
    server: ServerSection.default(ServerSection.parse({})),
    user: z.array(UserEntry).default([]),
    share: z.array(ShareEntry).min(1, 'at least one [[share]] is needed'),
  })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.share.forEach((s, i) => {
      const k = s.name.toUpperCase();
      if (seen.has(k)) ctx.addIssue({ code: 'custom', message: `duplicate share name ${s.name}`, path: ['share', i, 'name'] });
      seen.add(k);
      for (const u of s.users ?? []) {
        if (c.server.users_file === undefined && !c.user.some((x) => x.name.toLowerCase() === u.toLowerCase())) {
          ctx.addIssue({ code: 'custom', message: `unknown user ${u}`, path: ['share', i, 'users'] });
        }
      }
    });
    c.share.forEach((s, i) => {
      if (s.continuous_availability && c.server.state_dir === undefined) {
        ctx.addIssue({ code: 'custom', message: 'continuous_availability needs [server] state_dir (where persistent handles are journalled)', path: ['share', i, 'continuous_availability'] });
      }
      if (s.continuous_availability && s.type !== 'disk') {
        ctx.addIssue({ code: 'custom', message: 'only disk shares can be continuously available', path: ['share', i, 'continuous_availability'] });
      }
    });
    if (DIALECT_CODES[c.server.min_dialect] > DIALECT_CODES[c.server.max_dialect]) {
      ctx.addIssue({ code: 'custom', message: 'min_dialect is above max_dialect', path: ['server', 'min_dialect'] });
    }
  });

export type ConfigFileInput = z.input<typeof ConfigFile>;
export type ConfigFileData = z.output<typeof ConfigFile>;

/** Default listening port of the direct-TCP transport (MS-SMB2 2.1). */
export const DEFAULT_PORT = 445;
export const DEFAULT_NETBIOS_PORT = 139;

/** Validates a parsed TOML (or any plain object). Throws ConfigError listing each wrong field by its path. */
export function parseConfig(input: unknown): ConfigFileData {
  const r = ConfigFile.safeParse(input);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => `  ${formatPath(i.path)}: ${i.message}`);
  throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out || '(top level)';
}
