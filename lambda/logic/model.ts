// Plain data shared by the planners, the adapter and the handlers. No SDK imports here: the planning
// modules depend only on these shapes, so they can be tested (and reused by an orchestrator) on plain data.
import { Tag } from '../../lib/private/contract';

/** Where a snapshot set is stored, relative to the instance's placement. */
export type Destination = 'PARENT_REGION' | 'LOCAL';

/** Where an instance runs, as far as CreateSnapshots is concerned. */
export type PlacementKind = 'region' | 'local-zone' | 'outpost' | 'wavelength-zone' | 'unknown';

export type Tags = Record<string, string>;

/** What the planner needs to know of an instance (from DescribeInstances). */
export interface InstanceInfo {
  readonly instanceId: string;
  readonly state?: string;
  readonly availabilityZone?: string;
  readonly outpostArn?: string;
  readonly rootDeviceName?: string;
  /** When the instance was launched (ISO-8601): an instance with no set is unprotected since then. */
  readonly launchTime?: string;
  readonly volumes: ReadonlyArray<{ readonly deviceName?: string; readonly volumeId: string }>;
  readonly tags: Tags;
}

/** A volume that carries one of the exclusion tag keys (from DescribeVolumes). */
export interface VolumeInfo {
  readonly volumeId: string;
  readonly attachedInstanceIds: readonly string[];
  readonly tags: Tags;
}

/**
 * One CreateSnapshots request as plain data. Its field names are those of the EC2 API, so the adapter
 * hands it to the SDK unchanged and tests can compare it with what goes over the wire.
 */
export interface CreateSnapshotsParams {
  readonly InstanceSpecification: {
    readonly InstanceId: string;
    readonly ExcludeBootVolume: boolean;
    readonly ExcludeDataVolumeIds?: string[];
  };
  readonly Description: string;
  readonly CopyTagsFromSource?: 'volume';
  readonly TagSpecifications: Array<{ ResourceType: 'snapshot'; Tags: Array<{ Key: string; Value: string }> }>;
  readonly Location?: 'local' | 'regional';
  readonly OutpostArn?: string;
  readonly DryRun?: boolean;
}

/** A planned request for one instance, with the facts that led to it (for the logs). */
export interface PlannedSnapshot {
  readonly instanceId: string;
  readonly placement: PlacementKind;
  readonly zone?: string;
  readonly volumeIds: readonly string[];
  readonly excludedVolumeIds: readonly string[];
  readonly params: CreateSnapshotsParams;
}

/** An instance the planner could not make a request for, and why. */
export interface PlanError {
  readonly instanceId: string;
  readonly error: string;
}

export interface SnapshotPlan {
  readonly slot: string;
  readonly requests: PlannedSnapshot[];
  readonly errors: PlanError[];
}

/** The outcome of one instance in a run. */
export interface InstanceOutcome {
  readonly instanceId: string;
  /** already-done: the instance has a set for this slot from an earlier (retried or duplicated) invocation. */
  readonly status: 'created' | 'dry-run' | 'already-done' | 'failed' | 'not-reached';
  readonly snapshotIds?: string[];
  readonly error?: string;
  readonly attempts?: number;
}

/** A snapshot as the clean-up sees it (from DescribeSnapshots). */
export interface SnapshotInfo {
  readonly snapshotId: string;
  readonly state: string;
  /** When EC2 started the snapshot (ISO-8601); fixed at creation. */
  readonly startTime?: string;
  /** Fixed at creation: the policy's sets carry their marker in it (logic/ownership.ts). */
  readonly description?: string;
  /** The volume the snapshot was taken of. */
  readonly volumeId?: string;
  readonly tags: Tags;
}

/** Tag keys the policy writes on every snapshot it creates: the contract's, under the names tests and benchmarks use. */
export const POLICY_ID_TAG = Tag.POLICY_ID;
export const INSTANCE_ID_TAG = Tag.INSTANCE_ID;
export const SLOT_TAG = Tag.SLOT;
