// Lambda entry point of runs orchestrated by Step Functions (orchestration: STEP_FUNCTIONS), for fleets too
// large for one invocation. Phases, each a state of a state machine:
//   start           (the schedules' target) starts the snapshot run or the clean-up named after the slot,
//                   once per slot;
//   plan-batches    plans the snapshot run once and writes it to S3 in batches sized to the rate budget;
//   execute-batch   sends one batch through the same executor as a single-invocation run;
//   report          adds the batch results up, publishes the metrics and logs the outcome;
//   plan-deletions  lists the policy's snapshots once, decides every set and writes the expired sets to S3
//                   in batches sized to the rate budget;
//   delete-batch    deletes one batch of sets through the same code as the single-invocation cleaner;
//   report-cleanup  adds the deletion results up and publishes the metrics.
import { EC2Client } from '@aws-sdk/client-ec2';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { defaultBuckets, Ec2Adapter } from '../adapters/ec2';
import {
  batchResult, BatchResult, BatchRerun, cutBatches, cutSetBatches, deleteBatchResult, DeleteBatchResult, executionName, initialTokens,
  MAX_ERROR_CHARS, MAX_REPORTED_FAILURES, MAX_RERUNS, mergeAttempts, rerunKey, sumBatches, sumDeleteBatches, withoutHeldSets,
} from '../logic/batches';
import { InstanceOutcome, PlannedSnapshot, POLICY_ID_TAG } from '../logic/model';
import { slotOf } from '../logic/plan';
import { decideCleanup, deleteSets, DoomedSet } from '../runs/cleanup';
import { executeRequests, planRun, skipDone } from '../runs/snapshot-run';
import { PolicyConfig, readConfig } from '../support/config';
import { errorMessage } from '../support/errors';
import { log } from '../support/log';
import { publishCounts } from '../support/metrics';
import { TokenBucket } from '../support/rate-limiter';

interface LambdaContext {
  getRemainingTimeInMillis(): number;
}

export interface BatchRef {
  readonly index: number;
  readonly key: string;
  readonly size: number;
}

export interface PlanSummary {
  readonly slot: string;
  readonly planned: number;
  /** How many instances could not be planned. */
  readonly planFailed: number;
  /** The first MAX_REPORTED_FAILURES of them (all are in the logs), to keep the execution's state small. */
  readonly planFailures: Array<{ instanceId: string; status: string; error?: string }>;
  readonly batches: BatchRef[];
}

/** What the state machine's BatchNotRun state passes on for a batch that failed for good. */
export type NotRunResult = BatchResult & { readonly error: string; readonly key: string; readonly previous?: Partial<BatchResult> };

export interface CleanupPlanSummary {
  readonly slot: string;
  readonly setsKept: number;
  readonly setsToDelete: number;
  readonly snapshotsToDelete: number;
  /** Snapshots with this policy's id but no readable instance or slot tag, never touched (the first 20). */
  readonly unrecognized: number;
  readonly unrecognizedIds: string[];
  readonly batches: BatchRef[];
}

type Event =
  | { phase: 'start'; run?: 'snapshots' | 'cleanup'; slot?: string }
  | { phase: 'plan-batches'; slot: string }
  | { phase: 'execute-batch'; slot: string; index: number; key: string; attempt?: number; previous?: Partial<BatchResult> }
  | { phase: 'report'; slot: string; plan: PlanSummary; results: Array<BatchResult | NotRunResult> }
  | { phase: 'plan-deletions'; slot: string }
  | { phase: 'delete-batch'; slot: string; index: number; key: string }
  | { phase: 'report-cleanup'; slot: string; plan: CleanupPlanSummary; results: DeleteBatchResult[] };

let state: { config: PolicyConfig; ec2Client: EC2Client; mutateClient: EC2Client; s3: S3Client; sfn: SFNClient } | undefined;

