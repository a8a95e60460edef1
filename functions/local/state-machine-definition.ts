import { Stage } from 'aws-cdk-lib';
import { inProcessMigrationStack } from '../../infra/migration-app.js';
import type { MigrationStack } from '../../infra/migration-stack.js';
import { InvalidInputError } from '../errors.js';
import { type AslDefinition, localFunctionArn } from './asl-definition.js';

export type { AslDefinition } from './asl-definition.js';

/** The bucket name the definition's bucket references resolve to unless told otherwise. */
const DEFAULT_LOCAL_BUCKET = 'bigmemory-migration-runs';

export interface LoadDefinitionOptions {
  /** CDK context on top of cdk.json's, e.g. a different `bigmemory-migration:maxConcurrency`. */
  context?: Record<string, unknown>;
  /** What the run bucket's `Ref` becomes. */
  bucket?: string;
}

/** The CDK app synthesized in this process: the stack, its template and the cloud assembly's folder. */
export interface SynthesizedApp {
  stack: MigrationStack;
  template: TemplateJson;
  /** The cloud assembly (cdk.out) folder: the bundles' assets live here when bundling ran. */
  directory: string;
}

interface TemplateJson {
  Resources?: Record<string, { Type?: string; Properties?: Record<string, unknown> }>;
}

/** Synthesizes the app as `cdk synth` would (with `bundle`, esbuild builds every function too). */
export function synthesizeMigrationApp(
  options: LoadDefinitionOptions & { bundle?: boolean } = {},
): SynthesizedApp {
  const stack = inProcessMigrationStack({ context: options.context, bundle: options.bundle });
  const stage = Stage.of(stack);
  if (!stage) throw new InvalidInputError('the migration stack is not inside a CDK app');
  const assembly = stage.synth();
  return {
    stack,
    template: assembly.getStackArtifact(stack.artifactId).template as TemplateJson,
    directory: assembly.directory,
  };
}

/**
 * The state machine definition exactly as the CDK app synthesizes it (bundling skipped), with its
 * CloudFormation tokens resolved: each function's `Fn::GetAtt … Arn` becomes a local ARN naming the
 * handler (`…:function:MigrateBatch`), the bucket's `Ref` the given bucket name, pseudo parameters
 * local values. Any other token is an error rather than a guess.
 */
export async function loadSynthesizedDefinition(options: LoadDefinitionOptions = {}): Promise<AslDefinition> {
  return resolvedDefinition(synthesizeMigrationApp(options), options.bucket);
}

/** The definition of a synthesized app with its tokens resolved for local use (see above). */
export function resolvedDefinition(app: SynthesizedApp, bucket?: string): AslDefinition {
  const { stack, template } = app;
  const stateMachineId = logicalIdOf(stack, stack.workflow.stateMachine.node.defaultChild);
  const definitionString = template.Resources?.[stateMachineId]?.Properties?.DefinitionString;
  if (definitionString === undefined) {
    throw new InvalidInputError('The synthesized template has no state machine definition', {
      context: { stateMachineId },
    });
  }
  return JSON.parse(resolveToken(definitionString, localTokens(app, bucket))) as AslDefinition;
}

/** What each CloudFormation token of the template stands for in a local run. */
export function localTokens(app: SynthesizedApp, bucket?: string): Map<string, string> {
  const { stack } = app;
  const tokens = new Map<string, string>([
    ['Ref:AWS::Partition', 'aws'],
    ['Ref:AWS::Region', 'local'],
    ['Ref:AWS::AccountId', '000000000000'],
    ['Ref:AWS::URLSuffix', 'amazonaws.com'],
    [`Ref:${logicalIdOf(stack, stack.runBucket.bucket.node.defaultChild)}`, bucket ?? DEFAULT_LOCAL_BUCKET],
  ]);
  for (const [handler, fn] of Object.entries(stack.functions.byHandler)) {
    tokens.set(`GetAtt:${logicalIdOf(stack, fn.node.defaultChild)}.Arn`, localFunctionArn(handler));
  }
  return tokens;
}

export function logicalIdOf(stack: MigrationStack, element: unknown): string {
  return stack.resolve((element as { logicalId: string }).logicalId) as string;
}

/** A template value with its tokens resolved; an unknown token is an `InvalidInputError`. */
export function resolveToken(value: unknown, tokens: Map<string, string>): string {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object') {
    const intrinsic = value as Record<string, unknown>;
    if (Array.isArray(intrinsic['Fn::Join'])) {
      const [separator, parts] = intrinsic['Fn::Join'] as [string, unknown[]];
      return parts.map((part) => resolveToken(part, tokens)).join(separator);
    }
    const key =
      typeof intrinsic.Ref === 'string'
        ? `Ref:${intrinsic.Ref}`
        : Array.isArray(intrinsic['Fn::GetAtt'])
          ? `GetAtt:${(intrinsic['Fn::GetAtt'] as string[]).join('.')}`
          : undefined;
    const resolved = key === undefined ? undefined : tokens.get(key);
    if (resolved !== undefined) return resolved;
  }
  throw new InvalidInputError('The synthesized definition holds a token the local runner cannot resolve', {
    context: { token: value },
  });
}
