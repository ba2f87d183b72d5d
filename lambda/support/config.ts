// Reads the policy's configuration from the plain environment strings the construct sets, once per
// container. A malformed value is a deployment bug, so it fails loudly with the variable's name.
import { RetentionRules } from '../logic/decide-sets';
import { Destination, Tags } from '../logic/model';

export interface PolicyConfig {
  readonly policyId: string;
  readonly instanceTags: Tags;
  readonly excludeBootVolume: boolean;
  readonly excludeDataVolumeTags: Tags;
  readonly copyVolumeTags: boolean;
  readonly snapshotTags: Tags;
  readonly description: string;
  readonly localZoneDestination: Destination;
  readonly outpostDestination: Destination;
  readonly dryRun: boolean;
  readonly retention: RetentionRules;
  readonly timeZone: string;
  /** Sets whose snapshots failed are deleted once their slot is this old. */
  readonly errorGraceSeconds: number;
  /** A set with any snapshot carrying this tag key is never deleted. */
  readonly holdTag: string;
  /** Sets of instances that no longer carry the policy's tags expire this long after their newest set. */
  readonly orphanRetentionSeconds?: number;
  /** Token bucket for CreateSnapshots and DeleteSnapshot: burst size and refill per second. */
  readonly mutateBurst: number;
  readonly mutateRatePerSecond: number;
  /** How many requests may be in flight at once. */
  readonly concurrency: number;
  /** Stop starting new requests when less than this is left of the invocation. */
  readonly safetyMarginSeconds: number;
}

type Env = Record<string, string | undefined>;

function required(env: Env, name: string): string {
  const value = env[name];
  if (value === undefined || value === '') {
    throw new Error(`environment variable ${name} is required`);
  }
  return value;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  if (value !== 'true' && value !== 'false') {
    throw new Error(`environment variable ${name} must be true or false, got ${JSON.stringify(value)}`);
  }
  return value === 'true';
}

function num(env: Env, name: string, fallback: number, min: number): number {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min) {
    throw new Error(`environment variable ${name} must be a number of at least ${min}, got ${JSON.stringify(value)}`);
  }
  return n;
}

function tags(env: Env, name: string): Tags {
  const value = env[name];
  if (value === undefined || value === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new Error(`environment variable ${name} must be a JSON object of strings, got ${JSON.stringify(value)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) ||
      Object.values(parsed).some((v) => typeof v !== 'string')) {
    throw new Error(`environment variable ${name} must be a JSON object of strings, got ${JSON.stringify(value)}`);
  }
  return parsed as Tags;
}

function timeZone(env: Env, name: string): string {
  const value = env[name] || 'UTC';
  try {
    // Checked here rather than by the first bucket the cleaner computes, which would fail without the name.
    new Intl.DateTimeFormat('en-US', { timeZone: value });
  } catch {
    throw new Error(`environment variable ${name} must be an IANA time zone, got ${JSON.stringify(value)}`);
  }
  return value;
}

function destination(env: Env, name: string): Destination {
  const value = env[name] ?? 'PARENT_REGION';
  if (value !== 'PARENT_REGION' && value !== 'LOCAL') {
    throw new Error(`environment variable ${name} must be PARENT_REGION or LOCAL, got ${JSON.stringify(value)}`);
  }
  return value;
}

const RETENTION_KEYS = ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly', 'withinSeconds'];

function retention(env: Env, name: string): RetentionRules {
  const value = env[name];
  if (value === undefined || value === '') return { last: 7 };
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new Error(`environment variable ${name} must be JSON, got ${JSON.stringify(value)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`environment variable ${name} must be a JSON object, got ${JSON.stringify(value)}`);
  }
  const rules = parsed as Record<string, unknown>;
  for (const [key, v] of Object.entries(rules)) {
    if (!RETENTION_KEYS.includes(key) || typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
      throw new Error(`environment variable ${name} has an invalid rule ${key}=${JSON.stringify(v)}`);
    }
  }
  if (!Object.values(rules).some((v) => (v as number) > 0)) {
    throw new Error(`environment variable ${name} keeps nothing: ${value}`);
  }
  return rules as RetentionRules;
}

export function readConfig(env: Env): PolicyConfig {
  const instanceTags = tags(env, 'INSTANCE_TAGS');
  if (Object.keys(instanceTags).length === 0) {
    throw new Error('environment variable INSTANCE_TAGS must name at least one tag');
  }
  return {
    policyId: required(env, 'POLICY_ID'),
    instanceTags,
    excludeBootVolume: bool(env, 'EXCLUDE_BOOT_VOLUME', false),
    excludeDataVolumeTags: tags(env, 'EXCLUDE_DATA_VOLUME_TAGS'),
    copyVolumeTags: bool(env, 'COPY_VOLUME_TAGS', false),
    snapshotTags: tags(env, 'SNAPSHOT_TAGS'),
    description: env.DESCRIPTION ?? '',
    localZoneDestination: destination(env, 'LOCAL_ZONE_DESTINATION'),
    outpostDestination: destination(env, 'OUTPOST_DESTINATION'),
    dryRun: bool(env, 'DRY_RUN', false),
    retention: retention(env, 'RETENTION'),
    timeZone: timeZone(env, 'TIME_ZONE'),
    errorGraceSeconds: num(env, 'ERROR_GRACE_SECONDS', 86_400, 0),
    holdTag: env.HOLD_TAG || 'snapshot-policy:hold',
    orphanRetentionSeconds: env.ORPHAN_RETENTION_SECONDS ? num(env, 'ORPHAN_RETENTION_SECONDS', 0, 0) : undefined,
    mutateBurst: num(env, 'MUTATE_BURST', 100, 1),
    mutateRatePerSecond: num(env, 'MUTATE_RATE_PER_SECOND', 5, 0.001),
    concurrency: num(env, 'CONCURRENCY', 8, 1),
    safetyMarginSeconds: num(env, 'SAFETY_MARGIN_SECONDS', 30, 0),
  };
}
