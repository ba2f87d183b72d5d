// Construct tests of what tells operators a backup did not happen: the failure alarm and its topic, the
// metric methods, the dead-letter queue, and the role the schedules invoke the functions with.
import { Duration, aws_sns as sns } from 'aws-cdk-lib';
import { Annotations, Capture, Match } from 'aws-cdk-lib/assertions';
import { SnapshotPolicyProps } from '../../lib';
import { INVALID_PROPS, build } from '../support/stack';

describe('failure alarm', () => {
  test('is created by default over failed and unreached instances, function errors and the dead-letter queue', () => {
    const { stack, policy, template } = build();
    const metrics = new Capture();
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Threshold: 1,
      EvaluationPeriods: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      Metrics: metrics,
    });
    const byId = Object.fromEntries(metrics.asArray().map((m: any) => [m.Id, m]));
    expect(byId.expr_1.Expression).toBe('FILL(failed, 0) + FILL(notReached, 0) + FILL(snapshotErrors, 0) + FILL(cleanupErrors, 0) + FILL(dlq, 0)');
    const policyDims = [{ Name: 'PolicyId', Value: 'MyStack/Nightly' }, { Name: 'service', Value: 'cdk-snapshot-policy' }];
    for (const [id, name] of [['failed', 'InstancesFailed'], ['notReached', 'InstancesNotReached']]) {
      expect(byId[id].MetricStat.Metric).toEqual({ Namespace: 'SnapshotPolicy', MetricName: name, Dimensions: expect.arrayContaining(policyDims) });
      expect(byId[id].MetricStat.Stat).toBe('Sum');
      expect(byId[id].MetricStat.Period).toBe(3600);
    }
    expect(byId.snapshotErrors.MetricStat.Metric.Dimensions).toEqual([{ Name: 'FunctionName', Value: stack.resolve(policy.snapshotFunction.functionName) }]);
    expect(byId.cleanupErrors.MetricStat.Metric.Dimensions).toEqual([{ Name: 'FunctionName', Value: stack.resolve(policy.cleanupFunction.functionName) }]);
    expect(byId.dlq.MetricStat.Metric.MetricName).toBe('ApproximateNumberOfMessagesVisible');
    expect(policy.failureAlarm).toBeDefined();
  });

  test('is left out when failureAlarm is false', () => {
    const { policy, template } = build({ failureAlarm: false });
    template.resourceCountIs('AWS::CloudWatch::Alarm', 0);
    expect(policy.failureAlarm).toBeUndefined();
  });

  test('notifies the notification topic on ALARM and on OK', () => {
    const { stack, template } = build({}, (s) => ({ notificationTopic: new sns.Topic(s, 'Topic') }));
    const topic = stack.resolve((stack.node.findChild('Topic') as sns.Topic).topicArn);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { AlarmActions: [topic], OKActions: [topic] });
  });

  test('warns when a notification topic is given without the alarm', () => {
    const { stack } = build({ failureAlarm: false }, (s) => ({ notificationTopic: new sns.Topic(s, 'Topic') }));
    Annotations.fromStack(stack).hasWarning('/MyStack/Nightly', Match.stringLikeRegexp('notificationTopic is set but failureAlarm is false'));
  });
});

describe('metric methods', () => {
  test.each([
    ['metricSetsCreated', 'SetsCreated'],
    ['metricInstancesFailed', 'InstancesFailed'],
    ['metricInstancesNotReached', 'InstancesNotReached'],
    ['metricSetsDeleted', 'SetsDeleted'],
    ['metricDeletesSkipped', 'DeletesSkipped'],
    ['metricSnapshotsUnrecognized', 'SnapshotsUnrecognized'],
    ['metricInstancesUntagged', 'InstancesUntagged'],
  ] as const)('%s reads %s of this policy, summed hourly', (method, name) => {
    const { policy } = build({ policyName: 'db-nightly' });
    const metric = policy[method]();
    expect(metric.namespace).toBe('SnapshotPolicy');
    expect(metric.metricName).toBe(name);
    expect(metric.dimensions).toEqual({ service: 'cdk-snapshot-policy', PolicyId: 'db-nightly' });
    expect(metric.statistic).toBe('Sum');
    expect(metric.period.toSeconds()).toBe(3600);
  });

  test('options override the defaults', () => {
    const { policy } = build();
    const metric = policy.metricSetsCreated({ period: Duration.days(1), statistic: 'Maximum' });
    expect(metric.period.toSeconds()).toBe(86_400);
    expect(metric.statistic).toBe('Maximum');
  });
});

