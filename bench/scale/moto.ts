// moto for bench/scale.ts: started with an index on its tag lookups, reset and seeded per fleet size, and read
// straight (not through the proxy) to check what a run or a clean-up left.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  CreateSnapshotsCommand, DescribeImagesCommand, DescribeInstancesCommand, DescribeSnapshotsCommand, DescribeTagsCommand, EC2Client,
} from '@aws-sdk/client-ec2';
import { CreateBucketCommand, ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { MOTO_INDEX, PLAN_BUCKET } from './settings';
import { Tag } from '../../lib/private/contract';
import { MotoServer, startMoto } from '../../test/support/moto-server';
import { setDescription } from '../../test/support/set-marker';
import { growFleet } from '../fleet';

/**
 * moto finds an object's tags by scanning every tag it holds (TagBackend.describe_tags with a resource-id
 * filter), so DescribeInstances, DescribeSnapshots with tag filters and even RunInstances grow quadratically:
 * measured here with 10,000 instances, DescribeInstances took 179 s and DescribeSnapshots of 3,000 tagged
 * snapshots 121 s. This sitecustomize answers the lookup of one literal resource id from moto's own dict
 * (same result, same order); every other filter takes moto's code. It fails moto's start if moto changed.
 */
const MOTO_TAG_INDEX = `
from moto.ec2.models import tags as _tags
from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix
_scan = _tags.TagBackend.describe_tags
def describe_tags(self, filters=None):
    ids = (filters or {}).get("resource-id")
    if ids and len(filters) == 1 and len(ids) == 1 and not any(c in ids[0] for c in "*?[\\\\"):
        rid = ids[0]
        kind = EC2_PREFIX_TO_RESOURCE.get(get_prefix(rid), "")
        return [{"resource_id": rid, "key": k, "value": v, "resource_type": kind} for k, v in self.tags.get(rid, {}).items()]
    return _scan(self, filters)
_tags.TagBackend.describe_tags = describe_tags
`;

export async function startBenchMoto(): Promise<MotoServer> {
  if (!MOTO_INDEX) return startMoto();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scale-bench-moto-'));
  fs.writeFileSync(path.join(dir, 'sitecustomize.py'), MOTO_TAG_INDEX);
  const before = process.env.PYTHONPATH;
  process.env.PYTHONPATH = before ? `${dir}${path.delimiter}${before}` : dir;
  try {
    return await startMoto();
  } finally {
    if (before === undefined) delete process.env.PYTHONPATH;
    else process.env.PYTHONPATH = before;
    // Python has read the module by the time moto answers.
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Resets moto and checks it holds nothing, then creates the plan bucket. */
export async function resetMoto(moto: MotoServer, ec2: EC2Client, s3: S3Client): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await moto.reset();
    const reservations = (await ec2.send(new DescribeInstancesCommand({}))).Reservations ?? [];
    const buckets = (await s3.send(new ListBucketsCommand({}))).Buckets ?? [];
    if (reservations.length === 0 && buckets.length === 0) break;
    if (attempt >= 3) throw new Error(`moto still holds ${reservations.length} reservations and ${buckets.length} buckets after ${attempt} resets`);
  }
  await s3.send(new CreateBucketCommand({ Bucket: PLAN_BUCKET }));
}

/** A tagged fleet of `size` running instances (bench/fleet.ts). */
export async function seed(ec2: EC2Client, size: number): Promise<string[]> {
  const imageId = (await ec2.send(new DescribeImagesCommand({}))).Images![0].ImageId!;
  const fleet: string[] = [];
  await growFleet(ec2, imageId, fleet, size);
  return fleet;
}

/**
 * One set per instance and slot, made straight in moto (not through the proxy) with the tags and Description a
 * run of the policy (`policyId` selecting `instanceTags`) gives them.
 */
export async function seedHistory(
  ec2: EC2Client, fleet: readonly string[], policy: { policyId: string; instanceTags: Record<string, string> }, slots: readonly string[],
): Promise<void> {
  const { policyId, instanceTags } = policy;
  const jobs = slots.flatMap((slot) => fleet.map((instanceId) => ({ slot, instanceId })));
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const { slot, instanceId } = jobs[next++];
      await ec2.send(new CreateSnapshotsCommand({
        InstanceSpecification: { InstanceId: instanceId },
        Description: setDescription(policyId, instanceTags, instanceId, slot),
        TagSpecifications: [{
          ResourceType: 'snapshot',
          Tags: [{ Key: Tag.POLICY_ID, Value: policyId }, { Key: Tag.INSTANCE_ID, Value: instanceId }, { Key: Tag.SLOT, Value: slot }],
        }],
      }));
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

/** Instance id to the number of snapshots moto holds for it in this slot, read directly from the tags. */
export async function setsInMoto(ec2: EC2Client, slot: string): Promise<Map<string, number>> {
  const inSlot = await ec2.send(new DescribeTagsCommand({
    Filters: [{ Name: 'resource-type', Values: ['snapshot'] }, { Name: 'key', Values: [Tag.SLOT] }, { Name: 'value', Values: [slot] }],
  }));
  const snapshotIds = new Set((inSlot.Tags ?? []).map((t) => t.ResourceId!));
  const owners = await ec2.send(new DescribeTagsCommand({
    Filters: [{ Name: 'resource-type', Values: ['snapshot'] }, { Name: 'key', Values: [Tag.INSTANCE_ID] }],
  }));
  const sets = new Map<string, number>();
  for (const t of owners.Tags ?? []) {
    if (snapshotIds.has(t.ResourceId!)) sets.set(t.Value!, (sets.get(t.Value!) ?? 0) + 1);
  }
  return sets;
}

/**
 * Instance id to the slots of this policy's sets that moto still holds, from DescribeSnapshots straight to moto
 * (moto keeps the tags of a deleted snapshot in DescribeTags, so tags alone would count deleted sets).
 */
export async function slotsInMoto(ec2: EC2Client, policyId: string): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  const listed = await ec2.send(new DescribeSnapshotsCommand({ Filters: [{ Name: `tag:${Tag.POLICY_ID}`, Values: [policyId] }] }));
  for (const snapshot of listed.Snapshots ?? []) {
    const tags = Object.fromEntries((snapshot.Tags ?? []).map((t) => [t.Key!, t.Value!]));
    const [instanceId, slot] = [tags[Tag.INSTANCE_ID], tags[Tag.SLOT]];
    if (instanceId && slot) out.set(instanceId, (out.get(instanceId) ?? new Set()).add(slot));
  }
  return out;
}
