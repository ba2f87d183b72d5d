// The bundled handlers (assets/*/index.js, the code Lambda runs), each in a container process of its own,
// against the moto EC2 emulator with the real SDK over HTTP: which instances get a set, what its snapshots
// carry, what the clean-up deletes and leaves. A recording proxy between the handlers and moto shows the
// parameters each request carried. Where a test needs a request no fleet can make (an instance EC2 does not
// know), it calls the run's code (lambda/runs) in this process, against the same moto through the same suite.proxy.
// moto is reset and the fleet seeded again before every test.
import {
  AttachVolumeCommand, CreateSnapshotCommand, CreateVolumeCommand, DeleteTagsCommand, DescribeSnapshotsCommand,
  Snapshot, StopInstancesCommand, TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { defaultBuckets, Ec2Adapter } from '../../lambda/adapters/ec2';
import type { PlannedSnapshot } from '../../lambda/logic/model';
import { cleanup, CleanupReport } from '../../lambda/runs/cleanup';
import { planRun, RunReport, sendPlanned } from '../../lambda/runs/snapshot-run';
import { readConfig } from '../../lambda/support/config';
import { Handler, Tag } from '../../lib/private/contract';
import { emulatorClient, emulatorEnv, launch, tagList, tagRecord } from '../support/emulator-ec2';
import { emulatorSuite } from '../support/emulator-suite';
import { HandlerEntry, LambdaContainer, LogLine } from '../support/lambda-container';
import * as inMoto from '../support/policy-sets';
import { setDescription } from '../support/set-marker';

const POLICY_ID = 'nightly-prod';
const SLOTS = ['2026-01-01T03:00:00Z', '2026-01-02T03:00:00Z', '2026-01-03T03:00:00Z', '2026-01-04T03:00:00Z'];
const DESCRIPTION = 'Created by cdk-snapshot-policy nightly-prod';

const suite = emulatorSuite();

/** The policy's environment as the construct sets it, with the SDK pointed at moto through the suite.proxy. */
function policyEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    ...emulatorEnv(suite.proxy.endpoint),
    POLICY_ID,
    INSTANCE_TAGS: JSON.stringify({ Backup: 'nightly', Env: 'prod' }),
    EXCLUDE_BOOT_VOLUME: 'false',
    EXCLUDE_DATA_VOLUME_TAGS: '{}',
    COPY_VOLUME_TAGS: 'false',
    SNAPSHOT_TAGS: JSON.stringify({ CostCenter: 'ops' }),
    DESCRIPTION,
    LOCAL_ZONE_DESTINATION: 'PARENT_REGION',
    OUTPOST_DESTINATION: 'PARENT_REGION',
    DRY_RUN: 'false',
    RETENTION: JSON.stringify({ last: 2 }),
    TIME_ZONE: 'UTC',
    HOLD_TAG: 'snapshot-policy:hold',
    ORPHAN_RETENTION_SECONDS: String(90 * 86_400),
    ...overrides,
  };
}


/** A fresh Lambda container of a bundled handler, with the policy's environment and the given changes. */
async function handler(name: 'snapshot-run' | 'cleanup', overrides: Record<string, string> = {}): Promise<LambdaContainer> {
  const entry: HandlerEntry = name === 'snapshot-run' ? Handler.SNAPSHOT_RUN : Handler.CLEANUP;
  return suite.container(entry, policyEnv(overrides));
}

/** One invocation in a fresh container. */
async function invokeOnce<R>(name: 'snapshot-run' | 'cleanup', event: unknown, overrides: Record<string, string> = {}) {
  return (await handler(name, overrides)).invoke<R>(event);
}

