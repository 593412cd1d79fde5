import { StringDecoder } from 'node:string_decoder';
import { addUser, deleteUser, isUsersFileMissing, listUsers, readUsersFile, userNameProblem, UsersFileError } from '../auth/users-file.js';
import { parseCommandArgs, UsageError } from './main.js';

const HELP = `usage: smbkit user add NAME --users FILE [--password-stdin]
       smbkit user del NAME --users FILE
       smbkit user list --users FILE [--json]

Manages the users file that 'smbkit serve' authenticates against. It keeps NT hashes, never passwords, and
must be private to its owner (mode 0600); it is created that way when missing.
  add NAME            add an account, or change its password; the password is asked twice without echo,
                      or read as one line from stdin with --password-stdin (or when stdin is not a terminal)
  del NAME            remove an account
  list [--json]       the account names
Passwords are never taken as arguments (they would show in the process list and shell history).
`;

/** Longest password line read from stdin, in bytes (Windows passwords are at most 256 characters). */
const MAX_PASSWORD_BYTES = 4096;

/** The user typed ctrl-C or ctrl-D at a password prompt, or stdin ended before a password. */
export class PasswordInputError extends Error {
  override readonly name = 'PasswordInputError';
}

/** `smbkit user ...`: exit code 0 on success, 2 for usage errors (thrown as UsageError), 1 for failures. */
export async function runUser(argv: string[]): Promise<void> {
  for (const a of argv) {
    // A password given as an argument has already leaked (ps, shell history); say so without echoing it.
    if (/^(--password|-p)(=|$)/.test(a)) {
      throw new UsageError('passwords are never taken as arguments; type it when asked, or pipe it with --password-stdin');
    }
  }
  const parsed = parseCommandArgs(
    {
      args: argv,
      allowPositionals: true,
      options: {
        users: { type: 'string' },
        'password-stdin': { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    },
    HELP,
  );
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const [action, ...names] = positionals;
  if (action === undefined) throw new UsageError(`user needs an action: add, del or list\n${HELP}`);
  if (!['add', 'del', 'list'].includes(action)) throw new UsageError(`unknown user action '${action}'\n${HELP}`);
  const file = values.users;
  if (file === undefined || file === '') throw new UsageError(`user ${action} needs --users FILE`);
  if (values['password-stdin'] && action !== 'add') throw new UsageError('--password-stdin is for user add');
  if (values.json && action !== 'list') throw new UsageError('--json is for user list');
  if (action === 'list') {
    if (names.length > 0) throw new UsageError('user list takes no NAME');
  } else if (names.length !== 1) {
    throw new UsageError(`user ${action} needs one NAME`);
  }

  try {
    switch (action) {
      case 'add': {
        const name = names[0]!;
        const problem = userNameProblem(name);
        if (problem !== undefined) throw new UsageError(problem);
        // Check the file before asking for a password, so a bad file is reported before anyone types.
        await readUsersFile(file).catch((err: unknown) => {
          if (!isUsersFileMissing(err)) throw err;
        });
        const password = await readNewPassword(name, values['password-stdin'] === true);
        const how = await addUser(file, name, password);
        process.stdout.write(how === 'added' ? `added user ${name} to ${file}\n` : `changed the password of ${name} in ${file}\n`);
        return;
      }
      case 'del': {
        const name = names[0]!;
        if (!(await deleteUser(file, name))) {
          process.stderr.write(`smbkit: no user ${name} in ${file}\n`);
          process.exitCode = 1;
          return;
        }
        process.stdout.write(`deleted user ${name} from ${file}\n`);
        return;
      }
      default: {
        const list = await listUsers(file);
        if (values.json) process.stdout.write(JSON.stringify({ users: list.map((name) => ({ name })) }) + '\n');
        else process.stdout.write(list.map((n) => `${n}\n`).join(''));
        return;
      }
    }
  } catch (err) {
    if (err instanceof UsersFileError || err instanceof PasswordInputError || isErrno(err)) {
      process.stderr.write(`smbkit: ${err.message}\n`);
      process.exitCode = 1;
      return;
    }
    throw err;
  }
}

function isErrno(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string';
}

/** The new password: asked twice without echo on a terminal, else one line of stdin. */
async function readNewPassword(name: string, fromStdin: boolean): Promise<string> {
  const stdin = process.stdin;
  let password: string;
  if (fromStdin || !stdin.isTTY) {
    try {
      password = await readPasswordLine(stdin);
    } finally {
      // A paused pipe still holds the process open when the writer keeps its end open; nothing more is read.
      stdin.destroy();
    }
  } else {
    password = await readHiddenLine(stdin, process.stderr, `New password for ${name}: `);
    const again = await readHiddenLine(stdin, process.stderr, 'Retype the password: ');
    if (again !== password) throw new PasswordInputError('the passwords do not match; nothing changed');
  }
  if (password === '') throw new PasswordInputError('the password cannot be empty; nothing changed');
  return password;
}

/**
 * Reads one line (up to LF, or to the end of the stream) and stops reading: the password for --password-stdin.
 * The line ending (LF or CRLF) is removed; other white space belongs to the password.
 */
export function readPasswordLine(input: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (err: Error | undefined, line?: Buffer) => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.off('error', onError);
      input.pause();
      if (err) reject(err);
      else resolve(line!.toString('utf8').replace(/\r$/, ''));
    };
    const onData = (chunk: Buffer | string) => {
      const b = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      const nl = b.indexOf(0x0a);
      const part = nl >= 0 ? b.subarray(0, nl) : b;
      chunks.push(part);
      size += part.length;
      if (size > MAX_PASSWORD_BYTES) return done(new PasswordInputError(`the password line is longer than ${MAX_PASSWORD_BYTES} bytes`));
      if (nl >= 0) done(undefined, Buffer.concat(chunks));
    };
    const onEnd = () => {
      if (size === 0 && chunks.length === 0) done(new PasswordInputError('no password on stdin'));
      else done(undefined, Buffer.concat(chunks));
    };
    const onError = (err: Error) => done(err);
    input.on('data', onData);
    input.on('end', onEnd);
    input.on('error', onError);
    input.resume();
  });
}

