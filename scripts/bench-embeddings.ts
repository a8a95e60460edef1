/**
 * npm run bench:embeddings -- --memories N --latency-ms L [--concurrency C] [--sample S]
 * npm run bench:embeddings -- --tpm T --rpm R [--memories N] [--workers W] [--time-scale S]
 *
 * With --tpm/--rpm: the server enforces those limits and today's client and the paced one run side
 * by side (see bench-embedding-rates.ts). Without:
 * Embeds N synthetic memories through EmbeddingClient against the harness's OpenAI-compatible
 * server with L ms of injected latency per request, then times S memories sent one request per
 * memory (the original scripts' way) at the same latency and concurrency. Prints both rates and
 * the requests each needs. A benchmark: it prints figures, asserts nothing.
 */
import './require-node.cjs';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import {
  configureEmbeddingsServer,
  embeddingsServerStats,
  resetEmbeddingsServer,
} from '../dev/harness/embeddings-server.js';
import { EmbeddingClient } from '../functions/embed/embedding-client.js';
import {
  closingLine,
  describeRateBench,
  type RateBenchOptions,
  runRateBench,
} from './bench-embedding-rates.js';
import { parseFlags, runCli, UsageError } from './cli/database-flags.js';

const USAGE = `usage: npm run bench:embeddings -- [options]

  --memories N      memories to embed (default 20000)
  --latency-ms L    injected latency of every API request (default 300)
  --concurrency C   requests in flight (default 4, the client's default)
  --sample S        memories to time one request per memory (default 200, 0 skips)

  Rate limits (today's client and the paced one, side by side):
  --tpm T           the server's tokens per minute per key (e.g. 1000000, tier 1); turns this mode on
  --rpm R           the server's requests per minute per key (default 3000)
  --workers W       batches at once, like the Map's MaxConcurrency (default 4)
  --batch-size B    memories per batch (default 500, as deployed)
  --latency-per-1k-tokens L   server latency per 1,000 tokens on top of --latency-ms (default 20)
  --time-scale S    a simulated minute lasts 60/S seconds: limits times S, latency divided by S
                    (default 1); memories default to 50000 in this mode
  --help            this text

Example: npm run bench:embeddings -- --tpm 1000000 --rpm 3000 --workers 4`;

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

const TOPICS = ['deploy', 'standup', 'billing', 'migration', 'vacation', 'review', 'oncall', 'design'];

// Memory-like texts of varied length (about 20 to 200 tokens), distinct so none is cached anywhere.
function syntheticMemories(count: number, prefix: string): { id: string; text: string }[] {
  return Array.from({ length: count }, (_, index) => {
    const topic = TOPICS[index % TOPICS.length];
    const detail = ` The ${topic} notes mention item ${index * 7919} and follow-ups for week ${index % 52}.`;
    return {
      id: `${prefix}-${index}`,
      text: `Memory ${index} about ${topic}: the user asked to remember this.${detail.repeat(1 + (index % 8))}`,
    };
  });
}

/**
 * The harness server in a child process: computing 20,000 test vectors costs it seconds of CPU,
 * which in-process would be charged to the client; a real API spends that time on its side.
 */