interface Fleet {
  /** Carry both policy tags. */
  readonly web: string;
  readonly db: string;
  /** Carries both policy tags and is stopped. */
  readonly batch: string;
  /** Carries Backup=nightly but not Env. */
  readonly halfTagged: string;
  /** Carries both tag keys, Env with another value. */
  readonly otherEnv: string;
  readonly untagged: string;
  /** Carried both tags, terminated. */
  readonly retired: string;
  /** Every instance's volumes, root first. */
  readonly volumes: Record<string, string[]>;
  readonly dbData: string;
  readonly dbScratch: string;
}

let fleet: Fleet;

async function seedFleet(): Promise<Fleet> {
  const policyTags = { Backup: 'nightly', Env: 'prod' };
  const web = await launch(suite.ec2, { Name: 'web', ...policyTags });
  const db = await launch(suite.ec2, { Name: 'db', ...policyTags }, 'us-east-1b');
  const batch = await launch(suite.ec2, { Name: 'batch', ...policyTags });
  const halfTagged = await launch(suite.ec2, { Name: 'half', Backup: 'nightly' });
  const otherEnv = await launch(suite.ec2, { Name: 'staging', Backup: 'nightly', Env: 'staging' });
  const untagged = await launch(suite.ec2, {});
  const retired = await launch(suite.ec2, { Name: 'retired', ...policyTags });
  const attach = async (instanceId: string, device: string, tags: Record<string, string>) => {
    const volume = await suite.ec2.send(new CreateVolumeCommand({
      AvailabilityZone: 'us-east-1b', Size: 10, TagSpecifications: [{ ResourceType: 'volume', Tags: tagList(tags) }],
    }));
    await suite.ec2.send(new AttachVolumeCommand({ VolumeId: volume.VolumeId!, InstanceId: instanceId, Device: device }));
    return volume.VolumeId!;
  };
  // The planner checks the exclusion tag's value, not only its key: NoBackup=false is backed up.
  const dbData = await attach(db.instanceId, '/dev/sdf', { Name: 'db-data', NoBackup: 'false' });
  const dbScratch = await attach(db.instanceId, '/dev/sdg', { Name: 'db-scratch', NoBackup: 'true' });
  await suite.ec2.send(new StopInstancesCommand({ InstanceIds: [batch.instanceId] }));
  await suite.ec2.send(new TerminateInstancesCommand({ InstanceIds: [retired.instanceId] }));
  return {
    web: web.instanceId,
    db: db.instanceId,
    batch: batch.instanceId,
    halfTagged: halfTagged.instanceId,
    otherEnv: otherEnv.instanceId,
    untagged: untagged.instanceId,
    retired: retired.instanceId,
    volumes: {
      [web.instanceId]: [web.rootVolumeId],
      [db.instanceId]: [db.rootVolumeId, dbData, dbScratch],
      [batch.instanceId]: [batch.rootVolumeId],
      [halfTagged.instanceId]: [halfTagged.rootVolumeId],
      [otherEnv.instanceId]: [otherEnv.rootVolumeId],
      [untagged.instanceId]: [untagged.rootVolumeId],
      [retired.instanceId]: [retired.rootVolumeId],
    },
    dbData,
    dbScratch,
  };
}

const sorted = (values: readonly string[]) => [...values].sort();
const tagsOf = (s: Snapshot) => tagRecord(s.Tags);

/** This policy's sets in moto, by instance, then slot (`ignore`: snapshots made unreadable on purpose). */
const policySets = (ignore: readonly string[] = []) => inMoto.policySets(suite.ec2, POLICY_ID, ignore);
const slotsByInstance = (ignore: readonly string[] = []) => inMoto.slotsByInstance(suite.ec2, POLICY_ID, ignore);

/** Every snapshot of any of the given volumes, whoever made it. */
async function snapshotsOfVolumes(volumeIds: string[]): Promise<Snapshot[]> {
  const out = await suite.ec2.send(new DescribeSnapshotsCommand({ Filters: [{ Name: 'volume-id', Values: volumeIds }] }));
  return out.Snapshots ?? [];
}

