import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { App } from 'aws-cdk-lib';
import { MigrationStack } from './migration-stack.js';

const CDK_JSON = fileURLToPath(new URL('../cdk.json', import.meta.url));

/** The `context` of cdk.json: in-process apps (tests, the local runner) must see what `cdk synth` sees. */
export function cdkJsonContext(): Record<string, unknown> {
  const parsed = JSON.parse(readFileSync(CDK_JSON, 'utf8')) as { context?: Record<string, unknown> };
  return parsed.context ?? {};
}

export interface InProcessAppOptions {
  /** Context on top of cdk.json's, e.g. `{ 'bigmemory-migration:schedule': 'rate(1 day)' }`. */
  context?: Record<string, unknown>;
  /** Run esbuild for the functions; off by default, since assertions and the local runner never read the bundles. */
  bundle?: boolean;
}

/** The migration stack in an app of its own, synthesized in this process rather than by the CDK CLI. */
export function inProcessMigrationStack(options: InProcessAppOptions = {}): MigrationStack {
  const app = new App({
    context: {
      ...cdkJsonContext(),
      ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }),
      ...options.context,
    },
  });
  return new MigrationStack(app, 'BigMemoryMigration');
}
