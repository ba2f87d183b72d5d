// A snapshot run: plan (one pass over the fleet, pure decisions), then send the planned requests under the
// rate limit, skipping instances an earlier invocation of the slot already did. `snapshotRun` is the whole
// run of Orchestration.LAMBDA; the orchestrated phases (snapshot-batches.ts) call its halves apart.
import { Defaults, Metric, Tag } from '../../lib/private/contract';
import type { Ec2Adapter } from '../adapters/ec2';
import { instancesWithSetForSlot } from '../logic/idempotency';
import { InstanceOutcome, PlannedSnapshot, SnapshotPlan } from '../logic/model';
import { ownerOf } from '../logic/ownership';
import { instanceFilters, planSnapshots } from '../logic/plan';
import { PolicyConfig } from '../support/config';
import { log } from '../support/log';
import { publishCounts } from '../support/metrics';
import { runPaced } from '../support/pacer';

/** One whole run in one invocation: plans the slot, sends every request, publishes and logs the outcome. */
export async function snapshotRun(ec2: Ec2Adapter, config: PolicyConfig, slot: string, deadline: number): Promise<RunReport> {
  log('run-started', { policyId: config.policyId, slot, dryRun: config.dryRun });
  const plan = await planRun(ec2, config, slot);
  return sendPlanned(ec2, config, slot, plan.requests, deadline, planErrorOutcomes(plan));
}

/**
 * Sends planned requests as one run: skips the instances already done for the slot, sends the rest, and
 * reports them with the instances that failed in the plan (`failedInPlan`), as metrics and a log line.
 */
export async function sendPlanned(
  ec2: Ec2Adapter, config: PolicyConfig, slot: string, requests: readonly PlannedSnapshot[], deadline: number,
  failedInPlan: readonly InstanceOutcome[] = [],
): Promise<RunReport> {
  const { toSend, done } = await skipDone(ec2, config, slot, requests);
  const outcomes = await executeRequests(ec2, toSend, { deadline, concurrency: config.concurrency, maxAttempts: Defaults.MAX_ATTEMPTS });
  const report = summarize(config, slot, [...failedInPlan, ...done, ...outcomes]);
  publishCounts(config.policyId, {
    [Metric.SETS_CREATED]: report.created,
    [Metric.INSTANCES_FAILED]: report.failed,
    [Metric.INSTANCES_NOT_REACHED]: report.notReached,
    [Metric.INSTANCES_ALREADY_DONE]: report.alreadyDone,
  });
  const { outcomes: _, ...totals } = report;
  log('run-finished', totals, report.failed + report.notReached > 0 ? 'ERROR' : 'INFO');
  return report;
}

export async function planRun(ec2: Ec2Adapter, config: PolicyConfig, slot: string): Promise<SnapshotPlan> {
  const [instances, zoneTypes, taggedVolumes] = await Promise.all([
    ec2.listInstances(instanceFilters(config.instanceTags)),
    ec2.zoneTypes(),
    ec2.volumesWithTagKeys(Object.keys(config.excludeDataVolumeTags)),
  ]);
  const plan = planSnapshots({ slot, instances, zoneTypes, taggedVolumes, options: config });
  for (const request of plan.requests) {
    log('planned', {
      slot,
      instanceId: request.instanceId,
      placement: request.placement,
      zone: request.zone,
      volumeIds: request.volumeIds,
      excludedVolumeIds: request.excludedVolumeIds,
      location: request.params.Location,
      outpostArn: request.params.OutpostArn,
    });
  }
  for (const error of plan.errors) log('plan-failed', { slot, instanceId: error.instanceId, error: error.error }, 'ERROR');
  return plan;
}

/**
 * Splits requests into those still to send and those whose instance already has a set for this slot (an
 * earlier invocation of the same slot made it: a retry, a duplicate delivery, a re-run batch).
 */
export async function skipDone(
  ec2: Ec2Adapter, config: PolicyConfig, slot: string, requests: readonly PlannedSnapshot[],
): Promise<{ toSend: PlannedSnapshot[]; done: InstanceOutcome[] }> {
  if (requests.length === 0) return { toSend: [], done: [] };
  const existing = await ec2.listSlotSnapshots(Tag.POLICY_ID, config.policyId, Tag.SLOT, slot);
  const doneSets = instancesWithSetForSlot(existing, requests, slot, ownerOf(config, new Date()));
  const toSend = requests.filter((r) => !doneSets.has(r.instanceId));
  const done = requests
    .filter((r) => doneSets.has(r.instanceId))
    .map((r): InstanceOutcome => ({ instanceId: r.instanceId, status: 'already-done', snapshotIds: doneSets.get(r.instanceId), attempts: 0 }));
  for (const o of done) log('snapshot-already-done', { slot, ...o });
  return { toSend, done };
}

export interface ExecuteOptions {
  readonly deadline: number;
  readonly concurrency: number;
  readonly maxAttempts: number;
  readonly backoffMs?: (attempt: number, error: unknown) => number;
}

export async function executeRequests(
  ec2: Ec2Adapter, requests: readonly PlannedSnapshot[], options: ExecuteOptions,
): Promise<InstanceOutcome[]> {
  const results = await runPaced(requests, (r) => ec2.createSnapshots(r.params), {
    bucket: ec2.buckets.mutate,
    concurrency: options.concurrency,
    deadline: options.deadline,
    maxAttempts: options.maxAttempts,
    backoffMs: options.backoffMs,
  });
  return results.map((result, i): InstanceOutcome => {
    const instanceId = requests[i].instanceId;
    let outcome: InstanceOutcome;
    if (result.status === 'ok') {
      outcome = { instanceId, status: 'created', snapshotIds: result.value, attempts: result.attempts };
    } else if (result.status === 'failed' && result.code === 'DryRunOperation') {
      // EC2's answer to a permitted dry run: the request would have succeeded.
      outcome = { instanceId, status: 'dry-run', attempts: result.attempts };
    } else if (result.status === 'failed') {
      outcome = { instanceId, status: 'failed', error: result.error, attempts: result.attempts };
    } else {
      outcome = { instanceId, status: 'not-reached', attempts: 0 };
    }
    const level = outcome.status === 'failed' || outcome.status === 'not-reached' ? 'ERROR' : 'INFO';
    log(`snapshot-${outcome.status}`, { ...outcome }, level);
    return outcome;
  });
}

export interface RunReport {
  readonly policyId: string;
  readonly slot: string;
  readonly dryRun: boolean;
  readonly planned: number;
  readonly created: number;
  readonly dryRunOk: number;
  readonly alreadyDone: number;
  readonly failed: number;
  readonly notReached: number;
  readonly outcomes: InstanceOutcome[];
}

export function summarize(config: PolicyConfig, slot: string, outcomes: InstanceOutcome[]): RunReport {
  const count = (status: InstanceOutcome['status']) => outcomes.filter((o) => o.status === status).length;
  return {
    policyId: config.policyId,
    slot,
    dryRun: config.dryRun,
    planned: outcomes.length,
    created: count('created'),
    dryRunOk: count('dry-run'),
    alreadyDone: count('already-done'),
    failed: count('failed'),
    notReached: count('not-reached'),
    outcomes,
  };
}

/** A plan error becomes a failed outcome, so every targeted instance appears in the report. */
export function planErrorOutcomes(plan: SnapshotPlan): InstanceOutcome[] {
  return plan.errors.map((e) => ({ instanceId: e.instanceId, status: 'failed', error: e.error, attempts: 0 }));
}

