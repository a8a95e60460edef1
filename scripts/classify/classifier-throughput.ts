/**
 * The offline classifier's speed on one core: every corpus memory (real-looking text, tags and
 * metadata) classified over and over for about two seconds of CPU, after a warm-up pass.
 */
import { classifyMemory } from '../../functions/core/classify.js';
import { loadRules } from '../../functions/core/rules.js';
import type { SourceMemory } from '../../functions/core/types.js';
import { readSplit, SPLITS } from './labelled-memories.js';

export interface ClassifierThroughput {
  memories: number;
  cpuSeconds: number;
  wallSeconds: number;
  perCpuSecond: number;
  perWallSecond: number;
  averageChars: number;
}

export function measureClassifierThroughput(targetCpuSeconds = 2): ClassifierThroughput {
  const rules = loadRules();
  const at = new Date('2024-01-01T00:00:00.000Z');
  const corpus: SourceMemory[] = SPLITS.flatMap((split) => readSplit(split)).map((m) => ({
    id: m.id,
    userId: 'bench',
    content: m.content,
    contentHash: null,
    embedding: null,
    title: null,
    summary: null,
    tags: m.tags,
    source: null,
    sourceMetadata: m.sourceMetadata,
    createdAt: at,
    updatedAt: at,
    accessedAt: null,
    accessCount: 0,
  }));
  for (const memory of corpus) classifyMemory(memory, rules);
  let memories = 0;
  const cpu = process.cpuUsage();
  const wall = performance.now();
  let cpuSeconds = 0;
  while (cpuSeconds < targetCpuSeconds) {
    for (const memory of corpus) classifyMemory(memory, rules);
    memories += corpus.length;
    const used = process.cpuUsage(cpu);
    cpuSeconds = (used.user + used.system) / 1e6;
  }
  const wallSeconds = (performance.now() - wall) / 1000;
  return {
    memories,
    cpuSeconds,
    wallSeconds,
    perCpuSecond: memories / cpuSeconds,
    perWallSecond: memories / wallSeconds,
    averageChars: corpus.reduce((n, m) => n + (m.content?.length ?? 0), 0) / corpus.length,
  };
}
