// Construct tests of the synth-time checks that keep a careless or hostile prop out: the legal hold tag, instance tags the filter
// and IAM can use, schedules and time zones, the functions' environment against Lambda's 4 KB, unique
// policy ids in an app, the warnings about schedules, and the scheduler role's trust policy.
import {
  App, CfnParameter, Duration, Lazy, Stack, TimeZone, aws_scheduler as scheduler,
} from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { Construct } from 'constructs';
import { Orchestration, Retention, SnapshotPolicy, SnapshotPolicyProps } from '../../lib';
import { SetMarker } from '../../lib/private/contract';
import { ENV, INSTANCE_TAGS, INVALID_PROPS, build, newStack } from '../support/stack';

function exactly(message: string): RegExp {
  return new RegExp(`^${message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
}

function attempt(props: Partial<SnapshotPolicyProps>, stack = newStack()): () => SnapshotPolicy {
  return () => new SnapshotPolicy(stack, 'Nightly', { instanceTags: INSTANCE_TAGS, ...props });
}

describe('validation of the hold tag, instance tags and schedules', () => {
  const expression = scheduler.ScheduleExpression.expression;

  test.each<[string, Partial<SnapshotPolicyProps>, string]>([
    ['a legalHoldTag that is the policy id tag', { legalHoldTag: 'snapshot-policy:id' },
      'legalHoldTag must not start with "snapshot-policy:" (the policy\'s own tags) unless it is "snapshot-policy:hold", got "snapshot-policy:id"'],
    ['a legalHoldTag that is the instance id tag', { legalHoldTag: 'snapshot-policy:instance-id' },
      'legalHoldTag must not start with "snapshot-policy:" (the policy\'s own tags) unless it is "snapshot-policy:hold", ' +
      'got "snapshot-policy:instance-id"'],
    ['a legalHoldTag that is the slot tag', { legalHoldTag: 'snapshot-policy:slot' },
      'legalHoldTag must not start with "snapshot-policy:" (the policy\'s own tags) unless it is "snapshot-policy:hold", got "snapshot-policy:slot"'],
    ['a legalHoldTag that is an instanceTags key', { instanceTags: { backup: 'nightly', env: 'prod' }, legalHoldTag: 'env' },
      'legalHoldTag must not be an instanceTags key: every set would be held and none ever deleted, got "env"'],
    ['an instanceTags value with *', { instanceTags: { backup: 'night*' } },
      'instanceTags value of "backup" must not contain *, ? (wildcards of the DescribeInstances filter) or ${ (a variable in the IAM condition), ' +
      'got "night*"'],
    ['an instanceTags value with ?', { instanceTags: { backup: 'nightl?' } },
      'instanceTags value of "backup" must not contain *, ? (wildcards of the DescribeInstances filter) or ${ (a variable in the IAM condition), ' +
      'got "nightl?"'],
    ['an instanceTags value with ${', { instanceTags: { owner: '${aws:username}' } },
      'instanceTags value of "owner" must not contain *, ? (wildcards of the DescribeInstances filter) or ${ (a variable in the IAM condition), ' +
      'got "${aws:username}"'],
    ['instanceTags keys that differ only by case', { instanceTags: { Backup: 'nightly', backup: 'nightly' } },
      'instanceTags keys must differ in more than case (IAM compares tag keys case-insensitively), got "Backup" and "backup"'],
    ['an instanceTags map that is a token', { instanceTags: Lazy.any({ produce: () => ({ backup: 'nightly' }) }) as unknown as Record<string, string> },
      'instanceTags must be a map of tag pairs written in the app, not a token, got an unresolved token'],
    ['a schedule that is not an expression', { schedule: expression('cron(bad)') },
      'schedule cron must have six fields (minutes hours day-of-month month day-of-week year), got "cron(bad)"'],
    ['a schedule of rate(0 minutes)', { schedule: expression('rate(0 minutes)') },
      'schedule rate value must be a positive whole number, got "rate(0 minutes)"'],
    ['a schedule of rate(1 hours)', { schedule: expression('rate(1 hours)') },
      'schedule rate unit must be minute, hour or day for 1 and minutes, hours or days otherwise, got "rate(1 hours)"'],
    ['a cron schedule at minute 61 and hour 25', { schedule: scheduler.ScheduleExpression.cron({ minute: '61', hour: '25' }) },
      'schedule cron minutes must hold values 0-59 and only the wildcards , - * /, got "61" in "cron(61 25 * * ? *)"; ' +
      'schedule cron hours must hold values 0-23 and only the wildcards , - * /, got "25" in "cron(61 25 * * ? *)"'],
    ['a cron schedule with both days set', { schedule: expression('cron(0 3 * * MON *)') },
      'schedule cron must have ? in exactly one of day-of-month and day-of-week, got "cron(0 3 * * MON *)"'],
    ['a schedule at a day that does not exist', { schedule: expression('at(2031-02-29T03:00:00)') },
      'schedule at must be a real date and time at(yyyy-mm-ddThh:mm:ss), got "at(2031-02-29T03:00:00)"'],
    ['a schedule in the time zone Mars/Olympus', { schedule: scheduler.ScheduleExpression.cron({ hour: '3', minute: '0', timeZone: TimeZone.of('Mars/Olympus') }) },
      'schedule time zone must be an IANA time zone name, got "Mars/Olympus"'],
    ['a cleanupSchedule of rate(0 minutes)', { cleanupSchedule: expression('rate(0 minutes)') },
      'cleanupSchedule rate value must be a positive whole number, got "rate(0 minutes)"'],
    ['a cleanupSchedule in the time zone Mars/Olympus', { cleanupSchedule: expression('rate(1 day)', TimeZone.of('Mars/Olympus')) },
      'cleanupSchedule time zone must be an IANA time zone name, got "Mars/Olympus"'],
  ])('rejects %s', (_name, props, message) => {
    expect(attempt(props)).toThrow(exactly(INVALID_PROPS + message));
  });

  test('rejects an instanceTags key that is a token, naming the prop', () => {
    const stack = newStack();
    const key = new CfnParameter(stack, 'Key').valueAsString;
    expect(attempt({ instanceTags: { [key]: 'nightly' } }, stack)).toThrow(exactly(INVALID_PROPS +
      `instanceTags key must not be a token (each key is written into the IAM condition at synth time), got "${key}"`));
  });

  test.each<[string, Partial<SnapshotPolicyProps>]>([
    ['the default legalHoldTag', { legalHoldTag: 'snapshot-policy:hold' }],
    ['a legalHoldTag that only shares a prefix with the policy\'s tags', { legalHoldTag: 'snapshot-policy-hold' }],
    ['a legalHoldTag that is an instanceTags key in another case', { instanceTags: { Hold: 'x' }, legalHoldTag: 'hold' }],
    ['instanceTags values with other punctuation', { instanceTags: { 'backup': 'a+b=c @d:e/f.g_h-i', 'cost $': 'x{y}' } }],
    ['rate(1 minute) and rate(2 days)', { schedule: expression('rate(1 minute)'), cleanupSchedule: expression('rate(2 days)') }],
    ['cron with L, W and #', { schedule: expression('cron(0 3 L * ? *)'), cleanupSchedule: expression('cron(0 3 ? * 6#3 *)') }],
    ['a time zone Node knows by an alias', { schedule: expression('cron(0 3 * * ? *)', TimeZone.of('Etc/GMT+5')) }],
    ['a one-time schedule', { schedule: scheduler.ScheduleExpression.at(new Date('2190-01-01T03:00:00Z')) }],
  ])('accepts %s', (_name, props) => {
    expect(attempt(props)).not.toThrow();
  });

  test.each<[string, (stack: Stack) => Partial<SnapshotPolicyProps>]>([
    ['a schedule expression', (s) => ({ schedule: expression(new CfnParameter(s, 'Expression').valueAsString) })],
    ['a time zone', (s) => ({ schedule: expression('cron(0 3 * * ? *)', TimeZone.of(new CfnParameter(s, 'Zone').valueAsString)) })],
    ['a legalHoldTag', (s) => ({ legalHoldTag: new CfnParameter(s, 'Hold').valueAsString })],
    ['a policyName (used twice in the app)', (s) => {
      const name = new CfnParameter(s, 'Name').valueAsString;
      new SnapshotPolicy(s, 'Other', { instanceTags: INSTANCE_TAGS, policyName: name });
      return { policyName: name };
    }],
  ])('skips the check of %s that is an unresolved token', (_name, props) => {
    const stack = newStack();
    expect(attempt(props(stack), stack)).not.toThrow();
  });

  test('lists the new problems with the others in one error', () => {
    expect(attempt({
      instanceTags: { Env: 'prod', env: 'pr*d' },
      legalHoldTag: 'snapshot-policy:slot',
      schedule: expression('rate(0 minutes)'),
      timeout: Duration.minutes(20),
    })).toThrow(exactly(INVALID_PROPS + [
      'instanceTags keys must differ in more than case (IAM compares tag keys case-insensitively), got "Env" and "env"',
      'instanceTags value of "env" must not contain *, ? (wildcards of the DescribeInstances filter) or ${ (a variable in the IAM condition), ' +
      'got "pr*d"',
      'timeout must be between 1 minute and 15 minutes, got 20 minutes',
      'legalHoldTag must not start with "snapshot-policy:" (the policy\'s own tags) unless it is "snapshot-policy:hold", got "snapshot-policy:slot"',
      'schedule rate value must be a positive whole number, got "rate(0 minutes)"',
    ].join('; ')));
  });
});

/** A function's environment as Lambda measures it: compact JSON, every token the largest value it may stand for. */
const TOKEN_STAND_IN = 'x'.repeat(256);
function measured(variables: Record<string, unknown>): number {
  const text = (value: unknown): string => {
    if (typeof value === 'string') return value;
    const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
    return join ? join[1].map(text).join(join[0]) : TOKEN_STAND_IN;
  };
  const literal = Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, text(v)]));
  return Buffer.byteLength(JSON.stringify(literal).replace(/[^ -~]/g, '\\uXXXX'));
}

function environments(template: Template): Record<string, Record<string, unknown>> {
  const functions = template.findResources('AWS::Lambda::Function');
  return Object.fromEntries(Object.entries(functions).map(([id, f]) => [id, f.Properties.Environment.Variables]));
}

/** The largest environment of the template's functions. */
function largestEnvironment(template: Template): number {
  return Math.max(...Object.values(environments(template)).map(measured));
}

/** `backup: ''` and tags `k00`, `k01`, ... whose values make INSTANCE_TAGS exactly `extra` bytes longer (as measured). */
function instanceTagsAdding(extra: number): Record<string, string> {
  const tags: Record<string, string> = {};
  let left = extra;
  // Each tag adds `\"k00\":\"<value>\",`: 13 bytes and its value.
  for (let i = 0; left > 256; i++) {
    const length = Math.min(256, left - 13);
    tags[`k${String(i).padStart(2, '0')}`] = 'v'.repeat(length);
    left -= 13 + length;
  }
  return { backup: 'v'.repeat(left), ...tags };
}

const LIMIT_MESSAGE = (fn: string, total: number, shares: [number, number, number, number]) => INVALID_PROPS +
  `the environment of ${fn} must be at most 4096 bytes (Lambda's limit, its variables measured as JSON), got ${total}: ` +
  `instanceTags ${shares[0]} bytes, snapshotTags ${shares[1]} bytes, excludeDataVolumeTags ${shares[2]} bytes, description ${shares[3]} bytes`;

/** The size of a tag map in the environment: JSON inside JSON. */
const tagBytes = (tags: Record<string, string>) => JSON.stringify(JSON.stringify(tags)).length;

describe('function environment size', () => {
  // The longest description the validator accepts: EC2's 255 less the room kept for the set marker.
  const longestDescription = 'd'.repeat(SetMarker.DESCRIPTION_MAX_LENGTH - SetMarker.RESERVED_LENGTH);
  const bigTags = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`${i}`.padEnd(128, 'k'), 'v'.repeat(256)]));

  test('synthesizes a policy just under the limit, and every function\'s environment fits 4096 bytes', () => {
    const base = largestEnvironment(build({ instanceTags: { backup: '' } }).template);
    const instanceTags = instanceTagsAdding(4096 - base);
    const { template } = build({ instanceTags });
    const sizes = Object.values(environments(template)).map(measured);
    expect(sizes).toHaveLength(2);
    for (const size of sizes) expect(size).toBeLessThanOrEqual(4096);
    expect(Math.max(...sizes)).toEqual(4096);
  });

  test('refuses the same policy one byte over the limit, naming the props that fill it', () => {
    const base = largestEnvironment(build({ instanceTags: { backup: '' } }).template);
    const instanceTags = instanceTagsAdding(4096 - base);
    const description = 'Created by cdk-snapshot-policy MyStack/Nightly!';
    expect(attempt({ instanceTags, description })).toThrow(exactly(LIMIT_MESSAGE('SnapshotFunction', 4097, [tagBytes(instanceTags), 4, 4, description.length + 2])));
  });

  test('counts each token as the longest value it may stand for, and fits every orchestrated function under that count', () => {
    const orchestration = Orchestration.STEP_FUNCTIONS;
    const base = largestEnvironment(build({ instanceTags: { backup: '' }, orchestration }).template);
    const { template } = build({ instanceTags: instanceTagsAdding(4096 - base), orchestration });
    const sizes = Object.values(environments(template)).map(measured);
    expect(sizes).toHaveLength(3);
    for (const size of sizes) expect(size).toBeLessThanOrEqual(4096);
    expect(Math.max(...sizes)).toEqual(4096);
    expect(attempt({ instanceTags: instanceTagsAdding(4097 - base), orchestration })).toThrow(/^invalid SnapshotPolicy props at MyStack\/Nightly: the environment of StarterFunction must be at most 4096 bytes/);
  });

  test.each<[string, Partial<SnapshotPolicyProps>]>([
    ['50 instanceTags of 128 and 256 characters', { instanceTags: bigTags(50) }],
    ['12 instanceTags of 128 and 256 characters (5 KB)', { instanceTags: bigTags(12) }],
    ['47 snapshotTags of 128 and 256 characters', { snapshotTags: bigTags(47) }],
    ['50 excludeDataVolumeTags of 128 and 256 characters', { excludeDataVolumeTags: bigTags(50) }],
  ])('refuses the largest accepted %s with the size of each prop', (_name, props) => {
    const build0 = () => new SnapshotPolicy(newStack(), 'Nightly', { instanceTags: INSTANCE_TAGS, ...props });
    const base = largestEnvironment(build().template);
    const shares: [number, number, number, number] = [
      tagBytes(props.instanceTags ?? INSTANCE_TAGS), tagBytes(props.snapshotTags ?? {}), tagBytes(props.excludeDataVolumeTags ?? {}),
      'Created by cdk-snapshot-policy MyStack/Nightly'.length + 2,
    ];
    const total = base - tagBytes(INSTANCE_TAGS) + shares[0] - 4 + shares[1] - 4 + shares[2];
    expect(build0).toThrow(exactly(LIMIT_MESSAGE('SnapshotFunction', total, shares)));
  });

  test.each<[string, Partial<SnapshotPolicyProps>]>([
    ['a description of the most characters allowed', { description: longestDescription }],
    ['a policyName of 128 characters', { policyName: 'p'.repeat(128) }],
    ['a legalHoldTag of 128 characters', { legalHoldTag: 'h'.repeat(128) }],
    ['all three, orchestrated', { description: longestDescription, policyName: 'p'.repeat(128), legalHoldTag: 'h'.repeat(128), orchestration: Orchestration.STEP_FUNCTIONS }],
  ])('synthesizes %s with every environment under 4096 bytes', (_name, props) => {
    expect(largestEnvironment(build(props).template)).toBeLessThanOrEqual(4096);
  });
});

