// What a policy holds in the EC2 emulator, read straight from it (not through a handler's proxy): its
// snapshots grouped into sets by the instance and slot tags the runs write. Shared by the emulator suites,
// so each compares sets the same way.
import { DescribeSnapshotsCommand, EC2Client, Snapshot } from '@aws-sdk/client-ec2';
import { tagRecord } from './emulator-ec2';
import { Tag } from '../../lib/private/contract';

/** Snapshots by instance id, then slot. */
export type PolicySets = Map<string, Map<string, Snapshot[]>>;

/** The key a snapshot lacking its instance or slot tag is grouped under, so that no comparison overlooks it. */
export const NO_TAG = '(no tag)';

const sorted = (values: readonly string[]) => [...values].sort();

/**
 * The snapshots carrying the policy's id tag, by instance, then slot. `ignore` names snapshots a test made
 * on purpose without a readable tag (they would show under NO_TAG otherwise).
 */
export async function policySets(ec2: EC2Client, policyId: string, ignore: readonly string[] = []): Promise<PolicySets> {
  const out = await ec2.send(new DescribeSnapshotsCommand({ Filters: [{ Name: `tag:${Tag.POLICY_ID}`, Values: [policyId] }] }));
  const sets: PolicySets = new Map();
  for (const snapshot of out.Snapshots ?? []) {
    if (ignore.includes(snapshot.SnapshotId!)) continue;
    const tags = tagRecord(snapshot.Tags);
    const instanceId = tags[Tag.INSTANCE_ID] ?? NO_TAG;
    const slot = tags[Tag.SLOT] ?? NO_TAG;
    const bySlot = sets.get(instanceId) ?? new Map<string, Snapshot[]>();
    bySlot.set(slot, [...(bySlot.get(slot) ?? []), snapshot]);
    sets.set(instanceId, bySlot);
  }
  return sets;
}

/** The slots of each instance's sets, sorted, for a compact comparison. */
export async function slotsByInstance(ec2: EC2Client, policyId: string, ignore: readonly string[] = []): Promise<Record<string, string[]>> {
  const sets = await policySets(ec2, policyId, ignore);
  return Object.fromEntries([...sets].map(([instanceId, bySlot]) => [instanceId, sorted([...bySlot.keys()])]));
}

/** The snapshot ids of each set, by instance, then slot. */
export async function policySetIds(ec2: EC2Client, policyId: string): Promise<Map<string, Map<string, string[]>>> {
  const sets = await policySets(ec2, policyId);
  return new Map([...sets].map(([instanceId, bySlot]) => [
    instanceId, new Map([...bySlot].map(([slot, snapshots]) => [slot, snapshots.map((s) => s.SnapshotId!)])),
  ]));
}

/** Every snapshot id of the policy's sets, sorted. */
export async function policySnapshotIds(ec2: EC2Client, policyId: string, ignore: readonly string[] = []): Promise<string[]> {
  const sets = await policySets(ec2, policyId, ignore);
  return sorted([...sets.values()].flatMap((bySlot) => [...bySlot.values()].flat()).map((s) => s.SnapshotId!));
}
