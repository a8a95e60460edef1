import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { freshDatabases } from '../../dev/harness/databases.js';
import { withClient } from '../../dev/support/checksums.js';
import { DEFAULT_MODULE_IDS as MODULE_IDS } from '../../functions/core/modules.js';

const MIGRATE_CLI = fileURLToPath(new URL('../../scripts/migrate-bigmemory.ts', import.meta.url));
// Trust auth ignores the password, so it can be planted in the URLs and looked for everywhere.
const PASSWORD = 'pw-Qu13t-l0gs-s3cret';
const withPassword = (url: string) =>
  url.replace('postgresql://postgres@', `postgresql://postgres:${PASSWORD}@`);

interface CliRun {
  code: number | null;
  output: string;
  /** Every `ps -eo args` line seen while the CLI ran, and whether its code had started by then. */
  processLines: { line: string; started: boolean }[];
}

/** The CLI in a child process, `ps -eo args` read every 100 ms while it runs. */
async function migrateCli(args: string[], env: Record<string, string>): Promise<CliRun> {
  const { DATABASE_URL: _t, SOURCE_DATABASE_URL: _s, MIGRATION_BUCKET: _b, ...inherited } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', MIGRATE_CLI, ...args], {
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += String(chunk);
  });
  child.stderr.on('data', (chunk) => {
    output += String(chunk);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const processLines: CliRun['processLines'] = [];
  let done = false;
  void exited.then(() => {
    done = true;
  });
  while (!done) {
    // The CLI's first line of output comes from its own code, which has then masked its arguments.
    const started = output.length > 0;
    const { stdout } = await promisify(execFile)('ps', ['-eo', 'args']);
    for (const line of stdout.split('\n')) {
      if (line.includes(MIGRATE_CLI) || line.includes('postgresql://')) processLines.push({ line, started });
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { code: await exited, output, processLines };
}

async function filesUnder(dir: string): Promise<string> {
  const names = await readdir(dir, { recursive: true, withFileTypes: true });
  const texts = await Promise.all(
    names
      .filter((d) => d.isFile() && /\.(json|md|html)$/.test(d.name))
      .map((d) => readFile(join(d.parentPath, d.name), 'utf8')),
  );
  return texts.join('\n');
}

describe('Quiet about personal data: failing runs', () => {
  let sourceUrl: string;
  let targetUrl: string;
  let tokens: string[];
  let contents: string[];

  beforeAll(async () => {
    ({ sourceUrl, targetUrl } = await freshDatabases());
    await generateBigMemory({ databaseUrl: sourceUrl, memories: 200, users: 4, seed: 77 });
    ({ tokens, contents } = await withClient(sourceUrl, async (c) => ({
      tokens: (await c.query<{ token: string }>('SELECT token FROM users')).rows.map((r) => r.token),
      contents: (
        await c.query<{ content: string }>(`SELECT content FROM memories WHERE length(content) >= 30`)
      ).rows.map((r) => r.content.slice(0, 30)),
    })));
  });

  const assertQuiet = async (run: CliRun, reportsDir: string, viaEnvironment: boolean) => {
    expect(run.code).toBe(1);
    const written = `${run.output}\n${await filesUnder(reportsDir)}`;
    expect(written).not.toContain('Failing row contains');
    expect(written).not.toContain('Key (');
    for (const token of tokens) expect(written).not.toContain(token);
    for (const content of contents) expect(run.output).not.toContain(content);
    expect(written).not.toContain(PASSWORD);
    // Before its code runs, a process shows the arguments it was given: only the environment keeps
    // a password out of them from the start (the CLI warns about that).
    const checked = viaEnvironment ? run.processLines : run.processLines.filter((p) => p.started);
    expect(checked.length).toBeGreaterThan(0);
    for (const { line } of checked) expect(line).not.toContain(PASSWORD);
  };

  it('a user the target refuses: no token in the output, the report or any process list', {
    timeout: 180_000,
  }, async () => {
    // Prepare: the target refuses every new user, its error quoting the row (token, email, hash)
    await withClient(targetUrl, (c) =>
      c.query('ALTER TABLE users ADD CONSTRAINT probe_refuse CHECK (false) NOT VALID'),
    );
    const reportsDir = await mkdtemp(join(tmpdir(), 'bm-quiet-'));

    // Act: the URLs as flags, passwords in them
    const run = await migrateCli(
      [
        '--source-db',
        withPassword(sourceUrl),
        '--target-db',
        withPassword(targetUrl),
        '--preserve-embeddings',
        '--snapshot',
        'none',
        '--reports-dir',
        reportsDir,
      ],
      {},
    );
    await withClient(targetUrl, (c) => c.query('ALTER TABLE users DROP CONSTRAINT probe_refuse'));

    // Assess
    await assertQuiet(run, reportsDir, false);
    expect(run.output).toContain('probe_refuse');
    expect(run.output).toContain('warning: a database password was given on the command line');
  });

  it('a memory the target refuses: no content or vector in the output or the report', {
    timeout: 180_000,
  }, async () => {
    // Prepare: every module table refuses new rows, its error quoting the row (content, embedding)
    await withClient(targetUrl, async (c) => {
      for (const m of MODULE_IDS)
        await c.query(`ALTER TABLE "${m}_memories" ADD CONSTRAINT probe_refuse CHECK (false) NOT VALID`);
    });
    const reportsDir = await mkdtemp(join(tmpdir(), 'bm-quiet-'));

    // Act: the URLs through the environment
    const run = await migrateCli(
      ['--preserve-embeddings', '--snapshot', 'none', '--reports-dir', reportsDir],
      {
        SOURCE_DATABASE_URL: withPassword(sourceUrl),
        DATABASE_URL: withPassword(targetUrl),
      },
    );

    // Assess: each refused memory is a reject naming the constraint, never quoting the row, and
    // a run that migrated nothing fails
    await assertQuiet(run, reportsDir, true);
    expect(run.output).toContain('RejectThresholdError');
    expect(run.output).toContain('target_constraint');
    expect(run.output).not.toContain('warning: a database password');
    expect(await filesUnder(reportsDir)).toContain('constraint "probe_refuse"');
  });
});
