/**
 * The rate-limit half of `npm run bench:embeddings` (with --tpm/--rpm): today's client and the
 * paced one, each as the Map runs it (`workers` batches at once, a fresh client per batch, the
 * state machine's retries of a failed batch), against the harness server enforcing the limits.
 *
 * Time can be scaled: with --time-scale S the server and the paced clients get S times the limits
 * and the server's latency is divided by S, so a simulated minute lasts 60/S seconds. Shares of
 * the limit and of requests are the same at any S; wall times are given both ways.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  configureEmbeddingsServer,
  type EmbeddingsStats,
  embeddingsServerStats,
} from '../dev/harness/embeddings-server.js';
import { EmbeddingClient, type EmbeddingClientStats } from '../functions/embed/embedding-client.js';
import type { RatePacer } from '../functions/embed/rate-pacer.js';
import { RatePacerPool } from '../functions/embed/rate-pacer-pool.js';
import { EmbeddingUnavailableError } from '../functions/errors.js';

export interface RateBenchOptions {
  baseURL: string;
  memories: { id: string; text: string }[];
  batchSize: number;
  workers: number;
  /** The simulated limits; the server holds them times `timeScale`. */
  tpm: number;
  rpm: number;
  timeScale: number;
}

export interface RateBenchResult {
  label: string;
  seconds: number;
  tokens: number;
  requests: number;
  served429: number;
  retries: number;
  paceWaits: number;
  /** Batch attempts that failed and went back to the queue (the state machine's retry). */
  batchFailures: number;
  /** Batches that failed every attempt the state machine allows. */
  batchesLost: number;
}

// The deployed definition's retry of EmbeddingUnavailableError: 2 s, doubled, 5 retries, full jitter.
const STATE_MACHINE_RETRIES = 5;
const STATE_MACHINE_INTERVAL_MS = 2000;

const MODEL = 'text-embedding-3-small';

export async function runRateBench(options: RateBenchOptions, paced: boolean): Promise<RateBenchResult> {
  const { baseURL, memories, batchSize, workers, timeScale } = options;
  // Each run its own API key: the server's budgets are per key, so the runs do not share one.
  const apiKey = paced ? 'sk-bench-paced' : 'sk-bench-unpaced';
  const pool = paced ? new RatePacerPool({ workers }) : undefined;
  const budget = { tokensPerMinute: options.tpm * timeScale, requestsPerMinute: options.rpm * timeScale };
  // The server's budgets start again, empty, as this run's pacers do.
  await configureEmbeddingsServer(baseURL, { rateLimitsStartEmpty: true });
  const before = await embeddingsServerStats(baseURL);
  const queue = Array.from({ length: Math.ceil(memories.length / batchSize) }, (_, index) => ({
    items: memories.slice(index * batchSize, (index + 1) * batchSize),
    attempts: 0,
  }));
  const totals = { tokens: 0, retries: 0, paceWaits: 0, batchFailures: 0, batchesLost: 0 };
  const add = (stats: EmbeddingClientStats) => {
    totals.tokens += stats.tokens;
    totals.retries += stats.retries;
    totals.paceWaits += stats.paceWaits;
  };

  const embedBatch = async (items: { id: string; text: string }[]) => {
    const run = async (pacer?: RatePacer) => {
      const client = new EmbeddingClient({ apiKey, baseURL, model: MODEL, pacer });
      try {
        await client.embed(items);
      } finally {
        add(client.stats());
      }
    };
    if (pool) await pool.lease(budget, run);
    else await run();
  };

  const worker = async () => {
    for (let batch = queue.shift(); batch !== undefined; batch = queue.shift()) {
      try {
        await embedBatch(batch.items);
      } catch (error) {
        if (!(error instanceof EmbeddingUnavailableError)) throw error;
        totals.batchFailures += 1;
        batch.attempts += 1;
        if (batch.attempts > STATE_MACHINE_RETRIES) {
          totals.batchesLost += 1;
          continue;
        }
        const ceiling = STATE_MACHINE_INTERVAL_MS * 2 ** (batch.attempts - 1);
        await sleep((Math.random() * ceiling) / timeScale);
        queue.push(batch);
      }
    }
  };

  const started = performance.now();
  await Promise.all(Array.from({ length: workers }, worker));
  const seconds = (performance.now() - started) / 1000;
  const after = await embeddingsServerStats(baseURL);
  const served = (key: Exclude<keyof EmbeddingsStats, 'batchApi'>) => after[key] - before[key];
  return {
    label: paced ? 'paced' : 'unpaced (today)',
    seconds,
    tokens: totals.tokens,
    requests: served('requests'),
    served429: served('servedRateLimited'),
    retries: totals.retries,
    paceWaits: totals.paceWaits,
    batchFailures: totals.batchFailures,
    batchesLost: totals.batchesLost,
  };
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** Tokens a simulated minute as a share of the simulated limit, and 429s as a share of requests. */
export function rateShares(result: RateBenchResult, options: Pick<RateBenchOptions, 'tpm' | 'timeScale'>) {
  const simulatedMinutes = (result.seconds * options.timeScale) / 60;
  const tokensPerMinute = result.tokens / simulatedMinutes;
  return {
    simulatedMinutes,
    tokensPerMinute,
    shareOfLimit: tokensPerMinute / options.tpm,
    share429: result.requests > 0 ? result.served429 / result.requests : 0,
  };
}

export function describeRateBench(result: RateBenchResult, options: RateBenchOptions): string {
  const shares = rateShares(result, options);
  const simulated = options.timeScale === 1 ? '' : ` (${fmt(shares.simulatedMinutes * 60, 0)} s simulated)`;
  return (
    `${result.label.padEnd(16)} ${fmt(result.seconds, 1)} s${simulated}; ${fmt(result.tokens)} tokens, ` +
    `${fmt(shares.tokensPerMinute)} tokens/min = ${fmt(shares.shareOfLimit * 100, 1)}% of the TPM limit; ` +
    `${fmt(result.requests)} requests, ${fmt(result.served429)} answered 429 (${fmt(shares.share429 * 100, 1)}%); ` +
    `${fmt(result.retries)} retries, ${fmt(result.paceWaits)} paced waits; ` +
    `batch failures ${fmt(result.batchFailures)} (state-machine retries), batches lost ${fmt(result.batchesLost)}`
  );
}

export function closingLine(
  paced: RateBenchResult,
  unpaced: RateBenchResult,
  options: RateBenchOptions,
): string {
  const p = rateShares(paced, options);
  const u = rateShares(unpaced, options);
  const pct = (share: number) => `${fmt(share * 100, 1)}%`;
  return (
    `paced ${pct(p.shareOfLimit)} of TPM limit, ${pct(p.share429)} 429s; ` +
    `unpaced ${pct(u.shareOfLimit)} of TPM limit, ${pct(u.share429)} 429s`
  );
}
