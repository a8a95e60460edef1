import { spawn } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { freshDatabases } from '../../dev/harness/databases.js';
import { withClient } from '../../dev/support/checksums.js';
import { runLayout } from '../../functions/core/run-options.js';

const MIGRATE_CLI = fileURLToPath(new URL('../../scripts/migrate-bigmemory.ts', import.meta.url));

interface RelationRange {
  index: number;
  kind: string;
  fromKey: string | null;
  toKey: string | null;
}

async function migrateCli(args: string[], env: Record<string, string>) {
  const { DATABASE_URL: _t, SOURCE_DATABASE_URL: _s, MIGRATION_BUCKET: _b, ...inherited } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', MIGRATE_CLI, ...args], {
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += String(chunk);
  });
  child.stderr.on('data', (chunk) => {
    stderr += String(chunk);
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, stdout, stderr };
}

/**
 * One child of the relationships Map fails for good (the target refuses its write with an error
 * no retry cures) while its siblings are still writing theirs: the run fails, the siblings that
 * were in flight finish (or never start) before the pools close, and every range holds all of its
 * relations or none.
 */
describe('A Map child that fails while its siblings are in flight', () => {
  let sourceUrl: string;
  let targetUrl: string;

  beforeAll(async () => {
    ({ sourceUrl, targetUrl } = await freshDatabases());
    await generateBigMemory({
      databaseUrl: sourceUrl,
      memories: 600,
      users: 4,
      seed: 2020,
      relations: 10_000,
      defects: false,
    });
  }, 120_000);

  it('ends no pool under a running child and leaves whole ranges only', { timeout: 240_000 }, async () => {
    // Prepare: the first thousand relations (by id, as the ranges are cut) are refused with a
    // permission error; every other row takes a millisecond, so the other ranges are mid-write
    const { rows } = await withClient(sourceUrl, (c) =>
      c.query<{ id: string }>('SELECT id::text AS id FROM memory_relations ORDER BY id OFFSET 999 LIMIT 1'),
    );
    const lastPoisoned = rows[0]!.id;
    await withClient(targetUrl, async (c) => {
      await c.query(`CREATE FUNCTION refuse_first_relations() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.metadata->>'original_relation_id' <= '${lastPoisoned}' THEN
            RAISE EXCEPTION 'permission denied for these relations' USING ERRCODE = '42501';
          END IF;
          PERFORM pg_sleep(0.001);
          RETURN NEW;
        END $$`);
      await c.query(
        'CREATE TRIGGER refuse_first_relations BEFORE INSERT ON memory_relationships FOR EACH ROW EXECUTE FUNCTION refuse_first_relations()',
      );
    });
    const reportsDir = await mkdtemp(join(tmpdir(), 'bm-map-child-'));

    // Act: --verbose, so that the handlers' errors reach stderr
    const run = await migrateCli(
      [
        '--verbose',
        '--preserve-embeddings',
        '--snapshot',
        'none',
        '--concurrency',
        '4',
        '--reports-dir',
        reportsDir,
        '--run-id',
        'map-child-fails',
      ],
      { SOURCE_DATABASE_URL: sourceUrl, DATABASE_URL: targetUrl },
    );

    // Assess: the run failed on the refusal, and nothing met an ended pool
    expect(run.code).toBe(1);
    expect(`${run.stdout}\n${run.stderr}`).toContain('permission denied for these relations');
    expect(run.stderr).not.toMatch(/Cannot use a pool|after calling end on the pool/);
    const ranges = JSON.parse(
      await readFile(join(reportsDir, runLayout('map-child-fails').relationshipRanges), 'utf8'),
    ) as RelationRange[];
    const relationRanges = ranges.filter((r) => r.kind === 'relations');
    expect(relationRanges.length).toBeGreaterThan(8);
    const ledgered = new Set(
      await withClient(targetUrl, async (c) =>
        (
          await c.query<{ key: string }>(
            'SELECT source_key AS key FROM bigmemory_migration.relationship_ledger',
          )
        ).rows.map((r) => r.key),
      ),
    );
    const outcomes: string[] = [];
    for (const range of relationRanges) {
      const ids = await withClient(sourceUrl, async (c) =>
        (
          await c.query<{ id: string }>(
            `SELECT id::text AS id FROM memory_relations
              WHERE ($1::uuid IS NULL OR id > $1::uuid) AND ($2::uuid IS NULL OR id <= $2::uuid)`,
            [range.fromKey, range.toKey],
          )
        ).rows.map((r) => r.id),
      );
      const written = ids.filter((id) => ledgered.has(`relation:${id}`)).length;
      expect([0, ids.length], `range ${range.index}: ${written} of ${ids.length}`).toContain(written);
      outcomes.push(written === 0 ? 'none' : 'all');
    }
    // The first range failed; siblings that were in flight committed
    expect(outcomes[0]).toBe('none');
    expect(outcomes).toContain('all');
  });
});
