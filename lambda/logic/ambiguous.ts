// The check before a CreateSnapshots that failed ambiguously (a 5xx, a timeout, a reset connection) is sent
// again: CreateSnapshots has no client token, so EC2 may have made the set and only the answer was lost.
// Instances that failed close together are checked together, by one DescribeSnapshots per 200 instances,
// and only after EC2's listings have had time to settle: a set made a moment ago may not be listed yet, so
// "not listed" counts as "not made" only for a failure at least `settleMs` older than the listing. Pure:
// which calls to make, when, and what their answers mean; the run (runs/snapshot-run.ts) makes the calls.
import { SlotRequest, instancesWithSetForSlot } from './idempotency';
import { INSTANCE_ID_TAG, POLICY_ID_TAG, SLOT_TAG, SnapshotInfo } from './model';
import { Owner } from './ownership';

/** EC2's limit on the values of one filter. */
export const MAX_FILTER_VALUES = 200;

/** A request whose last attempt failed ambiguously, and when. */
export interface AmbiguousFailure extends SlotRequest {
  /** Epoch milliseconds. */
  readonly failedAt: number;
}

export interface CheckTiming {
  /** How long after a failure its set may still be missing from the listings. */
  readonly settleMs: number;
  /** Failures up to this long after the first one waiting are checked with it, in the same calls. */
  readonly gatherMs: number;
  /** No check waits past this (epoch milliseconds): what is not settled by then stays unknown. */
  readonly deadline: number;
}

export interface SnapshotFilter {
  readonly Name: string;
  readonly Values: string[];
}

/**
 * The filters of the DescribeSnapshots calls that list this policy's snapshots of one slot for the given
 * instances: one call per MAX_FILTER_VALUES instances, each with the policy, slot and instance filters.
 */
export function slotCheckFilters(policyId: string, slot: string, instanceIds: readonly string[]): SnapshotFilter[][] {
  const unique = [...new Set(instanceIds)].sort();
  const calls: SnapshotFilter[][] = [];
  for (let i = 0; i < unique.length; i += MAX_FILTER_VALUES) {
    calls.push([
      { Name: `tag:${POLICY_ID_TAG}`, Values: [policyId] },
      { Name: `tag:${SLOT_TAG}`, Values: [slot] },
      { Name: `tag:${INSTANCE_ID_TAG}`, Values: unique.slice(i, i + MAX_FILTER_VALUES) },
    ]);
  }
  return calls;
}

/**
 * When the next check runs: once the earliest waiting failure and every one within `gatherMs` after it have
 * settled, or at the deadline if that comes first. Undefined when nothing waits.
 */
export function nextCheckAt(waiting: readonly Pick<AmbiguousFailure, 'failedAt'>[], timing: CheckTiming): number | undefined {
  if (waiting.length === 0) return undefined;
  const first = Math.min(...waiting.map((f) => f.failedAt));
  return Math.min(first + timing.gatherMs + timing.settleMs, timing.deadline);
}

export type CheckVerdict =
  /** The instance has its set for the slot: the failed attempt made it. */
  | { readonly kind: 'found'; readonly snapshotIds: string[] }
  /** Not listed although the listing came after the settle time: safe to send again. */
  | { readonly kind: 'absent' }
  /** Not listed, but the listing may be too early to tell: check again later. */
  | { readonly kind: 'unsettled' }
  /** Not listed, too early to tell, and no later check fits before the deadline. */
  | { readonly kind: 'unknown' };

/**
 * What a listing made at `listedAt` says of each failure: only the policy's own sets covering every planned
 * volume count (the run's slot check, logic/idempotency.ts), so a set still partly listed is not yet found.
 */
export function checkVerdicts(
  failures: readonly AmbiguousFailure[], listed: readonly SnapshotInfo[], slot: string, owner: Owner,
  listedAt: number, timing: CheckTiming,
): Map<string, CheckVerdict> {
  const found = instancesWithSetForSlot(listed, failures, slot, owner);
  const verdicts = new Map<string, CheckVerdict>();
  for (const failure of failures) {
    const snapshotIds = found.get(failure.instanceId);
    let verdict: CheckVerdict;
    if (snapshotIds) verdict = { kind: 'found', snapshotIds };
    else if (listedAt >= failure.failedAt + timing.settleMs) verdict = { kind: 'absent' };
    else if (listedAt >= timing.deadline) verdict = { kind: 'unknown' };
    else verdict = { kind: 'unsettled' };
    verdicts.set(failure.instanceId, verdict);
  }
  return verdicts;
}
