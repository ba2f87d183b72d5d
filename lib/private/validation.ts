// The checks of SnapshotPolicy's props at synth time: each problem names the prop, the rule and the value,
// and one error lists them all, with the construct's path.
import { Duration, Stack, Token, aws_scheduler as scheduler } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { Defaults, EnvVar, SetMarker, Tag } from './contract';
import { MAX_ENVIRONMENT_BYTES, environmentBytes, valueBytes } from './environment-size';
import { maxSetAgeProblems, runScheduleOf } from './max-set-age';
import { atInstant, isTimeZoneName, rateSeconds, scheduleExpressionProblems, shortestIntervalMinutes } from './schedule-validation';
import type { SnapshotPolicyProps } from '../snapshot-policy';

/** EC2 allows 50 tags per resource; the policy writes 3 of its own. */
const MAX_USER_SNAPSHOT_TAGS = 47;
/** EC2 allows 255 characters; the set marker (contract.ts SetMarker) takes the rest. */
const MAX_DESCRIPTION_LENGTH = SetMarker.DESCRIPTION_MAX_LENGTH - SetMarker.RESERVED_LENGTH;
const POLICY_NAME_PATTERN = /^[A-Za-z0-9 _.:/=+\-@]{1,128}$/;

/**
 * Checks every prop it can at synth time and throws one error listing every problem. `now` picks the year
 * whose calendar a cron schedule's gaps are measured in.
 */
export function validateProps(scope: Construct, props: SnapshotPolicyProps, now: Date = new Date()): void {
  const problems = [
    ...checkTags('instanceTags', props.instanceTags ?? {}, 1, 50),
    ...checkInstanceTags(props.instanceTags ?? {}),
    ...checkTags('excludeDataVolumeTags', props.excludeDataVolumeTags ?? {}, 0, 50),
    ...checkTags('snapshotTags', props.snapshotTags ?? {}, 0, MAX_USER_SNAPSHOT_TAGS),
    ...checkReservedTags(props),
    ...checkStrings(props),
    ...checkDurations(props),
    ...checkHoldTag(props),
    ...checkSchedule('schedule', props.schedule),
    ...checkSchedule('cleanupSchedule', props.cleanupSchedule),
    ...maxSetAgeProblems(props.maxSetAge, runScheduleOf(props.schedule), now),
    ...(props.retention?._validate() ?? []),
  ];
  if (problems.length > 0) {
    throw new Error(`invalid SnapshotPolicy props at ${scope.node.path}: ${problems.join('; ')}`);
  }
}

function checkReservedTags(props: SnapshotPolicyProps): string[] {
  return Object.keys(props.snapshotTags ?? {})
    .filter((key) => key.startsWith(Tag.RESERVED_PREFIX))
    .map((key) => `snapshotTags key must not start with "${Tag.RESERVED_PREFIX}" (the policy's own tags), got "${key}"`);
}

function checkStrings(props: SnapshotPolicyProps): string[] {
  const problems: string[] = [];
  const { description, policyName, legalHoldTag } = props;
  if (description !== undefined && !Token.isUnresolved(description) && description.length > MAX_DESCRIPTION_LENGTH) {
    problems.push(`description must be at most ${MAX_DESCRIPTION_LENGTH} characters, got ${description.length}`);
  }
  if (policyName !== undefined && !Token.isUnresolved(policyName) && !POLICY_NAME_PATTERN.test(policyName)) {
    problems.push(`policyName must be 1 to 128 letters, digits, spaces or _.:/=+-@, got "${policyName}"`);
  }
  if (legalHoldTag !== undefined && !Token.isUnresolved(legalHoldTag) &&
      (legalHoldTag.length < 1 || legalHoldTag.length > 128 || legalHoldTag.startsWith('aws:'))) {
    problems.push(`legalHoldTag must be a tag key of 1 to 128 characters not starting with "aws:", got "${legalHoldTag}"`);
  }
  return problems;
}

