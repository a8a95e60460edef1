import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MIGRATE_CLI = fileURLToPath(new URL('../../scripts/migrate-bigmemory.ts', import.meta.url));

export interface CliOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
  /** The stderr line that set off the kill, when one did. */
  killedAt?: string;
}

export interface CliRunOptions {
  args: string[];
  env: Record<string, string>;
  /** SIGKILL the CLI's whole process group as soon as an output line matches. */
  killWhen?: RegExp;
}

/**
 * `npm run migrate:bigmemory` as a user runs it, in a process group of its own, so a kill -9
 * takes the CLI and every child it started at once, as a crash or an operator would.
 */
export function migrateCli(options: CliRunOptions): Promise<CliOutcome> {
  const { DATABASE_URL: _t, SOURCE_DATABASE_URL: _s, MIGRATION_BUCKET: _b, ...inherited } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', MIGRATE_CLI, ...options.args], {
    env: { ...inherited, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  let pending = '';
  let killedAt: string | undefined;
  const watch = (chunk: Buffer) => {
    output += String(chunk);
    if (!options.killWhen || killedAt !== undefined) return;
    pending += String(chunk);
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    const hit = lines.find((line) => options.killWhen?.test(line));
    if (hit !== undefined && child.pid !== undefined) {
      killedAt = hit;
      process.kill(-child.pid, 'SIGKILL');
    }
  };
  child.stdout.on('data', watch);
  child.stderr.on('data', watch);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) =>
      resolve({ code, signal, output, ...(killedAt !== undefined ? { killedAt } : {}) }),
    );
  });
}
