import { beforeAll, describe, expect, it } from 'vitest';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { freshDatabases } from '../../dev/harness/databases.js';
import { withClient } from '../../dev/support/checksums.js';
import { runSteps } from '../../dev/support/run-steps.js';
import { targetMemoryId } from '../../functions/core/ids.js';
import { DEFAULT_MODULE_IDS as MODULE_IDS } from '../../functions/core/modules.js';
import { runLayout } from '../../functions/core/run-options.js';
import { LEDGER_SCHEMA } from '../../functions/db/ledger-schema.js';
import { written } from '../../functions/steps/stored-schemas.js';
import { getJson } from '../../functions/store/run-store.js';

// The planted bad values reject a few percent of this small source, past the default threshold.
const INPUT = { preserveEmbeddings: true, batchSize: 100, snapshot: 'none', maxRejectRatio: 0.2 };

/** Source memories with values a database accepts and a naive copy cannot carry, by label. */
const BAD_ROWS: Record<string, string> = {
  infinity: `created_at = 'infinity', updated_at = '2025-03-01T10:00:00.123Z'`,
  minusInfinity: `updated_at = '-infinity'`,
  year294276: `created_at = '294276-01-01T00:00:00Z', updated_at = '294276-06-01T00:00:00Z', accessed_at = '2025-01-02T03:04:05.678Z'`,
  nullCreated: `created_at = NULL, updated_at = '2025-04-01T00:00:00Z'`,
  noInstant: `created_at = NULL, updated_at = NULL, accessed_at = 'infinity'`,
  bigCount: 'access_count = 3000000000',
  nullCount: 'access_count = NULL',
  shadowed: `source_metadata = '{"shadowed_source_metadata": "the source''s own", "title": "a source title"}'::jsonb, title = 'The memory title'`,
};

interface ReportJson {
  repairsByRule: Array<{ rule: string; count: number }>;
  rejectsByReason: Array<{ reason: string; count: number }>;
  users: { byDecision: Array<{ decision: string; count: number }> } | null;
}

