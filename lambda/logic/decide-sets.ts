// Decides which snapshot sets the clean-up keeps and which it deletes. Pure: plain data in, decisions out.
//
// Keep rules follow restic's `forget` (https://restic.readthedocs.io/en/stable/060_forget.html): `last`
// keeps the n newest sets; `hourly`..`yearly` keep the newest set in each of the n newest hours, days,
// ISO weeks, months or years that have a set (buckets in the schedule's time zone); `within` keeps every
// set whose slot is within that duration of the newest set. A set is kept when any rule keeps it.
import { INSTANCE_ID_TAG, SLOT_TAG, SnapshotInfo } from './model';
import { claimsPolicy, ForeignReason, Owner, ownershipOf, parseSlot } from './ownership';

export interface RetentionRules {
  readonly last?: number;
  readonly hourly?: number;
  readonly daily?: number;
  readonly weekly?: number;
  readonly monthly?: number;
  readonly yearly?: number;
  readonly withinSeconds?: number;
}

export type SetState = 'completed' | 'pending' | 'error';

/** All snapshots one run made of one instance: the unit that is kept or deleted. */
export interface SnapshotSet {
  readonly instanceId: string;
  readonly slot: string;
  readonly slotTime: number;
  readonly state: SetState;
  readonly held: boolean;
  readonly snapshotIds: string[];
  /**
   * Extra snapshots of a volume the set already holds a completed snapshot of (a retried CreateSnapshots
   * whose first answer was lost, or an older version's retry): deleted by the clean-up whatever the set's
   * fate, unless the set is held. Absent when there are none.
   */
  readonly duplicateSnapshotIds?: string[];
}

export interface SetDecision {
  readonly set: SnapshotSet;
  readonly action: 'keep' | 'delete';
  readonly reasons: string[];
}

export interface CleanupOptions {
  readonly policyId: string;
  readonly rules: RetentionRules;
  readonly timeZone: string;
  readonly now: Date;
  /** Sets in error are deleted once their slot is this many seconds old. */
  readonly errorGraceSeconds: number;
  /** A set with any snapshot carrying this tag key is never deleted. */
  readonly holdTag?: string;
  /**
   * The instances that still carry the policy's tags. When given, sets of any other instance are orphans:
   * they follow the same rules until their newest set is `orphanRetentionSeconds` old, then expire.
   */
  readonly liveInstanceIds?: ReadonlySet<string>;
  readonly orphanRetentionSeconds?: number;
}

/** A snapshot carrying the policy's id tag that is not one of its sets, and why (logic/ownership.ts). */
export interface UnrecognizedSnapshot {
  readonly snapshot: SnapshotInfo;
  readonly reason: ForeignReason;
}

export interface Grouping {
  readonly sets: SnapshotSet[];
  /** Snapshots with this policy's id tag that are not its own sets: never touched, reported. */
  readonly unrecognized: UnrecognizedSnapshot[];
}

/**
 * Groups the policy's own snapshots into sets by (instance, slot). Snapshots of other policies are ignored;
 * snapshots that carry this policy's id tag but are not its own (forged or copied tags, a future or
 * unreadable slot, a set of another selector sharing the id) are set aside as unrecognized.
 */
export function groupSets(snapshots: readonly SnapshotInfo[], owner: Owner, holdTag?: string): Grouping {
  const bySet = new Map<string, SnapshotInfo[]>();
  const unrecognized: UnrecognizedSnapshot[] = [];
  for (const snapshot of snapshots) {
    if (!claimsPolicy(snapshot, owner.policyId)) continue;
    const ownership = ownershipOf(snapshot, owner);
    if (!ownership.owned) {
      unrecognized.push({ snapshot, reason: ownership.reason });
      continue;
    }
    const key = `${ownership.instanceId}\u0000${ownership.slot}`;
    const list = bySet.get(key) ?? [];
    list.push(snapshot);
    bySet.set(key, list);
  }
  const sets = [...bySet.values()].map((members) => setOf(members, holdTag));
  sets.sort((a, b) => a.instanceId.localeCompare(b.instanceId) || b.slotTime - a.slotTime);
  return { sets, unrecognized };
}

