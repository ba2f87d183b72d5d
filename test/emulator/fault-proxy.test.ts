// The fault proxy the throttling benchmark relies on: its buckets refuse what EC2 would, its answers parse
// in the real SDK as EC2's error codes, its fault draws repeat with the seed, and it counts what it saw.
import {
  CreateSnapshotsCommand, DeleteSnapshotCommand, DescribeAvailabilityZonesCommand, DescribeImagesCommand,
  DescribeInstancesCommand, DescribeSnapshotsCommand, EC2Client, RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import { errorCode, errorMessage, isAmbiguous, isRetryable } from '../../lambda/support/errors';
import { FaultProxy, FaultProxyOptions, startFaultProxy } from '../support/fault-proxy';
import { MotoServer, startMoto } from '../support/moto-server';

let moto: MotoServer;
let instanceId: string;
const proxies: FaultProxy[] = [];
const clients: EC2Client[] = [];

function client(endpoint: string): EC2Client {
  // One attempt, so every send is one request the proxy sees.
  const c = new EC2Client({
    endpoint,
    region: 'us-east-1',
    maxAttempts: 1,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  clients.push(c);
  return c;
}

async function proxy(options: Omit<FaultProxyOptions, 'target'>): Promise<{ proxy: FaultProxy; ec2: EC2Client }> {
  const p = await startFaultProxy({ target: moto.endpoint, ...options });
  proxies.push(p);
  return { proxy: p, ec2: client(p.endpoint) };
}

interface Answer {
  readonly name: string;
  readonly status?: number;
  readonly error?: unknown;
}

/** What the SDK made of an answer: 'ok', or the error's name and HTTP status. */
async function outcome(sent: Promise<unknown>): Promise<Answer> {
  try {
    await sent;
    return { name: 'ok', status: 200 };
  } catch (error) {
    const e = error as { name: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode, error };
  }
}

const createFor = (id: string) => new CreateSnapshotsCommand({ InstanceSpecification: { InstanceId: id } });

beforeAll(async () => {
  moto = await startMoto();
  const direct = client(moto.endpoint);
  const images = await direct.send(new DescribeImagesCommand({}));
  const run = await direct.send(new RunInstancesCommand({ ImageId: images.Images![0].ImageId!, MinCount: 1, MaxCount: 1 }));
  instanceId = run.Instances![0].InstanceId!;
});

afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.stop()));
});

afterAll(() => {
  for (const c of clients) c.destroy();
});

afterAll(async () => {
  await moto?.stop();
});

/** The snapshots moto holds, read straight from it: the proof that a request reached moto. */
async function snapshotCount(): Promise<number> {
  const out = await client(moto.endpoint).send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] }));
  return (out.Snapshots ?? []).length;
}

test('refuses the 101st CreateSnapshots of a burst with RequestLimitExceeded when the bucket does not refill', async () => {
  const { proxy: p, ec2 } = await proxy({ timeScale: 0 });
  const results = [];
  for (let i = 0; i < 101; i++) results.push(await outcome(ec2.send(createFor(instanceId))));

  expect(results.slice(0, 100).every((r) => r.name === 'ok')).toBe(true);
  expect(results[100]).toMatchObject({ name: 'RequestLimitExceeded', status: 503 });
  expect(p.counters().CreateSnapshots).toEqual({
    requests: 101, ok: 100, throttled: 1, bucketThrottled: 1, serverErrors: 0, clientErrors: 0, dropped: 0,
  });
  // The describe family has a bucket of its own.
  expect((await outcome(ec2.send(new DescribeAvailabilityZonesCommand({})))).name).toBe('ok');
});

test('refills the bucket at EC2 rate times timeScale', async () => {
  // 1 token of burst refilled at 5/s x 100 = one token every 2 ms.
  const { proxy: p, ec2 } = await proxy({ timeScale: 100, limits: { mutate: { capacity: 1, refillPerSecond: 5 } } });
  expect((await outcome(ec2.send(createFor(instanceId)))).name).toBe('ok');
  await new Promise((r) => setTimeout(r, 50));
  expect((await outcome(ec2.send(createFor(instanceId)))).name).toBe('ok');
  const frozen = await proxy({ timeScale: 0, limits: { mutate: { capacity: 1, refillPerSecond: 5 } } });
  expect((await outcome(frozen.ec2.send(createFor(instanceId)))).name).toBe('ok');
  await new Promise((r) => setTimeout(r, 50));
  expect((await outcome(frozen.ec2.send(createFor(instanceId)))).name).toBe('RequestLimitExceeded');
  expect(p.counters().CreateSnapshots.ok).toBe(2);
});

