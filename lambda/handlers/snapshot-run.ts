// Lambda entry point of the snapshot run with Orchestration.LAMBDA: one invocation plans and sends a whole
// run. The schedule invokes it with {"slot": "<scheduled time>"}; on demand, with {} (the slot is then the
// current minute) or a slot. Any other event is refused before anything is read or called (support/events.ts).
// Orchestrated runs use the phases of orchestrated.ts instead.
import { defaultBuckets, Ec2Adapter } from '../adapters/ec2';
import { slotOf } from '../logic/plan';
import { RunReport, snapshotRun } from '../runs/snapshot-run';
import { PolicyConfig, readConfig } from '../support/config';
import { checkSnapshotRunEvent } from '../support/events';
import { deadlineOf, LambdaContext } from '../support/invocation';

export type { SnapshotEvent } from '../support/events';

let state: { config: PolicyConfig; ec2: Ec2Adapter } | undefined;

/** Created once per container; the SDK's standard retry strategy backs off on throttling and 5xx. */
function init() {
  if (!state) {
    const config = readConfig(process.env);
    state = { config, ec2: Ec2Adapter.fromEnvironment(defaultBuckets(config.mutateBurst, config.mutateRatePerSecond)) };
  }
  return state;
}

export async function runSnapshots(event: unknown, context?: LambdaContext): Promise<RunReport> {
  const now = new Date();
  const checked = checkSnapshotRunEvent(event, now);
  const { config, ec2 } = init();
  return snapshotRun(ec2, config, slotOf(checked, now), deadlineOf(context, config));
}
