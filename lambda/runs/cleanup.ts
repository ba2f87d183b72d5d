// The retention clean-up: lists this policy's snapshots, decides per instance which sets to keep
// (logic/decide-sets.ts) and deletes the snapshots of expired sets, under the mutation rate limit. `cleanup`
// is the whole clean-up of Orchestration.LAMBDA; the orchestrated phases (cleanup-batches.ts) call its two
// halves (decide, delete) apart.
import { Defaults, Metric, Tag } from '../../lib/private/contract';
import type { Ec2Adapter } from '../adapters/ec2';
import { decideSets, Deletion, deletionsOf, groupSets, SetDecision, UnrecognizedSnapshot } from '../logic/decide-sets';
import { locksInForce, withoutLockedSets } from '../logic/locks';
import { ownerOf } from '../logic/ownership';
import { instanceFilters } from '../logic/plan';
import { protectionStatus, ProtectionStatus } from '../logic/protection';
import { PolicyConfig } from '../support/config';
import { DeletionsNotReached } from '../support/errors';
import { log } from '../support/log';
import { MetricName, publishCounts } from '../support/metrics';
import { runPaced } from '../support/pacer';

/** How many ids a summary log line or report lists at most: CloudWatch takes events of up to 256 KB. */
export const MAX_LISTED = 100;

export interface CleanupReport {
  readonly policyId: string;
  readonly dryRun: boolean;
  readonly setsKept: number;
  /** Expired sets left in place because a snapshot lock forbids their deletion; deleted once it ends. */
  readonly setsLocked: number;
  readonly setsDeleted: number;
  readonly snapshotsDeleted: number;
  /** Snapshots left in place this run (in use by an AMI, or a failed delete); tried again next run. */
  readonly snapshotsSkipped: Array<{ snapshotId: string; error: string }>;
  /** Snapshots carrying the policy's id tag that are not its sets (the first MAX_LISTED), never touched. */
  readonly unrecognized: string[];
  readonly unrecognizedCount: number;
  /** Instances with sets of the policy that still exist but no longer carry its tags. */
  readonly untaggedInstanceIds: string[];
  /** Tagged instances whose newest completed set is younger than maxSetAge. */
  readonly protectedInstances: number;
  /** Tagged instances without one (the first MAX_LISTED). */
  readonly unprotectedInstanceIds: string[];
  /** The worst tagged instance's newest completed set's age, in seconds. */
  readonly maxLatestSetAgeSeconds: number;
}

/** The part of a set that deleting it needs: the whole set, or only its duplicates. */
export type DoomedSet = Deletion;

export interface Deletions {
  readonly setsDeleted: number;
  readonly snapshotsDeleted: number;
  /** Of `snapshotsDeleted`, the duplicates of kept sets. */
  readonly duplicatesDeleted: number;
  readonly snapshotsSkipped: Array<{ snapshotId: string; error: string }>;
}

/** Why a snapshot was skipped when the invocation's time ran out before its deletion was sent. */
export const NOT_REACHED = 'not reached before the deadline';

/** How many of the skipped snapshots were skipped for lack of time (not in use, not failed). */
export function notReachedCount(deletions: Pick<Deletions, 'snapshotsSkipped'>): number {
  return deletions.snapshotsSkipped.filter((s) => s.error === NOT_REACHED).length;
}

/** What a clean-up decided, and what it found that is not the policy's to decide. */
export interface CleanupDecisions {
  readonly decisions: SetDecision[];
  readonly unrecognized: UnrecognizedSnapshot[];
  readonly untaggedInstanceIds: string[];
  readonly protection: ProtectionStatus;
}

/**
 * Lists the policy's snapshots (and, for orphans, the live fleet) and decides the fate of every set that is
 * the policy's own. Snapshots that only carry its tags are set aside and reported once; instances that have
 * sets and still exist but lost the policy's tags are reported, since their backups have stopped.
 */