test.each([
  ['throttling', { throttleRate: 1 }, 'RequestLimitExceeded', 503, true],
  ['a server fault', { serverErrorRate: 1 }, 'InternalError', 500, true],
])('injected %s parses in the SDK as its EC2 error code', async (_, faults, name, status, retryable) => {
  const { ec2 } = await proxy(faults);
  const result = await outcome(ec2.send(createFor(instanceId)));
  expect(result).toMatchObject({ name, status });
  expect((result.error as Error).message).not.toBe('Unknown');
  expect(errorCode(result.error)).toBe(name);
  expect(isRetryable(result.error)).toBe(retryable);
});

test('a vanished instance answers InvalidInstanceID.NotFound while the others still get their sets', async () => {
  const { proxy: p, ec2 } = await proxy({ vanishInstanceIds: ['i-00000000000000001'] });
  expect((await outcome(ec2.send(createFor('i-00000000000000001')))).name).toBe('InvalidInstanceID.NotFound');
  expect((await outcome(ec2.send(createFor(instanceId)))).name).toBe('ok');
  p.vanish(instanceId);
  const result = await outcome(ec2.send(createFor(instanceId)));
  expect(result).toMatchObject({ name: 'InvalidInstanceID.NotFound', status: 400 });
  expect(isRetryable(result.error)).toBe(false);
  expect(p.records.at(-1)).toMatchObject({ action: 'CreateSnapshots', instanceId, status: 400, fault: 'vanished' });
});

test('a snapshot in use answers InvalidSnapshot.InUse on DeleteSnapshot', async () => {
  const { proxy: p, ec2 } = await proxy({ inUseSnapshotIds: ['snap-0123456789abcdef0'] });
  const result = await outcome(ec2.send(new DeleteSnapshotCommand({ SnapshotId: 'snap-0123456789abcdef0' })));
  expect(result).toMatchObject({ name: 'InvalidSnapshot.InUse', status: 400 });
  expect(isRetryable(result.error)).toBe(false);
  expect(p.records).toEqual([expect.objectContaining({ action: 'DeleteSnapshot', snapshotId: 'snap-0123456789abcdef0', fault: 'in-use' })]);
});

test('the same seed injects the same faults on the same requests', async () => {
  const faultsOf = async (seed: number) => {
    const { proxy: p, ec2 } = await proxy({ seed, throttleRate: 0.3, serverErrorRate: 0.2 });
    for (let i = 0; i < 30; i++) await outcome(ec2.send(new DescribeAvailabilityZonesCommand({})));
    return p.records.map((r) => r.fault ?? 'none');
  };
  const first = await faultsOf(7);
  expect(await faultsOf(7)).toEqual(first);
  expect(await faultsOf(8)).not.toEqual(first);
  expect(new Set(first)).toEqual(new Set(['none', 'injected-throttle', 'injected-error']));
});

test('records every request with its action, status and instance, and counts them per action', async () => {
  const { proxy: p, ec2 } = await proxy({ vanishInstanceIds: ['i-gone'] });
  await outcome(ec2.send(new DescribeInstancesCommand({})));
  await outcome(ec2.send(createFor(instanceId)));
  await outcome(ec2.send(createFor('i-gone')));

  expect(p.records.map(({ action, status, instanceId: id }) => ({ action, status, id }))).toEqual([
    { action: 'DescribeInstances', status: 200, id: undefined },
    { action: 'CreateSnapshots', status: 200, id: instanceId },
    { action: 'CreateSnapshots', status: 400, id: 'i-gone' },
  ]);
  expect(p.records.every((r, i) => r.atMs >= 0 && (i === 0 || r.atMs >= p.records[i - 1].atMs))).toBe(true);
  expect(p.counters()).toEqual({
    DescribeInstances: { requests: 1, ok: 1, throttled: 0, bucketThrottled: 0, serverErrors: 0, clientErrors: 0, dropped: 0 },
    CreateSnapshots: { requests: 2, ok: 1, throttled: 0, bucketThrottled: 0, serverErrors: 0, clientErrors: 1, dropped: 0 },
  });
});

