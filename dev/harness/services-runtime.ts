import { randomBytes } from 'node:crypto';
import { dropRunDatabases, useHarnessDatabases } from './databases.js';
import { type EmbeddingsServer, startEmbeddingsServer } from './embeddings-server.js';
import { type PostgresOptions, type PostgresServer, startPostgres } from './postgres.js';
import { type S3Server, startS3Server } from './s3.js';
import type { TestServices } from './services.js';
import { prepareTemplates } from './templates.js';

export interface RunningTestServices extends TestServices {
  stop(): Promise<void>;
}

async function startDatabases(options: PostgresOptions): Promise<PostgresServer> {
  const postgres = await startPostgres(options);
  try {
    await prepareTemplates(postgres.adminUrl);
  } catch (error) {
    await postgres.stop();
    throw error;
  }
  return postgres;
}

/**
 * PostgreSQL (with templates), s3rver and an embeddings server, for vitest's global setup and
 * for scripts that run outside vitest. createDatabase() in this process works once it resolves.
 */
export async function startTestServices(options: PostgresOptions = {}): Promise<RunningTestServices> {
  const started = await Promise.allSettled([
    startDatabases(options),
    startS3Server(),
    startEmbeddingsServer(),
  ]);
  const [postgres, s3, embeddings] = started;
  if (postgres.status === 'rejected' || s3.status === 'rejected' || embeddings.status === 'rejected') {
    await Promise.allSettled(
      started.map((result) => (result.status === 'fulfilled' ? stopService(result.value) : undefined)),
    );
    const failure = started.find((result) => result.status === 'rejected') as PromiseRejectedResult;
    throw failure.reason;
  }
  const databasePrefix = `t_${randomBytes(4).toString('hex')}_`;
  const adminDatabaseUrl = postgres.value.adminUrl;
  useHarnessDatabases({ adminDatabaseUrl, databasePrefix });
  return {
    adminDatabaseUrl,
    databasePrefix,
    s3Endpoint: s3.value.endpoint,
    embeddingsBaseURL: embeddings.value.baseURL,
    stop: async () => {
      // A private cluster is thrown away whole; a shared server only loses this run's databases.
      if (!postgres.value.owned) await dropRunDatabases(adminDatabaseUrl, databasePrefix).catch(() => {});
      await Promise.allSettled([postgres.value.stop(), s3.value.close(), embeddings.value.close()]);
    },
  };
}

function stopService(service: PostgresServer | S3Server | EmbeddingsServer): Promise<void> {
  return 'stop' in service ? service.stop() : service.close();
}
