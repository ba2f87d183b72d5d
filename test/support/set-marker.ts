// Snapshots as the policy's runs make them, for tests, benchmarks and the demo that seed sets by hand: the
// Description must carry the set's marker (lambda/logic/ownership.ts), or the clean-up and the slot check
// rightly take the snapshot for a foreign one that merely carries the policy's tags.
import { Tags } from '../../lambda/logic/model';
import { describeSet, selectorFingerprint, setMarker } from '../../lambda/logic/ownership';

/** The Description a run of the policy (`policyId` selecting `instanceTags`) gives a snapshot of `instanceId` for `slot`. */
export function setDescription(policyId: string, instanceTags: Tags, instanceId: string, slot: string, userDescription = ''): string {
  return describeSet(userDescription, setMarker(selectorFingerprint(policyId, instanceTags), instanceId, slot));
}
