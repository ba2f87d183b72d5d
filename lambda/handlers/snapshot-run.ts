// Lambda entry point of the snapshot run. The schedule invokes it with {"slot": "<scheduled time>"};
// on demand, any event works (the slot is then the current minute). An orchestrator can call the phases
// apart: {"phase": "plan"} returns the plan, {"phase": "execute", "slot", "requests"} sends a batch.
import { defaultBuckets, Ec2Adapter } from '../adapters/ec2';
import { InstanceOutcome, PlannedSnapshot } from '../logic/model';
import { slotOf } from '../logic/plan';
import { executeRequests, planErrorOutcomes, planRun, RunReport, skipDone, summarize } from '../runs/snapshot-run';
import { PolicyConfig, readConfig } from '../support/config';
import { log } from '../support/log';
import { publishCounts } from '../support/metrics';

export interface SnapshotEvent {
  readonly slot?: string;
  readonly phase?: 'plan' | 'execute' | 'all';
  readonly requests?: PlannedSnapshot[];
}

interface LambdaContext {
  getRemainingTimeInMillis(): number;
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

export async function runSnapshots(event: SnapshotEvent | undefined, context?: LambdaContext): Promise<unknown> {
  const { config, ec2 } = init();
  const slot = slotOf(event, new Date());
  const remaining = context?.getRemainingTimeInMillis() ?? 15 * 60_000;
  const deadline = Date.now() + remaining - config.safetyMarginSeconds * 1000;
  const phase = event?.phase ?? 'all';
  log('run-started', { policyId: config.policyId, slot, phase, dryRun: config.dryRun });

  if (phase === 'plan') return planRun(ec2, config, slot);

  let requests: readonly PlannedSnapshot[];
  let failedInPlan: InstanceOutcome[] = [];
  if (phase === 'execute') {
    requests = event?.requests ?? [];
  } else {
    const plan = await planRun(ec2, config, slot);
    requests = plan.requests;
    failedInPlan = planErrorOutcomes(plan);
  }
  const { toSend, done } = await skipDone(ec2, config, slot, requests);
  const outcomes = await executeRequests(ec2, toSend, {
    deadline, concurrency: config.concurrency, maxAttempts: 8,
  });
  const report: RunReport = summarize(config, slot, [...failedInPlan, ...done, ...outcomes]);
  publishCounts(config.policyId, {
    SetsCreated: report.created, InstancesFailed: report.failed, InstancesNotReached: report.notReached, InstancesAlreadyDone: report.alreadyDone,
  });
  const { outcomes: _, ...totals } = report;
  log('run-finished', totals, report.failed + report.notReached > 0 ? 'ERROR' : 'INFO');
  return report;
}
