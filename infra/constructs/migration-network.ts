import { Fn } from 'aws-cdk-lib';
import {
  type ISecurityGroup,
  type IVpc,
  SecurityGroup,
  Subnet,
  type SubnetSelection,
  Vpc,
} from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';

export interface MigrationNetworkProps {
  vpcId?: string;
  subnetIds: string[];
  securityGroupIds: string[];
}

/**
 * Where the functions run when the databases are private. Without a VPC id they run outside any VPC.
 * With subnet ids the VPC is referenced by attributes, so synth needs no AWS call; a VPC id alone
 * falls back to `Vpc.fromLookup`, which needs an account/region and credentials (or cached context).
 */
export class MigrationNetwork extends Construct {
  readonly vpc?: IVpc;
  readonly vpcSubnets?: SubnetSelection;
  readonly securityGroups?: ISecurityGroup[];

  constructor(scope: Construct, id: string, props: MigrationNetworkProps) {
    super(scope, id);
    if (!props.vpcId) return;
    this.vpc =
      props.subnetIds.length > 0
        ? // The functions take the subnets by id, so the VPC's zones are never read: an unresolved list will do.
          Vpc.fromVpcAttributes(this, 'Vpc', { vpcId: props.vpcId, availabilityZones: Fn.getAzs() })
        : Vpc.fromLookup(this, 'Vpc', { vpcId: props.vpcId });
    if (props.subnetIds.length > 0) {
      this.vpcSubnets = {
        subnets: props.subnetIds.map((subnetId, index) =>
          Subnet.fromSubnetId(this, `Subnet${index}`, subnetId),
        ),
      };
    }
    // One group for all functions, not one each: the database's ingress rule then names a single group.
    this.securityGroups =
      props.securityGroupIds.length > 0
        ? props.securityGroupIds.map((groupId, index) =>
            SecurityGroup.fromSecurityGroupId(this, `SecurityGroup${index}`, groupId),
          )
        : [
            new SecurityGroup(this, 'FunctionsSecurityGroup', {
              vpc: this.vpc,
              description:
                'BigMemory migration functions (outbound to the databases, S3, Secrets Manager, OpenAI)',
              allowAllOutbound: true,
            }),
          ];
  }
}
