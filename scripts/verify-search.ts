/**
 * npm run verify:search -- --source-db <url> --target-db <url> [options]
 * Asks a migrated pair of databases the same questions and compares the answers: recall@k and
 * nDCG@k of the target's exact search and of Federated Memory's routed search against BigMemory's.
 * The last line is `recall@10 exact X, routed Y (N queries)`.
 */
import './require-node.cjs';
import './cli/local-console.js';
import { readFile } from 'node:fs/promises';
import { recallLine, type SearchRecallResult } from '../functions/core/search-recall.js';
import { openPgDatabase } from '../functions/db/pg/pg-database.js';
import { introspectSource } from '../functions/db/source-schema.js';
import { inspectTarget } from '../functions/db/target-schema.js';
import { EmbeddingClient } from '../functions/embed/embedding-client.js';
import {
  DEFAULT_SEARCH_SAMPLE,
  type SearchEquivalenceOptions,
  searchEquivalence,
  type TextQuery,
} from '../functions/engine/search-equivalence.js';
import { recallError } from '../functions/steps/verify-search.js';
import { onDatabase } from './cli/database-errors.js';
import { databaseUrls, parseFlags, positiveInteger, runCli, UsageError } from './cli/database-flags.js';

const USAGE = `usage: npm run verify:search -- [options]

Compares what search finds in Federated Memory with what it found in BigMemory.

  --source-db <url>            BigMemory database URL (default: SOURCE_DATABASE_URL)
  --target-db <url>            Federated Memory database URL (default: DATABASE_URL)
  --users <n>                  users sampled (default: ${DEFAULT_SEARCH_SAMPLE.users})
  --queries-per-user <n>       memories per user asking for their neighbours (default: ${DEFAULT_SEARCH_SAMPLE.queriesPerUser})
  --k <n>                      results per search (default: ${DEFAULT_SEARCH_SAMPLE.k})
  --queries <file.jsonl>       real questions instead, one {"userId": "<BigMemory user id>", "query": "…"} a line,
                               embedded with --embedding-model (needs OPENAI_API_KEY)
  --embedding-model <name>     model for --queries (default: text-embedding-3-small)
  --embedding-dimensions <n>   vector size for --queries
  --min-recall <0..1>          exit 1 (SearchRecallError) when the exact recall is lower
  --json                       print the whole result as JSON before the last line
  --help                       this text

Example: npm run verify:search -- --min-recall 0.95`;

function minRecallOf(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) {
    throw new UsageError(`--min-recall takes a share between 0 and 1 (e.g. 0.95), got "${value}"`);
  }
  return n;
}

async function textQueries(
  file: string,
  flags: { 'embedding-model'?: string; 'embedding-dimensions'?: string },
): Promise<TextQuery[]> {
  const lines = (await readFile(file, 'utf8')).split('\n').filter((l) => l.trim() !== '');
  const parsed = lines.map((line, i) => {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new UsageError(`--queries ${file}: line ${i + 1} is not JSON`);
    }
    const { userId, query } = (value ?? {}) as { userId?: unknown; query?: unknown };
    if (typeof userId !== 'string' || typeof query !== 'string' || query.trim() === '') {
      throw new UsageError(`--queries ${file}: line ${i + 1} needs "userId" and "query" strings`);
    }
    return { id: String(i), userId, text: query };
  });
  const dimensions = flags['embedding-dimensions'];
  const client = new EmbeddingClient({
    apiKey: process.env.OPENAI_API_KEY ?? '',
    ...(process.env.OPENAI_BASE_URL ? { baseURL: process.env.OPENAI_BASE_URL } : {}),
    model: flags['embedding-model'] ?? 'text-embedding-3-small',
    ...(dimensions !== undefined
      ? { dimensions: positiveInteger(dimensions, '--embedding-dimensions', 0) }
      : {}),
  });
  const vectors = await client.embed(parsed);
  return parsed.map((p) => ({ userId: p.userId, vector: vectors.get(p.id) as Float32Array }));
}

function printResult(r: SearchRecallResult): void {
  const f = (n: number) => n.toFixed(3);
  console.log(`Search equivalence: ${r.queries} queries from ${r.users} users, ${r.seconds.toFixed(1)} s`);
  console.log(`  exact   recall@${r.k} ${f(r.exact.recall)}  nDCG@${r.k} ${f(r.exact.ndcg)}`);
  console.log(`  routed  recall@${r.k} ${f(r.routed.recall)}  nDCG@${r.k} ${f(r.routed.ndcg)}`);
  console.log('By module (source hits, exact, routed):');
  for (const m of r.byModule) {
    console.log(
      `  ${m.module.padEnd(20)} ${String(m.expected).padStart(6)}  ${f(m.exactRecall)}  ${f(m.routedRecall)}`,
    );
  }
  console.log('By user size (users, queries, exact, routed):');
  for (const b of r.byBucket) {
    console.log(
      `  ${b.bucket.padEnd(14)} ${String(b.users).padStart(6)} ${String(b.queries).padStart(6)}  ${f(b.exact.recall)}  ${f(b.routed.recall)}`,
    );
  }
  if (r.routingLosses.length > 0) {
    console.log('Most often lost by routing (source id, module, queries, content):');
    for (const l of r.routingLosses.slice(0, 10)) {
      console.log(
        `  ${l.sourceId}  ${l.module}  ${l.lostIn}  ${(l.snippet ?? '').replace(/\s+/g, ' ').slice(0, 80)}`,
      );
    }
  }
}

async function main(): Promise<number> {
  const flags = parseFlags({
    'source-db': { type: 'string' },
    'target-db': { type: 'string' },
    users: { type: 'string' },
    'queries-per-user': { type: 'string' },
    k: { type: 'string' },
    queries: { type: 'string' },
    'embedding-model': { type: 'string' },
    'embedding-dimensions': { type: 'string' },
    'min-recall': { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  const { sourceUrl, targetUrl } = databaseUrls(flags);
  const minRecall = minRecallOf(flags['min-recall']);
  const options: SearchEquivalenceOptions = {
    k: positiveInteger(flags.k, '--k', DEFAULT_SEARCH_SAMPLE.k),
    users: positiveInteger(flags.users, '--users', DEFAULT_SEARCH_SAMPLE.users),
    queriesPerUser: positiveInteger(
      flags['queries-per-user'],
      '--queries-per-user',
      DEFAULT_SEARCH_SAMPLE.queriesPerUser,
    ),
    ...(minRecall !== undefined ? { minRecall } : {}),
    ...(flags.queries ? { texts: await textQueries(flags.queries, flags) } : {}),
  };
  const source = openPgDatabase({ connectionString: sourceUrl, max: 4 });
  const target = openPgDatabase({ connectionString: targetUrl, max: 4 });
  try {
    const schema = await onDatabase('source', sourceUrl, () => introspectSource(source));
    const layout = await onDatabase('target', targetUrl, () => inspectTarget(target));
    const result = await searchEquivalence({ source, target, schema, layout }, options);
    printResult(result);
    if (flags.json) console.log(JSON.stringify(result, null, 2));
    if (!result.passed) {
      const error = recallError(result);
      console.error(`${error.name}: ${error.message}`);
    }
    console.log(recallLine(result));
    return result.passed ? 0 : 1;
  } finally {
    await Promise.all([source.end(), target.end()]);
  }
}

runCli(main);
