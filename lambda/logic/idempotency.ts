// Idempotency per schedule slot: an instance that already has snapshots of this policy for this slot (from
// an earlier, retried or duplicated invocation) gets no second set.
import { INSTANCE_ID_TAG, POLICY_ID_TAG, SLOT_TAG, SnapshotInfo } from './model';

/** The instances that have at least one snapshot of this policy for this slot, whatever its state. */
export function instancesWithSetForSlot(snapshots: readonly SnapshotInfo[], policyId: string, slot: string): Set<string> {
  const done = new Set<string>();
  for (const s of snapshots) {
    if (s.tags[POLICY_ID_TAG] === policyId && s.tags[SLOT_TAG] === slot && s.tags[INSTANCE_ID_TAG]) {
      done.add(s.tags[INSTANCE_ID_TAG]);
    }
  }
  return done;
}