describe('unique policy ids', () => {
  const policy = (scope: Construct, id: string, policyName?: string) => new SnapshotPolicy(scope, id, { instanceTags: INSTANCE_TAGS, policyName });

  test('refuses two default ids that normalise alike in one stack', () => {
    const stack = newStack();
    policy(stack, 'Nightly!');
    expect(() => policy(stack, 'Nightly?')).toThrow(exactly('invalid SnapshotPolicy props at MyStack/Nightly?: policy id must be unique in the app, ' +
      'got "MyStack/Nightly-", the id of MyStack/Nightly! too (set policyName on one of them)'));
  });

  test('refuses the same policyName twice in one stack', () => {
    const stack = newStack();
    policy(stack, 'A', 'db-nightly');
    expect(() => policy(stack, 'B', 'db-nightly')).toThrow(exactly('invalid SnapshotPolicy props at MyStack/B: policy id must be unique in the app, ' +
      'got "db-nightly", the id of MyStack/A too (set policyName on one of them)'));
  });

  test('refuses the same policyName in two stacks of one app', () => {
    const app = new App();
    policy(new Stack(app, 'One', { env: ENV }), 'Nightly', 'db-nightly');
    expect(() => policy(new Stack(app, 'Two', { env: ENV }), 'Nightly', 'db-nightly')).toThrow(exactly('invalid SnapshotPolicy props at Two/Nightly: ' +
      'policy id must be unique in the app, got "db-nightly", the id of One/Nightly too (set policyName on one of them)'));
  });

  test('refuses a policyName equal to another policy\'s default id', () => {
    const stack = newStack();
    policy(stack, 'Nightly');
    expect(() => policy(stack, 'Other', 'MyStack/Nightly')).toThrow(exactly('invalid SnapshotPolicy props at MyStack/Other: ' +
      'policy id must be unique in the app, got "MyStack/Nightly", the id of MyStack/Nightly too (set policyName on one of them)'));
  });

  test('accepts the same policyName in two apps, and distinct ids in one', () => {
    expect(() => policy(newStack(), 'Nightly', 'db-nightly')).not.toThrow();
    expect(() => policy(newStack(), 'Nightly', 'db-nightly')).not.toThrow();
    const stack = newStack();
    expect(() => [policy(stack, 'Nightly'), policy(stack, 'Hourly'), policy(stack, 'Weekly', 'db-weekly')]).not.toThrow();
  });
});

