// Unit and property tests of the protection status (lambda/logic/protection.ts): which tagged instances have a
// recent good set, how old the worst one's newest set is, and what each unprotected instance's last run left.
import * as fc from 'fast-check';
import type { SetState, SnapshotSet } from '../../lambda/logic/decide-sets';
import { protectionStatus } from '../../lambda/logic/protection';

const NOW = new Date('2026-03-10T12:00:00Z');
const HOUR = 3600;
const DAY = 24 * HOUR;

function set(instanceId: string, hoursAgo: number, state: SetState = 'completed'): SnapshotSet {
  const slotTime = NOW.getTime() - hoursAgo * HOUR * 1000;
  return { instanceId, slot: new Date(slotTime).toISOString().replace('.000', ''), slotTime, state, held: false, snapshotIds: [`snap-${instanceId}-${hoursAgo}`] };
}

describe('protectionStatus', () => {
  test('protects an instance whose newest completed set is younger than maxSetAge, and no other', () => {
    const status = protectionStatus(
      [{ instanceId: 'i-fresh' }, { instanceId: 'i-stale' }, { instanceId: 'i-failing' }],
      [set('i-fresh', 20), set('i-fresh', 44), set('i-stale', 49), set('i-failing', 2, 'error'), set('i-failing', 60)],
      NOW, 2 * DAY,
    );
    expect(status.instances.map((i) => [i.instanceId, i.protected, i.latestSetAgeSeconds])).toEqual([
      ['i-failing', false, 60 * HOUR], ['i-fresh', true, 20 * HOUR], ['i-stale', false, 49 * HOUR],
    ]);
    expect(status).toMatchObject({ protectedCount: 1, unprotectedCount: 2, maxLatestSetAgeSeconds: 60 * HOUR });
    // What the last run of i-failing left: a set in error, newer than its newest completed one.
    expect(status.instances[0]).toMatchObject({ newestCompletedSlot: set('i-failing', 60).slot, newestSet: { slot: set('i-failing', 2).slot, state: 'error' } });
  });

  test('never protects an instance without a completed set, and counts its age from its launch', () => {
    const status = protectionStatus(
      [{ instanceId: 'i-new', launchTime: '2026-03-10T11:00:00.000Z' }, { instanceId: 'i-pending', launchTime: '2026-03-01T00:00:00.000Z' }],
      [set('i-pending', 1, 'pending')],
      NOW, 2 * DAY,
    );
    expect(status.instances).toEqual([
      { instanceId: 'i-new', protected: false, latestSetAgeSeconds: HOUR },
      { instanceId: 'i-pending', protected: false, latestSetAgeSeconds: 9.5 * DAY, newestSet: { slot: set('i-pending', 1).slot, state: 'pending' } },
    ]);
    expect(status.maxLatestSetAgeSeconds).toBe(9.5 * DAY);
  });

  test('ignores sets of instances outside the fleet, reads a slot just ahead of the clock as age 0, and is 0 for no fleet', () => {
    const status = protectionStatus([{ instanceId: 'i-a' }], [set('i-a', -0.5), set('i-gone', 500)], NOW, DAY);
    expect(status.instances).toEqual([expect.objectContaining({ instanceId: 'i-a', protected: true, latestSetAgeSeconds: 0 })]);
    expect(status.maxLatestSetAgeSeconds).toBe(0);
    expect(protectionStatus([], [set('i-gone', 500)], NOW, DAY)).toEqual({ instances: [], protectedCount: 0, unprotectedCount: 0, maxLatestSetAgeSeconds: 0 });
  });

  test('is unprotected at exactly maxSetAge', () => {
    expect(protectionStatus([{ instanceId: 'i-a' }], [set('i-a', 48)], NOW, 2 * DAY).instances[0].protected).toBe(false);
    expect(protectionStatus([{ instanceId: 'i-a' }], [set('i-a', 47.99)], NOW, 2 * DAY).instances[0].protected).toBe(true);
  });
});

describe('protectionStatus over random fleets and histories', () => {
  const INSTANCES = ['i-0', 'i-1', 'i-2', 'i-3'];
  const arb = fc.record({
    fleet: fc.subarray(INSTANCES),
    sets: fc.array(fc.record({
      instance: fc.constantFrom(...INSTANCES, 'i-outside'),
      hoursAgo: fc.integer({ min: -1, max: 24 * 20 }),
      state: fc.constantFrom<SetState>('completed', 'completed', 'pending', 'error'),
    }), { maxLength: 20 }),
    maxSetAgeHours: fc.integer({ min: 1, max: 24 * 10 }),
  });

  test('an instance is protected exactly when it has a completed set younger than maxSetAge', () => {
    fc.assert(fc.property(arb, ({ fleet, sets, maxSetAgeHours }) => {
      const history = sets.map((s) => set(s.instance, s.hoursAgo, s.state));
      const status = protectionStatus(fleet.map((instanceId) => ({ instanceId })), history, NOW, maxSetAgeHours * HOUR);
      expect(status.instances.map((i) => i.instanceId)).toEqual([...fleet].sort());
      for (const verdict of status.instances) {
        const hasRecent = history.some((s) => s.instanceId === verdict.instanceId && s.state === 'completed' &&
          (NOW.getTime() - s.slotTime) / 1000 < maxSetAgeHours * HOUR);
        expect(verdict.protected).toBe(hasRecent);
      }
      expect(status.protectedCount + status.unprotectedCount).toBe(fleet.length);
      expect(status.maxLatestSetAgeSeconds).toBe(Math.max(0, ...status.instances.map((i) => i.latestSetAgeSeconds)));
    }), { numRuns: 2000 });
  });
});
