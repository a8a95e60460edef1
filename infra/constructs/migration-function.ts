import { fileURLToPath } from 'node:url';
import { type Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { ISecurityGroup, IVpc, SubnetSelection } from 'aws-cdk-lib/aws-ec2';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { type BundlingOptions, NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { StepName } from '../../functions/steps/index.js';

const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

// esbuild's ESM output has no `require`; CommonJS dependencies (pg, middy plugins) still call it.
const REQUIRE_SHIM =
  "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);";

/** Lambda's runtime for every function; the bundle targets the same Node (`MIGRATION_BUNDLING`). */
export const MIGRATION_RUNTIME = Runtime.NODEJS_24_X;

/**
 * How every handler is bundled. `keepNames` guards the error contract: Step Functions matches on
 * error names, which are literals already (functions/errors.ts), and keepNames keeps the classes'
 * own names too, so a name the minifier would have shortened never reaches a `Retry`.
 */
export const MIGRATION_BUNDLING = {
  format: OutputFormat.ESM,
  target: 'node24',
  mainFields: ['module', 'main'],
  banner: REQUIRE_SHIM,
  minify: true,
  keepNames: true,
  sourceMap: true,
} as const satisfies BundlingOptions;

export interface MigrationFunctionProps {
  /** The step of the registry (functions/steps/index.ts) this function runs. */
  handler: StepName;
  environment: Record<string, string>;
  timeout: Duration;
  memorySize: number;
  logRetention: RetentionDays;
  vpc?: IVpc;
  vpcSubnets?: SubnetSelection;
  securityGroups?: ISecurityGroup[];
}

/**
 * One step's Lambda function with the project's shared defaults: Node 24 on arm64, an ESM bundle,
 * its own log group. Every function bundles the one entry file; `define` names its step in the
 * bundle, so a new step needs no entry file of its own.
 */
export class MigrationFunction extends NodejsFunction {
  readonly handlerName: StepName;

  constructor(scope: Construct, id: string, props: MigrationFunctionProps) {
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    super(scope, id, {
      entry: `${PROJECT_ROOT}functions/handlers/handler.ts`,
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: `${PROJECT_ROOT}package-lock.json`,
      handler: 'handler',
      runtime: MIGRATION_RUNTIME,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize,
      timeout: props.timeout,
      tracing: Tracing.ACTIVE,
      logGroup,
      environment: { NODE_OPTIONS: '--enable-source-maps', ...props.environment },
      vpc: props.vpc,
      vpcSubnets: props.vpc ? props.vpcSubnets : undefined,
      securityGroups: props.vpc ? props.securityGroups : undefined,
      bundling: {
        ...MIGRATION_BUNDLING,
        mainFields: [...MIGRATION_BUNDLING.mainFields],
        define: { MIGRATION_STEP: JSON.stringify(props.handler) },
      },
    });
    this.handlerName = props.handler;
  }
}
