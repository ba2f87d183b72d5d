// Construct tests of SnapshotPolicy: every default and prop as it appears in the template, the IAM that
// bounds what the functions may create and delete, the policy id, and the validation of the props.
import * as path from 'path';
import {
  App, CfnParameter, Duration, Lazy, Stack, Stage, TimeZone,
  aws_iam as iam, aws_lambda as lambda, aws_logs as logs, aws_s3_assets as s3assets,
  aws_scheduler as scheduler,
} from 'aws-cdk-lib';
import { Annotations, Capture, Match, Template } from 'aws-cdk-lib/assertions';
import { Construct } from 'constructs';
import { Retention, SnapshotDestination, SnapshotPolicy, SnapshotPolicyProps } from '../../lib';
import { allows, allStatements } from '../support/iam-statements';
import {
  Built, ENV, INSTANCE_TAGS, INVALID_PROPS, SNAPSHOT_ARN, build, child, ec2Arn, logicalIdOf, newStack,
} from '../support/stack';

const SNAPSHOT_FN_DESCRIPTION = 'Creates the snapshot sets of one run of the snapshot policy';
const CLEANUP_FN_DESCRIPTION = 'Deletes the snapshot sets that the snapshot policy no longer keeps';

function roleRef(stack: Stack, fn: lambda.IFunction): unknown {
  return stack.resolve(fn.role!.roleName);
}

function logGroupArn(stack: Stack, policy: SnapshotPolicy, childPath: string): unknown {
  return stack.resolve(child<logs.LogGroup>(policy, childPath).logGroupArn);
}

/** The statements of the one AWS::IAM::Policy attached to the role of `fn`. */
function statementsOfRole(built: Built, fn: lambda.IFunction): any[] {
  const statements = new Capture();
  built.template.hasResourceProperties('AWS::IAM::Policy', {
    Roles: [roleRef(built.stack, fn)],
    PolicyDocument: { Statement: statements },
  });
  return statements.asArray();
}

/** The Allow statements in the template that let anyone delete a snapshot. */
function deleteGrants(template: Template) {
  return allStatements(template).filter(({ statement }) => allows(statement, 'ec2:DeleteSnapshot'));
}

/** The env vars of both functions, which must be identical. */
function environmentOfBothFunctions(template: Template): Record<string, string> {
  const functions = Object.values(template.findResources('AWS::Lambda::Function'));
  expect(functions).toHaveLength(2);
  const [first, second] = functions.map((f) => f.Properties.Environment.Variables);
  expect(second).toEqual(first);
  return first;
}

