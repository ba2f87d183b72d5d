// Throttling benchmark: runs the real planRun + executeRequests against moto behind the fault proxy
// (EC2's token buckets, time-scaled) for fleets of 100, 500 and 2000 instances, and a naive baseline
// (default SDK client, no limiter, every CreateSnapshots at once). Prints, per run, the API calls made
// against the lower bound, the wall time against the bucket's limit, and the instances lost, checked
// against the snapshots moto holds. At BENCH_SHARED_SIZE it adds two cases: `shared` (the proxy's
// CreateSnapshots bucket at 20 burst and 2/s, the account's 5/s shared with other tools, and 10 % injected
// 500s) and `amb500` (10 % of CreateSnapshots reach moto, which makes the set, and are answered with a 500),
// each with a summary line: calls against the bound, time against the bucket's limit, lost and duplicated
// instances, throttled share, and a line of where the execute phase's time went (time.ts). Run:
// npx ts-node --transpile-only bench/throttle.ts
//
// Knobs (environment): BENCH_SIZES=100,500,2000  BENCH_TIME_SCALE=10  BENCH_FAULT_SIZE=<largest size>
// BENCH_SHARED_SIZE=500 (0: no shared and amb500 cases)
// BENCH_CASES=limited,baseline,faults,shared,amb500 (the cases to run; only the fleet sizes they need are seeded)
// BENCH_SDK_MAX_ATTEMPTS=1 (attempts of the client that sends CreateSnapshots; the handlers use 1, so that
// every retry goes through the paced loop and takes a token: 3 shows what SDK retries do to the bucket)
import {
  CreateSnapshotsCommand, DeleteTagsCommand, DescribeImagesCommand, DescribeTagsCommand, EC2Client,
  paginateDescribeInstances,
} from '@aws-sdk/client-ec2';
// The SDK's own retry module (a dependency of @aws-sdk/client-ec2), for its standard strategy with scaled delays.
// eslint-disable-next-line import/no-extraneous-dependencies
import { ConfiguredRetryStrategy } from '@smithy/core/retry';
import { FLEET_TAG, growFleet, SEED_CHUNK } from './fleet';
import { Ec2Adapter } from '../lambda/adapters/ec2';
import { CreateSnapshotsParams, INSTANCE_ID_TAG, InstanceOutcome, POLICY_ID_TAG, SLOT_TAG } from '../lambda/logic/model';
import { executeRequests, planErrorOutcomes, planRun } from '../lambda/runs/snapshot-run';
import { readConfig } from '../lambda/support/config';
import { isAmbiguous } from '../lambda/support/errors';
import { defaultBackoffMs } from '../lambda/support/pacer';
import { TokenBucket } from '../lambda/support/rate-limiter';
import { Defaults } from '../lib/private/contract';
import { countRecords, FaultProxy, FaultProxyOptions, RequestRecord, startFaultProxy } from '../test/support/fault-proxy';
import { MotoServer, startMoto } from '../test/support/moto-server';

process.env.AWS_REGION = 'us-east-1';
process.env.AWS_ACCESS_KEY_ID = 'test';
process.env.AWS_SECRET_ACCESS_KEY = 'test';
const REGION = 'us-east-1';
const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

const TIME_SCALE = Number(process.env.BENCH_TIME_SCALE ?? 10);
const SIZES = (process.env.BENCH_SIZES ?? '100,500,2000').split(',').map(Number);
const FAULT_SIZE = Number(process.env.BENCH_FAULT_SIZE ?? Math.max(...SIZES));
const SDK_MAX_ATTEMPTS = Number(process.env.BENCH_SDK_MAX_ATTEMPTS ?? 1);
const SHARED_SIZE = Number(process.env.BENCH_SHARED_SIZE ?? 500);
const CASE_NAMES = ['limited', 'baseline', 'faults', 'shared', 'amb500'] as const;
const CASES = new Set((process.env.BENCH_CASES ?? CASE_NAMES.join(',')).split(',').map((c) => c.trim()).filter((c) => c !== ''));
for (const c of CASES) {
  if (!(CASE_NAMES as readonly string[]).includes(c)) throw new Error(`BENCH_CASES must name cases of ${CASE_NAMES.join(', ')}, got ${c}`);
}
/** The share of the account's CreateSnapshots bucket left to the run in the `shared` case. */
const SHARED_LIMIT = { capacity: 20, refillPerSecond: 2 };
/** Instances per RunInstances call; moto makes one reservation of each call. */
const POLICY_ID = 'bench';
/** EC2's CreateSnapshots bucket: the limit a run's wall time is measured against. */
const BURST = 100;
const RATE = 5;
/** A Lambda invocation's 15 minutes less the default 30 s safety margin, scaled. */
const DEADLINE_MS = ((15 * 60 - 30) * 1000) / TIME_SCALE;