function checkDurations(props: SnapshotPolicyProps): string[] {
  const problems: string[] = [];
  if (props.timeout !== undefined && !props.timeout.isUnresolved()) {
    const ms = props.timeout.toMilliseconds();
    if (ms < 60_000 || ms > 900_000) problems.push(`timeout must be between 1 minute and 15 minutes, got ${props.timeout.toHumanString()}`);
    else if (ms % 1000 !== 0) problems.push(`timeout must be a whole number of seconds, got ${ms} milliseconds`);
  }
  if (props.orphanRetention !== undefined && !props.orphanRetention.isUnresolved()) {
    const ms = props.orphanRetention.toMilliseconds();
    if (ms < 86_400_000) problems.push(`orphanRetention must be at least 1 day, got ${props.orphanRetention.toHumanString()}`);
    else if (ms % 1000 !== 0) problems.push(`orphanRetention must be a whole number of seconds, got ${ms} milliseconds`);
  }
  const recycle = props.recycleBinRetention;
  if (recycle !== undefined && !recycle.isUnresolved()) {
    const ms = recycle.toMilliseconds();
    if (ms % 86_400_000 !== 0 || ms < 86_400_000 || ms > 365 * 86_400_000) {
      problems.push(`recycleBinRetention must be a whole number of days between 1 and 365, got ${recycle.toHumanString()}`);
    }
  }
  return problems;
}

function checkHoldTag(props: SnapshotPolicyProps): string[] {
  const holdTag = props.legalHoldTag ?? Tag.DEFAULT_HOLD;
  if (Token.isUnresolved(holdTag)) return [];
  const problems: string[] = [];
  if (props.snapshotTags && !Token.isUnresolved(props.snapshotTags) && holdTag in props.snapshotTags) {
    problems.push(`snapshotTags must not contain the legalHoldTag key "${holdTag}": every set would be held and none ever deleted`);
  }
  if (holdTag.startsWith(Tag.RESERVED_PREFIX) && holdTag !== Tag.DEFAULT_HOLD) {
    problems.push(`legalHoldTag must not start with "${Tag.RESERVED_PREFIX}" (the policy's own tags) unless it is "${Tag.DEFAULT_HOLD}", ` +
      `got "${holdTag}"`);
  }
  if (!Token.isUnresolved(props.instanceTags) && Object.keys(props.instanceTags ?? {}).includes(holdTag)) {
    problems.push(`legalHoldTag must not be an instanceTags key: every set would be held and none ever deleted, got "${holdTag}"`);
  }
  return problems;
}

/**
 * What makes instance tags unusable in the DescribeInstances filter and the IAM condition on CreateSnapshots.
 * A value that is a token stays allowed: both get the same deployed string, and a wildcard or a policy
 * variable in it can only make the filter find instances that IAM then refuses (runs fail and raise the
 * alarm), never let IAM allow more.
 */
