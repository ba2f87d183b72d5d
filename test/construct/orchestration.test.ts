// Construct tests of SnapshotPolicy with `orchestration: Orchestration.STEP_FUNCTIONS`: the Amazon States
// Language of the run's and the clean-up's state machines (read back from the template and checked with
// asl-validator), the starter the schedules target, the plan bucket, the batch size, the IAM of every role,
// and the alarm. With the default (LAMBDA) none of these resources exist.
import { createRequire } from 'module';
import * as path from 'path';
import {
  Duration, Stack,
  aws_logs as logs, aws_s3_assets as s3assets, aws_scheduler as scheduler,
} from 'aws-cdk-lib';
import { Annotations, Capture, Match, Template } from 'aws-cdk-lib/assertions';
import { Construct } from 'constructs';
import { batchResult, deleteBatchResult } from '../../lambda/logic/batches';
import { Orchestration, SnapshotPolicy, SnapshotPolicyProps } from '../../lib';
import { allows, allStatements, asList } from '../support/iam-statements';
import { Built, INSTANCE_TAGS, SNAPSHOT_ARN, build as buildPolicy, child, ec2Arn, logicalIdOf, newStack } from '../support/stack';

const RUN_FN_DESCRIPTION = 'Plans and sends the batches of the snapshot policy\'s orchestrated runs';
const STARTER_FN_DESCRIPTION = 'Starts the run or clean-up of one slot of the snapshot policy, once';
const CLEANUP_FN_DESCRIPTION = 'Plans and deletes the batches of the snapshot policy\'s orchestrated clean-ups';
const SINGLE_CLEANUP_FN_DESCRIPTION = 'Deletes the snapshot sets that the snapshot policy no longer keeps';
const LAMBDA_ERRORS = [
  'Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException', 'Lambda.Unknown',
];

// asl-validator ships no type declarations; this is the signature of its CommonJS export (dist/src/validator.js).
interface AslError {
  readonly 'Error code': string;
  readonly 'Message': string;
}
type AslValidator = (definition: object, options?: { checkPaths: boolean; checkArn: boolean }) => {
  isValid: boolean;
  errors: AslError[];
  errorsText(separator?: string): string;
};
const validateAsl = createRequire(__filename)('asl-validator') as AslValidator;

/** A fresh App and Stack with one orchestrated policy; `props` override the minimal valid props. */
function build(props: Partial<SnapshotPolicyProps> = {}): Built {
  return buildPolicy({ orchestration: Orchestration.STEP_FUNCTIONS, ...props });
}

/** The logical id of the one resource of `type` whose properties match. */
function onlyResource(template: Template, type: string, props: object): string {
  const found = Object.keys(template.findResources(type, { Properties: props }));
  expect(found).toHaveLength(1);
  return found[0];
}

/** The statements of the one AWS::IAM::Policy attached to the role `roleId`, and that it is the only one. */
function statementsOfRole(template: Template, roleId: string): any[] {
  const attached = Object.values(template.findResources('AWS::IAM::Policy', {
    Properties: { Roles: Match.arrayWith([{ Ref: roleId }]) },
  }));
  expect(attached).toHaveLength(1);
  expect(attached[0].Properties.Roles).toEqual([{ Ref: roleId }]);
  return attached[0].Properties.PolicyDocument.Statement;
}

function roleIdOf(template: Template, functionDescription: string): string {
  const fn = Object.values(template.findResources('AWS::Lambda::Function', { Properties: { Description: functionDescription } }));
  expect(fn).toHaveLength(1);
  return fn[0].Properties.Role['Fn::GetAtt'][0];
}

/** The fake ARN a rendered definition holds in place of a function's Fn::GetAtt, so the ARN check can run. */
function functionArnOf(logicalId: string): string {
  return `arn:aws:lambda:eu-west-1:123456789012:function:${logicalId}`;
}

/**
 * A state machine's definition as JSON: the DefinitionString's Fn::Join with every function ARN replaced
 * by functionArnOf(logical id). Any other token fails the test, so a new reference is noticed here.
 */