function init() {
  if (!state) {
    state = {
      config: readConfig(process.env),
      ec2Client: new EC2Client({ maxAttempts: 3 }),
      mutateClient: new EC2Client({ maxAttempts: 1 }),
      // A custom endpoint (an emulator such as moto) serves buckets by path, not by host name.
      s3: new S3Client({ forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL_S3 || process.env.AWS_ENDPOINT_URL) }),
      sfn: new SFNClient({}),
    };
  }
  return state;
}

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is required`);
  return value;
}

/**
 * The slot of a plan, batch or report event, normalized as the starter normalizes it, so every phase and
 * every snapshot tag of a run carry the same text even when an execution is started by hand with another
 * spelling of the time (idempotency and retention compare slots as text). A missing slot is an error:
 * defaulting to the clock, as the starter does, would give each phase of one run a different slot.
 */
function runSlot(event: { phase: string; slot?: unknown }): string {
  if (event.slot === undefined || event.slot === null || event.slot === '') {
    throw new Error(`event slot is required in phase ${event.phase}`);
  }
  return slotOf(event, new Date());
}

/** Where a run's batches are kept: one folder per policy and slot. */
export function batchKey(policyId: string, slot: string, index: number): string {
  return `runs/${encodeURIComponent(policyId)}/${slot}/batch-${String(index).padStart(5, '0')}.json`;
}

/** Where a clean-up's deletion batches are kept, apart from the runs' (each role reaches only its own prefix). */
export function deletionBatchKey(policyId: string, slot: string, index: number): string {
  return `cleanups/${encodeURIComponent(policyId)}/${slot}/batch-${String(index).padStart(5, '0')}.json`;
}

async function putJson(s3: S3Client, key: string, body: unknown): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: env('PLAN_BUCKET'), Key: key, Body: JSON.stringify(body), ContentType: 'application/json' }));
}

async function getJson<T>(s3: S3Client, key: string): Promise<T> {
  const object = await s3.send(new GetObjectCommand({ Bucket: env('PLAN_BUCKET'), Key: key }));
  return JSON.parse(await object.Body!.transformToString()) as T;
}

/**
 * A batch the state machine gave up on may have run in part (a timeout after some requests): the instances
 * that have a set for the slot count as already done, the others are reported not reached, each by name.
 * If the batch cannot be read, its result stays as the state machine gave it (all its instances not reached).
 */
async function checkNotRun(ec2: Ec2Adapter, config: PolicyConfig, s3: S3Client, slot: string, result: NotRunResult): Promise<BatchResult> {
  try {
    const requests = await getJson<PlannedSnapshot[]>(s3, result.key);
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

export async function handler(event: Event, context?: LambdaContext): Promise<unknown> {
  const { config, ec2Client, mutateClient, s3, sfn } = init();
  const remaining = context?.getRemainingTimeInMillis() ?? 15 * 60_000;
  const deadline = Date.now() + remaining - config.safetyMarginSeconds * 1000;

  switch (event.phase) {
    case 'start': {
      const slot = slotOf(event, new Date());
      const name = executionName(slot);
      const run = event.run ?? 'snapshots';
      if (run !== 'snapshots' && run !== 'cleanup') throw new Error(`event run must be snapshots or cleanup, got ${JSON.stringify(run)}`);
      const stateMachineArn = env(run === 'cleanup' ? 'CLEANUP_STATE_MACHINE_ARN' : 'STATE_MACHINE_ARN');
      try {
        const out = await sfn.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify({ slot }) }));
        log('run-started', { policyId: config.policyId, run, slot, execution: out.executionArn });
        return { run, slot, executionArn: out.executionArn, started: true };
      } catch (error) {
        // The execution name is the slot's: a duplicated or retried invocation finds it taken.
        if (error instanceof ExecutionAlreadyExists) {
          log('run-already-started', { policyId: config.policyId, run, slot, execution: name }, 'WARN');
          return { run, slot, started: false };
        }
        throw error;
      }
    }
    case 'plan-batches': {
      const slot = runSlot(event);
      const ec2 = new Ec2Adapter(ec2Client, defaultBuckets(config.mutateBurst, config.mutateRatePerSecond), mutateClient);
      const plan = await planRun(ec2, config, slot);
      const batchSize = Number(env('BATCH_SIZE'));
      const batches: BatchRef[] = [];
      for (const [index, requests] of cutBatches(plan.requests, batchSize).entries()) {
        const key = batchKey(config.policyId, slot, index);
        await putJson(s3, key, requests);
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
    case 'execute-batch': {
      const slot = runSlot(event);
      const started = Date.now();
      const requests = await getJson<PlannedSnapshot[]>(s3, event.key);
      const attempt = event.attempt ?? 0;
      // Batches run one at a time against one account-wide bucket: only the first attempt of the first batch
      // spends the burst.
      const tokens = initialTokens(attempt > 0 ? 1 : event.index, config.mutateBurst);
      const mutate = new TokenBucket(config.mutateBurst, config.mutateRatePerSecond, undefined, tokens);
      const ec2 = new Ec2Adapter(ec2Client, { describe: defaultBuckets().describe, mutate }, mutateClient);
      const { toSend, done } = await skipDone(ec2, config, slot, requests);
      const outcomes = await executeRequests(ec2, toSend, { deadline, concurrency: config.concurrency, maxAttempts: 8 });
      const result = mergeAttempts(event.previous, batchResult(event.index, [...done, ...outcomes], Date.now() - started));
      const unreached = toSend.filter((_r, i) => outcomes[i].status === 'not-reached');
      const { failures: _, ...counts } = result;
      if (unreached.length > 0 && attempt < MAX_RERUNS) {
        // Not reached before this invocation's deadline: the state machine sends them again in a fresh one.
        const next = attempt + 1;
        const key = rerunKey(batchKey(config.policyId, slot, event.index), next);
        const rerun: BatchRerun = { slot, index: event.index, key, size: unreached.length, attempt: next };
        await putJson(s3, rerun.key, unreached);
        log('batch-rerun', { slot, ...counts, attempt, rerun: rerun.key, rerunSize: rerun.size }, 'WARN');
        return { ...result, rerun };
      }
      log('batch-finished', { slot, ...counts, attempt });
      return result;
    }
    case 'report': {
      const slot = runSlot(event);
      const ec2 = new Ec2Adapter(ec2Client, defaultBuckets(config.mutateBurst, config.mutateRatePerSecond), mutateClient);
      const results: BatchResult[] = [];
      for (const result of event.results) {
        results.push('error' in result ? await checkNotRun(ec2, config, s3, slot, result) : result);
      }
      const total = sumBatches(results);
      const failed = total.failed + event.plan.planFailed;
      publishCounts(config.policyId, {
        SetsCreated: total.created, InstancesFailed: failed, InstancesNotReached: total.notReached, InstancesAlreadyDone: total.alreadyDone,
      });
      const report = {
        policyId: config.policyId,
        slot,
        planned: event.plan.planned,
        ...total,
        batchesNotRun: event.results.filter((r) => 'error' in r).length,
        failed,
        failures: [...event.plan.planFailures, ...total.failures].slice(0, 10 * MAX_REPORTED_FAILURES),
      };
      log('run-finished', { ...report, failures: report.failures.length }, failed + total.notReached > 0 ? 'ERROR' : 'INFO');
      return report;
    }
    case 'plan-deletions': {
      const slot = runSlot(event);
      const ec2 = new Ec2Adapter(ec2Client, defaultBuckets(config.mutateBurst, config.mutateRatePerSecond), mutateClient);
      const { decisions, unrecognized } = await decideCleanup(ec2, config, new Date());
      const doomed: DoomedSet[] = decisions.filter((d) => d.action === 'delete')
        .map(({ set }) => ({ instanceId: set.instanceId, slot: set.slot, snapshotIds: set.snapshotIds }));
      const batches: BatchRef[] = [];
      for (const [index, sets] of cutSetBatches(doomed, Number(env('BATCH_SIZE'))).entries()) {
        const key = deletionBatchKey(config.policyId, slot, index);
        await putJson(s3, key, sets);
        batches.push({ index, key, size: sets.reduce((n, s) => n + s.snapshotIds.length, 0) });
      }
      const summary: CleanupPlanSummary = {
        slot,
        setsKept: decisions.length - doomed.length,
        setsToDelete: doomed.length,
        snapshotsToDelete: doomed.reduce((n, s) => n + s.snapshotIds.length, 0),
        unrecognized: unrecognized.length,
        unrecognizedIds: unrecognized.slice(0, MAX_REPORTED_FAILURES).map((s) => s.snapshotId),
        batches,
      };
      const { unrecognizedIds: _ids, batches: _refs, ...counts } = summary;
      log('cleanup-planned', { ...counts, batches: batches.length });
      return summary;
    }
    case 'delete-batch': {
      const slot = runSlot(event);
      const started = Date.now();
      const sets = await getJson<DoomedSet[]>(s3, event.key);
      const mutate = new TokenBucket(config.mutateBurst, config.mutateRatePerSecond, undefined, initialTokens(event.index, config.mutateBurst));
      const ec2 = new Ec2Adapter(ec2Client, { describe: defaultBuckets().describe, mutate }, mutateClient);
      const { toDelete, held } = withoutHeldSets(sets, await ec2.listHeldSnapshotIds(POLICY_ID_TAG, config.policyId, config.holdTag));
      for (const set of held) log('set-held-since-plan', { slot, instanceId: set.instanceId, setSlot: set.slot, snapshotIds: set.snapshotIds }, 'WARN');
      const deletions = await deleteSets(ec2, config, toDelete, deadline);
      const result = deleteBatchResult(event.index, deletions, held.length, Date.now() - started);
      const { skipped: _, ...counts } = result;
      log('delete-batch-finished', { slot, ...counts });
      return result;
    }
    case 'report-cleanup': {
      const slot = runSlot(event);
      const total = sumDeleteBatches(event.results);
      publishCounts(config.policyId, {
        SetsDeleted: total.setsDeleted, SnapshotsDeleted: total.snapshotsDeleted, DeletesSkipped: total.snapshotsSkipped,
      });
      const report = {
        policyId: config.policyId,
        slot,
        dryRun: config.dryRun,
        setsKept: event.plan.setsKept + total.setsHeld,
        setsToDelete: event.plan.setsToDelete,
        unrecognized: event.plan.unrecognized,
        ...total,
        skipped: total.skipped.slice(0, 10 * MAX_REPORTED_FAILURES),
      };
      log('cleanup-finished', { ...report, skipped: report.skipped.length }, total.snapshotsSkipped > 0 ? 'WARN' : 'INFO');
      return report;
    }
    default:
      throw new Error(`unknown phase ${JSON.stringify((event as { phase?: unknown }).phase)}`);
  }
}

// Each function's handler names its own export (the starter, the run's phases, the clean-up's phases).
export const start = handler;
export const snapshotPhases = handler;
export const cleanupPhases = handler;