const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;

/** Silences the handler's JSON log lines (thousands per run); errors still reach the outcomes. */
async function quietly<T>(fn: () => Promise<T>): Promise<T> {
  const original = { log: console.log, warn: console.warn, error: console.error };
  console.log = console.warn = console.error = () => undefined;
  try {
    return await fn();
  } finally {
    Object.assign(console, original);
  }
}

/** Where the execute phase's time went, in EC2 (unscaled) seconds unless named otherwise. */
interface ExecTiming {
  /** DescribeSnapshots calls of the ambiguous checks, the sum and the longest of their durations. */
  readonly describeCalls: number;
  readonly describeSeconds: number;
  readonly describeMaxSeconds: number;
  /** Time in which at least one instance waited for its check: from its failure to the listing that settled it. */
  readonly checkWaitSeconds: number;
  /** Of that, after the last instance's first attempt was sent (only retries are left to send then). */
  readonly checkWaitAfterFirstsSeconds: number;
  /** The mean of each ambiguous failure's wait. */
  readonly checkWaitMeanSeconds: number;
  /** From the start to the last instance's first CreateSnapshots, to the last CreateSnapshots sent, and from its answer to the end. */
  readonly lastFirstSeconds: number;
  readonly lastSentSeconds: number;
  readonly tailSeconds: number;
  /** Mean answer times in real (unscaled) milliseconds: CreateSnapshots, and the checks' DescribeSnapshots. */
  readonly createRealMs: number;
  readonly describeRealMs: number;
  /** The run's refill rate (per EC2 second) when each CreateSnapshots was sent: mean and lowest. */
  readonly rateMean: number;
  readonly rateMin: number;
}

/**
 * The handler's adapter, timing the execute phase's calls: CreateSnapshots (and the client bucket's rate at
 * each), and the DescribeSnapshots of the ambiguous checks, whose filters name the instances they settle.
 */
class TimedEc2Adapter extends Ec2Adapter {
  private startedAt = Date.now();
  private lastSentAt = 0;
  private lastFirstAt = 0;
  private readonly sentTo = new Set<string>();
  private lastAnsweredAt = 0;
  private readonly createMs: number[] = [];
  private readonly describeMs: number[] = [];
  private readonly rates: number[] = [];
  /** Instances whose last CreateSnapshots failed ambiguously: when, and the end of the last listing that named them. */
  private readonly waiting = new Map<string, { failedAt: number; listedUntil?: number }>();
  private readonly waits: Array<[number, number]> = [];

  start(): void {
    this.startedAt = Date.now();
  }

  async createSnapshots(params: CreateSnapshotsParams): Promise<string[]> {
    const instanceId = params.InstanceSpecification.InstanceId;
    this.settle(instanceId);
    const sentAt = Date.now();
    this.lastSentAt = sentAt;
    if (!this.sentTo.has(instanceId)) {
      this.sentTo.add(instanceId);
      this.lastFirstAt = sentAt;
    }
    this.rates.push(this.buckets.mutate.currentRatePerSecond / TIME_SCALE);
    try {
      return await super.createSnapshots(params);
    } catch (error) {
      if (isAmbiguous(error)) this.waiting.set(instanceId, { failedAt: Date.now() });
      throw error;
    } finally {
      this.lastAnsweredAt = Date.now();
      this.createMs.push(this.lastAnsweredAt - sentAt);
    }
  }

  async listSnapshotsMatching(filters: ReadonlyArray<{ readonly Name: string; readonly Values: readonly string[] }>) {
    const startedAt = Date.now();
    try {
      return await super.listSnapshotsMatching(filters);
    } finally {
      const endedAt = Date.now();
      this.describeMs.push(endedAt - startedAt);
      for (const id of filters.find((f) => f.Name === `tag:${INSTANCE_ID_TAG}`)?.Values ?? []) {
        const failure = this.waiting.get(id);
        if (failure) failure.listedUntil = endedAt;
      }
    }
  }

