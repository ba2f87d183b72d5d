// Unit tests of the snapshot locks the clean-up respects (lambda/logic/locks.ts): which locks are in force,
// and which deletions they hold back, whole, until when.
import { locksInForce, withoutLockedSets } from '../../lambda/logic/locks';

const NOW = new Date('2026-06-01T00:00:00Z');

describe('locksInForce', () => {
  test('keeps governance, compliance and cool-off locks that end after now, with their end', () => {
    const inForce = locksInForce([
      { snapshotId: 'snap-g', lockState: 'governance', lockExpiresOn: '2026-06-08T00:00:00.000Z' },
      { snapshotId: 'snap-c', lockState: 'compliance', lockExpiresOn: '2027-01-01T00:00:00.000Z' },
      { snapshotId: 'snap-cool', lockState: 'compliance-cooloff', lockExpiresOn: '2026-06-02T00:00:00.000Z' },
      { snapshotId: 'snap-expired', lockState: 'expired', lockExpiresOn: '2026-05-01T00:00:00.000Z' },
      { snapshotId: 'snap-ended', lockState: 'governance', lockExpiresOn: '2026-06-01T00:00:00.000Z' },
      { snapshotId: 'snap-open', lockState: 'governance' },
    ], NOW);
    expect([...inForce]).toEqual([
      ['snap-g', Date.parse('2026-06-08T00:00:00Z')],
      ['snap-c', Date.parse('2027-01-01T00:00:00Z')],
      ['snap-cool', Date.parse('2026-06-02T00:00:00Z')],
      ['snap-open', Infinity],
    ]);
  });
});

describe('withoutLockedSets', () => {
  const set = (id: string, snapshotIds: string[]) => ({ instanceId: id, slot: '2026-01-01T03:00:00Z', snapshotIds });

  test('holds back a whole set when any of its snapshots is locked, until its last lock ends', () => {
    const inForce = new Map([['snap-a2', 100], ['snap-a3', 300], ['snap-x', 50]]);
    const { toDelete, locked } = withoutLockedSets([set('i-a', ['snap-a1', 'snap-a2', 'snap-a3']), set('i-b', ['snap-b1'])], inForce);
    expect(toDelete.map((d) => d.instanceId)).toEqual(['i-b']);
    expect(locked).toEqual([{ deletion: set('i-a', ['snap-a1', 'snap-a2', 'snap-a3']), lockedUntil: 300 }]);
  });

  test('lets everything go when nothing is locked', () => {
    const deletions = [set('i-a', ['snap-a1']), set('i-b', ['snap-b1'])];
    expect(withoutLockedSets(deletions, new Map())).toEqual({ toDelete: deletions, locked: [] });
  });
});
