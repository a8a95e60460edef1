import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { freshDatabases } from '../../dev/harness/databases.js';
import { createMigrationRuntime } from '../../functions/runtime/migration-runtime.js';
import { preflight } from '../../functions/steps/preflight.js';
import { snapshot } from '../../functions/steps/snapshot.js';
import { FileRunStore } from '../../functions/store/run-store.js';

describe('Function: snapshot (the Snapshot step)', () => {
  let sourceUrl: string;
  let targetUrl: string;

  beforeAll(async () => {
    ({ sourceUrl, targetUrl } = await freshDatabases());
    await generateBigMemory({ databaseUrl: sourceUrl, memories: 400, users: 4, seed: 2021 });
  }, 120_000);

  it('writes to a directory named by the run id and meters its rows against an estimate', async () => {
    // Prepare: a run whose id is of the CLI's form, and a runtime that records its meters
    const reportsDir = await mkdtemp(join(tmpdir(), 'bm-snapshot-step-'));
    const meters: { label: string; total: number; ticked: number; finished: number }[] = [];
    const runtime = createMigrationRuntime({
      store: new FileRunStore(reportsDir),
      sourceUrl: async () => sourceUrl,
      targetUrl: async () => targetUrl,
      progress: (label, total) => {
        const meter = { label, total, ticked: 0, finished: 0 };
        meters.push(meter);
        return {
          tick: (by) => {
            meter.ticked += by;
          },
          finish: () => {
            meter.finished += 1;
          },
        };
      },
    });
    const runId = 'migration-20250301-101507-042-a1b2c3';
    try {
      const run = await preflight(runtime, { input: { preserveEmbeddings: true }, executionName: runId });

      // Act
      const result = await snapshot(runtime, { run });

      // Assess: the directory is the run id, the objects carry its time, and one meter counted
      // every row the manifests hold, against a total estimated beforehand
      expect(result.logical?.directory).toBe(`backups/${runId}/`);
      const files = await readdir(join(reportsDir, 'backups', runId), { recursive: true });
      expect(files).toEqual(
        expect.arrayContaining(['bigmemory_20250301-101507.sql.gz', 'federated_20250301-101507.sql.gz']),
      );
      const rows = Object.values(result.logical?.databases ?? {}).reduce((n, d) => n + (d?.rows ?? 0), 0);
      expect(rows).toBeGreaterThan(400);
      expect(meters).toHaveLength(1);
      expect(meters[0]).toMatchObject({ label: 'snapshot', ticked: rows, finished: 1 });
      expect(meters[0]!.total).toBeGreaterThan(rows / 2);
      expect(meters[0]!.total).toBeLessThan(rows * 2);
    } finally {
      await runtime.close();
    }
  });
});
