/**
 * npm run bench:preflight -- [--trials N]
 * How long `npm run migrate:bigmemory` takes to say that Preflight failed: the whole command, from
 * process start to exit, against local services with a target database that does not exist.
 */
import './require-node.cjs';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDatabase } from '../dev/harness/databases.js';
import { startTestServices } from '../dev/harness/services-runtime.js';
import { parseFlags, positiveInteger, runCli } from './cli/database-flags.js';

const USAGE = `usage: npm run bench:preflight -- [options]

Times migrate:bigmemory failing in Preflight (a target database that does not exist): wall time
from process start to exit, and the CPU seconds of that process, per trial and as the median. The
first trial may synthesize the state machine definition into its cache; later ones read it.

  --trials <n>   trials (default: 5)
  --help         this text

Example: npm run bench:preflight -- --trials 10`;

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** CPU seconds of this process's waited-for children (Linux /proc), or null elsewhere. */
function childrenCpuSeconds(): number | null {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the name: state is field 3, so cutime (16) and cstime (17) sit at 13 and 14 here.
    return (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    return null;
  }
}

async function trial(
  env: NodeJS.ProcessEnv,
  reports: string,
): Promise<{ wall: number; cpu: number | null; code: number | null; line: string }> {
  const cpuBefore = childrenCpuSeconds();
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'scripts/migrate-bigmemory.ts'),
      '--preserve-embeddings',
      '--reports-dir',
      reports,
    ],
    { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const wall = (performance.now() - started) / 1000;
  const cpuAfter = childrenCpuSeconds();
  const line =
    stderr.split('\n').find((l) => l.startsWith('Run failed')) ?? stderr.trim().split('\n').pop() ?? '';
  return { wall, cpu: cpuBefore === null || cpuAfter === null ? null : cpuAfter - cpuBefore, code, line };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

async function main(): Promise<number> {
  const values = parseFlags({ trials: { type: 'string' } });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const trials = positiveInteger(values.trials, '--trials', 5);
  const services = await startTestServices();
  try {
    const sourceUrl = await createDatabase('bigmemory');
    const missingTarget = `${sourceUrl.replace(/\/[^/]*$/, '')}/no_such_federated_database`;
    const reports = await mkdtemp(join(tmpdir(), 'bench-preflight-'));
    const env = { ...process.env, SOURCE_DATABASE_URL: sourceUrl, DATABASE_URL: missingTarget };
    const walls: number[] = [];
    const cpus: number[] = [];
    for (let i = 1; i <= trials; i++) {
      const t = await trial(env, reports);
      walls.push(t.wall);
      if (t.cpu !== null) cpus.push(t.cpu);
      console.log(
        `trial ${i}: ${t.wall.toFixed(2)} s wall, ${t.cpu === null ? '?' : t.cpu.toFixed(2)} s CPU, exit ${t.code} — ${t.line.slice(0, 100)}`,
      );
    }
    console.log(
      `median: ${median(walls).toFixed(2)} s wall, ${cpus.length > 0 ? median(cpus).toFixed(2) : '?'} s CPU for a Preflight failure (machine load ${loadavg()[0]?.toFixed(1)})`,
    );
    return 0;
  } finally {
    await services.stop();
  }
}

runCli(main);
