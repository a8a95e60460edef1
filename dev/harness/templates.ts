import { readFile } from 'node:fs/promises';
import { withPgSession } from '../../functions/db/pg/pg-session.js';
import type { DatabaseSession } from '../../functions/db/port.js';

/** The schemas a test database can start from. */
export type SchemaKind = 'bigmemory' | 'federated-newest' | 'federated-older' | 'empty';
export type TemplateKind = Exclude<SchemaKind, 'empty'>;

/** The two real Federated Memory schemas a target can have (dev/fixtures/federated-*.sql). */
export const TARGET_VARIANTS = ['newest', 'older'] as const;
export type TargetVariant = (typeof TARGET_VARIANTS)[number];

/**
 * The variant this test process writes by default: the vitest project sets it, so the suite's
 * migration paths run against both (vitest.config.ts); scripts default to the newest.
 */
export function defaultTargetVariant(): TargetVariant {
  const named = process.env.FEDERATED_TARGET_VARIANT;
  return named === 'older' ? 'older' : 'newest';
}

export const targetSchemaKind = (variant: TargetVariant = defaultTargetVariant()): SchemaKind =>
  `federated-${variant}`;

const FIXTURE_FILES: Record<SchemaKind, string[]> = {
  bigmemory: ['bigmemory.sql'],
  'federated-newest': ['federated-newest.sql'],
  'federated-older': ['federated-older.sql'],
  empty: [],
};

export const TEMPLATE_DATABASES: Record<TemplateKind, string> = {
  bigmemory: 'bigmemory_template',
  'federated-newest': 'federated_template_newest',
  'federated-older': 'federated_template_older',
};

export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** The URL of another database on the same server, with the same credentials and options. */
export function databaseUrl(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${encodeURIComponent(database)}`;
  return url.toString();
}

export function databaseNameOf(url: string): string {
  return decodeURIComponent(new URL(url).pathname.slice(1));
}

/** `work` on a connection of its own, always closed. */
export function withClient<T>(url: string, work: (client: DatabaseSession) => Promise<T>): Promise<T> {
  return withPgSession(url, work);
}

/** Applies the fixture SQL of `kind` to an existing database (pgvector included). */
export async function loadSchema(url: string, kind: SchemaKind): Promise<void> {
  const scripts = await Promise.all(
    FIXTURE_FILES[kind].map((file) => readFile(new URL(`../fixtures/${file}`, import.meta.url), 'utf8')),
  );
  await withClient(url, async (client) => {
    await client.query('CREATE EXTENSION IF NOT EXISTS vector');
    for (const script of scripts) await client.query(script);
  });
}

/**
 * (Re)creates the template databases tests clone from. Templates refuse connections, because
 * CREATE DATABASE ... TEMPLATE fails while anyone is connected to the template.
 */
export async function prepareTemplates(adminUrl: string): Promise<void> {
  const kinds = Object.keys(TEMPLATE_DATABASES) as TemplateKind[];
  await withClient(adminUrl, async (admin) => {
    for (const kind of kinds) {
      const name = quoteIdentifier(TEMPLATE_DATABASES[kind]);
      const existing = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [
        TEMPLATE_DATABASES[kind],
      ]);
      if (existing.rowCount) {
        await admin.query(`ALTER DATABASE ${name} WITH IS_TEMPLATE false ALLOW_CONNECTIONS true`);
        await admin.query(`DROP DATABASE ${name} WITH (FORCE)`);
      }
      await admin.query(`CREATE DATABASE ${name} TEMPLATE template0`);
    }
  });
  await Promise.all(kinds.map((kind) => loadSchema(databaseUrl(adminUrl, TEMPLATE_DATABASES[kind]), kind)));
  await withClient(adminUrl, async (admin) => {
    for (const kind of kinds) {
      const name = quoteIdentifier(TEMPLATE_DATABASES[kind]);
      await admin.query(`ALTER DATABASE ${name} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`);
    }
  });
}