function exactly(message: string): RegExp {
  return new RegExp(`^${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
}

describe('schedules', () => {
  test('runs snapshots and the clean-up every day at 03:00 UTC by default', () => {
    const { stack, policy, template } = build();
    for (const fn of [policy.snapshotFunction, policy.cleanupFunction]) {
      template.hasResourceProperties('AWS::Scheduler::Schedule', {
        ScheduleExpression: 'cron(0 3 * * ? *)',
        ScheduleExpressionTimezone: 'Etc/UTC',
        FlexibleTimeWindow: { Mode: 'OFF' },
        Target: { Arn: stack.resolve(fn.functionArn) },
      });
    }
  });

  test('runs the clean-up on the snapshot schedule by default', () => {
    const { template } = build({ schedule: scheduler.ScheduleExpression.expression('rate(6 hours)') });
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      Description: 'Retention clean-up of MyStack/Nightly',
      ScheduleExpression: 'rate(6 hours)',
    });
  });

  test('uses the schedule prop for snapshot runs', () => {
    const { template } = build({
      schedule: scheduler.ScheduleExpression.cron({ hour: '22', minute: '30', timeZone: TimeZone.EUROPE_LONDON }),
    });
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      Description: 'Snapshot runs of MyStack/Nightly',
      ScheduleExpression: 'cron(30 22 * * ? *)',
      ScheduleExpressionTimezone: 'Europe/London',
    });
  });

  test('uses the cleanupSchedule prop for the clean-up only', () => {
    const { template } = build({ cleanupSchedule: scheduler.ScheduleExpression.cron({ hour: '12', minute: '15' }) });
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      Description: 'Retention clean-up of MyStack/Nightly',
      ScheduleExpression: 'cron(15 12 * * ? *)',
    });
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      Description: 'Snapshot runs of MyStack/Nightly',
      ScheduleExpression: 'cron(0 3 * * ? *)',
    });
  });

  test('passes the scheduled time to both functions as the slot', () => {
    const { stack, policy, template } = build();
    for (const fn of [policy.snapshotFunction, policy.cleanupFunction]) {
      const input = new Capture();
      template.hasResourceProperties('AWS::Scheduler::Schedule', {
        Target: { Arn: stack.resolve(fn.functionArn), Input: input },
      });
      expect(JSON.parse(input.asString())).toEqual({ slot: '<aws.scheduler.scheduled-time>' });
    }
  });

  test('drops a run that is an hour late after two retries', () => {
    const { template } = build();
    const schedules = template.findResources('AWS::Scheduler::Schedule', {
      Properties: { Target: { RetryPolicy: { MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 2 } } },
    });
    expect(Object.keys(schedules)).toHaveLength(2);
  });

  test('enables both schedules by default', () => {
    const { template } = build();
    expect(Object.keys(template.findResources('AWS::Scheduler::Schedule', { Properties: { State: 'ENABLED' } }))).toHaveLength(2);
  });

  test('disables both schedules when enabled is false', () => {
    const { template } = build({ enabled: false });
    expect(Object.keys(template.findResources('AWS::Scheduler::Schedule', { Properties: { State: 'DISABLED' } }))).toHaveLength(2);
    expect(template.findResources('AWS::Scheduler::Schedule', { Properties: { State: 'ENABLED' } })).toEqual({});
  });
});

describe('function environment', () => {
  test('sets exactly these variables by default', () => {
    const { template } = build({ instanceTags: { backup: 'nightly', env: 'prod' } });
    expect(environmentOfBothFunctions(template)).toEqual({
      POLICY_ID: 'MyStack/Nightly',
      INSTANCE_TAGS: '{"backup":"nightly","env":"prod"}',
      EXCLUDE_BOOT_VOLUME: 'false',
      EXCLUDE_DATA_VOLUME_TAGS: '{}',
      COPY_VOLUME_TAGS: 'false',
      SNAPSHOT_TAGS: '{}',
      DESCRIPTION: 'Created by cdk-snapshot-policy MyStack/Nightly',
      LOCAL_ZONE_DESTINATION: 'PARENT_REGION',
      OUTPOST_DESTINATION: 'PARENT_REGION',
      DRY_RUN: 'false',
      RETENTION: '{"last":7}',
      TIME_ZONE: 'Etc/UTC',
      HOLD_TAG: 'snapshot-policy:hold',
      ORPHAN_RETENTION_SECONDS: '7776000',
      MAX_SET_AGE_SECONDS: '172800',
    });
  });

  test.each<[string, Partial<SnapshotPolicyProps>, string, string]>([
    ['instanceTags', { instanceTags: { 'backup': 'nightly', 'team:owner': 'db' } }, 'INSTANCE_TAGS', '{"backup":"nightly","team:owner":"db"}'],
    ['retention keepLast', { retention: Retention.keepLast(14) }, 'RETENTION', '{"last":14}'],
    ['retention maxAge', { retention: Retention.maxAge(Duration.days(30)) }, 'RETENTION', '{"withinSeconds":2592000}'],
    ['retention keep', { retention: Retention.keep({ hourly: 24, daily: 7, weekly: 4, monthly: 12, yearly: 3, within: Duration.hours(2) }) },
      'RETENTION', '{"hourly":24,"daily":7,"weekly":4,"monthly":12,"yearly":3,"withinSeconds":7200}'],
    ['schedule time zone', { schedule: scheduler.ScheduleExpression.cron({ hour: '3', minute: '0', timeZone: TimeZone.EUROPE_LONDON }) },
      'TIME_ZONE', 'Europe/London'],
    ['schedule expression time zone', { schedule: scheduler.ScheduleExpression.expression('cron(0 3 * * ? *)', TimeZone.ASIA_TOKYO) },
      'TIME_ZONE', 'Asia/Tokyo'],
    ['localZoneDestination', { localZoneDestination: SnapshotDestination.LOCAL }, 'LOCAL_ZONE_DESTINATION', 'LOCAL'],
    ['outpostDestination', { outpostDestination: SnapshotDestination.LOCAL }, 'OUTPOST_DESTINATION', 'LOCAL'],
    ['dryRun', { dryRun: true }, 'DRY_RUN', 'true'],
    ['copyVolumeTags', { copyVolumeTags: true }, 'COPY_VOLUME_TAGS', 'true'],
    ['excludeBootVolume', { excludeBootVolume: true }, 'EXCLUDE_BOOT_VOLUME', 'true'],
    ['excludeDataVolumeTags', { excludeDataVolumeTags: { scratch: 'true', tier: 'temp' } }, 'EXCLUDE_DATA_VOLUME_TAGS', '{"scratch":"true","tier":"temp"}'],
    ['snapshotTags', { snapshotTags: { 'cost-centre': '42', 'app': 'billing' } }, 'SNAPSHOT_TAGS', '{"cost-centre":"42","app":"billing"}'],
    ['description', { description: 'Nightly database backup' }, 'DESCRIPTION', 'Nightly database backup'],
    ['legalHoldTag', { legalHoldTag: 'legal:hold' }, 'HOLD_TAG', 'legal:hold'],
    ['orphanRetention', { orphanRetention: Duration.days(30) }, 'ORPHAN_RETENTION_SECONDS', '2592000'],
    ['policyName', { policyName: 'db-nightly' }, 'POLICY_ID', 'db-nightly'],
  ])('passes %s to both functions', (_name, props, variable, value) => {
    const { template } = build(props);
    expect(environmentOfBothFunctions(template)[variable]).toEqual(value);
  });

  test('writes the tag JSON so the handler reads back the same tags', () => {
    const instanceTags = { Name: 'db "primary"', path: 'a/b\\c', ünïcode: 'ja' };
    const { template } = build({ instanceTags });
    expect(JSON.parse(environmentOfBothFunctions(template).INSTANCE_TAGS)).toEqual(instanceTags);
  });

  test('names the policy id in the default snapshot description when policyName is set', () => {
    const { template } = build({ policyName: 'db-nightly' });
    expect(environmentOfBothFunctions(template).DESCRIPTION).toEqual('Created by cdk-snapshot-policy db-nightly');
  });

  test('passes an unresolved retention count through to RETENTION', () => {
    const stack = newStack();
    const keep = new CfnParameter(stack, 'Keep', { type: 'Number' });
    new SnapshotPolicy(stack, 'Nightly', { instanceTags: INSTANCE_TAGS, retention: Retention.keepLast(keep.valueAsNumber) });
    const retention = new Capture();
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { RETENTION: retention } },
    });
    expect(retention.asObject()).toEqual({ 'Fn::Join': ['', ['{"last":', { Ref: 'Keep' }, '}']] });
  });
});

describe('functions', () => {
  test('run Node.js 22 on arm64 with 512 MB', () => {
    const { template } = build();
    const functions = template.findResources('AWS::Lambda::Function', {
      Properties: { Runtime: 'nodejs22.x', Architectures: ['arm64'], MemorySize: 512 },
    });
    expect(Object.keys(functions)).toHaveLength(2);
  });

  test('run the snapshot-run and cleanup bundles, each function naming its own export', () => {
    const { stack, policy, template } = build();
    const hashOf = (bundle: string) =>
      new s3assets.Asset(newStack('Other'), 'Bundle', { path: path.join(__dirname, '..', '..', 'assets', bundle) }).assetHash;
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: SNAPSHOT_FN_DESCRIPTION,
      Role: stack.resolve(policy.snapshotFunction.role!.roleArn),
      Code: { S3Key: `${hashOf('snapshot-run')}.zip` },
      Handler: 'index.runSnapshots',
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: CLEANUP_FN_DESCRIPTION,
      Role: stack.resolve(policy.cleanupFunction.role!.roleArn),
      Code: { S3Key: `${hashOf('cleanup')}.zip` },
      Handler: 'index.runCleanup',
    });
  });

  test('time out after 15 minutes by default', () => {
    const { template } = build();
    expect(Object.keys(template.findResources('AWS::Lambda::Function', { Properties: { Timeout: 900 } }))).toHaveLength(2);
  });

  test('use the timeout prop', () => {
    const { template } = build({ timeout: Duration.minutes(5) });
    expect(Object.keys(template.findResources('AWS::Lambda::Function', { Properties: { Timeout: 300 } }))).toHaveLength(2);
  });

  test('are retried twice by Lambda within an hour, then go to the dead-letter queue', () => {
    const { stack, policy, template } = build();
    for (const fn of [policy.snapshotFunction, policy.cleanupFunction]) {
      template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
        FunctionName: stack.resolve(fn.functionName),
        Qualifier: '$LATEST',
        MaximumRetryAttempts: 2,
        MaximumEventAgeInSeconds: 3600,
      });
      template.hasResourceProperties('AWS::Lambda::Function', {
        FunctionName: Match.absent(),
        Role: stack.resolve((fn.role as any).roleArn),
        DeadLetterConfig: { TargetArn: stack.resolve(policy.deadLetterQueue.queueArn) },
      });
    }
  });

  test('log to their own log group, kept 90 days by default', () => {
    const { stack, policy, template } = build();
    template.resourceCountIs('AWS::Logs::LogGroup', 2);
    template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
    for (const [fn, logGroupId] of [[policy.snapshotFunction, 'SnapshotFunction/Logs'], [policy.cleanupFunction, 'CleanupFunction/Logs']] as const) {
      template.hasResourceProperties('AWS::Lambda::Function', {
        FunctionName: Match.absent(),
        Role: stack.resolve(fn.role!.roleArn),
        LoggingConfig: { LogGroup: { Ref: logicalIdOf(stack, child(policy, logGroupId)) } },
      });
    }
  });

  test('keep logs as long as the logRetention prop says', () => {
    const { template } = build({ logRetention: logs.RetentionDays.ONE_YEAR });
    template.resourceCountIs('AWS::Logs::LogGroup', 2);
    template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 365 });
  });
});

describe('snapshot role', () => {
  test('may describe the fleet, snapshot tagged instances into policy-tagged snapshots, and log', () => {
    const built = build({ instanceTags: { backup: 'nightly', env: 'prod', team: 'db' } });
    const { stack, policy } = built;
    const statements = statementsOfRole(built, policy.snapshotFunction);
    expect(statements).toHaveLength(7);
    expect(statements).toEqual(expect.arrayContaining([
      {
        Sid: 'DescribeFleet',
        Effect: 'Allow',
        Action: ['ec2:DescribeInstances', 'ec2:DescribeAvailabilityZones', 'ec2:DescribeVolumes', 'ec2:DescribeSnapshots'],
        Resource: '*',
      },
      {
        Sid: 'SnapshotTaggedInstances',
        Effect: 'Allow',
        Action: 'ec2:CreateSnapshots',
        Resource: ec2Arn('eu-west-1:123456789012:instance/*'),
        Condition: {
          StringEquals: { 'aws:ResourceTag/backup': 'nightly', 'aws:ResourceTag/env': 'prod', 'aws:ResourceTag/team': 'db' },
        },
      },
      {
        Sid: 'SnapshotTheirVolumes',
        Effect: 'Allow',
        Action: 'ec2:CreateSnapshots',
        Resource: ec2Arn('eu-west-1:123456789012:volume/*'),
      },
      {
        Sid: 'CreatePolicySnapshots',
        Effect: 'Allow',
        Action: 'ec2:CreateSnapshots',
        Resource: SNAPSHOT_ARN,
        Condition: { StringEquals: { 'aws:RequestTag/snapshot-policy:id': 'MyStack/Nightly' } },
      },
      {
        Sid: 'TagSnapshotsOnCreate',
        Effect: 'Allow',
        Action: 'ec2:CreateTags',
        Resource: SNAPSHOT_ARN,
        Condition: { StringEquals: { 'ec2:CreateAction': 'CreateSnapshots' } },
      },
      {
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: logGroupArn(stack, policy, 'SnapshotFunction/Logs'),
      },
      {
        Effect: 'Allow',
        Action: 'sqs:SendMessage',
        Resource: stack.resolve(policy.deadLetterQueue.queueArn),
      },
    ]));
  });

  test('is assumable by Lambda only and has no other policy', () => {
    const { stack, policy, template } = build();
    template.hasResource('AWS::IAM::Role', {
      Properties: {
        AssumeRolePolicyDocument: {
          Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } }],
        },
        Policies: Match.absent(),
        ManagedPolicyArns: Match.absent(),
      },
    });
    const attached = template.findResources('AWS::IAM::Policy', { Properties: { Roles: Match.arrayWith([roleRef(stack, policy.snapshotFunction)]) } });
    expect(Object.keys(attached)).toHaveLength(1);
  });
});

describe('cleanup role', () => {
  test('may list snapshots and instances, delete only snapshots tagged with the policy id, and log', () => {
    const built = build();
    const { stack, policy } = built;
    const statements = statementsOfRole(built, policy.cleanupFunction);
    expect(statements).toHaveLength(4);
    expect(statements).toEqual(expect.arrayContaining([
      {
        Sid: 'DescribePolicySnapshots',
        Effect: 'Allow',
        Action: ['ec2:DescribeSnapshots', 'ec2:DescribeInstances', 'ec2:DescribeLockedSnapshots'],
        Resource: '*',
      },
      {
        Sid: 'DeletePolicySnapshotsOnly',
        Effect: 'Allow',
        Action: 'ec2:DeleteSnapshot',
        Resource: SNAPSHOT_ARN,
        Condition: { StringEquals: { 'aws:ResourceTag/snapshot-policy:id': 'MyStack/Nightly' } },
      },
      {
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: logGroupArn(stack, policy, 'CleanupFunction/Logs'),
      },
      {
        Effect: 'Allow',
        Action: 'sqs:SendMessage',
        Resource: stack.resolve(policy.deadLetterQueue.queueArn),
      },
    ]));
  });

  test('has no other policy', () => {
    const { stack, policy, template } = build();
    const attached = template.findResources('AWS::IAM::Policy', { Properties: { Roles: Match.arrayWith([roleRef(stack, policy.cleanupFunction)]) } });
    expect(Object.keys(attached)).toHaveLength(1);
  });
});

describe('delete permissions across the template', () => {
  test('no statement in any policy allows DeleteSnapshot except the one scoped to this policy id', () => {
    const { stack, policy, template } = build({ policyName: 'db-nightly' });
    const cleanupPolicy = Object.keys(template.findResources('AWS::IAM::Policy', {
      Properties: { Roles: [roleRef(stack, policy.cleanupFunction)] },
    }));
    expect(allStatements(template).length).toBeGreaterThan(0);
    expect(deleteGrants(template)).toEqual([{
      policy: cleanupPolicy[0],
      statement: {
        Sid: 'DeletePolicySnapshotsOnly',
        Effect: 'Allow',
        Action: 'ec2:DeleteSnapshot',
        Resource: SNAPSHOT_ARN,
        Condition: { StringEquals: { 'aws:ResourceTag/snapshot-policy:id': 'db-nightly' } },
      },
    }]);
  });

  test('no statement in any policy allows every action or every EC2 action', () => {
    const { template } = build();
    const wildcards = allStatements(template).filter(({ statement }) =>
      allows(statement, 'ec2:SomeActionNobodyGrants') || allows(statement, 'iam:PassRole'));
    expect(wildcards).toEqual([]);
  });

  test('the delete check catches a wildcard grant added beside the policy', () => {
    const stack = newStack();
    const policy = new SnapshotPolicy(stack, 'Nightly', { instanceTags: INSTANCE_TAGS });
    policy.cleanupFunction.addToRolePolicy(new iam.PolicyStatement({ actions: ['ec2:Delete*'], resources: ['*'] }));
    const grants = deleteGrants(Template.fromStack(stack));
    expect(grants.map(({ statement }) => statement.Action)).toEqual(['ec2:DeleteSnapshot', 'ec2:Delete*']);
  });

  test('two policies in a stack may each delete only their own snapshots', () => {
    const stack = newStack();
    const nightly = new SnapshotPolicy(stack, 'Nightly', { instanceTags: { backup: 'nightly' } });
    const hourly = new SnapshotPolicy(stack, 'Hourly', { instanceTags: { backup: 'hourly' } });
    const template = Template.fromStack(stack);
    const grants = deleteGrants(template);
    expect(grants).toHaveLength(2);
    for (const p of [nightly, hourly]) {
      template.hasResourceProperties('AWS::IAM::Policy', {
        Roles: [roleRef(stack, p.cleanupFunction)],
        PolicyDocument: {
          Statement: Match.arrayWith([Match.objectLike({
            Action: 'ec2:DeleteSnapshot',
            Condition: { StringEquals: { 'aws:ResourceTag/snapshot-policy:id': p.policyId } },
          })]),
        },
      });
    }
    expect(grants.map(({ statement }) => statement.Condition.StringEquals['aws:ResourceTag/snapshot-policy:id']).sort())
      .toEqual(['MyStack/Hourly', 'MyStack/Nightly']);
  });

  test('no role has a managed policy, AWSLambdaBasicExecutionRole included', () => {
    const { template } = build();
    template.resourceCountIs('AWS::IAM::ManagedPolicy', 0);
    template.allResourcesProperties('AWS::IAM::Role', { ManagedPolicyArns: Match.absent() });
    expect(JSON.stringify(template.toJSON())).not.toContain('AWSLambdaBasicExecutionRole');
  });
});

describe('policy id', () => {
  test('defaults to the stack name and the construct path', () => {
    const { policy } = build();
    expect(policy.policyId).toEqual('MyStack/Nightly');
  });

  test('includes the scopes between the stack and the policy', () => {
    const stack = newStack();
    const policy = new SnapshotPolicy(new Construct(stack, 'Backups'), 'Nightly', { instanceTags: INSTANCE_TAGS });
    expect(policy.policyId).toEqual('MyStack/Backups/Nightly');
  });

  test('uses the deployed stack name, not the construct id of the stack', () => {
    const stack = new Stack(new App(), 'MyStack', { env: ENV, stackName: 'db-backups' });
    const policy = new SnapshotPolicy(stack, 'Nightly', { instanceTags: INSTANCE_TAGS });
    expect(policy.policyId).toEqual('db-backups/Nightly');
  });

  test('uses the stage-qualified stack name inside a stage', () => {
    const stack = new Stack(new Stage(new App(), 'Prod'), 'Api', { env: ENV });
    const policy = new SnapshotPolicy(stack, 'Nightly', { instanceTags: INSTANCE_TAGS });
    expect(policy.policyId).toEqual('Prod-Api/Nightly');
  });

  test('replaces characters a tag value may not hold', () => {
    const stack = newStack();
    const policy = new SnapshotPolicy(stack, 'Nightly#1 (db)', { instanceTags: INSTANCE_TAGS });
    expect(policy.policyId).toEqual('MyStack/Nightly-1 -db-');
  });

  test('stays a valid, distinct tag value for long construct paths', () => {
    const stack = newStack();
    const deep = new Construct(stack, 'A'.repeat(100));
    const a = new SnapshotPolicy(deep, `${'B'.repeat(40)}1`, { instanceTags: INSTANCE_TAGS });
    const b = new SnapshotPolicy(deep, `${'B'.repeat(40)}2`, { instanceTags: INSTANCE_TAGS });
    for (const p of [a, b]) {
      expect(p.policyId.length).toBeLessThanOrEqual(128);
      expect(p.policyId).toMatch(/^[A-Za-z0-9 _.:/=+\-@]{1,128}$/);
      expect(p.policyId.startsWith(`MyStack/${'A'.repeat(100)}`)).toBe(true);
    }
    expect(a.policyId).not.toEqual(b.policyId);
  });

  test('is the policyName prop when given, in the IAM conditions of both roles', () => {
    const built = build({ policyName: 'db-nightly' });
    expect(built.policy.policyId).toEqual('db-nightly');
    expect(statementsOfRole(built, built.policy.snapshotFunction)).toContainEqual(expect.objectContaining({
      Sid: 'CreatePolicySnapshots',
      Condition: { StringEquals: { 'aws:RequestTag/snapshot-policy:id': 'db-nightly' } },
    }));
    expect(statementsOfRole(built, built.policy.cleanupFunction)).toContainEqual(expect.objectContaining({
      Sid: 'DeletePolicySnapshotsOnly',
      Condition: { StringEquals: { 'aws:ResourceTag/snapshot-policy:id': 'db-nightly' } },
    }));
  });
});

describe('dryRun', () => {
  test('warns that nothing will be created or deleted', () => {
    const { stack } = build({ dryRun: true });
    Annotations.fromStack(stack).hasWarning('/MyStack/Nightly', Match.stringLikeRegexp('^dryRun is true: runs check permissions and log their plans, but create and delete nothing'));
  });

  test('does not warn when off', () => {
    const { stack } = build();
    Annotations.fromStack(stack).hasNoWarning('*', Match.anyValue());
  });
});

describe('public properties', () => {
  test('expose the functions and schedules that the template deploys', () => {
    const { stack, policy, template } = build();
    const resourceWith = (type: string, props: object) => {
      const found = Object.keys(template.findResources(type, { Properties: props }));
      expect(found).toHaveLength(1);
      return { Ref: found[0] };
    };
    expect(stack.resolve(policy.snapshotFunction.functionName))
      .toEqual(resourceWith('AWS::Lambda::Function', { Description: SNAPSHOT_FN_DESCRIPTION }));
    expect(stack.resolve(policy.cleanupFunction.functionName))
      .toEqual(resourceWith('AWS::Lambda::Function', { Description: CLEANUP_FN_DESCRIPTION }));
    expect(stack.resolve(policy.schedule.scheduleName))
      .toEqual(resourceWith('AWS::Scheduler::Schedule', { Description: 'Snapshot runs of MyStack/Nightly' }));
    expect(stack.resolve(policy.cleanupSchedule.scheduleName))
      .toEqual(resourceWith('AWS::Scheduler::Schedule', { Description: 'Retention clean-up of MyStack/Nightly' }));
    expect(policy.policyId).toEqual('MyStack/Nightly');
  });

  test('deploy exactly these resources', () => {
    const { template } = build();
    const counts: Record<string, number> = {};
    for (const r of Object.values(template.toJSON().Resources as Record<string, { Type: string }>)) {
      counts[r.Type] = (counts[r.Type] ?? 0) + 1;
    }
    expect(counts).toEqual({
      'AWS::IAM::Role': 3, // two function roles, one scheduler role inside the construct
      'AWS::IAM::Policy': 3,
      'AWS::Lambda::Function': 2,
      'AWS::Lambda::EventInvokeConfig': 2,
      'AWS::Logs::LogGroup': 2,
      'AWS::Scheduler::Schedule': 2,
      'AWS::SQS::Queue': 1,
      'AWS::SQS::QueuePolicy': 1,
      'AWS::CloudWatch::Alarm': 2, // the failure alarm and the protection alarm
    });
  });
});

describe('validation', () => {
  const tags = (n: number, prefix = 'k') => Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, 'v']));
  const prefix = INVALID_PROPS;

  test.each<[string, Partial<SnapshotPolicyProps>, string]>([
    ['empty instanceTags', { instanceTags: {} }, 'instanceTags must have at least 1 tag, got 0'],
    ['more than 50 instanceTags', { instanceTags: tags(51) }, 'instanceTags must have at most 50 tags, got 51'],
    ['an instanceTags key starting with aws:', { instanceTags: { 'aws:cloudformation:stack-name': 'x' } },
      'instanceTags key must not start with "aws:", got "aws:cloudformation:stack-name"'],
    ['an instanceTags key starting with AWS: in any case', { instanceTags: { 'AWS:owner': 'x' } },
      'instanceTags key must not start with "aws:", got "AWS:owner"'],
    ['an instanceTags key longer than 128 characters', { instanceTags: { ['k'.repeat(129)]: 'x' } },
      `instanceTags key must be 1 to 128 characters, got "${'k'.repeat(129)}"`],
    ['an instanceTags value longer than 256 characters', { instanceTags: { backup: 'v'.repeat(257) } },
      `instanceTags value of "backup" must be a string of at most 256 characters, got "${'v'.repeat(257)}"`],
    ['an excludeDataVolumeTags key starting with aws:', { excludeDataVolumeTags: { 'aws:x': 'y' } },
      'excludeDataVolumeTags key must not start with "aws:", got "aws:x"'],
    ['retention keepLast(0)', { retention: Retention.keepLast(0) }, 'retention keepLast must be a whole number between 1 and 1000, got 0'],
    ['retention keepLast(1001)', { retention: Retention.keepLast(1001) }, 'retention keepLast must be a whole number between 1 and 1000, got 1001'],
    ['retention keepLast(2.5)', { retention: Retention.keepLast(2.5) }, 'retention keepLast must be a whole number between 1 and 1000, got 2.5'],
    ['retention maxAge of 12 hours', { retention: Retention.maxAge(Duration.hours(12)) }, 'retention maxAge must be at least 1 day, got 12 hours'],
    ['retention keep with no rules', { retention: Retention.keep({}) }, 'retention keep must set at least one rule'],
    ['retention keep with daily 0', { retention: Retention.keep({ daily: 0 }) }, 'retention daily must be a whole number between 1 and 1000, got 0'],
    ['retention keep within 30 minutes', { retention: Retention.keep({ within: Duration.minutes(30) }) },
      'retention within must be at least 1 hour, got 30 minutes'],
    ['48 snapshotTags', { snapshotTags: tags(48) }, 'snapshotTags must have at most 47 tags, got 48'],
    ['a snapshotTags key starting with snapshot-policy:', { snapshotTags: { 'snapshot-policy:id': 'other' } },
      'snapshotTags key must not start with "snapshot-policy:" (the policy\'s own tags), got "snapshot-policy:id"'],
    // EC2's 255 characters less the 72 the set marker takes.
    ['a description of 184 characters', { description: 'd'.repeat(184) }, 'description must be at most 183 characters, got 184'],
    ['a policyName with a character a tag value may not hold', { policyName: 'nightly#1' },
      'policyName must be 1 to 128 letters, digits, spaces or _.:/=+-@, got "nightly#1"'],
    ['an empty policyName', { policyName: '' }, 'policyName must be 1 to 128 letters, digits, spaces or _.:/=+-@, got ""'],
    ['a policyName of 129 characters', { policyName: 'p'.repeat(129) },
      `policyName must be 1 to 128 letters, digits, spaces or _.:/=+-@, got "${'p'.repeat(129)}"`],
    ['a legalHoldTag starting with aws:', { legalHoldTag: 'aws:hold' },
      'legalHoldTag must be a tag key of 1 to 128 characters not starting with "aws:", got "aws:hold"'],
    ['a timeout of 30 seconds', { timeout: Duration.seconds(30) }, 'timeout must be between 1 minute and 15 minutes, got 30 seconds'],
    ['a timeout of 16 minutes', { timeout: Duration.minutes(16) }, 'timeout must be between 1 minute and 15 minutes, got 16 minutes'],
    ['an orphanRetention of 23 hours', { orphanRetention: Duration.hours(23) }, 'orphanRetention must be at least 1 day, got 23 hours'],
  ])('rejects %s', (_name, props, message) => {
    const stack = newStack();
    expect(() => new SnapshotPolicy(stack, 'Nightly', { instanceTags: INSTANCE_TAGS, ...props })).toThrow(exactly(prefix + message));
  });

  test.each<[string, Partial<SnapshotPolicyProps>]>([
    ['47 snapshotTags', { snapshotTags: tags(47) }],
    ['a description of 183 characters', { description: 'd'.repeat(183) }],
    ['a policyName of 128 characters', { policyName: 'p'.repeat(128) }],
    ['retention keepLast(1) and keepLast(1000)', { retention: Retention.keep({ last: 1, daily: 1000 }) }],
    ['a retention maxAge of 1 day', { retention: Retention.maxAge(Duration.days(1)) }],
    ['a timeout of 1 minute', { timeout: Duration.minutes(1) }],
    ['a timeout of 15 minutes', { timeout: Duration.minutes(15) }],
    ['an orphanRetention of 1 day', { orphanRetention: Duration.days(1) }],
  ])('accepts the boundary value %s', (_name, props) => {
    const stack = newStack();
    expect(() => new SnapshotPolicy(stack, 'Nightly', { instanceTags: INSTANCE_TAGS, ...props })).not.toThrow();
  });

  test('lists every problem in one error', () => {
    const stack = newStack();
    expect(() => new SnapshotPolicy(stack, 'Nightly', {
      instanceTags: {},
      snapshotTags: { 'snapshot-policy:slot': 'x' },
      description: 'd'.repeat(300),
      timeout: Duration.minutes(20),
      orphanRetention: Duration.hours(1),
      retention: Retention.keepLast(0),
    })).toThrow(exactly(prefix + [
      'instanceTags must have at least 1 tag, got 0',
      'snapshotTags key must not start with "snapshot-policy:" (the policy\'s own tags), got "snapshot-policy:slot"',
      'description must be at most 183 characters, got 300',
      'timeout must be between 1 minute and 15 minutes, got 20 minutes',
      'orphanRetention must be at least 1 day, got 1 hour',
      'retention keepLast must be a whole number between 1 and 1000, got 0',
    ].join('; ')));
  });

  test('names the construct path of a nested policy in the error', () => {
    const stack = newStack();
    expect(() => new SnapshotPolicy(new Construct(stack, 'Backups'), 'Nightly', { instanceTags: {} }))
      .toThrow(exactly('invalid SnapshotPolicy props at MyStack/Backups/Nightly: instanceTags must have at least 1 tag, got 0'));
  });

  test('skips a description that holds an unresolved token and passes it through', () => {
    const stack = newStack();
    // Longer than 183 characters as written, so only the token skip lets it through.
    const description = `${'d'.repeat(178)}${Lazy.string({ produce: () => 'e'.repeat(5) })}`;
    expect(() => new SnapshotPolicy(stack, 'Nightly', { instanceTags: INSTANCE_TAGS, description })).not.toThrow();
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { DESCRIPTION: `${'d'.repeat(178)}eeeee` } },
    });
  });

  test.each<[string, (stack: Stack) => Partial<SnapshotPolicyProps>]>([
    ['policyName', (s) => ({ policyName: new CfnParameter(s, 'Name').valueAsString })],
    ['an instanceTags value', (s) => ({ instanceTags: { backup: `${'v'.repeat(250)}${new CfnParameter(s, 'Tag').valueAsString}` } })],
    ['a retention count', (s) => ({ retention: Retention.keepLast(new CfnParameter(s, 'Keep', { type: 'Number' }).valueAsNumber) })],
    ['a timeout', (s) => ({ timeout: Duration.seconds(new CfnParameter(s, 'Timeout', { type: 'Number' }).valueAsNumber) })],
    ['an orphanRetention', (s) => ({ orphanRetention: Duration.seconds(new CfnParameter(s, 'Orphans', { type: 'Number' }).valueAsNumber) })],
  ])('skips the check of %s that is an unresolved token', (_name, props) => {
    const stack = newStack();
    expect(() => new SnapshotPolicy(stack, 'Nightly', { instanceTags: INSTANCE_TAGS, ...props(stack) })).not.toThrow();
  });
});
