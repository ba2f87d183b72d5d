// Decides, from plain data only, which CreateSnapshots request each instance gets: which volumes, which
// tags, and where the set is stored (Location / OutpostArn) given the instance's placement.
import {
  CreateSnapshotsParams, Destination, INSTANCE_ID_TAG, InstanceInfo, PlacementKind, PlanError, PlannedSnapshot,
  POLICY_ID_TAG, SLOT_TAG, SnapshotPlan, Tags, VolumeInfo,
} from './model';
import { describeSet, selectorFingerprint, setMarker } from './ownership';

/** CreateSnapshots takes at most this many ExcludeDataVolumeIds. */
export const MAX_EXCLUDED_VOLUMES = 40;

/** Instance states a snapshot can be taken in; terminated and shutting-down instances are left out. */
export const SNAPSHOT_STATES = ['pending', 'running', 'stopping', 'stopped'];

/** What the planner needs of the policy's configuration. */
export interface PlanOptions {
  readonly policyId: string;
  readonly instanceTags: Tags;
  readonly excludeBootVolume: boolean;
  readonly excludeDataVolumeTags: Tags;
  readonly copyVolumeTags: boolean;
  readonly snapshotTags: Tags;
  readonly description: string;
  readonly localZoneDestination: Destination;
  readonly outpostDestination: Destination;
  readonly dryRun: boolean;
}

export interface PlanInput {
  readonly slot: string;
  readonly instances: readonly InstanceInfo[];
  /** Zone name to zone type (`availability-zone`, `local-zone`, `wavelength-zone`). */
  readonly zoneTypes: ReadonlyMap<string, string>;
  /** Volumes that carry one of the exclusion tag keys; their values are checked here. */
  readonly taggedVolumes: readonly VolumeInfo[];
  readonly options: PlanOptions;
}

/** DescribeInstances filters that select the policy's instances on the server side. */
export function instanceFilters(instanceTags: Tags): Array<{ Name: string; Values: string[] }> {
  return [
    ...Object.entries(instanceTags).map(([key, value]) => ({ Name: `tag:${key}`, Values: [value] })),
    { Name: 'instance-state-name', Values: [...SNAPSHOT_STATES] },
  ];
}

/** True when the instance carries every one of the policy's tags (a second check on the server's filter). */
export function carriesAllTags(instance: InstanceInfo, instanceTags: Tags): boolean {
  return Object.entries(instanceTags).every(([key, value]) => instance.tags[key] === value);
}

export function placementOf(instance: InstanceInfo, zoneTypes: ReadonlyMap<string, string>): PlacementKind {
  if (instance.outpostArn) return 'outpost';
  const zoneType = instance.availabilityZone ? zoneTypes.get(instance.availabilityZone) : undefined;
  switch (zoneType) {
    case 'availability-zone': return 'region';
    case 'local-zone': return 'local-zone';
    case 'wavelength-zone': return 'wavelength-zone';
    default: return 'unknown';
  }
}

/** The Location / OutpostArn parameters for a placement and the user's wishes for it. */
export function placementParams(
  placement: PlacementKind,
  instance: InstanceInfo,
  options: Pick<PlanOptions, 'localZoneDestination' | 'outpostDestination'>,
): Pick<CreateSnapshotsParams, 'Location' | 'OutpostArn'> {
  switch (placement) {
    case 'region':
      return {};
    case 'local-zone':
      return { Location: options.localZoneDestination === 'LOCAL' ? 'local' : 'regional' };
    case 'outpost':
      return options.outpostDestination === 'LOCAL' ? { OutpostArn: instance.outpostArn } : {};
    default:
      // Wavelength Zones and zones we cannot classify get neither: EC2 supports Location only for instances in
      // Local Zones ("if the source instance is not in a Local Zone, omit this parameter"), and without it
      // the snapshots are stored in the parent Region.
      return {};
  }
}

/** Data volumes of each instance that carry any of the exclusion tag pairs, by instance id. */
export function excludedVolumesByInstance(volumes: readonly VolumeInfo[], excludeTags: Tags): Map<string, string[]> {
  const pairs = Object.entries(excludeTags);
  const result = new Map<string, string[]>();
  if (pairs.length === 0) return result;
  for (const volume of volumes) {
    if (!pairs.some(([key, value]) => volume.tags[key] === value)) continue;
    for (const instanceId of volume.attachedInstanceIds) {
      const list = result.get(instanceId) ?? [];
      list.push(volume.volumeId);
      result.set(instanceId, list);
    }
  }
  return result;
}

/** The tags every snapshot of the set carries: the user's, then the policy's own (which win). */
export function snapshotTagsFor(options: Pick<PlanOptions, 'snapshotTags' | 'policyId'>, instanceId: string, slot: string): Tags {
  return {
    ...options.snapshotTags,
    [POLICY_ID_TAG]: options.policyId,
    [INSTANCE_ID_TAG]: instanceId,
    [SLOT_TAG]: slot,
  };
}