/** Runs lambda/runs code in this process, its JSON log lines captured (its metric line is left out). */
async function inProcess<R>(run: () => Promise<R>): Promise<{ result: R; logs: LogLine[] }> {
  const logs: LogLine[] = [];
  const capture = (...args: unknown[]) => { logs.push(JSON.parse(String(args[0]))); };
  const spies = (['log', 'warn', 'error'] as const).map((m) => jest.spyOn(console, m).mockImplementation(capture));
  const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    return { result: await run(), logs };
  } finally {
    for (const spy of [...spies, write]) spy.mockRestore();
  }
}

const outcomeStatuses = (report: RunReport) => Object.fromEntries(report.outcomes.map((o) => [o.instanceId, o.status]));


beforeEach(async () => {
  fleet = await seedFleet();
});

describe('snapshot run', () => {
  test('gives exactly the running or stopped instances that carry both policy tags one set each', async () => {
    const { result, logs } = await invokeOnce<RunReport>('snapshot-run', { slot: SLOTS[0] });

    const { outcomes, ...totals } = result;
    expect(totals).toEqual({
      policyId: POLICY_ID, slot: SLOTS[0], dryRun: false, planned: 3, created: 3, dryRunOk: 0, alreadyDone: 0, failed: 0, notReached: 0,
    });
    // The outcome as CloudWatch metrics, in embedded metric format, matching the report.
    const emf = logs.filter((l: any) => l._aws) as any[];
    expect(emf).toHaveLength(1);
    expect(emf[0]._aws.CloudWatchMetrics[0].Namespace).toBe('SnapshotPolicy');
    expect(emf[0]).toMatchObject({ PolicyId: POLICY_ID, service: 'cdk-snapshot-policy', SetsCreated: 3, InstancesFailed: 0, InstancesNotReached: 0, InstancesAlreadyDone: 0 });
    expect(outcomes).toHaveLength(3);
    expect(outcomeStatuses(result)).toEqual({ [fleet.web]: 'created', [fleet.db]: 'created', [fleet.batch]: 'created' });
    expect(await slotsByInstance()).toEqual({ [fleet.web]: [SLOTS[0]], [fleet.db]: [SLOTS[0]], [fleet.batch]: [SLOTS[0]] });
    const untouched = [fleet.halfTagged, fleet.otherEnv, fleet.untagged, fleet.retired].flatMap((id) => fleet.volumes[id]);
    expect(await snapshotsOfVolumes(untouched)).toEqual([]);
    expect(sorted(suite.proxy.requests('CreateSnapshots').map((r) => r.params.get('InstanceSpecification.InstanceId')!)))
      .toEqual(sorted([fleet.web, fleet.db, fleet.batch]));
  });

  test('a second invocation for the same slot creates nothing and reports the instances as already done', async () => {
    const first = await invokeOnce<RunReport>('snapshot-run', { slot: SLOTS[0] });
    expect(first.result.created).toBe(3);
    const allPolicySnapshots = async () =>
      sorted([...(await policySets()).values()].flatMap((bySlot) => [...bySlot.values()].flat()).map((s) => s.SnapshotId!));
    const snapshotsAfterFirst = await allPolicySnapshots();
    suite.proxy.clear();

    // A duplicated delivery of the same slot, in a new container (as a Lambda retry would be).
    const { result } = await invokeOnce<RunReport>('snapshot-run', { slot: SLOTS[0] });

    expect(result.created).toBe(0);
    expect(result.alreadyDone).toBe(3);
    expect(outcomeStatuses(result)).toEqual({ [fleet.web]: 'already-done', [fleet.db]: 'already-done', [fleet.batch]: 'already-done' });
    expect(suite.proxy.requests('CreateSnapshots')).toHaveLength(0);
    const snapshotsAfterSecond = await allPolicySnapshots();
    expect(snapshotsAfterSecond).toEqual(snapshotsAfterFirst);
    const reported = sorted(result.outcomes.flatMap((o) => o.snapshotIds ?? []));
    expect(reported).toEqual(snapshotsAfterFirst);

    // Another slot is a new run.
    const next = await invokeOnce<RunReport>('snapshot-run', { slot: SLOTS[1] });
    expect(next.result.created).toBe(3);
  });

  test('takes one snapshot of every attached volume, and reports their ids per instance', async () => {
    const { result } = await invokeOnce<RunReport>('snapshot-run', { slot: SLOTS[0] });

    const sets = await policySets();
    for (const instanceId of [fleet.web, fleet.db, fleet.batch]) {
      const snapshots = sets.get(instanceId)!.get(SLOTS[0])!;
      expect(sorted(snapshots.map((s) => s.VolumeId!))).toEqual(sorted(fleet.volumes[instanceId]));
      const outcome = result.outcomes.find((o) => o.instanceId === instanceId);
      // (snapshotIds cross from the handler's process, so they are compared by content below.)
      expect({ ...outcome, snapshotIds: undefined }).toEqual({ instanceId, status: 'created', snapshotIds: undefined, attempts: 1 });
      expect(sorted(outcome!.snapshotIds!)).toEqual(sorted(snapshots.map((s) => s.SnapshotId!)));
    }
  });

  test('tags every snapshot with the policy id, the instance id and the slot, and the user snapshotTags', async () => {
    await invokeOnce<RunReport>('snapshot-run', { slot: '2026-01-01T03:00:00.000Z' });

    const sets = await policySets();
    const snapshots = [...sets.values()].flatMap((bySlot) => [...bySlot.values()].flat());
    expect(snapshots).toHaveLength(5);
    for (const snapshot of snapshots) {
      const instanceId = Object.keys(fleet.volumes).find((id) => fleet.volumes[id].includes(snapshot.VolumeId!));
      expect(tagsOf(snapshot)).toEqual({
        'CostCenter': 'ops',
        'snapshot-policy:id': POLICY_ID,
        'snapshot-policy:instance-id': instanceId,
        // The slot is normalized to the second, so every run of one schedule time writes the same tag.
        'snapshot-policy:slot': SLOTS[0],
      });
      // The user's description, then the set's marker: what tells this policy's sets from forged ones.
      expect(snapshot.Description).toBe(setDescription(POLICY_ID, { Backup: 'nightly', Env: 'prod' }, instanceId!, SLOTS[0], DESCRIPTION));
    }
  });

  test('asks EC2 to leave out the data volume tagged NoBackup=true, and not the one tagged NoBackup=false', async () => {
    const { result, logs } = await invokeOnce<RunReport>('snapshot-run', { slot: SLOTS[0] }, { EXCLUDE_DATA_VOLUME_TAGS: JSON.stringify({ NoBackup: 'true' }) });

    // The plan, as the run logs it: one `planned` line per instance, and no plan failure.
    const planned = logs.filter((l) => l.event === 'planned');
    expect(sorted(planned.map((l) => l.instanceId as string))).toEqual(sorted([fleet.web, fleet.db, fleet.batch]));
    expect(planned.find((l) => l.instanceId === fleet.db)).toMatchObject({
      slot: SLOTS[0], placement: 'region', zone: 'us-east-1b', volumeIds: fleet.volumes[fleet.db].slice(0, 2), excludedVolumeIds: [fleet.dbScratch],
    });
    expect(logs.filter((l) => l.event === 'plan-failed')).toEqual([]);
    expect(result.created).toBe(3);
    // What left the bundled handler: only db's request names a volume to leave out, and only the scratch one.
    const sent = Object.fromEntries(suite.proxy.requests('CreateSnapshots').map((r) => [r.params.get('InstanceSpecification.InstanceId'), r.params]));
    // EC2's query names for the list: ExcludeDataVolumeId.N (singular), as the SDK writes them.
    expect(sent[fleet.db].get('InstanceSpecification.ExcludeDataVolumeId.1')).toBe(fleet.dbScratch);
    expect(sent[fleet.db].has('InstanceSpecification.ExcludeDataVolumeId.2')).toBe(false);
    expect(sent[fleet.db].get('InstanceSpecification.ExcludeBootVolume')).toBe('false');
    for (const id of [fleet.web, fleet.batch]) {
      expect([...sent[id].keys()].filter((k) => k.includes('ExcludeDataVolume'))).toEqual([]);
    }
  });

  test('with excludeBootVolume, snapshots only the data volumes and reports an instance without one as failed', async () => {
    const { result } = await invokeOnce<RunReport>('snapshot-run', { slot: SLOTS[0] }, { EXCLUDE_BOOT_VOLUME: 'true' });

    expect(result).toMatchObject({ planned: 3, created: 1, failed: 2, notReached: 0 });
    for (const instanceId of [fleet.web, fleet.batch]) {
      expect(result.outcomes.find((o) => o.instanceId === instanceId)).toEqual({
        instanceId, status: 'failed', error: 'no volume is left to snapshot after the exclusions (1 attached, all excluded)', attempts: 0,
      });
    }
    const sets = await policySets();
    expect([...sets.keys()]).toEqual([fleet.db]);
    expect(sorted(sets.get(fleet.db)!.get(SLOTS[0])!.map((s) => s.VolumeId!))).toEqual(sorted([fleet.dbData, fleet.dbScratch]));
    expect(suite.proxy.requests('CreateSnapshots')).toHaveLength(1);
  });

  test('reports an instance EC2 does not know as failed, tried once, while the rest of the batch gets its sets', async () => {
    // The run's own code in this process (a fleet cannot hold an instance EC2 does not know), through the suite.proxy.
    const config = readConfig(policyEnv());
    const adapter = new Ec2Adapter(emulatorClient(suite.proxy.endpoint), defaultBuckets());
    const ghostId = 'i-0123456789abcdef0';
    const { result, logs } = await inProcess(async () => {
      const plan = await planRun(adapter, config, SLOTS[0]);
      expect(plan.errors).toEqual([]);
      const model = plan.requests[0];
      const ghost: PlannedSnapshot = {
        ...model,
        instanceId: ghostId,
        params: {
          ...model.params,
          InstanceSpecification: { InstanceId: ghostId, ExcludeBootVolume: false },
          TagSpecifications: [{
            ResourceType: 'snapshot',
            Tags: model.params.TagSpecifications[0].Tags.map((t) => (t.Key === Tag.INSTANCE_ID ? { ...t, Value: ghostId } : t)),
          }],
        },
      };
      // As an orchestrator would pass a batch: JSON, the unknown instance between known ones.
      const requests: PlannedSnapshot[] = JSON.parse(JSON.stringify([plan.requests[0], ghost, ...plan.requests.slice(1)]));
      suite.proxy.clear();
      return sendPlanned(adapter, config, SLOTS[0], requests, Date.now() + 60_000);
    });
    adapter.client.destroy();

    expect(result).toMatchObject({ slot: SLOTS[0], planned: 4, created: 3, failed: 1, notReached: 0 });
    expect(result.outcomes.find((o) => o.instanceId === ghostId)).toEqual({
      instanceId: ghostId, status: 'failed', error: `InvalidInstanceID.NotFound: The instance ID '${ghostId}' does not exist`, attempts: 1,
    });
    expect(await slotsByInstance()).toEqual({ [fleet.web]: [SLOTS[0]], [fleet.db]: [SLOTS[0]], [fleet.batch]: [SLOTS[0]] });
    const toGhost = suite.proxy.requests('CreateSnapshots').filter((r) => r.params.get('InstanceSpecification.InstanceId') === ghostId);
    expect(toGhost.map((r) => r.status)).toEqual([400]);
    expect(logs.filter((l) => l.event === 'snapshot-failed').map((l) => l.instanceId)).toEqual([ghostId]);
  });

  test.each(['plan', 'execute', 'all'])('refuses an event with phase %s, which it no longer takes, and creates nothing', async (phase) => {
    await expect(invokeOnce('snapshot-run', { slot: SLOTS[0], phase })).rejects.toThrow(
      `snapshot-run handler threw Error: runSnapshots takes no phase (it plans and sends a whole run), got phase "${phase}"`);
    expect(suite.proxy.requests('CreateSnapshots')).toHaveLength(0);
  });

  test('a dry run reports every planned instance as dry-run and creates no snapshot', async () => {
    const { result } = await invokeOnce<RunReport>('snapshot-run', { slot: SLOTS[0] }, { DRY_RUN: 'true' });

    const { outcomes, ...totals } = result;
    expect(totals).toEqual({
      policyId: POLICY_ID, slot: SLOTS[0], dryRun: true, planned: 3, created: 0, dryRunOk: 3, alreadyDone: 0, failed: 0, notReached: 0,
    });
    expect([...outcomes].sort((x, y) => x.instanceId.localeCompare(y.instanceId))).toEqual(
      sorted([fleet.web, fleet.db, fleet.batch]).map((instanceId) => ({ instanceId, status: 'dry-run', attempts: 1 })));
    expect(await snapshotsOfVolumes(Object.values(fleet.volumes).flat())).toEqual([]);
    // moto honours DryRun on CreateSnapshots: 412 DryRunOperation, as EC2 answers.
    expect(suite.proxy.requests('CreateSnapshots').map((r) => [r.params.get('DryRun'), r.status])).toEqual([
      ['true', 412], ['true', 412], ['true', 412],
    ]);
  });
});

