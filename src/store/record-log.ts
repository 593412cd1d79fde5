import * as fs from 'node:fs';

/**
 * Per-inode records of a LocalStore kept in one append-only file of JSON lines: `{"i":"<ino>","m":{...}}` sets a
 * record, `{"i":"<ino>"}` drops it; the last line of an inode wins. Every record is in memory; a change is one
 * appended line (no file created per record, which cost more than the operation itself on small-file workloads).
 * When dead lines outnumber live records the file is rewritten (to a temporary name, synced, renamed over).
 * A torn last line (a crash mid-append) is skipped when the file is read again.
 */
export class RecordLog<T> {
  private readonly records = new Map<bigint, T>();
  private fd: number | undefined;
  /** Lines in the file, live or dead. */
  private lines = 0;
  /** Shared: where reading the file stopped. */
  private readAt = 0;
  /** Shared: the file was looked at during this turn of the event loop already. */
  private fresh = false;
  /** Shared: the file, open from the load on (it is never replaced while shared), and the buffer reads go through. */
  private readFd: number | undefined;
  private chunk = Buffer.allocUnsafe(16_384);

  /**
   * `shared`: other processes (the workers of one server) keep records in the same file. Each appends, and reads
   * what the others appended before it answers (once per turn of the event loop: a message from another process
   * always arrives in a later turn, so a client that hears of a change through one worker finds it through
   * another). The file is then never rewritten while it is shared: a rewrite would lose what another process
   * appends meanwhile; the next start of a lone server compacts it.
   */
  constructor(
    private readonly file: string,
    private readonly readOnly: boolean,
    private readonly shared = false,
  ) {}

  /** Reads the file (a missing one is empty); `older` adds records found elsewhere (they win, then are kept here). */
  load(older: Iterable<[bigint, T]> = []): void {
    if (this.shared) {
      // Opened once, and made when missing, so that a look for others' records is one read.
      try {
        this.readFd = fs.openSync(this.file, this.readOnly ? 'r' : 'a+', 0o600);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      if (!this.readOnly) this.fd = this.readFd;
      this.takeIn();
    } else {
      let text = '';
      try {
        text = fs.readFileSync(this.file, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      this.apply(text);
    }
    let added = false;
    for (const [ino, record] of older) {
      this.records.set(ino, record);
      added = true;
    }
    if (added && !this.readOnly && !this.shared) this.compact();
  }

  private apply(text: string): void {
    for (const line of text.split('\n')) {
      if (line === '') continue;
      this.lines++;
      let entry: { i?: unknown; m?: unknown };
      try {
        entry = JSON.parse(line) as { i?: unknown; m?: unknown };
      } catch {
        continue; // a torn line
      }
      if (typeof entry.i !== 'string' || !/^\d+$/.test(entry.i)) continue;
      const ino = BigInt(entry.i);
      if (entry.m !== null && typeof entry.m === 'object') this.records.set(ino, entry.m as T);
      else this.records.delete(ino);
    }
  }

  /**
   * Shared: whether no other process writes to the log now (the worker serves the share alone, workers/claims.ts).
   * Reading is skipped meanwhile, after one last look that takes in what the others wrote before they left.
   */
  alone: (() => boolean) | undefined;
  private caughtUp = false;

  /** Shared: takes in what other processes appended since the last look, once per turn of the event loop. */
  private refresh(): void {
    if (!this.shared || this.fresh) return;
    if (this.alone?.()) {
      if (this.caughtUp) return;
      this.caughtUp = true;
    } else {
      this.caughtUp = false;
    }
    this.fresh = true;
    queueMicrotask(() => (this.fresh = false));
    this.takeIn();
  }

  /** Shared: reads the file from where reading stopped (one read when nothing was appended). */
  private takeIn(): void {
    if (this.readFd === undefined) return;
    for (;;) {
      const chunk = this.chunk;
      const n = fs.readSync(this.readFd, chunk, 0, chunk.length, this.readAt);
      // Only whole lines count as read: a line another process is appending is read next time.
      const whole = chunk.subarray(0, n).lastIndexOf(0x0a) + 1;
      if (whole > 0) {
        this.apply(chunk.toString('utf8', 0, whole));
        this.readAt += whole;
      }
      if (n < chunk.length) return;
      if (whole === 0) this.chunk = Buffer.allocUnsafe(chunk.length * 2); // one line longer than the buffer
    }
  }

  get(ino: bigint): T | undefined {
    this.refresh();
    return this.records.get(ino);
  }

  /** How many records there are. */
  get size(): number {
    this.refresh();
    return this.records.size;
  }

  has(ino: bigint): boolean {
    this.refresh();
    return this.records.has(ino);
  }

  /** Stores (or, with undefined, drops) the record of an inode. Throws the disk's error when it can't be written. */
  set(ino: bigint, record: T | undefined): void {
    this.refresh();
    if (record === undefined) {
      if (!this.records.delete(ino)) return;
    } else {
      this.records.set(ino, record);
    }
    this.append(JSON.stringify(record === undefined ? { i: String(ino) } : { i: String(ino), m: record }) + '\n');
    if (!this.shared && this.lines > 1024 && this.lines > 2 * this.records.size) this.compact();
  }

  close(): void {
    if (this.readFd !== undefined && this.readFd !== this.fd) fs.closeSync(this.readFd);
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
    this.readFd = undefined;
  }

  private append(line: string): void {
    this.fd ??= fs.openSync(this.file, 'a', 0o600);
    fs.writeSync(this.fd, line);
    this.lines++;
  }

  private compact(): void {
    const tmp = `${this.file}.tmp`;
    let text = '';
    for (const [ino, record] of this.records) text += JSON.stringify({ i: String(ino), m: record }) + '\n';
    const fd = fs.openSync(tmp, 'w', 0o600);
    try {
      fs.writeSync(fd, text);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, this.file);
    this.close();
    this.lines = this.records.size;
  }
}
