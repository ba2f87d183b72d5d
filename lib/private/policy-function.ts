// One function of a snapshot policy: its own log group, a role statement for that log group only, the
// policy's dead-letter queue and Lambda's retries for asynchronous invocations.
import * as path from 'path';
import { Duration, aws_iam as iam, aws_lambda as lambda, aws_logs as logs, aws_sqs as sqs } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { PolicyEnvironment } from './contract';
import { checkFunctionEnvironment } from './validation';

/** A handler bundle and the export the function's `handler` names (a member of the contract's `Handler`). */
export interface HandlerEntry {
  readonly asset: string;
  readonly export: string;
}

export interface PolicyFunctionProps {
  readonly handler: HandlerEntry;
  readonly description: string;
  /** The role the function runs with; the function adds the statement for its own log group. */
  readonly role: iam.IRole;
  readonly environment: PolicyEnvironment;
  readonly timeout: Duration;
  readonly logRetention: logs.RetentionDays;
  readonly deadLetterQueue: sqs.IQueue;
}

/**
 * The function is the child `Default`, which CloudFormation logical IDs leave out: it keeps the logical ID
 * it had when it was created directly in the policy's scope.
 */
export class PolicyFunction extends Construct {
  public readonly function: lambda.Function;
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: PolicyFunctionProps) {
    super(scope, id);
    const environment = definedOnly(props.environment);
    checkFunctionEnvironment(scope, id, environment);
    this.logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention });
    // Only this function's own log group, instead of the managed policy's logs:* on every group.
    props.role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [this.logGroup.logGroupArn],
    }));
    this.function = new lambda.Function(this, 'Default', {
      description: props.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      handler: `index.${props.handler.export}`,
      code: lambda.Code.fromAsset(path.join(__dirname, '..', '..', 'assets', props.handler.asset)),
      memorySize: 512,
      timeout: props.timeout,
      role: props.role,
      environment,
      logGroup: this.logGroup,
      deadLetterQueue: props.deadLetterQueue,
    });
    // Runs are idempotent per slot (an instance with a set for the slot gets no second one), so Lambda may
    // retry a failed invocation; after that it goes to the dead-letter queue.
    this.function.configureAsyncInvoke({ retryAttempts: 2, maxEventAge: Duration.hours(1) });
  }
}

function definedOnly(environment: PolicyEnvironment): Record<string, string> {
  return Object.fromEntries(Object.entries(environment).filter(([, value]) => value !== undefined)) as Record<string, string>;
}
