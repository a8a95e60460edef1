/**
 * npm run bench -- --memories N [--concurrency C] [--batch-size B] [--baseline-sample S]
 *
 * Generates N BigMemory memories, then measures in the same run on the same server:
 *  (a) the raw binary `COPY TO | COPY FROM` pipe of those memories into a plain table — the
 *      fastest any tool could move the bytes;
 *  (b) this engine's full migration with preserved embeddings (users, module rows, CMI rows,
 *      ledger, relationships and project links);
 *  (c) optionally a row-at-a-time copy in the style of the original scripts, on a sample.
 * The last line states both rates and their ratio. A benchmark: it prints figures, asserts nothing.
 */

import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { generateBigMemory } from '../test/generator/bigmemory-generator.js';
import { createDatabase } from '../test/harness/databases.js';
import { startTestServices } from '../test/harness/services-runtime.js';
import { runSteps } from '../test/support/run-steps.js';

const USAGE = `usage: npm run bench -- --memories N [options]

  --memories N          memories to generate (default 20000)
  --users U             users (default N/200)
  --concurrency C       batches in flight, like the Map's MaxConcurrency (default 3)
  --batch-size B        memories per batch (default 500)
  --baseline-sample S   also time a row-at-a-time copy of S memories (default 0: skip)
  --seed S              generator seed (default 1)
  --help                this text

Uses TEST_DATABASE_URL when set, otherwise starts a private PostgreSQL like the tests do.`;

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

function trackPeakRss(): () => number {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 100);
  timer.unref();
  return () => {
    clearInterval(timer);
    return Math.max(peak, process.memoryUsage().rss);
  };
}

async function rawBinaryCopy(
  sourceUrl: string,
  targetUrl: string,
): Promise<{ rows: number; seconds: number }> {
  const source = new pg.Client({ connectionString: sourceUrl });
  const target = new pg.Client({ connectionString: targetUrl });
  await Promise.all([source.connect(), target.connect()]);
  try {
    await target.query('DROP TABLE IF EXISTS bench_raw_copy');
    await target.query(`CREATE TABLE bench_raw_copy (
      id uuid PRIMARY KEY, user_id uuid, content text, content_hash text, embedding vector(1536), title text,
      summary text, tags text[], source text, source_metadata jsonb, created_at timestamptz, updated_at timestamptz,
      accessed_at timestamptz, access_count integer, is_deleted boolean)`);
    const started = performance.now();
    await pipeline(
      source.query(copyTo('COPY (SELECT * FROM memories WHERE NOT is_deleted) TO STDOUT (FORMAT binary)')),
      target.query(copyFrom('COPY bench_raw_copy FROM STDIN (FORMAT binary)')),
    );
    const seconds = (performance.now() - started) / 1000;
    const { rows } = await target.query<{ n: string }>('SELECT count(*) AS n FROM bench_raw_copy');
    await target.query('DROP TABLE bench_raw_copy');
    return { rows: Number(rows[0]?.n), seconds };
  } finally {
    await Promise.all([source.end(), target.end()]);
  }
}

