import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { freshDatabases } from '../../dev/harness/databases.js';
import { withClient } from '../../dev/support/checksums.js';
import { PreflightError } from '../../functions/errors.js';
import { createMigrationRuntime, type MigrationRuntime } from '../../functions/runtime/migration-runtime.js';
import { preflight } from '../../functions/steps/preflight.js';
import { FileRunStore } from '../../functions/store/run-store.js';

const MIGRATE_CLI = fileURLToPath(new URL('../../scripts/migrate-bigmemory.ts', import.meta.url));

describe('CLI: --concurrency within the servers’ connections', () => {
  let sourceUrl: string;
  let targetUrl: string;

  beforeAll(async () => {
    ({ sourceUrl, targetUrl } = await freshDatabases());
  });

  it('refuses --concurrency 500 against max_connections 200 before anything starts, naming what fits', async () => {
    // Prepare
    const max = await withClient(targetUrl, async (c) =>
      Number((await c.query<{ m: string }>(`SELECT current_setting('max_connections') AS m`)).rows[0]?.m),
    );
    expect(max).toBeLessThan(500);

    // Act
    const { DATABASE_URL: _t, SOURCE_DATABASE_URL: _s, ...inherited } = process.env;
    const outcome = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', MIGRATE_CLI, '--preserve-embeddings', '--snapshot', 'none', '--concurrency', '500'],
      { env: { ...inherited, SOURCE_DATABASE_URL: sourceUrl, DATABASE_URL: targetUrl }, timeout: 60_000 },
    ).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
    );

    // Assess: a usage error, one line, and the target untouched
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toMatch(
      new RegExp(
        `--concurrency 500 needs up to 501 connections to the source database, which has \\d+ free \\(max_connections ${max}\\): use --concurrency \\d+ or less`,
      ),
    );
    expect(outcome.stderr.trim().split('\n')).toHaveLength(1);
    const ledger = await withClient(targetUrl, (c) =>
      c.query<{ t: string | null }>(`SELECT to_regclass('bigmemory_migration.runs')::text AS t`),
    );
    expect(ledger.rows[0]?.t).toBeNull();
  });
});

describe('Preflight: the deployed Map’s concurrency within the servers’ connections', () => {
  let sourceUrl: string;
  let targetUrl: string;
  const runtimes: MigrationRuntime[] = [];

  const runtime = async (mapConcurrency: number) => {
    const r = createMigrationRuntime({
      store: new FileRunStore(await mkdtemp(join(tmpdir(), 'bm-budget-'))),
      sourceUrl: async () => sourceUrl,
      targetUrl: async () => targetUrl,
      mapConcurrency,
    });
    runtimes.push(r);
    return r;
  };

  beforeAll(async () => {
    ({ sourceUrl, targetUrl } = await freshDatabases());
    await generateBigMemory({ databaseUrl: sourceUrl, memories: 20, users: 2, seed: 5 });
  });

  afterAll(async () => {
    await Promise.all(runtimes.map((r) => r.close()));
  });

  it('refuses a Map of 500 against max_connections 200 before anything is written, naming the stack setting', async () => {
    // Act
    const refused = await preflight(await runtime(500), {
      input: { preserveEmbeddings: true, snapshot: 'none' },
      executionName: 'too-wide',
    }).catch((error: Error) => error);
    const fits = await preflight(await runtime(4), {
      input: { preserveEmbeddings: true, dryRun: true },
      executionName: 'fits',
    });

    // Assess
    expect(refused).toBeInstanceOf(PreflightError);
    expect((refused as Error).message).toMatch(
      /runs up to 500 batches at once \(stack context bigmemory-migration:maxConcurrency\), each holding a connection to the source, and Plan and Verify open 4 per database: the run needs at least 501 connections to the source database, which has \d+ free \(max_connections \d+\): redeploy with -c bigmemory-migration:maxConcurrency=\d+ or less, or raise max_connections\./,
    );
    const ledger = await withClient(targetUrl, (c) =>
      c.query<{ t: string | null }>(`SELECT to_regclass('bigmemory_migration.runs')::text AS t`),
    );
    expect(ledger.rows[0]?.t).toBeNull();
    expect(fits.runId).toBe('fits');
  });
});
