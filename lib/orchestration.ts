// How a run is carried out: in one Lambda invocation, or as a Step Functions execution that cuts it into
// batches for fleets too large for one invocation.
import {
  Duration, aws_lambda as lambda, aws_logs as logs, aws_stepfunctions as sfn, aws_stepfunctions_tasks as tasks,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';

/**
 * How a snapshot run is carried out.
 */
export enum Orchestration {
  /**
   * One Lambda invocation plans and sends every request: the simplest and cheapest, for fleets up to
   * about 4,000 instances (EC2's CreateSnapshots rate of 5 per second over Lambda's 15 minutes).
   */
  LAMBDA = 'LAMBDA',
  /**
   * A Step Functions execution per slot (named after the slot, so a duplicated invocation cannot start a
   * second run): one step plans the run and writes it to S3 in batches sized to the rate budget, a Map
   * state sends the batches one after the other through the same executor code, with retries, and a final
   * step reports. The clean-up runs the same way on a state machine of its own. For fleets of any size;
   * costs two state machines, an S3 bucket and a few state transitions per batch.
   */
  STEP_FUNCTIONS = 'STEP_FUNCTIONS',
}

/** Lambda errors worth retrying a whole batch for: the batch is idempotent per slot. */
export const RETRYABLE_LAMBDA_ERRORS = [
  'Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException', 'Lambda.Unknown',
];

export interface RunStateMachineProps {
  readonly runFunction: lambda.IFunction;
  readonly logRetention: logs.RetentionDays;
}

/** The phases and names of one kind of batched execution: a snapshot run or a clean-up. */
interface BatchedMachineSpec {
  readonly ids: {
    readonly plan: string;
    readonly execute: string;
    readonly notRun: string;
    readonly map: string;
    readonly report: string;
    readonly logs: string;
    readonly machine: string;
  };
  readonly phases: { readonly plan: string; readonly execute: string; readonly report: string };
  readonly comments: { readonly plan: string; readonly execute: string; readonly map: string; readonly report: string; readonly machine: string };
  /** The result of a batch the state machine could not run at all ($.index and $.size are the batch's). */
  readonly notRunResult: { [key: string]: unknown };
  /**
   * A loop in each Map iteration: while a batch's result carries `rerun`, send the batch again with only the
   * instances it did not reach, passing the result so far as `previous`. The names of its three states.
   */
  readonly rerun?: { readonly choice: string; readonly prepare: string; readonly done: string };
}

/**
 * The state machine of an orchestrated run. Batches run one at a time (MaxConcurrency 1): each batch
 * already uses the account's whole CreateSnapshots rate, so running two at once would only oversubscribe
 * the bucket and turn requests into throttling errors.
 */
export function createRunStateMachine(scope: Construct, props: RunStateMachineProps): sfn.StateMachine {
  return createBatchedMachine(scope, props, {
    ids: {
      plan: 'PlanBatches',
      execute: 'ExecuteBatch',
      notRun: 'BatchNotRun',
      map: 'ExecuteBatches',
      report: 'Report',
      logs: 'StateMachineLogs',
      machine: 'StateMachine',
    },
    phases: { plan: 'plan-batches', execute: 'execute-batch', report: 'report' },
    comments: {
      plan: 'List the fleet once, plan one CreateSnapshots per instance, write the plan to S3 in batches',
      execute: 'Send one batch of planned requests under the rate limit',
      map: 'Batches one at a time: each uses the account-wide CreateSnapshots rate on its own',
      report: 'Add the batch results up, publish the metrics, log every failed instance',
      machine: 'One snapshot run of a snapshot policy, in batches',
    },
    // A batch that failed for good counts all its instances not reached, and the run goes on; the report
    // reads the batch back (key) and names each instance, or counts it done if it has a set after all.
    notRunResult: {
      'batch.$': '$.index',
      'key.$': '$.key',
      'previous.$': '$.previous',
      'created': 0,
      'dryRunOk': 0,
      'alreadyDone': 0,
      'failed': 0,
      'notReached.$': '$.size',
      'failures': [],
      'durationMs': 0,
      'error.$': '$.error.Error',
    },
    rerun: { choice: 'RerunNeeded', prepare: 'PrepareRerun', done: 'BatchDone' },
  });
}

/**
 * The state machine of an orchestrated clean-up, for snapshot counts one invocation cannot delete (EC2's
 * DeleteSnapshot shares the CreateSnapshots bucket: 5 per second, about 4,400 per invocation). One step
 * lists and decides every set and writes the expired ones to S3 in batches; the batches delete one at a
 * time, each re-checking holds first; a final step reports.
 */
export function createCleanupStateMachine(scope: Construct, props: RunStateMachineProps): sfn.StateMachine {
  return createBatchedMachine(scope, props, {
    ids: {
      plan: 'PlanDeletions',
      execute: 'DeleteBatch',
      notRun: 'DeleteBatchNotRun',
      map: 'DeleteBatches',
      report: 'ReportCleanup',
      logs: 'CleanupStateMachineLogs',
      machine: 'CleanupStateMachine',
    },
    phases: { plan: 'plan-deletions', execute: 'delete-batch', report: 'report-cleanup' },
    comments: {
      plan: 'List the policy\'s snapshots once, decide every set, write the expired sets to S3 in batches',
      execute: 'Delete one batch of expired sets under the rate limit, leaving sets put on hold since the plan',
      map: 'Batches one at a time: each uses the account-wide DeleteSnapshot rate on its own',
      report: 'Add the deletion results up and publish the metrics',
      machine: 'One retention clean-up of a snapshot policy, in batches',
    },
    // A batch that could not run at all leaves its snapshots in place: they are planned again next time.
    notRunResult: {
      'batch.$': '$.index',
      'key.$': '$.key',
      'setsDeleted': 0,
      'snapshotsDeleted': 0,
      'setsHeld': 0,
      'snapshotsSkipped.$': '$.size',
      'skipped': [],
      'durationMs': 0,
      'error.$': '$.error.Error',
    },
  });
}

function createBatchedMachine(scope: Construct, props: RunStateMachineProps, spec: BatchedMachineSpec): sfn.StateMachine {
  const fn = props.runFunction;
  const slot = sfn.JsonPath.stringAt('$.slot');

  const plan = new tasks.LambdaInvoke(scope, spec.ids.plan, {
    comment: spec.comments.plan,
    lambdaFunction: fn,
    payload: sfn.TaskInput.fromObject({ phase: spec.phases.plan, slot }),
    payloadResponseOnly: true,
    resultPath: '$.plan',
    retryOnServiceExceptions: false,
  });
  plan.addRetry({
    errors: [...RETRYABLE_LAMBDA_ERRORS, 'States.TaskFailed'],
    interval: Duration.seconds(10),
    backoffRate: 2,
    maxAttempts: 3,
    jitterStrategy: sfn.JitterType.FULL,
  });

  const execute = new tasks.LambdaInvoke(scope, spec.ids.execute, {
    comment: spec.comments.execute,
    lambdaFunction: fn,
    payload: sfn.TaskInput.fromObject({
      phase: spec.phases.execute,
      slot,
      index: sfn.JsonPath.numberAt('$.index'),
      key: sfn.JsonPath.stringAt('$.key'),
      ...(spec.rerun ? { attempt: sfn.JsonPath.numberAt('$.attempt'), previous: sfn.JsonPath.objectAt('$.previous') } : {}),
    }),
    payloadResponseOnly: true,
    retryOnServiceExceptions: false,
  });
  // Retrying a batch is safe: instances that already have a set for the slot are skipped, and a snapshot
  // already deleted counts as deleted.
  execute.addRetry({
    errors: RETRYABLE_LAMBDA_ERRORS,
    interval: Duration.seconds(5),
    backoffRate: 2,
    maxAttempts: 4,
    jitterStrategy: sfn.JitterType.FULL,
  });
  execute.addRetry({
    errors: ['States.TaskFailed'],
    interval: Duration.seconds(30),
    backoffRate: 2,
    maxAttempts: 2,
    jitterStrategy: sfn.JitterType.FULL,
  });
  const notRun = new sfn.Pass(scope, spec.ids.notRun, { parameters: spec.notRunResult });
  execute.addCatch(notRun, { errors: ['States.ALL'], resultPath: '$.error' });

  const batches = new sfn.Map(scope, spec.ids.map, {
    comment: spec.comments.map,
    itemsPath: '$.plan.batches',
    maxConcurrency: 1,
    itemSelector: {
      slot: sfn.JsonPath.stringAt('$.slot'),
      index: sfn.JsonPath.numberAt('$$.Map.Item.Value.index'),
      key: sfn.JsonPath.stringAt('$$.Map.Item.Value.key'),
      size: sfn.JsonPath.numberAt('$$.Map.Item.Value.size'),
      ...(spec.rerun ? { attempt: 0, previous: {} } : {}),
    },
    resultPath: '$.results',
  });
  if (spec.rerun) {
    // Instances a batch did not reach before its deadline get a fresh invocation within the same run.
    const prepare = new sfn.Pass(scope, spec.rerun.prepare, {
      comment: 'The next attempt of the batch: only the instances not reached, with the result so far',
      parameters: {
        'slot.$': '$.rerun.slot',
        'index.$': '$.rerun.index',
        'key.$': '$.rerun.key',
        'size.$': '$.rerun.size',
        'attempt.$': '$.rerun.attempt',
        'previous.$': '$',
      },
    });
    const choice = new sfn.Choice(scope, spec.rerun.choice, { comment: 'Did the batch leave instances it should try again?' })
      .when(sfn.Condition.isPresent('$.rerun'), prepare.next(execute))
      .otherwise(new sfn.Succeed(scope, spec.rerun.done));
    batches.itemProcessor(execute.next(choice));
  } else {
    batches.itemProcessor(execute);
  }

  const report = new tasks.LambdaInvoke(scope, spec.ids.report, {
    comment: spec.comments.report,
    lambdaFunction: fn,
    payload: sfn.TaskInput.fromObject({
      phase: spec.phases.report, slot, plan: sfn.JsonPath.objectAt('$.plan'), results: sfn.JsonPath.listAt('$.results'),
    }),
    payloadResponseOnly: true,
    retryOnServiceExceptions: false,
  });
  report.addRetry({
    errors: [...RETRYABLE_LAMBDA_ERRORS, 'States.TaskFailed'],
    interval: Duration.seconds(5),
    backoffRate: 2,
    maxAttempts: 3,
    jitterStrategy: sfn.JitterType.FULL,
  });

  const logGroup = new logs.LogGroup(scope, spec.ids.logs, { retention: props.logRetention });
  return new sfn.StateMachine(scope, spec.ids.machine, {
    comment: spec.comments.machine,
    definitionBody: sfn.DefinitionBody.fromChainable(plan.next(batches).next(report)),
    timeout: Duration.hours(12),
    tracingEnabled: true,
    logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
  });
}