/** The original scripts' shape: OFFSET pages, per memory a lookup, an INSERT and an index INSERT, vectors as text. */
async function rowAtATime(
  sourceUrl: string,
  targetUrl: string,
  sample: number,
): Promise<{ rows: number; seconds: number }> {
  const source = new pg.Client({ connectionString: sourceUrl });
  const target = new pg.Client({ connectionString: targetUrl });
  await Promise.all([source.connect(), target.connect()]);
  try {
    await target.query('DROP TABLE IF EXISTS bench_rowwise; DROP TABLE IF EXISTS bench_rowwise_index');
    await target.query(
      'CREATE TABLE bench_rowwise (id text PRIMARY KEY, content text, embedding vector(1536), metadata jsonb)',
    );
    await target.query(
      'CREATE TABLE bench_rowwise_index (id text PRIMARY KEY, remote text, embedding vector(512))',
    );
    const started = performance.now();
    let done = 0;
    for (let offset = 0; done < sample; offset += 100) {
      const { rows } = await source.query<{
        id: string;
        content: string;
        embedding: string | null;
        source_metadata: unknown;
      }>(
        'SELECT id::text, content, embedding::text, source_metadata FROM memories WHERE NOT is_deleted ORDER BY created_at OFFSET $1 LIMIT 100',
        [offset],
      );
      if (rows.length === 0) break;
      for (const row of rows.slice(0, sample - done)) {
        await target.query('SELECT id FROM bench_rowwise WHERE id = $1', [row.id]);
        await target.query('INSERT INTO bench_rowwise VALUES ($1, $2, $3::vector, $4)', [
          row.id,
          row.content,
          row.embedding,
          JSON.stringify(row.source_metadata ?? {}),
        ]);
        const reduced = row.embedding
          ? `[${(JSON.parse(row.embedding) as number[]).filter((_, i) => i < 512).join(',')}]`
          : null;
        await target.query('INSERT INTO bench_rowwise_index VALUES ($1, $1, $2::vector)', [row.id, reduced]);
        done++;
      }
    }
    const seconds = (performance.now() - started) / 1000;
    await target.query('DROP TABLE bench_rowwise; DROP TABLE bench_rowwise_index');
    return { rows: done, seconds };
  } finally {
    await Promise.all([source.end(), target.end()]);
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      memories: { type: 'string', default: '20000' },
      users: { type: 'string' },
      concurrency: { type: 'string', default: '3' },
      'batch-size': { type: 'string', default: '500' },
      'baseline-sample': { type: 'string', default: '0' },
      seed: { type: 'string', default: '1' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const memories = Number(values.memories);
  const concurrency = Number(values.concurrency);
  const batchSize = Number(values['batch-size']);
  const baselineSample = Number(values['baseline-sample']);
  if (
    ![memories, concurrency, batchSize, baselineSample].every((n) => Number.isInteger(n) && n >= 0) ||
    memories < 1
  ) {
    console.error(
      `bench: --memories, --concurrency, --batch-size and --baseline-sample take whole numbers\n\n${USAGE}`,
    );
    return 2;
  }
  const users = values.users ? Number(values.users) : Math.max(10, Math.round(memories / 200));

  const services = await startTestServices();
  try {
    const sourceUrl = await createDatabase('bigmemory');
    const targetUrl = await createDatabase('federated');
    const generated = await generateBigMemory({
      databaseUrl: sourceUrl,
      memories,
      users,
      seed: Number(values.seed),
    });
    console.log(
      `generated ${fmt(memories)} memories, ${fmt(generated.relations)} relations in ${(generated.elapsedMs / 1000).toFixed(1)} s (${fmt(generated.memoriesPerSecond)} memories/s)`,
    );

    const raw = await rawBinaryCopy(sourceUrl, targetUrl);
    const rawRate = raw.rows / raw.seconds;
    console.log(`raw binary COPY TO | COPY FROM: ${fmt(raw.rows)} memories in ${raw.seconds.toFixed(2)} s`);

    const peak = trackPeakRss();
    const { runtime, outputs, phaseMs } = await runSteps({
      sourceUrl,
      targetUrl,
      input: { preserveEmbeddings: true, batchSize, createUsers: true },
      concurrency,
    });
    // The migration proper: everything that moves data. Verify and Report are timed apart.
    const migrationPhases = ['preflight', 'users', 'plan', 'batches', 'relationships', 'cmi'];
    const seconds = migrationPhases.reduce((ms, p) => ms + (phaseMs[p] ?? 0), 0) / 1000;
    const peakRss = peak();
    await runtime.close();
    const report = outputs.report as { accounting: { migrated: number; rejected: number } };
    const processed = report.accounting.migrated + report.accounting.rejected;
    const rate = processed / seconds;
    console.log(
      `phases (s): ${Object.entries(phaseMs)
        .map(([p, ms]) => `${p} ${(ms / 1000).toFixed(2)}`)
        .join(', ')}`,
    );
    console.log(
      `migration: ${fmt(report.accounting.migrated)} migrated + ${fmt(report.accounting.rejected)} rejected in ${seconds.toFixed(2)} s (concurrency ${concurrency}, batch ${batchSize}); peak RSS ${fmt(peakRss / 1048576)} MiB`,
    );

    if (baselineSample > 0) {
      const base = await rowAtATime(sourceUrl, targetUrl, baselineSample);
      const baseRate = base.rows / base.seconds;
      console.log(
        `row-at-a-time baseline: ${fmt(base.rows)} memories in ${base.seconds.toFixed(2)} s (${fmt(baseRate)}/s); migration is ${(rate / baseRate).toFixed(0)}x faster`,
      );
    }
    console.log(
      `migration ${fmt(rate)} memories/s, raw binary copy ${fmt(rawRate)}/s, ratio ${(rate / rawRate).toFixed(2)}`,
    );
    return 0;
  } finally {
    await services.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
