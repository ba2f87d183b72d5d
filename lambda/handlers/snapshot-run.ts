// Lambda entry point of the snapshot run with Orchestration.LAMBDA: one invocation plans and sends a whole
// run. The schedule invokes it with {"slot": "<scheduled time>"}; on demand, any event without a phase works
// (the slot is then the current minute). Orchestrated runs use the phases of orchestrated.ts instead.
import { defaultBuckets, Ec2Adapter } from '../adapters/ec2';
import { slotOf } from '../logic/plan';
import { RunReport, snapshotRun } from '../runs/snapshot-run';
import { PolicyConfig, readConfig } from '../support/config';
import { deadlineOf, LambdaContext } from '../support/invocation';

export interface SnapshotEvent {
  readonly slot?: string;
}

let state: { config: PolicyConfig; ec2: Ec2Adapter } | undefined;

/** Created once per container; the SDK's standard retry strategy backs off on throttling and 5xx. */
function init() {
  if (!state) {
    const config = readConfig(process.env);
    state = { config, ec2: Ec2Adapter.fromEnvironment(defaultBuckets(config.mutateBurst, config.mutateRatePerSecond)) };
  }
  return state;
}

export async function runSnapshots(event: SnapshotEvent | undefined, context?: LambdaContext): Promise<RunReport> {
  const phase = typeof event === 'object' && event !== null ? (event as { phase?: unknown }).phase : undefined;
  if (phase !== undefined) {
    // A phase here would once have planned or sent a batch only: running the whole slot instead would surprise.
    throw new Error(`runSnapshots takes no phase (it plans and sends a whole run), got phase ${JSON.stringify(phase)}`);
  }
  const { config, ec2 } = init();
  return snapshotRun(ec2, config, slotOf(event, new Date()), deadlineOf(context, config));
}
