import { type ParseArgsConfig, parseArgs } from 'node:util';
import { redactDatabaseUrl } from '../../functions/runtime/database-urls.js';
import { dataApiFromEnv, type RuntimeOptions } from '../../functions/runtime/migration-runtime.js';

export class UsageError extends Error {
  override name = 'UsageError';
}

/** The guide's connection options: the flag, else SOURCE_DATABASE_URL / DATABASE_URL. */
export function databaseUrls(flags: { 'source-db'?: string; 'target-db'?: string }): {
  sourceUrl: string;
  targetUrl: string;
} {
  const sourceUrl = flags['source-db'] ?? process.env.SOURCE_DATABASE_URL;
  const targetUrl = flags['target-db'] ?? process.env.DATABASE_URL;
  if (!sourceUrl)
    throw new UsageError('No BigMemory database: pass --source-db <url> or set SOURCE_DATABASE_URL.');
  if (!targetUrl)
    throw new UsageError('No Federated Memory database: pass --target-db <url> or set DATABASE_URL.');
  for (const [name, url] of [
    ['--source-db', sourceUrl],
    ['--target-db', targetUrl],
  ] as const) {
    if (!/^postgres(ql)?:\/\//.test(url)) {
      throw new UsageError(
        `${name} must be a postgresql://<user>:<password>@<host>:<port>/<dbname> URL, got ${redactDatabaseUrl(url)}`,
      );
    }
  }
  return { sourceUrl, targetUrl };
}

export type DatabaseConnections =
  | { sourceUrl: string; targetUrl: string; dataApi?: undefined }
  | { sourceUrl?: undefined; targetUrl?: undefined; dataApi: NonNullable<RuntimeOptions['dataApi']> };

/**
 * pg URLs as above, or both databases through the RDS Data API when SOURCE_/TARGET_DATA_API_CLUSTER_ARN
 * are set (the variables the deployed functions get; AWS credentials and region from the usual chain).
 */
export function databaseConnections(flags: {
  'source-db'?: string;
  'target-db'?: string;
}): DatabaseConnections {
  let dataApi: RuntimeOptions['dataApi'];
  try {
    dataApi = dataApiFromEnv(process.env);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (!dataApi) return databaseUrls(flags);
  if (flags['source-db'] || flags['target-db']) {
    throw new UsageError(
      'The databases are named twice: --source-db/--target-db, and SOURCE_/TARGET_DATA_API_CLUSTER_ARN for the RDS Data API. Give one or the other.',
    );
  }
  return { dataApi };
}

export function positiveInteger(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} takes a whole number ≥ 1, got "${value}"`);
  return n;
}

/** A usage error of ours, or one of node:util parseArgs (unknown option, missing value …). */
function isUsageError(e: Error): boolean {
  const code = (e as { code?: unknown }).code;
  return e.name === 'UsageError' || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'));
}

/** Runs a CLI's main, mapping failures to exit codes: 2 for usage, 1 for anything else. */
export function runCli(main: () => Promise<number | undefined>): void {
  main().then(
    (code) => process.exit(code ?? 0),
    (error: unknown) => {
      const e = error instanceof Error ? error : new Error(String(error));
      const usage = isUsageError(e);
      console.error(
        `${usage ? 'usage error' : e.name}: ${e.message}${usage ? ' (--help lists the options)' : ''}`,
      );
      process.exit(usage ? 2 : 1);
    },
  );
}

type FlagOptions = NonNullable<ParseArgsConfig['options']>;

/**
 * The scripts' flags, strict (an unknown flag is a usage error, exit 2), plus `--help` and
 * `--verbose` (read by local-console.ts before anything logs).
 */
export function parseFlags<const T extends FlagOptions>(options: T, args: string[] = process.argv.slice(2)) {
  const all = {
    ...options,
    help: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
  } as const;
  try {
    return parseArgs({ args, options: all, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}