function planOne(
  instance: InstanceInfo, input: PlanInput, excluded: Map<string, string[]>, fingerprint: string,
): PlannedSnapshot | PlanError {
  const { options, slot } = input;
  const placement = placementOf(instance, input.zoneTypes);
  const rootVolumeIds = new Set(
    instance.volumes.filter((v) => v.deviceName !== undefined && v.deviceName === instance.rootDeviceName).map((v) => v.volumeId),
  );
  // The boot volume is governed by excludeBootVolume alone; EC2 rejects it in ExcludeDataVolumeIds.
  const excludedData = [...new Set(excluded.get(instance.instanceId) ?? [])]
    .filter((id) => !rootVolumeIds.has(id) && instance.volumes.some((v) => v.volumeId === id))
    .sort();
  if (excludedData.length > MAX_EXCLUDED_VOLUMES) {
    return {
      instanceId: instance.instanceId,
      error: `${excludedData.length} data volumes carry an exclusion tag, more than the ${MAX_EXCLUDED_VOLUMES} that CreateSnapshots accepts`,
    };
  }
  const volumeIds = instance.volumes
    .map((v) => v.volumeId)
    .filter((id) => !excludedData.includes(id) && !(options.excludeBootVolume && rootVolumeIds.has(id)));
  if (volumeIds.length === 0) {
    const error = instance.volumes.length === 0
      ? 'the instance has no EBS volume attached'
      : `no volume is left to snapshot after the exclusions (${instance.volumes.length} attached, all excluded)`;
    return { instanceId: instance.instanceId, error };
  }
  const tags = snapshotTagsFor(options, instance.instanceId, slot);
  const params: CreateSnapshotsParams = {
    InstanceSpecification: {
      InstanceId: instance.instanceId,
      ExcludeBootVolume: options.excludeBootVolume,
      ...(excludedData.length > 0 ? { ExcludeDataVolumeIds: excludedData } : {}),
    },
    Description: describeSet(options.description, setMarker(fingerprint, instance.instanceId, slot)),
    ...(options.copyVolumeTags ? { CopyTagsFromSource: 'volume' as const } : {}),
    TagSpecifications: [{
      ResourceType: 'snapshot',
      Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
    }],
    ...placementParams(placement, instance, options),
    ...(options.dryRun ? { DryRun: true } : {}),
  };
  return {
    instanceId: instance.instanceId,
    placement,
    zone: instance.availabilityZone,
    volumeIds,
    excludedVolumeIds: excludedData,
    params,
  };
}

/**
 * Plans one CreateSnapshots request per instance that carries all of the policy's tags and is in a state
 * that can be snapshotted. Instances appear once each, in instance id order, so a plan can be cut into
 * batches deterministically.
 */
export function planSnapshots(input: PlanInput): SnapshotPlan {
  const excluded = excludedVolumesByInstance(input.taggedVolumes, input.options.excludeDataVolumeTags);
  const fingerprint = selectorFingerprint(input.options.policyId, input.options.instanceTags);
  const seen = new Set<string>();
  const instances = input.instances
    .filter((i) => carriesAllTags(i, input.options.instanceTags))
    .filter((i) => i.state === undefined || SNAPSHOT_STATES.includes(i.state))
    .filter((i) => (seen.has(i.instanceId) ? false : (seen.add(i.instanceId), true)))
    .sort((a, b) => a.instanceId.localeCompare(b.instanceId));
  const requests: PlannedSnapshot[] = [];
  const errors: PlanError[] = [];
  for (const instance of instances) {
    const result = planOne(instance, input, excluded, fingerprint);
    if ('error' in result) errors.push(result);
    else requests.push(result);
  }
  return { slot: input.slot, requests, errors };
}

/** How far ahead of the clock a slot may be (the scheduler passes the scheduled time, a little behind now). */
const MAX_SLOT_AHEAD_MS = 3_600_000;

/**
 * The slot a run is for: the scheduled time the schedule passed in, or (on demand) the current minute.
 * Slots are ISO-8601 UTC strings to the second, so they sort as text and compare across runs.
 */
export function slotOf(event: unknown, now: Date): string {
  const given = typeof event === 'object' && event !== null ? (event as { slot?: unknown }).slot : undefined;
  if (given !== undefined && given !== null && given !== '') {
    const parsed = typeof given === 'string' ? parseIsoTime(given) : undefined;
    if (parsed === undefined) {
      throw new Error(`event slot must be an ISO-8601 time, got ${JSON.stringify(given)}`);
    }
    // A set from the future would be every instance's newest set to the retention rules, and `within`
    // measures from the newest set: it could age out every real set.
    if (parsed.getTime() > now.getTime() + MAX_SLOT_AHEAD_MS) {
      throw new Error(`event slot must not be more than an hour ahead of now (${toSlot(now)}), got ${JSON.stringify(given)}`);
    }
    return toSlot(parsed);
  }
  const minute = new Date(Math.floor(now.getTime() / 60_000) * 60_000);
  return toSlot(minute);
}

// A date, a time and a UTC offset (or Z), as the scheduler's <aws.scheduler.scheduled-time> is.
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:Z|[+-](\d{2}):(\d{2}))$/i;

/**
 * Parses an ISO-8601 time with its offset, or returns undefined. `Date` alone is too lenient for a slot: it
 * reads "1" as 2001, a time without an offset in the container's zone, and Feb 30 as Mar 2, and a slot read
 * wrongly makes a set look older or newer than it is to the retention rules.
 */
function parseIsoTime(text: string): Date | undefined {
  const match = ISO_TIME.exec(text);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second, offsetHours, offsetMinutes] = match.slice(1).map((v) => Number(v ?? 0));
  const calendar = new Date(Date.UTC(year, month - 1, day));
  if (calendar.getUTCFullYear() !== year || calendar.getUTCMonth() !== month - 1 || calendar.getUTCDate() !== day ||
      hour > 23 || minute > 59 || second > 59 || offsetHours > 23 || offsetMinutes > 59) {
    return undefined;
  }
  const parsed = new Date(text);
  return Number.isNaN(parsed.getTime()) ? undefined : parsed;
}

function toSlot(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
