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
   * step reports. For fleets of any size; costs a state machine, an S3 bucket and a few state transitions
   * per batch.
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

/**
 * The state machine of an orchestrated run. Batches run one at a time (MaxConcurrency 1): each batch
 * already uses the account's whole CreateSnapshots rate, so running two at once would only oversubscribe
 * the bucket and turn requests into throttling errors.
 */
export function createRunStateMachine(scope: Construct, props: RunStateMachineProps): sfn.StateMachine {
  const fn = props.runFunction;
  const slot = sfn.JsonPath.stringAt('$.slot');

  const plan = new tasks.LambdaInvoke(scope, 'PlanBatches', {
    comment: 'List the fleet once, plan one CreateSnapshots per instance, write the plan to S3 in batches',
    lambdaFunction: fn,
    payload: sfn.TaskInput.fromObject({ phase: 'plan-batches', slot }),
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

  const execute = new tasks.LambdaInvoke(scope, 'ExecuteBatch', {
    comment: 'Send one batch of planned requests under the rate limit',
    lambdaFunction: fn,
    payload: sfn.TaskInput.fromObject({
      phase: 'execute-batch', slot, index: sfn.JsonPath.numberAt('$.index'), key: sfn.JsonPath.stringAt('$.key'),
    }),
    payloadResponseOnly: true,
    retryOnServiceExceptions: false,
  });
  // Retrying a batch is safe: instances that already have a set for the slot are skipped.
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
  // A batch that could not run at all is reported with all its instances not reached, and the run goes on.
  const batchNotRun = new sfn.Pass(scope, 'BatchNotRun', {
    parameters: {
      'batch.$': '$.index',
      'created': 0,
      'dryRunOk': 0,
      'alreadyDone': 0,
      'failed': 0,
      'notReached.$': '$.size',
      'failures': [],
      'durationMs': 0,
      'error.$': '$.error.Error',
    },
  });
  execute.addCatch(batchNotRun, { errors: ['States.ALL'], resultPath: '$.error' });

  const batches = new sfn.Map(scope, 'ExecuteBatches', {
    comment: 'Batches one at a time: each uses the account-wide CreateSnapshots rate on its own',
    itemsPath: '$.plan.batches',
    maxConcurrency: 1,
    itemSelector: {
      slot: sfn.JsonPath.stringAt('$.slot'),
      index: sfn.JsonPath.numberAt('$$.Map.Item.Value.index'),
      key: sfn.JsonPath.stringAt('$$.Map.Item.Value.key'),
      size: sfn.JsonPath.numberAt('$$.Map.Item.Value.size'),
    },
    resultPath: '$.results',
  });
  batches.itemProcessor(execute);

  const report = new tasks.LambdaInvoke(scope, 'Report', {
    comment: 'Add the batch results up, publish the metrics, log every failed instance',
    lambdaFunction: fn,
    payload: sfn.TaskInput.fromObject({
      phase: 'report', slot, plan: sfn.JsonPath.objectAt('$.plan'), results: sfn.JsonPath.listAt('$.results'),
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

  const logGroup = new logs.LogGroup(scope, 'StateMachineLogs', { retention: props.logRetention });
  return new sfn.StateMachine(scope, 'StateMachine', {
    comment: 'One snapshot run of a snapshot policy, in batches',
    definitionBody: sfn.DefinitionBody.fromChainable(plan.next(batches).next(report)),
    timeout: Duration.hours(12),
    tracingEnabled: true,
    logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
  });
}
