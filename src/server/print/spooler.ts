/**
 * The spool of a printer share. Each CREATE on the share makes a new job: a file the server names itself in the
 * spool directory (the client's path is only the document's name), written while the client holds the handle,
 * and published when the client closes it (MS-CIFS 3.3.5.54 describes the same for SMB1: "the file is queued
 * for printing when the FID is closed"). Then the share's print command, if any, runs with the job's file:
 * program and arguments straight to the OS, never through a shell. A job whose connection goes away before
 * its CLOSE is discarded, and so is an empty one.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { constants as fsConstants } from 'node:fs';
import { link, lstat, mkdir, open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { StoreHandle, StoreStat } from '../../store/types.js';
import type { Logger } from '../../util/log.js';

/** What a printer share is given: where jobs land and what runs for each. */
export interface PrinterOptions {
  /** The spool directory (created, mode 0700, when missing). */
  spoolDir: string;
  /** Program and arguments run for each finished job; `{file}`, `{user}`... are replaced (PRINT_PLACEHOLDERS). */
  command?: readonly string[];
  /** Milliseconds the command may run before it is killed (absent: no limit). */
  commandTimeoutMs?: number;
}

/** The placeholders a print command's arguments may use. */
export const PRINT_PLACEHOLDERS = {
  file: 'the absolute path of the job file',
  user: 'the account that printed ("guest" for guest sessions)',
  domain: 'the domain the client named at logon',
  name: "the document name the client gave (control characters replaced by '_')",
  job: 'the job id (also in the file name)',
  share: 'the printer share',
  client: "the client's IP address",
  size: 'the job size in bytes',
} as const;

export type PrintPlaceholder = keyof typeof PRINT_PLACEHOLDERS;

const PLACEHOLDER = /\{([a-z]+)\}/g;

/** The placeholders in `arg` that PRINT_PLACEHOLDERS does not know. */
export function unknownPlaceholders(arg: string): string[] {
  return [...arg.matchAll(PLACEHOLDER)].map((m) => m[1]!).filter((p) => !(p in PRINT_PLACEHOLDERS));
}

/** The command with each argument's placeholders replaced; the program itself is taken as written. */
export function expandPrintCommand(command: readonly string[], values: Readonly<Record<PrintPlaceholder, string>>): string[] {
  return command.map((arg, i) => (i === 0 ? arg : arg.replace(PLACEHOLDER, (whole, p: string) => (p in values ? values[p as PrintPlaceholder] : whole))));
}

/** Longest document name passed to the print command. */
const MAX_DOCUMENT_NAME = 255;
/** Bytes of the print command's standard error kept for the log. */
const MAX_STDERR = 4096;

/** Who printed. */
export interface PrintOwner {
  user: string;
  domain: string;
  client: string;
}

/** Facts about a finished job (the 'print-job' event). */
export interface PrintJobInfo {
  share: string;
  job: string;
  file: string;
  name: string;
  user: string;
  size: number;
}

let sequence = 0;

export class Spooler {
  private ready: Promise<void> | undefined;

  constructor(
    readonly share: string,
    readonly options: PrinterOptions,
    private readonly log: Logger,
    private readonly events: EventEmitter,
  ) {}

