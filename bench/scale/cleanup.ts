// The clean-up stage of bench/scale.ts: a history of CLEANUP_SLOTS daily sets per instance made straight in
// moto, one orchestrated clean-up carried out, and what moto holds afterwards checked against the retention.
import { performance } from 'perf_hooks';
import { EC2Client } from '@aws-sdk/client-ec2';
import { LogCapture } from './capture';
import { resetMoto, seed, seedHistory, slotsInMoto } from './moto';
import { CLEANUP_KEEP_LAST, CLEANUP_SLOTS, CLEANUP_SNAPSHOTS, f1, progress, seconds, slotMinutesAgo, TIME_SCALE } from './settings';
import { BenchBackend } from './snapshot-run';
import { executeCapturing, newInterpreter } from './tasks';
import { BenchMachine } from './template';
import { countRecords } from '../../test/support/fault-proxy';
import { ExecutionStats, JsonObject } from '../../test/support/state-machine-interpreter';

export interface CleanupResult {
  readonly snapshots: number;
  readonly instances: number;
  readonly expected: number;
  readonly status: string;
  readonly stats: ExecutionStats;
  readonly batches: number;
  readonly batchSize: number;
  readonly totalSeconds: number;
  readonly calls: Record<string, number>;
  readonly bucketThrottled: number;
  readonly report: JsonObject | undefined;
  /** Sets the rules keep that are gone: must be 0. */
  readonly wrongDeletes: number;
  /** Expired sets still there (each must be among the snapshots the report counts as skipped). */
  readonly left: number;
  readonly wall: { seed: number; run: number; check: number };
}

/** Daily slots at 03:00 UTC, the newest yesterday's. */
function historySlots(): string[] {
  const today = Math.floor(Date.now() / 86_400_000) * 86_400_000;
  return Array.from({ length: CLEANUP_SLOTS }, (_, i) => new Date(today - (CLEANUP_SLOTS - i) * 86_400_000 + 3 * 3_600_000)
    .toISOString().replace(/\.\d{3}Z$/, 'Z'));
}

export async function runCleanup(machine: BenchMachine, backend: BenchBackend): Promise<CleanupResult> {
  const { proxy, ec2 } = backend;
  const fn = machine.fn;
  const instances = CLEANUP_SNAPSHOTS / CLEANUP_SLOTS;
  const wallSeed = performance.now();
  await resetMoto(backend.moto, ec2, backend.s3);
  const fleet = await seed(ec2, instances);
  const slots = historySlots();
  await seedHistory(ec2, fleet, { policyId: fn.environment.POLICY_ID, instanceTags: JSON.parse(fn.environment.INSTANCE_TAGS) }, slots);
  const seedSeconds = seconds(wallSeed);
  progress(`clean-up: seeded ${fleet.length} instances with ${slots.length} sets each in ${f1(seedSeconds)} s; running the state machine...`);

  const firstRecord = proxy.records.length;
  const interpreter = newInterpreter(machine);
  const { report, status, runSeconds } = await executeCapturing(interpreter, machine.definition, slotMinutesAgo(0), new LogCapture());

  const wallCheck = performance.now();
  const counters = countRecords(proxy.records.slice(firstRecord));
  const { wrongDeletes, left } = await checkCleanup(ec2, fn.environment.POLICY_ID, fleet, slots);
  return {
    snapshots: CLEANUP_SNAPSHOTS,
    instances,
    expected: instances * (CLEANUP_SLOTS - CLEANUP_KEEP_LAST),
    status,
    stats: interpreter.stats,
    batches: interpreter.stats.invocations.filter((i) => i.phase === 'delete-batch').reduce((s, i) => s.add(i.batch!), new Set<number>()).size,
    batchSize: Number(fn.environment.BATCH_SIZE),
    totalSeconds: runSeconds * TIME_SCALE,
    calls: Object.fromEntries(Object.entries(counters).map(([action, c]) => [action, c.requests])),
    bucketThrottled: Object.values(counters).reduce((s, c) => s + c.bucketThrottled, 0),
    report,
    wrongDeletes,
    left,
    wall: { seed: seedSeconds, run: runSeconds, check: seconds(wallCheck) },
  };
}

/** Kept sets that moto no longer holds, and expired sets it still holds. */
async function checkCleanup(
  ec2: EC2Client, policyId: string, fleet: readonly string[], slots: readonly string[],
): Promise<{ wrongDeletes: number; left: number }> {
  const remaining = await slotsInMoto(ec2, policyId);
  const kept = slots.slice(-CLEANUP_KEEP_LAST);
  let wrongDeletes = 0;
  let left = 0;
  for (const instanceId of fleet) {
    const has = remaining.get(instanceId) ?? new Set<string>();
    wrongDeletes += kept.filter((s) => !has.has(s)).length;
    left += slots.filter((s) => !kept.includes(s) && has.has(s)).length;
  }
  return { wrongDeletes, left };
}
