import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { freshDatabases } from '../../dev/harness/databases.js';
import { withClient } from '../../dev/support/checksums.js';

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