function definitionOf(template: Template, stack: Stack, machine: Construct): any {
  const machines = template.findResources('AWS::StepFunctions::StateMachine');
  expect(Object.keys(machines)).toHaveLength(2);
  const definition = machines[logicalIdOf(stack, machine)].Properties.DefinitionString;
  const [separator, parts] = definition['Fn::Join'] as [string, unknown[]];
  const text = parts.map((part) => {
    if (typeof part === 'string') return part;
    const getAtt = (part as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt'];
    if (getAtt && getAtt[1] === 'Arn' && template.toJSON().Resources[getAtt[0]].Type === 'AWS::Lambda::Function') {
      return functionArnOf(getAtt[0]);
    }
    throw new Error(`unexpected token in the definition: ${JSON.stringify(part)}`);
  }).join(separator);
  return JSON.parse(text);
}

/** Runs asl-validator on a copy (it writes QueryLanguage into the definition it is given). */
function validate(definition: object) {
  return validateAsl(structuredClone(definition), { checkPaths: true, checkArn: true });
}

describe.each([
  {
    name: 'run',
    machine: 'stateMachine',
    fn: 'snapshotFunction',
    states: ['PlanBatches', 'ExecuteBatches', 'Report'],
    comment: 'One snapshot run of a snapshot policy, in batches',
    plan: { phase: 'plan-batches', comment: 'List the fleet once, plan one CreateSnapshots per instance, write the plan to S3 in batches' },
    report: { phase: 'report', comment: 'Add the batch results up, publish the metrics, log every failed instance' },
  },
  {
    name: 'clean-up',
    machine: 'cleanupStateMachine',
    fn: 'cleanupFunction',
    states: ['PlanDeletions', 'DeleteBatches', 'ReportCleanup'],
    comment: 'One retention clean-up of a snapshot policy, in batches',
    plan: { phase: 'plan-deletions', comment: 'List the policy\'s snapshots once, decide every set, write the expired sets to S3 in batches' },
    report: { phase: 'report-cleanup', comment: 'Add the deletion results up and publish the metrics' },
  },
] as const)('$name state machine', ({ machine, fn, states, comment, plan, report }) => {
  let definition: any;
  let fnArn: string;
  const [planState, mapState, reportState] = states;

  beforeAll(() => {
    const built = build();
    definition = definitionOf(built.template, built.stack, built.policy[machine]!);
    fnArn = functionArnOf(logicalIdOf(built.stack, built.policy[fn]));
  });

  test('plans, maps over the batches, then reports, within 12 hours', () => {
    expect(definition.StartAt).toBe(planState);
    expect(Object.keys(definition.States)).toEqual([...states]);
    expect(definition.States[planState].Next).toBe(mapState);
    expect(definition.States[mapState].Next).toBe(reportState);
    expect(definition.States[reportState].End).toBe(true);
    expect(definition.TimeoutSeconds).toBe(43_200);
    expect(definition.Comment).toBe(comment);
  });

  test('plans in its own function with the slot, keeps the plan at $.plan and retries with full jitter', () => {
    expect(definition.States[planState]).toEqual({
      Type: 'Task',
      Comment: plan.comment,
      Resource: fnArn,
      Parameters: { 'phase': plan.phase, 'slot.$': '$.slot' },
      ResultPath: '$.plan',
      Next: mapState,
      Retry: [{
        ErrorEquals: [...LAMBDA_ERRORS, 'States.TaskFailed'], IntervalSeconds: 10, MaxAttempts: 3, BackoffRate: 2, JitterStrategy: 'FULL',
      }],
    });
  });

  test('reports in its own function with the slot, the plan and every batch result', () => {
    expect(definition.States[reportState]).toEqual({
      Type: 'Task',
      Comment: report.comment,
      Resource: fnArn,
      Parameters: { 'phase': report.phase, 'slot.$': '$.slot', 'plan.$': '$.plan', 'results.$': '$.results' },
      Retry: [{
        ErrorEquals: [...LAMBDA_ERRORS, 'States.TaskFailed'], IntervalSeconds: 5, MaxAttempts: 3, BackoffRate: 2, JitterStrategy: 'FULL',
      }],
      End: true,
    });
  });

  test('is valid Amazon States Language for asl-validator', () => {
    const result = validate(definition);
    expect(result.errors).toEqual([]);
    expect(result.isValid).toBe(true);
  });
});

describe('run state machine: batches, reruns and batches not run', () => {
  let built: Built;
  let definition: any;
  let runFnArn: string;

  beforeAll(() => {
    built = build();
    definition = definitionOf(built.template, built.stack, built.policy.stateMachine!);
    runFnArn = functionArnOf(logicalIdOf(built.stack, built.policy.snapshotFunction));
  });

  test('maps over $.plan.batches one batch at a time, passing the slot, each batch ref, attempt 0 and no result so far', () => {
    const { ItemProcessor, ...map } = definition.States.ExecuteBatches;
    expect(map).toEqual({
      Type: 'Map',
      Comment: 'Batches one at a time: each uses the account-wide CreateSnapshots rate on its own',
      MaxConcurrency: 1,
      ItemsPath: '$.plan.batches',
      ItemSelector: {
        'slot.$': '$.slot',
        'index.$': '$$.Map.Item.Value.index',
        'key.$': '$$.Map.Item.Value.key',
        'size.$': '$$.Map.Item.Value.size',
        'attempt': 0,
        'previous': {},
      },
      ResultPath: '$.results',
      Next: 'Report',
    });
    expect(ItemProcessor.ProcessorConfig).toEqual({ Mode: 'INLINE' });
    expect(ItemProcessor.StartAt).toBe('ExecuteBatch');
    expect(Object.keys(ItemProcessor.States).sort()).toEqual(['BatchDone', 'BatchNotRun', 'ExecuteBatch', 'PrepareRerun', 'RerunNeeded']);
  });

  test('sends a batch again, with only the instances it did not reach and its result so far, while its result asks for a rerun', () => {
    const states = definition.States.ExecuteBatches.ItemProcessor.States;
    expect(states.ExecuteBatch.Next).toBe('RerunNeeded');
    expect(states.RerunNeeded).toEqual({
      Type: 'Choice',
      Comment: 'Did the batch leave instances it should try again?',
      Choices: [{ Variable: '$.rerun', IsPresent: true, Next: 'PrepareRerun' }],
      Default: 'BatchDone',
    });
    expect(states.PrepareRerun).toEqual({
      Type: 'Pass',
      Comment: 'The next attempt of the batch: only the instances not reached, with the result so far',
      Parameters: {
        'slot.$': '$.rerun.slot',
        'index.$': '$.rerun.index',
        'key.$': '$.rerun.key',
        'size.$': '$.rerun.size',
        'attempt.$': '$.rerun.attempt',
        'previous.$': '$',
      },
      Next: 'ExecuteBatch',
    });
    // The iteration's result is the batch's last result, as it is.
    expect(states.BatchDone).toEqual({ Type: 'Succeed' });
  });

  test('retries a batch on Lambda service errors first, then on any task failure, and catches the rest into BatchNotRun', () => {
    expect(definition.States.ExecuteBatches.ItemProcessor.States.ExecuteBatch).toEqual({
      Type: 'Task',
      Comment: 'Send one batch of planned requests under the rate limit',
      Resource: runFnArn,
      Parameters: {
        'phase': 'execute-batch', 'slot.$': '$.slot', 'index.$': '$.index', 'key.$': '$.key', 'attempt.$': '$.attempt', 'previous.$': '$.previous',
      },
      // The first retrier whose ErrorEquals matches is used: the Lambda errors must come before States.TaskFailed.
      Retry: [
        { ErrorEquals: LAMBDA_ERRORS, IntervalSeconds: 5, MaxAttempts: 4, BackoffRate: 2, JitterStrategy: 'FULL' },
        { ErrorEquals: ['States.TaskFailed'], IntervalSeconds: 30, MaxAttempts: 2, BackoffRate: 2, JitterStrategy: 'FULL' },
      ],
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'BatchNotRun' }],
      Next: 'RerunNeeded',
    });
  });

  test('reports a batch that could not run with all its instances not reached, the error name and the batch key', () => {
    expect(definition.States.ExecuteBatches.ItemProcessor.States.BatchNotRun).toEqual({
      Type: 'Pass',
      Parameters: {
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
      End: true,
    });
  });

  test('a batch that could not run carries every field of a batch result, so the report adds it up', () => {
    const passFields = Object.keys(definition.States.ExecuteBatches.ItemProcessor.States.BatchNotRun.Parameters)
      .map((k) => k.replace(/\.\$$/, ''));
    expect(passFields.sort()).toEqual([...Object.keys(batchResult(0, [], 0)), 'error', 'key', 'previous'].sort());
  });

  const errorsOf = (result: ReturnType<typeof validate>) => result.errors.map((e) => [e['Error code'], e.Message]);

  test('asl-validator rejects a copy whose Map leads to a state that does not exist', () => {
    const broken = structuredClone(definition);
    broken.States.ExecuteBatches.Next = 'Reprot';
    const result = validate(broken);
    expect(result.isValid).toBe(false);
    expect(errorsOf(result)).toEqual([
      ['MISSING_TRANSITION_TARGET', 'State Report is not reachable'],
      ['MISSING_TRANSITION_TARGET', "Missing 'StartAt'|'Next'|'Default' target: Reprot"],
    ]);
  });

  test('asl-validator rejects a copy whose batch task is neither terminal nor followed by a state', () => {
    const broken = structuredClone(definition);
    delete broken.States.ExecuteBatches.ItemProcessor.States.ExecuteBatch.Next;
    const result = validate(broken);
    expect(result.isValid).toBe(false);
    expect(errorsOf(result)).toEqual([
      ['MISSING_TRANSITION_TARGET', 'State RerunNeeded is not reachable'],
      ['TERMINAL_STATE_WITH_NEXT', 'State "ExecuteBatch" MUST contain exactly one of "End", "Next"'],
    ]);
  });

  test('asl-validator rejects a copy whose task Resource is not an ARN', () => {
    const broken = structuredClone(definition);
    broken.States.Report.Resource = 'report-function';
    const result = validate(broken);
    expect(result.isValid).toBe(false);
    expect(errorsOf(result)).toEqual([['SCHEMA_VALIDATION_FAILED', '/States/Report/Resource is invalid. must match exactly one schema in oneOf']]);
  });
});

