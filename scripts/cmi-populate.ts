/**
 * npm run cmi:populate -- [--target-db <url>] [--all] [--batch-size N]   (the guide's post-migration check)
 * Gives every module row a Central Memory Index entry derived as Federated Memory derives it, and
 * removes entries whose memory is gone. With --all every entry is recomputed.
 */
// First: on an older Node this stops with one line naming the Node needed.
import './require-node.cjs';
import { parseArgs } from 'node:util';
import { openPgDatabase } from '../functions/db/pg/pg-database.js';
import { inspectTarget } from '../functions/db/target-schema.js';
import { rebuildCmi } from '../functions/engine/rebuild-cmi.js';
import { onDatabase } from './cli/database-errors.js';
import { positiveInteger, runCli, UsageError } from './cli/database-flags.js';
import { ProgressBar } from './cli/progress.js';

const USAGE = `usage: npm run cmi:populate -- [--target-db <url>] [--all] [--batch-size N]

  --target-db <url>   Federated Memory database (default: DATABASE_URL)
  --all               recompute every CMI entry, not only missing ones
  --batch-size N      module rows per transaction (default 1000)
  --help              this text

Gives every module row a Central Memory Index entry (and removes entries whose memory is gone).

Example: npm run cmi:populate -- --all`;

async function main(): Promise<number> {
  let values: { 'target-db'?: string; all: boolean; 'batch-size'?: string; help: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        'target-db': { type: 'string' },
        all: { type: 'boolean', default: false },
        'batch-size': { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const url = values['target-db'] ?? process.env.DATABASE_URL;
  if (!url) throw new UsageError('pass --target-db <url> or set DATABASE_URL');
  const pool = openPgDatabase({ connectionString: url, max: 2 });
  try {
    const layout = await onDatabase('target', url, () => inspectTarget(pool));
    const moduleIds = layout.modules.map((m) => m.id);
    const bar = new ProgressBar('cmi:populate', moduleIds.length, 'modules');
    let current: string | null = null;
    const result = await onDatabase('target', url, () =>
      rebuildCmi(
        { target: pool, layout },
        {
          all: values.all,
          batchSize: positiveInteger(values['batch-size'], '--batch-size', 1000),
          onProgress: (p) => {
            if (current !== null && p.module !== current) bar.tick(1, `${current} done`);
            current = p.module;
          },
        },
      ),
    );
    bar.tick(moduleIds.length - (current ? moduleIds.indexOf(current) : 0));
    console.log(
      `CMI: scanned ${result.scanned}, created ${result.created}, updated ${result.updated}, removed ${result.removedOrphans} orphans, skipped ${result.skippedMissingUser} (user missing) in ${(result.durationMs / 1000).toFixed(1)} s`,
    );
    return 0;
  } finally {
    await pool.end();
  }
}

runCli(main);
