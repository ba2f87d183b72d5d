// The bundled handlers through the fault layer (bench/fault-proxy.ts in front of moto): EC2's token buckets,
// 30 % injected throttling and 5 % injected InternalError, an instance that vanishes mid-run and a snapshot
// in use by an AMI. Every targeted instance must end with a set or a reported failure, the metrics must
// match what moto holds, the clean-up must delete nothing extra, and a duplicated slot must create nothing.
import { EC2Client } from '@aws-sdk/client-ec2';
import type { CleanupReport } from '../../lambda/runs/cleanup';
import type { RunReport } from '../../lambda/runs/snapshot-run';
import { Handler } from '../../lib/private/contract';
import { assertImage, emulatorClient, emulatorEnv, launch } from '../support/emulator-ec2';
import { FaultProxy, startFaultProxy } from '../support/fault-proxy';
import { LambdaContainer, startContainer } from '../support/lambda-container';
import { MotoServer, startMoto } from '../support/moto-server';
import { policySetIds } from '../support/policy-sets';

const POLICY_ID = 'faults';
const FLEET_SIZE = 12;
const SLOTS = ['2026-02-01T03:00:00Z', '2026-02-02T03:00:00Z', '2026-02-03T03:00:00Z'];

let moto: MotoServer;
let proxy: FaultProxy;
let ec2: EC2Client;
const containers: LambdaContainer[] = [];

function env(): Record<string, string> {
  return {
    ...emulatorEnv(proxy.endpoint),
    POLICY_ID,
    INSTANCE_TAGS: JSON.stringify({ Backup: 'faults' }),
    RETENTION: JSON.stringify({ last: 1 }),
    ORPHAN_RETENTION_SECONDS: String(90 * 86_400),
  };
}

async function container(name: 'snapshot-run' | 'cleanup'): Promise<LambdaContainer> {
  const c = await startContainer(name === 'snapshot-run' ? Handler.SNAPSHOT_RUN : Handler.CLEANUP, env());
  containers.push(c);
  return c;
}

/** The policy's snapshots in moto, by instance, then slot (read directly, not through the fault layer). */
const setsInMoto = () => policySetIds(ec2, POLICY_ID);

function metricsLine(logs: any[]): any {
  const emf = logs.filter((l) => l._aws);
  expect(emf).toHaveLength(1);
  return emf[0];
}

let fleet: string[];

beforeAll(async () => {
  moto = await startMoto();
  ec2 = emulatorClient(moto.endpoint);
  await assertImage(ec2);
  fleet = [];
  for (let i = 0; i < FLEET_SIZE; i++) fleet.push((await launch(ec2, { Backup: 'faults' })).instanceId);
  // Time-scaled 20x so the buckets are real but the test is quick; faults drawn from a fixed seed.
  proxy = await startFaultProxy({ target: moto.endpoint, timeScale: 20, throttleRate: 0.3, serverErrorRate: 0.05, seed: 7 });
});

afterAll(async () => {
  await Promise.all(containers.splice(0).map((c) => c.stop()));
  ec2?.destroy();
  await proxy?.stop();
  await moto?.stop();
});

test('under throttling, 5xx and a vanished instance, every instance ends with a set or a reported failure, and the metrics say so', async () => {
  const vanished = fleet[3];
  proxy.vanish(vanished);
  // Besides the random draws (keyed by moto's random instance IDs, so they differ from run to run), one
  // certain InternalError and one certain throttle, so both retry paths are exercised in every run.
  proxy.failOnce('CreateSnapshots', fleet[5]);
  proxy.failOnce('CreateSnapshots', fleet[7], 'injected-throttle');
  const snapshotter = await container('snapshot-run');

  const { result, logs } = await snapshotter.invoke<RunReport>({ slot: SLOTS[0] });

  const sets = await setsInMoto();
  const withSet = fleet.filter((id) => sets.get(id)?.has(SLOTS[0]));
  const failed = result.outcomes.filter((o) => o.status === 'failed').map((o) => o.instanceId);
  // Nothing lost: every instance of the fleet has a set in moto or is reported failed, and not both.
  expect([...withSet, ...failed].sort()).toEqual([...fleet].sort());
  expect(failed).toContain(vanished);
  expect(result.outcomes.find((o) => o.instanceId === vanished)?.error).toMatch(/^InvalidInstanceID.NotFound/);
  expect(result.notReached).toBe(0);
  // The faults really happened, and were retried.
  const created = proxy.records.filter((r) => r.action === 'CreateSnapshots');
  expect(created.find((r) => r.instanceId === fleet[7])?.fault).toBe('injected-throttle');
  expect(created.find((r) => r.instanceId === fleet[5])?.fault).toBe('injected-error');
  for (const id of [fleet[5], fleet[7]]) {
    const retried = result.outcomes.find((o) => o.instanceId === id);
    expect(retried?.status).toBe('created');
    expect(retried?.attempts).toBeGreaterThan(1);
  }
  // The InternalError may have hidden a set EC2 made, so its retry came only after a DescribeSnapshots found
  // none (the throttled request was refused outright and was retried without one).
  const indexOf = (id: string, n: number) => proxy.records.findIndex((r) => r === created.filter((c) => c.instanceId === id)[n]);
  const checks = proxy.records.map((r, i) => [r.action, i] as const).filter(([action]) => action === 'DescribeSnapshots').map(([, i]) => i);
  expect(checks.some((i) => i > indexOf(fleet[5], 0) && i < indexOf(fleet[5], 1))).toBe(true);
  expect(logs.some((l) => l.event === 'ambiguous-checked')).toBe(true);
  // The metrics match the truth in moto.
  const metrics = metricsLine(logs);
  expect(metrics.SetsCreated).toBe(withSet.length);
  expect(metrics.InstancesFailed).toBe(failed.length);
  expect(metrics.InstancesNotReached).toBe(0);
  expect(result.created).toBe(withSet.length);
});