describe('clean-up state machine: deletion batches', () => {
  let definition: any;
  let cleanupFnArn: string;

  beforeAll(() => {
    const built = build();
    definition = definitionOf(built.template, built.stack, built.policy.cleanupStateMachine!);
    cleanupFnArn = functionArnOf(logicalIdOf(built.stack, built.policy.cleanupFunction));
  });

  test('maps over $.plan.batches one batch at a time, so deletions never oversubscribe the account\'s bucket', () => {
    const { ItemProcessor, ...map } = definition.States.DeleteBatches;
    expect(map).toEqual({
      Type: 'Map',
      Comment: 'Batches one at a time: each uses the account-wide DeleteSnapshot rate on its own',
      MaxConcurrency: 1,
      ItemsPath: '$.plan.batches',
      ItemSelector: {
        'slot.$': '$.slot',
        'index.$': '$$.Map.Item.Value.index',
        'key.$': '$$.Map.Item.Value.key',
        'size.$': '$$.Map.Item.Value.size',
      },
      ResultPath: '$.results',
      Next: 'ReportCleanup',
    });
    expect(ItemProcessor.StartAt).toBe('DeleteBatch');
    expect(Object.keys(ItemProcessor.States)).toEqual(['DeleteBatch', 'DeleteBatchNotRun']);
  });

  test('retries a deletion batch like a snapshot batch and catches the rest into DeleteBatchNotRun', () => {
    expect(definition.States.DeleteBatches.ItemProcessor.States.DeleteBatch).toEqual({
      Type: 'Task',
      Comment: 'Delete one batch of expired sets under the rate limit, leaving sets put on hold since the plan',
      Resource: cleanupFnArn,
      Parameters: { 'phase': 'delete-batch', 'slot.$': '$.slot', 'index.$': '$.index', 'key.$': '$.key' },
      Retry: [
        { ErrorEquals: LAMBDA_ERRORS, IntervalSeconds: 5, MaxAttempts: 4, BackoffRate: 2, JitterStrategy: 'FULL' },
        { ErrorEquals: ['States.TaskFailed'], IntervalSeconds: 30, MaxAttempts: 2, BackoffRate: 2, JitterStrategy: 'FULL' },
      ],
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'DeleteBatchNotRun' }],
      End: true,
    });
  });

  test('reports a deletion batch that could not run with all its snapshots skipped, carrying every field of a result', () => {
    const notRun = definition.States.DeleteBatches.ItemProcessor.States.DeleteBatchNotRun;
    expect(notRun).toEqual({
      Type: 'Pass',
      Parameters: {
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
      End: true,
    });
    const fields = Object.keys(notRun.Parameters).map((k) => k.replace(/\.\$$/, ''));
    const result = deleteBatchResult(0, { setsDeleted: 0, snapshotsDeleted: 0, duplicatesDeleted: 0, snapshotsSkipped: [] }, 0, 0);
    expect(fields.sort()).toEqual([...Object.keys(result), 'error', 'key'].sort());
  });

});

