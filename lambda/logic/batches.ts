// Pure helpers for runs that an orchestrator (Step Functions) splits into batches: the execution name of a
// slot, how a plan is cut into batches, and how batch results add up to one run report.
import { InstanceOutcome } from './model';
import { slotOf } from './plan';
import { PlanPrefix } from '../../lib/private/contract';

/**
 * The slot of a plan, batch or report event, normalized as the starter normalizes it, so every phase and
 * every snapshot tag of a run carry the same text even when an execution is started by hand with another
 * spelling of the time (idempotency and retention compare slots as text). A missing slot is an error:
 * defaulting to the clock, as the starter does, would give each phase of one run a different slot.
 */
export function phaseSlot(event: { readonly phase: string; readonly slot?: unknown }, now: Date): string {
  if (event.slot === undefined || event.slot === null || event.slot === '') {
    throw new Error(`event slot is required in phase ${event.phase}`);
  }
  return slotOf(event, now);
}

/**
 * Where a batch is kept in the plan bucket: one folder per role (`PlanPrefix`: each role may reach only its
 * own), policy and slot.
 */
export function batchKey(prefix: (typeof PlanPrefix)[keyof typeof PlanPrefix], policyId: string, slot: string, index: number): string {
  return `${prefix}/${encodeURIComponent(policyId)}/${slot}/batch-${String(index).padStart(5, '0')}.json`;
}

/**
 * The Step Functions execution name of a slot. Names are unique per state machine for 90 days, so a
 * duplicated schedule invocation for the same slot cannot start a second run. Execution names may not
 * contain ':', so the slot's colons become '-'.
 */
export function executionName(slot: string): string {
  const name = `slot-${slot.replace(/:/g, '-')}`;
  if (!/^[A-Za-z0-9_-]{1,80}$/.test(name)) throw new Error(`slot ${JSON.stringify(slot)} gives no valid execution name`);
  return name;
}

