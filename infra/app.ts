// First: on an older Node this stops with one line naming the Node needed.
import '../scripts/require-node.cjs';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { MigrationStack } from './migration-stack.js';

const app = new App();
new MigrationStack(app, 'BigMemoryMigration', {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
