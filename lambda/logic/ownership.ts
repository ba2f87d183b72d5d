// Which snapshots are the policy's own. Tags can be set by anyone with ec2:CreateTags, on any snapshot, at
// any time; a snapshot's Description and StartTime cannot be changed after creation. So a snapshot counts as
// the policy's only when what its tags claim (policy, instance, slot) agrees with the marker its Description
// has carried since CreateSnapshots wrote it, and its StartTime fits its slot. Everything else is foreign:
// the clean-up keeps it and reports it, and a run's slot check does not count it as a set. Pure: plain data.
import { createHash } from 'crypto';
import { INSTANCE_ID_TAG, POLICY_ID_TAG, SLOT_TAG, SnapshotInfo, Tags } from './model';
import { SetMarker } from '../../lib/private/contract';

/** How far ahead of the clock a slot may be (the scheduler passes the scheduled time, a little behind now). */
export const MAX_SLOT_AHEAD_MS = 3_600_000;

/**
 * A short digest of the policy id and the tags that select its fleet. Two policies that share an id (two
 * stacks, two apps, a renamed construct) but select other instances write different markers, so neither
 * takes the other's sets for its own.
 */
export function selectorFingerprint(policyId: string, instanceTags: Tags): string {
  const selector = Object.keys(instanceTags).sort().map((key) => [key, instanceTags[key]]);
  return createHash('sha256').update(JSON.stringify([policyId, selector])).digest('hex').slice(0, SetMarker.FINGERPRINT_LENGTH);
}

/** The marker a set's Description ends with: `[snapshot-policy <fingerprint> <instance> <slot>]`. */
export function setMarker(fingerprint: string, instanceId: string, slot: string): string {
  return `${SetMarker.PREFIX}${fingerprint} ${instanceId} ${slot}]`;
}

/** The Description of a set's snapshots: the user's text, then the marker. */
export function describeSet(userDescription: string, marker: string): string {
  return userDescription === '' ? marker : `${userDescription} ${marker}`;
}

// The policy's own slot format: a UTC time to the second, as toSlot writes it.
const SLOT_FORMAT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z$/;

/**
 * A slot tag's time, or undefined unless it is exactly in the policy's format and a real calendar time.
 * `Date.parse` alone would read "1" as 2001 and Feb 30 as Mar 2, and a slot read wrongly makes a set look
 * older or newer than it is to the retention rules.
 */
export function parseSlot(text: string | undefined): number | undefined {
  const match = text === undefined ? null : SLOT_FORMAT.exec(text);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number);
  const time = Date.UTC(year, month - 1, day, hour, minute, second);
  const back = new Date(time);
  if (back.getUTCFullYear() !== year || back.getUTCMonth() !== month - 1 || back.getUTCDate() !== day ||
      hour > 23 || minute > 59 || second > 59) {
    return undefined;
  }
  return time;
}

/** What a snapshot must agree with to be the policy's. */
export interface Owner {
  readonly policyId: string;
  /** `selectorFingerprint` of the policy's id and instance tags. */
  readonly fingerprint: string;
  /** The clock: a slot further ahead than MAX_SLOT_AHEAD_MS is no set's slot. */
  readonly now: Date;
}

/** What a snapshot must agree with to be one of this policy's sets, as of `now`. */
export function ownerOf(policy: { readonly policyId: string; readonly instanceTags: Tags }, now: Date): Owner {
  return { policyId: policy.policyId, fingerprint: selectorFingerprint(policy.policyId, policy.instanceTags), now };
}

/** Why a snapshot carrying the policy's id tag is not taken for one of the policy's sets. */
export type ForeignReason =
  | 'no-instance-tag' | 'unreadable-slot' | 'future-slot' | 'no-marker' | 'other-selector' | 'marker-mismatch'
  | 'no-start-time' | 'started-before-slot';

export type Ownership =
  | { readonly owned: true; readonly instanceId: string; readonly slot: string; readonly slotTime: number }
  | { readonly owned: false; readonly reason: ForeignReason };

/**
 * Whether a snapshot is one of the policy's own (see the file's first lines). Snapshots without the
 * policy's id tag are not asked about: the caller lists by that tag.
 */
export function ownershipOf(snapshot: SnapshotInfo, owner: Owner): Ownership {
  const tags = snapshot.tags;
  const instanceId = tags[INSTANCE_ID_TAG];
  const slot = tags[SLOT_TAG];
  if (!instanceId) return { owned: false, reason: 'no-instance-tag' };
  const slotTime = parseSlot(slot);
  if (slotTime === undefined) return { owned: false, reason: 'unreadable-slot' };
  if (slotTime > owner.now.getTime() + MAX_SLOT_AHEAD_MS) return { owned: false, reason: 'future-slot' };
  const marker = markerOf(snapshot.description);
  if (marker === undefined) return { owned: false, reason: 'no-marker' };
  if (marker !== setMarker(owner.fingerprint, instanceId, slot)) {
    return { owned: false, reason: marker.startsWith(`${SetMarker.PREFIX}${owner.fingerprint} `) ? 'marker-mismatch' : 'other-selector' };
  }
  const started = snapshot.startTime === undefined ? NaN : Date.parse(snapshot.startTime);
  if (Number.isNaN(started)) return { owned: false, reason: 'no-start-time' };
  // A run may start up to MAX_SLOT_AHEAD_MS before its slot (an on-demand run with a slot just ahead), never
  // earlier. There is no bound after the slot: retried, rerun and on-demand runs of past slots are allowed.
  if (started < slotTime - MAX_SLOT_AHEAD_MS) return { owned: false, reason: 'started-before-slot' };
  return { owned: true, instanceId, slot: slot!, slotTime };
}

/** The marker at the end of a Description, if it has one. */
function markerOf(description: string | undefined): string | undefined {
  if (description === undefined || !description.endsWith(']')) return undefined;
  const at = description.lastIndexOf(SetMarker.PREFIX);
  return at < 0 ? undefined : description.slice(at);
}

/** Whether a snapshot's tags claim it for this policy (only then is its ownership worth asking). */
export function claimsPolicy(snapshot: SnapshotInfo, policyId: string): boolean {
  return snapshot.tags[POLICY_ID_TAG] === policyId;
}