function checkInstanceTags(tags: { [key: string]: string }): string[] {
  if (Token.isUnresolved(tags)) {
    return ['instanceTags must be a map of tag pairs written in the app, not a token, got an unresolved token'];
  }
  const problems: string[] = [];
  const byLowerCase = new Map<string, string>();
  for (const [key, value] of Object.entries(tags)) {
    if (Token.isUnresolved(key)) {
      problems.push(`instanceTags key must not be a token (each key is written into the IAM condition at synth time), got "${key}"`);
      continue;
    }
    const sameButCase = byLowerCase.get(key.toLowerCase());
    if (sameButCase !== undefined) {
      problems.push(`instanceTags keys must differ in more than case (IAM compares tag keys case-insensitively), got "${sameButCase}" and "${key}"`);
    }
    byLowerCase.set(key.toLowerCase(), key);
    if (typeof value === 'string' && !Token.isUnresolved(value) && /[*?]|\$\{/.test(value)) {
      problems.push(`instanceTags value of "${key}" must not contain *, ? (wildcards of the DescribeInstances filter) ` +
        `or \${ (a variable in the IAM condition), got "${value}"`);
    }
  }
  return problems;
}

function checkSchedule(prop: string, schedule?: scheduler.ScheduleExpression): string[] {
  if (schedule === undefined) return [];
  const { expressionString } = schedule;
  const problems = Token.isUnresolved(expressionString) ? [] : scheduleExpressionProblems(expressionString).map((p) => `${prop} ${p}`);
  const timeZone = schedule.timeZone?.timezoneName;
  if (timeZone !== undefined && !Token.isUnresolved(timeZone) && !isTimeZoneName(timeZone)) {
    problems.push(`${prop} time zone must be an IANA time zone name, got "${timeZone}"`);
  }
  return problems;
}

function checkTags(prop: string, tags: { [key: string]: string }, min: number, max: number): string[] {
  if (Token.isUnresolved(tags)) return [];
  const problems: string[] = [];
  const entries = Object.entries(tags);
  if (entries.length < min) problems.push(`${prop} must have at least ${min} tag, got ${entries.length}`);
  if (entries.length > max) problems.push(`${prop} must have at most ${max} tags, got ${entries.length}`);
  for (const [key, value] of entries) {
    if (Token.isUnresolved(key)) continue;
    if (key.length < 1 || key.length > 128) problems.push(`${prop} key must be 1 to 128 characters, got "${key}"`);
    if (key.toLowerCase().startsWith('aws:')) problems.push(`${prop} key must not start with "aws:", got "${key}"`);
    if (!Token.isUnresolved(value) && (typeof value !== 'string' || value.length > 256)) {
      problems.push(`${prop} value of "${key}" must be a string of at most 256 characters, got ${JSON.stringify(value)}`);
    }
  }
  return problems;
}

/** A choice that is allowed but likely a mistake: the warning's id (after `cdk-snapshot-policy:`) and message. */
export interface PropWarning {
  readonly id: string;
  readonly message: string;
}

/** Schedules that run more often than every 15 minutes or fire once in the past, and retention that keeps nothing more. */
export function scheduleWarnings(props: SnapshotPolicyProps, now: Date): PropWarning[] {
  return [
    ...warningsOfSchedule('schedule', props.schedule, now),
    ...warningsOfSchedule('cleanupSchedule', props.cleanupSchedule, now),
    ...warningsOfRetention(props),
  ];
}

function warningsOfSchedule(prop: string, schedule: scheduler.ScheduleExpression | undefined, now: Date): PropWarning[] {
  if (schedule === undefined || Token.isUnresolved(schedule.expressionString)) return [];
  const expression = schedule.expressionString;
  const warnings: PropWarning[] = [];
  const minutes = shortestIntervalMinutes(expression);
  if (minutes !== undefined && minutes < 15) {
    warnings.push({
      id: `${prop}TooFrequent`,
      message: `${prop} ${expression} runs more often than every 15 minutes (${minutes} minute${minutes === 1 ? '' : 's'} apart at the ` +
        'closest): a run may take up to the functions\' 15-minute timeout, so runs can overlap, and each draws on EC2\'s account-wide request rate',
    });
  }
  const timeZone = schedule.timeZone?.timezoneName ?? Defaults.TIME_ZONE;
  const at = Token.isUnresolved(timeZone) ? undefined : atInstant(expression, timeZone);
  if (at !== undefined && at.getTime() < now.getTime()) {
    warnings.push({ id: `${prop}InThePast`, message: `${prop} ${expression} in ${timeZone} is in the past: it will never run` });
  }
  return warnings;
}

/** An age rule shorter than the runs' interval keeps nothing but the newest set, which is kept anyway. */
function warningsOfRetention(props: SnapshotPolicyProps): PropWarning[] {
  const expression = props.schedule?.expressionString;
  const interval = expression === undefined || Token.isUnresolved(expression) ? undefined : rateSeconds(expression);
  const within = props.retention?._render().withinSeconds;
  if (interval === undefined || within === undefined || Token.isUnresolved(within) || within >= interval) return [];
  return [{
    id: 'retentionShorterThanSchedule',
    message: `retention keeps the sets within ${Duration.seconds(within).toHumanString()} of the newest, less than the interval of ` +
      `schedule ${expression}: that rule keeps no set but the newest, which is always kept`,
  }];
}

/**
 * Throws when a function's environment would not fit Lambda's limit, naming the props that fill it.
 * `scope` is the policy; `environment` the variables as the function gets them.
 */
export function checkFunctionEnvironment(scope: Construct, functionId: string, environment: Record<string, string>): void {
  const resolved = Stack.of(scope).resolve(environment) as Record<string, unknown>;
  const total = environmentBytes(resolved);
  if (total <= MAX_ENVIRONMENT_BYTES) return;
  const props: Array<[string, string]> = [
    ['instanceTags', EnvVar.INSTANCE_TAGS],
    ['snapshotTags', EnvVar.SNAPSHOT_TAGS],
    ['excludeDataVolumeTags', EnvVar.EXCLUDE_DATA_VOLUME_TAGS],
    ['description', EnvVar.DESCRIPTION],
  ];
  const shares = props.map(([prop, variable]) => `${prop} ${resolved[variable] === undefined ? 0 : valueBytes(resolved[variable])} bytes`);
  throw new Error(`invalid SnapshotPolicy props at ${scope.node.path}: the environment of ${functionId} must be at most ` +
    `${MAX_ENVIRONMENT_BYTES} bytes (Lambda's limit, its variables measured as JSON), got ${total}: ${shares.join(', ')}`);
}
