// Idempotency per schedule slot: an instance that already has a set of this policy for this slot (from an
// earlier, retried or duplicated invocation) gets no second set. Only a set that is the policy's own
// (logic/ownership.ts) and covers every volume the plan would snapshot counts: a snapshot that merely
// carries the policy's tags for the slot, or one of a few volumes, must not suppress a backup.
import { SnapshotInfo } from './model';
import { Owner, ownershipOf } from './ownership';

/** What the slot check needs of a planned request. */
export interface SlotRequest {
  readonly instanceId: string;
  readonly volumeIds: readonly string[];
}

/**
 * The instances among `requests` that have a set of this policy for `slot`, whatever its state, with the
 * ids of its snapshots.
 */
export function instancesWithSetForSlot(
  snapshots: readonly SnapshotInfo[], requests: readonly SlotRequest[], slot: string, owner: Owner,
): Map<string, string[]> {
  const bySlotInstance = new Map<string, SnapshotInfo[]>();
  for (const s of snapshots) {
    const ownership = ownershipOf(s, owner);
    if (!ownership.owned || ownership.slot !== slot) continue;
    bySlotInstance.set(ownership.instanceId, [...(bySlotInstance.get(ownership.instanceId) ?? []), s]);
  }
  const done = new Map<string, string[]>();
  for (const request of requests) {
    const existing = bySlotInstance.get(request.instanceId);
    if (!existing) continue;
    const covered = new Set(existing.map((s) => s.volumeId));
    if (request.volumeIds.every((id) => covered.has(id))) done.set(request.instanceId, existing.map((s) => s.snapshotId).sort());
  }
  return done;
}
