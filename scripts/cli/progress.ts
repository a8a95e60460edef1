/**
 * A one-line progress bar with rate and ETA on stderr (a TTY redraws in place; logs get a line
 * every few seconds). Written here: the packages that exist pull in far more than one line needs.
 */
export class ProgressBar {
  private done = 0;
  private readonly started = performance.now();
  private lastPrint = 0;

  constructor(
    private readonly label: string,
    private total: number,
    private readonly unit = 'batches',
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  setTotal(total: number): void {
    this.total = total;
  }

  tick(by = 1, extra = ''): void {
    this.done += by;
    const now = performance.now();
    const interactive = this.stream.isTTY === true;
    if (this.done < this.total && now - this.lastPrint < (interactive ? 100 : 5_000)) return;
    this.lastPrint = now;
    const seconds = (now - this.started) / 1000;
    const rate = this.done / Math.max(seconds, 0.001);
    const remaining = rate > 0 ? (this.total - this.done) / rate : 0;
    const width = 24;
    const filled = this.total > 0 ? Math.round((this.done / this.total) * width) : width;
    const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
    const line = `${this.label} ${bar} ${this.done}/${this.total} ${this.unit} · ${rate.toFixed(1)}/s · ETA ${formatDuration(remaining)}${extra ? ` · ${extra}` : ''}`;
    this.stream.write(interactive ? `\r${line}\x1b[K` : `${line}\n`);
    if (interactive && this.done >= this.total) this.stream.write('\n');
  }
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
