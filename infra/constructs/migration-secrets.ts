import { SecretValue, Validations } from 'aws-cdk-lib';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { InvalidInputError } from '../../functions/errors.js';
import { CONTEXT_PREFIX } from '../migration-config.js';

export interface MigrationSecretsProps {
  sourceDatabaseSecretArn?: string;
  targetDatabaseSecretArn?: string;
  openAiApiKeySecretArn?: string;
  /** Create the secrets a context ARN does not name, with placeholders to replace by hand. */
  createSecrets: boolean;
}

const PLACEHOLDER = 'REPLACE_ME';

// A complete secret ARN ends in the six characters Secrets Manager appends to the name.
const COMPLETE_ARN_SUFFIX = /-[A-Za-z0-9]{6}$/;

/**
 * The database URLs and the OpenAI key. Only their ARNs ever leave this construct (as environment
 * values); the functions read the values at run time with the grants the stack gives them.
 */
export class MigrationSecrets extends Construct {
  readonly sourceDatabase: ISecret;
  readonly targetDatabase: ISecret;
  readonly openAiApiKey: ISecret;

  constructor(scope: Construct, id: string, props: MigrationSecretsProps) {
    super(scope, id);
    this.sourceDatabase = this.secret(
      'SourceDatabaseUrl',
      'sourceDatabaseSecretArn',
      props,
      'BigMemory (source) PostgreSQL URL',
    );
    this.targetDatabase = this.secret(
      'TargetDatabaseUrl',
      'targetDatabaseSecretArn',
      props,
      'Federated Memory (target) PostgreSQL URL',
    );
    this.openAiApiKey = this.secret(
      'OpenAiApiKey',
      'openAiApiKeySecretArn',
      props,
      'OpenAI API key for regenerated embeddings',
    );
  }

  private secret(
    id: string,
    key: 'sourceDatabaseSecretArn' | 'targetDatabaseSecretArn' | 'openAiApiKeySecretArn',
    props: MigrationSecretsProps,
    description: string,
  ): ISecret {
    const arn = props[key];
    if (arn) {
      return COMPLETE_ARN_SUFFIX.test(arn)
        ? Secret.fromSecretCompleteArn(this, id, arn)
        : Secret.fromSecretPartialArn(this, id, arn);
    }
    if (!props.createSecrets) {
      throw new InvalidInputError(
        `Context ${CONTEXT_PREFIX}:${key} is missing: name an existing secret's ARN, or set ${CONTEXT_PREFIX}:createSecrets=true to create a placeholder`,
        { context: { key } },
      );
    }
    const secret = new Secret(this, id, {
      description: `${description}. Created with a placeholder: put the real value in by hand.`,
      // A placeholder, not a secret: the real value is typed into Secrets Manager after deploying.
      secretStringValue: SecretValue.unsafePlainText(PLACEHOLDER),
    });
    Validations.of(secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The value is a database URL or an API key owned by the database or OpenAI account; it is rotated there ' +
        'and pasted in, so a Secrets Manager rotation Lambda would have nothing to rotate.',
    });
    return secret;
  }
}
