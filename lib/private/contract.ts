// What the construct (lib/) and the handlers (lambda/) must agree on, in one place both import: tag keys,
// environment variable names, metric names, event phases, S3 prefixes, handler entry points and defaults.
// No imports: the handler bundles take this file as it is, and a name renamed here fails to compile on
// both sides instead of drifting apart.

/** The tags the policy writes on every snapshot it creates, and the tags it reads back. */
export const Tag = {
  /** The policy's id: the clean-up only ever deletes snapshots carrying it. */
  POLICY_ID: 'snapshot-policy:id',
  /** The instance the set was made of. */
  INSTANCE_ID: 'snapshot-policy:instance-id',
  /** The schedule slot (its scheduled time, ISO-8601) the set was made for. */
  SLOT: 'snapshot-policy:slot',
  /** Users may not set tags with this prefix: the policy's own. */
  RESERVED_PREFIX: 'snapshot-policy:',
  /** The default `legalHoldTag`. */
  DEFAULT_HOLD: 'snapshot-policy:hold',
} as const;

/**
 * The marker a set's Description ends with (`[snapshot-policy <fingerprint> <instance-id> <slot>]`): written
 * once by CreateSnapshots and never changeable, it is what tells the policy's sets from snapshots that only
 * carry its tags. The construct keeps room for it in the 255 characters EC2 allows a Description.
 */
export const SetMarker = {
  PREFIX: '[snapshot-policy ',
  /** Hex digits of the policy's selector fingerprint. */
  FINGERPRINT_LENGTH: 12,
  /** The longest marker with the space before it: prefix, fingerprint, an instance id of 19, a slot of 20. */
  RESERVED_LENGTH: '[snapshot-policy '.length + 12 + 1 + 19 + 1 + 20 + 1 + 1,
  /** EC2's limit on a snapshot's Description. */
  DESCRIPTION_MAX_LENGTH: 255,
} as const;

/**
 * The environment variables the construct sets and the handlers read (`lambda/support/config.ts`, the one
 * place they are read and checked). The key is the name used in code; the value is the variable's name.
 */
export const EnvVar = {
  POLICY_ID: 'POLICY_ID',
  INSTANCE_TAGS: 'INSTANCE_TAGS',
  EXCLUDE_BOOT_VOLUME: 'EXCLUDE_BOOT_VOLUME',
  EXCLUDE_DATA_VOLUME_TAGS: 'EXCLUDE_DATA_VOLUME_TAGS',
  COPY_VOLUME_TAGS: 'COPY_VOLUME_TAGS',
  SNAPSHOT_TAGS: 'SNAPSHOT_TAGS',
  DESCRIPTION: 'DESCRIPTION',
  LOCAL_ZONE_DESTINATION: 'LOCAL_ZONE_DESTINATION',
  OUTPOST_DESTINATION: 'OUTPOST_DESTINATION',
  DRY_RUN: 'DRY_RUN',
  RETENTION: 'RETENTION',
  TIME_ZONE: 'TIME_ZONE',
  HOLD_TAG: 'HOLD_TAG',
  ORPHAN_RETENTION_SECONDS: 'ORPHAN_RETENTION_SECONDS',
  /** An instance is protected while its newest completed set is younger than this. */
  MAX_SET_AGE_SECONDS: 'MAX_SET_AGE_SECONDS',
  ERROR_GRACE_SECONDS: 'ERROR_GRACE_SECONDS',
  MUTATE_BURST: 'MUTATE_BURST',
  MUTATE_RATE_PER_SECOND: 'MUTATE_RATE_PER_SECOND',
  CONCURRENCY: 'CONCURRENCY',
  SAFETY_MARGIN_SECONDS: 'SAFETY_MARGIN_SECONDS',
  /** Orchestrated runs and clean-ups: the bucket of their batches, and a batch's size. */
  PLAN_BUCKET: 'PLAN_BUCKET',
  BATCH_SIZE: 'BATCH_SIZE',
  /** The starter: the state machines it starts. */
  STATE_MACHINE_ARN: 'STATE_MACHINE_ARN',
  CLEANUP_STATE_MACHINE_ARN: 'CLEANUP_STATE_MACHINE_ARN',
} as const;

export type EnvVarName = (typeof EnvVar)[keyof typeof EnvVar];

/** A function's environment as the construct writes it: only the names above. */
export type PolicyEnvironment = Partial<Record<EnvVarName, string>>;

