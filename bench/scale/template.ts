// What bench/scale.ts carries out, read from a synthesized SnapshotPolicy (test/support/synthesized.ts): the run's
// and the clean-up's definitions, and the function each one's tasks invoke with its environment, Timeout and memory.
import { CLEANUP_KEEP_LAST, PLAN_BUCKET, REGION } from './settings';
import { Orchestration, Retention, SnapshotPolicy } from '../../lib';
import { Machine } from '../../test/support/state-machine-interpreter';
import { FunctionSettings, machineFunctions, stateMachine, stateMachines, synthesizeTemplate } from '../../test/support/synthesized';
import { FLEET_TAG } from '../fleet';

export interface BenchMachine {
  readonly definition: Machine;
  /** Task Resource (with tokens replaced by placeholders) to the function it invokes. */
  readonly functions: Map<string, FunctionSettings>;
  /** The one function its tasks invoke. */
  readonly fn: FunctionSettings;
}

/** The run's and the clean-up's state machines of the bench policy, told apart by the states they hold. */
export function synthesizeBench(): { run: BenchMachine; cleanup: BenchMachine } {
  const template = synthesizeTemplate((scope) => new SnapshotPolicy(scope, 'Fleet', {
    instanceTags: { [FLEET_TAG.Key]: FLEET_TAG.Value },
    orchestration: Orchestration.STEP_FUNCTIONS,
    retention: Retention.keepLast(CLEANUP_KEEP_LAST),
  }), REGION, 'ScaleBench');
  const count = stateMachines(template).length;
  if (count !== 2) throw new Error(`expected two state machines in the template, found ${count}`);
  const read = (hasState: string): BenchMachine => {
    const machine = stateMachine(template, { hasState });
    // The plan bucket is the bench's; any other token in a function's environment is an error.
    const functions = machineFunctions(template, machine, { refs: { 'AWS::S3::Bucket': PLAN_BUCKET }, strict: true });
    const fns = [...functions.values()];
    if (fns.length === 0 || new Set(fns.map((f) => f.logicalId)).size !== 1) {
      throw new Error('expected every Task of a definition to invoke the one function of its state machine');
    }
    return { definition: machine.definition as unknown as Machine, functions, fn: fns[0] };
  };
  const machines = { run: read('PlanBatches'), cleanup: read('PlanDeletions') };
  const { PLAN_BUCKET: _runBucket, ...runEnv } = machines.run.fn.environment;
  const { PLAN_BUCKET: _cleanupBucket, ...cleanupEnv } = machines.cleanup.fn.environment;
  if (JSON.stringify(runEnv) !== JSON.stringify(cleanupEnv)) throw new Error('the run and cleanup functions differ in their environment');
  return machines;
}
