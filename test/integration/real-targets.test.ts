import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { createDatabase, createTarget, defaultTargetVariant } from '../../dev/harness/databases.js';
import { type EmbeddingsServer, startEmbeddingsServer } from '../../dev/harness/embeddings-server.js';
import { withClient } from '../../dev/support/checksums.js';
import { runSteps, type StepRunResult } from '../../dev/support/run-steps.js';
import { runLayout } from '../../functions/core/run-options.js';
import { LEDGER_SCHEMA } from '../../functions/db/ledger-schema.js';
import { moduleStatistics } from '../../functions/db/statistics.js';
import { PreflightError } from '../../functions/errors.js';
import { migrationReportSchema, verificationResultSchema } from '../../functions/steps/stored-schemas.js';
import { getJson } from '../../functions/store/run-store.js';

// The vitest project decides which real Federated Memory schema this file runs against.
const VARIANT = defaultTargetVariant();
const BASE_INPUT = {
  preserveEmbeddings: true,
  batchSize: 60,
  snapshot: 'none',
  placeholderEmailDomain: 'migrated.invalid',
};

/**
 * A BigMemory as real installs drift: memories never accessed (NULL accessed_at), some never
 * updated (NULL updated_at, the column made nullable as older installs have it), NULL
 * source_metadata, and users without an email.
 */
async function driftedSource(seed: number): Promise<string> {
  const sourceUrl = await createDatabase('bigmemory');
  await generateBigMemory({ databaseUrl: sourceUrl, memories: 240, users: 6, seed });
  await withClient(sourceUrl, async (c) => {
    await c.query('ALTER TABLE memories ALTER COLUMN updated_at DROP NOT NULL');
    await c.query(`UPDATE memories SET accessed_at = NULL WHERE abs(hashtext(id::text)) % 3 = 0`);
    await c.query(
      `UPDATE memories SET updated_at = NULL, accessed_at = NULL WHERE abs(hashtext(id::text)) % 7 = 1`,
    );
    await c.query(`UPDATE memories SET source_metadata = NULL WHERE abs(hashtext(id::text)) % 5 = 2`);
    await c.query(`UPDATE users SET email = NULL WHERE abs(hashtext(id::text)) % 2 = 0`);
  });
  return sourceUrl;
}

const verification = (run: StepRunResult) =>
  getJson(run.runtime.store, runLayout(run.run.runId).verification, verificationResultSchema);
const reportOf = (run: StepRunResult) =>
  getJson(run.runtime.store, runLayout(run.run.runId).report.json, migrationReportSchema);

