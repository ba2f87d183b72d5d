// The phases of an orchestrated clean-up, each a state of the clean-up's state machine:
//   plan-deletions  lists the policy's snapshots once, decides every set and writes the expired sets to the
//                   plan store in batches sized to the rate budget;
//   delete-batch    deletes one batch of sets through the same code as the single-invocation clean-up,
//                   leaving the sets put on hold since the plan;
//   report-cleanup  adds the deletion results up and publishes the metrics.
import { decideCleanup, deleteSets, DoomedSet, holdBackLocked, notReachedCount, protectionMetrics } from './cleanup';
import type { BatchRef, PhaseContext } from './phase-context';
import { Metric, Phase, PlanPrefix, Tag } from '../../lib/private/contract';
import {
  batchKey, cutSetBatches, deleteBatchResult, DeleteBatchResult, initialTokens, MAX_REPORTED_FAILURES, phaseSlot, sumDeleteBatches,
  withoutHeldSets,
} from '../logic/batches';
import { deletionsOf } from '../logic/decide-sets';
import { DeletionsNotReached } from '../support/errors';
import { log } from '../support/log';
import { publishCounts } from '../support/metrics';
import { TokenBucket } from '../support/rate-limiter';

export interface CleanupPlanSummary {
  readonly slot: string;
  readonly setsKept: number;
  readonly setsToDelete: number;
  /** Expired sets a snapshot lock keeps in place, left out of the batches (absent from plans of earlier versions). */
  readonly setsLocked?: number;
  readonly snapshotsToDelete: number;
  /** Snapshots with this policy's id tag that are not its sets (logic/ownership.ts), never touched (the first 20). */
  readonly unrecognized: number;
  readonly unrecognizedIds: string[];
  /** Instances with sets that still exist but lost the policy's tags (the first 20). */
  readonly untagged: number;
  readonly untaggedInstanceIds: string[];
  readonly batches: BatchRef[];
}

export interface PlanDeletionsEvent {
  readonly phase: typeof Phase.PLAN_DELETIONS;
  readonly slot: string;
}

export interface DeleteBatchEvent {
  readonly phase: typeof Phase.DELETE_BATCH;
  readonly slot: string;
  readonly index: number;
  readonly key: string;
}

export interface ReportCleanupEvent {
  readonly phase: typeof Phase.REPORT_CLEANUP;
  readonly slot: string;
  readonly plan: CleanupPlanSummary;
  readonly results: Array<DeleteBatchResult | DeleteBatchNotRun>;
}

/** What the state machine's DeleteBatchNotRun state passes on for a batch that could not run. */
export type DeleteBatchNotRun = DeleteBatchResult & { readonly error: string; readonly key: string };

export type CleanupReportResult = Omit<DeleteBatchResult, 'batch' | 'durationMs'> & {
  readonly policyId: string;
  readonly slot: string;
  readonly dryRun: boolean;
  readonly setsKept: number;
  readonly setsToDelete: number;
  readonly setsLocked: number;
  readonly unrecognized: number;
  readonly batches: number;
};

const snapshotCount = (sets: readonly DoomedSet[]) => sets.reduce((n, s) => n + s.snapshotIds.length, 0);

