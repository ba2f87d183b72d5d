// The clean-up against snapshot locks it did not put, through the bundled clean-up, moto and the fault
// proxy's lock emulation: an expired set with a locked snapshot is left whole and reported as locked until
// its lock ends, no DeleteSnapshot is sent for it, and the first clean-up after the lock ends deletes it.
import { DescribeSnapshotsCommand, EC2Client, LockSnapshotCommand } from '@aws-sdk/client-ec2';
import type { CleanupReport } from '../../lambda/runs/cleanup';
import type { RunReport } from '../../lambda/runs/snapshot-run';
import { Handler, Tag } from '../../lib/private/contract';
import { assertImage, emulatorClient, emulatorEnv, launch, tagRecord } from '../support/emulator-ec2';
import { FaultProxy, startFaultProxy } from '../support/fault-proxy';
import { LambdaContainer, startContainer } from '../support/lambda-container';
import { MotoServer, startMoto } from '../support/moto-server';

const POLICY_ID = 'locked-sets';
const INSTANCE_TAGS = { Backup: 'locked' };
const SLOTS = ['2026-01-01T03:00:00Z', '2026-01-02T03:00:00Z', '2026-01-03T03:00:00Z'];
const DAY_MS = 86_400_000;

let moto: MotoServer;
let proxy: FaultProxy;
let ec2: EC2Client;
/** Through the proxy, where the locks live. */
let viaProxy: EC2Client;
const containers: LambdaContainer[] = [];

async function invoke<R>(name: 'snapshot-run' | 'cleanup', event: unknown): Promise<R> {
  const container = await startContainer(name === 'snapshot-run' ? Handler.SNAPSHOT_RUN : Handler.CLEANUP, {
    ...emulatorEnv(proxy.endpoint),
    POLICY_ID,
    INSTANCE_TAGS: JSON.stringify(INSTANCE_TAGS),
    RETENTION: JSON.stringify({ last: 1 }),
    ORPHAN_RETENTION_SECONDS: String(3650 * 86_400),
  });
  containers.push(container);
  return (await container.invoke<R>(event)).result;
}

/** The policy's snapshot ids by slot, read straight from moto. */
async function bySlot(): Promise<Map<string, string[]>> {
  const out = await ec2.send(new DescribeSnapshotsCommand({ Filters: [{ Name: `tag:${Tag.POLICY_ID}`, Values: [POLICY_ID] }] }));
  const sets = new Map<string, string[]>();
  for (const s of out.Snapshots ?? []) {
    const slot = tagRecord(s.Tags)[Tag.SLOT];
    sets.set(slot, [...(sets.get(slot) ?? []), s.SnapshotId!].sort());
  }
  return sets;
}

beforeAll(async () => {
  moto = await startMoto();
  proxy = await startFaultProxy({ target: moto.endpoint, timeScale: 1000, snapshotLocks: {} });
  ec2 = emulatorClient(moto.endpoint);
  viaProxy = emulatorClient(proxy.endpoint);
  await assertImage(ec2);
});

afterAll(async () => {
  await Promise.all(containers.splice(0).map((c) => c.stop()));
  ec2?.destroy();
  viaProxy?.destroy();
  await proxy?.stop();
  await moto?.stop();
});

test('an expired set with a locked snapshot is kept whole until its lock ends, then deleted', async () => {
  await launch(ec2, INSTANCE_TAGS);
  for (const slot of SLOTS) expect(await invoke<RunReport>('snapshot-run', { slot })).toMatchObject({ created: 1 });
  const before = await bySlot();
  const lockedSnapshot = before.get(SLOTS[0])![0];
  await viaProxy.send(new LockSnapshotCommand({ SnapshotId: lockedSnapshot, LockMode: 'governance', LockDuration: 7 }));
  const deletesBefore = proxy.records.filter((r) => r.action === 'DeleteSnapshot').length;

  const first = await invoke<CleanupReport>('cleanup', {});

  // keepLast 1: the sets of SLOTS[0] and SLOTS[1] expire; the first is locked.
  expect(first).toMatchObject({ setsKept: 1, setsLocked: 1, setsDeleted: 1, snapshotsSkipped: [] });
  const sent = proxy.records.filter((r) => r.action === 'DeleteSnapshot').slice(deletesBefore).map((r) => r.snapshotId);
  expect(sent).toEqual(before.get(SLOTS[1]));
  expect([...(await bySlot()).keys()].sort()).toEqual([SLOTS[0], SLOTS[2]]);
  expect(proxy.records.filter((r) => r.action === 'DescribeLockedSnapshots')).toHaveLength(1);

  // Eight days on, the lock has ended: the next clean-up deletes the set.
  proxy.locks!.advance(8 * DAY_MS);
  const second = await invoke<CleanupReport>('cleanup', {});

  expect(second).toMatchObject({ setsLocked: 0, setsDeleted: 1, snapshotsSkipped: [] });
  expect([...(await bySlot()).keys()]).toEqual([SLOTS[2]]);
});
