/**
 * A database error as a person at a terminal needs it: which database (BigMemory or Federated
 * Memory, and the variable or flag that names it), what went wrong, and what to change.
 */
import { MigrationError } from '../../functions/errors.js';
import { redactDatabaseUrl } from '../../functions/runtime/database-urls.js';

export type DatabaseRole = 'source' | 'target';

const ROLES: Record<DatabaseRole, { name: string; setting: string }> = {
  source: { name: 'source database (BigMemory)', setting: 'SOURCE_DATABASE_URL or --source-db' },
  target: { name: 'target database (Federated Memory)', setting: 'DATABASE_URL or --target-db' },
};

export class DatabaseAccessError extends Error {
  readonly role: DatabaseRole;

  constructor(message: string, role: DatabaseRole, cause: unknown) {
    super(message, { cause });
    this.name = 'DatabaseAccessError';
    this.role = role;
  }
}

function fixFor(code: string | undefined, role: DatabaseRole, setting = ROLES[role].setting): string {
  switch (code) {
    case '28P01':
    case '28000':
      return `check the user name and password in ${setting}`;
    case '3D000':
      return `check the database name at the end of ${setting}`;
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'ETIMEDOUT':
      return `check the host and port in ${setting}, and that this machine can reach it`;
    case '42P01':
      return role === 'target'
        ? `check that ${setting} names a Federated Memory database, and that a migration has run there (npm run migrate:bigmemory)`
        : `check that ${setting} names a BigMemory database`;
    case '42501':
      return `give the user in ${setting} the privileges the error names`;
    default:
      return `check ${setting}`;
  }
}

/**
 * Runs `work`; a database error comes out naming the database and the fix. `setting` names where
 * the URL came from, for a command whose flag is not --source-db / --target-db.
 */
export async function onDatabase<T>(
  role: DatabaseRole,
  url: string,
  work: () => Promise<T>,
  setting?: string,
): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof Error) || error instanceof DatabaseAccessError) throw error;
    const code = (error as { code?: unknown }).code;
    const isDatabaseError = typeof code === 'string' && (/^[0-9A-Z]{5}$/.test(code) || code.startsWith('E'));
    if (!isDatabaseError && !/connect|terminated|timeout/i.test(error.message)) throw error;
    const { name } = ROLES[role];
    throw new DatabaseAccessError(
      `The ${name} at ${redactDatabaseUrl(url)} failed: ${error.message}${typeof code === 'string' ? ` (${code})` : ''}. Fix: ${fixFor(typeof code === 'string' ? code : undefined, role, setting)}.`,
      role,
      error,
    );
  }
}

/** A snapshot's database failure as the other database errors read: which database, and the fix. */
export async function namingTheDatabase(
  error: unknown,
  urls: { sourceUrl?: string; targetUrl?: string },
  setting?: string,
): Promise<unknown> {
  const database = error instanceof MigrationError ? error.context.database : undefined;
  const url = database === 'source' ? urls.sourceUrl : database === 'target' ? urls.targetUrl : undefined;
  if ((database !== 'source' && database !== 'target') || !url) return error;
  const cause = (error as MigrationError).cause;
  return onDatabase(database, url, () => Promise.reject(cause ?? error), setting).catch(
    (named: unknown) => named,
  );
}
