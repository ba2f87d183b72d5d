// The only module that talks to EC2: thin calls that turn SDK shapes into the plain data of model.ts.
// Every call takes a token from the bucket of its action family before it is sent.
import {
  CreateSnapshotsCommand, DeleteSnapshotCommand, DescribeAvailabilityZonesCommand, DescribeLockedSnapshotsCommand, EC2Client,
  paginateDescribeInstances, paginateDescribeSnapshots, paginateDescribeVolumes, Snapshot, Tag,
} from '@aws-sdk/client-ec2';
import { Defaults } from '../../lib/private/contract';
import { BLOCKING_LOCK_STATES, SnapshotLockInfo } from '../logic/locks';
import { CreateSnapshotsParams, InstanceInfo, SnapshotInfo, Tags, VolumeInfo } from '../logic/model';
import { TokenBucket } from '../support/rate-limiter';

function tagMap(tags: Tag[] | undefined): Tags {
  const result: Tags = {};
  for (const tag of tags ?? []) {
    if (tag.Key !== undefined) result[tag.Key] = tag.Value ?? '';
  }
  return result;
}

/** What the policy reads of a snapshot; all but the tags are fixed when the snapshot is created. */
function snapshotInfo(snapshotId: string, s: Snapshot): SnapshotInfo {
  return {
    snapshotId,
    state: s.State ?? 'unknown',
    startTime: s.StartTime?.toISOString(),
    description: s.Description,
    volumeId: s.VolumeId,
    tags: tagMap(s.Tags),
  };
}

export interface Buckets {
  /** DescribeInstances, DescribeVolumes, DescribeSnapshots, DescribeAvailabilityZones. */
  readonly describe: TokenBucket;
  /** CreateSnapshots and DeleteSnapshot. */
  readonly mutate: TokenBucket;
}

/** Default buckets: EC2's documented sizes for the paginated describe calls and for snapshot mutations. */
export function defaultBuckets(mutateBurst: number = Defaults.MUTATE_BURST, mutateRatePerSecond: number = Defaults.MUTATE_RATE_PER_SECOND): Buckets {
  return {
    describe: new TokenBucket(Defaults.DESCRIBE_BURST, Defaults.DESCRIBE_RATE_PER_SECOND),
    mutate: new TokenBucket(mutateBurst, mutateRatePerSecond),
  };
}

/** Attempts of each describe call, the first included, with the SDK's backoff between them. */
export const DESCRIBE_MAX_ATTEMPTS = 6;

export class Ec2Adapter {
  /** Clients as the handlers use them: describe calls retried by the SDK, mutations by the pacer only. */
  static fromEnvironment(buckets: Buckets): Ec2Adapter {
    // Describe calls get the SDK's standard retries with room to spare: one that still fails ends the whole run
    // or clean-up, where a failed mutation costs one instance's attempt.
    return new Ec2Adapter(new EC2Client({ maxAttempts: DESCRIBE_MAX_ATTEMPTS }), buckets, new EC2Client({ maxAttempts: 1 }));
  }

  /**
   * @param client for the describe calls, whose throttling the SDK's own retries absorb
   * @param mutateClient for CreateSnapshots and DeleteSnapshot; give it `maxAttempts: 1` so that every
   *   attempt goes through the caller's pacer and takes a token (SDK retries would bypass the bucket)
   */
  constructor(readonly client: EC2Client, readonly buckets: Buckets, readonly mutateClient: EC2Client = client) {}

  /**
   * The same clients and describe bucket with another mutation bucket: a batch of an orchestrated run starts
   * its bucket where the run's budget says (`initialTokens`), not where the container's last batch left it.
   */
  withMutateBucket(mutate: TokenBucket): Ec2Adapter {
    return new Ec2Adapter(this.client, { describe: this.buckets.describe, mutate }, this.mutateClient);
  }

