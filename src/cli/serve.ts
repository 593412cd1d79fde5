import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { availableParallelism, hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfigFile, loadUsersFileEntries, serverConfigFrom } from '../config/server-config.js';
import { parseConfig, type ConfigFileInput } from '../config/schema.js';
import { SmbServer } from '../server/server.js';
import { WorkerPool } from '../server/workers/pool.js';
import type { WorkerSpec } from './worker.js';
import { UsageError } from './main.js';

const HELP = `usage: smbkit serve DIR [options]
       smbkit serve --config FILE

Quick mode shares DIR under its base name.
  --user NAME:PASSWORD     the account to create (default: user "smbkit" with a random password, printed)
  --users FILE             accounts from a users file (see 'smbkit user') instead of --user
  --guest                  allow guest access to the share
  --anonymous              allow null sessions (share listing with smbclient -L -N); off by default
  --read-only              share read-only
  --listen ADDR:PORT       where to listen (repeatable; default: port 445 on loopback and private addresses)
  --netbios-listen ADDR:PORT  NetBIOS session service listener (port 139), repeatable
  --name NAME              server name shown to clients (default SMBKIT)
  --workgroup NAME         workgroup (default WORKGROUP)
  --netbios-name-service   answer NetBIOS name queries on UDP 137 of the listen addresses
  --mdns                   announce _smb._tcp by mDNS/DNS-SD (macOS Finder)
  --wsdiscovery            answer WS-Discovery on UDP 3702 and serve its metadata on TCP 5357 (Windows Network)
  --share-name NAME        share name (default: the base name of DIR)
  --min-dialect V, --max-dialect V   2.0.2, 2.1, 3.0, 3.0.2 or 3.1.1
  --signing enabled|required        (default required)
  --log-level error|warn|info|debug (default info)
  --workers N|auto         processes serving connections (default: the configuration's, auto = one per processor)
`;

