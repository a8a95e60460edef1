/**
 * The offline classifier's speed on one core: every corpus memory (real-looking text, tags and
 * metadata) classified in rounds, each timed in CPU time. On a busy machine the slow rounds measure
 * the neighbours; the fastest round is the classifier's own rate.
 */
import { classifyMemory } from '../../functions/core/classify.js';
import { loadRules } from '../../functions/core/rules.js';
import type { SourceMemory } from '../../functions/core/types.js';
import { readSplit, SPLITS } from './labelled-memories.js';

export interface ClassifierThroughput {
  memories: number;
  /** Rounds of one pass over the corpus each. */
  rounds: number;
  /** Memories per CPU second in the fastest round: the rate when nothing else competes for the core. */
  best: number;
  median: number;
  averageChars: number;
}

/** One pass over the corpus per round, timed in this thread's CPU time; `rounds` rounds after a warm-up pass. */
export function measureClassifierThroughput(rounds = 30): ClassifierThroughput {
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
  const rates: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const cpu = process.cpuUsage();
    for (const memory of corpus) classifyMemory(memory, rules);
    const used = process.cpuUsage(cpu);
    rates.push(corpus.length / ((used.user + used.system) / 1e6));
  }
  rates.sort((a, b) => a - b);
  return {
    memories: corpus.length * rounds,
    rounds,
    best: rates[rates.length - 1] as number,
    median: rates[Math.floor(rates.length / 2)] as number,
    averageChars: corpus.reduce((n, m) => n + (m.content?.length ?? 0), 0) / corpus.length,
  };
}
