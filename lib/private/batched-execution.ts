// A run or a clean-up carried out as a Step Functions execution in batches: plan once, send the batches one
// at a time, report. The construct's tree namespaces the IDs (`Run/Plan`, `Cleanup/Plan`); the state names
// in the definition are the kind's own (`PlanBatches`, `PlanDeletions`), which tests and the benchmark read.
import {
  Duration, aws_lambda as lambda, aws_logs as logs, aws_stepfunctions as sfn, aws_stepfunctions_tasks as tasks,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { Phase, PhaseName } from './contract';

/** Lambda errors worth retrying a whole batch for: the batch is idempotent per slot. */
export const RETRYABLE_LAMBDA_ERRORS = [
  'Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException', 'Lambda.Unknown',
];

/** A task state: its name in the definition, the phase it sends the function, and its comment. */
interface TaskStep {
  readonly stateName: string;
  readonly phase: PhaseName;
  readonly comment: string;
}

/** What tells a snapshot run and a clean-up apart. */
export interface BatchedExecutionKind {
  readonly comment: string;
  readonly plan: TaskStep;
  readonly execute: TaskStep;
  readonly report: TaskStep;
  readonly batches: { readonly stateName: string; readonly comment: string };
  /** The state a batch goes to when it could not run at all, and the result it passes on ($.index, $.size are the batch's). */
  readonly notRun: { readonly stateName: string; readonly result: { [key: string]: unknown } };
  /**
   * While a batch's result carries `rerun`, send the batch again with only the instances it did not reach,
   * passing the result so far as `previous`.
   */
  readonly rerun: boolean;
}

/**
 * A snapshot run. Batches run one at a time (MaxConcurrency 1): each batch already uses the account's whole
 * CreateSnapshots rate, so running two at once would only oversubscribe the bucket and turn requests into
 * throttling errors.
 */
export const SNAPSHOT_RUN: BatchedExecutionKind = {
  comment: 'One snapshot run of a snapshot policy, in batches',
  plan: {
    stateName: 'PlanBatches',
    phase: Phase.PLAN_BATCHES,
    comment: 'List the fleet once, plan one CreateSnapshots per instance, write the plan to S3 in batches',
  },
  execute: { stateName: 'ExecuteBatch', phase: Phase.EXECUTE_BATCH, comment: 'Send one batch of planned requests under the rate limit' },
  report: { stateName: 'Report', phase: Phase.REPORT, comment: 'Add the batch results up, publish the metrics, log every failed instance' },
  batches: { stateName: 'ExecuteBatches', comment: 'Batches one at a time: each uses the account-wide CreateSnapshots rate on its own' },
  // A batch that failed for good counts all its instances not reached, and the run goes on; the report
  // reads the batch back (key) and names each instance, or counts it done if it has a set after all.
  notRun: {
    stateName: 'BatchNotRun',
    result: {
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
  },
  rerun: true,
};

/**
 * A clean-up, for snapshot counts one invocation cannot delete (EC2's DeleteSnapshot shares the
 * CreateSnapshots bucket: 5 per second, about 4,400 per invocation). One step lists and decides every set
 * and writes the expired ones to S3 in batches; the batches delete one at a time, each re-checking holds
 * first; a final step reports.
 */
export const CLEANUP: BatchedExecutionKind = {
  comment: 'One retention clean-up of a snapshot policy, in batches',
  plan: {
    stateName: 'PlanDeletions',
    phase: Phase.PLAN_DELETIONS,
    comment: 'List the policy\'s snapshots once, decide every set, write the expired sets to S3 in batches',
  },
  execute: {
    stateName: 'DeleteBatch',
    phase: Phase.DELETE_BATCH,
    comment: 'Delete one batch of expired sets under the rate limit, leaving sets put on hold since the plan',
  },
  report: { stateName: 'ReportCleanup', phase: Phase.REPORT_CLEANUP, comment: 'Add the deletion results up and publish the metrics' },
  batches: { stateName: 'DeleteBatches', comment: 'Batches one at a time: each uses the account-wide DeleteSnapshot rate on its own' },
  // A batch that could not run at all leaves its snapshots in place: they are planned again next time.
  notRun: {
    stateName: 'DeleteBatchNotRun',
    result: {
      'batch.$': '$.index',
      'key.$': '$.key',
      'setsDeleted': 0,
      'snapshotsDeleted': 0,
      'duplicatesDeleted': 0,
      'setsHeld': 0,
      'snapshotsSkipped.$': '$.size',
      'skipped': [],
      'durationMs': 0,
      'error.$': '$.error.Error',
    },
  },
  rerun: false,
};

export interface BatchedExecutionProps {
  readonly kind: BatchedExecutionKind;
  /** The function every task invokes, with the task's phase. */
  readonly handler: lambda.IFunction;
  readonly logRetention: logs.RetentionDays;
}

/** The state machine of one kind of batched execution, and the log group it logs to. */
export class BatchedExecution extends Construct {
  public readonly stateMachine: sfn.StateMachine;

  private readonly kind: BatchedExecutionKind;
  private readonly handler: lambda.IFunction;
  private readonly slot = sfn.JsonPath.stringAt('$.slot');

  constructor(scope: Construct, id: string, props: BatchedExecutionProps) {
    super(scope, id);
    this.kind = props.kind;
    this.handler = props.handler;
    const definition = this.plan().next(this.batches()).next(this.report());
    const logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      comment: this.kind.comment,
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      timeout: Duration.hours(12),
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
    });
  }

  private plan(): tasks.LambdaInvoke {
    const plan = this.invoke('Plan', this.kind.plan, {}, '$.plan');
    plan.addRetry(retry([...RETRYABLE_LAMBDA_ERRORS, 'States.TaskFailed'], 10, 3));
    return plan;
  }

  private batches(): sfn.Map {
    const batches = new sfn.Map(this, 'Batches', {
      stateName: this.kind.batches.stateName,
      comment: this.kind.batches.comment,
      itemsPath: '$.plan.batches',
      maxConcurrency: 1,
      itemSelector: {
        slot: this.slot,
        index: sfn.JsonPath.numberAt('$$.Map.Item.Value.index'),
        key: sfn.JsonPath.stringAt('$$.Map.Item.Value.key'),
        size: sfn.JsonPath.numberAt('$$.Map.Item.Value.size'),
        ...(this.kind.rerun ? { attempt: 0, previous: {} } : {}),
      },
      resultPath: '$.results',
    });
    const execute = this.execute();
    batches.itemProcessor(this.kind.rerun ? execute.next(this.rerunLoop(execute)) : execute);
    return batches;
  }

  private execute(): tasks.LambdaInvoke {
    const execute = this.invoke('Execute', this.kind.execute, {
      index: sfn.JsonPath.numberAt('$.index'),
      key: sfn.JsonPath.stringAt('$.key'),
      ...(this.kind.rerun ? { attempt: sfn.JsonPath.numberAt('$.attempt'), previous: sfn.JsonPath.objectAt('$.previous') } : {}),
    });
    // Retrying a batch is safe: instances that already have a set for the slot are skipped, and a snapshot
    // already deleted counts as deleted.
    execute.addRetry(retry(RETRYABLE_LAMBDA_ERRORS, 5, 4));
    execute.addRetry(retry(['States.TaskFailed'], 30, 2));
    const notRun = new sfn.Pass(this, 'NotRun', { stateName: this.kind.notRun.stateName, parameters: this.kind.notRun.result });
    execute.addCatch(notRun, { errors: ['States.ALL'], resultPath: '$.error' });
    return execute;
  }

  /** Instances a batch did not reach before its deadline get a fresh invocation within the same run. */
  private rerunLoop(execute: tasks.LambdaInvoke): sfn.Choice {
    const prepare = new sfn.Pass(this, 'PrepareRerun', {
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
    return new sfn.Choice(this, 'RerunNeeded', { comment: 'Did the batch leave instances it should try again?' })
      .when(sfn.Condition.isPresent('$.rerun'), prepare.next(execute))
      .otherwise(new sfn.Succeed(this, 'BatchDone'));
  }

  private report(): tasks.LambdaInvoke {
    const report = this.invoke('Report', this.kind.report, {
      plan: sfn.JsonPath.objectAt('$.plan'), results: sfn.JsonPath.listAt('$.results'),
    });
    report.addRetry(retry([...RETRYABLE_LAMBDA_ERRORS, 'States.TaskFailed'], 5, 3));
    return report;
  }

  /** A task that sends the function its phase, the slot and `fields`, and keeps only the function's response. */
  private invoke(id: string, step: TaskStep, fields: { [key: string]: unknown }, resultPath?: string): tasks.LambdaInvoke {
    return new tasks.LambdaInvoke(this, id, {
      stateName: step.stateName,
      comment: step.comment,
      lambdaFunction: this.handler,
      payload: sfn.TaskInput.fromObject({ phase: step.phase, slot: this.slot, ...fields }),
      payloadResponseOnly: true,
      resultPath,
      retryOnServiceExceptions: false,
    });
  }
}

function retry(errors: string[], intervalSeconds: number, maxAttempts: number): sfn.RetryProps {
  return { errors, interval: Duration.seconds(intervalSeconds), backoffRate: 2, maxAttempts, jitterStrategy: sfn.JitterType.FULL };
}
