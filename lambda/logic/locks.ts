// Snapshot locks the clean-up must respect: a snapshot whose lock has not expired cannot be deleted (EC2
// answers SnapshotLocked), whoever locked it. A set with any such snapshot is left whole, reported as locked
// until its last lock ends, and deleted by the first clean-up after that. Pure: plain data in and out.

/** A lock as DescribeLockedSnapshots lists it. */
export interface SnapshotLockInfo {
  readonly snapshotId: string;
  /** compliance-cooloff, governance, compliance or expired. */
  readonly lockState: string;
  /** ISO-8601; absent when EC2 gives none. */
  readonly lockExpiresOn?: string;
}

/** The lock states that forbid a deletion. */
export const BLOCKING_LOCK_STATES = ['compliance-cooloff', 'governance', 'compliance'] as const;

/** Snapshot id to the time its lock ends (Infinity when EC2 gives no end), for locks still in force at `now`. */
export function locksInForce(locks: readonly SnapshotLockInfo[], now: Date): Map<string, number> {
  const inForce = new Map<string, number>();
  for (const lock of locks) {
    if (!(BLOCKING_LOCK_STATES as readonly string[]).includes(lock.lockState)) continue;
    const ends = lock.lockExpiresOn === undefined ? Infinity : Date.parse(lock.lockExpiresOn);
    if (Number.isNaN(ends) || ends > now.getTime()) inForce.set(lock.snapshotId, Number.isNaN(ends) ? Infinity : ends);
  }
  return inForce;
}

/** Splits deletions into those that may go now and those held back by a lock, with when the last lock ends. */
export function withoutLockedSets<T extends { readonly snapshotIds: readonly string[] }>(
  deletions: readonly T[], inForce: ReadonlyMap<string, number>,
): { toDelete: T[]; locked: Array<{ deletion: T; lockedUntil: number }> } {
  const toDelete: T[] = [];
  const locked: Array<{ deletion: T; lockedUntil: number }> = [];
  for (const deletion of deletions) {
    const ends = deletion.snapshotIds.map((id) => inForce.get(id)).filter((t): t is number => t !== undefined);
    if (ends.length === 0) toDelete.push(deletion);
    else locked.push({ deletion, lockedUntil: Math.max(...ends) });
  }
  return { toDelete, locked };
}
