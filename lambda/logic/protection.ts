// Which tagged instances are protected: what an operator needs to know is not whether the last run worked,
// but whether every instance of the fleet has a recent good set. An instance is protected while its newest
// completed set is younger than `maxSetAge`; an instance with no completed set is never protected, and its
// age counts from its launch (a new instance, tagged after the last run, is reported until its first set).
// Pure: plain data in, a verdict per instance out.
import type { SnapshotSet } from './decide-sets';

export interface ProtectedInstance {
  readonly instanceId: string;
  readonly launchTime?: string;
}

export interface InstanceProtection {
  readonly instanceId: string;
  readonly protected: boolean;
  /** Seconds since the newest completed set's slot, or since launch when there is none (0 when unknown). */
  readonly latestSetAgeSeconds: number;
  /** The newest completed set's slot, if any. */
  readonly newestCompletedSlot?: string;
  /** The instance's newest set of any state: what its last run left. */
  readonly newestSet?: { readonly slot: string; readonly state: string };
}

export interface ProtectionStatus {
  readonly instances: InstanceProtection[];
  readonly protectedCount: number;
  readonly unprotectedCount: number;
  /** The worst instance's `latestSetAgeSeconds`; 0 for an empty fleet. */
  readonly maxLatestSetAgeSeconds: number;
}

/** The protection of every tagged instance, in instance id order. Sets of other instances are ignored. */
export function protectionStatus(
  instances: readonly ProtectedInstance[], sets: readonly SnapshotSet[], now: Date, maxSetAgeSeconds: number,
): ProtectionStatus {
  const newestCompleted = new Map<string, SnapshotSet>();
  const newestAny = new Map<string, SnapshotSet>();
  for (const set of sets) {
    const any = newestAny.get(set.instanceId);
    if (!any || set.slotTime > any.slotTime) newestAny.set(set.instanceId, set);
    if (set.state !== 'completed') continue;
    const completed = newestCompleted.get(set.instanceId);
    if (!completed || set.slotTime > completed.slotTime) newestCompleted.set(set.instanceId, set);
  }
  const unique = [...new Map(instances.map((i) => [i.instanceId, i])).values()].sort((a, b) => a.instanceId.localeCompare(b.instanceId));
  const verdicts = unique.map((instance): InstanceProtection => {
    const completed = newestCompleted.get(instance.instanceId);
    const any = newestAny.get(instance.instanceId);
    const since = completed ? completed.slotTime : Date.parse(instance.launchTime ?? '');
    // A slot may be up to an hour ahead of the clock: its age is 0, not negative.
    const latestSetAgeSeconds = Number.isNaN(since) ? 0 : Math.max(0, Math.floor((now.getTime() - since) / 1000));
    return {
      instanceId: instance.instanceId,
      protected: completed !== undefined && latestSetAgeSeconds < maxSetAgeSeconds,
      latestSetAgeSeconds,
      ...(completed ? { newestCompletedSlot: completed.slot } : {}),
      ...(any ? { newestSet: { slot: any.slot, state: any.state } } : {}),
    };
  });
  const protectedCount = verdicts.filter((v) => v.protected).length;
  return {
    instances: verdicts,
    protectedCount,
    unprotectedCount: verdicts.length - protectedCount,
    maxLatestSetAgeSeconds: verdicts.reduce((max, v) => Math.max(max, v.latestSetAgeSeconds), 0),
  };
}
