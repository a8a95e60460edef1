import { describe, expect, it } from 'vitest';
import { awsMigrationRuntime } from '../../functions/runtime/migration-runtime.js';

describe('Function: awsMigrationRuntime', () => {
  it('takes the Map’s concurrency from EMBEDDING_WORKERS, which the stack sets to MaxConcurrency', async () => {
    // Act
    const runtime = awsMigrationRuntime({ RUN_BUCKET: 'run-bucket', EMBEDDING_WORKERS: '8' });

    // Assess
    expect(runtime.mapConcurrency).toBe(8);
    await runtime.close();
  });
});
