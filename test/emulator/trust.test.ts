// The attacks of the trust review, replayed against the bundled handlers and moto: tags forged onto a foreign
// snapshot, a forged slot from the future, two policies sharing an id, a forged set that would suppress a
// backup, and an instance that loses the policy's tag. In each, nothing of the user's is deleted or skipped,
// and what was found is reported. moto is reset and the fleet seeded again before every test.
import {
  AttachVolumeCommand, CreateSnapshotCommand, CreateVolumeCommand, DeleteTagsCommand, DescribeSnapshotsCommand,
} from '@aws-sdk/client-ec2';
import type { CleanupReport } from '../../lambda/runs/cleanup';
import type { RunReport } from '../../lambda/runs/snapshot-run';
import { Handler, Tag } from '../../lib/private/contract';
import { emulatorEnv, launch, tagList } from '../support/emulator-ec2';
import { emulatorSuite } from '../support/emulator-suite';
import type { LogLine } from '../support/lambda-container';
import { policySnapshotIds } from '../support/policy-sets';
import { setDescription } from '../support/set-marker';

const POLICY_ID = 'trust-prod';
const INSTANCE_TAGS = { Backup: 'nightly' };
const SLOTS = ['2026-01-01T03:00:00Z', '2026-01-02T03:00:00Z', '2026-01-03T03:00:00Z'];

const suite = emulatorSuite();
let fleet: { web: string; webRoot: string; db: string; dbRoot: string; dbData: string; stranger: string };

function env(overrides: Record<string, string>): Record<string, string> {
  return {
    ...emulatorEnv(suite.proxy.endpoint),
    POLICY_ID,
    INSTANCE_TAGS: JSON.stringify(INSTANCE_TAGS),
    DESCRIPTION: 'nightly',
    RETENTION: JSON.stringify({ last: 2 }),
    ORPHAN_RETENTION_SECONDS: String(90 * 86_400),
    ...overrides,
  };
}

async function invoke<R>(name: 'snapshot-run' | 'cleanup', event: unknown, overrides: Record<string, string> = {}) {
  const container = await suite.container(name === 'snapshot-run' ? Handler.SNAPSHOT_RUN : Handler.CLEANUP, env(overrides));
  return container.invoke<R>(event);
}

/** Makes one set per slot for the whole fleet, as the schedule would. */
async function runSlots(slots: readonly string[], overrides: Record<string, string> = {}): Promise<void> {
  for (const slot of slots) {
    const { result } = await invoke<RunReport>('snapshot-run', { slot }, overrides);
    expect(result).toMatchObject({ failed: 0, notReached: 0 });
  }
}

/** A snapshot made by hand (not by a run), with the given tags and description. */
async function handMade(volumeId: string, tags: Record<string, string>, description?: string): Promise<string> {
  const out = await suite.ec2.send(new CreateSnapshotCommand({
    VolumeId: volumeId,
    Description: description,
    TagSpecifications: [{ ResourceType: 'snapshot', Tags: tagList(tags) }],
  }));
  return out.SnapshotId!;
}

const claims = (instanceId: string, slot: string) => ({ [Tag.POLICY_ID]: POLICY_ID, [Tag.INSTANCE_ID]: instanceId, [Tag.SLOT]: slot });
const metricsOf = (logs: LogLine[]) => logs.find((l: any) => l._aws) as any;
const exists = async (ids: string[]) =>
  ((await suite.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: ids }))).Snapshots ?? []).map((s) => s.SnapshotId!).sort();


beforeEach(async () => {
  const web = await launch(suite.ec2, { ...INSTANCE_TAGS, Tier: 'web' });
  const db = await launch(suite.ec2, { ...INSTANCE_TAGS, Tier: 'db' });
  const stranger = await launch(suite.ec2, { Name: 'not in any fleet' });
  const volume = await suite.ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 10 }));
  await suite.ec2.send(new AttachVolumeCommand({ VolumeId: volume.VolumeId!, InstanceId: db.instanceId, Device: '/dev/sdf' }));
  fleet = {
    web: web.instanceId,
    webRoot: web.rootVolumeId,
    db: db.instanceId,
    dbRoot: db.rootVolumeId,
    dbData: volume.VolumeId!,
    stranger: stranger.rootVolumeId,
  };
});

// Finding 1 of the trust review.
test('a foreign snapshot given the policy\'s tags is kept and reported, never deleted', async () => {
  await runSlots(SLOTS);
  const foreign = await handMade(fleet.stranger, claims('i-0000000000000dead', '2020-01-01T00:00:00Z'), 'someone else\'s backup');

  const { result, logs } = await invoke<CleanupReport>('cleanup', {});

  expect(await exists([foreign])).toEqual([foreign]);
  expect(suite.proxy.requests('DeleteSnapshot').map((r) => r.params.get('SnapshotId'))).not.toContain(foreign);
  expect(result).toMatchObject({ setsDeleted: 2, unrecognized: [foreign], unrecognizedCount: 1 });
  expect(metricsOf(logs).SnapshotsUnrecognized).toBe(1);
  expect(logs.filter((l) => l.event === 'snapshots-unrecognized')).toEqual([expect.objectContaining({
    level: 'WARN', count: 1, reasons: { 'no-marker': 1 }, snapshots: [{ snapshotId: foreign, reason: 'no-marker' }],
  })]);
});

