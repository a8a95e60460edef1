import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';
import { InvalidInputError } from '../errors.js';
import type { StepName } from '../steps/index.js';
import type { AslDefinition } from './asl-definition.js';
import type { LocalTaskHandler } from './local-execution.js';
import { localContext } from './local-handlers.js';
import {
  type LoadDefinitionOptions,
  localTokens,
  logicalIdOf,
  resolvedDefinition,
  resolveToken,
  synthesizeMigrationApp,
} from './state-machine-definition.js';

/**
 * The deployed artefact, run locally: the app synthesized with bundling, so that each task of the
 * definition runs the esbuild bundle `cdk deploy` uploads (`cdk.out/asset.<hash>/index.mjs`),
 * imported as Lambda imports it (ESM, its own `handler` export) in the function's own environment.
 * What only the bundle can get wrong — an error name the minifier shortened, a dependency that does
 * not survive bundling — then fails a local run as it would fail on AWS.
 */
export interface BundledApp {
  definition: AslDefinition;
  /** The bundle file of each function. */
  bundles: Record<StepName, string>;
  /**
   * Each function's environment from the template, its tokens resolved; variables naming a secret
   * (`*_SECRET_ARN`) are left out, the local run gives URLs and keys instead (`withFunctionEnvironment`).
   */
  environments: Record<StepName, Record<string, string>>;
}

const SECRET_ARN_VARIABLE = /_SECRET_ARN$/;

export function loadBundledApp(options: LoadDefinitionOptions = {}): BundledApp {
  const app = synthesizeMigrationApp({ ...options, bundle: true });
  const tokens = localTokens(app, options.bucket);
  const bundles: Partial<Record<StepName, string>> = {};
  const environments: Partial<Record<StepName, Record<string, string>>> = {};
  for (const [handler, fn] of Object.entries(app.stack.functions.byHandler) as [StepName, object][]) {
    const logicalId = logicalIdOf(app.stack, (fn as { node: { defaultChild: unknown } }).node.defaultChild);
    const properties = app.template.Resources?.[logicalId]?.Properties as
      | { Code?: { S3Key?: string }; Handler?: string; Environment?: { Variables?: Record<string, unknown> } }
      | undefined;
    const s3Key = properties?.Code?.S3Key;
    const file = s3Key ? `${app.directory}/asset.${s3Key.replace(/\.zip$/, '')}/index.mjs` : undefined;
    if (!file || !existsSync(file) || properties?.Handler !== 'index.handler') {
      throw new InvalidInputError(`No built bundle for the ${handler} function in the cloud assembly`, {
        context: { handler, logicalId, s3Key, handlerProperty: properties?.Handler },
      });
    }
    bundles[handler] = file;
    environments[handler] = Object.fromEntries(
      Object.entries(properties?.Environment?.Variables ?? {})
        .filter(([name]) => !SECRET_ARN_VARIABLE.test(name))
        .map(([name, value]) => [name, resolveToken(value, tokens)]),
    );
  }
  return {
    definition: resolvedDefinition(app, options.bucket),
    bundles: bundles as Record<StepName, string>,
    environments: environments as Record<StepName, Record<string, string>>,
  };
}

/**
 * A handler per function, each importing its bundle on first call: a cold start. `coldStart`
 * names a set of containers: handlers made with another name import the bundles afresh (new
 * module instances, so new connection pools and a re-read environment), as new Lambda containers would.
 */
export function bundledHandlers(app: BundledApp, coldStart: string): Record<StepName, LocalTaskHandler> {
  return Object.fromEntries(
    (Object.entries(app.bundles) as [StepName, string][]).map(([name, file]) => {
      let module: Promise<{ handler: (event: unknown, context: Context) => Promise<unknown> }> | undefined;
      const url = `${pathToFileURL(file).href}?container=${encodeURIComponent(coldStart)}`;
      const handler: LocalTaskHandler = async (event) => {
        module ??= import(url);
        return (await module).handler(event, localContext(name));
      };
      return [name, handler];
    }),
  ) as Record<StepName, LocalTaskHandler>;
}

/**
 * Runs `work` with `process.env` set to the functions' environment plus `local` (database URLs,
 * an API key, an S3 endpoint: what a deployed function reads from Secrets Manager or gets from
 * AWS), then puts the environment back. The bundles share this process, so all functions must
 * have one environment; the stack gives them one.
 */
export async function withFunctionEnvironment<T>(
  app: BundledApp,
  local: Record<string, string>,
  work: () => Promise<T>,
): Promise<T> {
  const [first, ...others] = Object.values(app.environments);
  const differing = others.filter((env) => JSON.stringify(env) !== JSON.stringify(first));
  if (differing.length > 0) {
    throw new InvalidInputError('The functions have different environments: run them one per process', {
      context: { functions: Object.keys(app.environments) },
    });
  }
  const saved = { ...process.env };
  Object.assign(process.env, first, local);
  try {
    return await work();
  } finally {
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
    Object.assign(process.env, saved);
  }
}