describe('recycle bin rule', () => {
  test('is absent by default', () => {
    const { policy, template } = build();
    template.resourceCountIs('AWS::Rbin::Rule', 0);
    expect(policy.recycleBinRule).toBeUndefined();
  });

  test('keeps deleted EBS snapshots that carry this policy\'s id for recycleBinRetention', () => {
    const { stack, policy, template } = build({ policyName: 'db-nightly', recycleBinRetention: Duration.days(14) });
    template.resourceCountIs('AWS::Rbin::Rule', 1);
    template.hasResourceProperties('AWS::Rbin::Rule', {
      ResourceType: 'EBS_SNAPSHOT',
      ResourceTags: [{ ResourceTagKey: 'snapshot-policy:id', ResourceTagValue: 'db-nightly' }],
      RetentionPeriod: { RetentionPeriodUnit: 'DAYS', RetentionPeriodValue: 14 },
      Description: 'Deleted snapshots of snapshot policy db-nightly',
    });
    expect(stack.resolve(policy.recycleBinRule!.ref)).toEqual({ Ref: expect.stringMatching(/^NightlyRecycleBinRule/) });
  });

  test.each([
    [Duration.hours(12), 'recycleBinRetention must be a whole number of days between 1 and 365, got 12 hours'],
    [Duration.days(366), 'recycleBinRetention must be a whole number of days between 1 and 365, got 366 days'],
    [Duration.hours(36), 'recycleBinRetention must be a whole number of days between 1 and 365, got 1 day 12 hours'],
  ])('refuses a recycleBinRetention of %s', (recycleBinRetention, message) => {
    expect(() => build({ recycleBinRetention })).toThrow(new Error(INVALID_PROPS + message));
  });

  test.each([Duration.days(1), Duration.days(365)])('accepts a recycleBinRetention of %s', (recycleBinRetention) => {
    expect(() => build({ recycleBinRetention })).not.toThrow();
  });
});

describe('tag protection statement', () => {
  test('denies setting or removing the policy\'s own snapshot tags except at creation, and leaves the hold tag alone', () => {
    const { stack, policy } = build();
    expect(stack.resolve(policy.tagProtectionStatement().toStatementJson())).toEqual({
      Sid: 'ProtectSnapshotPolicyTags',
      Effect: 'Deny',
      Action: ['ec2:CreateTags', 'ec2:DeleteTags'],
      Resource: 'arn:*:ec2:*::snapshot/*',
      Condition: {
        'ForAnyValue:StringEquals': { 'aws:TagKeys': ['snapshot-policy:id', 'snapshot-policy:instance-id', 'snapshot-policy:slot'] },
        'Null': { 'ec2:CreateAction': 'true' },
      },
    });
    // Nothing in the statement needs the stack: it can be pasted into a service control policy as it is.
    expect(JSON.stringify(policy.tagProtectionStatement().toStatementJson())).not.toMatch(/\$\{Token|Ref|Fn::/);
  });
});

describe('dead-letter queue', () => {
  test('is encrypted, refuses plain HTTP and keeps messages 14 days', () => {
    const { stack, policy, template } = build();
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MessageRetentionPeriod: 1_209_600 });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [stack.resolve(policy.deadLetterQueue.queueUrl)],
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({
          Effect: 'Deny', Action: 'sqs:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        })]),
      },
    });
  });

  test('receives schedule invocations that could not be delivered within an hour and two retries', () => {
    const { stack, policy, template } = build();
    const schedules = template.findResources('AWS::Scheduler::Schedule');
    expect(Object.keys(schedules)).toHaveLength(2);
    for (const s of Object.values(schedules)) {
      expect(s.Properties.Target.DeadLetterConfig).toEqual({ Arn: stack.resolve(policy.deadLetterQueue.queueArn) });
      expect(s.Properties.Target.RetryPolicy).toEqual({ MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 2 });
    }
  });
});

describe('scheduler role', () => {
  test('lives inside the construct, is assumable by EventBridge Scheduler for schedules of this account\'s default group only, and invokes only the two functions', () => {
    const { stack, policy, template } = build();
    const role = policy.node.findChild('SchedulerRole') as any;
    const roleArn = stack.resolve(role.roleArn);
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [{
          Action: 'sts:AssumeRole',
          Effect: 'Allow',
          Principal: { Service: 'scheduler.amazonaws.com' },
          Condition: {
            StringEquals: { 'aws:SourceAccount': '123456789012' },
            ArnLike: {
              'aws:SourceArn': { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':scheduler:eu-west-1:123456789012:schedule-group/default']] },
            },
          },
        }],
      },
    });
    const schedules = Object.values(template.findResources('AWS::Scheduler::Schedule'));
    for (const s of schedules) expect(s.Properties.Target.RoleArn).toEqual(roleArn);
    const statements = new Capture();
    template.hasResourceProperties('AWS::IAM::Policy', { Roles: [stack.resolve(role.roleName)], PolicyDocument: { Statement: statements } });
    const actions = statements.asArray().flatMap((st: any) => [st.Action].flat());
    expect(new Set(actions)).toEqual(new Set(['lambda:InvokeFunction', 'sqs:SendMessage']));
    const invokeResources = JSON.stringify(statements.asArray().filter((st: any) => st.Action === 'lambda:InvokeFunction'));
    expect(invokeResources).toContain(stack.resolve(policy.snapshotFunction.functionArn)['Fn::GetAtt'][0]);
    expect(invokeResources).toContain(stack.resolve(policy.cleanupFunction.functionArn)['Fn::GetAtt'][0]);
  });
});

describe('validation of the operations props', () => {
  const prefix = INVALID_PROPS;
  test.each([
    [{ timeout: Duration.millis(90_500) }, 'timeout must be a whole number of seconds, got 90500 milliseconds'],
    [{ orphanRetention: Duration.millis(86_400_500) }, 'orphanRetention must be a whole number of seconds, got 86400500 milliseconds'],
    [{ legalHoldTag: 'Hold', snapshotTags: { Hold: 'yes' } },
      'snapshotTags must not contain the legalHoldTag key "Hold": every set would be held and none ever deleted'],
  ])('rejects %j', (props, message) => {
    expect(() => build(props as Partial<SnapshotPolicyProps>)).toThrow(prefix + message);
  });
});
