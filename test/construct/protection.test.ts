// Construct tests of the protection status as operators see it: the metric methods of the clean-up's
// protection and duplicate counts, and the protection alarm beside the failure alarm.
import { Duration, aws_cloudwatch as cloudwatch, aws_scheduler as scheduler, aws_sns as sns } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { Orchestration, SnapshotPolicyProps } from '../../lib';
import { build, logicalIdOf } from '../support/stack';

const POLICY_DIMENSIONS = [{ Name: 'PolicyId', Value: 'MyStack/Nightly' }, { Name: 'service', Value: 'cdk-snapshot-policy' }];

/** The protection alarm's resource, found by its construct id. */
function protectionAlarmOf(built: ReturnType<typeof build>): { Properties: Record<string, any> } {
  const alarm = built.policy.node.tryFindChild('ProtectionAlarm') as cloudwatch.Alarm | undefined;
  expect(alarm).toBeDefined();
  return built.template.toJSON().Resources[logicalIdOf(built.stack, alarm!)];
}

describe('protection metric methods', () => {
  test.each([
    ['metricInstancesProtected', 'InstancesProtected', 'Maximum'],
    ['metricInstancesUnprotected', 'InstancesUnprotected', 'Maximum'],
    ['metricMaxLatestSetAge', 'MaxLatestSetAge', 'Maximum'],
    ['metricDuplicatesDeleted', 'DuplicatesDeleted', 'Sum'],
  ] as const)('%s reads %s of this policy, %s over an hour', (method, name, statistic) => {
    const { policy } = build({ policyName: 'db-nightly' });
    const metric = policy[method]();
    expect(metric.namespace).toBe('SnapshotPolicy');
    expect(metric.metricName).toBe(name);
    expect(metric.dimensions).toEqual({ service: 'cdk-snapshot-policy', PolicyId: 'db-nightly' });
    expect(metric.statistic).toBe(statistic);
    expect(metric.period.toSeconds()).toBe(3600);
  });

  test('options override the statistic and period of the readings', () => {
    const { policy } = build();
    const metric = policy.metricInstancesUnprotected({ statistic: 'Average', period: Duration.days(1) });
    expect(metric.statistic).toBe('Average');
    expect(metric.period.toSeconds()).toBe(86_400);
    expect(policy.metricMaxLatestSetAge({ label: 'age' }).statistic).toBe('Maximum');
  });
});

describe('protection alarm', () => {
  test('is created by default beside the failure alarm, on InstancesUnprotected above 0', () => {
    const built = build();
    const alarm = protectionAlarmOf(built);
    expect(alarm.Properties).toEqual(expect.objectContaining({
      Namespace: 'SnapshotPolicy',
      MetricName: 'InstancesUnprotected',
      Statistic: 'Maximum',
      Period: 3600,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      EvaluationPeriods: 1,
      // Published once per clean-up: a missing hour keeps the state instead of reporting OK.
      TreatMissingData: 'ignore',
    }));
    expect(alarm.Properties.Dimensions).toEqual(expect.arrayContaining(POLICY_DIMENSIONS));
    expect(alarm.Properties.Dimensions).toHaveLength(2);
    expect(alarm.Properties.AlarmDescription).toBe('Snapshot policy MyStack/Nightly: a tagged instance has no completed snapshot set younger ' +
      'than 2 days (the clean-up\'s log names each such instance)');
    expect(built.policy.protectionAlarm).toBe(built.policy.node.findChild('ProtectionAlarm'));
    expect(built.policy.failureAlarm).toBe(built.policy.node.findChild('FailureAlarm'));
    built.template.resourceCountIs('AWS::CloudWatch::Alarm', 2);
  });

  test('names the maxSetAge it checks in its description', () => {
    const alarm = protectionAlarmOf(build({ maxSetAge: Duration.hours(36) }));
    expect(alarm.Properties.AlarmDescription).toMatch(/younger than 1 day 12 hours /);
  });

  test('notifies the notification topic on ALARM and on OK, like the failure alarm', () => {
    const built = build({}, (s) => ({ notificationTopic: new sns.Topic(s, 'Topic') }));
    const topic = built.stack.resolve((built.stack.node.findChild('Topic') as sns.Topic).topicArn);
    const alarm = protectionAlarmOf(built);
    expect(alarm.Properties.AlarmActions).toEqual([topic]);
    expect(alarm.Properties.OKActions).toEqual([topic]);
    built.template.resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { AlarmActions: [topic], OKActions: [topic] }, 2);
  });

  test('has no actions without a topic', () => {
    const alarm = protectionAlarmOf(build());
    expect(alarm.Properties.AlarmActions).toBeUndefined();
    expect(alarm.Properties.OKActions).toBeUndefined();
  });

  test.each<[string, Partial<SnapshotPolicyProps>, boolean, boolean]>([
    ['failureAlarm false leaves both out', { failureAlarm: false }, false, false],
    ['protectionAlarm false leaves only it out', { protectionAlarm: false }, true, false],
    ['protectionAlarm true keeps it without the failure alarm', { failureAlarm: false, protectionAlarm: true }, false, true],
  ])('%s', (_name, props, failure, protection) => {
    const { policy, template } = build(props);
    expect(policy.failureAlarm !== undefined).toBe(failure);
    expect(policy.protectionAlarm !== undefined).toBe(protection);
    expect(policy.node.tryFindChild('ProtectionAlarm') !== undefined).toBe(protection);
    template.resourceCountIs('AWS::CloudWatch::Alarm', Number(failure) + Number(protection));
  });

  test('with only the protection alarm, a notification topic is used and no warning is given', () => {
    const built = build({ failureAlarm: false, protectionAlarm: true }, (s) => ({ notificationTopic: new sns.Topic(s, 'Topic') }));
    Annotations.fromStack(built.stack).hasNoWarning('*', Match.stringLikeRegexp('notificationTopic'));
    const topic = built.stack.resolve((built.stack.node.findChild('Topic') as sns.Topic).topicArn);
    expect(protectionAlarmOf(built).Properties.AlarmActions).toEqual([topic]);
  });

  test('warns about a notification topic when both alarms are off', () => {
    const { stack } = build({ failureAlarm: false, protectionAlarm: false }, (s) => ({ notificationTopic: new sns.Topic(s, 'Topic') }));
    Annotations.fromStack(stack).hasWarning('/MyStack/Nightly', Match.stringLikeRegexp(
      '^notificationTopic is set but failureAlarm is false \\(and so is protectionAlarm\\): nothing will notify the topic'));
  });

  test('stays a separate alarm with Orchestration.STEP_FUNCTIONS, whose failure alarm is at the 10-metric limit', () => {
    // A clean-up apart from the runs, as the orchestration's warning asks.
    const built = build({ orchestration: Orchestration.STEP_FUNCTIONS, cleanupSchedule: scheduler.ScheduleExpression.expression('cron(0 9 * * ? *)') });
    expect(protectionAlarmOf(built).Properties.MetricName).toBe('InstancesUnprotected');
    const failure = built.template.toJSON().Resources[logicalIdOf(built.stack, built.policy.failureAlarm as cloudwatch.Alarm)];
    expect(failure.Properties.Metrics).toHaveLength(11);
    expect(JSON.stringify(failure.Properties.Metrics)).not.toContain('InstancesUnprotected');
  });
});

