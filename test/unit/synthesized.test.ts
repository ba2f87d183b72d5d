// Tests of test/support/synthesized.ts: it finds the policy's functions and state machines by what they
// contain and reads their settings and definitions the way the bench and the emulator tests need them.
import { Template } from 'aws-cdk-lib/assertions';
import { Orchestration, SnapshotPolicy } from '../../lib';
import {
  findFunction, functionEnvironment, functionSettings, joinWithPlaceholders, machineFunctions, stateMachine, stateMachines, synthesizeTemplate,
} from '../support/synthesized';

const INSTANCE_TAGS = { backup: 'nightly' };

let orchestrated: Template;
beforeAll(() => {
  orchestrated = synthesizeTemplate((scope) => new SnapshotPolicy(scope, 'Fleet', {
    instanceTags: INSTANCE_TAGS, orchestration: Orchestration.STEP_FUNCTIONS,
  }));
});

test('functionEnvironment gives the plain variables of the function with that handler', () => {
  const env = functionEnvironment(orchestrated, { handler: 'index.snapshotPhases' }, { refs: { 'AWS::S3::Bucket': 'plans' } });
  expect(JSON.parse(env.INSTANCE_TAGS)).toEqual(INSTANCE_TAGS);
  expect(env.PLAN_BUCKET).toBe('plans');
  expect(Number(env.BATCH_SIZE)).toBeGreaterThan(0);
});

test('functionEnvironment writes a placeholder for a token without a value, or throws when strict', () => {
  const env = functionEnvironment(orchestrated, { handler: 'index.start' });
  expect(env.STATE_MACHINE_ARN).toMatch(/^\$\{Ref:[A-Za-z0-9]+\}$/);
  expect(() => functionEnvironment(orchestrated, { handler: 'index.start' }, { strict: true }))
    .toThrow(/environment variable STATE_MACHINE_ARN of \w+ is a token with no value given/);
});

test('findFunction matches a Description by RegExp and throws unless exactly one function matches', () => {
  expect(findFunction(orchestrated, { description: /orchestrated clean-ups$/ }))
    .toBe(findFunction(orchestrated, { handler: 'index.cleanupPhases' }));
  expect(() => findFunction(orchestrated, { handler: 'index.nothing' })).toThrow(/expected one AWS::Lambda::Function .* found 0/);
  expect(() => findFunction(orchestrated, {})).toThrow(/found [2-9]/);
});

test('functionSettings reads the handler, Timeout, memory and architecture', () => {
  const fn = functionSettings(orchestrated, { handler: 'index.snapshotPhases' }, { refs: { 'AWS::S3::Bucket': 'plans' } });
  expect(fn).toMatchObject({ handler: 'index.snapshotPhases', memoryMb: 512, architecture: 'arm64' });
  expect(fn.timeoutSeconds).toBeGreaterThan(60);
});

test('stateMachine finds the run by a state it holds and maps its task placeholders to the run function', () => {
  expect(stateMachines(orchestrated)).toHaveLength(2);
  const run = stateMachine(orchestrated, { hasState: 'ExecuteBatch' });
  expect(run.definition.StartAt).toBe('PlanBatches');
  const functions = [...machineFunctions(orchestrated, run).values()];
  expect(new Set(functions.map((f) => f.handler))).toEqual(new Set(['index.snapshotPhases']));
  expect(() => stateMachine(orchestrated, { startAt: 'Nowhere' })).toThrow(/found 0/);
});

test('joinWithPlaceholders keeps strings and numbers each token in order', () => {
  const tokens = new Map<string, unknown>();
  expect(joinWithPlaceholders({ 'Fn::Join': ['', ['a', { Ref: 'X' }, 'b', { Ref: 'Y' }]] }, tokens)).toBe('a${token-0}b${token-1}');
  expect([...tokens.values()]).toEqual([{ Ref: 'X' }, { Ref: 'Y' }]);
  expect(joinWithPlaceholders('plain', tokens)).toBe('plain');
  expect(() => joinWithPlaceholders({ Ref: 'X' }, tokens)).toThrow(/expected a string or Fn::Join/);
});
