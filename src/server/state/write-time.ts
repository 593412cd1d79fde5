/**
 * The delayed last-write-time rules of one file, as Windows applies them and clients (smbtorture's
 * smb2.timestamps) check them. MS-FSA 2.1.5.3 lets the file system update LastModificationTime lazily after a
 * write; Windows does it once, a short delay after the first write through a handle, and then again only when
 * that handle closes (if it wrote since). While a file has written opens, the time clients see is held here in
 * memory (the store's own mtime moves with every write) and is written to the store when the last open closes.
 *
 * Per open, the state is: `triggered` (its first write has scheduled or made the delayed update) and
 * `updateOnClose` (it wrote after that). An open whose writes must not move the time (FileBasicInformation
 * LastWriteTime -1 or an explicit time, MS-FSCC 2.4.7 / MS-FSA 2.1.5.14.2 UserSetModificationTime) is "sticky".
 */

/** How long after the first write of a handle the last-write time moves (what Windows and Samba use). */
export const WRITE_TIME_UPDATE_DELAY_MS = 2000;

/** A clock in milliseconds since the Unix epoch, with a sub-millisecond fraction. */
export type Clock = () => number;

const preciseNow: Clock = () => performance.timeOrigin + performance.now();

export class DelayedWriteTime<O extends object = object> {
  /** The last-write time clients see while the file has written opens; undefined: the store's mtime. */
  private held: number | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly triggered = new Set<O>();
  private readonly updateOnClose = new Set<O>();

  constructor(
    private readonly clock: Clock = preciseNow,
    private readonly delayMs: number = WRITE_TIME_UPDATE_DELAY_MS,
  ) {}

  /** Whether the time is held in memory (a write happened and the last open has not closed yet). */
  get holding(): boolean {
    return this.held !== undefined;
  }

  /** Whether a delayed update is scheduled and has not happened yet. */
  get pending(): boolean {
    return this.timer !== undefined;
  }

  /** The last-write time to report (ms) for a store mtime. */
  report(storeMtimeMs: number): number {
    return this.held ?? storeMtimeMs;
  }

  /**
   * A write through `open` is about to happen; `storeMtimeMs` is the store's mtime before it (only read when
   * nothing is held yet: pass a function). The first write of a handle schedules the update; later ones mark
   * the handle for an update at close. A sticky handle's writes change nothing the client sees.
   */
  async beforeWrite(open: O, sticky: boolean, storeMtimeMs: () => Promise<number>): Promise<void> {
    if (this.held === undefined) {
      const before = await storeMtimeMs();
      this.held ??= before;
    }
    if (sticky) return;
    if (!this.triggered.has(open)) {
      this.triggered.add(open);
      if (this.timer === undefined) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.held = this.clock();
        }, this.delayMs);
        this.timer.unref?.();
      }
    } else {
      this.updateOnClose.add(open);
    }
  }

  /**
   * FLUSH, SetEndOfFile and SetBasicInformation make a scheduled update happen now (Windows behaviour that
   * smb2.timestamps checks: even an all-zero FileBasicInformation does).
   */
  flushPending(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.held = this.clock();
  }

  /**
   * A change through `open` that moves the last-write time at once (SetEndOfFile, a truncating allocation): the
   * time becomes now, and the handle's close need not stamp it again.
   */
  touch(open: O, sticky: boolean): void {
    if (sticky) return;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.triggered.add(open);
    this.updateOnClose.delete(open);
    this.held = this.clock();
  }

  /** A client set the last-write time explicitly: it wins over any scheduled update. */
  set(mtimeMs: number): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.held !== undefined) this.held = mtimeMs;
  }

  /**
   * `open` closes. It stamps the time if it wrote since the delayed update (or the update is still pending and it
   * scheduled it), unless it is sticky. Returns the time to store when this was the file's last open and a time
   * is held (the caller writes it to the store), else undefined.
   */
  close(open: O, sticky: boolean, lastOpen: boolean): number | undefined {
    const stamp = !sticky && (this.updateOnClose.has(open) || (this.timer !== undefined && this.triggered.has(open)));
    this.triggered.delete(open);
    this.updateOnClose.delete(open);
    if (stamp) {
      if (this.timer !== undefined && this.triggered.size === 0) {
        clearTimeout(this.timer);
        this.timer = undefined;
      }
      this.held = this.clock();
    }
    if (!lastOpen) return undefined;
    const out = this.held;
    this.reset();
    return out;
  }

  /** Forgets everything (the file's last open went away without a CLOSE, or the file was deleted). */
  reset(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.held = undefined;
    this.triggered.clear();
    this.updateOnClose.clear();
  }
}