  /** The instance's check is over (it is sent again, or the run ended): its wait ran to the last listing naming it. */
  private settle(instanceId: string): void {
    const failure = this.waiting.get(instanceId);
    if (failure?.listedUntil !== undefined) this.waits.push([failure.failedAt, failure.listedUntil]);
    this.waiting.delete(instanceId);
  }

  timing(endedAt: number = Date.now()): ExecTiming {
    for (const id of [...this.waiting.keys()]) this.settle(id);
    const ec2Seconds = (ms: number) => (ms / 1000) * TIME_SCALE;
    const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
    const mean = (xs: readonly number[]) => (xs.length > 0 ? sum(xs) / xs.length : 0);
    return {
      describeCalls: this.describeMs.length,
      describeSeconds: ec2Seconds(sum(this.describeMs)),
      describeMaxSeconds: ec2Seconds(Math.max(0, ...this.describeMs)),
      checkWaitSeconds: ec2Seconds(unionMs(this.waits)),
      checkWaitAfterFirstsSeconds: ec2Seconds(unionMs(this.waits.map(([a, b]): [number, number] => [Math.max(a, this.lastFirstAt), b]))),
      checkWaitMeanSeconds: ec2Seconds(mean(this.waits.map(([a, b]) => b - a))),
      lastFirstSeconds: ec2Seconds(this.lastFirstAt - this.startedAt),
      lastSentSeconds: ec2Seconds(this.lastSentAt - this.startedAt),
      tailSeconds: ec2Seconds(endedAt - this.lastAnsweredAt),
      createRealMs: mean(this.createMs),
      describeRealMs: mean(this.describeMs),
      rateMean: mean(this.rates),
      rateMin: Math.min(...this.rates),
    };
  }
}

/** The length of the union of intervals (ms); empty or reversed intervals count nothing. */
function unionMs(intervals: ReadonlyArray<[number, number]>): number {
  let total = 0;
  let reached = -Infinity;
  for (const [a, b] of [...intervals].sort((x, y) => x[0] - y[0])) {
    const from = Math.max(a, reached);
    if (b > from) total += b - from;
    reached = Math.max(reached, b);
  }
  return total;
}

interface Row {
  readonly n: number;
  readonly run: string;
  /** The proxy's CreateSnapshots bucket: the limit the run's time is measured against. */
  readonly burst: number;
  readonly rate: number;
  /** CreateSnapshots answered with a 500 (before or after moto) or a dropped connection: each needs a check. */
  readonly ambiguous: number;
  /** CreateSnapshots refused (bucket or injected), of all CreateSnapshots sent. */
  readonly csThrottled: number;
  readonly csSent: number;
  readonly calls: Record<string, number>;
  readonly lowerBound: number;
  /** 503 answers: by the bucket / injected. */
  readonly bucketThrottled: number;
  readonly injected: number;
  /** Requests beyond the first per instance (CreateSnapshots), and of those how many the SDK sent itself. */
  readonly retries: number;
  readonly sdkRetries: number | undefined;
  /** CreateSnapshots requests the bucket let through (whatever their answer): each took a token. */
  readonly admitted: number;
  readonly planSeconds: number;
  readonly execSeconds: number;
  readonly created: number;
  readonly failed: number;
  readonly noSet: number;
  readonly lost: number;
  readonly duplicates: number;
  /** Error codes of the instances that failed, with their counts. */
  readonly failureCodes: Record<string, number>;
  /** Where the execute phase's time went (limited runs only). */
  readonly timing?: ExecTiming;
  /** The proxy's CreateSnapshots bucket left unused (EC2 seconds of refill), before and after the last first attempt. */
  readonly unused: { readonly beforeFirstsSeconds: number; readonly afterFirstsSeconds: number };
}

/**
 * The proxy's CreateSnapshots bucket replayed from its records (full at the first request): the refill lost
 * to a full bucket, and the tokens left at the last request, in EC2 seconds of refill, split at the last
 * instance's first attempt. Each such second is one the run's time exceeds (admitted - burst) / rate by.
 */
