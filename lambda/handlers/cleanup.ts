// Lambda entry point of the clean-up with Orchestration.LAMBDA: one invocation decides and deletes.
// The schedule's event carries the slot, which a clean-up does not need: it decides against the clock.
import { defaultBuckets, Ec2Adapter } from '../adapters/ec2';
import { cleanup, CleanupReport } from '../runs/cleanup';
import { PolicyConfig, readConfig } from '../support/config';
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

export async function runCleanup(_event: unknown, context?: LambdaContext): Promise<CleanupReport> {
  const { config, ec2 } = init();
  return cleanup(ec2, config, new Date(), deadlineOf(context, config));
}