/** One set from the snapshots of one (instance, slot), its duplicates set apart. */
function setOf(snapshots: readonly SnapshotInfo[], holdTag: string | undefined): SnapshotSet {
  const held = holdTag !== undefined && snapshots.some((s) => Object.prototype.hasOwnProperty.call(s.tags, holdTag));
  // A held set is left whole: nothing of it is deleted, duplicates included.
  const { members, duplicates, state } = splitDuplicates(held ? snapshots.map((s) => ({ ...s, volumeId: s.snapshotId })) : snapshots);
  const slot = members[0].tags[SLOT_TAG];
  return {
    instanceId: members[0].tags[INSTANCE_ID_TAG],
    slot,
    slotTime: parseSlot(slot)!,
    state,
    held,
    snapshotIds: members.map((s) => s.snapshotId).sort(),
    ...(duplicates.length > 0 ? { duplicateSnapshotIds: duplicates.map((s) => s.snapshotId).sort() } : {}),
  };
}

/**
 * Per volume: when the set holds a completed snapshot of it, the oldest completed one stands for the volume
 * and the volume's other snapshots that are not pending are duplicates (a pending one stays a member until a
 * later clean-up sees it finished). A volume with no completed snapshot keeps all of its snapshots, and they
 * decide the set's state: any in error makes the set `error`, any other not completed makes it `pending`.
 */
export function splitDuplicates(snapshots: readonly SnapshotInfo[]): { members: SnapshotInfo[]; duplicates: SnapshotInfo[]; state: SetState } {
  const byVolume = new Map<string, SnapshotInfo[]>();
  for (const s of snapshots) {
    const volume = s.volumeId ?? s.snapshotId;
    byVolume.set(volume, [...(byVolume.get(volume) ?? []), s]);
  }
  const members: SnapshotInfo[] = [];
  const duplicates: SnapshotInfo[] = [];
  const deciding: string[] = [];
  for (const ofVolume of byVolume.values()) {
    const completed = ofVolume.filter((s) => s.state === 'completed').sort(
      (a, b) => (a.startTime ?? '').localeCompare(b.startTime ?? '') || a.snapshotId.localeCompare(b.snapshotId));
    if (completed.length === 0) {
      members.push(...ofVolume);
      deciding.push(...ofVolume.map((s) => s.state));
      continue;
    }
    deciding.push('completed');
    for (const s of ofVolume) {
      if (s === completed[0] || s.state === 'pending') members.push(s);
      else duplicates.push(s);
    }
  }
  const state: SetState = deciding.includes('error') ? 'error' : deciding.every((s) => s === 'completed') ? 'completed' : 'pending';
  return { members, duplicates, state };
}

type Bucket = 'hourly' | 'daily' | 'weekly' | 'monthly' | 'yearly';
const BUCKETS: Bucket[] = ['hourly', 'daily', 'weekly', 'monthly', 'yearly'];