function unusedBucket(
  records: readonly RequestRecord[], limit: { capacity: number; refillPerSecond: number },
): { beforeFirstsSeconds: number; afterFirstsSeconds: number } {
  const creates = records.filter((r) => r.action === 'CreateSnapshots');
  const seen = new Set<string>();
  let lastFirst = -1;
  creates.forEach((r, i) => {
    if (r.instanceId !== undefined && !seen.has(r.instanceId)) {
      seen.add(r.instanceId);
      lastFirst = i;
    }
  });
  const perMs = (limit.refillPerSecond * TIME_SCALE) / 1000;
  let tokens = limit.capacity;
  let at = creates[0]?.atMs ?? 0;
  const lost = [0, 0];
  creates.forEach((r, i) => {
    const refilled = tokens + (r.atMs - at) * perMs;
    at = r.atMs;
    lost[i <= lastFirst ? 0 : 1] += Math.max(0, refilled - limit.capacity);
    tokens = Math.min(limit.capacity, refilled);
    if (r.fault !== 'throttled') tokens -= 1;
  });
  lost[1] += Math.max(0, tokens);
  return { beforeFirstsSeconds: lost[0] / limit.refillPerSecond, afterFirstsSeconds: lost[1] / limit.refillPerSecond };
}

/**
 * Instance id to the number of snapshots moto holds for it in this slot, read directly (not through the
 * proxy) from the snapshots' tags. Then the run's snapshot tags are deleted: moto looks tags up by scanning
 * every tag it holds, so each tagged snapshot left behind slows later DescribeInstances and DescribeSnapshots
 * calls (its DescribeSnapshots with a tag filter is quadratic: 6 s for 200 of 1,200 snapshots).
 */
async function setsInMoto(direct: EC2Client, slot: string): Promise<Map<string, number>> {
  const inSlot = await direct.send(new DescribeTagsCommand({
    Filters: [{ Name: 'resource-type', Values: ['snapshot'] }, { Name: 'key', Values: [SLOT_TAG] }, { Name: 'value', Values: [slot] }],
  }));
  const snapshotIds = new Set((inSlot.Tags ?? []).map((t) => t.ResourceId!));
  const owners = await direct.send(new DescribeTagsCommand({
    Filters: [{ Name: 'resource-type', Values: ['snapshot'] }, { Name: 'key', Values: [INSTANCE_ID_TAG] }],
  }));
  const sets = new Map<string, number>();
  for (const t of owners.Tags ?? []) {
    if (snapshotIds.has(t.ResourceId!)) sets.set(t.Value!, (sets.get(t.Value!) ?? 0) + 1);
  }
  if (snapshotIds.size > 0) {
    await direct.send(new DeleteTagsCommand({
      Resources: [...snapshotIds], Tags: [POLICY_ID_TAG, INSTANCE_ID_TAG, SLOT_TAG].map((Key) => ({ Key })),
    }));
  }
  return sets;
}

function callCounts(records: readonly RequestRecord[]): Record<string, number> {
  return Object.fromEntries(Object.entries(countRecords(records)).map(([action, c]) => [action, c.requests]));
}

function lowerBound(n: number): number {
  return Math.ceil(n / 1000) + 1 + n;
}

