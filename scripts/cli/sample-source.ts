import { type GeneratorSummary, generateBigMemory } from '../../dev/generator/bigmemory-generator.js';
import { createDatabase } from '../../dev/harness/databases.js';

/**
 * A fresh BigMemory database filled by the generator, for the benchmarks: users default to one per
 * 200 memories, as in the tests. Needs the harness services to be running in this process.
 */
export async function sampleBigMemory(options: {
  memories: number;
  users?: number;
  seed: number;
}): Promise<{ sourceUrl: string; users: number; generated: GeneratorSummary }> {
  const users = options.users ?? Math.max(10, Math.round(options.memories / 200));
  const sourceUrl = await createDatabase('bigmemory');
  const generated = await generateBigMemory({
    databaseUrl: sourceUrl,
    memories: options.memories,
    users,
    seed: options.seed,
  });
  return { sourceUrl, users, generated };
}