/** The CloudWatch metrics the handlers publish (embedded metric format) and the construct's methods read. */
export const Metric = {
  NAMESPACE: 'SnapshotPolicy',
  /** The `service` dimension Powertools writes. */
  SERVICE: 'cdk-snapshot-policy',
  /** The dimension that tells policies apart. */
  POLICY_DIMENSION: 'PolicyId',
  SETS_CREATED: 'SetsCreated',
  INSTANCES_FAILED: 'InstancesFailed',
  INSTANCES_NOT_REACHED: 'InstancesNotReached',
  INSTANCES_ALREADY_DONE: 'InstancesAlreadyDone',
  SETS_DELETED: 'SetsDeleted',
  SNAPSHOTS_DELETED: 'SnapshotsDeleted',
  DELETES_SKIPPED: 'DeletesSkipped',
  /** Snapshots carrying the policy's id tag that are not its own sets (forged or copied tags, another selector). */
  SNAPSHOTS_UNRECOGNIZED: 'SnapshotsUnrecognized',
  /** Instances that still exist and have sets of the policy but no longer carry its tags. */
  INSTANCES_UNTAGGED: 'InstancesUntagged',
  /** Snapshots the clean-up deleted because their set already held a snapshot of the same volume. */
  DUPLICATES_DELETED: 'DuplicatesDeleted',
  /** Tagged instances whose newest completed set is younger than `maxSetAge`. */
  INSTANCES_PROTECTED: 'InstancesProtected',
  /** Tagged instances without a completed set younger than `maxSetAge`. */
  INSTANCES_UNPROTECTED: 'InstancesUnprotected',
  /** Seconds: the age of the worst tagged instance's newest completed set (from its launch when it has none). */
  MAX_LATEST_SET_AGE: 'MaxLatestSetAge',
} as const;

export type MetricName = Exclude<
  (typeof Metric)[keyof typeof Metric], typeof Metric.NAMESPACE | typeof Metric.SERVICE | typeof Metric.POLICY_DIMENSION
>;

/** The `phase` of each event a state machine sends to an orchestrated function, and the starter's. */
export const Phase = {
  START: 'start',
  PLAN_BATCHES: 'plan-batches',
  EXECUTE_BATCH: 'execute-batch',
  REPORT: 'report',
  PLAN_DELETIONS: 'plan-deletions',
  DELETE_BATCH: 'delete-batch',
  REPORT_CLEANUP: 'report-cleanup',
} as const;

export type PhaseName = (typeof Phase)[keyof typeof Phase];

/** What the starter is asked to start (`run` in its event). */
export const RunKind = {
  SNAPSHOTS: 'snapshots',
  CLEANUP: 'cleanup',
} as const;

export type RunKindName = (typeof RunKind)[keyof typeof RunKind];

/** Where in the plan bucket each role keeps its batches: each role may reach only its own prefix. */
export const PlanPrefix = {
  RUNS: 'runs',
  CLEANUPS: 'cleanups',
} as const;

/**
 * The handler bundles (`assets/<asset>/index.js`, built from `lambda/handlers/<asset>.ts`) and the export
 * each function's `handler` names.
 */
export const Handler = {
  /** `Orchestration.LAMBDA`: one invocation plans and sends a whole run. */
  SNAPSHOT_RUN: { asset: 'snapshot-run', export: 'runSnapshots' },
  /** `Orchestration.LAMBDA`: one invocation decides and deletes a whole clean-up. */
  CLEANUP: { asset: 'cleanup', export: 'runCleanup' },
  /** `Orchestration.STEP_FUNCTIONS`: the schedules' target; starts one execution per slot. */
  START: { asset: 'orchestrated', export: 'start' },
  /** `Orchestration.STEP_FUNCTIONS`: the run state machine's phases (plan-batches, execute-batch, report). */
  SNAPSHOT_PHASES: { asset: 'orchestrated', export: 'snapshotPhases' },
  /** `Orchestration.STEP_FUNCTIONS`: the clean-up state machine's phases (plan-deletions, delete-batch, report-cleanup). */
  CLEANUP_PHASES: { asset: 'orchestrated', export: 'cleanupPhases' },
} as const;

/** Defaults both sides use: the construct writes them (or leaves them out), the handlers fall back on them. */
export const Defaults = {
  /** `Retention.keepLast(7)`. */
  KEEP_LAST: 7,
  TIME_ZONE: 'UTC',
  ORPHAN_RETENTION_DAYS: 90,
  /** When the construct gives no MAX_SET_AGE_SECONDS (it always does): two daily runs. */
  MAX_SET_AGE_SECONDS: 2 * 86_400,
  /** Sets whose snapshots failed are deleted once their slot is this old. */
  ERROR_GRACE_SECONDS: 86_400,
  /** EC2's CreateSnapshots and DeleteSnapshot bucket: 100 burst, 5 per second (account-wide). */
  MUTATE_BURST: 100,
  MUTATE_RATE_PER_SECOND: 5,
  /** EC2's bucket for the paginated describe calls. */
  DESCRIBE_BURST: 100,
  DESCRIBE_RATE_PER_SECOND: 20,
  CONCURRENCY: 8,
  /** Attempts per request through the pacer, the first included. */
  MAX_ATTEMPTS: 8,
  /**
   * After a CreateSnapshots failed ambiguously (5xx, timeout, reset connection), how long EC2's listings are
   * given to show the set it may have made before "not listed" counts as "not made".
   */
  AMBIGUOUS_SETTLE_SECONDS: 5,
  /** Ambiguous failures this long after the first one waiting share its DescribeSnapshots check. */
  AMBIGUOUS_GATHER_SECONDS: 2,
  /** A run stops starting requests this long before its invocation's time is up. */
  SAFETY_MARGIN_SECONDS: 30,
  /** When no Lambda context says how long is left. */
  INVOCATION_MILLIS: 15 * 60_000,
} as const;