const formatters = new Map<string, Intl.DateTimeFormat>();
function localParts(time: number, timeZone: string): { y: number; m: number; d: number; h: number } {
  let fmt = formatters.get(timeZone);
  if (!fmt) {
    fmt = new Intl.DateTimeFormat('en-US', {
      timeZone, year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', hourCycle: 'h23',
    });
    formatters.set(timeZone, fmt);
  }
  const parts: Record<string, number> = {};
  for (const p of fmt.formatToParts(new Date(time))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  return { y: parts.year, m: parts.month, d: parts.day, h: parts.hour };
}

/** ISO-8601 week-numbering year and week of a calendar date. */
function isoWeek(y: number, m: number, d: number): string {
  const date = new Date(Date.UTC(y, m - 1, d));
  const weekday = date.getUTCDay() || 7; // Monday 1 .. Sunday 7
  date.setUTCDate(date.getUTCDate() + 4 - weekday); // the Thursday of this week decides its year
  const year = date.getUTCFullYear();
  const week = Math.ceil(((date.getTime() - Date.UTC(year, 0, 1)) / 86_400_000 + 1) / 7);
  return `${year}-W${week}`;
}

/** The bucket a slot falls in, in the given time zone. */
export function bucketKey(bucket: Bucket, time: number, timeZone: string): string {
  const { y, m, d, h } = localParts(time, timeZone);
  switch (bucket) {
    case 'hourly': return `${y}-${m}-${d}T${h}`;
    case 'daily': return `${y}-${m}-${d}`;
    case 'weekly': return isoWeek(y, m, d);
    case 'monthly': return `${y}-${m}`;
    case 'yearly': return `${y}`;
  }
}

/**
 * Which of the given completed sets (newest first, one instance) the rules keep, with the rules that keep
 * each one. Sets the rules do not keep are absent from the result.
 */
export function applyRules(
  completedNewestFirst: readonly SnapshotSet[], rules: RetentionRules, timeZone: string,
): Map<SnapshotSet, string[]> {
  const kept = new Map<SnapshotSet, string[]>();
  const keep = (set: SnapshotSet, reason: string) => kept.set(set, [...(kept.get(set) ?? []), reason]);
  completedNewestFirst.slice(0, rules.last ?? 0).forEach((set) => keep(set, 'last'));
  for (const bucket of BUCKETS) {
    let remaining = rules[bucket] ?? 0;
    // A bucket counts once even when its sets are not adjacent in time: clocks that go back off the hour
    // (Pacific/Chatham, 03:45 to 02:45) split a local hour in two. Newest first, the first set seen in a
    // bucket is the newest in it.
    const seen = new Set<string>();
    for (const set of completedNewestFirst) {
      if (remaining <= 0) break;
      const key = bucketKey(bucket, set.slotTime, timeZone);
      if (!seen.has(key)) {
        keep(set, bucket);
        remaining -= 1;
        seen.add(key);
      }
    }
  }
  if (rules.withinSeconds && completedNewestFirst.length > 0) {
    const newest = completedNewestFirst[0].slotTime;
    for (const set of completedNewestFirst) {
      if (newest - set.slotTime <= rules.withinSeconds * 1000) keep(set, 'within');
    }
  }
  return kept;
}

/**
 * Decides every set's fate, instance by instance. The guarantees, whatever the rules say:
 * - only sets of this policy are considered (grouping drops the rest);
 * - a held set, a pending set and the newest completed set of an instance are kept;
 * - only completed sets count for the rules, so a failed or unfinished run never pushes an older set out;
 * - a set in error is deleted only after the grace period.
 */
export function decideSets(sets: readonly SnapshotSet[], options: CleanupOptions): SetDecision[] {
  const byInstance = new Map<string, SnapshotSet[]>();
  for (const set of sets) {
    byInstance.set(set.instanceId, [...(byInstance.get(set.instanceId) ?? []), set]);
  }
  const decisions: SetDecision[] = [];
  const now = options.now.getTime();
  for (const [instanceId, instanceSets] of byInstance) {
    const newestFirst = [...instanceSets].sort((a, b) => b.slotTime - a.slotTime);
    const completed = newestFirst.filter((s) => s.state === 'completed');
    const orphan = options.liveInstanceIds !== undefined && !options.liveInstanceIds.has(instanceId);
    const orphanExpired = orphan && options.orphanRetentionSeconds !== undefined && completed.length > 0 &&
      now - completed[0].slotTime > options.orphanRetentionSeconds * 1000;
    const byRules = orphanExpired ? new Map<SnapshotSet, string[]>() : applyRules(completed, options.rules, options.timeZone);
    for (const set of newestFirst) {
      const reasons: string[] = [];
      if (set.held) reasons.push('held');
      if (set.state === 'pending') reasons.push('pending');
      if (set.state === 'error' && now - set.slotTime < options.errorGraceSeconds * 1000) reasons.push('error-grace');
      if (set === completed[0] && !orphanExpired) reasons.push('newest');
      reasons.push(...(byRules.get(set) ?? []));
      if (reasons.length > 0) {
        decisions.push({ set, action: 'keep', reasons });
      } else {
        const why = set.state === 'error' ? 'error-expired' : orphanExpired ? 'orphan-expired' : 'expired';
        decisions.push({ set, action: 'delete', reasons: [why] });
      }
    }
  }
  return decisions;
}

/** What a clean-up deletes: a whole expired set, or only the duplicates of a set it keeps. */
export interface Deletion {
  readonly instanceId: string;
  readonly slot: string;
  readonly snapshotIds: readonly string[];
  /** Only duplicates of a kept set: counted as duplicates deleted, not as a set deleted. */
  readonly duplicates?: boolean;
}

/**
 * The deletions the decisions call for: every expired set whole (its duplicates included), then the
 * duplicates of the sets that are kept.
 */
export function deletionsOf(decisions: readonly SetDecision[]): Deletion[] {
  const expired = decisions.filter((d) => d.action === 'delete').map(({ set }): Deletion => ({
    instanceId: set.instanceId, slot: set.slot, snapshotIds: [...set.snapshotIds, ...(set.duplicateSnapshotIds ?? [])],
  }));
  const duplicates = decisions.filter((d) => d.action === 'keep' && (d.set.duplicateSnapshotIds?.length ?? 0) > 0)
    .map(({ set }): Deletion => ({ instanceId: set.instanceId, slot: set.slot, snapshotIds: set.duplicateSnapshotIds!, duplicates: true }));
  return [...expired, ...duplicates];
}