describe('Bad values become rejects or recorded repairs', () => {
  let sourceUrl: string;
  let targetUrl: string;
  const ids: Record<string, string> = {};
  let duplicateUsers: string[];

  beforeAll(async () => {
    ({ sourceUrl, targetUrl } = await freshDatabases());
    await generateBigMemory({ databaseUrl: sourceUrl, memories: 200, users: 3, seed: 41 });
    await withClient(sourceUrl, async (c) => {
      // A drifted install: nullable timestamps and count, a bigint count, tokens not unique.
      await c.query(`ALTER TABLE memories ALTER COLUMN created_at DROP NOT NULL, ALTER COLUMN updated_at DROP NOT NULL,
        ALTER COLUMN access_count DROP NOT NULL, ALTER COLUMN access_count TYPE bigint`);
      await c.query('ALTER TABLE users DROP CONSTRAINT users_token_key');
      const { rows } = await c.query<{ id: string }>(
        `SELECT id::text FROM memories WHERE is_deleted IS NOT TRUE AND length(content) > 20 ORDER BY id LIMIT $1`,
        [Object.keys(BAD_ROWS).length],
      );
      for (const [i, [label, set]] of Object.entries(BAD_ROWS).entries()) {
        ids[label] = rows[i]!.id;
        await c.query(`UPDATE memories SET ${set} WHERE id = $1`, [rows[i]!.id]);
      }
      const { rows: users } = await c.query<{ id: string }>(
        `INSERT INTO users (token, email, created_at) VALUES
           ('shared-token-0001', 'first@example.com', '2024-01-01'), ('shared-token-0001', 'second@example.com', '2024-02-01')
         RETURNING id::text`,
      );
      duplicateUsers = users.map((u) => u.id);
      for (const userId of duplicateUsers) {
        await c.query(
          `INSERT INTO memories (user_id, content) VALUES ($1, 'A note of a user whose token another user shares')`,
          [userId],
        );
      }
    });
  });

  it('a dry run predicts the same repairs and rejects the real run records, and the real run verifies', async () => {
    // Act
    const dry = await runSteps({ sourceUrl, targetUrl, input: { ...INPUT, dryRun: true } });
    await dry.runtime.close();
    const real = await runSteps({ sourceUrl, targetUrl, input: INPUT });
    await real.runtime.close();

    // Assess: both runs see the same
    const reportOf = (run: typeof dry) =>
      getJson(run.runtime.store, runLayout(run.run.runId).report.json, written<ReportJson>());
    const [dryReport, realReport] = await Promise.all([reportOf(dry), reportOf(real)]);
    for (const report of [dryReport, realReport]) {
      expect(Object.fromEntries(report.repairsByRule.map((r) => [r.rule, r.count]))).toMatchObject({
        created_at_repaired: 3,
        updated_at_repaired: 2,
        access_count_repaired: 2,
        shadowed_metadata_nested: 1,
      });
      expect(report.rejectsByReason).toContainEqual({ reason: 'invalid_timestamps', count: 1 });
      expect(report.users?.byDecision).toContainEqual({ decision: 'conflict_token_skipped', count: 1 });
    }
    expect((real.outputs.verify as { ok: boolean }).ok).toBe(true);

    // The repaired values, as the documented rules say
    const modules = MODULE_IDS.map(
      (m) =>
        `SELECT id, "createdAt", "updatedAt", "lastAccessed", "accessCount", metadata FROM "${m}_memories"`,
    ).join(' UNION ALL ');
    const rows = await withClient(targetUrl, async (c) => {
      await c.query(`SET TimeZone = 'UTC'`);
      const { rows } = await c.query<{
        id: string;
        created: string;
        updated: string;
        accessed: string | null;
        accessCount: number;
        metadata: Record<string, unknown>;
      }>(
        `SELECT id, to_char("createdAt", 'YYYY-MM-DD"T"HH24:MI:SS.MS') AS created,
                to_char("updatedAt", 'YYYY-MM-DD"T"HH24:MI:SS.MS') AS updated,
                to_char("lastAccessed", 'YYYY-MM-DD"T"HH24:MI:SS.MS') AS accessed, "accessCount", metadata
           FROM (${modules}) m WHERE id = ANY($1::text[])`,
        [Object.values(ids).map((id) => targetMemoryId(id))],
      );
      return new Map(rows.map((r) => [r.id, r]));
    });
    const row = (label: string) => rows.get(targetMemoryId(ids[label]!));
    expect(row('infinity')).toMatchObject({
      created: '2025-03-01T10:00:00.123',
      updated: '2025-03-01T10:00:00.123',
    });
    expect(row('minusInfinity')?.updated).toBe(row('minusInfinity')?.created);
    expect(row('year294276')).toMatchObject({
      created: '2025-01-02T03:04:05.678',
      updated: '2025-01-02T03:04:05.678',
    });
    expect(row('nullCreated')).toMatchObject({ created: '2025-04-01T00:00:00.000' });
    expect(row('noInstant')).toBeUndefined();
    expect(row('bigCount')?.accessCount).toBe(2_147_483_647);
    expect(row('nullCount')?.accessCount).toBe(0);
    const shadowed = row('shadowed')?.metadata.shadowed_source_metadata as Record<string, unknown>;
    expect(shadowed).toMatchObject({ title: 'a source title', shadowed_source_metadata: "the source's own" });
    const decisions = await withClient(targetUrl, (c) =>
      c.query<{ decision: string }>(
        `SELECT decision FROM ${LEDGER_SCHEMA}.user_map WHERE source_user_id = ANY($1::text[]) ORDER BY decision`,
        [duplicateUsers],
      ),
    );
    expect(decisions.rows.map((r) => r.decision)).toEqual(['conflict_token_skipped', 'created']);
  });
});