describe('retention clean-up', () => {
  let foreign: { plain: string; otherPolicy: string; unreadable: string };

  beforeEach(async () => {
    const snapshotter = await handler('snapshot-run');
    for (const slot of SLOTS) {
      const { result } = await snapshotter.invoke<RunReport>({ slot });
      expect(result).toMatchObject({ created: 3, failed: 0 });
    }
    const snapshot = async (tags: Record<string, string>) => (await suite.ec2.send(new CreateSnapshotCommand({
      VolumeId: fleet.volumes[fleet.web][0],
      ...(Object.keys(tags).length > 0 ? { TagSpecifications: [{ ResourceType: 'snapshot', Tags: tagList(tags) }] } : {}),
    }))).SnapshotId!;
    foreign = {
      plain: await snapshot({}),
      // Another policy's set, older than any of ours: expired, were it ours.
      otherPolicy: await snapshot({
        'snapshot-policy:id': 'other-policy', 'snapshot-policy:instance-id': fleet.web, 'snapshot-policy:slot': '2025-12-01T03:00:00Z',
      }),
      // This policy's id without a slot: a set the clean-up cannot place, so it must never delete it.
      unreadable: await snapshot({ 'snapshot-policy:id': POLICY_ID, 'snapshot-policy:instance-id': fleet.web }),
    };
    suite.proxy.clear();
  });

  test('keeps exactly the two newest sets of each instance and deletes the snapshots of the others', async () => {
    const before = await policySets();
    const expired = [fleet.web, fleet.db, fleet.batch].flatMap((id) => [SLOTS[0], SLOTS[1]].flatMap(
      (slot) => before.get(id)!.get(slot)!.map((s) => s.SnapshotId!)));

    const { result } = await invokeOnce<CleanupReport>('cleanup', { slot: '2026-01-05T03:00:00Z' });

    expect(result).toEqual({
      policyId: POLICY_ID,
      dryRun: false,
      setsKept: 6,
      setsLocked: 0,
      setsDeleted: 6,
      snapshotsDeleted: 10,
      snapshotsSkipped: [],
      unrecognized: [foreign.unreadable],
      unrecognizedCount: 1,
      untaggedInstanceIds: [],
      duplicatesDeleted: 0,
      // The slots are months old: no instance of the fleet has a recent set.
      protectedInstances: 0,
      unprotectedInstanceIds: sorted([fleet.web, fleet.db, fleet.batch]),
      maxLatestSetAgeSeconds: expect.any(Number),
    });
    const newest = [SLOTS[2], SLOTS[3]];
    expect(await slotsByInstance([foreign.unreadable])).toEqual({ [fleet.web]: newest, [fleet.db]: newest, [fleet.batch]: newest });
    expect(expired).toHaveLength(10);
    expect(sorted(suite.proxy.requests('DeleteSnapshot').map((r) => r.params.get('SnapshotId')!))).toEqual(sorted(expired));
    expect(suite.proxy.requests('DeleteSnapshot').every((r) => r.status === 200)).toBe(true);
  });

  test('leaves snapshots without this policy id, of another policy, and of this policy without a slot untouched', async () => {
    const ids = [foreign.plain, foreign.otherPolicy, foreign.unreadable];
    const before = (await suite.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: ids }))).Snapshots!;

    const { logs } = await invokeOnce<CleanupReport>('cleanup', {});

    const after = (await suite.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: ids }))).Snapshots!;
    expect(sorted(after.map((s) => s.SnapshotId!))).toEqual(sorted(ids));
    expect(after.map((s) => [s.SnapshotId, tagsOf(s)]).sort()).toEqual(before.map((s) => [s.SnapshotId, tagsOf(s)]).sort());
    expect(suite.proxy.requests('DeleteSnapshot').filter((r) => ids.includes(r.params.get('SnapshotId')!))).toEqual([]);
    expect(logs.filter((l) => l.event === 'snapshots-unrecognized')).toEqual([expect.objectContaining({
      level: 'WARN', count: 1, reasons: { 'unreadable-slot': 1 }, snapshots: [{ snapshotId: foreign.unreadable, reason: 'unreadable-slot' }],
    })]);
  });

  test('a clean-up out of time logs what it left and fails, so it is retried and the function\'s errors raise the alarm', async () => {
    const before = await policySets();
    const adapter = new Ec2Adapter(emulatorClient(suite.proxy.endpoint), defaultBuckets());
    let thrown: unknown;
    // A deadline already past: every decided deletion is left unsent.
    const { logs } = await inProcess(async () => {
      try {
        await cleanup(adapter, readConfig(policyEnv()), new Date(), Date.now() - 1);
      } catch (error) {
        thrown = error;
      }
    });

    expect(thrown).toMatchObject({
      name: 'DeletionsNotReached',
      notReached: 10,
      message: '10 of 10 snapshot deletions were not reached before the invocation\'s deadline; they are retried, and the next clean-up plans them again',
    });
    expect(suite.proxy.requests('DeleteSnapshot')).toEqual([]);
    expect(await policySets()).toEqual(before);
    expect(logs.filter((l) => l.event === 'snapshot-skipped')).toHaveLength(10);
    expect(logs.find((l) => l.event === 'cleanup-finished')).toMatchObject({ setsDeleted: 0, snapshotsSkippedCount: 10 });
  });

  test('a dry-run clean-up reports the snapshots it would delete and deletes none', async () => {
    const before = await policySets();

    const { result, logs } = await invokeOnce<CleanupReport>('cleanup', {}, { DRY_RUN: 'true' });

    expect(result).toEqual({
      policyId: POLICY_ID,
      dryRun: true,
      setsKept: 6,
      setsLocked: 0,
      setsDeleted: 6,
      snapshotsDeleted: 10,
      snapshotsSkipped: [],
      unrecognized: [foreign.unreadable],
      unrecognizedCount: 1,
      untaggedInstanceIds: [],
      duplicatesDeleted: 0,
      // The slots are months old: no instance of the fleet has a recent set.
      protectedInstances: 0,
      unprotectedInstanceIds: sorted([fleet.web, fleet.db, fleet.batch]),
      maxLatestSetAgeSeconds: expect.any(Number),
    });
    expect(await policySets()).toEqual(before);
    const wouldDelete = logs.filter((l) => l.event === 'snapshot-would-delete').map((l) => l.snapshotId as string);
    const sent = suite.proxy.requests('DeleteSnapshot');
    expect(sorted(wouldDelete)).toEqual(sorted(sent.map((r) => r.params.get('SnapshotId')!)));
    expect(wouldDelete).toHaveLength(10);
    // moto honours DryRun on DeleteSnapshot too.
    expect(sent.every((r) => r.params.get('DryRun') === 'true' && r.status === 412)).toBe(true);
  });

  test('deletes every set of an instance that lost a policy tag once its newest set is older than the orphan retention', async () => {
    await suite.ec2.send(new DeleteTagsCommand({ Resources: [fleet.batch], Tags: [{ Key: 'Env' }] }));

    const { result, logs } = await invokeOnce<CleanupReport>('cleanup', {}, { ORPHAN_RETENTION_SECONDS: '86400' });

    const newest = [SLOTS[2], SLOTS[3]];
    expect(await slotsByInstance([foreign.unreadable])).toEqual({ [fleet.web]: newest, [fleet.db]: newest });
    expect(result).toMatchObject({ setsKept: 4, setsDeleted: 8, snapshotsDeleted: 12, snapshotsSkipped: [] });
    const batchDeletes = logs.filter((l) => l.event === 'set-delete' && l.instanceId === fleet.batch);
    expect(batchDeletes.map((l) => [l.slot, l.reasons])).toEqual(SLOTS.slice().reverse().map((slot) => [slot, ['orphan-expired']]));
  });
});