describe('state machine resource', () => {
  test('logs every event without execution data to its own log group and traces with X-Ray', () => {
    const { stack, policy, template } = build();
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      LoggingConfiguration: {
        Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: stack.resolve(child<logs.LogGroup>(policy, 'Run/Logs').logGroupArn) } }],
        IncludeExecutionData: false,
        Level: 'ALL',
      },
      TracingConfiguration: { Enabled: true },
    });
  });

  test('the clean-up\'s state machine logs the same way to a log group of its own', () => {
    const { stack, policy, template } = build();
    const resources = template.toJSON().Resources;
    const { LoggingConfiguration, TracingConfiguration } = resources[logicalIdOf(stack, policy.cleanupStateMachine!)].Properties;
    expect({ LoggingConfiguration, TracingConfiguration }).toEqual({
      LoggingConfiguration: {
        Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: stack.resolve(child<logs.LogGroup>(policy, 'Cleanup/Logs').logGroupArn) } }],
        IncludeExecutionData: false,
        Level: 'ALL',
      },
      TracingConfiguration: { Enabled: true },
    });
  });

  test('keeps its logs 90 days by default and as long as logRetention says', () => {
    for (const [props, days] of [[{}, 90], [{ logRetention: logs.RetentionDays.ONE_YEAR }, 365]] as const) {
      const { stack, policy, template } = build(props);
      for (const id of ['Run/Logs', 'Cleanup/Logs']) {
        expect(template.toJSON().Resources[logicalIdOf(stack, child(policy, id))].Properties).toEqual({ RetentionInDays: days });
      }
      template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: days });
    }
  });

  test('are exposed as policy.stateMachine and policy.cleanupStateMachine', () => {
    const { stack, policy, template } = build();
    const ids = Object.keys(template.findResources('AWS::StepFunctions::StateMachine'));
    expect(ids).toHaveLength(2);
    const run = stack.resolve(policy.stateMachine!.stateMachineArn);
    const cleanup = stack.resolve(policy.cleanupStateMachine!.stateMachineArn);
    expect([run, cleanup].sort((a, b) => a.Ref.localeCompare(b.Ref))).toEqual(ids.sort().map((id) => ({ Ref: id })));
  });
});

