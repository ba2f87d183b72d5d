// Construct tests of maxSetAge: its default for rate, cron (daily, weekdays only, monthly, in a time zone
// across daylight saving time), at() and Token schedules, as MAX_SET_AGE_SECONDS of both functions; the prop
// itself; and its checks.
import { CfnParameter, Duration, Lazy, Stack, TimeZone, aws_scheduler as scheduler } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Orchestration, SnapshotPolicy, SnapshotPolicyProps } from '../../lib';
import { INSTANCE_TAGS, INVALID_PROPS, build, newStack } from '../support/stack';

const HOUR = 3_600;
const DAY = 24 * HOUR;
const expression = scheduler.ScheduleExpression.expression;

function exactly(message: string): RegExp {
  return new RegExp(`^${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
}

/** MAX_SET_AGE_SECONDS of every function in the template, which must all agree. */
function maxSetAgeOf(template: Template): string {
  const values = Object.values(template.findResources('AWS::Lambda::Function'))
    .map((fn) => fn.Properties.Environment.Variables.MAX_SET_AGE_SECONDS);
  expect(values.length).toBeGreaterThanOrEqual(2);
  expect(new Set(values.map((v) => JSON.stringify(v))).size).toBe(1);
  return values[0];
}

describe('maxSetAge default', () => {
  test.each<[string, scheduler.ScheduleExpression | undefined, number]>([
    ['the default schedule, daily at 03:00 UTC', undefined, 2 * DAY],
    ['rate(6 hours)', expression('rate(6 hours)'), 12 * HOUR],
    ['rate(3 days)', expression('rate(3 days)'), 6 * DAY],
    ['rate(10 minutes), raised to the 1 hour floor', expression('rate(10 minutes)'), HOUR],
    ['a daily cron', scheduler.ScheduleExpression.cron({ hour: '22', minute: '30' }), 2 * DAY],
    // Friday to Monday is 3 days.
    ['cron(0 3 ? * MON-FRI *), weekdays only', expression('cron(0 3 ? * MON-FRI *)'), 6 * DAY],
    // The longest month has 31 days.
    ['cron(0 3 1 * ? *), monthly', expression('cron(0 3 1 * ? *)'), 62 * DAY],
    // 25 hours across the autumn change back to GMT.
    ['a daily cron at 03:00 in Europe/London', scheduler.ScheduleExpression.cron({ hour: '3', minute: '0', timeZone: TimeZone.EUROPE_LONDON }), 50 * HOUR],
    // 01:30 does not exist on the spring change: that run is skipped, 47 hours between runs.
    ['a daily cron at 01:30 in Europe/London', expression('cron(30 1 * * ? *)', TimeZone.EUROPE_LONDON), 94 * HOUR],
    ['a one-time at() schedule', expression('at(2099-01-01T03:00:00)'), 2 * DAY],
    ['cron(0 3 29 2 ? 2099), which does not run this year or the next', expression('cron(0 3 29 2 ? 2099)'), 2 * DAY],
  ])('for %s', (_name, schedule, seconds) => {
    const { template } = build({ schedule });
    expect(maxSetAgeOf(template)).toEqual(String(seconds));
  });

  test('is 2 days for a schedule expression that is a token', () => {
    const { template } = build({}, (s) => ({ schedule: expression(new CfnParameter(s, 'Schedule').valueAsString) }));
    expect(maxSetAgeOf(template)).toEqual(String(2 * DAY));
  });

  test('is 2 days for a cron schedule whose time zone is a token', () => {
    const { template } = build({
      schedule: expression('cron(0 3 ? * MON-FRI *)', TimeZone.of(Lazy.string({ produce: () => 'Europe/London' }))),
    });
    expect(maxSetAgeOf(template)).toEqual(String(2 * DAY));
  });

  test('follows schedule, not cleanupSchedule', () => {
    const { template } = build({ schedule: expression('rate(12 hours)'), cleanupSchedule: expression('rate(7 days)') });
    expect(maxSetAgeOf(template)).toEqual(String(DAY));
  });

  test('is exposed as policy.maxSetAge', () => {
    const { policy } = build({ schedule: expression('cron(0 3 ? * MON-FRI *)') });
    expect(policy.maxSetAge.toSeconds()).toBe(6 * DAY);
  });

  test('reaches every function with Orchestration.STEP_FUNCTIONS, the starter included', () => {
    const { template } = build({ orchestration: Orchestration.STEP_FUNCTIONS, cleanupSchedule: expression('rate(1 day)') });
    expect(Object.keys(template.findResources('AWS::Lambda::Function'))).toHaveLength(3);
    expect(maxSetAgeOf(template)).toEqual(String(2 * DAY));
  });
});

describe('maxSetAge prop', () => {
  test('is passed to the functions in seconds', () => {
    const { policy, template } = build({ maxSetAge: Duration.hours(36) });
    expect(maxSetAgeOf(template)).toEqual(String(36 * HOUR));
    expect(policy.maxSetAge.toHours()).toBe(36);
  });

  test('may be a token in seconds, passed through unchecked', () => {
    const stack = newStack();
    const seconds = new CfnParameter(stack, 'MaxSetAge', { type: 'Number' }).valueAsNumber;
    new SnapshotPolicy(stack, 'Nightly', { instanceTags: INSTANCE_TAGS, maxSetAge: Duration.seconds(seconds) });
    expect(maxSetAgeOf(Template.fromStack(stack))).toEqual({ Ref: 'MaxSetAge' });
  });

  test.each<[string, Partial<SnapshotPolicyProps>]>([
    ['just longer than the default daily schedule', { maxSetAge: Duration.seconds(DAY + 1) }],
    ['just longer than 3 days with weekdays only', { maxSetAge: Duration.seconds(3 * DAY + 1), schedule: expression('cron(0 3 ? * MON-FRI *)') }],
    ['of an hour and a second with an hourly rate', { maxSetAge: Duration.seconds(HOUR + 1), schedule: expression('rate(1 hour)') }],
    ['1 hour with a schedule every 30 minutes', { maxSetAge: Duration.hours(1), schedule: expression('rate(30 minutes)') }],
    ['any length with an at() schedule', { maxSetAge: Duration.hours(1), schedule: expression('at(2099-01-01T03:00:00)') }],
  ])('accepts a maxSetAge %s', (_name, props) => {
    expect(() => build(props)).not.toThrow();
  });
});

describe('maxSetAge checks', () => {
  test.each<[string, Partial<SnapshotPolicyProps>, string]>([
    ['shorter than an hour', { maxSetAge: Duration.minutes(59) }, 'maxSetAge must be at least 1 hour, got 59 minutes'],
    ['not a whole number of seconds', { maxSetAge: Duration.millis(7_200_500) }, 'maxSetAge must be a whole number of seconds, got 7200500 milliseconds'],
    ['shorter than the default schedule\'s day', { maxSetAge: Duration.hours(12) },
      'maxSetAge must be longer than the longest time between two runs of schedule cron(0 3 * * ? *) in Etc/UTC (1 day), got 12 hours'],
    ['the default schedule\'s day itself', { maxSetAge: Duration.days(1) },
      'maxSetAge must be longer than the longest time between two runs of schedule cron(0 3 * * ? *) in Etc/UTC (1 day), got 1 day'],
    ['shorter than Friday to Monday', { maxSetAge: Duration.days(2), schedule: expression('cron(0 3 ? * MON-FRI *)') },
      'maxSetAge must be longer than the longest time between two runs of schedule cron(0 3 ? * MON-FRI *) in Etc/UTC (3 days), got 2 days'],
    ['shorter than the daylight saving change in London', {
      maxSetAge: Duration.hours(24), schedule: scheduler.ScheduleExpression.cron({ hour: '3', minute: '0', timeZone: TimeZone.EUROPE_LONDON }),
    }, 'maxSetAge must be longer than the longest time between two runs of schedule cron(0 3 * * ? *) in Europe/London (1 day 1 hour), got 1 day'],
    ['shorter than a rate', { maxSetAge: Duration.hours(5), schedule: expression('rate(6 hours)') },
      'maxSetAge must be longer than the longest time between two runs of schedule rate(6 hours) (6 hours), got 5 hours'],
  ])('rejects a maxSetAge %s', (_name, props, message) => {
    expect(() => build(props)).toThrow(exactly(INVALID_PROPS + message));
  });

  test('lists a wrong maxSetAge with the other problems in one error', () => {
    const stack: Stack = newStack();
    expect(() => new SnapshotPolicy(stack, 'Nightly', { instanceTags: {}, maxSetAge: Duration.minutes(30) })).toThrow(exactly(INVALID_PROPS +
      'instanceTags must have at least 1 tag, got 0; maxSetAge must be at least 1 hour, got 30 minutes'));
  });

  test('does not check a maxSetAge against a schedule that is a token', () => {
    expect(() => build({ maxSetAge: Duration.hours(2) }, (s) => ({ schedule: expression(new CfnParameter(s, 'Schedule').valueAsString) })))
      .not.toThrow();
  });
});
