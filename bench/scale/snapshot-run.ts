// One fleet size of bench/scale.ts: moto reset and seeded, the run's state machine carried out, and what moto
// holds afterwards checked against the report and the handler's logs (instances lost, second sets).
import { performance } from 'perf_hooks';
import { EC2Client } from '@aws-sdk/client-ec2';
import { S3Client } from '@aws-sdk/client-s3';
import { LogCapture, resetS3Calls, s3Calls } from './capture';
import { resetMoto, seed, setsInMoto } from './moto';
import { progress, seconds, SIZES, slotMinutesAgo, TIME_SCALE } from './settings';
import { executeCapturing, newInterpreter } from './tasks';
import { BenchMachine } from './template';
import { countRecords, FaultProxy, RequestRecord } from '../../test/support/fault-proxy';
import { MotoServer } from '../../test/support/moto-server';
import { ExecutionStats, JsonObject } from '../../test/support/state-machine-interpreter';

/** What the bench works against: moto, the fault proxy in front of its EC2, and clients straight to moto. */
export interface BenchBackend {
  readonly moto: MotoServer;
  readonly proxy: FaultProxy;
  readonly ec2: EC2Client;
  readonly s3: S3Client;
}

/** What moto holds after a run, against what the report and the logs say. */
interface RunCheck {
  readonly noSet: number;
  readonly namedInReport: number;
  readonly onlyInLogs: number;
  readonly lost: number;
  readonly duplicates: number;
}

export interface SizeResult extends RunCheck {
  readonly n: number;
  readonly batchSize: number;
  readonly batches: number;
  readonly timeoutSeconds: number;
  readonly status: string;
  readonly stats: ExecutionStats;
  readonly totalSeconds: number;
  readonly calls: Record<string, number>;
  readonly bucketThrottled: number;
  readonly injected: number;
  readonly s3: Record<string, number>;
  readonly report: JsonObject | undefined;
  readonly logBytes: number;
  readonly wall: { seed: number; run: number; check: number };
}

export async function runSize(n: number, index: number, machine: BenchMachine, backend: BenchBackend): Promise<SizeResult> {
  const { proxy, ec2 } = backend;
  const wallSeed = performance.now();
  await resetMoto(backend.moto, ec2, backend.s3);
  const fleet = await seed(ec2, n);
  const seedSeconds = seconds(wallSeed);
  progress(`N=${n}: seeded ${fleet.length} instances in ${seedSeconds.toFixed(1)} s; running the state machine...`);

  const firstRecord = proxy.records.length;
  resetS3Calls();
  const logs = new LogCapture();
  const interpreter = newInterpreter(machine);
  // A distinct slot per size, in the past (the handler refuses slots more than an hour ahead of its clock).
  const slot = slotMinutesAgo(SIZES.length - index);
  const { report, status, runSeconds } = await executeCapturing(interpreter, machine.definition, slot, logs);

  const wallCheck = performance.now();
  const records = proxy.records.slice(firstRecord);
  const counters = countRecords(records);
  const all = Object.values(counters);
  const check = await checkRun(ec2, slot, fleet, report, logs, records);
  return {
    n,
    batchSize: Number(machine.fn.environment.BATCH_SIZE),
    timeoutSeconds: machine.fn.timeoutSeconds,
    batches: interpreter.stats.invocations.filter((i) => i.phase === 'execute-batch').reduce((s, i) => s.add(i.batch!), new Set<number>()).size,
    status,
    stats: interpreter.stats,
    totalSeconds: runSeconds * TIME_SCALE,
    calls: Object.fromEntries(Object.entries(counters).map(([action, c]) => [action, c.requests])),
    bucketThrottled: all.reduce((s, c) => s + c.bucketThrottled, 0),
    injected: all.reduce((s, c) => s + c.throttled - c.bucketThrottled + c.serverErrors, 0),
    s3: { ...s3Calls },
    report,
    ...check,
    logBytes: logs.bytes,
    wall: { seed: seedSeconds, run: runSeconds, check: seconds(wallCheck) },
  };
}

/** Instances without a set for the slot, whether the report or the logs name them, and instances with two sets. */
async function checkRun(
  ec2: EC2Client, slot: string, fleet: readonly string[], report: JsonObject | undefined, logs: LogCapture, records: readonly RequestRecord[],
): Promise<RunCheck> {
  const sets = await setsInMoto(ec2, slot);
  const named = new Set(((report?.failures ?? []) as Array<{ instanceId: string }>).map((f) => f.instanceId));
  const noSet = fleet.filter((id) => !sets.has(id));
  // Instances sent more than one CreateSnapshots that moto accepted: a second set for the same slot.
  const accepted = new Map<string, number>();
  for (const r of records) {
    if (r.action === 'CreateSnapshots' && r.status === 200 && r.instanceId) accepted.set(r.instanceId, (accepted.get(r.instanceId) ?? 0) + 1);
  }
  return {
    noSet: noSet.length,
    namedInReport: noSet.filter((id) => named.has(id)).length,
    onlyInLogs: noSet.filter((id) => !named.has(id) && logs.failedInstances.has(id)).length,
    lost: noSet.filter((id) => !named.has(id) && !logs.failedInstances.has(id)).length,
    duplicates: [...accepted.values()].filter((count) => count > 1).length,
  };
}