test('a duplicated invocation of the same slot creates nothing new', async () => {
  const before = await setsInMoto();
  const createsBefore = proxy.records.filter((r) => r.action === 'CreateSnapshots').length;
  const snapshotter = await container('snapshot-run');

  const { result, logs } = await snapshotter.invoke<RunReport>({ slot: SLOTS[0] });

  expect(await setsInMoto()).toEqual(before);
  const alreadyDone = [...before.keys()].filter((id) => before.get(id)!.has(SLOTS[0]));
  expect(result.alreadyDone).toBe(alreadyDone.length);
  expect(result.created).toBe(0);
  // Only the instances without a set (the vanished one) were tried again.
  const retried = proxy.records.slice(0).filter((r) => r.action === 'CreateSnapshots').slice(createsBefore).map((r) => r.instanceId);
  expect(new Set(retried)).toEqual(new Set([fleet[3]]));
  expect(metricsLine(logs).InstancesAlreadyDone).toBe(alreadyDone.length);
});

test('the clean-up skips and reports a snapshot in use, deletes exactly the expired rest, and tries it again next run', async () => {
  const snapshotter = await container('snapshot-run');
  for (const slot of SLOTS.slice(1)) {
    const { result } = await snapshotter.invoke<RunReport>({ slot });
    expect(result.notReached).toBe(0);
  }
  const before = await setsInMoto();
  // With last 1, every set but each instance's newest completed one expires.
  const expected = [...before.values()].flatMap((bySlot) => {
    const slots = [...bySlot.keys()].sort();
    return slots.slice(0, -1).flatMap((slot) => bySlot.get(slot)!);
  }).sort();
  expect(expected.length).toBeGreaterThan(0);
  const inUse = expected[0];
  proxy.markInUse(inUse);
  const cleanup = await container('cleanup');

  const { result, logs } = await cleanup.invoke<CleanupReport>({});

  const after = await setsInMoto();
  const remaining = [...after.values()].flatMap((bySlot) => [...bySlot.values()].flat()).sort();
  const kept = [...before.values()].flatMap((bySlot) => bySlot.get([...bySlot.keys()].sort().at(-1)!)!);
  expect(remaining).toEqual([...kept, inUse].sort());
  expect(result.snapshotsSkipped).toEqual([{ snapshotId: inUse, error: expect.stringMatching(/^InvalidSnapshot.InUse/) }]);
  expect(result.snapshotsDeleted).toBe(expected.length - 1);
  const metrics = metricsLine(logs);
  expect(metrics.SnapshotsDeleted).toBe(expected.length - 1);
  expect(metrics.DeletesSkipped).toBe(1);
  // DeleteSnapshot was never sent for a snapshot the policy keeps.
  const deleteTargets = new Set(proxy.records.filter((r) => r.action === 'DeleteSnapshot').map((r) => r.snapshotId));
  for (const id of kept) expect(deleteTargets.has(id)).toBe(false);

  // The next run tries the skipped snapshot again (still in use here), and deletes nothing else.
  const deletesBefore = proxy.records.filter((r) => r.action === 'DeleteSnapshot' && r.status === 200).length;
  const next = await (await container('cleanup')).invoke<CleanupReport>({});
  expect(next.result.snapshotsSkipped.map((s) => s.snapshotId)).toEqual([inUse]);
  expect(next.result.snapshotsDeleted).toBe(0);
  expect(proxy.records.filter((r) => r.action === 'DeleteSnapshot' && r.status === 200).length).toBe(deletesBefore);
});