describe(`Real Federated Memory targets (${VARIANT} schema)`, () => {
  let sourceUrl: string;
  const runs: StepRunResult[] = [];
  const keep = (run: StepRunResult) => {
    runs.push(run);
    return run;
  };

  beforeAll(async () => {
    sourceUrl = await driftedSource(41);
  });

  afterAll(async () => {
    await Promise.all(runs.map((r) => r.runtime.close()));
  });

  it('migrates memories with NULL accessed_at, updated_at and metadata, and users without email, and reconciles', async () => {
    // Prepare
    const targetUrl = await createTarget();
    const nullAccessed = await withClient(sourceUrl, (c) =>
      c.query<{ id: string; fallback: Date }>(
        `SELECT id::text, coalesce(updated_at, created_at) AS fallback FROM memories
          WHERE accessed_at IS NULL AND NOT is_deleted`,
      ),
    );

    // Act
    const run = keep(await runSteps({ sourceUrl, targetUrl, input: BASE_INPUT }));

    // Assess: verified, and every lastAccessed filled by the documented rule
    const result = await verification(run);
    expect(result.checks.filter((c) => !c.ok)).toEqual([]);
    const migrated = await withClient(targetUrl, (c) =>
      c.query<{ source_id: string; module: string; target_id: string }>(
        `SELECT source_id, module, target_id FROM ${LEDGER_SCHEMA}.memory_ledger WHERE status = 'migrated'`,
      ),
    );
    expect(migrated.rows.length).toBeGreaterThan(150);
    const targetIdOf = new Map(migrated.rows.map((r) => [r.source_id, r.target_id]));
    const lastAccessed = await withClient(targetUrl, (c) =>
      c.query<{ id: string; last: Date | null }>(
        `SELECT id, "lastAccessed" AS last FROM work_memories UNION ALL SELECT id, "lastAccessed" FROM personal_memories
         UNION ALL SELECT id, "lastAccessed" FROM technical_memories UNION ALL SELECT id, "lastAccessed" FROM learning_memories
         UNION ALL SELECT id, "lastAccessed" FROM communication_memories UNION ALL SELECT id, "lastAccessed" FROM creative_memories`,
      ),
    );
    const lastById = new Map(lastAccessed.rows.map((r) => [r.id, r.last]));
    let derived = 0;
    for (const row of nullAccessed.rows) {
      const targetId = targetIdOf.get(row.id);
      if (!targetId) continue;
      derived++;
      expect(lastById.get(targetId)?.getTime()).toBe(row.fallback.getTime());
    }
    expect(derived).toBeGreaterThan(50);
    const report = await reportOf(run);
    expect(report.repairsByRule).toContainEqual({ rule: 'last_accessed_derived', count: derived });
    const users = await withClient(targetUrl, (c) =>
      c.query<{ n: number }>(`SELECT count(*)::int AS n FROM "users" WHERE email LIKE '%@migrated.invalid'`),
    );
    // Only a target that requires an email gets placeholders; the newest keeps them NULL.
    if (VARIANT === 'older') expect(users.rows[0]?.n).toBeGreaterThan(0);
    else expect(users.rows[0]?.n).toBe(0);
  });

  it('rejects exactly the rows a CHECK constraint or trigger of the target refuses, naming it, and migrates the rest', async () => {
    // Prepare: the target's owner added a rule of their own to every module table, and a trigger
    const targetUrl = await createTarget();
    await withClient(sourceUrl, (c) =>
      c.query(
        `UPDATE memories SET source_metadata = coalesce(source_metadata, '{}'::jsonb) || '{"legal_hold": true}'
          WHERE abs(hashtext(id::text)) % 11 = 3 AND jsonb_typeof(coalesce(source_metadata, '{}'::jsonb)) = 'object'`,
      ),
    );
    const modules = await withClient(targetUrl, (c) =>
      c.query<{ table: string }>(`SELECT configuration->>'tableName' AS table FROM memory_modules`),
    );
    await withClient(targetUrl, async (c) => {
      for (const { table } of modules.rows) {
        await c.query(
          `ALTER TABLE "${table}" ADD CONSTRAINT "${table}_no_legal_hold" CHECK (NOT (metadata ? 'legal_hold'))`,
        );
      }
      await c.query(`CREATE FUNCTION refuse_marked() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.content LIKE '%[do-not-migrate]%' THEN RAISE EXCEPTION 'marked do-not-migrate'; END IF;
          RETURN NEW;
        END $$`);
      for (const { table } of modules.rows) {
        await c.query(
          `CREATE TRIGGER refuse_marked BEFORE INSERT OR UPDATE ON "${table}" FOR EACH ROW EXECUTE FUNCTION refuse_marked()`,
        );
      }
    });
    const marked = await withClient(sourceUrl, async (c) => {
      const { rows } = await c.query<{ id: string }>(
        `UPDATE memories SET content = content || ' [do-not-migrate]'
          WHERE id = (SELECT id FROM memories WHERE NOT is_deleted AND content IS NOT NULL AND content <> ''
                       AND user_id IN (SELECT id FROM users)
                       AND NOT coalesce(source_metadata ? 'legal_hold', false) ORDER BY id LIMIT 1)
          RETURNING id::text`,
      );
      return rows[0]?.id as string;
    });
    const held = await withClient(sourceUrl, (c) =>
      c.query<{ id: string }>(
        `SELECT id::text FROM memories WHERE source_metadata ? 'legal_hold' AND NOT is_deleted`,
      ),
    );

    // Act: a tenth of the memories is refused, past the default reject threshold, so allow it
    const input = { ...BASE_INPUT, maxRejectRatio: 0.5 };
    const run = keep(await runSteps({ sourceUrl, targetUrl, input }));

    // Assess
    const ledger = await withClient(targetUrl, (c) =>
      c.query<{ source_id: string; status: string; reason: string | null; detail: string | null }>(
        `SELECT source_id, status, reason, detail FROM ${LEDGER_SCHEMA}.memory_ledger`,
      ),
    );
    const refused = ledger.rows.filter((r) => r.reason === 'target_constraint');
    const heldMigratable = held.rows
      .map((r) => r.id)
      .filter((id) =>
        ledger.rows.some(
          (l) => l.source_id === id && (l.status === 'migrated' || l.reason === 'target_constraint'),
        ),
      );
    expect(heldMigratable.length).toBeGreaterThan(5);
    expect(refused.map((r) => r.source_id).sort()).toEqual([...heldMigratable, marked].sort());
    for (const r of refused.filter((x) => x.source_id !== marked)) {
      expect(r.detail).toMatch(/constraint "[a-z_]+_memories_no_legal_hold"/);
      expect(r.detail).not.toContain('legal_hold": true');
    }
    expect(refused.find((r) => r.source_id === marked)?.detail).toMatch(
      /SQLSTATE P0001.*marked do-not-migrate/,
    );
    expect(ledger.rows.filter((r) => r.status === 'migrated').length).toBeGreaterThan(150);
    const result = await verification(run);
    expect(result.checks.filter((c) => !c.ok)).toEqual([]);
    const report = await reportOf(run);
    expect(report.rejectsByReason).toContainEqual({ reason: 'target_constraint', count: refused.length });

    // A rerun keeps them rejected and writes nothing twice
    const again = keep(await runSteps({ sourceUrl, targetUrl, input }));
    const recheck = await verification(again);
    expect(recheck.checks.filter((c) => !c.ok)).toEqual([]);
    await withClient(sourceUrl, (c) =>
      c.query(
        `UPDATE memories SET source_metadata = source_metadata - 'legal_hold' WHERE source_metadata ? 'legal_hold'`,
      ),
    );
    await withClient(sourceUrl, (c) =>
      c.query(`UPDATE memories SET content = replace(content, ' [do-not-migrate]', '') WHERE id::text = $1`, [
        marked,
      ]),
    );
  });

  it('refuses in Preflight a target column it cannot fill, naming the table, the column and the fix', async () => {
    // Prepare
    const targetUrl = await createTarget();
    await withClient(targetUrl, (c) =>
      c.query(`ALTER TABLE "creative_memories" ADD COLUMN "tenantId" text NOT NULL`),
    );

    // Act
    const error = await runSteps({ sourceUrl, targetUrl, input: BASE_INPUT }).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(PreflightError);
    expect((error as Error).message).toMatch(
      /"creative_memories"\."tenantId" is NOT NULL without a default.*SET DEFAULT/,
    );
    const ledger = await withClient(targetUrl, (c) =>
      c.query<{ present: boolean }>('SELECT to_regnamespace($1) IS NOT NULL AS present', [LEDGER_SCHEMA]),
    );
    expect(ledger.rows[0]?.present).toBe(false);
  });

  it('routes tasks and projects to the project-management module a rules file names, where the target has it', async () => {
    // Prepare
    const targetUrl = await createTarget();
    const rulesFile = join(tmpdir(), `rules-${process.pid}-${Date.now()}.json`);
    await writeFile(
      rulesFile,
      JSON.stringify({ typeRules: { project: 'project_management', task: 'project_management' } }),
    );
    const input = { ...BASE_INPUT, rules: pathToFileURL(rulesFile).href };

    // Act
    const outcome = await runSteps({ sourceUrl, targetUrl, input }).catch((e: unknown) => e);

    // Assess
    if (VARIANT === 'older') {
      expect(outcome).toBeInstanceOf(PreflightError);
      expect((outcome as Error).message).toMatch(/module "project_management" \(typeRules\.project\)/);
      return;
    }
    const run = keep(outcome as StepRunResult);
    const ledger = await withClient(targetUrl, (c) =>
      c.query<{ module: string; n: number }>(
        `SELECT module, count(*)::int AS n FROM ${LEDGER_SCHEMA}.memory_ledger WHERE status = 'migrated' AND rule IN ('type:project', 'type:task') GROUP BY module`,
      ),
    );
    expect(ledger.rows).toHaveLength(1);
    expect(ledger.rows[0]?.module).toBe('project-management');
    const landed = await withClient(targetUrl, (c) =>
      c.query<{ rows: number; cmi: number }>(
        `SELECT (SELECT count(*)::int FROM project_management_memories) AS rows,
                (SELECT count(*)::int FROM memory_index WHERE "moduleId" = 'project-management') AS cmi`,
      ),
    );
    expect(landed.rows[0]?.rows).toBe(ledger.rows[0]?.n);
    expect(landed.rows[0]?.cmi).toBe(ledger.rows[0]?.n);
    expect(ledger.rows[0]?.n).toBeGreaterThan(5);
    const result = await verification(run);
    expect(result.checks.filter((c) => !c.ok)).toEqual([]);
    const moduleCheck = result.checks.find((c) => c.name === 'module_counts');
    expect(JSON.stringify(moduleCheck)).toContain('project-management');
    const report = await reportOf(run);
    expect(report.modules.find((m) => m.module === 'project-management')?.count).toBe(ledger.rows[0]?.n);
    const stats = await withClient(targetUrl, (c) => moduleStatistics(c));
    expect(stats.find((m) => m.module === 'project-management')).toMatchObject({
      rows: ledger.rows[0]?.n,
      migrated: ledger.rows[0]?.n,
      cmiRows: ledger.rows[0]?.n,
    });
  });
});