export async function planDeletions({ config, ec2, store }: PhaseContext, event: PlanDeletionsEvent): Promise<CleanupPlanSummary> {
  const slot = phaseSlot(event, new Date());
  const { decisions, unrecognized, untaggedInstanceIds, protection } = await decideCleanup(ec2, config, new Date());
  // The protection status is complete once the plan is: published now, not carried through the state machine.
  const protectionCounts = protectionMetrics(protection);
  publishCounts(config.policyId, protectionCounts.counts, protectionCounts.seconds);
  const { toDelete: doomed, setsLocked } = await holdBackLocked(ec2, deletionsOf(decisions), new Date());
  const batches: BatchRef[] = [];
  for (const [index, sets] of cutSetBatches(doomed, config.batchSize).entries()) {
    const key = batchKey(PlanPrefix.CLEANUPS, config.policyId, slot, index);
    await store.put(key, sets);
    batches.push({ index, key, size: snapshotCount(sets) });
  }
  const summary: CleanupPlanSummary = {
    slot,
    setsKept: decisions.filter((d) => d.action === 'keep').length,
    setsToDelete: doomed.filter((d) => !d.duplicates).length,
    setsLocked,
    snapshotsToDelete: snapshotCount(doomed),
    unrecognized: unrecognized.length,
    unrecognizedIds: unrecognized.slice(0, MAX_REPORTED_FAILURES).map((u) => u.snapshot.snapshotId),
    untagged: untaggedInstanceIds.length,
    untaggedInstanceIds: untaggedInstanceIds.slice(0, MAX_REPORTED_FAILURES),
    batches,
  };
  const { unrecognizedIds: _ids, untaggedInstanceIds: _untagged, batches: _refs, ...counts } = summary;
  log('cleanup-planned', { ...counts, batches: batches.length });
  return summary;
}

export async function deleteBatch({ config, ec2, store }: PhaseContext, event: DeleteBatchEvent, deadline: number): Promise<DeleteBatchResult> {
  const slot = phaseSlot(event, new Date());
  const started = Date.now();
  const sets = await store.get<DoomedSet[]>(event.key);
  const batchEc2 = ec2.withMutateBucket(
    new TokenBucket(config.mutateBurst, config.mutateRatePerSecond, undefined, initialTokens(event.index, config.mutateBurst)));
  const { toDelete, held } = withoutHeldSets(sets, await batchEc2.listHeldSnapshotIds(Tag.POLICY_ID, config.policyId, config.holdTag));
  for (const set of held) log('set-held-since-plan', { slot, instanceId: set.instanceId, setSlot: set.slot, snapshotIds: set.snapshotIds }, 'WARN');
  const deletions = await deleteSets(batchEc2, config, toDelete, deadline);
  const result = deleteBatchResult(event.index, deletions, held.length, Date.now() - started);
  const { skipped: _, ...counts } = result;
  log('delete-batch-finished', { slot, ...counts });
  // Out of time: the batch fails, so the state machine retries it (what is gone counts as deleted) and the
  // function's Errors raise the failure alarm.
  const notReached = notReachedCount(deletions);
  if (notReached > 0) throw new DeletionsNotReached(notReached, deletions.snapshotsDeleted + deletions.snapshotsSkipped.length);
  return result;
}

export async function reportCleanup({ config }: PhaseContext, event: ReportCleanupEvent): Promise<CleanupReportResult> {
  const slot = phaseSlot(event, new Date());
  const total = sumDeleteBatches(event.results);
  publishCounts(config.policyId, {
    [Metric.SETS_DELETED]: total.setsDeleted,
    [Metric.SNAPSHOTS_DELETED]: total.snapshotsDeleted,
    [Metric.DELETES_SKIPPED]: total.snapshotsSkipped,
    [Metric.DUPLICATES_DELETED]: total.duplicatesDeleted,
    [Metric.SNAPSHOTS_UNRECOGNIZED]: event.plan.unrecognized,
    [Metric.INSTANCES_UNTAGGED]: event.plan.untagged ?? 0,
  });
  const outcome: CleanupReportResult = {
    policyId: config.policyId,
    slot,
    dryRun: config.dryRun,
    setsKept: event.plan.setsKept + total.setsHeld,
    setsToDelete: event.plan.setsToDelete,
    setsLocked: event.plan.setsLocked ?? 0,
    unrecognized: event.plan.unrecognized,
    ...total,
    skipped: total.skipped.slice(0, 10 * MAX_REPORTED_FAILURES),
  };
  log('cleanup-finished', { ...outcome, skipped: outcome.skipped.length }, total.snapshotsSkipped > 0 ? 'WARN' : 'INFO');
  return outcome;
}
