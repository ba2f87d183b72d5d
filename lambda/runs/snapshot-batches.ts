// The phases of an orchestrated snapshot run, each a state of the run's state machine:
//   plan-batches   plans the run once and writes it to the plan store in batches sized to the rate budget;
//   execute-batch  sends one batch through the same code as a single-invocation run, and hands back the
//                  instances it did not reach for a fresh invocation;
//   report         adds the batch results up, publishes the metrics and logs the outcome.
import type { BatchRef, PhaseContext } from './phase-context';
import { executeRequests, planRun, skipDone } from './snapshot-run';
import { Defaults, Metric, Phase, PlanPrefix } from '../../lib/private/contract';
import {
  batchKey, batchResult, BatchResult, BatchRerun, cutBatches, initialTokens, MAX_ERROR_CHARS, MAX_REPORTED_FAILURES, MAX_RERUNS,
  mergeAttempts, phaseSlot, rerunKey, sumBatches,
} from '../logic/batches';
import { InstanceOutcome, PlannedSnapshot } from '../logic/model';
import { errorMessage } from '../support/errors';
import { log } from '../support/log';
import { publishCounts } from '../support/metrics';
import { TokenBucket } from '../support/rate-limiter';

export type { BatchRef, PhaseContext };

export interface PlanSummary {
  readonly slot: string;
  readonly planned: number;
  /** How many instances could not be planned. */
  readonly planFailed: number;
  /** The first MAX_REPORTED_FAILURES of them (all are in the logs), to keep the execution's state small. */
  readonly planFailures: Array<{ instanceId: string; status: string; error?: string }>;
  readonly batches: BatchRef[];
}

/** An execute-batch's result so far: `{}` on the first attempt, then the last attempt's result with its rerun. */
export type PreviousAttempts = Partial<BatchResult> & { readonly rerun?: BatchRerun };

/** What the state machine's BatchNotRun state passes on for a batch that failed for good. */
export type NotRunResult = BatchResult & { readonly error: string; readonly key: string; readonly previous: PreviousAttempts };

export interface PlanBatchesEvent {
  readonly phase: typeof Phase.PLAN_BATCHES;
  readonly slot: string;
}

export interface ExecuteBatchEvent {
  readonly phase: typeof Phase.EXECUTE_BATCH;
  readonly slot: string;
  readonly index: number;
  readonly key: string;
  /** 0, then 1 to MAX_RERUNS for the reruns of the instances an attempt did not reach. */
  readonly attempt: number;
  readonly previous: PreviousAttempts;
}

export interface ReportEvent {
  readonly phase: typeof Phase.REPORT;
  readonly slot: string;
  readonly plan: PlanSummary;
  readonly results: Array<BatchResult | NotRunResult>;
}

export type RunReportResult = Omit<BatchResult, 'batch' | 'durationMs'> & {
  readonly policyId: string;
  readonly slot: string;
  readonly planned: number;
  readonly batches: number;
  readonly batchesNotRun: number;
};

export async function planBatches({ config, ec2, store }: PhaseContext, event: PlanBatchesEvent): Promise<PlanSummary> {
  const slot = phaseSlot(event, new Date());
  const plan = await planRun(ec2, config, slot);
  const batches: BatchRef[] = [];
  for (const [index, requests] of cutBatches(plan.requests, config.batchSize).entries()) {
    const key = batchKey(PlanPrefix.RUNS, config.policyId, slot, index);
    await store.put(key, requests);
    batches.push({ index, key, size: requests.length });
  }
  const summary: PlanSummary = {
    slot,
    planned: plan.requests.length,
    planFailed: plan.errors.length,
    planFailures: plan.errors.slice(0, MAX_REPORTED_FAILURES)
      .map((e) => ({ instanceId: e.instanceId, status: 'failed', error: e.error.slice(0, MAX_ERROR_CHARS) })),
    batches,
  };
  log('run-planned', { slot, planned: summary.planned, batches: batches.length, planFailures: plan.errors.length });
  return summary;
}

