import { randomBytes } from 'node:crypto';
import { InvalidInputError, PreflightError } from '../../functions/errors.js';
import {
  databaseNameOf,
  databaseUrl,
  quoteIdentifier,
  type SchemaKind,
  type TargetVariant,
  TEMPLATE_DATABASES,
  targetSchemaKind,
  withClient,
} from './templates.js';

export {
  defaultTargetVariant,
  loadSchema,
  type SchemaKind,
  TARGET_VARIANTS,
  type TargetVariant,
  targetSchemaKind,
} from './templates.js';

export interface HarnessDatabaseConfig {
  adminDatabaseUrl: string;
  /** Every database this run creates starts with it, so a shared server can be swept after the run. */
  databasePrefix: string;
}

let configured: HarnessDatabaseConfig | undefined;

/** Points this process at a server with the templates; startTestServices() calls it. */
export function useHarnessDatabases(config: HarnessDatabaseConfig): void {
  configured = config;
}

// Test workers are other processes than global setup: there the config comes from inject().
async function harnessConfig(): Promise<HarnessDatabaseConfig> {
  if (configured) return configured;
  try {
    const { services } = await import('./services.js');
    const provided = services();
    configured = { adminDatabaseUrl: provided.adminDatabaseUrl, databasePrefix: provided.databasePrefix };
    return configured;
  } catch (error) {
    throw new PreflightError(
      'No test database server: run under vitest (global setup) or call startTestServices() first',
      { cause: error },
    );
  }
}

/** A new database of `kind` (cloned from its template), returned as a URL. */
export async function createDatabase(kind: SchemaKind, name?: string): Promise<string> {
  const { adminDatabaseUrl, databasePrefix } = await harnessConfig();
  const database = name ?? `${databasePrefix}${kind.replace('-', '_')}_${randomBytes(5).toString('hex')}`;
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(database)) {
    throw new InvalidInputError(`Not a plain lower-case database name: ${database}`, {
      context: { database },
    });
  }
  const template = kind === 'empty' ? 'template0' : TEMPLATE_DATABASES[kind];
  await withClient(adminDatabaseUrl, (admin) =>
    admin.query(`CREATE DATABASE ${quoteIdentifier(database)} TEMPLATE ${quoteIdentifier(template)}`),
  );
  const url = databaseUrl(adminDatabaseUrl, database);
  if (kind === 'empty') await withClient(url, (client) => client.query('CREATE EXTENSION vector'));
  return url;
}

/** A new Federated Memory target of the given variant (the process's default variant if none). */
export function createTarget(variant?: TargetVariant): Promise<string> {
  return createDatabase(targetSchemaKind(variant));
}

/** A BigMemory source and a Federated Memory target, both new. */
export async function freshDatabases(
  opts: { target?: TargetVariant } = {},
): Promise<{ sourceUrl: string; targetUrl: string }> {
  const [sourceUrl, targetUrl] = await Promise.all([createDatabase('bigmemory'), createTarget(opts.target)]);
  return { sourceUrl, targetUrl };
}

/** Drops a database made by createDatabase, closing its open connections. */
export async function dropDatabase(url: string): Promise<void> {
  const { adminDatabaseUrl } = await harnessConfig();
  const database = databaseNameOf(url);
  const protectedNames = [databaseNameOf(adminDatabaseUrl), 'template0', 'template1'];
  if (protectedNames.includes(database) || Object.values(TEMPLATE_DATABASES).includes(database)) {
    throw new InvalidInputError(`Refusing to drop ${database}: the harness needs it`, {
      context: { database },
    });
  }
  await withClient(adminDatabaseUrl, async (admin) => {
    // Clients a test just ended may still be closing: forcing them out mid-close makes pg raise an
    // error nobody listens to any more. Give them a moment, then force whatever is left.
    for (let waited = 0; waited < 2_000; waited += 50) {
      const { rows } = await admin.query<{ n: string }>(
        'SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1',
        [database],
      );
      if (Number(rows[0]?.n) === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(database)} WITH (FORCE)`);
  });
}

/** Drops every database of one run: the sweep for servers the harness does not throw away. */
export async function dropRunDatabases(adminDatabaseUrl: string, databasePrefix: string): Promise<void> {
  await withClient(adminDatabaseUrl, async (admin) => {
    const result = await admin.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE left(datname, length($1)) = $1',
      [databasePrefix],
    );
    for (const { datname } of result.rows) {
      await admin.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(datname)} WITH (FORCE)`);
    }
  });
}