describe(`Targets with other vector sizes (${VARIANT} schema)`, () => {
  let server: EmbeddingsServer;
  let sourceUrl: string;
  const runs: StepRunResult[] = [];

  beforeAll(async () => {
    server = await startEmbeddingsServer();
    sourceUrl = await createDatabase('bigmemory');
    await generateBigMemory({ databaseUrl: sourceUrl, memories: 90, users: 3, seed: 5 });
  });

  afterAll(async () => {
    await Promise.all(runs.map((r) => r.runtime.close()));
    await server.close();
  });

  /** A target whose module tables hold `dims`-d vectors and whose CMI holds `cmi`-d ones. */
  async function resizedTarget(dims: number, cmi: number): Promise<string> {
    const targetUrl = await createTarget();
    await withClient(targetUrl, async (c) => {
      const { rows } = await c.query<{ table: string }>(
        `SELECT configuration->>'tableName' AS table FROM memory_modules`,
      );
      for (const { table } of rows)
        await c.query(`ALTER TABLE "${table}" ALTER COLUMN embedding TYPE vector(${dims})`);
      await c.query(`ALTER TABLE memory_index ALTER COLUMN embedding TYPE vector(${cmi})`);
    });
    return targetUrl;
  }

  // The harness answers 1536 values unless asked for another size, so -large is asked for its 3072.
  it.each([
    [768, 256, { embeddingModel: 'text-embedding-3-small' }],
    [3072, 1024, { embeddingModel: 'text-embedding-3-large', embeddingDimensions: 3072 }],
  ])('regenerates into a %i-d target (CMI %i-d) and verifies', async (dims, cmi, model) => {
    // Prepare
    const targetUrl = await resizedTarget(dims, cmi);

    // Act
    const run = await runSteps({
      sourceUrl,
      targetUrl,
      input: { ...BASE_INPUT, preserveEmbeddings: false, ...model },
      openAiApiKey: 'sk-test-real-targets',
      openAiBaseUrl: server.baseURL,
    });
    runs.push(run);

    // Assess
    const result = await verification(run);
    expect(result.checks.filter((c) => !c.ok)).toEqual([]);
    const sizes = await withClient(targetUrl, (c) =>
      c.query<{ module: number | null; cmi: number | null; n: number }>(
        `SELECT vector_dims(m.embedding) AS module, vector_dims(i.embedding) AS cmi, count(*)::int AS n
           FROM work_memories m JOIN memory_index i ON i."remoteMemoryId" = m.id GROUP BY 1, 2`,
      ),
    );
    expect(sizes.rows).toEqual([{ module: dims, cmi, n: expect.any(Number) }]);
    const rejected = await withClient(targetUrl, (c) =>
      c.query<{ reason: string; n: number }>(
        `SELECT reason, count(*)::int AS n FROM ${LEDGER_SCHEMA}.memory_ledger WHERE status = 'rejected' GROUP BY reason`,
      ),
    );
    expect(rejected.rows.map((r) => r.reason)).not.toContain('invalid_embedding_dimension');
  });

  it('stops in Preflight when 1536-d source vectors are to be preserved in a 768-d target, saying what to do', async () => {
    // Prepare
    const targetUrl = await resizedTarget(768, 256);

    // Act
    const error = await runSteps({ sourceUrl, targetUrl, input: BASE_INPUT }).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(PreflightError);
    expect((error as Error).message).toMatch(
      /vector\(1536\) but the target's module tables take vector\(768\).*drop --preserve-embeddings.*"preserveEmbeddings": false/,
    );
  });

  it('refuses in Preflight a CMI size the module size is no whole multiple of', async () => {
    // Prepare
    const targetUrl = await resizedTarget(768, 512);

    // Act
    const error = await runSteps({
      sourceUrl,
      targetUrl,
      input: { ...BASE_INPUT, preserveEmbeddings: false },
      openAiApiKey: 'sk-test-real-targets',
      openAiBaseUrl: server.baseURL,
    }).catch((e: unknown) => e);

    // Assess
    expect(error).toBeInstanceOf(PreflightError);
    expect((error as Error).message).toMatch(
      /CMI holds vector\(512\) and its modules vector\(768\).*whole multiple/,
    );
  });
});