/** What readHiddenLine needs of a terminal input (process.stdin when it is a TTY; a fake in tests). */
export interface RawModeInput extends NodeJS.ReadableStream {
  isRaw?: boolean;
  setRawMode(mode: boolean): unknown;
}

/**
 * Prompts on `output` and reads one line from a terminal without echoing it: the terminal is put in raw mode
 * and restored before this returns, whatever happens (enter, ctrl-C, ctrl-D, end of input, or the process
 * exiting meanwhile). Backspace and ctrl-U edit; escape sequences (arrow keys) and other control keys are
 * ignored. Nothing of the typed text is written, not even a mask.
 */
export function readHiddenLine(input: RawModeInput, output: NodeJS.WritableStream, prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const wasRaw = input.isRaw === true;
    const decoder = new StringDecoder('utf8');
    let chars: string[] = [];
    // 0: text; 1: after ESC; 2: inside an escape sequence (until its final byte, 0x40-0x7e).
    let escape = 0;
    let finished = false;
    const restore = () => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.off('error', onError);
      process.off('exit', restore);
      input.setRawMode(wasRaw);
      input.pause();
    };
    const finish = (err: Error | undefined, value?: string) => {
      if (finished) return;
      finished = true;
      restore();
      output.write('\n');
      if (err) reject(err);
      else resolve(value!);
    };
    const onData = (chunk: Buffer | string) => {
      const text = typeof chunk === 'string' ? chunk : decoder.write(chunk);
      for (const ch of text) {
        if (finished) return;
        if (escape === 1) {
          escape = ch === '[' || ch === 'O' ? 2 : 0;
          continue;
        }
        if (escape === 2) {
          const c = ch.codePointAt(0)!;
          if (c >= 0x40 && c <= 0x7e) escape = 0;
          continue;
        }
        switch (ch) {
          case '\r':
          case '\n':
            finish(undefined, chars.join(''));
            return;
          case '\x03': // ctrl-C
            finish(new PasswordInputError('cancelled'));
            return;
          case '\x04': // ctrl-D
            if (chars.length === 0) {
              finish(new PasswordInputError('cancelled'));
              return;
            }
            break;
          case '\x7f':
          case '\b':
            chars.pop();
            break;
          case '\x15': // ctrl-U
            chars = [];
            break;
          case '\x1b':
            escape = 1;
            break;
          default: {
            const c = ch.codePointAt(0)!;
            if (c >= 0x20 && !(c >= 0x7f && c <= 0x9f)) chars.push(ch);
          }
        }
      }
    };
    const onEnd = () => finish(new PasswordInputError('input ended before a password was entered'));
    const onError = (err: Error) => finish(err);
    output.write(prompt);
    input.setRawMode(true);
    process.once('exit', restore);
    input.on('data', onData);
    input.on('end', onEnd);
    input.on('error', onError);
    input.resume();
  });
}