/** The real plan and execute phases, with the client-side buckets scaled like the proxy's. */
async function limitedRun(
  direct: EC2Client, moto: MotoServer, fleet: readonly string[], run: string,
  faults: Omit<FaultProxyOptions, 'target' | 'timeScale'> = {},
): Promise<Row> {
  const proxy = await startFaultProxy({ target: moto.endpoint, timeScale: TIME_SCALE, ...faults });
  // The handler's clients (Ec2Adapter.fromEnvironment): describe calls with the SDK's standard retry strategy
  // (3 attempts), CreateSnapshots with one attempt, retried by the pacer; SDK delays scaled in time like
  // everything else.
  const scaledRetries = (attempts: number) => new ConfiguredRetryStrategy(attempts,
    (attempt) => (Math.random() * Math.min(20_000, 1000 * 2 ** (attempt - 1))) / TIME_SCALE);
  const client = new EC2Client({ endpoint: proxy.endpoint, region: REGION, credentials: CREDENTIALS, retryStrategy: scaledRetries(3) });
  const mutateClient = new EC2Client({
    endpoint: proxy.endpoint, region: REGION, credentials: CREDENTIALS, retryStrategy: scaledRetries(SDK_MAX_ATTEMPTS),
  });
  try {
    const config = readConfig({ POLICY_ID, INSTANCE_TAGS: JSON.stringify({ [FLEET_TAG.Key]: FLEET_TAG.Value }) });
    const ec2 = new TimedEc2Adapter(client, {
      describe: new TokenBucket(100, 20 * TIME_SCALE),
      mutate: new TokenBucket(config.mutateBurst, config.mutateRatePerSecond * TIME_SCALE),
    }, mutateClient);
    // A slot in the policy's own format (a UTC second): the check of ambiguous failures counts only sets whose
    // slot it can read (logic/ownership.ts). Runs start seconds apart, so each has a slot of its own.
    const slot = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
    const t0 = process.hrtime.bigint();
    const plan = await quietly(() => planRun(ec2, config, slot));
    const planSeconds = seconds(t0);
    const t1 = process.hrtime.bigint();
    ec2.start();
    const outcomes = await quietly(() => executeRequests(ec2, plan.requests, {
      deadline: Date.now() + DEADLINE_MS,
      concurrency: config.concurrency,
      maxAttempts: 8,
      backoffMs: (attempt, error) => defaultBackoffMs(attempt, error) / TIME_SCALE,
      // The handler's check of ambiguous failures, its waits scaled in time like everything else.
      slotCheck: {
        policy: config,
        slot,
        settleMs: (Defaults.AMBIGUOUS_SETTLE_SECONDS * 1000) / TIME_SCALE,
        gatherMs: (Defaults.AMBIGUOUS_GATHER_SECONDS * 1000) / TIME_SCALE,
      },
    }));
    const execSeconds = seconds(t1);
    const timing = ec2.timing();
    const all: InstanceOutcome[] = [...planErrorOutcomes(plan), ...outcomes];
    const pacerAttempts = outcomes.reduce((sum, o) => sum + (o.attempts ?? 0), 0);
    const limit = faults.limits?.mutate ?? { capacity: BURST, refillPerSecond: RATE };
    return { ...await verify(direct, proxy, fleet, slot, run, all, planSeconds, execSeconds, pacerAttempts, undefined, limit), timing };
  } finally {
    client.destroy();
    mutateClient.destroy();
    await proxy.stop();
  }
}

/** A naive run: the SDK's default client (standard retries, 3 attempts), no limiter, every call at once. */
async function baselineRun(direct: EC2Client, moto: MotoServer, fleet: readonly string[]): Promise<Row> {
  const proxy = await startFaultProxy({ target: moto.endpoint, timeScale: TIME_SCALE });
  const client = new EC2Client({ endpoint: proxy.endpoint, region: REGION, credentials: CREDENTIALS });
  try {
    const slot = `baseline-${fleet.length}-${Date.now()}`;
    const t0 = process.hrtime.bigint();
    const ids: string[] = [];
    const pages = paginateDescribeInstances({ client }, {
      Filters: [{ Name: `tag:${FLEET_TAG.Key}`, Values: [FLEET_TAG.Value] }, { Name: 'instance-state-name', Values: ['running'] }],
    });
    for await (const page of pages) {
      for (const r of page.Reservations ?? []) for (const i of r.Instances ?? []) if (i.InstanceId) ids.push(i.InstanceId);
    }
    const planSeconds = seconds(t0);
    const t1 = process.hrtime.bigint();
    const results = await Promise.allSettled(ids.map((id) => client.send(new CreateSnapshotsCommand({
      InstanceSpecification: { InstanceId: id },
      TagSpecifications: [{ ResourceType: 'snapshot', Tags: [{ Key: INSTANCE_ID_TAG, Value: id }, { Key: SLOT_TAG, Value: slot }] }],
    }))));
    const execSeconds = seconds(t1);
    // A naive loop reports no failure per instance (with Promise.all its run dies at the first rejection),
    // so every instance without a set counts as lost.
    const outcomes: InstanceOutcome[] = results.map((r, i) => (r.status === 'fulfilled'
      ? { instanceId: ids[i], status: 'created' }
      : { instanceId: ids[i], status: 'not-reached', error: String(r.reason?.name) }));
    const attempts = results.reduce((sum, r) => sum + ((r.status === 'fulfilled' ? r.value : r.reason)?.$metadata?.attempts ?? 1), 0);
    return await verify(direct, proxy, fleet, slot, 'baseline', outcomes, planSeconds, execSeconds, ids.length, attempts);
  } finally {
    client.destroy();
    await proxy.stop();
  }
}

