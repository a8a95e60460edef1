/**
 * npm run bench -- --memories N [--trials K] [--concurrency C] [--batch-size B] [--baseline-sample S]
 * npm run bench -- --memories N --regenerate [--latency-ms L]
 *
 * Generates N BigMemory memories, then measures in the same run on the same server:
 *  (a) the raw binary `COPY TO | COPY FROM` pipe of those memories into a plain table — the
 *      fastest any tool could move the bytes;
 *  (b) this engine's full migration with preserved embeddings (users, module rows, CMI rows,
 *      ledger, relationships and project links);
 *  (c) optionally a row-at-a-time copy in the style of the original scripts, on a sample.
 * (a) and (b) run K times in turn, each round into a new target database. Then, on the last round's
 * target: (d) the output limit — binary COPY of the migration's own output tables as it left them
 * into an empty target with the real schema and indexes, plus a binary COPY TO of the source rows;
 * (e) a rerun of the unchanged source, a rerun after 1% of the memories changed, a clean single run
 * of the changed source (its checksums are what the reruns must equal), and a run killed with
 * SIGKILL at 80% of its memories, then rerun; each timed run starts after a CHECKPOINT, as the
 * first does. The last line states the migration's rate, the output
 * limit's and their ratio, and the reruns' times. With --regenerate, (b) regenerates every
 * embedding through the harness's OpenAI-compatible server answering after L ms, and the last line
 * sets the memories/s and requests made next to what one request per memory would take at that
 * latency. A benchmark: it prints figures, asserts nothing.
 */

// First: on an older Node this stops with one line naming the Node needed.
import './require-node.cjs';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Session } from 'node:inspector';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { createTarget, dropDatabase } from '../dev/harness/databases.js';
import { embeddingsServerStats } from '../dev/harness/embeddings-server.js';
import { startTestServices } from '../dev/harness/services-runtime.js';
import { targetChecksums } from '../dev/support/checksums.js';
import { runSteps } from '../dev/support/run-steps.js';
import { DEFAULT_MODULE_IDS as MODULE_IDS } from '../functions/core/modules.js';
import { LEDGER_SCHEMA } from '../functions/db/ledger-schema.js';
import { openPgSession, withPgSession } from '../functions/db/pg/pg-session.js';
import { FileRunStore } from '../functions/store/run-store.js';
import { changeMemories, killedRun, outputLimit, sameChecksums } from './bench-limits.js';
import { measureClassifierThroughput } from './classify/classifier-throughput.js';
import { runCli } from './cli/database-flags.js';
import { sampleBigMemory } from './cli/sample-source.js';