describe('restic-style rules over simulated days', () => {
  test('after ten days of twice-daily slots, last 2 + daily 3 + weekly 2 leave exactly the sets the rules name', async () => {
    const slots: string[] = [];
    for (let day = 1; day <= 10; day++) {
      for (const hour of ['03', '15']) slots.push(`2026-01-${String(day).padStart(2, '0')}T${hour}:00:00Z`);
    }
    const rules = { RETENTION: JSON.stringify({ last: 2, daily: 3, weekly: 2 }), TIME_ZONE: 'Europe/London' };
    const snapshotter = await handler('snapshot-run', rules);
    for (const slot of slots) {
      const { result } = await snapshotter.invoke<RunReport>({ slot });
      expect(result).toMatchObject({ created: 3, failed: 0 });
    }

    const { result } = await invokeOnce<CleanupReport>('cleanup', {}, rules);

    // Newest first: last 2 keeps Jan 10 15:00 and 03:00; daily 3 the newest of Jan 10, 9 and 8; weekly 2 the
    // newest of ISO week 2026-W2 (Jan 10 15:00) and of 2026-W1, which ends on Sunday Jan 4 (Jan 4 15:00).
    const kept = ['2026-01-04T15:00:00Z', '2026-01-08T15:00:00Z', '2026-01-09T15:00:00Z', '2026-01-10T03:00:00Z', '2026-01-10T15:00:00Z'];
    expect(await slotsByInstance()).toEqual({ [fleet.web]: kept, [fleet.db]: kept, [fleet.batch]: kept });
    expect(result).toMatchObject({ setsKept: 15, setsDeleted: 45, snapshotsSkipped: [] });

    // A second clean-up finds nothing more to delete.
    suite.proxy.clear();
    const again = await invokeOnce<CleanupReport>('cleanup', {}, rules);
    expect(again.result).toMatchObject({ setsKept: 15, setsDeleted: 0, snapshotsDeleted: 0 });
    expect(suite.proxy.requests('DeleteSnapshot')).toHaveLength(0);
  });
});
