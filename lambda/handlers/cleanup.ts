// Lambda entry point of the clean-up with Orchestration.LAMBDA: one invocation decides and deletes.
// The schedule's event carries the slot, which a clean-up does not need: it decides against the clock. The
// event is still checked (support/events.ts): {} or a slot, nothing else.
import { defaultBuckets, Ec2Adapter } from '../adapters/ec2';
import { cleanup, CleanupReport } from '../runs/cleanup';
import { PolicyConfig, readConfig } from '../support/config';
import { checkCleanupEvent } from '../support/events';
import { LambdaContext, deadlineOf } from '../support/invocation';

let state: { config: PolicyConfig; ec2: Ec2Adapter } | undefined;

/** Created once per container. */
function init() {
  if (!state) {
    const config = readConfig(process.env);
    state = { config, ec2: Ec2Adapter.fromEnvironment(defaultBuckets(config.mutateBurst, config.mutateRatePerSecond)) };
  }
  return state;
}

export async function runCleanup(event: unknown, context?: LambdaContext): Promise<CleanupReport> {
  const now = new Date();
  checkCleanupEvent(event, now);
  const { config, ec2 } = init();
  return cleanup(ec2, config, now, deadlineOf(context, config));
}
