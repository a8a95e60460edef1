import { describe, expect, it } from 'vitest';
import { announceStep, ProgressBar } from '../../scripts/cli/progress.js';

/** A stand-in for stderr that keeps what is written; `isTTY` as a terminal or a log file has it. */
function capture(isTTY: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  const chunks: string[] = [];
  const stream = {
    isTTY,
    write: (chunk: string) => {
      chunks.push(chunk);
      return true;
    },
  } as unknown as NodeJS.WriteStream;
  return { stream, text: () => chunks.join('') };
}

describe('Function: announceStep', () => {
  it('names the step on a terminal when it starts and appends how long it took when it ends', async () => {
    // Prepare
    const out = capture(true);
    let writtenBeforeWork = '';

    // Act
    const result = await announceStep(
      'verifying',
      async () => {
        writtenBeforeWork = out.text();
        return 42;
      },
      out.stream,
    );

    // Assess
    expect(result).toBe(42);
    expect(writtenBeforeWork).toBe('verifying …');
    expect(out.text()).toMatch(/^verifying … done in \d+\.\d s\n$/);
  });

  it('writes a log two whole lines, so other output cannot split one', async () => {
    // Prepare
    const out = capture(false);

    // Act
    await announceStep(
      'rebuilding the CMI',
      async () => {
        out.stream.write('{"level":"INFO","message":"a handler log line"}\n');
      },
      out.stream,
    );

    // Assess
    expect(out.text().split('\n')).toEqual([
      'rebuilding the CMI …',
      '{"level":"INFO","message":"a handler log line"}',
      expect.stringMatching(/^rebuilding the CMI done in \d+\.\d s$/),
      '',
    ]);
  });

  it('says the step failed and rethrows its error', async () => {
    // Prepare
    const out = capture(true);
    const error = new Error('the target went away');

    // Act
    const failure = announceStep('writing the report', () => Promise.reject(error), out.stream);

    // Assess
    await expect(failure).rejects.toBe(error);
    expect(out.text()).toMatch(/^writing the report … failed after \d+\.\d s\n$/);
  });
});

describe('Class: ProgressBar', () => {
  it('writes whole lines to a log, the first and the last at least', () => {
    // Prepare
    const out = capture(false);
    const bar = new ProgressBar('migrating', 3, 'batches', out.stream);

    // Act
    bar.tick();
    bar.tick();
    bar.tick();

    // Assess
    const lines = out.text().split('\n').filter(Boolean);
    expect(lines[0]).toMatch(/^migrating █{8}░{16} 1\/3 batches · [\d.]+\/s · ETA \d+s$/);
    expect(lines.at(-1)).toMatch(/^migrating █{24} 3\/3 batches · [\d.]+\/s · ETA 0s$/);
  });

  it('redraws one line in place on a terminal and ends it when done', () => {
    // Prepare
    const out = capture(true);
    const bar = new ProgressBar('relationships', 2, 'batches', out.stream);

    // Act
    bar.tick();
    bar.tick();

    // Assess
    expect(out.text().startsWith('\rrelationships ')).toBe(true);
    expect(out.text().endsWith('\x1b[K\n')).toBe(true);
    expect(out.text().split('\n')).toHaveLength(2);
  });

  it('counts its rate from begin(), not from when it was made', async () => {
    // Prepare
    const out = capture(false);
    const bar = new ProgressBar('migrating', 2, 'batches', out.stream);
    await new Promise((resolve) => setTimeout(resolve, 400));

    // Act
    bar.begin();
    bar.tick();
    bar.begin(); // only the first call restarts the clock
    bar.tick();

    // Assess: 2 batches in well under 400 ms is more than 5 a second
    const rate = Number(/· ([\d.]+)\/s/.exec(out.text().split('\n').filter(Boolean).at(-1) ?? '')?.[1]);
    expect(rate).toBeGreaterThan(5);
  });
});

describe('Class: ProgressBar with an estimated total', () => {
  it('keeps its pace past the estimate and ends on what was done', () => {
    // Prepare
    const out = capture(false);
    const bar = new ProgressBar('backing up', 10, 'rows', out.stream);

    // Act
    for (let i = 0; i < 15; i++) bar.tick(1);
    bar.finish();

    // Assess: the first tick, the tick that met the estimate, and the end
    const lines = out.text().trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatch(/^backing up █{24} 15\/15 rows · [\d.]+\/s · ETA 0s$/);
    expect(out.text()).not.toContain('-');
  });
});
