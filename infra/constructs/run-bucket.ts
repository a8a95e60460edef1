import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

/** Key prefixes the lifecycle rules expire; the handlers write every run under `runs/<runId>/`. */
const RUN_PREFIX = 'runs/';
export const MAP_RESULTS_PREFIX = 'map-results/';

export interface RunBucketProps {
  runRetentionDays: number;
  /** Delete the bucket and its objects with the stack (dev only); by default runs outlive the stack. */
  destroyWithStack: boolean;
}

/** The bucket a run writes its plan, decisions, reports and Distributed Map results to. */
export class RunBucket extends Construct {
  readonly bucket: Bucket;

  constructor(scope: Construct, id: string, props: RunBucketProps) {
    super(scope, id);
    this.bucket = new Bucket(this, 'Bucket', {
      // S3-managed keys rather than KMS: Step Functions' ItemReader/ResultWriter and LocalStack need no key policy.
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      versioned: true,
      removalPolicy: props.destroyWithStack ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
      autoDeleteObjects: props.destroyWithStack,
      lifecycleRules: [
        { id: 'ExpireOldRuns', prefix: RUN_PREFIX, expiration: Duration.days(props.runRetentionDays) },
        { id: 'ExpireMapResults', prefix: MAP_RESULTS_PREFIX, expiration: Duration.days(30) },
        { id: 'ExpireNoncurrentVersions', noncurrentVersionExpiration: Duration.days(30) },
        { id: 'AbortIncompleteUploads', abortIncompleteMultipartUploadAfter: Duration.days(7) },
      ],
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'The run bucket is written only by this stack’s functions and state machine; object-level auditing ' +
        'belongs to CloudTrail data events of the account rather than a second access-log bucket per stack.',
    });
  }
}