test.each([
  ['injected-error', 'InternalError', 500],
  ['injected-throttle', 'RequestLimitExceeded', 503],
] as const)('a planned %s fails the next request for that instance once, then lets it through', async (fault, name, status) => {
  const { proxy: p, ec2 } = await proxy({});
  p.failOnce('CreateSnapshots', instanceId, fault);
  expect(await outcome(ec2.send(createFor(instanceId)))).toMatchObject({ name, status });
  expect((await outcome(ec2.send(createFor(instanceId)))).name).toBe('ok');
  expect(p.records.map((r) => r.fault)).toEqual([fault, undefined]);
});

test.each([
  ['late-error', { lateErrorRate: 1 }, /^InternalError/, 500],
  // "socket hang up" (ECONNRESET). In Jest the SDK sees node's error from another realm and keeps only its
  // text; outside Jest (Lambda, the bundles, the benchmark) the error keeps its code (errors.ts ECONNRESET).
  ['late-drop', { lateDropRate: 1 }, /socket hang up/, undefined],
] as const)('a %s CreateSnapshots reaches moto, which makes the set, and its answer is lost', async (fault, faults, message, status) => {
  const { proxy: p, ec2 } = await proxy(faults);
  const before = await snapshotCount();
  const result = await outcome(ec2.send(createFor(instanceId)));

  expect(errorMessage(result.error)).toMatch(message);
  expect(result.status).toBe(status);
  // The set exists although the caller was told nothing of it.
  expect(await snapshotCount()).toBeGreaterThan(before);
  expect(p.records).toEqual([expect.objectContaining({ action: 'CreateSnapshots', instanceId, fault })]);
  const counters = p.counters().CreateSnapshots;
  expect([counters.serverErrors, counters.dropped]).toEqual(fault === 'late-error' ? [1, 0] : [0, 1]);
  // The proxy still serves the next request, on a new connection after a drop.
  expect((await outcome(ec2.send(new DescribeAvailabilityZonesCommand({})))).name).toBe('ok');
});

test('a late InternalError parses in the SDK as an ambiguous error: retried only after a check', async () => {
  const { ec2 } = await proxy({ lateErrorRate: 1 });
  const result = await outcome(ec2.send(createFor(instanceId)));
  expect(errorCode(result.error)).toBe('InternalError');
  expect(isRetryable(result.error)).toBe(true);
  expect(isAmbiguous(result.error)).toBe(true);
});

test('an early InternalError never reaches moto: no set is made', async () => {
  const { ec2 } = await proxy({ serverErrorRate: 1 });
  const before = await snapshotCount();
  expect((await outcome(ec2.send(createFor(instanceId)))).name).toBe('InternalError');
  expect(await snapshotCount()).toBe(before);
});

test('late faults fall only on CreateSnapshots, and only on the share drawn', async () => {
  const { proxy: p, ec2 } = await proxy({ lateErrorRate: 0.3, lateDropRate: 0.2, seed: 3 });
  for (let i = 0; i < 5; i++) expect((await outcome(ec2.send(new DescribeAvailabilityZonesCommand({})))).name).toBe('ok');
  for (let i = 0; i < 40; i++) await outcome(ec2.send(createFor(instanceId)));
  const faults = p.records.filter((r) => r.action === 'CreateSnapshots').map((r) => r.fault ?? 'none');
  const share = (f: string) => faults.filter((x) => x === f).length / faults.length;
  expect(share('late-error')).toBeGreaterThan(0.1);
  expect(share('late-drop')).toBeGreaterThan(0.05);
  expect(share('none')).toBeGreaterThan(0.3);
  expect(p.records.filter((r) => r.action !== 'CreateSnapshots').every((r) => r.fault === undefined)).toBe(true);
});

test.each(['late-error', 'late-drop'] as const)('a planned %s falls on the next request for that instance once', async (fault) => {
  const { proxy: p, ec2 } = await proxy({});
  p.failOnce('CreateSnapshots', instanceId, fault);
  const before = await snapshotCount();
  expect((await outcome(ec2.send(createFor(instanceId)))).name).not.toBe('ok');
  expect((await outcome(ec2.send(createFor(instanceId)))).name).toBe('ok');
  expect(p.records.map((r) => r.fault)).toEqual([fault, undefined]);
  expect(await snapshotCount()).toBe(before + 2);
});

test('rejects fault rates that add up to more than 1', async () => {
  await expect(startFaultProxy({ target: moto.endpoint, serverErrorRate: 0.6, lateErrorRate: 0.5 }))
    .rejects.toThrow('fault rates must add up to 1 at most, got 1.1');
});