export async function decideCleanup(ec2: Ec2Adapter, config: PolicyConfig, now: Date): Promise<CleanupDecisions> {
  const { holdTag, orphanRetentionSeconds } = config;
  const [snapshots, live] = await Promise.all([
    ec2.listPolicySnapshots(Tag.POLICY_ID, config.policyId),
    ec2.listInstances(instanceFilters(config.instanceTags)),
  ]);
  const { sets, unrecognized } = groupSets(snapshots, ownerOf(config, now), holdTag);
  logUnrecognized(unrecognized);
  const protection = protectionStatus(live, sets, now, config.maxSetAgeSeconds);
  logUnprotected(protection);
  // Without orphanRetention, sets of instances that left the fleet are never orphans.
  const liveInstanceIds = orphanRetentionSeconds !== undefined ? new Set(live.map((i) => i.instanceId)) : undefined;
  const decisions = decideSets(sets, {
    policyId: config.policyId,
    rules: config.retention,
    timeZone: config.timeZone,
    now,
    errorGraceSeconds: config.errorGraceSeconds,
    holdTag,
    liveInstanceIds,
    orphanRetentionSeconds,
  });
  for (const d of decisions) {
    log(`set-${d.action}`, {
      instanceId: d.set.instanceId,
      slot: d.set.slot,
      state: d.set.state,
      reasons: d.reasons,
      snapshotIds: d.set.snapshotIds,
      ...(d.set.duplicateSnapshotIds ? { duplicateSnapshotIds: d.set.duplicateSnapshotIds } : {}),
    });
  }
  const orphans = liveInstanceIds ? [...new Set(sets.map((s) => s.instanceId))].filter((id) => !liveInstanceIds.has(id)) : [];
  const untaggedInstanceIds = orphans.length > 0 ? await ec2.existingInstanceIds(orphans) : [];
  for (const instanceId of untaggedInstanceIds) {
    log('instance-untagged', { instanceId, instanceTags: config.instanceTags }, 'WARN');
  }
  return { decisions, unrecognized, untaggedInstanceIds, protection };
}

/** One line per tagged instance without a recent good set, with what its last run left. */
function logUnprotected(protection: ProtectionStatus): void {
  for (const p of protection.instances) {
    if (p.protected) continue;
    log('instance-unprotected', {
      instanceId: p.instanceId,
      latestSetAgeSeconds: p.latestSetAgeSeconds,
      newestCompletedSlot: p.newestCompletedSlot ?? null,
      lastSet: p.newestSet ?? null,
    }, 'WARN');
  }
}

/** The protection status as metrics: counts, and the worst age in seconds. */
export function protectionMetrics(
  protection: ProtectionStatus,
): { counts: Partial<Record<MetricName, number>>; seconds: Partial<Record<MetricName, number>> } {
  return {
    counts: { [Metric.INSTANCES_PROTECTED]: protection.protectedCount, [Metric.INSTANCES_UNPROTECTED]: protection.unprotectedCount },
    seconds: { [Metric.MAX_LATEST_SET_AGE]: protection.maxLatestSetAgeSeconds },
  };
}

/** One line per clean-up: how many snapshots were not recognized, why, and the first ids. */
function logUnrecognized(unrecognized: readonly UnrecognizedSnapshot[]): void {
  if (unrecognized.length === 0) return;
  const reasons: Record<string, number> = {};
  for (const u of unrecognized) reasons[u.reason] = (reasons[u.reason] ?? 0) + 1;
  log('snapshots-unrecognized', {
    count: unrecognized.length,
    reasons,
    snapshots: unrecognized.slice(0, MAX_LISTED).map((u) => ({ snapshotId: u.snapshot.snapshotId, reason: u.reason })),
  }, 'WARN');
}

/**
 * Holds back the deletions a snapshot lock forbids (whoever put it): one DescribeLockedSnapshots listing,
 * and only when there is something to delete. Each held-back set is logged with the end of its last lock.
 */
export async function holdBackLocked(
  ec2: Ec2Adapter, doomed: readonly DoomedSet[], now: Date,
): Promise<{ toDelete: DoomedSet[]; setsLocked: number }> {
  if (doomed.length === 0) return { toDelete: [], setsLocked: 0 };
  const { toDelete, locked } = withoutLockedSets(doomed, locksInForce(await ec2.listSnapshotLocks(), now));
  for (const { deletion, lockedUntil } of locked) {
    log('set-locked', {
      instanceId: deletion.instanceId,
      slot: deletion.slot,
      snapshotIds: deletion.snapshotIds,
      lockedUntil: Number.isFinite(lockedUntil) ? new Date(lockedUntil).toISOString() : null,
    }, 'WARN');
  }
  return { toDelete, setsLocked: locked.filter((l) => !l.deletion.duplicates).length };
}

