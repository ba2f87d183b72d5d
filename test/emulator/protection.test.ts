// The clean-up's duplicate removal and protection status, through the bundled clean-up against moto: a set
// that holds two snapshots of one volume (a retried CreateSnapshots whose first answer was lost) keeps the
// oldest, and an instance tagged after the last run is named unprotected. moto is reset before every test.
import { CreateSnapshotCommand, DescribeSnapshotsCommand, Snapshot } from '@aws-sdk/client-ec2';
import type { CleanupReport } from '../../lambda/runs/cleanup';
import type { RunReport } from '../../lambda/runs/snapshot-run';
import { Handler, Tag } from '../../lib/private/contract';
import { emulatorEnv, launch, tagList, tagRecord } from '../support/emulator-ec2';
import { emulatorSuite } from '../support/emulator-suite';
import type { LogLine } from '../support/lambda-container';
import { setDescription } from '../support/set-marker';

const POLICY_ID = 'protection-prod';
const INSTANCE_TAGS = { Backup: 'nightly' };

const suite = emulatorSuite();

function env(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    ...emulatorEnv(suite.proxy.endpoint),
    POLICY_ID,
    INSTANCE_TAGS: JSON.stringify(INSTANCE_TAGS),
    DESCRIPTION: 'nightly',
    RETENTION: JSON.stringify({ last: 30 }),
    ORPHAN_RETENTION_SECONDS: String(90 * 86_400),
    MAX_SET_AGE_SECONDS: String(2 * 86_400),
    ...overrides,
  };
}

async function invoke<R>(name: 'snapshot-run' | 'cleanup', event: unknown): Promise<{ result: R; logs: LogLine[] }> {
  const container = await suite.container(name === 'snapshot-run' ? Handler.SNAPSHOT_RUN : Handler.CLEANUP, env());
  return container.invoke<R>(event);
}

/** A slot `hours` before now, to the minute, as the schedule would pass it. */
function slotHoursAgo(hours: number): string {
  return new Date(Math.floor(Date.now() / 60_000) * 60_000 - hours * 3_600_000).toISOString().replace('.000', '');
}

async function policySnapshots(): Promise<Snapshot[]> {
  const out = await suite.ec2.send(new DescribeSnapshotsCommand({ Filters: [{ Name: `tag:${Tag.POLICY_ID}`, Values: [POLICY_ID] }] }));
  return out.Snapshots ?? [];
}

const metricsOf = (logs: LogLine[]) => logs.find((l: any) => l._aws) as any;


test('the clean-up deletes planted duplicates and keeps the oldest snapshot of each volume of each set', async () => {
  const web = await launch(suite.ec2, INSTANCE_TAGS);
  const db = await launch(suite.ec2, INSTANCE_TAGS);
  const slots = [slotHoursAgo(30), slotHoursAgo(6)];
  for (const slot of slots) {
    const { result } = await invoke<RunReport>('snapshot-run', { slot });
    expect(result).toMatchObject({ created: 2, failed: 0 });
  }
  const original = (await policySnapshots()).map((s) => s.SnapshotId!).sort();
  // moto's StartTime has whole seconds: the planted copies must start in a later second to be the newer ones.
  await new Promise((resolve) => setTimeout(resolve, 1100));
  // What a retried CreateSnapshots whose first answer was lost leaves: a second snapshot of the same volume,
  // with the same tags and marker, made later.
  const planted: string[] = [];
  for (const [instance, slot] of [[web, slots[0]], [web, slots[1]], [db, slots[1]]] as const) {
    const out = await suite.ec2.send(new CreateSnapshotCommand({
      VolumeId: instance.rootVolumeId,
      Description: setDescription(POLICY_ID, INSTANCE_TAGS, instance.instanceId, slot, 'nightly'),
      TagSpecifications: [{
        ResourceType: 'snapshot',
        Tags: tagList({ [Tag.POLICY_ID]: POLICY_ID, [Tag.INSTANCE_ID]: instance.instanceId, [Tag.SLOT]: slot }),
      }],
    }));
    planted.push(out.SnapshotId!);
  }

  const { result, logs } = await invoke<CleanupReport>('cleanup', {});

  expect(result).toMatchObject({ setsDeleted: 0, setsKept: 4, snapshotsDeleted: 3, duplicatesDeleted: 3, snapshotsSkipped: [] });
  expect(suite.proxy.requests('DeleteSnapshot').map((r) => r.params.get('SnapshotId')).sort()).toEqual([...planted].sort());
  const left = await policySnapshots();
  expect(left.map((s) => s.SnapshotId!).sort()).toEqual(original);
  // Exactly one snapshot per instance, slot and volume.
  const keys = left.map((s) => `${tagRecord(s.Tags)[Tag.INSTANCE_ID]} ${tagRecord(s.Tags)[Tag.SLOT]} ${s.VolumeId}`);
  expect(new Set(keys).size).toBe(keys.length);
  expect(metricsOf(logs).DuplicatesDeleted).toBe(3);
  expect(logs.filter((l) => l.event === 'set-keep' && l.duplicateSnapshotIds)).toHaveLength(3);
});

test('protection status names the instance tagged after the last run, and counts the protected ones', async () => {
  const web = await launch(suite.ec2, INSTANCE_TAGS);
  const db = await launch(suite.ec2, INSTANCE_TAGS);
  const { result: run } = await invoke<RunReport>('snapshot-run', { slot: slotHoursAgo(3) });
  expect(run).toMatchObject({ created: 2 });
  const late = await launch(suite.ec2, INSTANCE_TAGS);

  const { result, logs } = await invoke<CleanupReport>('cleanup', {});

  expect(result).toMatchObject({ protectedInstances: 2, unprotectedInstanceIds: [late.instanceId] });
  expect(result.maxLatestSetAgeSeconds).toBeGreaterThanOrEqual(3 * 3600);
  expect(result.maxLatestSetAgeSeconds).toBeLessThan(3 * 3600 + 600);
  expect(metricsOf(logs)).toMatchObject({ InstancesProtected: 2, InstancesUnprotected: 1, MaxLatestSetAge: result.maxLatestSetAgeSeconds });
  expect(logs.filter((l) => l.event === 'instance-unprotected')).toEqual([expect.objectContaining({
    level: 'WARN', instanceId: late.instanceId, newestCompletedSlot: null, lastSet: null,
  })]);
  expect([web.instanceId, db.instanceId]).not.toContain(late.instanceId);
});
