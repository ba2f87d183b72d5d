// No second set after an ambiguous answer: the bundled snapshot run (test/support/lambda-container.ts) against
// moto behind the fault proxy, which lets a share of CreateSnapshots reach moto, where the set is made, and
// then loses the answer (a 500, or a dropped connection). Every instance must end with exactly one set for
// the slot (read straight from moto), be reported created, and the checks must share DescribeSnapshots calls:
// one per round of ambiguous failures, not one per instance.
import { EC2Client } from '@aws-sdk/client-ec2';
import type { RunReport } from '../../lambda/runs/snapshot-run';
import { Defaults, Handler } from '../../lib/private/contract';
import { assertImage, emulatorClient, emulatorEnv, launch } from '../support/emulator-ec2';
import { FaultProxy, FaultProxyOptions, RequestRecord, startFaultProxy } from '../support/fault-proxy';
import { LambdaContainer, LogLine, startContainer } from '../support/lambda-container';
import { MotoServer, startMoto } from '../support/moto-server';
import { policySets } from '../support/policy-sets';

const FLEET_SIZE = 40;
const LATE_SHARE = 0.2;

let moto: MotoServer;
let ec2: EC2Client;
const proxies: FaultProxy[] = [];
const containers: LambdaContainer[] = [];

beforeAll(async () => {
  moto = await startMoto();
  ec2 = emulatorClient(moto.endpoint);
  await assertImage(ec2);
});

afterAll(async () => {
  await Promise.all(containers.splice(0).map((c) => c.stop()));
  await Promise.all(proxies.splice(0).map((p) => p.stop()));
  ec2?.destroy();
  await moto?.stop();
});

/** A fleet tagged for its own policy, and the proxy and container of one run of it. */
async function setUp(policyId: string, faults: Omit<FaultProxyOptions, 'target'>) {
  const fleet = new Map<string, string>();
  for (let i = 0; i < FLEET_SIZE; i++) {
    const { instanceId, rootVolumeId } = await launch(ec2, { Backup: policyId });
    fleet.set(instanceId, rootVolumeId);
  }
  // Buckets time-scaled 20x: real, but the run takes seconds.
  const proxy = await startFaultProxy({ target: moto.endpoint, timeScale: 20, ...faults });
  proxies.push(proxy);
  const container = await startContainer(Handler.SNAPSHOT_RUN, {
    ...emulatorEnv(proxy.endpoint),
    POLICY_ID: policyId,
    INSTANCE_TAGS: JSON.stringify({ Backup: policyId }),
  });
  containers.push(container);
  return { fleet, proxy, container };
}

/**
 * The fewest check rounds the late faults allow: failures within the gather window of a round's first one
 * share its check. The window is narrowed by half a second, for the time between the proxy seeing a request
 * and the handler seeing its failure, so the handler can only need fewer rounds than this.
 */
function roundsAtMost(late: readonly RequestRecord[]): number {
  const windowMs = Defaults.AMBIGUOUS_GATHER_SECONDS * 1000 - 500;
  let rounds = 0;
  let roundStart = -Infinity;
  for (const r of [...late].sort((a, b) => a.atMs - b.atMs)) {
    if (r.atMs > roundStart + windowMs) {
      rounds += 1;
      roundStart = r.atMs;
    }
  }
  return rounds;
}

const checkRounds = (logs: LogLine[]) => logs.filter((l) => l.event === 'ambiguous-checked');

describe.each([
  ['answered with a 500', 'late-error', { lateErrorRate: LATE_SHARE, seed: 5 }],
  ['dropped without an answer', 'late-drop', { lateDropRate: LATE_SHARE, seed: 6 }],
] as const)('CreateSnapshots that reach moto and are then %s', (_name, fault, faults) => {
  const policyId = `amb-${fault}`;
  const slot = fault === 'late-error' ? '2026-04-01T03:00:00Z' : '2026-04-02T03:00:00Z';

  test('every instance ends with exactly one set for the slot, reported created, checked in shared calls', async () => {
    const { fleet, proxy, container } = await setUp(policyId, faults);
    // Two certain late faults besides the drawn ones (keyed by moto's random instance ids).
    const ids = [...fleet.keys()];
    proxy.failOnce('CreateSnapshots', ids[0], fault);
    proxy.failOnce('CreateSnapshots', ids[1], fault);

    const { result, logs } = await container.invoke<RunReport>({ slot });

    // Read from moto: one snapshot per instance in the slot, of its root volume. None lost, none doubled.
    const sets = await policySets(ec2, policyId);
    expect([...sets.keys()].sort()).toEqual([...ids].sort());
    for (const [instanceId, bySlot] of sets) {
      expect([...bySlot.keys()]).toEqual([slot]);
      expect(bySlot.get(slot)!.map((s) => s.VolumeId)).toEqual([fleet.get(instanceId)]);
    }
    expect(result).toMatchObject({ planned: FLEET_SIZE, created: FLEET_SIZE, failed: 0, notReached: 0 });
    // The instances whose answer was lost count as created, with the snapshot moto holds.
    const creates = proxy.records.filter((r) => r.action === 'CreateSnapshots');
    const late = creates.filter((r) => r.fault === fault);
    expect(late.length).toBeGreaterThanOrEqual(2);
    for (const r of late) {
      const outcome = result.outcomes.find((o) => o.instanceId === r.instanceId);
      expect(outcome).toMatchObject({ status: 'created', snapshotIds: sets.get(r.instanceId!)!.get(slot)!.map((s) => s.SnapshotId) });
    }
    // None was sent again: one CreateSnapshots per instance, bar refusals by the bucket.
    const sentPerInstance = new Map<string, number>();
    for (const r of creates.filter((c) => c.fault !== 'throttled')) sentPerInstance.set(r.instanceId!, (sentPerInstance.get(r.instanceId!) ?? 0) + 1);
    expect([...sentPerInstance.values()].every((n) => n === 1)).toBe(true);

    // DescribeSnapshots: the run's slot check, then one call per round of checks (up to 200 instances).
    const rounds = checkRounds(logs);
    const checked = rounds.reduce((sum, l) => sum + (l.instances as number), 0);
    const describes = proxy.counters().DescribeSnapshots.requests;
    expect(describes).toBe(1 + rounds.length);
    expect(checked).toBeGreaterThanOrEqual(late.length);
    expect(rounds.length).toBeLessThanOrEqual(roundsAtMost(late));
    expect(rounds.length).toBeLessThan(late.length);
  });
});
