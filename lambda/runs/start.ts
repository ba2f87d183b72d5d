// The starter of orchestrated runs (the schedules' target): starts the snapshot run or the clean-up of one
// slot as a Step Functions execution named after the slot, so a duplicated or retried schedule invocation
// starts no second run. Its event is checked by the entry point (support/events.ts checkStartEvent).
import { Phase, RunKindName } from '../../lib/private/contract';
import type { Executions } from '../adapters/executions';
import { executionName } from '../logic/batches';
import { slotOf } from '../logic/plan';
import { StarterConfig, stateMachineArnOf } from '../support/config';
import { log } from '../support/log';

/** What a schedule sends the starter; without a slot (on demand), the run is for the current minute. */
export interface StartEvent {
  readonly phase: typeof Phase.START;
  readonly run: RunKindName;
  readonly slot?: string;
}

export interface StartResult {
  readonly run: RunKindName;
  readonly slot: string;
  readonly executionArn?: string;
  readonly started: boolean;
}

export async function start(executions: Executions, config: StarterConfig, event: StartEvent, now: Date): Promise<StartResult> {
  const slot = slotOf(event, now);
  const name = executionName(slot);
  const { run } = event;
  const outcome = await executions.start(stateMachineArnOf(config, run), name, { slot });
  if (!outcome.started) {
    log('run-already-started', { policyId: config.policyId, run, slot, execution: name }, 'WARN');
    return { run, slot, started: false };
  }
  log('run-started', { policyId: config.policyId, run, slot, execution: outcome.executionArn });
  return { run, slot, executionArn: outcome.executionArn, started: true };
}