describe('schedule and functions', () => {
  test('the snapshot schedule invokes the starter with phase start and the scheduled time as the slot', () => {
    const { template } = build();
    const input = new Capture();
    const target = new Capture();
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      Description: 'Snapshot runs of MyStack/Nightly',
      Target: { Arn: target, Input: input },
    });
    expect(target.asObject()).toEqual({ 'Fn::GetAtt': [onlyResource(template, 'AWS::Lambda::Function', { Description: STARTER_FN_DESCRIPTION }), 'Arn'] });
    expect(JSON.parse(input.asString())).toEqual({ phase: 'start', run: 'snapshots', slot: '<aws.scheduler.scheduled-time>' });
  });

  test('the clean-up schedule invokes the starter with run cleanup and the scheduled time as the slot', () => {
    const { template } = build();
    const input = new Capture();
    const target = new Capture();
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      Description: 'Retention clean-up of MyStack/Nightly',
      Target: { Arn: target, Input: input },
    });
    expect(target.asObject()).toEqual({ 'Fn::GetAtt': [onlyResource(template, 'AWS::Lambda::Function', { Description: STARTER_FN_DESCRIPTION }), 'Arn'] });
    expect(JSON.parse(input.asString())).toEqual({ phase: 'start', run: 'cleanup', slot: '<aws.scheduler.scheduled-time>' });
  });

  test('both schedules target the starter: only the state machines invoke the run and cleanup functions', () => {
    const { template } = build();
    const targets = Object.values(template.findResources('AWS::Scheduler::Schedule')).map((s) => s.Properties.Target.Arn['Fn::GetAtt'][0]);
    const starter = onlyResource(template, 'AWS::Lambda::Function', { Description: STARTER_FN_DESCRIPTION });
    expect(targets).toEqual([starter, starter]);
  });

  test('the run function, the cleanup function and the starter all run the orchestrated bundle', () => {
    const { template } = build();
    const hash = new s3assets.Asset(newStack('Other'), 'Bundle', { path: path.join(__dirname, '..', '..', 'assets', 'orchestrated') }).assetHash;
    for (const description of [RUN_FN_DESCRIPTION, STARTER_FN_DESCRIPTION, CLEANUP_FN_DESCRIPTION]) {
      template.hasResourceProperties('AWS::Lambda::Function', { Description: description, Code: { S3Key: `${hash}.zip` } });
    }
    template.resourceCountIs('AWS::Lambda::Function', 3);
  });

  test('the run and cleanup functions get the policy environment plus PLAN_BUCKET and BATCH_SIZE, the starter both state machines', () => {
    const { stack, policy, template } = build();
    const envOf = (description: string) =>
      Object.values(template.findResources('AWS::Lambda::Function', { Properties: { Description: description } }))[0].Properties.Environment.Variables;
    const single = newStack('LambdaStack');
    new SnapshotPolicy(single, 'Nightly', { instanceTags: INSTANCE_TAGS, policyName: 'MyStack/Nightly' });
    const policyEnv = Object.values(Template.fromStack(single).findResources('AWS::Lambda::Function', {
      Properties: { Description: SINGLE_CLEANUP_FN_DESCRIPTION },
    }))[0].Properties.Environment.Variables;
    expect(Object.keys(policyEnv)).toHaveLength(15);
    for (const description of [RUN_FN_DESCRIPTION, CLEANUP_FN_DESCRIPTION]) {
      expect(envOf(description)).toEqual({
        ...policyEnv,
        PLAN_BUCKET: stack.resolve(policy.planBucket!.bucketName),
        BATCH_SIZE: '2175',
      });
    }
    expect(envOf(STARTER_FN_DESCRIPTION)).toEqual({
      ...policyEnv,
      STATE_MACHINE_ARN: stack.resolve(policy.stateMachine!.stateMachineArn),
      CLEANUP_STATE_MACHINE_ARN: stack.resolve(policy.cleanupStateMachine!.stateMachineArn),
    });
  });

  test.each<[string, string, Duration | undefined, number]>([
    ['the default 15 minutes', '2175', undefined, 900],
    ['10 minutes', '1425', Duration.minutes(10), 600],
    ['5 minutes', '675', Duration.minutes(5), 300],
    ['61 seconds', '77', Duration.seconds(61), 61],
    ['1 minute', '75', Duration.minutes(1), 60],
  ])('a timeout of %s gives BATCH_SIZE floor(5 * (seconds - 30) / 2) = %s', (_name, batchSize, timeout, seconds) => {
    const { template } = build(timeout ? { timeout } : {});
    for (const description of [RUN_FN_DESCRIPTION, CLEANUP_FN_DESCRIPTION]) {
      template.hasResourceProperties('AWS::Lambda::Function', {
        Description: description,
        Timeout: seconds,
        Environment: { Variables: Match.objectLike({ BATCH_SIZE: batchSize }) },
      });
    }
    expect(Number(batchSize)).toBe(Math.floor((5 * (seconds - 30)) / 2));
  });

  test('the starter times out after 1 minute whatever the timeout prop says', () => {
    for (const timeout of [undefined, Duration.minutes(5)]) {
      const { template } = build(timeout ? { timeout } : {});
      template.hasResourceProperties('AWS::Lambda::Function', { Description: STARTER_FN_DESCRIPTION, Timeout: 60 });
    }
  });
});

describe('clean-up schedule', () => {
  test('warns at synth time when clean-ups would start with the runs and share their rate', () => {
    const { stack } = build();
    Annotations.fromStack(stack).hasWarning('/MyStack/Nightly', Match.stringLikeRegexp(
      '^orchestration is STEP_FUNCTIONS and cleanupSchedule is not set: each clean-up starts with a run and shares EC2\'s account-wide rate'));
  });

  test('gives no warning when cleanupSchedule is set, nor with Orchestration.LAMBDA', () => {
    const { stack } = build({ cleanupSchedule: scheduler.ScheduleExpression.cron({ hour: '12', minute: '0' }) });
    Annotations.fromStack(stack).hasNoWarning('*', Match.anyValue());
    const single = newStack('LambdaStack');
    new SnapshotPolicy(single, 'Nightly', { instanceTags: INSTANCE_TAGS });
    Annotations.fromStack(single).hasNoWarning('*', Match.anyValue());
  });
});

