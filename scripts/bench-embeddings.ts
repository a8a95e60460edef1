/**
 * npm run bench:embeddings -- --memories N --latency-ms L [--concurrency C] [--sample S]
 *
 * Embeds N synthetic memories through EmbeddingClient against the harness's OpenAI-compatible
 * server with L ms of injected latency per request, then times S memories sent one request per
 * memory (the original scripts' way) at the same latency and concurrency. Prints both rates and
 * the requests each needs. A benchmark: it prints figures, asserts nothing.
 */
// First: on an older Node this stops with one line naming the Node needed.
import './require-node.cjs';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { EmbeddingClient } from '../functions/embed/embedding-client.js';
import {
  configureEmbeddingsServer,
  embeddingsServerStats,
  resetEmbeddingsServer,
} from '../test/harness/embeddings-server.js';
import { parseFlags, runCli, UsageError } from './cli/database-flags.js';

const USAGE = `usage: npm run bench:embeddings -- [options]

  --memories N      memories to embed (default 20000)
  --latency-ms L    injected latency of every API request (default 300)
  --concurrency C   requests in flight (default 4, the client's default)
  --sample S        memories to time one request per memory (default 200, 0 skips)
  --help            this text

Example: npm run bench:embeddings -- --memories 5000 --latency-ms 100`;

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
async function startServerProcess(latencyMs: number): Promise<{ baseURL: string; child: ChildProcess }> {
  const module = new URL('../test/harness/embeddings-server.ts', import.meta.url).href;
  const code =
    `const { startEmbeddingsServer } = await import(${JSON.stringify(module)});` +
    `const server = await startEmbeddingsServer({ latencyMs: ${latencyMs} });` +
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
  const values = parseFlags({
    memories: { type: 'string', default: '20000' },
    'latency-ms': { type: 'string', default: '300' },
    concurrency: { type: 'string', default: '4' },
    sample: { type: 'string', default: '200' },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const memories = Number(values.memories);
  const latencyMs = Number(values['latency-ms']);
  const concurrency = Number(values.concurrency);
  const sample = Number(values.sample);
  if (
    ![memories, latencyMs, concurrency, sample].every((n) => Number.isInteger(n) && n >= 0) ||
    concurrency < 1
  ) {
    throw new UsageError('flags take non-negative whole numbers (--concurrency at least 1)');
  }

  const { baseURL, child } = await startServerProcess(latencyMs);
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
  } finally {
    child.kill();
  }
  return 0;
}

runCli(main);