async function verify(
  direct: EC2Client, proxy: FaultProxy, fleet: readonly string[], slot: string, run: string,
  outcomes: InstanceOutcome[], planSeconds: number, execSeconds: number, pacerAttempts: number, sdkAttempts?: number,
  limit: { capacity: number; refillPerSecond: number } = { capacity: BURST, refillPerSecond: RATE },
): Promise<Row> {
  const sets = await setsInMoto(direct, slot);
  const byInstance = new Map(outcomes.map((o) => [o.instanceId, o]));
  const reported = (id: string) => ['failed', 'not-reached'].includes(byInstance.get(id)?.status ?? '') && run !== 'baseline';
  const noSet = fleet.filter((id) => !sets.has(id));
  const counters = proxy.counters();
  const cs = counters.CreateSnapshots ?? { requests: 0, bucketThrottled: 0, throttled: 0 };
  const all = Object.values(counters);
  const csRequests = cs.requests;
  const failureCodes: Record<string, number> = {};
  for (const o of outcomes) {
    if (o.status !== 'failed' && o.status !== 'not-reached') continue;
    const code = o.error ? o.error.split(':')[0] : o.status;
    failureCodes[code] = (failureCodes[code] ?? 0) + 1;
  }
  const creates = proxy.records.filter((r) => r.action === 'CreateSnapshots');
  return {
    n: fleet.length,
    run,
    burst: limit.capacity,
    rate: limit.refillPerSecond,
    ambiguous: creates.filter((r) => r.fault === 'injected-error' || r.fault === 'late-error' || r.fault === 'late-drop').length,
    csThrottled: creates.filter((r) => r.fault === 'throttled' || r.fault === 'injected-throttle').length,
    csSent: creates.length,
    calls: callCounts(proxy.records),
    lowerBound: lowerBound(fleet.length),
    bucketThrottled: all.reduce((s, c) => s + c.bucketThrottled, 0),
    injected: all.reduce((s, c) => s + c.throttled - c.bucketThrottled, 0) + all.reduce((s, c) => s + c.serverErrors, 0),
    retries: csRequests - fleet.length,
    // Requests the pacer did not make itself were the SDK's own retries (which take no token).
    sdkRetries: sdkAttempts === undefined ? csRequests - pacerAttempts : sdkAttempts - pacerAttempts,
    admitted: csRequests - cs.bucketThrottled,
    planSeconds,
    execSeconds,
    created: outcomes.filter((o) => o.status === 'created').length,
    failed: outcomes.filter((o) => o.status === 'failed' || o.status === 'not-reached').length,
    noSet: noSet.length,
    lost: noSet.filter((id) => !reported(id)).length,
    duplicates: [...sets.values()].filter((count) => count > 1).length,
    failureCodes,
    unused: unusedBucket(proxy.records, limit),
  };
}

/** Grows the tagged fleet to `size` instances; the seconds it took. */
async function seedTo(direct: EC2Client, imageId: string, fleet: string[], size: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  await growFleet(direct, imageId, fleet, size);
  return seconds(t0);
}

const pad = (value: unknown, width: number) => String(value).padStart(width);

function printTable(rows: readonly Row[]): void {
  const header = [
    pad('N', 5), pad('run', 9), pad('DI', 3), pad('DAZ', 3), pad('CS', 5), pad('total', 5), pad('bound', 5),
    pad('503b', 5), pad('inj', 4), pad('retry', 5), pad('sdkR', 5), pad('plan s', 6), pad('exec s', 7),
    pad('EC2 s', 7), pad('limit s', 7), pad('EC2 s', 7), pad('ratio', 6), pad('adm x', 6),
    pad('ok', 5), pad('fail', 4), pad('noSet', 5), pad('lost', 4), pad('dup', 3),
  ].join(' ');
  console.log(header);
  console.log('-'.repeat(header.length));
  for (const r of rows) {
    const total = Object.values(r.calls).reduce((a, b) => a + b, 0);
    const limit = (Math.max(0, r.n - r.burst) / r.rate) / TIME_SCALE;
    const admittedLimit = (Math.max(0, r.admitted - r.burst) / r.rate) / TIME_SCALE;
    console.log([
      pad(r.n, 5), pad(r.run, 9), pad(r.calls.DescribeInstances ?? 0, 3), pad(r.calls.DescribeAvailabilityZones ?? 0, 3),
      pad(r.calls.CreateSnapshots ?? 0, 5), pad(total, 5), pad(r.lowerBound, 5),
      pad(r.bucketThrottled, 5), pad(r.injected, 4), pad(r.retries, 5), pad(r.sdkRetries ?? '-', 5),
      pad(r.planSeconds.toFixed(2), 6), pad(r.execSeconds.toFixed(2), 7), pad((r.execSeconds * TIME_SCALE).toFixed(1), 7),
      pad(limit.toFixed(2), 7), pad((limit * TIME_SCALE).toFixed(1), 7),
      pad(limit > 0 ? (r.execSeconds / limit).toFixed(3) : '-', 6),
      pad(admittedLimit > 0 ? (r.execSeconds / admittedLimit).toFixed(3) : '-', 6),
      pad(r.created, 5), pad(r.failed, 4), pad(r.noSet, 5), pad(r.lost, 4), pad(r.duplicates, 3),
    ].join(' '));
  }
}

