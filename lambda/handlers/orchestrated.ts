// Lambda entry points of runs orchestrated by Step Functions (Orchestration.STEP_FUNCTIONS), for fleets too
// large for one invocation: `start` (the schedules' target), `snapshotPhases` (the run state machine's
// plan-batches, execute-batch, report) and `cleanupPhases` (the clean-up state machine's plan-deletions,
// delete-batch, report-cleanup). Each checks the event's phase, builds its adapters once per container and
// calls one run of lambda/runs.
import { Phase, PhaseName } from '../../lib/private/contract';
import { defaultBuckets, Ec2Adapter } from '../adapters/ec2';
import { Executions, SfnExecutions } from '../adapters/executions';
import { S3PlanStore } from '../adapters/plan-store';
import { BatchResult, DeleteBatchResult } from '../logic/batches';
import {
  CleanupPlanSummary, CleanupReportResult, deleteBatch, DeleteBatchEvent, planDeletions, PlanDeletionsEvent, reportCleanup,
  ReportCleanupEvent,
} from '../runs/cleanup-batches';
import { PhaseContext } from '../runs/phase-context';
import {
  executeBatch, ExecuteBatchEvent, planBatches, PlanBatchesEvent, PlanSummary, report, ReportEvent, RunReportResult,
} from '../runs/snapshot-batches';
import { start as startRun, StartEvent, StartResult } from '../runs/start';
import { readBatchConfig, readStarterConfig, StarterConfig } from '../support/config';
import { deadlineOf, LambdaContext } from '../support/invocation';

export type { BatchRef } from '../runs/phase-context';
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

/** The event's phase, if it is one this entry point handles; a clear error otherwise. */
function phaseOf<P extends PhaseName>(event: unknown, entry: string, handled: readonly P[], optional?: P): P {
  const phase = typeof event === 'object' && event !== null ? (event as { phase?: unknown }).phase : undefined;
  if (phase === undefined && optional !== undefined) return optional;
  if (!(handled as readonly unknown[]).includes(phase)) {
    throw new Error(`${entry} handles the phases ${handled.join(', ')}, got phase ${JSON.stringify(phase)}`);
  }
  return phase as P;
}

export async function start(event: StartEvent, _context?: LambdaContext): Promise<StartResult> {
  phaseOf(event, 'start', [Phase.START], Phase.START);
  if (!starter) starter = { config: readStarterConfig(process.env), executions: new SfnExecutions() };
  return startRun(starter.executions, starter.config, event, new Date());
}

export type SnapshotPhaseEvent = PlanBatchesEvent | ExecuteBatchEvent | ReportEvent;

export async function snapshotPhases(event: SnapshotPhaseEvent, context?: LambdaContext): Promise<PlanSummary | BatchResult | RunReportResult> {
  const phase = phaseOf(event, 'snapshotPhases', [Phase.PLAN_BATCHES, Phase.EXECUTE_BATCH, Phase.REPORT]);
  const phaseCtx = phaseContext();
  switch (phase) {
    case Phase.PLAN_BATCHES: return planBatches(phaseCtx, event as PlanBatchesEvent);
    case Phase.EXECUTE_BATCH: return executeBatch(phaseCtx, event as ExecuteBatchEvent, deadlineOf(context, phaseCtx.config));
    case Phase.REPORT: return report(phaseCtx, event as ReportEvent);
  }
}

export type CleanupPhaseEvent = PlanDeletionsEvent | DeleteBatchEvent | ReportCleanupEvent;

export async function cleanupPhases(
  event: CleanupPhaseEvent, context?: LambdaContext,
): Promise<CleanupPlanSummary | DeleteBatchResult | CleanupReportResult> {
  const phase = phaseOf(event, 'cleanupPhases', [Phase.PLAN_DELETIONS, Phase.DELETE_BATCH, Phase.REPORT_CLEANUP]);
  const phaseCtx = phaseContext();
  switch (phase) {
    case Phase.PLAN_DELETIONS: return planDeletions(phaseCtx, event as PlanDeletionsEvent);
    case Phase.DELETE_BATCH: return deleteBatch(phaseCtx, event as DeleteBatchEvent, deadlineOf(context, phaseCtx.config));
    case Phase.REPORT_CLEANUP: return reportCleanup(phaseCtx, event as ReportCleanupEvent);
  }
}
