import { afterEach, describe, expect, it } from 'vitest';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { freshDatabases } from '../../dev/harness/databases.js';
import { targetChecksums, withClient } from '../../dev/support/checksums.js';
import { runSteps } from '../../dev/support/run-steps.js';
import { targetMemoryId } from '../../functions/core/ids.js';
import { DEFAULT_MODULE_IDS as MODULE_IDS } from '../../functions/core/modules.js';

const INPUT = { preserveEmbeddings: true, batchSize: 100, snapshot: 'none' };
const databaseOf = (url: string) => new URL(url).pathname.slice(1);

/** Epoch milliseconds of each memory's created/updated time, source side, by target id. */
async function sourceTimes(sourceUrl: string): Promise<Map<string, string>> {
  return withClient(sourceUrl, async (c) => {
    const { rows } = await c.query<{ id: string; t: string }>(
      `SELECT id::text AS id, (extract(epoch FROM created_at::timestamptz) * 1000)::bigint || '/' ||
              (extract(epoch FROM updated_at::timestamptz) * 1000)::bigint AS t
         FROM memories WHERE is_deleted IS NOT TRUE`,
    );
    return new Map(rows.map((r) => [targetMemoryId(r.id), r.t]));
  });
}

async function targetTimes(targetUrl: string): Promise<Map<string, string>> {
  const modules = MODULE_IDS.map((m) => `SELECT id, "createdAt", "updatedAt" FROM "${m}_memories"`).join(
    ' UNION ALL ',
  );
  return withClient(targetUrl, async (c) => {
    // This session in UTC, so a zone-less column reads as the UTC it holds.
    await c.query(`SET TimeZone = 'UTC'`);
    const { rows } = await c.query<{ id: string; t: string }>(
      `SELECT id, (extract(epoch FROM "createdAt"::timestamptz) * 1000)::bigint || '/' ||
                  (extract(epoch FROM "updatedAt"::timestamptz) * 1000)::bigint AS t FROM (${modules}) m`,
    );
    return new Map(rows.map((r) => [r.id, r.t]));
  });
}

describe('Time zones: every timestamp path is zone-explicit', () => {
  const previousTz = process.env.TZ;
  afterEach(() => {
    process.env.TZ = previousTz;
  });

  it('reruns into a timestamptz target in Asia/Kolkata without moving any timestamp', async () => {
    // Prepare: the target's timestamps with zone, its database's TimeZone not UTC
    const { sourceUrl, targetUrl } = await freshDatabases();
    await generateBigMemory({ databaseUrl: sourceUrl, memories: 300, users: 4, seed: 5 });
    await withClient(targetUrl, async (c) => {
      await c.query(`ALTER DATABASE "${databaseOf(targetUrl)}" SET TimeZone = 'Asia/Kolkata'`);
      for (const m of MODULE_IDS) {
        for (const col of ['createdAt', 'updatedAt', 'lastAccessed']) {
          await c.query(
            `ALTER TABLE "${m}_memories" ALTER COLUMN "${col}" TYPE timestamptz(3) USING "${col}" AT TIME ZONE 'UTC'`,
          );
        }
      }
    });

    // Act: a first run (plain COPY), then a rerun (every row through staging and upsert)
    const first = await runSteps({ sourceUrl, targetUrl, input: INPUT });
    await first.runtime.close();
    const afterFirst = await targetChecksums(targetUrl);
    const second = await runSteps({ sourceUrl, targetUrl, input: INPUT });
    await second.runtime.close();

    // Assess
    expect(await targetChecksums(targetUrl)).toEqual(afterFirst);
    const [source, target] = await Promise.all([sourceTimes(sourceUrl), targetTimes(targetUrl)]);
    expect(target.size).toBeGreaterThan(200);
    for (const [id, t] of target) expect(t, id).toBe(source.get(id));
  });

  it('takes the watermark from a zone-less source in UTC, clamped to its clock, in any Node TZ', async () => {
    // Prepare: a zone-less source in a zone far from UTC, Node in another, one row dated next year
    process.env.TZ = 'America/Los_Angeles';
    const { sourceUrl, targetUrl } = await freshDatabases();
    await generateBigMemory({ databaseUrl: sourceUrl, memories: 300, users: 4, seed: 6 });
    const future = await withClient(sourceUrl, async (c) => {
      await c.query(`ALTER DATABASE "${databaseOf(sourceUrl)}" SET TimeZone = 'Pacific/Auckland'`);
      for (const col of ['created_at', 'updated_at', 'accessed_at']) {
        await c.query(
          `ALTER TABLE memories ALTER COLUMN ${col} TYPE timestamp USING ${col} AT TIME ZONE 'UTC'`,
        );
      }
      const { rows } = await c.query<{ id: string }>(
        `UPDATE memories SET updated_at = (now() AT TIME ZONE 'UTC') + interval '1 year'
          WHERE id = (SELECT id FROM memories WHERE is_deleted IS NOT TRUE ORDER BY id LIMIT 1) RETURNING id::text`,
      );
      return rows[0]!.id;
    });
    const first = await runSteps({ sourceUrl, targetUrl, input: INPUT });
    await first.runtime.close();
    // An edit a minute after the first run, in the source's own (UTC) terms.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const edited = await withClient(sourceUrl, async (c) => {
      const { rows } = await c.query<{ id: string }>(
        `UPDATE memories SET content = 'Edited after the first run: the roadmap review moved to Friday',
                updated_at = now() AT TIME ZONE 'UTC'
          WHERE id = (SELECT id FROM memories WHERE is_deleted IS NOT TRUE ORDER BY id DESC LIMIT 1) RETURNING id::text`,
      );
      return rows[0]!.id;
    });

    // Act
    const second = await runSteps({ sourceUrl, targetUrl, input: { ...INPUT, incremental: true } });
    await second.runtime.close();

    // Assess: the future row is reported; the watermark is not in the future; the edit arrived
    expect(first.run.sourceCounts.futureUpdated).toBe(1);
    expect(new Date(second.run.changedSince!).getTime()).toBeLessThanOrEqual(Date.now());
    const read = (second.outputs.report as { accounting: { migrated: number; rejected: number } }).accounting;
    // The edited memory, and the future-dated one (read again until its date has passed).
    expect(read.migrated + read.rejected).toBe(2);
    expect((second.outputs.verify as { ok: boolean }).ok).toBe(true);
    const content = await withClient(targetUrl, async (c) => {
      const modules = MODULE_IDS.map((m) => `SELECT id, content FROM "${m}_memories"`).join(' UNION ALL ');
      const { rows } = await c.query<{ content: string }>(
        `SELECT content FROM (${modules}) m WHERE id = $1`,
        [targetMemoryId(edited)],
      );
      return rows[0]?.content;
    });
    expect(content).toMatch(/^Edited after the first run/);
    expect(future).not.toBe(edited);
  });
});