  async listInstances(filters: Array<{ Name: string; Values: string[] }>): Promise<InstanceInfo[]> {
    const instances: InstanceInfo[] = [];
    const pages = paginateDescribeInstances({ client: this.client, pageSize: 1000 }, { Filters: filters });
    for await (const page of this.paced(pages)) {
      for (const reservation of page.Reservations ?? []) {
        for (const i of reservation.Instances ?? []) {
          if (!i.InstanceId) continue;
          instances.push({
            instanceId: i.InstanceId,
            state: i.State?.Name,
            availabilityZone: i.Placement?.AvailabilityZone,
            outpostArn: i.OutpostArn || undefined,
            rootDeviceName: i.RootDeviceName,
            launchTime: i.LaunchTime?.toISOString(),
            volumes: (i.BlockDeviceMappings ?? [])
              .filter((m) => m.Ebs?.VolumeId)
              .map((m) => ({ deviceName: m.DeviceName, volumeId: m.Ebs!.VolumeId! })),
            tags: tagMap(i.Tags),
          });
        }
      }
    }
    return instances;
  }

  /**
   * Which of the given instances still exist (in a state a snapshot can be taken in), whatever their tags:
   * one DescribeInstances per 200 ids, EC2's limit on a filter's values.
   */
  async existingInstanceIds(instanceIds: readonly string[]): Promise<string[]> {
    const found: string[] = [];
    for (let i = 0; i < instanceIds.length; i += 200) {
      const instances = await this.listInstances([
        { Name: 'instance-id', Values: instanceIds.slice(i, i + 200) },
        { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
      ]);
      found.push(...instances.map((x) => x.instanceId));
    }
    return found.sort();
  }

  /** Zone name to zone type, for every zone of the Region, opted in or not. */
  async zoneTypes(): Promise<Map<string, string>> {
    await this.buckets.describe.take();
    const out = await this.client.send(new DescribeAvailabilityZonesCommand({ AllAvailabilityZones: true }));
    return new Map((out.AvailabilityZones ?? []).filter((z) => z.ZoneName).map((z) => [z.ZoneName!, z.ZoneType ?? '']));
  }

  /** Volumes carrying any of the given tag keys (their values are checked by the planner). */
  async volumesWithTagKeys(keys: string[]): Promise<VolumeInfo[]> {
    if (keys.length === 0) return [];
    const volumes: VolumeInfo[] = [];
    const pages = paginateDescribeVolumes({ client: this.client, pageSize: 500 }, { Filters: [{ Name: 'tag-key', Values: keys }] });
    for await (const page of this.paced(pages)) {
      for (const v of page.Volumes ?? []) {
        if (!v.VolumeId) continue;
        volumes.push({
          volumeId: v.VolumeId,
          attachedInstanceIds: (v.Attachments ?? []).map((a) => a.InstanceId).filter((id): id is string => !!id),
          tags: tagMap(v.Tags),
        });
      }
    }
    return volumes;
  }

  /** Sends one planned request; the bucket is taken by the caller's pacer. */
  async createSnapshots(params: CreateSnapshotsParams): Promise<string[]> {
    const out = await this.mutateClient.send(new CreateSnapshotsCommand(params));
    return (out.Snapshots ?? []).map((s) => s.SnapshotId).filter((id): id is string => !!id);
  }

  /** The snapshots this account owns that carry the policy's id tag. */
  async listPolicySnapshots(policyIdTag: string, policyId: string): Promise<SnapshotInfo[]> {
    const snapshots: SnapshotInfo[] = [];
    const pages = paginateDescribeSnapshots(
      { client: this.client, pageSize: 1000 },
      { OwnerIds: ['self'], Filters: [{ Name: `tag:${policyIdTag}`, Values: [policyId] }] },
    );
    for await (const page of this.paced(pages)) {
      for (const s of page.Snapshots ?? []) {
        if (!s.SnapshotId) continue;
        snapshots.push(snapshotInfo(s.SnapshotId, s));
      }
    }
    return snapshots;
  }

  /** The snapshots of this policy made for one slot (to find instances an earlier invocation already did). */
  async listSlotSnapshots(policyIdTag: string, policyId: string, slotTag: string, slot: string): Promise<SnapshotInfo[]> {
    const snapshots: SnapshotInfo[] = [];
    const pages = paginateDescribeSnapshots(
      { client: this.client, pageSize: 1000 },
      { OwnerIds: ['self'], Filters: [{ Name: `tag:${policyIdTag}`, Values: [policyId] }, { Name: `tag:${slotTag}`, Values: [slot] }] },
    );
    for await (const page of this.paced(pages)) {
      for (const s of page.Snapshots ?? []) {
        if (s.SnapshotId) snapshots.push(snapshotInfo(s.SnapshotId, s));
      }
    }
    return snapshots;
  }

  /**
   * The snapshots this account owns that match every filter (each filter any of its values): the check of
   * instances whose CreateSnapshots failed ambiguously (filters from logic/ambiguous.ts).
   */
  async listSnapshotsMatching(filters: ReadonlyArray<{ readonly Name: string; readonly Values: readonly string[] }>): Promise<SnapshotInfo[]> {
    const snapshots: SnapshotInfo[] = [];
    const pages = paginateDescribeSnapshots(
      { client: this.client, pageSize: 1000 },
      { OwnerIds: ['self'], Filters: filters.map((f) => ({ Name: f.Name, Values: [...f.Values] })) },
    );
    for await (const page of this.paced(pages)) {
      for (const s of page.Snapshots ?? []) {
        if (s.SnapshotId) snapshots.push(snapshotInfo(s.SnapshotId, s));
      }
    }
    return snapshots;
  }

  /**
   * The account's snapshot locks that are in force (not expired), paged by NextToken: the SDK has no
   * paginator for DescribeLockedSnapshots.
   */
  async listSnapshotLocks(): Promise<SnapshotLockInfo[]> {
    const locks: SnapshotLockInfo[] = [];
    let nextToken: string | undefined;
    do {
      await this.buckets.describe.take();
      const page = await this.client.send(new DescribeLockedSnapshotsCommand({
        Filters: [{ Name: 'lock-state', Values: [...BLOCKING_LOCK_STATES] }], MaxResults: 1000, NextToken: nextToken,
      }));
      for (const s of page.Snapshots ?? []) {
        if (s.SnapshotId) locks.push({ snapshotId: s.SnapshotId, lockState: s.LockState ?? '', lockExpiresOn: s.LockExpiresOn?.toISOString() });
      }
      nextToken = page.NextToken || undefined;
    } while (nextToken);
    return locks;
  }

  /** The IDs of this policy's snapshots that carry the hold tag (any value). */
  async listHeldSnapshotIds(policyIdTag: string, policyId: string, holdTag: string): Promise<Set<string>> {
    const ids = new Set<string>();
    const pages = paginateDescribeSnapshots(
      { client: this.client, pageSize: 1000 },
      { OwnerIds: ['self'], Filters: [{ Name: `tag:${policyIdTag}`, Values: [policyId] }, { Name: 'tag-key', Values: [holdTag] }] },
    );
    for await (const page of this.paced(pages)) {
      for (const s of page.Snapshots ?? []) if (s.SnapshotId) ids.add(s.SnapshotId);
    }
    return ids;
  }

  /** Deletes one snapshot; the bucket is taken by the caller's pacer. */
  async deleteSnapshot(snapshotId: string, dryRun: boolean): Promise<void> {
    await this.mutateClient.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId, ...(dryRun ? { DryRun: true } : {}) }));
  }

  /** Takes a describe token before each page is fetched. */
  private async *paced<P>(pages: AsyncIterable<P>): AsyncIterable<P> {
    const iterator = pages[Symbol.asyncIterator]();
    for (;;) {
      await this.buckets.describe.take();
      const { value, done } = await iterator.next();
      if (done) return;
      yield value;
    }
  }
}
