// Pure helpers for runs that an orchestrator (Step Functions) splits into batches: the execution name of a
// slot, how a plan is cut into batches, and how batch results add up to one run report.
import { InstanceOutcome } from './model';

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

