import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CONTRACT } from '../../functions/error-contract.js';
import { allStates } from '../../functions/local/asl-definition.js';
import { type BundledApp, loadBundledApp } from '../../functions/local/bundled-functions.js';
import { STEP_NAMES } from '../../functions/steps/index.js';
import { MIGRATION_BUNDLING, MIGRATION_RUNTIME } from '../../infra/constructs/migration-function.js';

type BundleHandler = (event: unknown, context: Context) => Promise<unknown>;
const context = { functionName: 'contract', awsRequestId: 'contract' } as Context;

async function thrownBy(file: string, event: unknown, container: string): Promise<Error | null> {
  const { handler } = (await import(`${pathToFileURL(file).href}?container=${container}`)) as {
    handler: BundleHandler;
  };
  return handler(event, context).then(
    () => null,
    (error: Error) => error,
  );
}

/**
 * Step Functions matches `Retry` and `Catch` on the names the deployed bundles throw, so the
 * contract is checked on the bundles `cdk synth` builds, with the stack's own bundling options.
 */
describe('The error contract in the deployed bundles', () => {
  let app: BundledApp;
  const saved = { ...process.env };

  beforeAll(() => {
    app = loadBundledApp();
  }, 240_000);

  afterAll(() => {
    process.env = saved;
  });

  it('bundles for Node 24 with class names kept, minified, for the nodejs24.x runtime', () => {
    expect(MIGRATION_RUNTIME.name).toBe('nodejs24.x');
    expect(MIGRATION_BUNDLING).toMatchObject({
      target: 'node24',
      keepNames: true,
      minify: true,
      format: 'esm',
    });
  });

  it('throws the literal names from every bundle, each bundle checking its own step', async () => {
    // Prepare: every function given a malformed event; Preflight without its bucket, then given a bad execution input
    const malformed: Record<string, Error | null> = {};

    // Act
    delete process.env.RUN_BUCKET;
    for (const [fn, file] of Object.entries(app.bundles)) {
      malformed[fn] = await thrownBy(file, { run: {} }, `${fn}-malformed`);
    }
    const unconfigured = await thrownBy(
      app.bundles.Preflight,
      { input: {}, executionName: 'contract' },
      'preflight-unconfigured',
    );
    process.env.RUN_BUCKET = 'contract-bucket';
    const badInput = await thrownBy(
      app.bundles.Preflight,
      { input: { batchSize: 0 }, executionName: 'contract' },
      'preflight-bad-input',
    );

    // Assess
    expect(Object.keys(malformed)).toEqual(STEP_NAMES);
    for (const [fn, error] of Object.entries(malformed)) {
      expect(error?.name, fn).toBe('InvalidInputError');
      expect(error?.message, fn).toContain(`${fn} got a malformed event`);
    }
    expect(malformed.MigrateBatch?.message).toContain('run.runId: expected string');
    expect(unconfigured?.name).toBe('PreflightError');
    expect(badInput?.name).toBe('InvalidInputError');
    expect(badInput?.message).toMatch(/batchSize/);
  }, 240_000); // fourteen bundles of several MB each: slow to load on a busy machine

  it('has every name of every ErrorEquals thrown by some bundle or by Lambda itself', () => {
    // Prepare
    const texts = Object.values(app.bundles).map((file) => readFileSync(file, 'utf8'));
    const matched = new Set(
      allStates(app.definition).flatMap(([, state]) => [
        ...(state.Retry ?? []).flatMap((retry) => retry.ErrorEquals as string[]),
        ...(state.Catch ?? []).flatMap((catcher) => catcher.ErrorEquals),
      ]),
    );

    // Assess
    expect(matched.size).toBeGreaterThan(2);
    for (const name of matched) {
      if (name.startsWith('States.')) continue;
      const policy = (ERROR_CONTRACT as Record<string, { thrownBy: string }>)[name];
      expect(policy, `${name} is not in the error contract`).toBeDefined();
      if (policy?.thrownBy === 'lambda') continue;
      // A literal the minifier cannot touch: `name="TransientDatabaseError"`.
      expect(
        texts.some((text) => text.includes(`name="${name}"`)),
        `no bundle throws ${name}`,
      ).toBe(true);
    }
  });
});