// Finding 2 of the trust review.
test('a forged slot from the future does not age out the real sets', async () => {
  // maxAge(2 days) keeps every set within 2 days of the instance's newest: a set of 2999 would make all
  // three real sets expire.
  const within = { RETENTION: JSON.stringify({ withinSeconds: 2 * 86_400 }) };
  await runSlots(SLOTS, within);
  const before = await policySnapshotIds(suite.ec2, POLICY_ID);
  const forged = await handMade(fleet.webRoot, claims(fleet.web, '2999-01-01T00:00:00Z'));

  const { result } = await invoke<CleanupReport>('cleanup', {}, within);

  expect(suite.proxy.requests('DeleteSnapshot')).toEqual([]);
  expect(result).toMatchObject({ setsKept: 6, setsDeleted: 0, unrecognized: [forged] });
  // Every real snapshot is still there, and so is the forged one: not the policy's to delete.
  expect(await policySnapshotIds(suite.ec2, POLICY_ID)).toEqual([...before, forged].sort());
});

// Finding 3 of the trust review.
test('a policy sharing the id but not the selector deletes none of the other\'s sets and makes its own', async () => {
  await runSlots(SLOTS);
  const fleetA = await policySnapshotIds(suite.ec2, POLICY_ID);
  const policyB = { INSTANCE_TAGS: JSON.stringify({ Tier: 'web' }), RETENTION: JSON.stringify({ last: 1 }) };

  const { result: cleanup, logs } = await invoke<CleanupReport>('cleanup', {}, policyB);

  expect(suite.proxy.requests('DeleteSnapshot')).toEqual([]);
  expect(await policySnapshotIds(suite.ec2, POLICY_ID)).toEqual(fleetA);
  expect(cleanup).toMatchObject({ setsKept: 0, setsDeleted: 0, unrecognizedCount: fleetA.length });
  expect(logs.find((l) => l.event === 'snapshots-unrecognized')).toMatchObject({ reasons: { 'other-selector': fleetA.length } });
  // web is in both fleets: policy A's set for the slot is not policy B's.
  const { result: run } = await invoke<RunReport>('snapshot-run', { slot: SLOTS[2] }, policyB);
  expect(run.outcomes.map((o) => [o.instanceId, o.status])).toEqual([[fleet.web, 'created']]);
});

// Finding 4 of the trust review.
test('a forged or partial set for the slot does not suppress the instance\'s backup', async () => {
  // Tags alone, on a snapshot of web's volume; and for db, a marked snapshot of only one of its two volumes.
  await handMade(fleet.webRoot, claims(fleet.web, SLOTS[0]));
  await handMade(fleet.dbRoot, claims(fleet.db, SLOTS[0]), setDescription(POLICY_ID, INSTANCE_TAGS, fleet.db, SLOTS[0], 'nightly'));

  const { result, logs } = await invoke<RunReport>('snapshot-run', { slot: SLOTS[0] });

  expect(result).toMatchObject({ created: 2, alreadyDone: 0, failed: 0 });
  expect(Object.fromEntries(result.outcomes.map((o) => [o.instanceId, o.status]))).toEqual({ [fleet.web]: 'created', [fleet.db]: 'created' });
  expect(metricsOf(logs)).toMatchObject({ SetsCreated: 2, InstancesAlreadyDone: 0 });
  // A second delivery of the slot finds the real sets and makes none.
  const { result: again } = await invoke<RunReport>('snapshot-run', { slot: SLOTS[0] });
  expect(again).toMatchObject({ created: 0, alreadyDone: 2 });
});

// Finding 10 of the trust review.
test('an instance that loses the policy\'s tag while it exists is reported untagged, its sets kept', async () => {
  await runSlots(SLOTS.slice(0, 2));
  const before = await policySnapshotIds(suite.ec2, POLICY_ID);
  await suite.ec2.send(new DeleteTagsCommand({ Resources: [fleet.web], Tags: [{ Key: 'Backup' }] }));

  // The slots are older than the default orphanRetention (90 days): a longer one keeps the sets for the check.
  const { result, logs } = await invoke<CleanupReport>('cleanup', {}, { ORPHAN_RETENTION_SECONDS: String(3650 * 86_400) });

  expect(result).toMatchObject({ setsDeleted: 0, untaggedInstanceIds: [fleet.web] });
  expect(metricsOf(logs).InstancesUntagged).toBe(1);
  expect(logs.filter((l) => l.event === 'instance-untagged')).toEqual([
    expect.objectContaining({ level: 'WARN', instanceId: fleet.web, instanceTags: INSTANCE_TAGS }),
  ]);
  expect(await policySnapshotIds(suite.ec2, POLICY_ID)).toEqual(before);
});