describe('plan bucket', () => {
  test('is encrypted, private, SSL-only, expires plans after 30 days and is kept on stack deletion', () => {
    const { stack, policy, template } = build();
    const id = logicalIdOf(stack, policy.planBucket!);
    expect(stack.resolve(policy.planBucket!.bucketName)).toEqual({ Ref: id });
    expect(template.toJSON().Resources[id]).toEqual({
      Type: 'AWS::S3::Bucket',
      Properties: {
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        LifecycleConfiguration: { Rules: [{ ExpirationInDays: 30, Status: 'Enabled' }] },
      },
      UpdateReplacePolicy: 'Retain',
      DeletionPolicy: 'Retain',
    });
  });

  test('its policy denies every request that is not over TLS, and grants nothing', () => {
    const { stack, policy, template } = build();
    const arn = stack.resolve(policy.planBucket!.bucketArn);
    const policies = Object.values(template.findResources('AWS::S3::BucketPolicy'));
    expect(policies).toHaveLength(1);
    expect(policies[0].Properties).toEqual({
      Bucket: stack.resolve(policy.planBucket!.bucketName),
      PolicyDocument: {
        Version: '2012-10-17',
        Statement: [{
          Action: 's3:*',
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          Effect: 'Deny',
          Principal: { AWS: '*' },
          Resource: [arn, { 'Fn::Join': ['', [arn, '/*']] }],
        }],
      },
    });
  });
});

