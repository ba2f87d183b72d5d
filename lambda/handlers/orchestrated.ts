// Lambda entry points of runs orchestrated by Step Functions (Orchestration.STEP_FUNCTIONS), for fleets too
// large for one invocation: `start` (the schedules' target), `snapshotPhases` (the run state machine's
// plan-batches, execute-batch, report) and `cleanupPhases` (the clean-up state machine's plan-deletions,
// delete-batch, report-cleanup). Each first checks its event against what the schedules and state machines
// send (support/events.ts), refusing anything else before it reads its configuration or calls AWS, then
// builds its adapters once per container and calls one run of lambda/runs.
import { Phase } from '../../lib/private/contract';
import { defaultBuckets, Ec2Adapter } from '../adapters/ec2';
import { Executions, SfnExecutions } from '../adapters/executions';
import { S3PlanStore } from '../adapters/plan-store';
import { BatchResult, DeleteBatchResult } from '../logic/batches';
import { CleanupPlanSummary, CleanupReportResult, deleteBatch, planDeletions, reportCleanup } from '../runs/cleanup-batches';
import { PhaseContext } from '../runs/phase-context';
import { executeBatch, planBatches, PlanSummary, report, RunReportResult } from '../runs/snapshot-batches';
import { start as startRun, StartResult } from '../runs/start';
import { readBatchConfig, readStarterConfig, StarterConfig } from '../support/config';
import { checkCleanupPhaseEvent, checkSnapshotPhaseEvent, checkStartEvent } from '../support/events';
import { deadlineOf, LambdaContext } from '../support/invocation';

export type { BatchRef } from '../runs/phase-context';
export type { CleanupPhaseEvent, SnapshotPhaseEvent } from '../support/events';
export type { CleanupPlanSummary, PlanSummary };

let phases: PhaseContext | undefined;
let starter: { config: StarterConfig; executions: Executions } | undefined;

/** The phases' configuration and adapters, created once per container. */
function phaseContext(): PhaseContext {
  if (!phases) {
    const config = readBatchConfig(process.env);
    const ec2 = Ec2Adapter.fromEnvironment(defaultBuckets(config.mutateBurst, config.mutateRatePerSecond));
    phases = { config, ec2, store: S3PlanStore.fromEnvironment(config.planBucket) };
  }
  return phases;
}

export async function start(event: unknown, _context?: LambdaContext): Promise<StartResult> {
  const now = new Date();
  const checked = checkStartEvent(event, now);
  if (!starter) starter = { config: readStarterConfig(process.env), executions: new SfnExecutions() };
  return startRun(starter.executions, starter.config, checked, now);
}

export async function snapshotPhases(event: unknown, context?: LambdaContext): Promise<PlanSummary | BatchResult | RunReportResult> {
  const checked = checkSnapshotPhaseEvent(event, new Date());
  const phaseCtx = phaseContext();
  switch (checked.phase) {
    case Phase.PLAN_BATCHES: return planBatches(phaseCtx, checked);
    case Phase.EXECUTE_BATCH: return executeBatch(phaseCtx, checked, deadlineOf(context, phaseCtx.config));
    case Phase.REPORT: return report(phaseCtx, checked);
  }
}

export async function cleanupPhases(
  event: unknown, context?: LambdaContext,
): Promise<CleanupPlanSummary | DeleteBatchResult | CleanupReportResult> {
  const checked = checkCleanupPhaseEvent(event, new Date());
  const phaseCtx = phaseContext();
  switch (checked.phase) {
    case Phase.PLAN_DELETIONS: return planDeletions(phaseCtx, checked);
    case Phase.DELETE_BATCH: return deleteBatch(phaseCtx, checked, deadlineOf(context, phaseCtx.config));
    case Phase.REPORT_CLEANUP: return reportCleanup(phaseCtx, checked);
  }
}
