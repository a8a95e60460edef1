/**
 * npm run bench:deletes -- [--memories N]
 * What finding the source's deletes costs: a ledger of N migrated memories (default 1,000,000)
 * against its source, once with nothing deleted (one aggregate on each side shows the key sets
 * equal) and once after 1,000 hard deletes (the source's keys and the ledger's are merged, and the
 * gone memories' target rows removed). Prints the figures.
 */
import './require-node.cjs';
import { createDatabase, createTarget } from '../dev/harness/databases.js';
import { startTestServices } from '../dev/harness/services-runtime.js';
import { propagateDeletes } from '../functions/db/delete-propagation.js';
import { openPgDatabase } from '../functions/db/pg/pg-database.js';
import { ensureLedger } from '../functions/db/run-ledger.js';
import { introspectSource } from '../functions/db/source-schema.js';
import { parseFlags, positiveInteger, runCli } from './cli/database-flags.js';

async function main(): Promise<number> {
  const values = parseFlags({ memories: { type: 'string' } });
  if (values.help) {
    console.log(`usage: npm run bench:deletes -- [options]

What carrying the source's deletes over costs: a ledger of N migrated memories against its source,
with nothing deleted (compared by one aggregate a side) and after 1,000 hard deletes (the source's
and the ledger's keys merged).

  --memories <n>  migrated memories in the ledger (default: 1000000)
  --help          this text

Example: npm run bench:deletes -- --memories 200000`);
    return 0;
  }
  const n = positiveInteger(values.memories, '--memories', 1_000_000);
  const services = await startTestServices();
  const source = openPgDatabase({ connectionString: await createDatabase('bigmemory'), max: 2 });
  const target = openPgDatabase({ connectionString: await createTarget(), max: 2 });
  try {
    const started = performance.now();
    await source.query(
      `INSERT INTO memories (user_id, content)
       SELECT '00000000-0000-0000-0000-000000000001', 'memory ' || g FROM generate_series(1, $1) g`,
      [n],
    );
    await ensureLedger(target);
    const { rows } = await source.query<{ id: string }>('SELECT id::text FROM memories');
    for (let i = 0; i < rows.length; i += 50_000) {
      const ids = rows.slice(i, i + 50_000).map((r) => r.id);
      await target.query(
        `INSERT INTO bigmemory_migration.memory_ledger (source_id, status, module, target_id, run_id, first_run_id)
         SELECT id, 'migrated', 'work', 'target-' || id, 'bench', 'bench' FROM unnest($1::text[]) id`,
        [ids],
      );
    }
    await Promise.all([
      source.query('VACUUM ANALYZE memories'),
      target.query('VACUUM ANALYZE bigmemory_migration.memory_ledger'),
    ]);
    console.log(
      `${n.toLocaleString('en-US')} memories and ledger rows ready in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
    const schema = await introspectSource(source);
    for (const [label, deletes] of [
      ['nothing deleted', 0],
      ['1,000 hard deletes', 1000],
    ] as const) {
      if (deletes > 0) {
        await source.query(
          'DELETE FROM memories WHERE id IN (SELECT id FROM memories ORDER BY random() LIMIT $1)',
          [deletes],
        );
      }
      const t0 = performance.now();
      const summary = await propagateDeletes(source, target, schema, {
        runId: 'bench-deletes',
        dryRun: false,
        keepDeleted: false,
      });
      const seconds = (performance.now() - t0) / 1000;
      console.log(
        `${label}: ${seconds.toFixed(2)} s (${Math.round(n / seconds).toLocaleString('en-US')} ledger keys/s), removed ${summary.memories}`,
      );
    }
  } finally {
    await Promise.all([source.end(), target.end()]);
    await services.stop();
  }
  return 0;
}

runCli(main);
