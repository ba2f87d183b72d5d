// The statements of the function roles: each may do only what its role needs, on the policy's own resources.
import { ArnFormat, Stack, aws_iam as iam, aws_s3 as s3 } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { Tag } from './contract';

/** Describe the fleet, snapshot the tagged instances' volumes into snapshots tagged with the policy id. */
export function grantSnapshot(scope: Construct, role: iam.IRole, policyId: string, instanceTags: { [key: string]: string }): void {
  const arn = (resource: string, account?: string) => ec2Arn(scope, resource, account);
  const snapshotArn = arn('snapshot', '');
  const statements = [
    new iam.PolicyStatement({
      sid: 'DescribeFleet',
      // Describe actions support no resource-level permissions. DescribeSnapshots finds the sets an
      // earlier invocation made for the same slot.
      actions: ['ec2:DescribeInstances', 'ec2:DescribeAvailabilityZones', 'ec2:DescribeVolumes', 'ec2:DescribeSnapshots'],
      resources: ['*'],
    }),
    new iam.PolicyStatement({
      sid: 'SnapshotTaggedInstances',
      actions: ['ec2:CreateSnapshots'],
      resources: [arn('instance')],
      conditions: { StringEquals: tagConditions('aws:ResourceTag', instanceTags) },
    }),
    new iam.PolicyStatement({
      sid: 'SnapshotTheirVolumes',
      actions: ['ec2:CreateSnapshots'],
      resources: [arn('volume')],
    }),
    new iam.PolicyStatement({
      sid: 'CreatePolicySnapshots',
      actions: ['ec2:CreateSnapshots'],
      resources: [snapshotArn],
      conditions: { StringEquals: { [`aws:RequestTag/${Tag.POLICY_ID}`]: policyId } },
    }),
    new iam.PolicyStatement({
      sid: 'TagSnapshotsOnCreate',
      actions: ['ec2:CreateTags'],
      resources: [snapshotArn],
      conditions: { StringEquals: { 'ec2:CreateAction': 'CreateSnapshots' } },
    }),
  ];
  statements.forEach((s) => role.addToPrincipalPolicy(s));
}

/**
 * List the policy's snapshots, their locks and the instances, and delete only snapshots tagged with the
 * policy id.
 */
export function grantCleanup(scope: Construct, role: iam.IRole, policyId: string): void {
  role.addToPrincipalPolicy(new iam.PolicyStatement({
    sid: 'DescribePolicySnapshots',
    // Describe actions support no resource-level permissions.
    actions: ['ec2:DescribeSnapshots', 'ec2:DescribeInstances', 'ec2:DescribeLockedSnapshots'],
    resources: ['*'],
  }));
  role.addToPrincipalPolicy(new iam.PolicyStatement({
    sid: 'DeletePolicySnapshotsOnly',
    actions: ['ec2:DeleteSnapshot'],
    resources: [ec2Arn(scope, 'snapshot', '')],
    conditions: { StringEquals: { [`aws:ResourceTag/${Tag.POLICY_ID}`]: policyId } },
  }));
}

/**
 * Read and write the plan objects under `prefix` only, by key: grantRead and grantPut would add List* and
 * GetBucket* on the bucket and object lock, tagging and abort actions that no function needs.
 */
export function grantPlans(role: iam.IRole, sid: string, bucket: s3.IBucket, prefix: string): void {
  role.addToPrincipalPolicy(new iam.PolicyStatement({
    sid, actions: ['s3:GetObject', 's3:PutObject'], resources: [bucket.arnForObjects(`${prefix}/*`)],
  }));
}

function ec2Arn(scope: Construct, resource: string, account?: string): string {
  return Stack.of(scope).formatArn({ service: 'ec2', resource, resourceName: '*', account, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
}

function tagConditions(prefix: string, tags: { [key: string]: string }): Record<string, string> {
  return Object.fromEntries(Object.entries(tags).map(([k, v]) => [`${prefix}/${k}`, v]));
}
