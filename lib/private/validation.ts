// The checks of SnapshotPolicy's props at synth time: each problem names the prop, the rule and the value,
// and one error lists them all, with the construct's path.
import { Token } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { Tag } from './contract';
import type { SnapshotPolicyProps } from '../snapshot-policy';

/** EC2 allows 50 tags per resource; the policy writes 3 of its own. */
const MAX_USER_SNAPSHOT_TAGS = 47;
const MAX_DESCRIPTION_LENGTH = 255;
const POLICY_NAME_PATTERN = /^[A-Za-z0-9 _.:/=+\-@]{1,128}$/;

/** Checks every prop it can at synth time and throws one error listing every problem. */
export function validateProps(scope: Construct, props: SnapshotPolicyProps): void {
  const problems = [
    ...checkTags('instanceTags', props.instanceTags ?? {}, 1, 50),
    ...checkTags('excludeDataVolumeTags', props.excludeDataVolumeTags ?? {}, 0, 50),
    ...checkTags('snapshotTags', props.snapshotTags ?? {}, 0, MAX_USER_SNAPSHOT_TAGS),
    ...checkReservedTags(props),
    ...checkStrings(props),
    ...checkDurations(props),
    ...checkHoldTag(props),
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
  return problems;
}

function checkHoldTag(props: SnapshotPolicyProps): string[] {
  const holdTag = props.legalHoldTag ?? Tag.DEFAULT_HOLD;
  if (!Token.isUnresolved(holdTag) && props.snapshotTags && !Token.isUnresolved(props.snapshotTags) && holdTag in props.snapshotTags) {
    return [`snapshotTags must not contain the legalHoldTag key "${holdTag}": every set would be held and none ever deleted`];
  }
  return [];
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