export async function executeBatch(
  { config, ec2, store }: PhaseContext, event: ExecuteBatchEvent, deadline: number,
): Promise<BatchResult & { rerun?: BatchRerun }> {
  const slot = phaseSlot(event, new Date());
  const started = Date.now();
  const requests = await store.get<PlannedSnapshot[]>(event.key);
  const attempt = event.attempt ?? 0;
  // Batches run one at a time against one account-wide bucket: only the first attempt of the first batch
  // spends the burst.
  const tokens = initialTokens(attempt > 0 ? 1 : event.index, config.mutateBurst);
  const batchEc2 = ec2.withMutateBucket(new TokenBucket(config.mutateBurst, config.mutateRatePerSecond, undefined, tokens));
  const { toSend, done } = await skipDone(batchEc2, config, slot, requests);
  const outcomes = await executeRequests(batchEc2, toSend, {
    deadline, concurrency: config.concurrency, maxAttempts: Defaults.MAX_ATTEMPTS, slotCheck: { policy: config, slot },
  });
  const result = mergeAttempts(event.previous, batchResult(event.index, [...done, ...outcomes], Date.now() - started));
  const unreached = toSend.filter((_r, i) => outcomes[i].status === 'not-reached');
  const { failures: _, ...counts } = result;
  if (unreached.length > 0 && attempt < MAX_RERUNS) {
    // Not reached before this invocation's deadline: the state machine sends them again in a fresh one.
    const next = attempt + 1;
    const key = rerunKey(batchKey(PlanPrefix.RUNS, config.policyId, slot, event.index), next);
    const rerun: BatchRerun = { slot, index: event.index, key, size: unreached.length, attempt: next };
    await store.put(rerun.key, unreached);
    log('batch-rerun', { slot, ...counts, attempt, rerun: rerun.key, rerunSize: rerun.size }, 'WARN');
    return { ...result, rerun };
  }
  log('batch-finished', { slot, ...counts, attempt });
  return result;
}

/**
 * A batch the state machine gave up on may have run in part (a timeout after some requests): the instances
 * that have a set for the slot count as already done, the others are reported not reached, each by name.
 * If the batch cannot be read, its result stays as the state machine gave it (all its instances not reached).
 */
async function checkNotRun({ config, ec2, store }: PhaseContext, slot: string, result: NotRunResult): Promise<BatchResult> {
  try {
    const requests = await store.get<PlannedSnapshot[]>(result.key);
    const { toSend, done } = await skipDone(ec2, config, slot, requests);
    const missing = toSend.map((r): InstanceOutcome => ({
      instanceId: r.instanceId, status: 'not-reached', error: `batch ${result.batch} did not run: ${result.error}`, attempts: 0,
    }));
    for (const outcome of missing) log('snapshot-not-reached', { slot, ...outcome }, 'ERROR');
    return mergeAttempts(result.previous, batchResult(result.batch, [...done, ...missing], result.durationMs));
  } catch (error) {
    log('batch-not-checked', { slot, batch: result.batch, key: result.key, error: errorMessage(error) }, 'ERROR');
    return mergeAttempts(result.previous, result);
  }
}

export async function report(context: PhaseContext, event: ReportEvent): Promise<RunReportResult> {
  const { config } = context;
  const slot = phaseSlot(event, new Date());
  const results: BatchResult[] = [];
  for (const result of event.results) {
    results.push('error' in result ? await checkNotRun(context, slot, result) : result);
  }
  const total = sumBatches(results);
  const failed = total.failed + event.plan.planFailed;
  publishCounts(config.policyId, {
    [Metric.SETS_CREATED]: total.created,
    [Metric.INSTANCES_FAILED]: failed,
    [Metric.INSTANCES_NOT_REACHED]: total.notReached,
    [Metric.INSTANCES_ALREADY_DONE]: total.alreadyDone,
  });
  const outcome: RunReportResult = {
    policyId: config.policyId,
    slot,
    planned: event.plan.planned,
    ...total,
    batchesNotRun: event.results.filter((r) => 'error' in r).length,
    failed,
    failures: [...event.plan.planFailures, ...total.failures].slice(0, 10 * MAX_REPORTED_FAILURES),
  };
  log('run-finished', { ...outcome, failures: outcome.failures.length }, failed + total.notReached > 0 ? 'ERROR' : 'INFO');
  return outcome;
}
