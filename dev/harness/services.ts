import { inject } from 'vitest';

/** What global setup hands every test worker. */
export interface TestServices {
  /** Superuser URL of the test PostgreSQL server (holds the template databases). */
  adminDatabaseUrl: string;
  /** Prefix of every database this run creates. */
  databasePrefix: string;
  s3Endpoint: string;
  /** Shared embeddings server, ending in /v1. Tests that inject failures should start their own. */
  embeddingsBaseURL: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    services: TestServices;
  }
}

export function services(): TestServices {
  return inject('services');
}
