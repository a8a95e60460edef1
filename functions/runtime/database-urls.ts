import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PreflightError } from '../errors.js';

export type DatabaseRole = 'source' | 'target';

const ENV = {
  source: { secretArn: 'SOURCE_DATABASE_SECRET_ARN', url: 'SOURCE_DATABASE_URL', flag: '--source-db' },
  target: { secretArn: 'TARGET_DATABASE_SECRET_ARN', url: 'DATABASE_URL', flag: '--target-db' },
} as const;

/**
 * A database URL from Secrets Manager (AWS: the secret's ARN is in the environment, never the URL)
 * or from the environment (local: the guide's SOURCE_DATABASE_URL / DATABASE_URL). The secret may
 * hold a URL, `{ "url": … }`, or the RDS-generated `{ host, port, username, password, dbname }`.
 */
export async function resolveDatabaseUrl(
  role: DatabaseRole,
  env: NodeJS.ProcessEnv,
  secrets?: () => SecretsManagerClient,
): Promise<string> {
  const names = ENV[role];
  const arn = env[names.secretArn];
  if (arn) {
    if (!secrets)
      throw new PreflightError(`${names.secretArn} is set but no Secrets Manager client is available`);
    const out = await secrets().send(new GetSecretValueCommand({ SecretId: arn }));
    return databaseUrlFromSecret(out.SecretString ?? '', role);
  }
  const url = env[names.url];
  if (!url) {
    throw new PreflightError(
      `No ${role} database: set ${names.url} (or pass ${names.flag} <url>), or ${names.secretArn} in AWS.`,
    );
  }
  return url;
}

function databaseUrlFromSecret(secret: string, role: DatabaseRole): string {
  const text = secret.trim();
  if (/^postgres(ql)?:\/\//.test(text)) return text;
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new PreflightError(`The ${role} database secret is neither a postgresql:// URL nor JSON.`);
  }
  if (typeof parsed.url === 'string') return parsed.url;
  const { host, port, username, password, dbname } = parsed;
  if (typeof host !== 'string' || typeof username !== 'string') {
    throw new PreflightError(
      `The ${role} database secret needs "url", or "host", "username", "password", "dbname" (the RDS secret layout).`,
    );
  }
  const auth = `${encodeURIComponent(username)}:${encodeURIComponent(String(password ?? ''))}`;
  return `postgresql://${auth}@${host}:${String(port ?? 5432)}/${encodeURIComponent(String(dbname ?? 'postgres'))}`;
}

/** For messages and logs: the URL with its password replaced. */
export function redactDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable database URL)';
  }
}