describe('schedule warnings', () => {
  const expression = scheduler.ScheduleExpression.expression;
  const warningOf = (stack: Stack, message: string) => Annotations.fromStack(stack).hasWarning('/MyStack/Nightly', message);
  const acked = (id: string, message: string) => `${message} [ack: cdk-snapshot-policy:${id}]`;
  const overlap = 'a run may take up to the functions\' 15-minute timeout, so runs can overlap, and each draws on EC2\'s account-wide request rate';

  test.each<[string, Partial<SnapshotPolicyProps>, string, string]>([
    ['a schedule of rate(1 minute)', { schedule: expression('rate(1 minute)') }, 'scheduleTooFrequent',
      `schedule rate(1 minute) runs more often than every 15 minutes (1 minute apart at the closest): ${overlap}`],
    ['a schedule of rate(14 minutes)', { schedule: expression('rate(14 minutes)') }, 'scheduleTooFrequent',
      `schedule rate(14 minutes) runs more often than every 15 minutes (14 minutes apart at the closest): ${overlap}`],
    ['a cron cleanupSchedule every 5 minutes', { cleanupSchedule: expression('cron(0/5 * * * ? *)') }, 'cleanupScheduleTooFrequent',
      `cleanupSchedule cron(0/5 * * * ? *) runs more often than every 15 minutes (5 minutes apart at the closest): ${overlap}`],
    ['a one-time schedule in the past', { schedule: scheduler.ScheduleExpression.at(new Date('2020-01-01T03:00:00Z')) }, 'scheduleInThePast',
      'schedule at(2020-01-01T03:00:00) in Etc/UTC is in the past: it will never run'],
    ['a one-time schedule in the past in a time zone', { schedule: expression('at(2020-01-01T03:00:00)', TimeZone.EUROPE_LONDON) }, 'scheduleInThePast',
      'schedule at(2020-01-01T03:00:00) in Europe/London is in the past: it will never run'],
    ['retention within shorter than the rate', { schedule: expression('rate(1 day)'), retention: Retention.keep({ within: Duration.hours(12) }) },
      'retentionShorterThanSchedule',
      'retention keeps the sets within 12 hours of the newest, less than the interval of schedule rate(1 day): ' +
      'that rule keeps no set but the newest, which is always kept'],
    ['retention maxAge shorter than the rate', { schedule: expression('rate(3 days)'), retention: Retention.maxAge(Duration.days(2)) },
      'retentionShorterThanSchedule',
      'retention keeps the sets within 2 days of the newest, less than the interval of schedule rate(3 days): ' +
      'that rule keeps no set but the newest, which is always kept'],
  ])('warns about %s', (_name, props, id, message) => {
    const { stack } = build(props);
    warningOf(stack, acked(id, message));
  });

  test.each<[string, Partial<SnapshotPolicyProps>]>([
    ['rate(15 minutes)', { schedule: expression('rate(15 minutes)') }],
    ['cron every 15 minutes', { schedule: expression('cron(0/15 * * * ? *)') }],
    ['a one-time schedule in the future', { schedule: scheduler.ScheduleExpression.at(new Date('2190-01-01T03:00:00Z')) }],
    ['retention within as long as the rate', { schedule: expression('rate(12 hours)'), retention: Retention.keep({ within: Duration.hours(12) }) }],
    ['retention within and a cron schedule', { retention: Retention.keep({ within: Duration.hours(1) }) }],
  ])('does not warn about %s', (_name, props) => {
    const { stack } = build(props);
    Annotations.fromStack(stack).hasNoWarning('*', Match.anyValue());
  });
});
