/**
 * The benchmark's second half (`npm run bench`): the output limit a migration is measured against,
 * and the reruns that should cost only what changed. Figures only; nothing here asserts.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTarget, dropDatabase } from '../dev/harness/databases.js';
import { targetChecksums } from '../dev/support/checksums.js';
import { DEFAULT_MODULE_IDS as MODULE_IDS } from '../functions/core/modules.js';
import { LEDGER_DDL, LEDGER_SCHEMA } from '../functions/db/ledger-schema.js';
import { openPgSession, withPgSession } from '../functions/db/pg/pg-session.js';

/** The tables a migration writes, parents first: users before the rows that name them. */
const OUTPUT_TABLES = [
  '"users"',
  ...MODULE_IDS.map((m) => `"${m}_memories"`),
  'memory_index',
  'memory_relationships',
  `${LEDGER_SCHEMA}.memory_ledger`,
  `${LEDGER_SCHEMA}.relationship_ledger`,
  `${LEDGER_SCHEMA}.user_map`,
  `${LEDGER_SCHEMA}.memory_ranges`,
  `${LEDGER_SCHEMA}.relationship_items`,
  `${LEDGER_SCHEMA}.centroid_cache`,
];

async function copyTable(fromUrl: string, toUrl: string, table: string): Promise<number> {
  const [from, to] = await Promise.all([openPgSession(fromUrl), openPgSession(toUrl)]);
  try {
    const { rows } = await from.session.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
    if (Number(rows[0]?.n) === 0) return 0;
    await to.session.copyIn(
      `COPY ${table} FROM STDIN (FORMAT binary)`,
      from.session.copyTextOut(`COPY ${table} TO STDOUT (FORMAT binary)`),
    );
    return Number(rows[0]?.n);
  } finally {
    await Promise.all([from.close(), to.close()]);
  }
}

export interface OutputLimit {
  /** Binary COPY of the migration's output tables into an empty target with the real schema. */
  writeSeconds: number;
  /** Binary COPY TO of the source's live memory rows. */
  readSeconds: number;
  rows: number;
}

/**
 * The work the target must do anyway: the migration's own output, as it left it, copied by binary
 * COPY into an empty target with the real schema and its indexes (users first, then the rest
 * `lanes` at a time), plus reading the source rows once by binary COPY.
 */
export async function outputLimit(
  sourceUrl: string,
  migratedUrl: string,
  lanes: number,
): Promise<OutputLimit> {
  const empty = await createTarget();
  try {
    await withPgSession(empty, (session) => session.query(LEDGER_DDL));
    const started = performance.now();
    let rows = await copyTable(migratedUrl, empty, OUTPUT_TABLES[0] as string);
    const rest = OUTPUT_TABLES.slice(1);
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.max(1, lanes) }, async () => {
        while (next < rest.length) rows += await copyTable(migratedUrl, empty, rest[next++] as string);
      }),
    );
    const writeSeconds = (performance.now() - started) / 1000;

    const readSeconds = await withPgSession(sourceUrl, async (session) => {
      const readStarted = performance.now();
      for await (const _chunk of session.copyTextOut(
        'COPY (SELECT * FROM memories WHERE is_deleted IS NOT TRUE) TO STDOUT (FORMAT binary)',
      )) {
        // Read and dropped: the limit is the server's side of the read.
      }
      return (performance.now() - readStarted) / 1000;
    });
    return { writeSeconds, readSeconds, rows };
  } finally {
    await dropDatabase(empty);
  }
}

/** Edits the content of `share` of the live memories (every n-th by key), as users editing would. */
export async function changeMemories(sourceUrl: string, share: number): Promise<number> {
  return withPgSession(sourceUrl, async (client) => {
    const every = Math.max(1, Math.round(1 / share));
    const { rowCount } = await client.query(
      `UPDATE memories SET content = content || ' (edited)', updated_at = now()
        WHERE id IN (SELECT id FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM memories
                                      WHERE is_deleted IS NOT TRUE) k WHERE n % ${every} = 0)`,
    );
    return rowCount ?? 0;
  });
}

export async function sameChecksums(a: string, b: string): Promise<boolean> {
  const [left, right] = await Promise.all([targetChecksums(a), targetChecksums(b)]);
  return JSON.stringify(left) === JSON.stringify(right);
}

const CHILD = fileURLToPath(new URL('./bench-run-child.ts', import.meta.url));

/**
 * A migration in a child process, killed with SIGKILL once the ledger holds `share` of the live
 * memories: no step gets to clean up. The lock it held is then removed, standing in for the five
 * minutes of silence after which `--break-lock` may take it over.
 */
export async function killedRun(options: {
  sourceUrl: string;
  targetUrl: string;
  input: Record<string, unknown>;
  concurrency: number;
  liveMemories: number;
  share: number;
}): Promise<{ killedAt: number }> {
  const store = await mkdtemp(join(tmpdir(), 'bm-bench-killed-'));
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify({ ...options, store })], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = once(child, 'exit');
  const { session: target, close } = await openPgSession(options.targetUrl);
  let killedAt = 0;
  try {
    for (;;) {
      if (child.exitCode !== null) break;
      const { rows } = await target
        .query<{ n: string }>(`SELECT count(*) AS n FROM ${LEDGER_SCHEMA}.memory_ledger`)
        .catch(() => ({ rows: [{ n: '0' }] }));
      killedAt = Number(rows[0]?.n);
      if (killedAt >= options.share * options.liveMemories) {
        child.kill('SIGKILL');
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await exited;
    await target.query(`DELETE FROM ${LEDGER_SCHEMA}.lock`);
  } finally {
    await close();
    await rm(store, { recursive: true, force: true });
  }
  return { killedAt };
}