/** Cuts the requests into consecutive batches of at most `batchSize`, keeping their order. */
export function cutBatches<T>(items: readonly T[], batchSize: number): T[][] {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batch size must be a whole number of at least 1, got ${batchSize}`);
  const batches: T[][] = [];
  for (let i = 0; i < items.length; i += batchSize) batches.push(items.slice(i, i + batchSize));
  return batches;
}

/**
 * Tokens the executor's bucket starts a batch with. Batches run one after the other against one account-wide
 * EC2 bucket: only the first may spend the burst; later ones start empty and run at the refill rate, so the
 * account's bucket is never oversubscribed however many invocations a run takes.
 */
export function initialTokens(batchIndex: number, burst: number): number {
  return batchIndex === 0 ? burst : 0;
}

/** What one batch reports back to the orchestrator: counts and the instances that need attention. */
export interface BatchResult {
  readonly batch: number;
  readonly created: number;
  readonly dryRunOk: number;
  readonly alreadyDone: number;
  readonly failed: number;
  readonly notReached: number;
  /** At most MAX_REPORTED_FAILURES of them (every one is in the logs); keeps the state machine's state small. */
  readonly failures: Array<{ instanceId: string; status: string; error?: string }>;
  readonly durationMs: number;
}

/**
 * Step Functions state is limited to 256 KB and the Map collects every batch's result: a batch names at most
 * this many failed instances, each error cut to MAX_ERROR_CHARS (about 5.4 KB a batch, so some 40 batches, or
 * 87,000 instances, fit even when every instance fails). Every failure is in the logs, one line per instance.
 */
export const MAX_REPORTED_FAILURES = 20;
export const MAX_ERROR_CHARS = 200;

export function batchResult(batch: number, outcomes: readonly InstanceOutcome[], durationMs: number): BatchResult {
  const count = (s: InstanceOutcome['status']) => outcomes.filter((o) => o.status === s).length;
  return {
    batch,
    created: count('created'),
    dryRunOk: count('dry-run'),
    alreadyDone: count('already-done'),
    failed: count('failed'),
    notReached: count('not-reached'),
    failures: outcomes
      .filter((o) => o.status === 'failed' || o.status === 'not-reached')
      .slice(0, MAX_REPORTED_FAILURES)
      .map((o) => ({ instanceId: o.instanceId, status: o.status, error: o.error?.slice(0, MAX_ERROR_CHARS) })),
    durationMs,
  };
}

/**
 * How many more times a batch is sent, with only its instances not reached, within the same run. A batch is
 * sized to take half of its invocation at EC2's rate, so instances are left unreached only when others share
 * the account's bucket; a fresh invocation, with its own time budget, picks them up.
 */
export const MAX_RERUNS = 2;

/** The next invocation of a batch, with only the instances its last attempt did not reach. */
export interface BatchRerun {
  readonly slot: string;
  readonly index: number;
  readonly key: string;
  readonly size: number;
  readonly attempt: number;
}

/** Where the instances a batch's attempt did not reach are kept for its next attempt. */
export function rerunKey(key: string, attempt: number): string {
  return `${key.replace(/\.json$/, '')}-rerun-${attempt}.json`;
}

/**
 * One batch's result over its attempts: the instances an earlier attempt did not reach are exactly those the
 * current attempt was given, so every count but notReached adds up, and notReached is the current attempt's.
 */
export function mergeAttempts(previous: Partial<BatchResult> | undefined, current: BatchResult): BatchResult {
  const p = previous ?? {};
  return {
    batch: current.batch,
    created: (p.created ?? 0) + current.created,
    dryRunOk: (p.dryRunOk ?? 0) + current.dryRunOk,
    alreadyDone: (p.alreadyDone ?? 0) + current.alreadyDone,
    failed: (p.failed ?? 0) + current.failed,
    notReached: current.notReached,
    failures: [...(p.failures ?? []).filter((f) => f.status !== 'not-reached'), ...current.failures].slice(0, MAX_REPORTED_FAILURES),
    durationMs: (p.durationMs ?? 0) + current.durationMs,
  };
}

/** Adds batch results up; a batch the orchestrator could not run at all counts all its instances as not reached. */
export function sumBatches(results: readonly BatchResult[]): Omit<BatchResult, 'batch' | 'durationMs'> & { batches: number } {
  return {
    batches: results.length,
    created: results.reduce((n, r) => n + r.created, 0),
    dryRunOk: results.reduce((n, r) => n + r.dryRunOk, 0),
    alreadyDone: results.reduce((n, r) => n + r.alreadyDone, 0),
    failed: results.reduce((n, r) => n + r.failed, 0),
    notReached: results.reduce((n, r) => n + r.notReached, 0),
    failures: results.flatMap((r) => r.failures),
  };
}


/**
 * Cuts expired sets into deletion batches of at most `maxSnapshots` snapshots, keeping their order and never
 * splitting a set (a set larger than the limit gets a batch of its own), so that a batch that runs out of time
 * or fails leaves whole sets behind, never half of one.
 */
export function cutSetBatches<T extends { readonly snapshotIds: readonly string[] }>(sets: readonly T[], maxSnapshots: number): T[][] {
  if (!Number.isInteger(maxSnapshots) || maxSnapshots < 1) {
    throw new Error(`batch size must be a whole number of at least 1, got ${maxSnapshots}`);
  }
  const batches: T[][] = [];
  let current: T[] = [];
  let count = 0;
  for (const set of sets) {
    if (current.length > 0 && count + set.snapshotIds.length > maxSnapshots) {
      batches.push(current);
      current = [];
      count = 0;
    }
    current.push(set);
    count += set.snapshotIds.length;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/**
 * Splits a deletion batch into the sets still to delete and those that someone put on hold since the plan
 * was made (any of their snapshots is in `heldSnapshotIds`): an orchestrated clean-up can take hours between
 * planning and deleting, and a hold must win over a plan.
 */
export function withoutHeldSets<T extends { readonly snapshotIds: readonly string[] }>(
  sets: readonly T[], heldSnapshotIds: ReadonlySet<string>,
): { toDelete: T[]; held: T[] } {
  const toDelete: T[] = [];
  const held: T[] = [];
  for (const set of sets) (set.snapshotIds.some((id) => heldSnapshotIds.has(id)) ? held : toDelete).push(set);
  return { toDelete, held };
}

/** What one deletion batch reports back to the orchestrator. */
export interface DeleteBatchResult {
  readonly batch: number;
  readonly setsDeleted: number;
  readonly snapshotsDeleted: number;
  /** Sets left in place because they were put on hold after the plan was made. */
  readonly setsHeld: number;
  /** Of `snapshotsDeleted`, the duplicates of kept sets (absent from a batch of an earlier version). */
  readonly duplicatesDeleted?: number;
  /** Snapshots left in place (in use by an AMI, failed, not reached); tried again next run. */
  readonly snapshotsSkipped: number;
  /** The first MAX_REPORTED_FAILURES of them (all are in the logs). */
  readonly skipped: Array<{ snapshotId: string; error: string }>;
  readonly durationMs: number;
}

export function deleteBatchResult(
  batch: number,
  outcome: {
    setsDeleted: number; snapshotsDeleted: number; duplicatesDeleted: number; snapshotsSkipped: ReadonlyArray<{ snapshotId: string; error: string }>;
  },
  setsHeld: number,
  durationMs: number,
): DeleteBatchResult {
  return {
    batch,
    setsDeleted: outcome.setsDeleted,
    snapshotsDeleted: outcome.snapshotsDeleted,
    duplicatesDeleted: outcome.duplicatesDeleted,
    setsHeld,
    snapshotsSkipped: outcome.snapshotsSkipped.length,
    skipped: outcome.snapshotsSkipped.slice(0, MAX_REPORTED_FAILURES)
      .map((s) => ({ snapshotId: s.snapshotId, error: s.error.slice(0, MAX_ERROR_CHARS) })),
    durationMs,
  };
}

/**
 * Adds deletion batch results up. A batch the orchestrator could not run at all reports all its snapshots
 * as skipped: they are still there, and the next clean-up plans them again.
 */
export function sumDeleteBatches(results: readonly DeleteBatchResult[]): Omit<DeleteBatchResult, 'batch' | 'durationMs'> & { batches: number } {
  return {
    batches: results.length,
    setsDeleted: results.reduce((n, r) => n + r.setsDeleted, 0),
    snapshotsDeleted: results.reduce((n, r) => n + r.snapshotsDeleted, 0),
    duplicatesDeleted: results.reduce((n, r) => n + (r.duplicatesDeleted ?? 0), 0),
    setsHeld: results.reduce((n, r) => n + r.setsHeld, 0),
    snapshotsSkipped: results.reduce((n, r) => n + r.snapshotsSkipped, 0),
    skipped: results.flatMap((r) => r.skipped),
  };
}