describe('roles', () => {
  test('the run function may do what the snapshot function may in EC2, and read and write plan objects under runs/ only', () => {
    const { stack, policy, template } = build({ instanceTags: { backup: 'nightly', env: 'prod' } });
    const statements = statementsOfRole(template, roleIdOf(template, RUN_FN_DESCRIPTION));
    const ec2Statements = statements.filter((s) => asList(s.Action).every((a) => a.startsWith('ec2:')));
    // The same EC2 statements as the single-invocation snapshot function's.
    const lambdaStack = newStack('LambdaStack');
    const single = new SnapshotPolicy(lambdaStack, 'Nightly', { instanceTags: { backup: 'nightly', env: 'prod' }, policyName: 'MyStack/Nightly' });
    const singleTemplate = Template.fromStack(lambdaStack);
    const singleEc2 = statementsOfRole(singleTemplate, logicalIdOf(lambdaStack, single.snapshotFunction.role!))
      .filter((s) => asList(s.Action).every((a) => a.startsWith('ec2:')));
    expect(ec2Statements).toEqual(singleEc2);
    expect(ec2Statements.map((s) => s.Sid)).toEqual([
      'DescribeFleet', 'SnapshotTaggedInstances', 'SnapshotTheirVolumes', 'CreatePolicySnapshots', 'TagSnapshotsOnCreate',
    ]);
    expect(ec2Statements).toContainEqual({
      Sid: 'SnapshotTaggedInstances',
      Effect: 'Allow',
      Action: 'ec2:CreateSnapshots',
      Resource: ec2Arn('eu-west-1:123456789012:instance/*'),
      Condition: { StringEquals: { 'aws:ResourceTag/backup': 'nightly', 'aws:ResourceTag/env': 'prod' } },
    });
    expect(ec2Statements).toContainEqual({
      Sid: 'CreatePolicySnapshots',
      Effect: 'Allow',
      Action: 'ec2:CreateSnapshots',
      Resource: SNAPSHOT_ARN,
      Condition: { StringEquals: { 'aws:RequestTag/snapshot-policy:id': 'MyStack/Nightly' } },
    });
    const bucketArn = stack.resolve(policy.planBucket!.bucketArn);
    expect(statements.filter((s) => !ec2Statements.includes(s))).toEqual([
      { Sid: 'ReadWriteRunPlans', Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: { 'Fn::Join': ['', [bucketArn, '/runs/*']] } },
      {
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: stack.resolve(child<logs.LogGroup>(policy, 'SnapshotFunction/Logs').logGroupArn),
      },
      { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: stack.resolve(policy.deadLetterQueue.queueArn) },
    ]);
  });

  test('the clean-up function may do what the single-invocation clean-up may in EC2, and read and write plan objects under cleanups/ only', () => {
    const { stack, policy, template } = build({ policyName: 'db-nightly' });
    const statements = statementsOfRole(template, roleIdOf(template, CLEANUP_FN_DESCRIPTION));
    const ec2Statements = statements.filter((s) => asList(s.Action).every((a) => a.startsWith('ec2:')));
    const lambdaStack = newStack('LambdaStack');
    const single = new SnapshotPolicy(lambdaStack, 'Nightly', { instanceTags: INSTANCE_TAGS, policyName: 'db-nightly' });
    const singleEc2 = statementsOfRole(Template.fromStack(lambdaStack), logicalIdOf(lambdaStack, single.cleanupFunction.role!))
      .filter((s) => asList(s.Action).every((a) => a.startsWith('ec2:')));
    expect(ec2Statements).toEqual(singleEc2);
    expect(ec2Statements.map((s) => s.Sid)).toEqual(['DescribePolicySnapshots', 'DeletePolicySnapshotsOnly']);
    const bucketArn = stack.resolve(policy.planBucket!.bucketArn);
    expect(statements.filter((s) => !ec2Statements.includes(s))).toEqual([
      { Sid: 'ReadWriteCleanupPlans', Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: { 'Fn::Join': ['', [bucketArn, '/cleanups/*']] } },
      {
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: stack.resolve(child<logs.LogGroup>(policy, 'CleanupFunction/Logs').logGroupArn),
      },
      { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: stack.resolve(policy.deadLetterQueue.queueArn) },
    ]);
  });

  test('the starter may only start executions of the two state machines, and log', () => {
    const { stack, policy, template } = build();
    expect(statementsOfRole(template, roleIdOf(template, STARTER_FN_DESCRIPTION))).toEqual([
      { Effect: 'Allow', Action: 'states:StartExecution', Resource: stack.resolve(policy.stateMachine!.stateMachineArn) },
      { Effect: 'Allow', Action: 'states:StartExecution', Resource: stack.resolve(policy.cleanupStateMachine!.stateMachineArn) },
      {
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: stack.resolve(child<logs.LogGroup>(policy, 'StarterFunction/Logs').logGroupArn),
      },
      { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: stack.resolve(policy.deadLetterQueue.queueArn) },
    ]);
  });

  test.each([
    ['run', 'stateMachine', 'snapshotFunction'],
    ['clean-up', 'cleanupStateMachine', 'cleanupFunction'],
  ] as const)('the %s state machine may invoke only its own function, and deliver its logs and traces', (_name, machineProp, fnProp) => {
    const { stack, policy, template } = build();
    const stateMachine = template.toJSON().Resources[logicalIdOf(stack, policy[machineProp]!)];
    const roleId = stateMachine.Properties.RoleArn['Fn::GetAtt'][0];
    expect(template.toJSON().Resources[roleId].Properties).toEqual({
      AssumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'states.amazonaws.com' } }],
      },
    });
    const fnArn = stack.resolve(policy[fnProp].functionArn);
    expect(statementsOfRole(template, roleId)).toEqual([
      { Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: [fnArn, { 'Fn::Join': ['', [fnArn, ':*']] }] },
      {
        Effect: 'Allow',
        Action: [
          'logs:CreateLogDelivery', 'logs:GetLogDelivery', 'logs:UpdateLogDelivery', 'logs:DeleteLogDelivery',
          'logs:ListLogDeliveries', 'logs:PutResourcePolicy', 'logs:DescribeResourcePolicies', 'logs:DescribeLogGroups',
        ],
        Resource: '*',
      },
      {
        Effect: 'Allow',
        Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords', 'xray:GetSamplingRules', 'xray:GetSamplingTargets'],
        Resource: '*',
      },
    ]);
  });

  test('the schedules may invoke only the starter', () => {
    const { stack, policy, template } = build();
    const roleId = logicalIdOf(stack, child(policy, 'SchedulerRole'));
    const invokable = statementsOfRole(template, roleId)
      .filter((s) => allows(s, 'lambda:InvokeFunction'))
      .flatMap((s) => asList(s.Resource))
      .filter((r: any) => r['Fn::GetAtt'])
      .map((r: any) => r['Fn::GetAtt'][0]);
    expect([...new Set(invokable)]).toEqual([onlyResource(template, 'AWS::Lambda::Function', { Description: STARTER_FN_DESCRIPTION })]);
  });

  test('there are exactly six roles, each with one policy of its own and no managed policy', () => {
    const { template } = build();
    const roles = Object.keys(template.findResources('AWS::IAM::Role'));
    expect(roles).toHaveLength(6);
    for (const roleId of roles) statementsOfRole(template, roleId);
    template.resourceCountIs('AWS::IAM::Policy', 6);
    template.resourceCountIs('AWS::IAM::ManagedPolicy', 0);
    template.allResourcesProperties('AWS::IAM::Role', { ManagedPolicyArns: Match.absent(), Policies: Match.absent() });
  });

  test('no statement in any role allows DeleteSnapshot except the clean-up function\'s, scoped to this policy id', () => {
    const { template } = build({ policyName: 'db-nightly' });
    const cleanupPolicy = Object.keys(template.findResources('AWS::IAM::Policy', {
      Properties: { Roles: [{ Ref: roleIdOf(template, CLEANUP_FN_DESCRIPTION) }] },
    }));
    expect(allStatements(template).length).toBeGreaterThan(10);
    expect(allStatements(template).filter(({ statement }) => allows(statement, 'ec2:DeleteSnapshot'))).toEqual([{
      policy: cleanupPolicy[0],
      statement: {
        Sid: 'DeletePolicySnapshotsOnly',
        Effect: 'Allow',
        Action: 'ec2:DeleteSnapshot',
        Resource: SNAPSHOT_ARN,
        Condition: { StringEquals: { 'aws:ResourceTag/snapshot-policy:id': 'db-nightly' } },
      },
    }]);
  });

  test('no statement in any role allows every action, every EC2 or S3 action, or any bucket-level S3 action', () => {
    const { template } = build();
    const wide = allStatements(template).filter(({ statement }) =>
      ['ec2:SomeActionNobodyGrants', 's3:SomeActionNobodyGrants', 'iam:PassRole', 's3:ListBucket', 's3:DeleteObject', 's3:PutBucketPolicy']
        .some((action) => allows(statement, action)));
    expect(wide).toEqual([]);
  });
});