/**
 * Deletes the snapshots of the given sets under the mutation bucket. A snapshot already gone counts as
 * deleted (a retried batch); one in use by an AMI, failed or not reached before the deadline is skipped,
 * reported, and tried again next run. A set counts as deleted when all its snapshots are.
 */
export async function deleteSets(
  ec2: Ec2Adapter, config: PolicyConfig, sets: readonly DoomedSet[], deadline: number,
): Promise<Deletions> {
  const snapshotIds = sets.flatMap((s) => s.snapshotIds);
  const results = await runPaced(snapshotIds, (id) => ec2.deleteSnapshot(id, config.dryRun), {
    bucket: ec2.buckets.mutate, concurrency: config.concurrency, deadline, maxAttempts: Defaults.MAX_ATTEMPTS,
  });
  const skipped = new Map<string, string>();
  let deleted = 0;
  results.forEach((r, i) => {
    const snapshotId = snapshotIds[i];
    if (r.status === 'ok' || (r.status === 'failed' && r.code === 'DryRunOperation') ||
        (r.status === 'failed' && r.code === 'InvalidSnapshot.NotFound')) {
      deleted += 1;
      log(config.dryRun ? 'snapshot-would-delete' : 'snapshot-deleted', { snapshotId });
    } else {
      const error = r.status === 'failed' ? r.error : NOT_REACHED;
      skipped.set(snapshotId, error);
      log('snapshot-skipped', { snapshotId, error }, 'WARN');
    }
  });
  const done = (s: DoomedSet) => s.snapshotIds.every((id) => !skipped.has(id));
  return {
    setsDeleted: sets.filter((s) => !s.duplicates && done(s)).length,
    snapshotsDeleted: deleted,
    duplicatesDeleted: sets.filter((s) => s.duplicates).flatMap((s) => s.snapshotIds).filter((id) => !skipped.has(id)).length,
    snapshotsSkipped: [...skipped].map(([snapshotId, error]) => ({ snapshotId, error })),
  };
}

/** One whole clean-up in one invocation: decides every set, deletes the expired ones, publishes and logs. */
export async function cleanup(ec2: Ec2Adapter, config: PolicyConfig, now: Date, deadline: number): Promise<CleanupReport> {
  const { decisions, unrecognized, untaggedInstanceIds, protection } = await decideCleanup(ec2, config, now);
  const { toDelete, setsLocked } = await holdBackLocked(ec2, deletionsOf(decisions), now);
  const deletions = await deleteSets(ec2, config, toDelete, deadline);
  const report: CleanupReport = {
    policyId: config.policyId,
    dryRun: config.dryRun,
    setsKept: decisions.filter((d) => d.action === 'keep').length,
    setsLocked,
    ...deletions,
    unrecognized: unrecognized.slice(0, MAX_LISTED).map((u) => u.snapshot.snapshotId),
    unrecognizedCount: unrecognized.length,
    untaggedInstanceIds,
    protectedInstances: protection.protectedCount,
    unprotectedInstanceIds: protection.instances.filter((p) => !p.protected).map((p) => p.instanceId).slice(0, MAX_LISTED),
    maxLatestSetAgeSeconds: protection.maxLatestSetAgeSeconds,
  };
  // Each skipped snapshot has had its own line; the summary stays well under CloudWatch's event size.
  log('cleanup-finished', {
    ...report,
    snapshotsSkipped: report.snapshotsSkipped.slice(0, MAX_LISTED),
    snapshotsSkippedCount: report.snapshotsSkipped.length,
    untaggedInstanceIds: untaggedInstanceIds.slice(0, MAX_LISTED),
  });
  const { counts, seconds } = protectionMetrics(protection);
  publishCounts(config.policyId, {
    ...counts,
    [Metric.SETS_DELETED]: report.setsDeleted,
    [Metric.SNAPSHOTS_DELETED]: report.snapshotsDeleted,
    [Metric.DELETES_SKIPPED]: report.snapshotsSkipped.length,
    [Metric.SNAPSHOTS_UNRECOGNIZED]: unrecognized.length,
    [Metric.INSTANCES_UNTAGGED]: untaggedInstanceIds.length,
    [Metric.DUPLICATES_DELETED]: deletions.duplicatesDeleted,
  }, seconds);
  const notReached = notReachedCount(deletions);
  if (notReached > 0) throw new DeletionsNotReached(notReached, deletions.snapshotsDeleted + deletions.snapshotsSkipped.length);
  return report;
}
