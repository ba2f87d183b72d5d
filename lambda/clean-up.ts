// Lambda entry point of the retention cleaner: lists this policy's snapshots, decides per instance which
// sets to keep (retention.ts) and deletes the snapshots of expired sets, under the mutation rate limit.
import { PolicyConfig, readConfig } from './config';
import { defaultBuckets, Ec2Adapter } from './ec2';
import { log } from './log';
import { publishCounts } from './metrics';
import { POLICY_ID_TAG } from './model';
import { runPaced } from './pacer';
import { instanceFilters } from './plan';
import { decideSets, groupSets } from './retention';

interface LambdaContext {
  getRemainingTimeInMillis(): number;
}

export interface CleanupReport {
  readonly policyId: string;
  readonly dryRun: boolean;
  readonly setsKept: number;
  readonly setsDeleted: number;
  readonly snapshotsDeleted: number;
  /** Snapshots left in place this run (in use by an AMI, or a failed delete); tried again next run. */
  readonly snapshotsSkipped: Array<{ snapshotId: string; error: string }>;
  readonly unrecognized: string[];
}

let state: { config: PolicyConfig; ec2: Ec2Adapter } | undefined;

function init() {
  if (!state) {
    const config = readConfig(process.env);
    state = { config, ec2: Ec2Adapter.fromEnvironment(defaultBuckets(config.mutateBurst, config.mutateRatePerSecond)) };
  }
  return state;
}

export async function cleanUp(ec2: Ec2Adapter, config: PolicyConfig, now: Date, deadline: number): Promise<CleanupReport> {
  const { holdTag, orphanRetentionSeconds } = config;
  const [snapshots, live] = await Promise.all([
    ec2.listPolicySnapshots(POLICY_ID_TAG, config.policyId),
    orphanRetentionSeconds !== undefined ? ec2.listInstances(instanceFilters(config.instanceTags)) : Promise.resolve(undefined),
  ]);
  const { sets, unrecognized } = groupSets(snapshots, config.policyId, holdTag);
  for (const s of unrecognized) log('snapshot-unrecognized', { snapshotId: s.snapshotId, tags: s.tags }, 'WARN');
  const decisions = decideSets(sets, {
    policyId: config.policyId,
    rules: config.retention,
    timeZone: config.timeZone,
    now,
    errorGraceSeconds: config.errorGraceSeconds,
    holdTag,
    liveInstanceIds: live ? new Set(live.map((i) => i.instanceId)) : undefined,
    orphanRetentionSeconds,
  });
  for (const d of decisions) {
    log(`set-${d.action}`, {
      instanceId: d.set.instanceId, slot: d.set.slot, state: d.set.state, reasons: d.reasons, snapshotIds: d.set.snapshotIds,
    });
  }
  const doomed = decisions.filter((d) => d.action === 'delete');
  const snapshotIds = doomed.flatMap((d) => d.set.snapshotIds);
  const results = await runPaced(snapshotIds, (id) => ec2.deleteSnapshot(id, config.dryRun), {
    bucket: ec2.buckets.mutate, concurrency: config.concurrency, deadline, maxAttempts: 8,
  });
  const skipped: Array<{ snapshotId: string; error: string }> = [];
  let deleted = 0;
  results.forEach((r, i) => {
    const snapshotId = snapshotIds[i];
    if (r.status === 'ok' || (r.status === 'failed' && r.code === 'DryRunOperation') ||
        (r.status === 'failed' && r.code === 'InvalidSnapshot.NotFound')) {
      deleted += 1;
      log(config.dryRun ? 'snapshot-would-delete' : 'snapshot-deleted', { snapshotId });
    } else {
      const error = r.status === 'failed' ? r.error : 'not reached before the deadline';
      skipped.push({ snapshotId, error });
      log('snapshot-skipped', { snapshotId, error }, 'WARN');
    }
  });
  const report: CleanupReport = {
    policyId: config.policyId,
    dryRun: config.dryRun,
    setsKept: decisions.length - doomed.length,
    setsDeleted: doomed.filter((d) => d.set.snapshotIds.every((id) => !skipped.some((s) => s.snapshotId === id))).length,
    snapshotsDeleted: deleted,
    snapshotsSkipped: skipped,
    unrecognized: unrecognized.map((s) => s.snapshotId),
  };
  log('cleanup-finished', { ...report });
  publishCounts(config.policyId, {
    SetsDeleted: report.setsDeleted, SnapshotsDeleted: report.snapshotsDeleted, DeletesSkipped: report.snapshotsSkipped.length,
  });
  return report;
}

export async function handler(_event: unknown, context?: LambdaContext): Promise<CleanupReport> {
  const { config, ec2 } = init();
  const remaining = context?.getRemainingTimeInMillis() ?? 15 * 60_000;
  return cleanUp(ec2, config, new Date(), Date.now() + remaining - config.safetyMarginSeconds * 1000);
}
