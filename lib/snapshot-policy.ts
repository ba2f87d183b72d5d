// The SnapshotPolicy construct: a schedule, a snapshot function and a retention cleaner for a tagged fleet.
import * as path from 'path';
import {
  Annotations, ArnFormat, Duration, Names, Stack, Token,
  aws_cloudwatch as cloudwatch, aws_cloudwatch_actions as cw_actions, aws_iam as iam, aws_lambda as lambda,
  aws_logs as logs, aws_s3 as s3, aws_scheduler as scheduler, aws_scheduler_targets as targets, aws_sns as sns,
  aws_sqs as sqs, aws_stepfunctions as sfn, RemovalPolicy,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { createCleanupStateMachine, createRunStateMachine, Orchestration } from './orchestration';
import { Handler } from './private/contract';
import { Retention } from './retention';
import { SnapshotDestination } from './snapshot-destination';

/** Tag keys the policy writes on every snapshot; users may not set them in `snapshotTags`. */
const POLICY_ID_TAG = 'snapshot-policy:id';
const RESERVED_TAG_PREFIX = 'snapshot-policy:';
/** EC2 allows 50 tags per resource; the policy writes 3 of its own. */
const MAX_USER_SNAPSHOT_TAGS = 47;
const MAX_DESCRIPTION_LENGTH = 255;
const POLICY_NAME_PATTERN = /^[A-Za-z0-9 _.:/=+\-@]{1,128}$/;
/** The namespace and dimensions the handlers publish their embedded metrics under. */
const METRICS_NAMESPACE = 'SnapshotPolicy';
const METRICS_SERVICE = 'cdk-snapshot-policy';

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
   * Which snapshot sets of each instance the cleaner keeps.
   * @default - Retention.keepLast(7)
   */
  readonly retention?: Retention;

  /**
   * When the retention cleaner runs. Clean-ups and runs draw on the same account-wide EC2 rate (5
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
   * The description of every snapshot (at most 255 characters).
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
   * cleaner only ever deletes snapshots carrying it. Changing it orphans the existing snapshots.
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
   * How long log events of both functions are kept.
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
   * An SNS topic the failure alarm notifies (on ALARM and on OK).
   * @default - no notifications
   */
  readonly notificationTopic?: sns.ITopic;

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
  /** The function that deletes expired snapshot sets. */
  public readonly cleanupFunction: lambda.IFunction;
  /** The schedule that starts snapshot runs. */
  public readonly schedule: scheduler.ISchedule;
  /** The schedule that starts the cleaner. */
  public readonly cleanupSchedule: scheduler.ISchedule;
  /** The value of the `snapshot-policy:id` tag on every snapshot of this policy. */
  public readonly policyId: string;
  /** Invocations that failed as a whole, or that the schedules could not deliver. */
  public readonly deadLetterQueue: sqs.IQueue;
  /** The alarm on lost backups, if `failureAlarm` is on. */
  public readonly failureAlarm?: cloudwatch.IAlarm;
  /** The state machine of each run, with `Orchestration.STEP_FUNCTIONS`. */
  public readonly stateMachine?: sfn.IStateMachine;
  /** The state machine of each clean-up, with `Orchestration.STEP_FUNCTIONS`. */
  public readonly cleanupStateMachine?: sfn.IStateMachine;
  /** The bucket that holds each run's plan and each clean-up's deletions in batches, with `Orchestration.STEP_FUNCTIONS`. */
  public readonly planBucket?: s3.IBucket;

  constructor(scope: Construct, id: string, props: SnapshotPolicyProps) {
    super(scope, id);
    validate(props);
    const stack = Stack.of(this);

    this.policyId = props.policyName ?? defaultPolicyName(this);
    const schedule = props.schedule ?? scheduler.ScheduleExpression.cron({ hour: '3', minute: '0' });
    const retention = props.retention ?? Retention.keepLast(7);
    const logRetention = props.logRetention ?? logs.RetentionDays.THREE_MONTHS;
    const timeout = props.timeout ?? Duration.minutes(15);
    if (props.dryRun) {
      Annotations.of(this).addWarningV2('cdk-snapshot-policy:dryRun',
        'dryRun is true: runs check permissions and log their plans, but create and delete nothing');
    }

    const environment: Record<string, string> = {
      POLICY_ID: this.policyId,
      INSTANCE_TAGS: stack.toJsonString(props.instanceTags),
      EXCLUDE_BOOT_VOLUME: String(props.excludeBootVolume ?? false),
      EXCLUDE_DATA_VOLUME_TAGS: stack.toJsonString(props.excludeDataVolumeTags ?? {}),
      COPY_VOLUME_TAGS: String(props.copyVolumeTags ?? false),
      SNAPSHOT_TAGS: stack.toJsonString(props.snapshotTags ?? {}),
      DESCRIPTION: props.description ?? `Created by cdk-snapshot-policy ${this.policyId}`,
      LOCAL_ZONE_DESTINATION: props.localZoneDestination ?? SnapshotDestination.PARENT_REGION,
      OUTPOST_DESTINATION: props.outpostDestination ?? SnapshotDestination.PARENT_REGION,
      DRY_RUN: String(props.dryRun ?? false),
      RETENTION: JSON.stringify(retention._render()),
      TIME_ZONE: schedule.timeZone?.timezoneName ?? 'UTC',
      HOLD_TAG: props.legalHoldTag ?? 'snapshot-policy:hold',
      ORPHAN_RETENTION_SECONDS: String((props.orphanRetention ?? Duration.days(90)).toSeconds()),
    };

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });

    const snapshotRole = this.createFunctionRole('SnapshotRole', 'the snapshot function');
    const cleanupRole = this.createFunctionRole('CleanupRole', 'the cleanup function');
    this.grantSnapshot(snapshotRole, props.instanceTags);
    this.grantCleanup(cleanupRole);

    let runTarget: lambda.IFunction;
    let runInput: scheduler.ScheduleTargetInput;
    let cleanupTarget: lambda.IFunction;
    let cleanupInput: scheduler.ScheduleTargetInput;
    if ((props.orchestration ?? Orchestration.LAMBDA) === Orchestration.STEP_FUNCTIONS) {
      if (props.cleanupSchedule === undefined) {
        Annotations.of(this).addWarningV2('cdk-snapshot-policy:cleanupScheduleShared',
          'orchestration is STEP_FUNCTIONS and cleanupSchedule is not set: each clean-up starts with a run and shares ' +
          'EC2\'s account-wide rate of 5 CreateSnapshots or DeleteSnapshot requests per second with it, so both take up to ' +
          'twice as long and late batches may not reach every instance; set cleanupSchedule to a time when runs are over');
      }
      const bucket = new s3.Bucket(this, 'PlanBucket', {
        encryption: s3.BucketEncryption.S3_MANAGED,
        enforceSSL: true,
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        // Plans are working files of one run; a month is ample to investigate a run.
        lifecycleRules: [{ expiration: Duration.days(30) }],
        removalPolicy: RemovalPolicy.RETAIN,
      });
      // Only the plan objects, by key, and each role only its own prefix: grantRead and grantPut would add
      // List* and GetBucket* on the bucket and object lock, tagging and abort actions that no function needs.
      const grantPlans = (role: iam.Role, sid: string, prefix: string) => role.addToPrincipalPolicy(new iam.PolicyStatement({
        sid, actions: ['s3:GetObject', 's3:PutObject'], resources: [bucket.arnForObjects(`${prefix}/*`)],
      }));
      grantPlans(snapshotRole, 'ReadWriteRunPlans', 'runs');
      grantPlans(cleanupRole, 'ReadWriteCleanupPlans', 'cleanups');
      // DeleteSnapshot shares the CreateSnapshots bucket, so deletion batches are sized alike.
      const batchSize = String(batchSizeFor(timeout));
      this.snapshotFunction = this.createFunction('SnapshotFunction', Handler.SNAPSHOT_PHASES, snapshotRole,
        { ...environment, PLAN_BUCKET: bucket.bucketName, BATCH_SIZE: batchSize }, timeout, logRetention,
        'Plans and sends the batches of the snapshot policy\'s orchestrated runs');
      this.cleanupFunction = this.createFunction('CleanupFunction', Handler.CLEANUP_PHASES, cleanupRole,
        { ...environment, PLAN_BUCKET: bucket.bucketName, BATCH_SIZE: batchSize }, timeout, logRetention,
        'Plans and deletes the batches of the snapshot policy\'s orchestrated clean-ups');
      const stateMachine = createRunStateMachine(this, { runFunction: this.snapshotFunction, logRetention });
      const cleanupStateMachine = createCleanupStateMachine(this, { runFunction: this.cleanupFunction, logRetention });
      const starterRole = this.createFunctionRole('StarterRole', 'the run starter');
      stateMachine.grantStartExecution(starterRole);
      cleanupStateMachine.grantStartExecution(starterRole);
      const starter = this.createFunction('StarterFunction', Handler.START, starterRole,
        { ...environment, STATE_MACHINE_ARN: stateMachine.stateMachineArn, CLEANUP_STATE_MACHINE_ARN: cleanupStateMachine.stateMachineArn },
        Duration.minutes(1), logRetention, 'Starts the run or clean-up of one slot of the snapshot policy, once');
      runTarget = starter;
      cleanupTarget = starter;
      runInput = scheduler.ScheduleTargetInput.fromObject({ phase: 'start', run: 'snapshots', slot: scheduler.ContextAttribute.scheduledTime });
      cleanupInput = scheduler.ScheduleTargetInput.fromObject({ phase: 'start', run: 'cleanup', slot: scheduler.ContextAttribute.scheduledTime });
      this.stateMachine = stateMachine;
      this.cleanupStateMachine = cleanupStateMachine;
      this.planBucket = bucket;
    } else {
      this.snapshotFunction = this.createFunction('SnapshotFunction', Handler.SNAPSHOT_RUN, snapshotRole, environment, timeout, logRetention,
        'Creates the snapshot sets of one run of the snapshot policy');
      this.cleanupFunction = this.createFunction('CleanupFunction', Handler.CLEANUP, cleanupRole, environment, timeout, logRetention,
        'Deletes the snapshot sets that the snapshot policy no longer keeps');
      runTarget = this.snapshotFunction;
      cleanupTarget = this.cleanupFunction;
      runInput = scheduler.ScheduleTargetInput.fromObject({ slot: scheduler.ContextAttribute.scheduledTime });
      cleanupInput = runInput;
    }

    // One role for both schedules, inside this construct (the target's default is a role at stack scope).
    const schedulerRole = new iam.Role(this, 'SchedulerRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
      description: `Role the schedules of snapshot policy ${this.policyId} invoke its functions with`,
    });
    // A run that is an hour late would be a different backup than the one planned: it goes to the
    // dead-letter queue (and so raises the alarm) instead of running late.
    const targetProps = {
      role: schedulerRole, retryAttempts: 2, maxEventAge: Duration.hours(1), deadLetterQueue: this.deadLetterQueue,
    };
    this.schedule = new scheduler.Schedule(this, 'Schedule', {
      schedule,
      enabled: props.enabled ?? true,
      description: `Snapshot runs of ${this.policyId}`,
      target: new targets.LambdaInvoke(runTarget, { ...targetProps, input: runInput }),
    });
    this.cleanupSchedule = new scheduler.Schedule(this, 'CleanupSchedule', {
      schedule: props.cleanupSchedule ?? schedule,
      enabled: props.enabled ?? true,
      description: `Retention clean-up of ${this.policyId}`,
      target: new targets.LambdaInvoke(cleanupTarget, { ...targetProps, input: cleanupInput }),
    });

    if (props.failureAlarm ?? true) {
      this.failureAlarm = this.createFailureAlarm(props.notificationTopic);
    } else if (props.notificationTopic) {
      Annotations.of(this).addWarningV2('cdk-snapshot-policy:notificationTopicWithoutAlarm',
        'notificationTopic is set but failureAlarm is false: nothing will notify the topic');
    }
  }

  /**
   * A metric the handlers publish (namespace `SnapshotPolicy`, dimensions `service` and `PolicyId`), summed.
   * Names: SetsCreated, InstancesFailed, InstancesNotReached, InstancesAlreadyDone, SetsDeleted,
   * SnapshotsDeleted, DeletesSkipped.
   * @default - sum over 1 hour
   */
  public metric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName,
      dimensionsMap: { service: METRICS_SERVICE, PolicyId: this.policyId },
      statistic: cloudwatch.Stats.SUM,
      period: Duration.hours(1),
      ...props,
    });
  }

  /** Snapshot sets created. */
  public metricSetsCreated(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('SetsCreated', props);
  }

  /** Instances whose request failed (after retries) or could not be planned. */
  public metricInstancesFailed(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('InstancesFailed', props);
  }

  /** Instances a run did not reach before its time ran out. */
  public metricInstancesNotReached(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('InstancesNotReached', props);
  }

  /** Snapshot sets the cleaner deleted. */
  public metricSetsDeleted(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('SetsDeleted', props);
  }

  /** Snapshots the cleaner left for the next run (in use by an AMI, or a failed delete). */
  public metricDeletesSkipped(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('DeletesSkipped', props);
  }

  private createFailureAlarm(topic?: sns.ITopic): cloudwatch.Alarm {
    const period = Duration.hours(1);
    const usingMetrics: Record<string, cloudwatch.IMetric> = {
      failed: this.metricInstancesFailed({ period }),
      notReached: this.metricInstancesNotReached({ period }),
      snapshotErrors: this.snapshotFunction.metricErrors({ period, statistic: cloudwatch.Stats.SUM }),
      cleanupErrors: this.cleanupFunction.metricErrors({ period, statistic: cloudwatch.Stats.SUM }),
      dlq: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: cloudwatch.Stats.MAXIMUM }),
    };
    if (this.stateMachine) {
      usingMetrics.starterErrors = (this.node.findChild('StarterFunction') as lambda.IFunction)
        .metricErrors({ period, statistic: cloudwatch.Stats.SUM });
      usingMetrics.runsFailed = this.stateMachine.metricFailed({ period, statistic: cloudwatch.Stats.SUM });
      usingMetrics.runsTimedOut = this.stateMachine.metricTimedOut({ period, statistic: cloudwatch.Stats.SUM });
    }
    if (this.cleanupStateMachine) {
      usingMetrics.cleanupsFailed = this.cleanupStateMachine.metricFailed({ period, statistic: cloudwatch.Stats.SUM });
      usingMetrics.cleanupsTimedOut = this.cleanupStateMachine.metricTimedOut({ period, statistic: cloudwatch.Stats.SUM });
    }
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

  private createFunctionRole(id: string, what: string): iam.Role {
    return new iam.Role(this, id, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Role of ${what} of snapshot policy ${this.policyId}`,
    });
  }

  private createFunction(
    id: string, entry: { readonly asset: string; readonly export: string }, role: iam.Role, environment: Record<string, string>, timeout: Duration,
    retention: logs.RetentionDays, description: string,
  ): lambda.Function {
    const logGroup = new logs.LogGroup(this, `${id}Logs`, { retention });
    // Only this function's own log group, instead of the managed policy's logs:* on every group.
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [logGroup.logGroupArn],
    }));
    const fn = new lambda.Function(this, id, {
      description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      handler: `index.${entry.export}`,
      code: lambda.Code.fromAsset(path.join(__dirname, '..', 'assets', entry.asset)),
      memorySize: 512,
      timeout,
      role,
      environment,
      logGroup,
      deadLetterQueue: this.deadLetterQueue,
    });
    // Runs are idempotent per slot (an instance with a set for the slot gets no second one), so Lambda may
    // retry a failed invocation; after that it goes to the dead-letter queue.
    fn.configureAsyncInvoke({ retryAttempts: 2, maxEventAge: Duration.hours(1) });
    return fn;
  }

  private grantSnapshot(role: iam.Role, instanceTags: { [key: string]: string }): void {
    const stack = Stack.of(this);
    const arn = (resource: string, account?: string) =>
      stack.formatArn({ service: 'ec2', resource, resourceName: '*', account, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
    const snapshotArn = arn('snapshot', '');
    const statements = [
      new iam.PolicyStatement({
        sid: 'DescribeFleet',
        // Describe actions support no resource-level permissions. DescribeSnapshots finds the sets an
        // earlier invocation made for the same slot.
        actions: ['ec2:DescribeInstances', 'ec2:DescribeAvailabilityZones', 'ec2:DescribeVolumes', 'ec2:DescribeSnapshots'],
        resources: ['*'],
      }),
      new iam.PolicyStatement({
        sid: 'SnapshotTaggedInstances',
        actions: ['ec2:CreateSnapshots'],
        resources: [arn('instance')],
        conditions: { StringEquals: tagConditions('aws:ResourceTag', instanceTags) },
      }),
      new iam.PolicyStatement({
        sid: 'SnapshotTheirVolumes',
        actions: ['ec2:CreateSnapshots'],
        resources: [arn('volume')],
      }),
      new iam.PolicyStatement({
        sid: 'CreatePolicySnapshots',
        actions: ['ec2:CreateSnapshots'],
        resources: [snapshotArn],
        conditions: { StringEquals: { [`aws:RequestTag/${POLICY_ID_TAG}`]: this.policyId } },
      }),
      new iam.PolicyStatement({
        sid: 'TagSnapshotsOnCreate',
        actions: ['ec2:CreateTags'],
        resources: [snapshotArn],
        conditions: { StringEquals: { 'ec2:CreateAction': 'CreateSnapshots' } },
      }),
    ];
    statements.forEach((s) => role.addToPrincipalPolicy(s));
  }

  private grantCleanup(role: iam.Role): void {
    const stack = Stack.of(this);
    const snapshotArn = stack.formatArn({
      service: 'ec2', resource: 'snapshot', resourceName: '*', account: '', arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'DescribePolicySnapshots',
      // Describe actions support no resource-level permissions.
      actions: ['ec2:DescribeSnapshots', 'ec2:DescribeInstances'],
      resources: ['*'],
    }));
    role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'DeletePolicySnapshotsOnly',
      actions: ['ec2:DeleteSnapshot'],
      resources: [snapshotArn],
      conditions: { StringEquals: { [`aws:ResourceTag/${POLICY_ID_TAG}`]: this.policyId } },
    }));
  }
}

/**
 * Requests per batch of an orchestrated run: half of what EC2's CreateSnapshots refill rate (5 per second)
 * allows within the function's timeout, less the safety margin, so a batch ends well before the timeout
 * even when throttling and retries slow it down.
 */
function batchSizeFor(timeout: Duration): number {
  return Math.max(1, Math.floor((5 * (timeout.toSeconds() - 30)) / 2));
}

function tagConditions(prefix: string, tags: { [key: string]: string }): Record<string, string> {
  return Object.fromEntries(Object.entries(tags).map(([k, v]) => [`${prefix}/${k}`, v]));
}

function defaultPolicyName(scope: Construct): string {
  const stack = Stack.of(scope);
  const relative = scope.node.path.slice(stack.node.path.length + 1);
  const name = `${stack.stackName}/${relative}`.replace(/[^A-Za-z0-9 _.:/=+\-@]/g, '-');
  return name.length <= 128 ? name : `${name.slice(0, 111)}-${Names.uniqueId(scope).slice(-16)}`;
}

/** Checks every prop it can at synth time and throws one error listing every problem. */
function validate(props: SnapshotPolicyProps): void {
  const problems: string[] = [];
  checkTags(problems, 'instanceTags', props.instanceTags ?? {}, 1, 50);
  checkTags(problems, 'excludeDataVolumeTags', props.excludeDataVolumeTags ?? {}, 0, 50);
  checkTags(problems, 'snapshotTags', props.snapshotTags ?? {}, 0, MAX_USER_SNAPSHOT_TAGS);
  for (const key of Object.keys(props.snapshotTags ?? {})) {
    if (key.startsWith(RESERVED_TAG_PREFIX)) {
      problems.push(`snapshotTags key must not start with "${RESERVED_TAG_PREFIX}" (the policy's own tags), got "${key}"`);
    }
  }
  if (props.description !== undefined && !Token.isUnresolved(props.description) && props.description.length > MAX_DESCRIPTION_LENGTH) {
    problems.push(`description must be at most ${MAX_DESCRIPTION_LENGTH} characters, got ${props.description.length}`);
  }
  if (props.policyName !== undefined && !Token.isUnresolved(props.policyName) && !POLICY_NAME_PATTERN.test(props.policyName)) {
    problems.push(`policyName must be 1 to 128 letters, digits, spaces or _.:/=+-@, got "${props.policyName}"`);
  }
  if (props.legalHoldTag !== undefined && !Token.isUnresolved(props.legalHoldTag) &&
      (props.legalHoldTag.length < 1 || props.legalHoldTag.length > 128 || props.legalHoldTag.startsWith('aws:'))) {
    problems.push(`legalHoldTag must be a tag key of 1 to 128 characters not starting with "aws:", got "${props.legalHoldTag}"`);
  }
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
  const holdTag = props.legalHoldTag ?? 'snapshot-policy:hold';
  if (!Token.isUnresolved(holdTag) && props.snapshotTags && !Token.isUnresolved(props.snapshotTags) && holdTag in props.snapshotTags) {
    problems.push(`snapshotTags must not contain the legalHoldTag key "${holdTag}": every set would be held and none ever deleted`);
  }
  if (props.retention) problems.push(...props.retention._validate());
  if (problems.length > 0) {
    throw new Error(`invalid SnapshotPolicy props: ${problems.join('; ')}`);
  }
}

function checkTags(problems: string[], prop: string, tags: { [key: string]: string }, min: number, max: number): void {
  if (Token.isUnresolved(tags)) return;
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
}
