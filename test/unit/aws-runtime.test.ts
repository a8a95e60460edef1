import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it, vi } from 'vitest';

// The runtime is built once per container (module instance): each test takes a fresh module.
async function freshRuntime(env: NodeJS.ProcessEnv) {
  vi.resetModules();
  const { awsMigrationRuntime } = await import('../../functions/runtime/migration-runtime.js');
  return awsMigrationRuntime(env);
}

describe('Function: awsMigrationRuntime', () => {
  const secrets = mockClient(SecretsManagerClient);

  afterEach(() => {
    secrets.reset();
  });

  it('takes the Map’s concurrency from EMBEDDING_WORKERS, which the stack sets to MaxConcurrency', async () => {
    // Act
    const runtime = await freshRuntime({ RUN_BUCKET: 'run-bucket', EMBEDDING_WORKERS: '8' });

    // Assess
    expect(runtime.mapConcurrency).toBe(8);
    await runtime.close();
  });

  it('reads a database secret once per container, though its pools close after every invocation', async () => {
    // Prepare
    secrets.on(GetSecretValueCommand).resolves({ SecretString: 'postgresql://u:p@127.0.0.1:1/db' });
    const runtime = await freshRuntime({
      RUN_BUCKET: 'run-bucket',
      SOURCE_DATABASE_SECRET_ARN: 'arn:source',
    });

    // Act: two invocations, each opening the pool and closing it when done
    const first = await runtime.sourcePool();
    await runtime.close();
    const second = await runtime.sourcePool();
    await runtime.close();

    // Assess: a new pool each time, one secret read
    expect(second).not.toBe(first);
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1);
  });
});
