// The SnapshotPolicy construct: a schedule, a snapshot function and a clean-up of expired sets for a tagged fleet.
import {
  Annotations, Duration, Names, RemovalPolicy, Stack, Tokenization,
  aws_cloudwatch as cloudwatch, aws_cloudwatch_actions as cw_actions, aws_iam as iam, aws_lambda as lambda,
  aws_logs as logs, aws_rbin as rbin, aws_s3 as s3, aws_scheduler as scheduler, aws_scheduler_targets as targets, aws_sns as sns,
  aws_sqs as sqs, aws_stepfunctions as sfn,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { Orchestration } from './orchestration';
import { BatchedExecution, CLEANUP, SNAPSHOT_RUN } from './private/batched-execution';
import { Defaults, EnvVar, Handler, Metric, Phase, PlanPrefix, PolicyEnvironment, RunKind, Tag } from './private/contract';
import { grantCleanup, grantPlans, grantSnapshot } from './private/grants';
import { defaultMaxSetAge, runScheduleOf } from './private/max-set-age';
import { HandlerEntry, PolicyFunction } from './private/policy-function';
import { registerPolicyId } from './private/policy-registry';
import { scheduleWarnings, validateProps } from './private/validation';
import { policyWidgets } from './private/widgets';
import { Retention } from './retention';
import { SnapshotDestination } from './snapshot-destination';

/** Lambda's longest invocation, and the functions' default timeout. */
const MAX_TIMEOUT = Duration.minutes(15);

/** Properties of a {@link SnapshotPolicy}. */
export interface SnapshotPolicyProps {
  /**
   * The tags that select the fleet: every instance carrying all of these tag pairs (in state pending,
   * running, stopping or stopped) gets one crash-consistent snapshot set per run.
   */
  readonly instanceTags: { [key: string]: string };

  /**
   * When snapshot runs start. The time zone of the expression is also the one retention buckets
   * (days, weeks, months) are computed in.
   * @default - every day at 03:00 UTC
   */
  readonly schedule?: scheduler.ScheduleExpression;

  /**
   * Which snapshot sets of each instance the clean-up keeps.
   * @default - Retention.keepLast(7)
   */
  readonly retention?: Retention;

  /**
   * When the clean-up runs. Clean-ups and runs draw on the same account-wide EC2 rate (5
   * CreateSnapshots or DeleteSnapshot requests per second): for large fleets, pick a time when runs are over.
   * @default - the same expression as `schedule`
   */
  readonly cleanupSchedule?: scheduler.ScheduleExpression;

  /**
   * Leave the boot (root) volume out of each set.
   * @default false
   */
  readonly excludeBootVolume?: boolean;

  /**
   * Data volumes carrying any of these tag pairs are left out of their instance's set (at most 40 per
   * instance, the CreateSnapshots limit).
   * @default - no data volume is left out
   */
  readonly excludeDataVolumeTags?: { [key: string]: string };

  /**
   * Copy each volume's tags onto its snapshot (`CopyTagsFromSource=volume`).
   * @default false
   */
  readonly copyVolumeTags?: boolean;

  /**
   * Tags added to every snapshot, besides the policy's own `snapshot-policy:*` tags (at most 47).
   * @default - only the policy's own tags
   */
  readonly snapshotTags?: { [key: string]: string };

  /**
   * The description of every snapshot (at most 183 characters: each set's marker, which tells the policy's
   * own sets from snapshots that only carry its tags, takes the rest of EC2's 255).
   * @default - "Created by cdk-snapshot-policy <policyName>"
   */
  readonly description?: string;

  /**
   * Where snapshots of instances in a Local Zone are stored.
   * @default SnapshotDestination.PARENT_REGION
   * @see https://docs.aws.amazon.com/ebs/latest/userguide/snapshots-localzones.html
   */
  readonly localZoneDestination?: SnapshotDestination;

  /**
   * Where snapshots of instances on an Outpost are stored.
   * @default SnapshotDestination.PARENT_REGION
   * @see https://docs.aws.amazon.com/ebs/latest/userguide/snapshots-outposts.html
   */
  readonly outpostDestination?: SnapshotDestination;

  /**
   * Send every CreateSnapshots and DeleteSnapshot with `DryRun`: permissions and plans are checked and
   * logged, nothing is created or deleted.
   * @default false
   */
  readonly dryRun?: boolean;

  /**
   * Whether the schedules are enabled. A disabled policy can still be run on demand.
   * @default true
   */
  readonly enabled?: boolean;

  /**
   * A stable name for this policy, written on every snapshot as the `snapshot-policy:id` tag. The
   * clean-up only ever deletes snapshots carrying it. Changing it orphans the existing snapshots.
   * Letters, digits, spaces and `_ . : / = + - @`, at most 128 characters.
   * @default - the stack name and the construct's path
   */
  readonly policyName?: string;

  /**
   * A tag key that puts a set under legal hold: a set with any snapshot carrying it is never deleted.
   * @default "snapshot-policy:hold"
   */
  readonly legalHoldTag?: string;

  /**
   * How long the sets of an instance that no longer carries the policy's tags (or no longer exists)
   * follow the retention rules before they all expire, counted from the instance's newest set.
   * @default Duration.days(90)
   */
  readonly orphanRetention?: Duration;

  /**
   * How long log events of the functions (and of the state machines, with `Orchestration.STEP_FUNCTIONS`) are kept.
   * @default logs.RetentionDays.THREE_MONTHS
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * The time limit of each function. Runs stop starting new requests shortly before it and report the
   * instances they did not reach.
   * @default Duration.minutes(15)
   */
  readonly timeout?: Duration;

  /**
   * Create a CloudWatch alarm that goes off when a run leaves an instance without a set (failed or not
   * reached), when either function fails as a whole, or when an invocation lands in the dead-letter queue.
   * @default true
   */
  readonly failureAlarm?: boolean;

  /**
   * An SNS topic the failure alarm and the protection alarm notify (on ALARM and on OK).
   * @default - no notifications
   */
  readonly notificationTopic?: sns.ITopic;

  /**
   * How old the newest completed snapshot set of a tagged instance may be before the instance counts as
   * unprotected. Every clean-up works out each tagged instance's protection (an instance with no set counts
   * from its launch) and publishes `InstancesProtected`, `InstancesUnprotected` and `MaxLatestSetAge`.
   * It must be at least 1 hour, a whole number of seconds, and longer than the longest time between two
   * runs of `schedule`.
   * @default - twice the longest time between two consecutive runs of `schedule`, and at least 1 hour: for a
   * rate expression its interval; for a cron expression the longest gap between its runs in its time zone
   * (daylight saving time included) over the calendar of one year, from January 1st of the current UTC year
   * to the first run after it, worked out at synth time (so the default of a schedule whose gaps depend on
   * the calendar, such as `3#5`, may differ from one year's synth to the next). 2 days for an `at()`
   * schedule, a schedule that is an unresolved token, and a cron expression that runs fewer than twice in
   * that year and the next. The default schedule (every day at 03:00 UTC) gives 2 days.
   */
  readonly maxSetAge?: Duration;

  /**
   * Create a CloudWatch alarm that goes off when a clean-up finds a tagged instance without a completed set
   * younger than `maxSetAge` (`InstancesUnprotected` above 0). It keeps its state between clean-ups, so it
   * stays in ALARM until a clean-up finds every instance protected.
   * @default - the value of `failureAlarm`
   */
  readonly protectionAlarm?: boolean;

  /**
   * Also create a CloudWatch dashboard of the policy with the widgets of `widgets()`.
   * @default false
   */
  readonly dashboard?: boolean;

  /**
   * Keep deleted snapshots of this policy in the Recycle Bin for this long, so a set deleted by the
   * clean-up, or by anyone, can be brought back (`aws rbin list-resources`, `aws ec2 restore-snapshot-from-recycle-bin`).
   * Creates an `AWS::Rbin::Rule` for EBS snapshots tagged with this policy's id. Between 1 and 365 days, in
   * whole days. Snapshots in the Recycle Bin are billed as snapshots.
   * @see https://docs.aws.amazon.com/ebs/latest/userguide/recycle-bin.html
   * @default - no Recycle Bin rule: deleted snapshots are gone
   */
  readonly recycleBinRetention?: Duration;

  /**
   * How each run and each clean-up is carried out: in one Lambda invocation, or as a Step Functions
   * execution in batches (for fleets beyond about 4,000 instances, or clean-ups of more than about 4,000
   * snapshots, which one invocation cannot reach within 15 minutes at EC2's CreateSnapshots and
   * DeleteSnapshot rate of 5 per second).
   * @default Orchestration.LAMBDA
   */
  readonly orchestration?: Orchestration;
}

/**
 * Backs up every EC2 instance carrying a set of tags with crash-consistent multi-volume snapshot sets
 * (one `CreateSnapshots` call per instance), on a schedule, and deletes the sets the retention rules no
 * longer keep. Instances in Regions, Local Zones and Outposts are handled by the same policy.
 */
export class SnapshotPolicy extends Construct {
  /** The function that plans and creates the snapshot sets. */
  public readonly snapshotFunction: lambda.IFunction;
  /** The function of the clean-up: it deletes the snapshot sets the retention rules no longer keep. */
  public readonly cleanupFunction: lambda.IFunction;
  /** The schedule that starts snapshot runs. */
  public readonly schedule: scheduler.ISchedule;
  /** The schedule that starts the clean-up. */
  public readonly cleanupSchedule: scheduler.ISchedule;
  /** The value of the `snapshot-policy:id` tag on every snapshot of this policy. */
  public readonly policyId: string;
  /** Invocations that failed as a whole, or that the schedules could not deliver. */
  public readonly deadLetterQueue: sqs.IQueue;
  /** The alarm on lost backups, if `failureAlarm` is on. */
  public readonly failureAlarm?: cloudwatch.IAlarm;
  /** The alarm on instances without a recent enough set (`InstancesUnprotected` above 0), if `protectionAlarm` is on. */
  public readonly protectionAlarm?: cloudwatch.IAlarm;
  /** The dashboard of the policy, if `dashboard` is on. */
  public readonly dashboard?: cloudwatch.Dashboard;
  /** The Recycle Bin rule that keeps this policy's deleted snapshots, if `recycleBinRetention` is set. */
  public readonly recycleBinRule?: rbin.CfnRule;
  /** How old an instance's newest completed set may be before the instance counts as unprotected: `maxSetAge` or its default. */
  public readonly maxSetAge: Duration;
  /** The state machine of each run, with `Orchestration.STEP_FUNCTIONS`. */
  public readonly stateMachine?: sfn.IStateMachine;
  /** The state machine of each clean-up, with `Orchestration.STEP_FUNCTIONS`. */
  public readonly cleanupStateMachine?: sfn.IStateMachine;
  /** The bucket that holds each run's plan and each clean-up's deletions in batches, with `Orchestration.STEP_FUNCTIONS`. */
  public readonly planBucket?: s3.IBucket;
  /**
   * The function both schedules invoke with `Orchestration.STEP_FUNCTIONS`: it starts one execution of the
   * run's or the clean-up's state machine per slot.
   */
  public readonly starterFunction?: lambda.IFunction;

  private readonly timeout: Duration;
  private readonly logRetention: logs.RetentionDays;

  constructor(scope: Construct, id: string, props: SnapshotPolicyProps) {
    super(scope, id);
    const now = new Date();
    validateProps(this, props, now);
    this.policyId = props.policyName ?? defaultPolicyName(this);
    registerPolicyId(this, this.policyId);
    this.timeout = props.timeout ?? MAX_TIMEOUT;
    this.logRetention = props.logRetention ?? logs.RetentionDays.THREE_MONTHS;
    this.maxSetAge = props.maxSetAge ?? defaultMaxSetAge(this.runSchedule(props), now);
    const orchestrated = (props.orchestration ?? Orchestration.LAMBDA) === Orchestration.STEP_FUNCTIONS;
    this.warnAboutChoices(props, orchestrated);

    // Functions
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.planBucket = orchestrated ? this.createPlanBucket() : undefined;
    const environment = this.policyEnvironment(props);
    this.snapshotFunction = this.createSnapshotFunction(props, environment);
    this.cleanupFunction = this.createCleanupFunction(environment);

    // Orchestration
    if (orchestrated) {
      this.stateMachine = new BatchedExecution(this, 'Run', {
        kind: SNAPSHOT_RUN, handler: this.snapshotFunction, logRetention: this.logRetention,
      }).stateMachine;
      this.cleanupStateMachine = new BatchedExecution(this, 'Cleanup', {
        kind: CLEANUP, handler: this.cleanupFunction, logRetention: this.logRetention,
      }).stateMachine;
      this.starterFunction = this.createStarter(environment, this.stateMachine, this.cleanupStateMachine);
    }

    // Schedules
    const schedules = this.createSchedules(props);
    this.schedule = schedules.run;
    this.cleanupSchedule = schedules.cleanup;

    // Alarms
    if (props.failureAlarm ?? true) this.failureAlarm = this.createFailureAlarm(props.notificationTopic);
    // Beside the failure alarm, whose expression is at CloudWatch's 10 metrics with STEP_FUNCTIONS.
    if (props.protectionAlarm ?? props.failureAlarm ?? true) this.protectionAlarm = this.createProtectionAlarm(props.notificationTopic);

    // Dashboard
    if (props.dashboard) this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { widgets: [this.widgets()] });

    // Recycle Bin
    if (props.recycleBinRetention) this.recycleBinRule = this.createRecycleBinRule(props.recycleBinRetention);
  }

  /**
   * A metric the handlers publish (namespace `SnapshotPolicy`, dimensions `service` and `PolicyId`), summed.
   * Names: SetsCreated, InstancesFailed, InstancesNotReached, InstancesAlreadyDone, SetsDeleted,
   * SnapshotsDeleted, DeletesSkipped, SnapshotsUnrecognized, InstancesUntagged, DuplicatesDeleted,
   * InstancesProtected, InstancesUnprotected, MaxLatestSetAge.
   * @default - sum over 1 hour
   */
  public metric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: Metric.NAMESPACE,
      metricName,
      dimensionsMap: { service: Metric.SERVICE, [Metric.POLICY_DIMENSION]: this.policyId },
      statistic: cloudwatch.Stats.SUM,
      period: Duration.hours(1),
      ...props,
    });
  }

  /** Snapshot sets created. */
  public metricSetsCreated(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(Metric.SETS_CREATED, props);
  }

  /** Instances whose request failed (after retries) or could not be planned. */
  public metricInstancesFailed(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(Metric.INSTANCES_FAILED, props);
  }

  /** Instances a run did not reach before its time ran out. */
  public metricInstancesNotReached(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(Metric.INSTANCES_NOT_REACHED, props);
  }

  /** Snapshot sets the clean-up deleted. */
  public metricSetsDeleted(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(Metric.SETS_DELETED, props);
  }

  /** Snapshots the clean-up left for the next run (in use by an AMI, or a failed delete). */
  public metricDeletesSkipped(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(Metric.DELETES_SKIPPED, props);
  }

  /**
   * Snapshots that carry this policy's id tag but are not its sets: tags forged or copied onto another
   * snapshot, a set re-tagged to another instance or slot, a slot in the future, or a set of another policy
   * with the same `policyName` and other `instanceTags`. The clean-up never deletes them and logs them once.
   */
  public metricSnapshotsUnrecognized(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(Metric.SNAPSHOTS_UNRECOGNIZED, props);
  }

  /**
   * Instances that have sets of this policy and still exist, but no longer carry its `instanceTags`: their
   * backups have stopped, and their sets expire after `orphanRetention`. Each is logged with its id.
   */
  public metricInstancesUntagged(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(Metric.INSTANCES_UNTAGGED, props);
  }

  /**
   * Snapshots the clean-up deleted because their set already held a snapshot of the same volume (a set made
   * twice for one slot): the oldest completed snapshot of each volume is kept.
   */
  public metricDuplicatesDeleted(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(Metric.DUPLICATES_DELETED, props);
  }

  /**
   * Tagged instances whose newest completed set is younger than `maxSetAge`. Each clean-up publishes the
   * count once, as a reading of the fleet rather than events to add up: the maximum over the period is the
   * latest reading (or the highest, when several clean-ups fall in one period), where a sum would count an
   * instance once per clean-up.
   * @default - maximum over 1 hour
   */
  public metricInstancesProtected(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(Metric.INSTANCES_PROTECTED, { statistic: cloudwatch.Stats.MAXIMUM, ...props });
  }

  /**
   * Tagged instances without a completed set younger than `maxSetAge` (none, or only older ones): each is
   * logged by the clean-up with its id, the age of its newest set and the last run's outcome for it. A
   * reading published once per clean-up, like `metricInstancesProtected()`, so its maximum.
   * @default - maximum over 1 hour
   */
  public metricInstancesUnprotected(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(Metric.INSTANCES_UNPROTECTED, { statistic: cloudwatch.Stats.MAXIMUM, ...props });
  }

  /**
   * The age in seconds of the newest completed set of the worst-off tagged instance (counted from its launch
   * when it has no set), published by every clean-up.
   * @default - maximum over 1 hour
   */
  public metricMaxLatestSetAge(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(Metric.MAX_LATEST_SET_AGE, { statistic: cloudwatch.Stats.MAXIMUM, ...props });
  }

  /**
   * Dashboard widgets of the policy, to add to a dashboard of your own (`widgets: [policy.widgets()]`):
   * a header, then rows that each fill the dashboard's width: instances protected and unprotected and the worst
   * newest-set age against `maxSetAge`; sets created, failed and not reached per run, and the clean-ups'
   * deletions, skipped deletes and duplicates deleted; the functions' errors, durations (against their
   * timeout) and throttles; with `Orchestration.STEP_FUNCTIONS`, the state machines' executions.
   */
  public widgets(): cloudwatch.IWidget[] {
    return policyWidgets(this, this.timeout);
  }

  /**
   * A statement that denies adding, changing or removing this library's own snapshot tags
   * (`snapshot-policy:id`, `snapshot-policy:instance-id`, `snapshot-policy:slot`) on any snapshot, except as
   * part of the request that creates the snapshot. Put it in a service control policy or in the permissions
   * boundary of the people and roles of the account: then nobody can re-tag an existing snapshot so that a
   * clean-up takes it for a set, or re-tag a set so that it looks older, newer or another instance's. The
   * hold tag is left out, so holds can still be put and lifted. The statement is the same for every policy.
   */
  public tagProtectionStatement(): iam.PolicyStatement {
    return new iam.PolicyStatement({
      sid: 'ProtectSnapshotPolicyTags',
      effect: iam.Effect.DENY,
      actions: ['ec2:CreateTags', 'ec2:DeleteTags'],
      // Any partition and Region, so the statement can be pasted into a service control policy as it is.
      resources: ['arn:*:ec2:*::snapshot/*'],
      conditions: {
        'ForAnyValue:StringEquals': { 'aws:TagKeys': [Tag.POLICY_ID, Tag.INSTANCE_ID, Tag.SLOT] },
        // Tags given in CreateSnapshots' own TagSpecifications carry ec2:CreateAction; later tagging does not.
        'Null': { 'ec2:CreateAction': 'true' },
      },
    });
  }

  private warnAboutChoices(props: SnapshotPolicyProps, orchestrated: boolean): void {
    const warn = (id: string, message: string) => Annotations.of(this).addWarningV2(`cdk-snapshot-policy:${id}`, message);
    if (props.dryRun) {
      warn('dryRun', 'dryRun is true: runs check permissions and log their plans, but create and delete nothing');
    }
    if (orchestrated && props.cleanupSchedule === undefined) {
      warn('cleanupScheduleShared',
        'orchestration is STEP_FUNCTIONS and cleanupSchedule is not set: each clean-up starts with a run and shares ' +
        'EC2\'s account-wide rate of 5 CreateSnapshots or DeleteSnapshot requests per second with it, so both take up to ' +
        'twice as long and late batches may not reach every instance; set cleanupSchedule to a time when runs are over');
    }
    if (!(props.failureAlarm ?? true) && !(props.protectionAlarm ?? props.failureAlarm ?? true) && props.notificationTopic) {
      warn('notificationTopicWithoutAlarm',
        'notificationTopic is set but failureAlarm is false (and so is protectionAlarm): nothing will notify the topic');
    }
    for (const { id, message } of scheduleWarnings(props, new Date())) warn(id, message);
  }

  /** What both functions read; each adds what only it needs. */
  private policyEnvironment(props: SnapshotPolicyProps): PolicyEnvironment {
    const stack = Stack.of(this);
    const retention = props.retention ?? Retention.keepLast(Defaults.KEEP_LAST);
    return {
      [EnvVar.POLICY_ID]: this.policyId,
      [EnvVar.INSTANCE_TAGS]: stack.toJsonString(props.instanceTags),
      [EnvVar.EXCLUDE_BOOT_VOLUME]: String(props.excludeBootVolume ?? false),
      [EnvVar.EXCLUDE_DATA_VOLUME_TAGS]: stack.toJsonString(props.excludeDataVolumeTags ?? {}),
      [EnvVar.COPY_VOLUME_TAGS]: String(props.copyVolumeTags ?? false),
      [EnvVar.SNAPSHOT_TAGS]: stack.toJsonString(props.snapshotTags ?? {}),
      [EnvVar.DESCRIPTION]: props.description ?? `Created by cdk-snapshot-policy ${this.policyId}`,
      [EnvVar.LOCAL_ZONE_DESTINATION]: props.localZoneDestination ?? SnapshotDestination.PARENT_REGION,
      [EnvVar.OUTPOST_DESTINATION]: props.outpostDestination ?? SnapshotDestination.PARENT_REGION,
      [EnvVar.DRY_RUN]: String(props.dryRun ?? false),
      [EnvVar.RETENTION]: JSON.stringify(retention._render()),
      [EnvVar.TIME_ZONE]: this.runSchedule(props).timeZone?.timezoneName ?? Defaults.TIME_ZONE,
      [EnvVar.HOLD_TAG]: props.legalHoldTag ?? Tag.DEFAULT_HOLD,
      [EnvVar.ORPHAN_RETENTION_SECONDS]: String((props.orphanRetention ?? Duration.days(Defaults.ORPHAN_RETENTION_DAYS)).toSeconds()),
      [EnvVar.MAX_SET_AGE_SECONDS]: Tokenization.stringifyNumber(this.maxSetAge.toSeconds()),
    };
  }

  /** With a plan bucket, the bucket and the batch size of orchestrated runs and clean-ups. */
  private batchEnvironment(): PolicyEnvironment {
    if (!this.planBucket) return {};
    // DeleteSnapshot shares the CreateSnapshots bucket, so deletion batches are sized alike.
    return { [EnvVar.PLAN_BUCKET]: this.planBucket.bucketName, [EnvVar.BATCH_SIZE]: String(batchSizeFor(this.timeout)) };
  }

  private createSnapshotFunction(props: SnapshotPolicyProps, environment: PolicyEnvironment): lambda.IFunction {
    const role = this.createFunctionRole('SnapshotRole', 'the snapshot function');
    grantSnapshot(this, role, this.policyId, props.instanceTags);
    if (this.planBucket) grantPlans(role, 'ReadWriteRunPlans', this.planBucket, PlanPrefix.RUNS);
    return this.createFunction('SnapshotFunction', role, { ...environment, ...this.batchEnvironment() }, this.planBucket
      ? { handler: Handler.SNAPSHOT_PHASES, description: 'Plans and sends the batches of the snapshot policy\'s orchestrated runs' }
      : { handler: Handler.SNAPSHOT_RUN, description: 'Creates the snapshot sets of one run of the snapshot policy' });
  }

  private createCleanupFunction(environment: PolicyEnvironment): lambda.IFunction {
    // The role's description predates the one name for the clean-up; it is kept so deployed roles stay as they are.
    const role = this.createFunctionRole('CleanupRole', 'the cleanup function');
    grantCleanup(this, role, this.policyId);
    if (this.planBucket) grantPlans(role, 'ReadWriteCleanupPlans', this.planBucket, PlanPrefix.CLEANUPS);
    return this.createFunction('CleanupFunction', role, { ...environment, ...this.batchEnvironment() }, this.planBucket
      ? { handler: Handler.CLEANUP_PHASES, description: 'Plans and deletes the batches of the snapshot policy\'s orchestrated clean-ups' }
      : { handler: Handler.CLEANUP, description: 'Deletes the snapshot sets that the snapshot policy no longer keeps' });
  }

  /** The schedules' target with `Orchestration.STEP_FUNCTIONS`: starts one execution per slot. */
  private createStarter(environment: PolicyEnvironment, run: sfn.IStateMachine, cleanup: sfn.IStateMachine): lambda.IFunction {
    const role = this.createFunctionRole('StarterRole', 'the run starter');
    run.grantStartExecution(role);
    cleanup.grantStartExecution(role);
    return this.createFunction('StarterFunction', role, {
      ...environment, [EnvVar.STATE_MACHINE_ARN]: run.stateMachineArn, [EnvVar.CLEANUP_STATE_MACHINE_ARN]: cleanup.stateMachineArn,
    }, {
      handler: Handler.START,
      description: 'Starts the run or clean-up of one slot of the snapshot policy, once',
      timeout: Duration.minutes(1),
    });
  }

  private createFunction(
    id: string, role: iam.IRole, environment: PolicyEnvironment,
    what: { readonly handler: HandlerEntry; readonly description: string; readonly timeout?: Duration },
  ): lambda.IFunction {
    return new PolicyFunction(this, id, {
      ...what,
      role,
      environment,
      timeout: what.timeout ?? this.timeout,
      logRetention: this.logRetention,
      deadLetterQueue: this.deadLetterQueue,
    }).function;
  }

  private createFunctionRole(id: string, what: string): iam.Role {
    return new iam.Role(this, id, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Role of ${what} of snapshot policy ${this.policyId}`,
    });
  }

  /** Deleted snapshots carrying this policy's id tag stay in the Recycle Bin for `retention`. */
  private createRecycleBinRule(retention: Duration): rbin.CfnRule {
    return new rbin.CfnRule(this, 'RecycleBinRule', {
      resourceType: 'EBS_SNAPSHOT',
      description: `Deleted snapshots of snapshot policy ${this.policyId}`,
      resourceTags: [{ resourceTagKey: Tag.POLICY_ID, resourceTagValue: this.policyId }],
      retentionPeriod: { retentionPeriodUnit: 'DAYS', retentionPeriodValue: retention.toDays() },
    });
  }

  private createPlanBucket(): s3.Bucket {
    return new s3.Bucket(this, 'PlanBucket', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      // Plans are working files of one run; a month is ample to investigate a run.
      lifecycleRules: [{ expiration: Duration.days(30) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }

  private runSchedule(props: SnapshotPolicyProps): scheduler.ScheduleExpression {
    return runScheduleOf(props.schedule);
  }

  /** Both schedules: to the functions themselves, or to the starter with `Orchestration.STEP_FUNCTIONS`. */
  private createSchedules(props: SnapshotPolicyProps): { run: scheduler.Schedule; cleanup: scheduler.Schedule } {
    // One role for both schedules, inside this construct (the target's default is a role at stack scope).
    const role = new iam.Role(this, 'SchedulerRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        // Only schedules of this account's default group (where the policy's schedules live) may assume it;
        // EventBridge Scheduler's confused deputy guidance scopes aws:SourceArn to the schedule group.
        conditions: {
          StringEquals: { 'aws:SourceAccount': Stack.of(this).account },
          ArnLike: { 'aws:SourceArn': Stack.of(this).formatArn({ service: 'scheduler', resource: 'schedule-group/default' }) },
        },
      }),
      description: `Role the schedules of snapshot policy ${this.policyId} invoke its functions with`,
    });
    // A run that is an hour late would be a different backup than the one planned: it goes to the
    // dead-letter queue (and so raises the alarm) instead of running late.
    const target = (fn: lambda.IFunction, input: Record<string, unknown>) => new targets.LambdaInvoke(fn, {
      role,
      retryAttempts: 2,
      maxEventAge: Duration.hours(1),
      deadLetterQueue: this.deadLetterQueue,
      input: scheduler.ScheduleTargetInput.fromObject({ ...input, slot: scheduler.ContextAttribute.scheduledTime }),
    });
    const schedule = this.runSchedule(props);
    const enabled = props.enabled ?? true;
    return {
      run: new scheduler.Schedule(this, 'Schedule', {
        schedule,
        enabled,
        description: `Snapshot runs of ${this.policyId}`,
        target: this.starterFunction
          ? target(this.starterFunction, { phase: Phase.START, run: RunKind.SNAPSHOTS }) : target(this.snapshotFunction, {}),
      }),
      cleanup: new scheduler.Schedule(this, 'CleanupSchedule', {
        schedule: props.cleanupSchedule ?? schedule,
        enabled,
        description: `Retention clean-up of ${this.policyId}`,
        target: this.starterFunction
          ? target(this.starterFunction, { phase: Phase.START, run: RunKind.CLEANUP }) : target(this.cleanupFunction, {}),
      }),
    };
  }

  private createFailureAlarm(topic?: sns.ITopic): cloudwatch.Alarm {
    const period = Duration.hours(1);
    const usingMetrics = this.alarmMetrics(period);
    const expression = new cloudwatch.MathExpression({
      label: 'Instances without a set, failed invocations and undelivered runs',
      expression: Object.keys(usingMetrics).map((id) => `FILL(${id}, 0)`).join(' + '),
      usingMetrics,
      period,
    });
    const alarm = new cloudwatch.Alarm(this, 'FailureAlarm', {
      alarmDescription: `Snapshot policy ${this.policyId}: an instance was left without a snapshot set, a run failed, ` +
        'or a run could not be delivered (see the functions\' logs and the dead-letter queue)',
      metric: expression,
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    if (topic) {
      alarm.addAlarmAction(new cw_actions.SnsAction(topic));
      alarm.addOkAction(new cw_actions.SnsAction(topic));
    }
    return alarm;
  }

  /**
   * The alarm on unprotected instances. Clean-ups publish the count once each, so missing data keeps the
   * alarm's state: treated as not breaching, it would report OK an hour after each ALARM while the
   * instances are still unprotected.
   */
  private createProtectionAlarm(topic?: sns.ITopic): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, 'ProtectionAlarm', {
      alarmDescription: `Snapshot policy ${this.policyId}: a tagged instance has no completed snapshot set younger than ` +
        `${this.maxSetAge.isUnresolved() ? 'maxSetAge' : this.maxSetAge.toHumanString()} (the clean-up's log names each such instance)`,
      metric: this.metricInstancesUnprotected({ period: Duration.hours(1) }),
      threshold: 0,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.IGNORE,
    });
    if (topic) {
      alarm.addAlarmAction(new cw_actions.SnsAction(topic));
      alarm.addOkAction(new cw_actions.SnsAction(topic));
    }
    return alarm;
  }

  /** What the failure alarm adds up: each is a backup lost or at risk. */
  private alarmMetrics(period: Duration): Record<string, cloudwatch.IMetric> {
    const sum = { period, statistic: cloudwatch.Stats.SUM };
    return {
      failed: this.metricInstancesFailed({ period }),
      notReached: this.metricInstancesNotReached({ period }),
      snapshotErrors: this.snapshotFunction.metricErrors(sum),
      cleanupErrors: this.cleanupFunction.metricErrors(sum),
      dlq: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: cloudwatch.Stats.MAXIMUM }),
      ...(this.starterFunction ? { starterErrors: this.starterFunction.metricErrors(sum) } : {}),
      ...(this.stateMachine ? { runsFailed: this.stateMachine.metricFailed(sum), runsTimedOut: this.stateMachine.metricTimedOut(sum) } : {}),
      ...(this.cleanupStateMachine
        ? { cleanupsFailed: this.cleanupStateMachine.metricFailed(sum), cleanupsTimedOut: this.cleanupStateMachine.metricTimedOut(sum) }
        : {}),
    };
  }
}

/**
 * Requests per batch of an orchestrated run: half of what EC2's CreateSnapshots refill rate allows within
 * the function's timeout, less the handlers' safety margin, so a batch ends well before the timeout even
 * when throttling and retries slow it down.
 */
function batchSizeFor(timeout: Duration): number {
  return Math.max(1, Math.floor((Defaults.MUTATE_RATE_PER_SECOND * (timeout.toSeconds() - Defaults.SAFETY_MARGIN_SECONDS)) / 2));
}

function defaultPolicyName(scope: Construct): string {
  const stack = Stack.of(scope);
  const relative = scope.node.path.slice(stack.node.path.length + 1);
  const name = `${stack.stackName}/${relative}`.replace(/[^A-Za-z0-9 _.:/=+\-@]/g, '-');
  return name.length <= 128 ? name : `${name.slice(0, 111)}-${Names.uniqueId(scope).slice(-16)}`;
}
