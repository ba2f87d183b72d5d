// Reads the functions' configuration from the plain environment strings the construct sets, once per
// container: the one place any environment variable is read (by its contract name, `EnvVar`) and checked.
// Each role has its reader: readConfig (the policy, every function), readBatchConfig (the orchestrated
// phases: the plan bucket and batch size besides) and readStarterConfig (the state machines to start). A
// malformed value is a deployment bug, so it fails loudly with the variable's name.
import { Defaults, EnvVar, EnvVarName, RunKind, RunKindName, Tag } from '../../lib/private/contract';
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
  /** An instance is protected while its newest completed set is younger than this. */
  readonly maxSetAgeSeconds: number;
  /** Token bucket for CreateSnapshots and DeleteSnapshot: burst size and refill per second. */
  readonly mutateBurst: number;
  readonly mutateRatePerSecond: number;
  /** How many requests may be in flight at once. */
  readonly concurrency: number;
  /** Stop starting new requests when less than this is left of the invocation. */
  readonly safetyMarginSeconds: number;
}

type Env = Readonly<Record<string, string | undefined>>;

function required(env: Env, name: EnvVarName): string {
  const value = env[name];
  if (value === undefined || value === '') {
    throw new Error(`environment variable ${name} is required`);
  }
  return value;
}

function bool(env: Env, name: EnvVarName, fallback: boolean): boolean {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  if (value !== 'true' && value !== 'false') {
    throw new Error(`environment variable ${name} must be true or false, got ${JSON.stringify(value)}`);
  }
  return value === 'true';
}

function num(env: Env, name: EnvVarName, fallback: number, min: number): number {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min) {
    throw new Error(`environment variable ${name} must be a number of at least ${min}, got ${JSON.stringify(value)}`);
  }
  return n;
}

function tags(env: Env, name: EnvVarName): Tags {
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

function timeZone(env: Env, name: EnvVarName): string {
  const value = env[name] || Defaults.TIME_ZONE;
  try {
    // Checked here rather than by the first bucket the clean-up computes, which would fail without the name.
    new Intl.DateTimeFormat('en-US', { timeZone: value });
  } catch {
    throw new Error(`environment variable ${name} must be an IANA time zone, got ${JSON.stringify(value)}`);
  }
  return value;
}

function destination(env: Env, name: EnvVarName): Destination {
  const value = env[name] ?? 'PARENT_REGION';
  if (value !== 'PARENT_REGION' && value !== 'LOCAL') {
    throw new Error(`environment variable ${name} must be PARENT_REGION or LOCAL, got ${JSON.stringify(value)}`);
  }
  return value;
}

const RETENTION_KEYS = ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly', 'withinSeconds'];

function retention(env: Env, name: EnvVarName): RetentionRules {
  const value = env[name];
  if (value === undefined || value === '') return { last: Defaults.KEEP_LAST };
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

/** A whole number of at least `min`, required. */
function wholeNumber(env: Env, name: EnvVarName, min: number): number {
  const value = required(env, name);
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    throw new Error(`environment variable ${name} must be a whole number of at least ${min}, got ${JSON.stringify(value)}`);
  }
  return n;
}

export function readConfig(env: Env): PolicyConfig {
  const instanceTags = tags(env, EnvVar.INSTANCE_TAGS);
  if (Object.keys(instanceTags).length === 0) {
    throw new Error(`environment variable ${EnvVar.INSTANCE_TAGS} must name at least one tag`);
  }
  return {
    policyId: required(env, EnvVar.POLICY_ID),
    instanceTags,
    excludeBootVolume: bool(env, EnvVar.EXCLUDE_BOOT_VOLUME, false),
    excludeDataVolumeTags: tags(env, EnvVar.EXCLUDE_DATA_VOLUME_TAGS),
    copyVolumeTags: bool(env, EnvVar.COPY_VOLUME_TAGS, false),
    snapshotTags: tags(env, EnvVar.SNAPSHOT_TAGS),
    description: env[EnvVar.DESCRIPTION] ?? '',
    localZoneDestination: destination(env, EnvVar.LOCAL_ZONE_DESTINATION),
    outpostDestination: destination(env, EnvVar.OUTPOST_DESTINATION),
    dryRun: bool(env, EnvVar.DRY_RUN, false),
    retention: retention(env, EnvVar.RETENTION),
    timeZone: timeZone(env, EnvVar.TIME_ZONE),
    errorGraceSeconds: num(env, EnvVar.ERROR_GRACE_SECONDS, Defaults.ERROR_GRACE_SECONDS, 0),
    holdTag: env[EnvVar.HOLD_TAG] || Tag.DEFAULT_HOLD,
    orphanRetentionSeconds: env[EnvVar.ORPHAN_RETENTION_SECONDS] ? num(env, EnvVar.ORPHAN_RETENTION_SECONDS, 0, 0) : undefined,
    maxSetAgeSeconds: num(env, EnvVar.MAX_SET_AGE_SECONDS, Defaults.MAX_SET_AGE_SECONDS, 1),
    mutateBurst: num(env, EnvVar.MUTATE_BURST, Defaults.MUTATE_BURST, 1),
    mutateRatePerSecond: num(env, EnvVar.MUTATE_RATE_PER_SECOND, Defaults.MUTATE_RATE_PER_SECOND, 0.001),
    concurrency: num(env, EnvVar.CONCURRENCY, Defaults.CONCURRENCY, 1),
    safetyMarginSeconds: num(env, EnvVar.SAFETY_MARGIN_SECONDS, Defaults.SAFETY_MARGIN_SECONDS, 0),
  };
}

/** The orchestrated run's and clean-up's phases: the policy, and where and how large their batches are. */
export interface BatchConfig extends PolicyConfig {
  /** The S3 bucket of the plans' batches. */
  readonly planBucket: string;
  /** Instances per run batch, snapshots per deletion batch. */
  readonly batchSize: number;
}

export function readBatchConfig(env: Env): BatchConfig {
  return {
    ...readConfig(env),
    planBucket: required(env, EnvVar.PLAN_BUCKET),
    batchSize: wholeNumber(env, EnvVar.BATCH_SIZE, 1),
  };
}

/** The starter: the policy, and the state machine of each run kind (checked when that kind is started). */
export interface StarterConfig extends PolicyConfig {
  readonly stateMachineArns: Readonly<Partial<Record<RunKindName, string>>>;
}

const STATE_MACHINE_VARS: Record<RunKindName, EnvVarName> = {
  [RunKind.SNAPSHOTS]: EnvVar.STATE_MACHINE_ARN,
  [RunKind.CLEANUP]: EnvVar.CLEANUP_STATE_MACHINE_ARN,
};

export function readStarterConfig(env: Env): StarterConfig {
  const stateMachineArns: Partial<Record<RunKindName, string>> = {};
  for (const [run, name] of Object.entries(STATE_MACHINE_VARS) as Array<[RunKindName, EnvVarName]>) {
    if (env[name]) stateMachineArns[run] = env[name];
  }
  return { ...readConfig(env), stateMachineArns };
}

/**
 * The state machine a run kind starts. Checked on use, not on read: a starter asked only for snapshot runs
 * needs no clean-up machine.
 */
export function stateMachineArnOf(config: StarterConfig, run: RunKindName): string {
  const arn = config.stateMachineArns[run];
  if (!arn) throw new Error(`environment variable ${STATE_MACHINE_VARS[run]} is required`);
  return arn;
}
