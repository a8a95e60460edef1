import { beforeAll, describe, expect, it } from 'vitest';
import { freshDatabases } from '../../dev/harness/databases.js';
import { runSteps } from '../../dev/support/run-steps.js';

describe('Preflight: messages a person can act on', () => {
  let sourceUrl: string;
  let targetUrl: string;

  beforeAll(async () => {
    ({ sourceUrl, targetUrl } = await freshDatabases());
  });

  it('names a user map file that does not exist, by path and flag', async () => {
    const run = runSteps({
      sourceUrl,
      targetUrl,
      input: { dryRun: true, preserveEmbeddings: true, userMapS3Uri: 'file:///nowhere/user-map.json' },
    });

    await expect(run).rejects.toMatchObject({
      name: 'InvalidInputError',
      message: expect.stringMatching(/There is no file \/nowhere\/user-map\.json \(given as --user-map/),
    });
  });

  it('names the schema it looked in when the source has no memories table', async () => {
    // The Federated Memory database has a users table but no memories table.
    const run = runSteps({
      sourceUrl: targetUrl,
      targetUrl,
      input: { dryRun: true, preserveEmbeddings: true },
    });

    await expect(run).rejects.toMatchObject({
      name: 'PreflightError',
      message: expect.stringContaining('no "memories" table in schema public'),
    });
  });

  it('refuses the Batch API for a run that keeps the existing vectors, naming both fixes', async () => {
    const run = runSteps({
      sourceUrl,
      targetUrl,
      input: { dryRun: true, preserveEmbeddings: true, embeddingApi: 'batch' },
    });

    await expect(run).rejects.toMatchObject({
      name: 'InvalidInputError',
      message: expect.stringMatching(
        /drop --embedding-api batch .*"embeddingApi": "sync".*--preserve-embeddings/,
      ),
    });
  });
});
