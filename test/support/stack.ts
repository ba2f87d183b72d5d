// Stack helpers of the construct suites: a fresh App and Stack with a fixed env per test, one policy in it,
// and the template's logical IDs and ARNs the assertions compare with.
import { App, CfnElement, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Construct } from 'constructs';
import { SnapshotPolicy, SnapshotPolicyProps } from '../../lib';

export const ENV = { account: '123456789012', region: 'eu-west-1' };
export const INSTANCE_TAGS = { backup: 'nightly' };

export interface Built {
  readonly stack: Stack;
  readonly policy: SnapshotPolicy;
  readonly template: Template;
}

export function newStack(id = 'MyStack'): Stack {
  return new Stack(new App(), id, { env: ENV });
}

/**
 * A fresh App and Stack `MyStack` with one policy `Nightly`; `props` override the minimal valid props, and
 * `extra` adds props that need the stack (a topic, a parameter).
 */
export function build(props: Partial<SnapshotPolicyProps> = {}, extra?: (stack: Stack) => Partial<SnapshotPolicyProps>): Built {
  const stack = newStack();
  const policy = new SnapshotPolicy(stack, 'Nightly', { instanceTags: INSTANCE_TAGS, ...props, ...extra?.(stack) });
  return { stack, policy, template: Template.fromStack(stack) };
}

/** The logical ID of a construct's CloudFormation resource (the construct itself, or its default child). */
export function logicalIdOf(stack: Stack, construct: Construct): string {
  return stack.getLogicalId((CfnElement.isCfnElement(construct) ? construct : construct.node.defaultChild) as CfnElement);
}

/** The construct at `path` below the policy (`SnapshotFunction/Logs`, `Run/Logs`). */
export function child<T extends Construct>(policy: SnapshotPolicy, path: string): T {
  return path.split('/').reduce<Construct>((scope, id) => scope.node.findChild(id), policy) as T;
}

/** An EC2 ARN as the template writes it, with the partition left to CloudFormation. */
export function ec2Arn(rest: string): unknown {
  return { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:ec2:${rest}`]] };
}

export const SNAPSHOT_ARN = ec2Arn('eu-west-1::snapshot/*');

/** The exact message of a validation error of the policy `MyStack/Nightly`. */
export const INVALID_PROPS = 'invalid SnapshotPolicy props at MyStack/Nightly: ';
