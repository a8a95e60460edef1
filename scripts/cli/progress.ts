/**
 * A one-line progress bar with rate and ETA on stderr (a TTY redraws in place; logs get a line
 * every few seconds). Written here: the packages that exist pull in far more than one line needs.
 */
export class ProgressBar {
  private done = 0;
  private started = performance.now();
  private begun = false;
  private lastPrint = Number.NEGATIVE_INFINITY; // the first tick always prints

  constructor(
    private readonly label: string,
    private total: number,
    private readonly unit = 'batches',
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  setTotal(total: number): void {
    this.total = total;
  }

  /**
   * Restarts the clock the rate and ETA count from, for a bar made before its work starts; only
   * the first call counts.
   */
  begin(): void {
    if (this.begun) return;
    this.begun = true;
    this.started = performance.now();
  }

  /** For a total that was an estimate: the last line shows what was done, as all of it. */
  finish(): void {
    if (this.done === 0 && this.total === 0) return;
    this.total = this.done;
    this.lastPrint = Number.NEGATIVE_INFINITY;
    this.tick(0);
  }

  tick(by = 1, extra = ''): void {
    this.done += by;
    const now = performance.now();
    const interactive = this.stream.isTTY === true;
    // The last tick always prints; past an estimated total, the usual pace goes on.
    if (this.done !== this.total && now - this.lastPrint < (interactive ? 100 : 5_000)) return;
    this.lastPrint = now;
    const seconds = (now - this.started) / 1000;
    const rate = this.done / Math.max(seconds, 0.001);
    const remaining = rate > 0 ? Math.max(0, this.total - this.done) / rate : 0;
    const width = 24;
    const filled = this.total > 0 ? Math.min(width, Math.round((this.done / this.total) * width)) : width;
    const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
    const line = `${this.label} ${bar} ${this.done}/${this.total} ${this.unit} · ${rate.toFixed(1)}/s · ETA ${formatDuration(remaining)}${extra ? ` · ${extra}` : ''}`;
    this.stream.write(interactive ? `\r${line}\x1b[K` : `${line}\n`);
    if (interactive && this.done === this.total) this.stream.write('\n');
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

/**
 * Announces one step of a run on stderr, so the steps between the progress bars are not silent: a
 * terminal shows `verifying …` while it runs and ` done in 7.8 s` (or ` failed after …`) appended
 * when it ends; a log gets two whole lines, which other output cannot split.
 */
export async function announceStep<T>(
  label: string,
  work: () => Promise<T>,
  stream: NodeJS.WriteStream = process.stderr,
): Promise<T> {
  const interactive = stream.isTTY === true;
  stream.write(interactive ? `${label} …` : `${label} …\n`);
  const started = performance.now();
  const end = (outcome: string) => {
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    stream.write(interactive ? ` ${outcome} ${seconds} s\n` : `${label} ${outcome} ${seconds} s\n`);
  };
  try {
    const result = await work();
    end('done in');
    return result;
  } catch (error) {
    end('failed after');
    throw error;
  }
}