const USAGE = `usage: npm run bench -- --memories N [options]

  --memories N          memories to generate (default 20000)
  --trials K            rounds of (a) raw pipe then (b) migration, each into a new target database;
                        the last line gives the medians (default 3)
  --users U             users (default N/200)
  --concurrency C       batches in flight, like the Map's MaxConcurrency (default 4, as deployed)
  --batch-size B        memories per batch (default 500)
  --baseline-sample S   also time a row-at-a-time copy of S memories (default 0: skip)
  --regenerate          regenerate embeddings through a local OpenAI-compatible server instead of
                        preserving them (skips the raw copy)
  --latency-ms L        that server's delay per request (default 300; only with --regenerate)
  --seed S              generator seed (default 1)
  --profile FILE        write a V8 CPU profile of one phase of the last trial to FILE (.cpuprofile)
  --profile-phase P     that phase: batches (default), relationships, plan, users, cmi
  --no-durability       start the private cluster like the tests do (fsync, synchronous_commit and
                        full_page_writes off) instead of with PostgreSQL's defaults
  --help                this text

Uses TEST_DATABASE_URL when set, otherwise starts a private PostgreSQL with its default durability
settings, as a real server has them (the tests' cluster turns them off).

The last line reads: migration X/s, output limit Y/s, ratio R; unchanged rerun S s (F of first
run); 1% changed rerun T s. Reruns are timed with Verify and Report, the search-equivalence check
apart (it asks a fixed number of questions whatever changed).

Example: npm run bench -- --memories 20000 --baseline-sample 500`;

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

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
  const [sourceConnection, targetConnection] = await Promise.all([
    openPgSession(sourceUrl),
    openPgSession(targetUrl),
  ]);
  const source = sourceConnection.session;
  const target = targetConnection.session;
  try {
    await target.query('DROP TABLE IF EXISTS bench_raw_copy');
    await target.query(`CREATE TABLE bench_raw_copy (
      id uuid PRIMARY KEY, user_id uuid, content text, content_hash text, embedding vector(1536), title text,
      summary text, tags text[], source text, source_metadata jsonb, created_at timestamptz, updated_at timestamptz,
      accessed_at timestamptz, access_count integer, is_deleted boolean)`);
    const started = performance.now();
    const cpu = cpuByPhase();
    cpu.onPhase('raw', 'start');
    await target.copyIn(
      'COPY bench_raw_copy FROM STDIN (FORMAT binary)',
      source.copyTextOut('COPY (SELECT * FROM memories WHERE NOT is_deleted) TO STDOUT (FORMAT binary)'),
    );
    cpu.onPhase('raw', 'end');
    const seconds = (performance.now() - started) / 1000;
    console.log(`cpu (s): ${cpu.line({ raw: seconds * 1000 }, ['raw'])}`);
    const { rows } = await target.query<{ n: string }>('SELECT count(*) AS n FROM bench_raw_copy');
    await target.query('DROP TABLE bench_raw_copy');
    return { rows: Number(rows[0]?.n), seconds };
  } finally {
    await Promise.all([sourceConnection.close(), targetConnection.close()]);
  }
}

/** CHECKPOINT needs a superuser or pg_checkpoint: on a server that refuses, say so and go on. */
async function checkpoint(url: string): Promise<void> {
  await withPgSession(url, (session) => session.query('CHECKPOINT')).catch((error: unknown) => {
    console.log(`no CHECKPOINT before the round: ${error instanceof Error ? error.message : String(error)}`);
  });
}

const BASELINE_PAGE = 100;

/**
 * The original scripts' shape, into the real Federated Memory tables the migration just filled
 * (so users exist for the foreign key): OFFSET pages, per memory a lookup, an INSERT into its
 * module table and an INSERT into the CMI, vectors as text, one autocommit statement each. Rows
 * get ids of their own and are deleted afterwards. Timed on pages spread evenly over the table:
 * OFFSET reads past every row before the page, so the first pages alone would show the cheapest
 * part of a whole run.
 */