/**
 * One line per shared-bucket or ambiguous case: calls against the bound (each ambiguous failure may add one
 * DescribeSnapshots, the bound for checks of one instance each; checks shared by several instances use fewer),
 * time against the bucket's limit (N - burst) / rate, lost and duplicated instances, the throttled share.
 */
function summary(r: Row): string {
  const total = Object.values(r.calls).reduce((a, b) => a + b, 0);
  const limit = (Math.max(0, r.n - r.burst) / r.rate) / TIME_SCALE;
  const admittedLimit = (Math.max(0, r.admitted - r.burst) / r.rate) / TIME_SCALE;
  const describes = r.calls.DescribeSnapshots ?? 0;
  return `${r.run}: N=${r.n} bucket=${r.burst}+${r.rate}/s calls=${total} bound=${r.lowerBound} ` +
    `CreateSnapshots=${r.calls.CreateSnapshots ?? 0} DescribeSnapshots=${describes} ambiguous=${r.ambiguous} ` +
    `exec_s=${(r.execSeconds * TIME_SCALE).toFixed(1)} limit_s=${(limit * TIME_SCALE).toFixed(1)} ratio=${(r.execSeconds / limit).toFixed(3)} ` +
    `admitted_ratio=${(r.execSeconds / admittedLimit).toFixed(3)} lost=${r.lost} failed=${r.failed} dup=${r.duplicates} ` +
    `throttled=${r.csThrottled}/${r.csSent} (${((100 * r.csThrottled) / Math.max(1, r.csSent)).toFixed(1)} %)`;
}

/**
 * Where a run's execute phase went, in EC2 seconds: when the last first attempt and the last CreateSnapshots
 * were sent, the tail after the last answer, the proxy's bucket left unused (before + after the last first
 * attempt), the rate its tokens were used at after the burst, the run's own rate, the checks' waits (wall
 * time with at least one instance waiting, and of that after the last first attempt), their DescribeSnapshots.
 */
function timeLine(r: Row, t: ExecTiming): string {
  const usedRate = t.lastSentSeconds > 0 ? Math.max(0, r.admitted - r.burst) / t.lastSentSeconds : 0;
  return `time ${r.run}: exec_s=${(r.execSeconds * TIME_SCALE).toFixed(1)} last_first_s=${t.lastFirstSeconds.toFixed(1)} ` +
    `last_sent_s=${t.lastSentSeconds.toFixed(1)} tail_s=${t.tailSeconds.toFixed(1)} ` +
    `unused_s=${r.unused.beforeFirstsSeconds.toFixed(1)}+${r.unused.afterFirstsSeconds.toFixed(1)} used_rate=${usedRate.toFixed(2)}/s ` +
    `rate_mean=${t.rateMean.toFixed(2)} rate_min=${t.rateMin.toFixed(2)} ` +
    `check_wait_s=${t.checkWaitSeconds.toFixed(1)} check_wait_after_firsts_s=${t.checkWaitAfterFirstsSeconds.toFixed(1)} ` +
    `check_mean_s=${t.checkWaitMeanSeconds.toFixed(1)} describe_n=${t.describeCalls} describe_s=${t.describeSeconds.toFixed(1)} ` +
    `describe_max_s=${t.describeMaxSeconds.toFixed(1)} real_ms: CreateSnapshots=${t.createRealMs.toFixed(1)} DescribeSnapshots=${t.describeRealMs.toFixed(1)}`;
}