export async function runServe(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      user: { type: 'string', short: 'u' },
      users: { type: 'string' },
      guest: { type: 'boolean' },
      anonymous: { type: 'boolean' },
      'read-only': { type: 'boolean' },
      listen: { type: 'string', multiple: true },
      'netbios-listen': { type: 'string', multiple: true },
      name: { type: 'string' },
      workgroup: { type: 'string' },
      'netbios-name-service': { type: 'boolean' },
      mdns: { type: 'boolean' },
      wsdiscovery: { type: 'boolean' },
      'share-name': { type: 'string' },
      'min-dialect': { type: 'string' },
      'max-dialect': { type: 'string' },
      signing: { type: 'string' },
      'log-level': { type: 'string' },
      workers: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  }).valueOf() as { values: Record<string, string | string[] | boolean | undefined>; positionals: string[] };
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  let generatedPassword: string | undefined;
  let data;
  if (typeof values.config === 'string') {
    if (positionals.length > 0) throw new UsageError('give either DIR or --config, not both');
    data = await loadConfigFile(values.config);
  } else {
    const dir = positionals[0];
    if (!dir || positionals.length > 1) throw new UsageError(`serve needs one DIR (or --config FILE)\n${HELP}`);
    const path = resolve(dir);
    const st = await stat(path).catch(() => undefined);
    if (!st?.isDirectory()) throw new UsageError(`${dir} is not a directory`);
    if (typeof values.user === 'string' && typeof values.users === 'string') throw new UsageError('give --user or --users, not both');
    let userName = 'smbkit';
    let password: string;
    if (typeof values.users === 'string') {
      userName = '';
      password = '';
    } else if (typeof values.user === 'string') {
      const i = values.user.indexOf(':');
      if (i <= 0) throw new UsageError('--user takes NAME:PASSWORD');
      userName = values.user.slice(0, i);
      password = values.user.slice(i + 1);
    } else {
      password = randomBytes(12).toString('base64url');
      generatedPassword = password;
    }
    const server: Record<string, unknown> = {};
    if (typeof values.name === 'string') server.name = values.name;
    if (typeof values.workgroup === 'string') server.domain = values.workgroup;
    if (values['netbios-name-service'] === true) server.netbios_name_service = true;
    if (values.mdns === true) server.mdns = true;
    if (values.wsdiscovery === true) server.wsdiscovery = true;
    if (values.anonymous === true) server.anonymous = true;
    if (Array.isArray(values.listen)) server.listen = values.listen;
    if (Array.isArray(values['netbios-listen'])) server.netbios_listen = values['netbios-listen'];
    if (typeof values['min-dialect'] === 'string') server.min_dialect = values['min-dialect'];
    if (typeof values['max-dialect'] === 'string') server.max_dialect = values['max-dialect'];
    if (typeof values.signing === 'string') server.signing = values.signing;
    if (typeof values['log-level'] === 'string') server.log_level = values['log-level'];
    const input: ConfigFileInput = {
      server: server as ConfigFileInput['server'],
      user: userName ? [{ name: userName, password }] : [],
      share: [
        {
          name: typeof values['share-name'] === 'string' ? values['share-name'] : basename(path) || 'share',
          path,
          guest: values.guest === true,
          read_only: values['read-only'] === true,
        },
      ],
    };
    data = parseConfig(input);
  }
  const usersFile =
    typeof values.users === 'string'
      ? resolve(values.users)
      : data.server.users_file !== undefined && typeof values.config === 'string'
        ? resolve(dirname(resolve(values.config)), data.server.users_file)
        : undefined;
  const fileUsers = usersFile !== undefined ? await loadUsersFileEntries(usersFile) : [];
  if (data.user.length === 0 && fileUsers.length === 0 && !data.share.some((s) => s.guest)) {
    throw new UsageError('no accounts: add one with `smbkit user add NAME --users FILE`, or give --user NAME:PASSWORD');
  }
  if (typeof values.workers === 'string') {
    const n = Number(values.workers);
    if (values.workers !== 'auto' && !(Number.isInteger(n) && n >= 1 && n <= 256)) throw new UsageError('--workers takes a number from 1 to 256, or auto');
    data.server.workers = values.workers === 'auto' ? 'auto' : n;
  }
  const memoryShare = data.share.some((s) => s.type === 'memory');
  // "auto" (the default) serves a memory share from one process: each worker would hold its own copy of its files.
  if (data.server.workers === 'auto' && memoryShare) data.server.workers = 1;
  if (data.server.workers !== 1 && memoryShare) {
    // Each worker would hold its own copy of a memory share's files.
    throw new UsageError('a memory share needs workers = 1');
  }
  const workerCount = data.server.workers === 'auto' ? availableParallelism() : data.server.workers;
  // The workers (and the store's sharing of per-file records) see the number.
  data.server.workers = workerCount;
  const config = serverConfigFrom(data, fileUsers);
  const server = new SmbServer(config);
  let pool: WorkerPool | undefined;
  let bound;
  try {
    if (workerCount > 1) {
      // The workers recover the journal's persistent opens, each its own; the primary only gives them the server
      // GUID, so that every connection sees one server.
      await server.loadJournal();
      const spec: WorkerSpec = { data, fileUsers, serverGuid: server.serverGuid.toString('hex') };
      const p = new WorkerPool({
        count: workerCount,
        fill: data.server.worker_fill,
        entry: fileURLToPath(new URL('./worker.js', import.meta.url)),
        spec,
        log: server.log,
        onClosed: (remote) => server.access.closed(remote),
        onAuthFailed: (remote, user) => void server.access.authFailed(remote, user),
        onAuthSucceeded: (remote) => server.access.authSucceeded(remote),
      });
      pool = p;
      await p.start();
      server.handOff = (socket, kind, remote) => p.handOff(socket, kind, remote);
    }
    bound = await server.listen();
  } catch (err) {
    await pool?.close();
    await server.close();
    throw new UsageError((err as Error).message);
  }
  const hostForHelp = bound[0]?.host ?? hostname();
  const port = bound[0]?.port ?? 445;
  const portFlag = port === 445 ? '' : ` -p ${port}`;
  const lines = [`smbkit serving on ${bound.map((b) => `${b.host.includes(':') ? `[${b.host}]` : b.host}:${b.port}`).join(', ')}`];
  for (const s of data.share) {
    const where = s.type === 'printer' ? `printer, spool ${s.path}` : (s.path ?? '(memory)');
    lines.push(`  share ${s.name} -> ${where}${s.read_only ? ' (read-only)' : ''}${s.guest ? ' (guest ok)' : ''}`);
  }
  if (generatedPassword !== undefined) lines.push(`  user: ${data.user[0]!.name}  password: ${generatedPassword}`);
  const share = data.share[0]!.name;
  const user = data.user[0]?.name ?? fileUsers[0]?.name ?? 'USER';
  lines.push(
    'connect from:',
    `  Windows:  \\\\${hostForHelp}\\${share}${port !== 445 ? '   (Windows clients need port 445)' : ''}`,
    `  macOS:    smb://${user}@${hostForHelp}${port !== 445 ? `:${port}` : ''}/${share}`,
    `  Linux:    smbclient //${hostForHelp}/${share} -U ${user}${portFlag}`,
    `            mount -t cifs //${hostForHelp}/${share} /mnt -o username=${user}${port !== 445 ? `,port=${port}` : ''}`,
  );
  process.stdout.write(lines.join('\n') + '\n');
  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    server.log.info('shutting down', { signal: sig });
    void (pool?.close() ?? Promise.resolve()).then(() => server.close()).then(() => process.exit(0));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
