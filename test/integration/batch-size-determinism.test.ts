import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { freshDatabases } from '../../dev/harness/databases.js';
import { runSteps } from '../../dev/support/run-steps.js';
import type { MemoryDecision } from '../../functions/core/batch.js';
import { runLayout } from '../../functions/core/run-options.js';
import { FileRunStore } from '../../functions/store/run-store.js';

describe('Classification does not depend on how the key space is cut', () => {
  let sourceUrl: string;
  let targetUrl: string;
  const closers: { close(): Promise<void> }[] = [];

  beforeAll(async () => {
    ({ sourceUrl, targetUrl } = await freshDatabases());
    await generateBigMemory({ databaseUrl: sourceUrl, memories: 6_000, users: 40, seed: 97 });
  });

  afterAll(async () => {
    await Promise.all(closers.map((c) => c.close()));
  });

  /** Every memory's module, rule, confidence and evidence (a centroid placement gives its similarity), from a dry run's decisions.jsonl.gz. */
  async function assignments(batchSize: number): Promise<Map<string, string>> {
    const store = new FileRunStore(await mkdtemp(join(tmpdir(), `bm-cut-${batchSize}-`)));
    const { run, runtime } = await runSteps({
      sourceUrl,
      targetUrl,
      store,
      input: { dryRun: true, preserveEmbeddings: true, batchSize, maxRejectRatio: 1 },
    });
    closers.push(runtime);
    const lines = gunzipSync(await store.get(runLayout(run.runId).report.decisions))
      .toString('utf8')
      .split('\n')
      .filter((line) => line !== '');
    return new Map(
      lines.map((line) => {
        const d = JSON.parse(line) as MemoryDecision;
        return [d.sourceId, `${d.status} ${d.module} ${d.rule} ${d.confidence} ${d.evidence}`];
      }),
    );
  }

  it('gives every memory the same module, rule and confidence with batch sizes 97, 500 and 5000', async () => {
    // Act
    const [small, medium, large] = [await assignments(97), await assignments(500), await assignments(5_000)];

    // Assess: the same memories, each decided the same way, centroid placements included
    const centroidPlaced = [...medium.values()].filter((a) => a.includes(' centroid:')).length;
    // The text model decides most memories; the few it leaves reach the centroids.
    expect(centroidPlaced).toBeGreaterThan(0);
    expect(medium.size).toBeGreaterThan(5_000);
    expect(Object.fromEntries(small)).toEqual(Object.fromEntries(medium));
    expect(Object.fromEntries(large)).toEqual(Object.fromEntries(medium));
  });
});
