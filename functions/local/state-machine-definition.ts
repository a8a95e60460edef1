import { inProcessMigrationStack } from '../../infra/migration-app.js';
import type { MigrationStack } from '../../infra/migration-stack.js';
import { InvalidInputError } from '../errors.js';
import { type AslDefinition, localFunctionArn } from './asl-definition.js';

export type { AslDefinition } from './asl-definition.js';

/** The bucket name the definition's bucket references resolve to unless told otherwise. */
export const DEFAULT_LOCAL_BUCKET = 'bigmemory-migration-runs';

export interface LoadDefinitionOptions {
  /** CDK context on top of cdk.json's, e.g. a different `bigmemory-migration:maxConcurrency`. */
  context?: Record<string, unknown>;
  /** What the run bucket's `Ref` becomes. */
  bucket?: string;
}

/**
 * The state machine definition exactly as the CDK app synthesizes it (bundling skipped), with its
 * CloudFormation tokens resolved: each function's `Fn::GetAtt … Arn` becomes a local ARN naming the
 * handler (`…:function:MigrateBatch`), the bucket's `Ref` the given bucket name, pseudo parameters
 * local values. Any other token is an error rather than a guess.
 */
export async function loadSynthesizedDefinition(options: LoadDefinitionOptions = {}): Promise<AslDefinition> {
  const stack = inProcessMigrationStack({ context: options.context });
  const template = synthesizedTemplate(stack);
  const stateMachineId = logicalIdOf(stack, stack.workflow.stateMachine.node.defaultChild);
  const definitionString = template.Resources?.[stateMachineId]?.Properties?.DefinitionString;
  if (definitionString === undefined) {
    throw new InvalidInputError('The synthesized template has no state machine definition', {
      context: { stateMachineId },
    });
  }
  const tokens = new Map<string, string>([
    ['Ref:AWS::Partition', 'aws'],
    ['Ref:AWS::Region', 'local'],
    ['Ref:AWS::AccountId', '000000000000'],
    ['Ref:AWS::URLSuffix', 'amazonaws.com'],
    [
      `Ref:${logicalIdOf(stack, stack.runBucket.bucket.node.defaultChild)}`,
      options.bucket ?? DEFAULT_LOCAL_BUCKET,
    ],
  ]);
  for (const [handler, fn] of Object.entries(stack.functions.byHandler)) {
    tokens.set(`GetAtt:${logicalIdOf(stack, fn.node.defaultChild)}.Arn`, localFunctionArn(handler));
  }
  return JSON.parse(resolveToken(definitionString, tokens)) as AslDefinition;
}

interface TemplateJson {
  Resources?: Record<string, { Properties?: { DefinitionString?: unknown } }>;
}

function synthesizedTemplate(stack: MigrationStack): TemplateJson {
  const assembly = (
    stack.node.root as unknown as { synth(): { getStackArtifact(id: string): { template: unknown } } }
  ).synth();
  return assembly.getStackArtifact(stack.artifactId).template as TemplateJson;
}

function logicalIdOf(stack: MigrationStack, element: unknown): string {
  return stack.resolve((element as { logicalId: string }).logicalId) as string;
}

function resolveToken(value: unknown, tokens: Map<string, string>): string {
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
