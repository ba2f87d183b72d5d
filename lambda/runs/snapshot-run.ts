// A snapshot run: plan (one pass over the fleet, pure decisions), then send the planned requests under the
// rate limit, skipping instances an earlier invocation of the slot already did. `snapshotRun` is the whole
// run of Orchestration.LAMBDA; the orchestrated phases (snapshot-batches.ts) call its halves apart.
import { Defaults, Metric, Tag } from '../../lib/private/contract';
import type { Ec2Adapter } from '../adapters/ec2';
import { AmbiguousFailure, CheckTiming, CheckVerdict, checkVerdicts, nextCheckAt, slotCheckFilters } from '../logic/ambiguous';
import { instancesWithSetForSlot } from '../logic/idempotency';
import { InstanceOutcome, PlannedSnapshot, SnapshotInfo, SnapshotPlan, Tags } from '../logic/model';
import { Owner, ownerOf } from '../logic/ownership';
import { instanceFilters, planSnapshots } from '../logic/plan';
import { PolicyConfig } from '../support/config';
import { errorMessage } from '../support/errors';
import { log } from '../support/log';
import { publishCounts } from '../support/metrics';
import { runPaced } from '../support/pacer';
import { Clock, realClock } from '../support/rate-limiter';

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
  const outcomes = await executeRequests(ec2, toSend, {
    deadline, concurrency: config.concurrency, maxAttempts: Defaults.MAX_ATTEMPTS, slotCheck: { policy: config, slot },
  });
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
  /** Failed attempts per instance (throttling not counted: it only slows the run). */
  readonly maxAttempts: number;
  readonly backoffMs?: (attempt: number, error: unknown) => number;
  /**
   * The policy and slot the requests are for. With it, a CreateSnapshots that failed ambiguously is sent
   * again only after a check found no set for the slot; without it, it is sent again unchecked.
   */
  readonly slotCheck?: SlotCheckOptions;
  readonly clock?: Clock;
}

export interface SlotCheckOptions {
  readonly policy: { readonly policyId: string; readonly instanceTags: Tags };
  readonly slot: string;
  /** @default Defaults.AMBIGUOUS_SETTLE_SECONDS */
  readonly settleMs?: number;
  /** @default Defaults.AMBIGUOUS_GATHER_SECONDS */
  readonly gatherMs?: number;
}

/** Sends each request through the pacer; an instance found to have its set after an ambiguous failure is created. */
export async function executeRequests(
  ec2: Ec2Adapter, requests: readonly PlannedSnapshot[], options: ExecuteOptions,
): Promise<InstanceOutcome[]> {
  const clock = options.clock ?? realClock;
  const check = options.slotCheck ? new SlotSetCheck(ec2, options.slotCheck, options.deadline, clock) : undefined;
  const results = await runPaced(requests, (r) => ec2.createSnapshots(r.params), {
    bucket: ec2.buckets.mutate,
    concurrency: options.concurrency,
    deadline: options.deadline,
    maxAttempts: options.maxAttempts,
    backoffMs: options.backoffMs,
    resolveAmbiguous: check && ((r) => check.hasSet(r)),
    clock,
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
    const found = result.status === 'ok' && result.foundByCheck ? { foundByCheck: true } : {};
    log(`snapshot-${outcome.status}`, { ...outcome, ...found }, level);
    return outcome;
  });
}

/**
 * Whether instances whose CreateSnapshots failed ambiguously have their set for the slot after all. Failures
 * close together wait for one check (logic/ambiguous.ts decides when, with which filters, and what the
 * listing means), so a burst of 5xx costs one DescribeSnapshots per 200 instances, not one per instance.
 */
class SlotSetCheck {
  private readonly waiting: Array<AmbiguousFailure & { settle: (verdict: CheckVerdict | Error) => void }> = [];
  private running = false;
  private readonly owner: Owner;
  private readonly timing: CheckTiming;

  constructor(private readonly ec2: Ec2Adapter, private readonly options: SlotCheckOptions, deadline: number, private readonly clock: Clock) {
    this.owner = ownerOf(options.policy, new Date(clock.now()));
    this.timing = {
      settleMs: options.settleMs ?? Defaults.AMBIGUOUS_SETTLE_SECONDS * 1000,
      gatherMs: options.gatherMs ?? Defaults.AMBIGUOUS_GATHER_SECONDS * 1000,
      deadline,
    };
  }

  /** The set's snapshot ids if the instance has its set, undefined if surely not; rejects if it cannot tell. */
  async hasSet(request: PlannedSnapshot): Promise<string[] | undefined> {
    const verdict = await new Promise<CheckVerdict | Error>((settle) => {
      this.waiting.push({ instanceId: request.instanceId, volumeIds: request.volumeIds, failedAt: this.clock.now(), settle });
      void this.run();
    });
    if (verdict instanceof Error) throw verdict;
    if (verdict.kind === 'found') {
      log('snapshot-found-after-ambiguous-failure', { slot: this.options.slot, instanceId: request.instanceId, snapshotIds: verdict.snapshotIds });
      return verdict.snapshotIds;
    }
    if (verdict.kind === 'absent') return undefined;
    throw new Error(`could not tell whether ${request.instanceId} has its set for ${this.options.slot} before the deadline`);
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (let at = nextCheckAt(this.waiting, this.timing); at !== undefined; at = nextCheckAt(this.waiting, this.timing)) {
        await this.clock.sleep(Math.max(0, at - this.clock.now()));
        await this.checkWaiting();
      }
    } finally {
      this.running = false;
    }
  }

  /** One check of every instance waiting now; those it cannot settle yet wait for the next. */
  private async checkWaiting(): Promise<void> {
    const batch = [...this.waiting];
    const listedAt = this.clock.now();
    const { policy, slot } = this.options;
    let listed: SnapshotInfo[] = [];
    try {
      for (const filters of slotCheckFilters(policy.policyId, slot, batch.map((f) => f.instanceId))) {
        listed = listed.concat(await this.ec2.listSnapshotsMatching(filters));
      }
    } catch (error) {
      log('ambiguous-check-failed', { slot, instanceIds: batch.map((f) => f.instanceId), error: errorMessage(error) }, 'WARN');
      this.release(batch, () => (error instanceof Error ? error : new Error(errorMessage(error))));
      return;
    }
    const verdicts = checkVerdicts(batch, listed, slot, this.owner, listedAt, this.timing);
    const counts: Record<string, number> = {};
    for (const v of verdicts.values()) counts[v.kind] = (counts[v.kind] ?? 0) + 1;
    log('ambiguous-checked', { slot, instances: batch.length, ...counts });
    this.release(batch.filter((f) => verdicts.get(f.instanceId)!.kind !== 'unsettled'), (f) => verdicts.get(f.instanceId)!);
  }

  private release(
    failures: ReadonlyArray<AmbiguousFailure & { settle: (verdict: CheckVerdict | Error) => void }>,
    verdictOf: (failure: AmbiguousFailure) => CheckVerdict | Error,
  ): void {
    for (const failure of failures) {
      this.waiting.splice(this.waiting.indexOf(failure), 1);
      failure.settle(verdictOf(failure));
    }
  }
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