async function rowAtATime(
  sourceUrl: string,
  targetUrl: string,
  sample: number,
): Promise<{ rows: number; seconds: number }> {
  const [sourceConnection, targetConnection] = await Promise.all([
    openPgSession(sourceUrl),
    openPgSession(targetUrl),
  ]);
  const source = sourceConnection.session;
  const target = targetConnection.session;
  const idOf = (sourceId: string) => `baseline-${sourceId}`;
  try {
    const { rows: mapped } = await target.query<{ source_user_id: string; target_user_id: string }>(
      `SELECT source_user_id, target_user_id FROM ${LEDGER_SCHEMA}.user_map WHERE target_user_id IS NOT NULL`,
    );
    const users = new Map(mapped.map((u) => [u.source_user_id, u.target_user_id]));
    const { rows: counted } = await source.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM memories WHERE NOT is_deleted',
    );
    const total = counted[0]?.n ?? 0;
    const pages = Math.ceil(Math.min(sample, total) / BASELINE_PAGE);
    const offsets = Array.from({ length: pages }, (_, k) =>
      Math.min(Math.floor((k * total) / pages), Math.max(0, total - BASELINE_PAGE)),
    );
    const started = performance.now();
    let done = 0;
    for (const offset of offsets) {
      const { rows } = await source.query<{
        id: string;
        user_id: string;
        content: string | null;
        embedding: string | null;
        source_metadata: unknown;
        created_at: Date;
        updated_at: Date;
        access_count: number | null;
      }>(
        `SELECT id::text, user_id::text, content, embedding::text, source_metadata, created_at, updated_at, access_count
           FROM memories WHERE NOT is_deleted ORDER BY created_at OFFSET $1 LIMIT $2`,
        [offset, BASELINE_PAGE],
      );
      for (const row of rows) {
        if (done >= sample) break;
        const userId = users.get(row.user_id);
        if (!userId || !row.content) continue;
        const id = idOf(row.id);
        const module = MODULE_IDS[done % MODULE_IDS.length] as string;
        await target.query(`SELECT id FROM "${module}_memories" WHERE id = $1`, [id]);
        await target.query(
          `INSERT INTO "${module}_memories" ("id", "userId", "content", "embedding", "metadata", "accessCount", "createdAt", "updatedAt")
           VALUES ($1, $2, $3, $4::vector, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
          [
            id,
            userId,
            row.content,
            row.embedding,
            JSON.stringify(row.source_metadata ?? {}),
            row.access_count ?? 0,
            row.created_at,
            row.updated_at,
          ],
        );
        const values = row.embedding ? (JSON.parse(row.embedding) as number[]) : null;
        const reduced = values
          ? `[${Array.from({ length: values.length / 3 }, (_, i) => ((values[3 * i] as number) + (values[3 * i + 1] as number) + (values[3 * i + 2] as number)) / 3).join(',')}]`
          : null;
        await target.query(
          `INSERT INTO memory_index ("id", "userId", "moduleId", "remoteMemoryId", "embedding", "title", "summary", "updatedAt")
           VALUES ($1, $2, $3, $1, $4::vector, $5, $6, $7) ON CONFLICT DO NOTHING`,
          [id, userId, module, reduced, row.content.slice(0, 50), row.content.slice(0, 100), row.updated_at],
        );
        done++;
      }
    }
    const seconds = (performance.now() - started) / 1000;
    await target.query(`DELETE FROM memory_index WHERE id LIKE 'baseline-%'`);
    for (const module of MODULE_IDS)
      await target.query(`DELETE FROM "${module}_memories" WHERE id LIKE 'baseline-%'`);
    return { rows: done, seconds };
  } finally {
    await Promise.all([sourceConnection.close(), targetConnection.close()]);
  }
}

const MS_PER_CLOCK_TICK = 10; // Linux's USER_HZ is 100

/**
 * CPU time PostgreSQL has spent so far, in ms: the live server processes plus what the postmaster
 * has reaped from exited backends. Null where /proc is not Linux's.
 */
function postgresCpuMs(): number | null {
  try {
    let ticks = 0;
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      } catch {
        continue; // exited while we looked
      }
      const close = stat.lastIndexOf(')');
      if (!stat.slice(stat.indexOf('(') + 1, close).startsWith('postgres')) continue;
      const f = stat.slice(close + 2).split(' ');
      // Fields after the name start at field 3: utime 14, stime 15, cutime 16, cstime 17.
      ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    }
    return ticks * MS_PER_CLOCK_TICK;
  } catch {
    return null;
  }
}

/** Per phase: wall time, this process's CPU and PostgreSQL's CPU, to show which side bounds it. */
function cpuByPhase() {
  const started = new Map<string, { node: number; pg: number | null }>();
  const spent = new Map<string, { node: number; pg: number | null }>();
  const nodeMs = () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1000;
  };
  return {
    onPhase(phase: string, at: 'start' | 'end') {
      if (at === 'start') {
        started.set(phase, { node: nodeMs(), pg: postgresCpuMs() });
        return;
      }
      const from = started.get(phase);
      const pg = postgresCpuMs();
      if (!from) return;
      spent.set(phase, {
        node: nodeMs() - from.node,
        pg: pg === null || from.pg === null ? null : pg - from.pg,
      });
    },
    line(phaseMs: Record<string, number>, phases: string[]): string {
      const cores = cpus().length;
      return phases
        .filter((p) => spent.has(p) && (phaseMs[p] ?? 0) >= 50)
        .map((p) => {
          const { node, pg } = spent.get(p) as { node: number; pg: number | null };
          const wall = phaseMs[p] ?? 0;
          const busy =
            pg === null ? '' : `, ${Math.round(((node + pg) / (wall * cores)) * 100)}% of ${cores} cores`;
          return `${p} wall ${(wall / 1000).toFixed(2)} node ${(node / 1000).toFixed(2)} postgres ${pg === null ? '?' : (pg / 1000).toFixed(2)}${busy}`;
        })
        .join('; ');
    },
    /** CPU ms summed over the phases; pg is null where /proc could not be read. */
    total(phases: string[]): { node: number; pg: number | null } {
      let node = 0;
      let pg: number | null = 0;
      for (const p of phases) {
        const one = spent.get(p);
        if (!one) continue;
        node += one.node;
        pg = pg === null || one.pg === null ? null : pg + one.pg;
      }
      return { node, pg };
    },
  };
}

/** With --profile FILE: a V8 CPU profile of this process over one phase. */
function profilePhase(phase: string, file: string | undefined) {
  if (!file) return () => undefined;
  const session = new Session();
  session.connect();
  return (p: string, at: 'start' | 'end') => {
    if (p !== phase) return;
    if (at === 'start') {
      session.post('Profiler.enable', () => session.post('Profiler.start'));
      return;
    }
    session.post('Profiler.stop', (error, result) => {
      if (!error) writeFileSync(file, JSON.stringify(result.profile));
      session.disconnect();
    });
  };
}

interface TimedMigration {
  rate: number;
  seconds: number;
  /**
   * Every phase, Verify and Report included, but the search-equivalence check: what a rerun is
   * compared by. That check asks a fixed number of questions (searchUsers × searchQueriesPerUser)
   * whatever changed, so it is timed apart.
   */
  runSeconds: number;
  searchSeconds: number;
  peakRss: number;
  migrated: number;
  rejected: number;
  /** CPU seconds the migration phases took, in this process and in PostgreSQL (null: unknown). */
  cpu: { node: number; pg: number | null };
}

/**
 * Deadlocks PostgreSQL has detected in a database so far: each one costs a transaction its
 * deadlock_timeout of waiting and a retry.
 */
async function deadlocksOf(url: string): Promise<number> {
  return withPgSession(url, async (client) => {
    const { rows } = await client.query<{ n: string }>(
      'SELECT deadlocks AS n FROM pg_stat_database WHERE datname = current_database()',
    );
    return Number(rows[0]?.n ?? 0);
  });
}

/** The full migration through the steps, timed over the phases that move data, with its phase table. */
async function timedMigration(options: {
  sourceUrl: string;
  targetUrl: string;
  input: Record<string, unknown>;
  concurrency: number;
  embeddings?: { baseURL: string };
  profile?: string;
  profilePhase?: string;
}): Promise<TimedMigration> {
  const { concurrency, embeddings } = options;
  const peak = trackPeakRss();
  const cpu = cpuByPhase();
  const profile = profilePhase(options.profilePhase ?? 'batches', options.profile);
  // The run's decisions and summaries: read by its Report, then of no further use.
  const storeDir = await mkdtemp(join(tmpdir(), 'bm-bench-run-'));
  const deadlocksBefore = await deadlocksOf(options.targetUrl);
  const { runtime, outputs, phaseMs } = await runSteps({
    store: new FileRunStore(storeDir),
    onPhase: (phase, at) => {
      cpu.onPhase(phase, at);
      profile(phase, at);
    },
    sourceUrl: options.sourceUrl,
    targetUrl: options.targetUrl,
    input: options.input,
    concurrency,
    // The harness's server takes any key; the real one never sees this.
    ...(embeddings ? { openAiApiKey: 'sk-bench-local-server', openAiBaseUrl: embeddings.baseURL } : {}),
  });
  // The migration proper: everything that moves data. Verify and Report are timed apart.
  const migrationPhases = ['preflight', 'users', 'plan', 'batches', 'relationships', 'cmi'];
  const seconds = migrationPhases.reduce((ms, p) => ms + (phaseMs[p] ?? 0), 0) / 1000;
  const peakRss = peak();
  await runtime.close();
  await rm(storeDir, { recursive: true, force: true });
  const report = outputs.report as { accounting: { migrated: number; rejected: number } };
  const { migrated, rejected } = report.accounting;
  console.log(
    `phases (s): ${Object.entries(phaseMs)
      .map(([p, ms]) => `${p} ${(ms / 1000).toFixed(2)}`)
      .join(', ')}`,
  );
  console.log(`cpu (s): ${cpu.line(phaseMs, migrationPhases)}`);
  console.log(
    `migration: ${fmt(migrated)} migrated + ${fmt(rejected)} rejected in ${seconds.toFixed(2)} s (concurrency ${concurrency}, batch ${options.input.batchSize}); peak RSS ${fmt(peakRss / 1048576)} MiB; deadlocks in the target ${fmt((await deadlocksOf(options.targetUrl)) - deadlocksBefore)}`,
  );
  const cpuMs = cpu.total(migrationPhases);
  return {
    rate: (migrated + rejected) / seconds,
    seconds,
    runSeconds:
      Object.entries(phaseMs).reduce((ms, [phase, p]) => (phase === 'search' ? ms : ms + p), 0) / 1000,
    searchSeconds: (phaseMs.search ?? 0) / 1000,
    peakRss,
    migrated,
    rejected,
    cpu: { node: cpuMs.node / 1000, pg: cpuMs.pg === null ? null : cpuMs.pg / 1000 },
  };
}

/**
 * What the CPU the migration needed allows on this machine: however well the work overlapped, it
 * cannot take less wall time than its CPU seconds spread over every core, nor PostgreSQL's share
 * over the cores the client leaves it.
 */
function printBound(migration: TimedMigration, rawSeconds: number): void {
  const { node, pg } = migration.cpu;
  if (pg === null) return;
  const cores = cpus().length;
  const floor = (node + pg) / cores;
  const records = migration.migrated + migration.rejected;
  const bestRatio = rawSeconds / floor;
  const pgOnlyRatio = rawSeconds / (pg / cores);
  console.log(
    `bound: the migration used ${(node + pg).toFixed(2)} CPU s (this process ${node.toFixed(2)}, PostgreSQL ${pg.toFixed(2)}); on ${cores} cores that takes at least ${floor.toFixed(2)} s (${fmt(records / floor)} memories/s, ratio ≤ ${bestRatio.toFixed(2)}), and PostgreSQL's share alone, with a client that cost nothing, ≥ ${(pg / cores).toFixed(2)} s (ratio ≤ ${pgOnlyRatio.toFixed(2)})`,
  );
}

async function printBaseline(
  sourceUrl: string,
  targetUrl: string,
  sample: number,
  rates: { median: number; first: number } | null,
): Promise<void> {
  const base = await rowAtATime(sourceUrl, targetUrl, sample);
  const baseRate = base.rows / base.seconds;
  const times = (rate: number) => `${(rate / baseRate).toFixed(0)}x`;
  const comparison =
    rates === null
      ? ''
      : `; migration is ${times(rates.median)} faster${rates.first === rates.median ? '' : ` (first trial ${times(rates.first)})`}`;
  console.log(
    `row-at-a-time baseline: ${fmt(base.rows)} memories in ${base.seconds.toFixed(2)} s (${fmt(baseRate)}/s)${comparison}`,
  );
}

const duration = (seconds: number) =>
  seconds >= 3600
    ? `${(seconds / 3600).toFixed(1)} h`
    : seconds >= 60
      ? `${(seconds / 60).toFixed(1)} min`
      : `${seconds.toFixed(1)} s`;

/**
 * The harness's embeddings server in a process of its own: computing 20,000 fake vectors costs
 * seconds of CPU, which in this process would be charged to the migration's event loop.
 */
async function embeddingsServerProcess(
  latencyMs: number,
): Promise<{ baseURL: string; close(): Promise<void> }> {
  const harness = new URL('../dev/harness/embeddings-server.ts', import.meta.url).href;
  const script = `const { startEmbeddingsServer } = await import(${JSON.stringify(harness)});
const server = await startEmbeddingsServer({ latencyMs: ${latencyMs} });
console.log(server.baseURL);
process.stdin.resume();
process.stdin.on('end', () => server.close().then(() => process.exit(0)));`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const [baseURL] = (await Promise.race([
    once(lines, 'line'),
    once(child, 'exit').then(([code]) => {
      throw new Error(`the embeddings server process exited with code ${code}`);
    }),
  ])) as [string];
  return {
    baseURL,
    async close() {
      child.stdin.end();
      await once(child, 'exit');
    },
  };
}

/**
 * Regenerate mode against a server that answers after `latencyMs`: what the batching buys is the
 * number of round trips, so the figures that matter are requests made and the time one request
 * per memory would spend just waiting on that latency.
 */
async function benchRegenerate(options: {
  sourceUrl: string;
  targetUrl: string;
  batchSize: number;
  concurrency: number;
  latencyMs: number;
}): Promise<void> {
  const { batchSize, concurrency, latencyMs } = options;
  const embeddings = await embeddingsServerProcess(latencyMs);
  try {
    const { rate, seconds } = await timedMigration({
      sourceUrl: options.sourceUrl,
      targetUrl: options.targetUrl,
      input: { batchSize, createUsers: true, snapshot: 'none' },
      concurrency,
      embeddings,
    });
    const stats = await embeddingsServerStats(embeddings.baseURL);
    const perMemory = (stats.inputs * latencyMs) / 1000;
    console.log(
      `embeddings: ${fmt(stats.requests)} requests for ${fmt(stats.inputs)} memories (${fmt(stats.tokens)} tokens) at ${latencyMs} ms per request`,
    );
    console.log(
      `one request per memory at ${latencyMs} ms: ${fmt(stats.inputs)} requests, ${duration(perMemory)} of latency alone, ${duration(perMemory / concurrency)} with concurrency ${concurrency} (the seed's two per memory: ${duration((2 * perMemory) / concurrency)})`,
    );
    console.log(
      `regenerate: migration ${fmt(rate)} memories/s in ${seconds.toFixed(2)} s with ${fmt(stats.requests)} embedding requests; one request per memory would wait ${duration(perMemory / concurrency)} at concurrency ${concurrency}, ${(perMemory / concurrency / seconds).toFixed(0)}x this run's whole time`,
    );
  } finally {
    await embeddings.close();
  }
}

/**
 * The output limit, and reruns: of the unchanged source, after 1% of the memories changed, and
 * after a run killed at 80% of its memories. Each rerun's target is compared with a clean single
 * run's (table checksums).
 */
async function benchAgainstLimit(options: {
  sourceUrl: string;
  targetUrl: string;
  concurrency: number;
  batchSize: number;
  first: TimedMigration;
  rate: number;
}): Promise<void> {
  const { sourceUrl, targetUrl, concurrency, first } = options;
  const input = {
    preserveEmbeddings: true,
    batchSize: options.batchSize,
    createUsers: true,
    snapshot: 'none',
  };
  const limit = await outputLimit(sourceUrl, targetUrl, concurrency);
  const records = first.migrated + first.rejected;
  const limitSeconds = limit.writeSeconds + limit.readSeconds;
  console.log(
    `output limit: binary COPY of the migration's ${fmt(limit.rows)} output rows into an empty target ${limit.writeSeconds.toFixed(2)} s + binary COPY TO of the source rows ${limit.readSeconds.toFixed(2)} s = ${limitSeconds.toFixed(2)} s; the migration took ${first.seconds.toFixed(2)} s (the whole run with Verify and Report ${first.runSeconds.toFixed(2)} s)`,
  );
  const before = await targetChecksums(targetUrl);
  // Each timed rerun starts as the first run did, with no checkpoint pending: the output limit's
  // copy, or the run before, would otherwise charge it the flush of their WAL (commits waiting on
  // the disk in its Preflight and Users).
  const timedRerun = async (target: string) => {
    await checkpoint(sourceUrl);
    return timedMigration({ sourceUrl, targetUrl: target, input, concurrency });
  };
  console.log('-- rerun of the unchanged source');
  const unchanged = await timedRerun(targetUrl);
  const unchangedSame = JSON.stringify(await targetChecksums(targetUrl)) === JSON.stringify(before);
  const changed = await changeMemories(sourceUrl, 0.01);
  console.log(`-- rerun after ${fmt(changed)} memories (1%) changed`);
  const onePercent = await timedRerun(targetUrl);
  console.log('-- clean single run of the changed source, for its checksums and its time');
  const cleanUrl = await createTarget();
  const clean = await timedRerun(cleanUrl);
  const onePercentSame = await sameChecksums(targetUrl, cleanUrl);
  console.log('-- a run killed (SIGKILL) at 80% of the memories, then rerun');
  const killedUrl = await createTarget();
  const { killedAt } = await killedRun({
    sourceUrl,
    targetUrl: killedUrl,
    input,
    concurrency,
    liveMemories: records,
    share: 0.8,
  });
  console.log(`killed with ${fmt(killedAt)} memories in the ledger`);
  const resumed = await timedRerun(killedUrl);
  const resumedSame = await sameChecksums(killedUrl, cleanUrl);
  await Promise.all([dropDatabase(cleanUrl), dropDatabase(killedUrl)]);
  const share = (run: TimedMigration, of: TimedMigration) => (run.runSeconds / of.runSeconds).toFixed(2);
  const same = (ok: boolean) => (ok ? 'checksums equal' : 'CHECKSUMS DIFFER');
  console.log(
    `reruns (whole runs with Verify, the search check apart: ${first.searchSeconds.toFixed(2)} s in the first run): unchanged ${unchanged.runSeconds.toFixed(2)} s (${same(unchangedSame)} the first run's); 1% changed ${onePercent.runSeconds.toFixed(2)} s (${same(onePercentSame)} a clean run's); killed at 80% then rerun ${resumed.runSeconds.toFixed(2)} s = ${share(resumed, clean)} of a clean run's ${clean.runSeconds.toFixed(2)} s (${same(resumedSame)}); peak RSS ${fmt(first.peakRss / 1048576)} MiB`,
  );
  const limitRate = records / limitSeconds;
  console.log(
    `migration ${fmt(options.rate)}/s, output limit ${fmt(limitRate)}/s, ratio ${(options.rate / limitRate).toFixed(2)}; unchanged rerun ${unchanged.runSeconds.toFixed(2)} s (${share(unchanged, first)} of first run); 1% changed rerun ${onePercent.runSeconds.toFixed(2)} s`,
  );
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      memories: { type: 'string', default: '20000' },
      users: { type: 'string' },
      concurrency: { type: 'string', default: '4' },
      'batch-size': { type: 'string', default: '500' },
      'baseline-sample': { type: 'string', default: '0' },
      trials: { type: 'string' },
      seed: { type: 'string', default: '1' },
      regenerate: { type: 'boolean', default: false },
      'latency-ms': { type: 'string' },
      profile: { type: 'string' },
      'profile-phase': { type: 'string' },
      'no-durability': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  // Before any server starts, so nothing else of this process competes for the core.
  const classifier = measureClassifierThroughput();
  console.log(
    `classifier: ${fmt(classifier.best)} memories/s on one core (offline rules and text model, fastest of ${classifier.rounds} rounds over ${fmt(classifier.memories / classifier.rounds)} corpus memories of ${fmt(classifier.averageChars)} chars on average; median round ${fmt(classifier.median)}/s)`,
  );
  const memories = Number(values.memories);
  const concurrency = Number(values.concurrency);
  const batchSize = Number(values['batch-size']);
  const baselineSample = Number(values['baseline-sample']);
  const trials = Number(values.trials ?? 3);
  if (
    ![memories, concurrency, batchSize, baselineSample, trials].every((n) => Number.isInteger(n) && n >= 0) ||
    memories < 1 ||
    trials < 1
  ) {
    console.error(
      `bench: --memories, --trials, --concurrency, --batch-size and --baseline-sample take whole numbers (--memories and --trials at least 1)\n\n${USAGE}`,
    );
    return 2;
  }
  const regenerate = values.regenerate;
  if (regenerate && values.trials !== undefined) {
    console.error(
      `bench: --trials is for the preserved-embeddings benchmark; --regenerate runs once\n\n${USAGE}`,
    );
    return 2;
  }
  const latencyMs = Number(values['latency-ms'] ?? 300);
  if (values['latency-ms'] !== undefined && !regenerate) {
    console.error(`bench: --latency-ms needs --regenerate\n\n${USAGE}`);
    return 2;
  }
  if (!Number.isFinite(latencyMs) || latencyMs < 0) {
    console.error(`bench: --latency-ms takes a non-negative number of milliseconds\n\n${USAGE}`);
    return 2;
  }

  const durable = !values['no-durability'];
  const services = await startTestServices({ durable });
  console.log(
    process.env.TEST_DATABASE_URL
      ? 'server: TEST_DATABASE_URL'
      : `server: private cluster, ${durable ? "PostgreSQL's default durability" : 'fsync, synchronous_commit and full_page_writes off'}`,
  );
  try {
    const { sourceUrl, generated } = await sampleBigMemory({
      memories,
      users: values.users ? Number(values.users) : undefined,
      seed: Number(values.seed),
    });
    const targetUrl = await createTarget();
    console.log(
      `generated ${fmt(memories)} memories, ${fmt(generated.relations)} relations in ${(generated.elapsedMs / 1000).toFixed(1)} s (${fmt(generated.memoriesPerSecond)} memories/s)`,
    );

    if (regenerate) {
      await benchRegenerate({ sourceUrl, targetUrl, batchSize, concurrency, latencyMs });
      if (baselineSample > 0) await printBaseline(sourceUrl, targetUrl, baselineSample, null);
      return 0;
    }

    const rounds: { rawRate: number; rate: number; migration: TimedMigration }[] = [];
    let roundTarget = targetUrl;
    for (let trial = 1; trial <= trials; trial++) {
      if (trials > 1) console.log(`-- trial ${trial} of ${trials}`);
      // Every round starts alike: an empty target on a server with no checkpoint pending, so a
      // checkpoint the earlier rounds' WAL set off is not charged to this one.
      if (trial > 1) {
        await dropDatabase(roundTarget);
        roundTarget = await createTarget();
      }
      await checkpoint(sourceUrl);
      const raw = await rawBinaryCopy(sourceUrl, roundTarget);
      const rawRate = raw.rows / raw.seconds;
      console.log(`raw binary COPY TO | COPY FROM: ${fmt(raw.rows)} memories in ${raw.seconds.toFixed(2)} s`);
      const migration = await timedMigration({
        sourceUrl,
        targetUrl: roundTarget,
        // The snapshot is timed by bench:snapshot; here only the migration proper.
        input: { preserveEmbeddings: true, batchSize, createUsers: true, snapshot: 'none' },
        concurrency,
        ...(trial === trials ? { profile: values.profile, profilePhase: values['profile-phase'] } : {}),
      });
      printBound(migration, raw.seconds);
      rounds.push({ rawRate, rate: migration.rate, migration });
    }
    const rate = median(rounds.map((r) => r.rate));
    const rawRate = median(rounds.map((r) => r.rawRate));
    if (trials > 1) {
      const list = (rates: number[]) => rates.map(fmt).join(', ');
      console.log(
        `trials: migration ${list(rounds.map((r) => r.rate))} memories/s; raw binary copy ${list(rounds.map((r) => r.rawRate))}/s; medians below`,
      );
    }
    if (baselineSample > 0)
      await printBaseline(sourceUrl, roundTarget, baselineSample, {
        median: rate,
        first: rounds[0]?.rate ?? rate,
      });
    console.log(
      `migration ${fmt(rate)} memories/s, raw binary copy ${fmt(rawRate)}/s, ratio ${(rate / rawRate).toFixed(2)}`,
    );
    await benchAgainstLimit({
      sourceUrl,
      targetUrl: roundTarget,
      concurrency,
      batchSize,
      first: (rounds.at(-1) as (typeof rounds)[number]).migration,
      rate,
    });
    return 0;
  } finally {
    await services.stop();
  }
}

runCli(main);
