/**
 * A sampled Verify (docs/design.md, "Verification"): the checksums of what the run wrote, plus a
 * random sample of the rest of about `sample` memories. Membership is a hash of the run's id and
 * the memory's id, drawn by the source server as it reads the memories (db/verification-queries.ts,
 * inSampleSql), so every slice draws its share of the sample without talking to the others, and a
 * rerun of the same run (a redrive) draws the same memories.
 */

export interface VerifyScope {
  mode: 'sampled' | 'full';
  /** Memories drawn beyond those the run wrote (sampled mode). */
  sample?: number;
}

export interface SampleRule {
  runId: string;
  /** The share of memories drawn, 0–1. */
  rate: number;
}

export function sampleRule(runId: string, sample: number, liveMemories: number): SampleRule {
  return { runId, rate: liveMemories > 0 ? Math.min(1, sample / liveMemories) : 1 };
}

/**
 * The draws (32 bits of the hash, as an unsigned number) that fall in the sample: those below
 * this, so that `draw / 2^32 < rate` holds exactly. Above 2^32 − 1: every draw.
 */
export function drawThreshold(rule: SampleRule): number {
  if (rule.rate >= 1) return 2 ** 32;
  if (rule.rate <= 0) return 0;
  return Math.ceil(rule.rate * 2 ** 32);
}
