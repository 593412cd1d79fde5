/**
 * A one-line progress bar for transfers on a terminal: bar, percentage, bytes, speed and time left, redrawn in
 * place with '\r' at most every `intervalMs`. renderProgress is a pure function of the numbers (tested as such);
 * Progress keeps the state and takes its clock as a parameter.
 */

export interface ProgressState {
  label: string;
  done: number;
  /** Total bytes, when known. */
  total: number | undefined;
  /** Bytes per second (0 = unknown yet). */
  rate: number;
  /** Terminal width. */
  columns: number;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** 1536 -> '1.5 KiB'; bytes below 1024 as integers. */
export function formatBytes(n: number): string {
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${Math.round(v)} B` : `${v < 10 ? v.toFixed(1) : Math.round(v)} ${UNITS[u]}`;
}

/** Seconds -> 'm:ss' or 'h:mm:ss'; '--:--' when unknown. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.ceil(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** One line, never wider than `columns - 1` (so the terminal does not wrap). */
export function renderProgress(s: ProgressState): string {
  const known = s.total !== undefined && s.total > 0;
  const fraction = known ? Math.min(1, s.done / s.total!) : s.total === 0 ? 1 : 0;
  const pct = `${String(Math.floor(fraction * 100)).padStart(3)}%`;
  const bytes = s.total !== undefined ? `${formatBytes(s.done)}/${formatBytes(s.total)}` : formatBytes(s.done);
  const speed = s.rate > 0 ? `${formatBytes(s.rate)}/s` : '-- B/s';
  const left = s.total !== undefined && s.rate > 0 ? Math.max(0, s.total - s.done) / s.rate : NaN;
  const eta = `ETA ${s.total !== undefined && s.done >= s.total ? '0:00' : formatDuration(left)}`;
  const tail = ` ${pct} ${bytes} ${speed} ${eta}`;
  const width = Math.max(20, s.columns) - 1;
  const room = width - tail.length;
  // The bar gets up to 30 cells, the label what is left (cut from the left: the file name's end matters most).
  const barCells = Math.max(0, Math.min(30, room - 14));
  const bar = barCells >= 5 ? ` [${'#'.repeat(Math.round(fraction * barCells)).padEnd(barCells, '.')}]` : '';
  const labelRoom = room - bar.length;
  let label = s.label;
  if (label.length > labelRoom) label = labelRoom > 1 ? `…${label.slice(label.length - labelRoom + 1)}` : '';
  return `${label}${bar}${tail}`.slice(0, width);
}

export interface ProgressOptions {
  total: number | undefined;
  label: string;
  /** Milliseconds clock; default performance.now. */
  now?: () => number;
  /** Minimum time between redraws; default 100 ms. */
  intervalMs?: number;
  /** Terminal width; default the stream's columns or 80. */
  columns?: number;
}

/** The state of one transfer and its redraws on `out` (a TTY; the caller decides whether to show one). */
export class Progress {
  private done = 0;
  private lastDraw = -Infinity;
  private readonly start: number;
  /** (time, bytes) samples of the last few seconds, for the speed. */
  private samples: [number, number][] = [];
  private readonly now: () => number;
  private finished = false;
  private label = '';

  constructor(
    private readonly out: { write(s: string): unknown; columns?: number },
    private readonly o: ProgressOptions,
  ) {
    this.now = o.now ?? (() => performance.now());
    this.start = this.now();
    this.samples.push([this.start, 0]);
  }

  /** Bytes per second over the last 5 s (or since the start). */
  rate(at = this.now()): number {
    while (this.samples.length > 2 && at - this.samples[1]![0] >= 5000) this.samples.shift();
    const [t0, b0] = this.samples[0]!;
    // Under half a second of data gives wild speeds (and hours of "time left"): unknown until then.
    if (at - t0 < 500) return 0;
    return (this.done - b0) / ((at - t0) / 1000);
  }

  add(bytes: number): void {
    this.done += bytes;
    const t = this.now();
    const last = this.samples[this.samples.length - 1]!;
    if (t - last[0] >= 250) this.samples.push([t, this.done]);
    if (t - this.lastDraw >= (this.o.intervalMs ?? 100)) this.draw(t);
  }

  setLabel(label: string): void {
    this.label = label;
  }

  private line(t: number): string {
    return renderProgress({
      label: this.label || this.o.label,
      done: this.done,
      total: this.o.total,
      rate: this.rate(t),
      columns: this.o.columns ?? (this.out.columns || 80),
    });
  }

  draw(t = this.now()): void {
    if (this.finished) return;
    this.lastDraw = t;
    // '\x1b[K' clears what a longer previous line left behind.
    this.out.write(`\r${this.line(t)}\x1b[K`);
  }

  /** The final line (average speed over the whole transfer) and a newline. */
  finish(): void {
    if (this.finished) return;
    const t = this.now();
    this.samples = [[this.start, 0]];
    this.label = this.o.label;
    this.draw(t);
    this.finished = true;
    this.out.write('\n');
  }

  /** Clears the line (on failure) without a final line. */
  abort(): void {
    if (this.finished) return;
    this.finished = true;
    this.out.write('\r\x1b[K');
  }
}
