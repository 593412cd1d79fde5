import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError } from '../config/schema.js';

const USAGE = `usage: smbkit <command> [options]

commands:
  serve DIR            share DIR over SMB 2/3 (quick mode), or
  serve --config FILE  serve what a TOML configuration file describes
  user add|del|list --users FILE   manage a users file (NT hashes, never passwords)
  scan TARGET...       probe SMB servers for exposure (--json, --fail-on high|medium|low exits 3)
  ports                list local sockets on the SMB ports and flag public/wildcard binds
  ls URL [-l] [--json]             list a directory on a share (URL: smb://[DOMAIN;]USER@HOST[:PORT]/SHARE/PATH)
  get URL [LOCAL] [-r]             download a file or (-r) a directory tree
  put LOCAL URL [-r]               upload a file or (-r) a directory tree
  rm URL [-r]   mkdir URL [-p]   mv URL NEWPATH   cat URL   shares URL
                                   (password: SMBKIT_PASSWORD or the prompt; 'smbkit ls --help' for options)
  help                 this text

Run 'smbkit serve --help' for the options of serve.
`;

/** The CLI entry point: the only place with argv, the terminal and the exit code. */
export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve':
        await (await import('./serve.js')).runServe(rest);
        return;
      case 'user':
        await (await import('./user.js')).runUser(rest);
        return;
      case 'scan':
        await (await import('./scan.js')).runScan(rest);
        return;
      case 'ports':
        await (await import('./ports.js')).runPorts(rest);
        return;
      case 'ls':
      case 'get':
      case 'put':
      case 'rm':
      case 'mkdir':
      case 'mv':
      case 'cat':
      case 'shares':
        await (await import('./client-commands.js')).runClientCommand(command, rest);
        return;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return;
      default:
        process.stderr.write(`smbkit: unknown command '${command}'\n${USAGE}`);
        process.exitCode = 2;
    }
  } catch (err) {
    if (err instanceof ConfigError || err instanceof UsageError) {
      process.stderr.write(`smbkit: ${err.message}\n`);
      process.exitCode = 2;
      return;
    }
    throw err;
  }
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** node:util parseArgs for a command: a bad option is a UsageError carrying the command's help. */
export function parseCommandArgs<T extends ParseArgsConfig>(config: T, help: string): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${help}`);
  }
}