  /** A new job for `owner`, its data going to a hidden partial file until the client closes it. */
  async create(owner: PrintOwner, documentName: string): Promise<PrintJob> {
    this.ready ??= mkdir(this.options.spoolDir, { recursive: true, mode: 0o700 }).then(() => undefined);
    await this.ready.catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    for (;;) {
      const id = `${Date.now()}-${(++sequence).toString(36)}-${randomBytes(4).toString('hex')}`;
      const partial = join(this.options.spoolDir, `.job-${id}.partial`);
      try {
        const fh = await open(partial, fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, 0o600);
        // eslint-disable-next-line no-control-regex
        const name = documentName.replace(/[\u0000-\u001f\u007f]/g, '_').slice(0, MAX_DOCUMENT_NAME);
        return new PrintJob(this, id, partial, new SpoolHandle(fh), owner, name);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
  }

  /** @internal A job was closed by its client: publish it and run the command. Never throws. */
  async publish(job: PrintJob): Promise<void> {
    let size: number;
    try {
      const st = await lstat(job.partialPath);
      if (!st.isFile()) throw new Error('the partial job is no longer a regular file');
      size = st.size;
    } catch (err) {
      this.log.warn('print job lost', { share: this.share, job: job.id, error: (err as Error).message });
      return;
    }
    if (size === 0) {
      this.log.info('empty print job discarded', { share: this.share, job: job.id, user: job.owner.user });
      await unlink(job.partialPath).catch(() => undefined);
      return;
    }
    const file = join(this.options.spoolDir, `job-${job.id}.prn`);
    try {
      // link + unlink: the finished name never replaces an existing file.
      await link(job.partialPath, file);
      await unlink(job.partialPath);
    } catch (err) {
      this.log.warn('print job could not be published', { share: this.share, job: job.id, error: (err as Error).message });
      await unlink(job.partialPath).catch(() => undefined);
      return;
    }
    const info: PrintJobInfo = { share: this.share, job: job.id, file, name: job.documentName, user: job.owner.user, size };
    this.log.info('print job', { share: this.share, job: job.id, user: job.owner.user, size, document: job.documentName });
    this.events.emit('print-job', info);
    if (this.options.command) this.run(this.options.command, { ...info, domain: job.owner.domain, client: job.owner.client });
  }

  /** @internal The client went away without closing the job: drop its data. */
  async abandon(job: PrintJob): Promise<void> {
    this.log.info('print job abandoned', { share: this.share, job: job.id, user: job.owner.user });
    await unlink(job.partialPath).catch(() => undefined);
  }

  private run(command: readonly string[], job: PrintJobInfo & { domain: string; client: string }): void {
    const values: Record<PrintPlaceholder, string> = {
      file: job.file,
      user: job.user,
      domain: job.domain,
      name: job.name,
      job: job.job,
      share: job.share,
      client: job.client,
      size: String(job.size),
    };
    const [program, ...args] = expandPrintCommand(command, values);
    const done = (result: { code?: number | null; signal?: string | null; error?: string }, stderr = '') => {
      const ok = result.code === 0;
      const fields = { share: job.share, job: job.job, program, ...result, ...(stderr ? { stderr } : {}) };
      if (ok) this.log.debug('print command finished', fields);
      else this.log.warn('print command failed', fields);
      this.events.emit('print-command', { share: job.share, job: job.job, file: job.file, ok, ...result });
    };
    let child;
    try {
      child = spawn(program!, args, {
        shell: false,
        stdio: ['ignore', 'ignore', 'pipe'],
        cwd: this.options.spoolDir,
        windowsHide: true,
        // A hung command must not pile up: Node kills it once the limit passes.
        ...(this.options.commandTimeoutMs !== undefined ? { timeout: this.options.commandTimeoutMs, killSignal: 'SIGKILL' as const } : {}),
      });
    } catch (err) {
      done({ error: (err as Error).message });
      return;
    }
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      if (stderr.length < MAX_STDERR) stderr += chunk.slice(0, MAX_STDERR - stderr.length);
    });
    let reported = false;
    child.once('error', (err) => {
      if (reported) return;
      reported = true;
      done({ error: err.message });
    });
    child.once('close', (code, signal) => {
      if (reported) return;
      reported = true;
      done({ code, signal }, stderr.trim());
    });
  }
}

/** One job: its handle (what WRITE and FLUSH use) and whether its client closed it. */
export class PrintJob {
  /** Set by the client's CLOSE: the job is complete and is published when its handle closes. */
  completed = false;
  private settled = false;

  constructor(
    private readonly spooler: Spooler,
    readonly id: string,
    readonly partialPath: string,
    readonly handle: SpoolHandle,
    readonly owner: PrintOwner,
    /** The name the client gave, as a document name. */
    readonly documentName: string,
  ) {}

  /** After the handle closed: publish (the client closed the job) or discard (it went away). Never throws. */
  async settle(): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    if (this.completed) await this.spooler.publish(this);
    else await this.spooler.abandon(this);
  }
}

/** The spool file as a store handle, so that WRITE and FLUSH serve jobs like any file. */
export class SpoolHandle implements StoreHandle {
  private closed = false;

  constructor(private readonly fh: FileHandle) {}

  async read(buf: Buffer, offset: number, length: number, position: number): Promise<number> {
    return (await this.fh.read(buf, offset, length, position)).bytesRead;
  }

  async write(data: Buffer, position: number): Promise<number> {
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.fh.write(data, done, data.length - done, position + done);
      if (bytesWritten === 0) throw Object.assign(new Error('short write'), { code: 'ENOSPC' });
      done += bytesWritten;
    }
    return done;
  }

  truncate(size: number): Promise<void> {
    return this.fh.truncate(size);
  }

  sync(): Promise<void> {
    return this.fh.sync();
  }

  async stat(): Promise<StoreStat> {
    const st = await this.fh.stat({ bigint: true });
    return {
      type: 'file',
      size: Number(st.size),
      allocationSize: Number(st.blocks) * 512,
      birthtimeMs: Number(st.birthtimeMs),
      mtimeMs: Number(st.mtimeMs),
      atimeMs: Number(st.atimeMs),
      ctimeMs: Number(st.ctimeMs),
      dosAttributes: 0,
      fileId: st.ino,
      nlink: Number(st.nlink),
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close();
  }
}