describe('failure alarm', () => {
  test('adds the state machines\' failed and timed-out executions to the sum', () => {
    const { stack, policy, template } = build();
    const metrics = new Capture();
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { Metrics: metrics });
    const byId = Object.fromEntries((metrics.asArray() as any[]).map((m) => [m.Id, m]));
    expect(byId.expr_1.Expression).toBe(
      'FILL(failed, 0) + FILL(notReached, 0) + FILL(snapshotErrors, 0) + FILL(cleanupErrors, 0) + FILL(dlq, 0) + ' +
      'FILL(starterErrors, 0) + FILL(runsFailed, 0) + FILL(runsTimedOut, 0) + FILL(cleanupsFailed, 0) + FILL(cleanupsTimedOut, 0)');
    // CloudWatch allows at most 10 metrics in one math expression.
    expect(Object.keys(byId).filter((id) => id !== 'expr_1')).toHaveLength(10);
    expect(policy.starterFunction).toBe(child(policy, 'StarterFunction/Default'));
    expect(byId.starterErrors.MetricStat.Metric).toEqual({
      Namespace: 'AWS/Lambda', MetricName: 'Errors', Dimensions: [{ Name: 'FunctionName', Value: stack.resolve(policy.starterFunction!.functionName) }],
    });
    const runArn = stack.resolve(policy.stateMachine!.stateMachineArn);
    const cleanupArn = stack.resolve(policy.cleanupStateMachine!.stateMachineArn);
    for (const [id, metricName, stateMachineArn] of [
      ['runsFailed', 'ExecutionsFailed', runArn], ['runsTimedOut', 'ExecutionsTimedOut', runArn],
      ['cleanupsFailed', 'ExecutionsFailed', cleanupArn], ['cleanupsTimedOut', 'ExecutionsTimedOut', cleanupArn],
    ]) {
      expect(byId[id]).toEqual({
        Id: id,
        MetricStat: {
          Metric: { Namespace: 'AWS/States', MetricName: metricName, Dimensions: [{ Name: 'StateMachineArn', Value: stateMachineArn }] },
          Period: 3600,
          Stat: 'Sum',
        },
        ReturnData: false,
      });
    }
    // snapshotErrors is the run function's.
    expect(byId.snapshotErrors.MetricStat.Metric.Dimensions).toEqual([{ Name: 'FunctionName', Value: stack.resolve(policy.snapshotFunction.functionName) }]);
  });
});

describe('with the default orchestration (LAMBDA)', () => {
  test('deploys no state machine, bucket, starter or orchestration variables', () => {
    const stack = newStack();
    const policy = new SnapshotPolicy(stack, 'Nightly', { instanceTags: INSTANCE_TAGS });
    const template = Template.fromStack(stack);
    for (const type of ['AWS::StepFunctions::StateMachine', 'AWS::S3::Bucket', 'AWS::S3::BucketPolicy']) template.resourceCountIs(type, 0);
    template.resourceCountIs('AWS::Lambda::Function', 2);
    template.resourceCountIs('AWS::IAM::Role', 3);
    template.resourceCountIs('AWS::Logs::LogGroup', 2);
    for (const fn of Object.values(template.findResources('AWS::Lambda::Function'))) {
      const names = Object.keys(fn.Properties.Environment.Variables);
      expect(names.filter((n) => ['PLAN_BUCKET', 'BATCH_SIZE', 'STATE_MACHINE_ARN', 'CLEANUP_STATE_MACHINE_ARN'].includes(n))).toEqual([]);
    }
    expect(policy.stateMachine).toBeUndefined();
    expect(policy.cleanupStateMachine).toBeUndefined();
    expect(policy.planBucket).toBeUndefined();
    expect(policy.starterFunction).toBeUndefined();
    const json = JSON.stringify(template.toJSON());
    expect(json).not.toContain('states:');
    expect(json).not.toContain('"s3:');
    expect(json).not.toContain('AWS/States');
  });

  test('Orchestration.LAMBDA gives the same template as leaving orchestration out', () => {
    const explicit = newStack();
    new SnapshotPolicy(explicit, 'Nightly', { instanceTags: INSTANCE_TAGS, orchestration: Orchestration.LAMBDA });
    const implicit = newStack();
    new SnapshotPolicy(implicit, 'Nightly', { instanceTags: INSTANCE_TAGS });
    expect(Template.fromStack(explicit).toJSON()).toEqual(Template.fromStack(implicit).toJSON());
  });
});

describe('deployed resources', () => {
  test('STEP_FUNCTIONS deploys exactly these resources', () => {
    const { template } = build();
    const counts: Record<string, number> = {};
    for (const r of Object.values(template.toJSON().Resources as Record<string, { Type: string }>)) {
      counts[r.Type] = (counts[r.Type] ?? 0) + 1;
    }
    expect(counts).toEqual({
      'AWS::IAM::Role': 6, // run function, clean-up function, starter, two state machines, schedules
      'AWS::IAM::Policy': 6,
      'AWS::Lambda::Function': 3,
      'AWS::Lambda::EventInvokeConfig': 3,
      'AWS::Logs::LogGroup': 5,
      'AWS::Scheduler::Schedule': 2,
      'AWS::SQS::Queue': 1,
      'AWS::SQS::QueuePolicy': 1,
      'AWS::S3::Bucket': 1,
      'AWS::S3::BucketPolicy': 1,
      'AWS::StepFunctions::StateMachine': 2,
      'AWS::CloudWatch::Alarm': 2, // the failure alarm and the protection alarm
    });
  });
});