async function main(): Promise<void> {
  const started = process.hrtime.bigint();
  const moto = await startMoto();
  const direct = new EC2Client({ endpoint: moto.endpoint, region: REGION, credentials: CREDENTIALS });
  const rows: Row[] = [];
  const seeding: string[] = [];
  try {
    const imageId = (await direct.send(new DescribeImagesCommand({}))).Images![0].ImageId!;
    const fleet: string[] = [];
    // Without BENCH_CASES, the sizes of BENCH_SIZES (each case where its size is one of them); with it, only
    // the sizes the chosen cases run at.
    const sizes = process.env.BENCH_CASES === undefined ? SIZES : [
      ...(CASES.has('limited') || CASES.has('baseline') ? SIZES : []),
      ...(CASES.has('faults') ? [FAULT_SIZE] : []),
      ...(SHARED_SIZE > 0 && (CASES.has('shared') || CASES.has('amb500')) ? [SHARED_SIZE] : []),
    ];
    for (const n of [...new Set(sizes)].sort((a, b) => a - b)) {
      const before = fleet.length;
      const seedSeconds = await seedTo(direct, imageId, fleet, n);
      seeding.push(`${before}->${n}: ${seedSeconds.toFixed(1)} s`);
      console.error(`seeded ${n} instances (+${n - before} in ${seedSeconds.toFixed(1)} s); running...`);
      const atSize = SIZES.includes(n);
      const runs: Array<[string, boolean, () => Promise<Row>]> = [
        ['limited', atSize, () => limitedRun(direct, moto, fleet, 'limited')],
        ['baseline', atSize, () => baselineRun(direct, moto, fleet)],
        ['faults', n === FAULT_SIZE, () => limitedRun(direct, moto, fleet, 'faults', { throttleRate: 0.3, serverErrorRate: 0.05, seed: 42 })],
        ['shared', n === SHARED_SIZE, () => limitedRun(direct, moto, fleet, 'shared', { limits: { mutate: SHARED_LIMIT }, serverErrorRate: 0.1, seed: 42 })],
        ['amb500', n === SHARED_SIZE, () => limitedRun(direct, moto, fleet, 'amb500', { lateErrorRate: 0.1, seed: 43 })],
      ];
      for (const [, , run] of runs.filter(([name, here]) => here && CASES.has(name))) {
        const t = process.hrtime.bigint();
        const row = await run();
        rows.push(row);
        console.error(`  ${row.run}: ${seconds(t).toFixed(1)} s`);
      }
    }
  } finally {
    direct.destroy();
    await moto.stop();
  }
  console.log(`\ntimeScale ${TIME_SCALE}, limited runs with EC2Client maxAttempts ${SDK_MAX_ATTEMPTS}: bucket refills ${RATE * TIME_SCALE}/s CreateSnapshots, ${20 * TIME_SCALE}/s Describe*; ` +
    `burst ${BURST}; "EC2 s" columns are unscaled (EC2-time) seconds`);
  printTable(rows);
  console.log('\nDI/DAZ/CS: DescribeInstances/DescribeAvailabilityZones/CreateSnapshots requests; bound: ceil(N/1000)+1+N;');
  console.log('503b: refused by the bucket; inj: injected throttles and 500s; retry: CreateSnapshots beyond one per instance,');
  console.log('sdkR: of those, sent by the SDK\'s own retries (no token); exec s: execute phase, vs limit (N-100)/5/timeScale;');
  console.log('noSet: fleet instances without a snapshot in moto tagged with the run\'s slot; lost: of those, without a reported failure');
  console.log('(baseline reports none per instance); dup: instances with more than one snapshot in the slot;');
  console.log('adm x: exec s vs (admitted CreateSnapshots - 100)/5/timeScale, the least time the tokens the run used take.');
  for (const r of rows) {
    if (r.failed > 0) {
      const codes = Object.entries(r.failureCodes).map(([code, count]) => `${code} ${count}`).join(', ');
      console.log(`failures ${r.n} ${r.run}: ${codes}`);
    }
  }
  for (const r of rows.filter((x) => x.run === 'shared' || x.run === 'amb500')) console.log(summary(r));
  for (const r of rows) if (r.timing) console.log(timeLine(r, r.timing));
  console.log(`seeding (RunInstances x${SEED_CHUNK}): ${seeding.join(', ')}`);
  console.log(`total ${seconds(started).toFixed(1)} s`);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