async function startServerProcess(
  knobs: Record<string, unknown>,
): Promise<{ baseURL: string; child: ChildProcess }> {
  const module = new URL('../dev/harness/embeddings-server.ts', import.meta.url).href;
  const code =
    `const { startEmbeddingsServer } = await import(${JSON.stringify(module)});` +
    `const server = await startEmbeddingsServer(${JSON.stringify(knobs)});` +
    `console.log(server.baseURL);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const [baseURL] = (await Promise.race([
    once(lines, 'line'),
    once(child, 'exit').then(([code]) => {
      throw new Error(`The embeddings server process exited with ${code}`);
    }),
  ])) as [string];
  return { baseURL, child };
}

async function main(): Promise<number> {
  const values: Record<string, string | boolean | undefined> = parseFlags({
    memories: { type: 'string' },
    'latency-ms': { type: 'string' },
    concurrency: { type: 'string', default: '4' },
    sample: { type: 'string', default: '200' },
    tpm: { type: 'string' },
    rpm: { type: 'string', default: '3000' },
    workers: { type: 'string', default: '4' },
    'batch-size': { type: 'string', default: '500' },
    'latency-per-1k-tokens': { type: 'string', default: '20' },
    'time-scale': { type: 'string', default: '1' },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.tpm !== undefined) {
    await benchRates(values);
    return 0;
  }
  const memories = Number(values.memories ?? '20000');
  const latencyMs = Number(values['latency-ms'] ?? '300');
  const concurrency = Number(values.concurrency);
  const sample = Number(values.sample);
  if (
    ![memories, latencyMs, concurrency, sample].every((n) => Number.isInteger(n) && n >= 0) ||
    concurrency < 1
  ) {
    throw new UsageError('flags take non-negative whole numbers (--concurrency at least 1)');
  }

  const { baseURL, child } = await startServerProcess({ latencyMs });
  const options = {
    apiKey: 'sk-bench',
    baseURL,
    model: 'text-embedding-3-small',
    concurrency,
  };
  try {
    const batched = new EmbeddingClient(options);
    const items = syntheticMemories(memories, 'bench');
    const started = performance.now();
    await batched.embed(items);
    const seconds = (performance.now() - started) / 1000;
    const stats = batched.stats();
    const served = await embeddingsServerStats(baseURL);

    console.log(
      `embeddings benchmark: ${fmt(memories)} memories, ${latencyMs} ms per request, concurrency ${concurrency}`,
    );
    console.log(
      `batched:            ${fmt(seconds, 2)} s, ${fmt(memories / seconds)} memories/s, ` +
        `${stats.requests} requests (server counted ${served.requests}; ${fmt(stats.tokens)} tokens, ` +
        `${stats.retries} retries)`,
    );

    const computedSeconds = (memories * latencyMs) / concurrency / 1000;
    console.log(
      `one request/memory: ${fmt(memories)} requests, computed ${fmt(computedSeconds, 1)} s ` +
        `(N x latency / concurrency), ${fmt(memories / computedSeconds)} memories/s`,
    );
    if (sample > 0) {
      await resetEmbeddingsServer(baseURL);
      await configureEmbeddingsServer(baseURL, { latencyMs });
      const single = new EmbeddingClient({ ...options, limits: { maxInputsPerRequest: 1 } });
      const sampleStarted = performance.now();
      await single.embed(syntheticMemories(sample, 'single'));
      const sampleSeconds = (performance.now() - sampleStarted) / 1000;
      const rate = sample / sampleSeconds;
      console.log(
        `one request/memory: measured on ${fmt(sample)}: ${fmt(sampleSeconds, 2)} s, ${fmt(rate, 1)} memories/s, ` +
          `${single.stats().requests} requests; ${fmt(memories)} would take ~${fmt(memories / rate, 0)} s`,
      );
    }
    console.log(
      `the original scripts (one request per memory plus one for its index entry, in sequence): ` +
        `${fmt(2 * memories)} requests, ${fmt((2 * memories * latencyMs) / 1000 / 60, 1)} min`,
    );
    console.log(`speed-up over one request per memory: ${fmt(computedSeconds / seconds, 0)}x`);
    return 0;
  } finally {
    child.kill();
  }
}

function positiveNumber(value: string | undefined, flag: string): number {
  const number = Number(value);
  if (value === undefined || !Number.isFinite(number) || number <= 0) {
    throw new UsageError(`${flag} takes a positive number, got "${value}"`);
  }
  return number;
}

async function benchRates(values: Record<string, string | boolean | undefined>): Promise<void> {
  const flag = (name: string) => values[name] as string | undefined;
  const memories = positiveNumber(flag('memories') ?? '50000', '--memories');
  const timeScale = positiveNumber(flag('time-scale'), '--time-scale');
  const tpm = positiveNumber(flag('tpm'), '--tpm');
  const rpm = positiveNumber(flag('rpm'), '--rpm');
  const workers = positiveNumber(flag('workers'), '--workers');
  const batchSize = positiveNumber(flag('batch-size'), '--batch-size');
  const latencyMs = (flag('latency-ms') === undefined ? 200 : Number(flag('latency-ms'))) / timeScale;
  const perThousand = Number(flag('latency-per-1k-tokens')) / timeScale;
  if (![memories, workers, batchSize].every(Number.isInteger) || !(latencyMs >= 0) || !(perThousand >= 0)) {
    throw new UsageError('--memories, --workers and --batch-size take whole numbers, latencies ≥ 0');
  }
  const { baseURL, child } = await startServerProcess({
    latencyMs,
    latencyMsPerThousandTokens: perThousand,
    tokensPerMinute: tpm * timeScale,
    requestsPerMinute: rpm * timeScale,
    // Both clients start from an empty budget, as a key that has just spent its minute: a full
    // one would let the first minute count twice and put the shares above what a long run keeps.
    rateLimitsStartEmpty: true,
  });
  try {
    const options: RateBenchOptions = {
      baseURL,
      memories: syntheticMemories(memories, 'rates'),
      batchSize,
      workers,
      tpm,
      rpm,
      timeScale,
    };
    console.log(
      `embeddings rate benchmark: ${fmt(memories)} memories in batches of ${fmt(batchSize)}, ${workers} workers, ` +
        `limits ${fmt(tpm)} tokens and ${fmt(rpm)} requests a minute per key` +
        (timeScale === 1
          ? ''
          : `, time scaled ${timeScale}x (the server holds ${fmt(tpm * timeScale)} tokens and ${fmt(rpm * timeScale)} requests per real minute)`) +
        `; latency ${fmt(latencyMs * timeScale)} ms + ${fmt(perThousand * timeScale)} ms per 1,000 tokens (simulated)`,
    );
    const unpaced = await runRateBench(options, false);
    console.log(describeRateBench(unpaced, options));
    const paced = await runRateBench(options, true);
    console.log(describeRateBench(paced, options));
    console.log(closingLine(paced, unpaced, options));
  } finally {
    child.kill();
  }
}

runCli(main);
