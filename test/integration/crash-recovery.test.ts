import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { createTarget, freshDatabases } from '../../dev/harness/databases.js';
import { targetChecksums, withClient } from '../../dev/support/checksums.js';
import { migrateCli } from '../../dev/support/cli-process.js';
import { LEDGER_SCHEMA } from '../../functions/db/ledger-schema.js';

// A dead holder is recognised after this much silence; the CLI's own default is five minutes.
const STALE_SECONDS = 2;
const ARGS = ['--preserve-embeddings', '--batch-size', '50', '--concurrency', '2', '--snapshot', 'logical'];

/** Where a run is killed: the first output line of each phase (progress goes to stderr). */
const PHASES = [
  { name: 'snapshot', line: /^snapshot …/ },
  { name: 'users', line: /^users …/ },
  { name: 'batches', line: /^migrating .* [1-9]\d*\/\d+ batches/ },
  { name: 'relationships', line: /^relationships .* [1-9]\d*\/\d+ batches/ },
  { name: 'cmi', line: /^rebuilding the CMI …/ },
] as const;

interface LedgerState {
  lock: number;
  memories: number;
  relationships: number;
  status: string | undefined;
}

async function ledgerState(targetUrl: string, runId: string): Promise<LedgerState> {
  return withClient(targetUrl, async (c) => {
    const exists = await c.query(`SELECT to_regclass('${LEDGER_SCHEMA}.lock') IS NOT NULL AS e`);
    if (!exists.rows[0]?.e) return { lock: 0, memories: 0, relationships: 0, status: undefined };
    const count = async (sql: string) => Number((await c.query<{ n: string }>(sql)).rows[0]?.n);
    return {
      lock: await count(`SELECT count(*) AS n FROM ${LEDGER_SCHEMA}.lock`),
      memories: await count(`SELECT count(*) AS n FROM ${LEDGER_SCHEMA}.memory_ledger`),
      relationships: await count(`SELECT count(*) AS n FROM ${LEDGER_SCHEMA}.relationship_ledger`),
      status: (
        await c.query<{ status: string }>(`SELECT status FROM ${LEDGER_SCHEMA}.runs WHERE run_id = $1`, [
          runId,
        ])
      ).rows[0]?.status,
    };
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('kill -9 at any phase, then a rerun', () => {
  let sourceUrl: string;
  let clean: Record<string, string>;
  let liveMemories: number;

  const cli = async (targetUrl: string, runId: string, extra: string[] = [], killWhen?: RegExp) =>
    migrateCli({
      args: [
        ...ARGS,
        '--reports-dir',
        await mkdtemp(join(tmpdir(), 'bm-crash-')),
        '--run-id',
        runId,
        ...extra,
      ],
      env: {
        SOURCE_DATABASE_URL: sourceUrl,
        DATABASE_URL: targetUrl,
        MIGRATION_LOCK_STALE_SECONDS: String(STALE_SECONDS),
      },
      ...(killWhen ? { killWhen } : {}),
    });

  beforeAll(async () => {
    let cleanUrl: string;
    ({ sourceUrl, targetUrl: cleanUrl } = await freshDatabases());
    await generateBigMemory({ databaseUrl: sourceUrl, memories: 1_500, users: 10, seed: 83 });
    liveMemories = await withClient(sourceUrl, async (c) =>
      Number(
        (await c.query<{ n: string }>('SELECT count(*) AS n FROM memories WHERE NOT is_deleted')).rows[0]?.n,
      ),
    );
    const run = await cli(cleanUrl, 'crash-clean');
    expect(run.code, run.output).toBe(0);
    clean = await targetChecksums(cleanUrl);
  }, 240_000);

  it.each(PHASES)(
    'killed during $name: the rerun finds the dead holder, takes the lock over and converges',
    async ({ name, line }) => {
      // Prepare: a run killed as the phase starts
      const targetUrl = await createTarget();
      const killed = await cli(targetUrl, `crash-${name}`, [], line);
      expect(killed.signal, killed.output).toBe('SIGKILL');
      expect(killed.killedAt).toMatch(line);
      const atKill = await ledgerState(targetUrl, `crash-${name}`);
      expect(atKill).toMatchObject({ lock: 1, status: 'running' });
      if (name === 'snapshot' || name === 'users') expect(atKill.memories).toBe(0);
      if (name === 'batches') expect(atKill.memories).toBeGreaterThan(0);
      if (name === 'batches') expect(atKill.memories).toBeLessThan(liveMemories);
      if (name === 'cmi') expect(atKill.relationships).toBeGreaterThan(0);

      // Act: a user's rerun once the holder has been silent for the stale time, then the one the
      // message asks for (the first phase shows that message; the others go straight to it)
      await sleep((STALE_SECONDS + 1) * 1000);
      const refused = name === PHASES[0].name ? await cli(targetUrl, `crash-${name}-again`) : null;
      const rerun = await cli(targetUrl, `crash-${name}-rerun`, ['--break-lock']);

      // Assess
      if (refused) {
        expect(refused.code).toBe(1);
        expect(refused.output).toMatch(/no heartbeat for \d+ s: it has most likely died.*--break-lock/);
      }
      expect(rerun.code, rerun.output).toBe(0);
      expect(await ledgerState(targetUrl, `crash-${name}`)).toMatchObject({ lock: 0, status: 'abandoned' });
      expect(await targetChecksums(targetUrl)).toEqual(clean);
    },
    240_000,
  );
});
