// Example tests of the retention rules (lambda/retention.ts), each against a hand-computed expectation:
// restic-style keep rules, buckets in a time zone across DST changes, ISO weeks and month ends, grouping of
// snapshots into sets, and the clean-up's guarantees (pending, error grace, newest, hold, orphans).
import {
  applyRules, bucketKey, CleanupOptions, decideSets, groupSets, RetentionRules, SetState, SnapshotSet,
} from '../../lambda/logic/decide-sets';
import { INSTANCE_ID_TAG, POLICY_ID_TAG, SLOT_TAG, SnapshotInfo } from '../../lambda/logic/model';
import { ownerOf } from '../../lambda/logic/ownership';
import { setDescription } from '../support/set-marker';

const HOUR = 3600;
const DAY = 86_400;

function set(slot: string, state: SetState = 'completed', extra: { instanceId?: string; held?: boolean } = {}): SnapshotSet {
  const instanceId = extra.instanceId ?? 'i-a';
  return {
    instanceId,
    slot,
    slotTime: Date.parse(slot),
    state,
    held: extra.held ?? false,
    snapshotIds: [`snap-${instanceId}-${slot}`],
  };
}

/** The slots the rules keep, newest first, each with the rules that keep it. */
function kept(slotsNewestFirst: string[], rules: RetentionRules, timeZone = 'UTC'): Array<[string, string[]]> {
  const sets = slotsNewestFirst.map((slot) => set(slot));
  const result = applyRules(sets, rules, timeZone);
  return sets.filter((s) => result.has(s)).map((s) => [s.slot, result.get(s)!]);
}

function keptSlots(slotsNewestFirst: string[], rules: RetentionRules, timeZone = 'UTC'): string[] {
  return kept(slotsNewestFirst, rules, timeZone).map(([slot]) => slot);
}

describe('applyRules', () => {
  test('last keeps the n newest sets', () => {
    expect(kept(['2026-01-05T03:00:00Z', '2026-01-04T03:00:00Z', '2026-01-03T03:00:00Z', '2026-01-02T03:00:00Z'], { last: 2 }))
      .toEqual([['2026-01-05T03:00:00Z', ['last']], ['2026-01-04T03:00:00Z', ['last']]]);
  });

  test('last keeps every set when there are fewer than n', () => {
    expect(keptSlots(['2026-01-05T03:00:00Z', '2026-01-04T03:00:00Z'], { last: 7 })).toEqual(['2026-01-05T03:00:00Z', '2026-01-04T03:00:00Z']);
  });

  test('no rule, or rules of zero, keep nothing', () => {
    const slots = ['2026-01-05T03:00:00Z', '2026-01-04T03:00:00Z'];
    expect(keptSlots(slots, {})).toEqual([]);
    expect(keptSlots(slots, { last: 0, hourly: 0, daily: 0, weekly: 0, monthly: 0, yearly: 0, withinSeconds: 0 })).toEqual([]);
  });

  test('hourly keeps the newest set of each of the n newest hours', () => {
    expect(keptSlots(
      ['2026-01-05T10:50:00Z', '2026-01-05T10:10:00Z', '2026-01-05T09:30:00Z', '2026-01-05T09:00:00Z', '2026-01-05T08:59:00Z'],
      { hourly: 2 },
    )).toEqual(['2026-01-05T10:50:00Z', '2026-01-05T09:30:00Z']);
  });

  test('daily counts only days that have a set, not calendar days back from the newest', () => {
    expect(keptSlots(
      ['2026-01-10T03:00:00Z', '2026-01-07T15:00:00Z', '2026-01-07T03:00:00Z', '2026-01-01T03:00:00Z', '2025-12-20T03:00:00Z'],
      { daily: 3 },
    )).toEqual(['2026-01-10T03:00:00Z', '2026-01-07T15:00:00Z', '2026-01-01T03:00:00Z']);
  });

  test('weekly keeps the newest set of each ISO week, Monday to Sunday', () => {
    // 2026-01-04 is a Sunday (2026-W1), 2026-01-05 a Monday (2026-W2).
    expect(keptSlots(
      ['2026-01-11T03:00:00Z', '2026-01-05T03:00:00Z', '2026-01-04T03:00:00Z', '2026-01-01T03:00:00Z'],
      { weekly: 2 },
    )).toEqual(['2026-01-11T03:00:00Z', '2026-01-04T03:00:00Z']);
  });

  test('weekly treats 2026-12-31 and 2027-01-03 as one week (2026-W53) and 2027-01-04 as the next', () => {
    expect(keptSlots(
      ['2027-01-04T03:00:00Z', '2027-01-03T03:00:00Z', '2026-12-31T03:00:00Z', '2026-12-27T03:00:00Z'],
      { weekly: 3 },
    )).toEqual(['2027-01-04T03:00:00Z', '2027-01-03T03:00:00Z', '2026-12-27T03:00:00Z']);
  });

  test('monthly puts Jan 31 and Feb 1 in different months', () => {
    expect(keptSlots(
      ['2026-02-01T03:00:00Z', '2026-01-31T03:00:00Z', '2026-01-15T03:00:00Z', '2025-12-31T03:00:00Z'],
      { monthly: 3 },
    )).toEqual(['2026-02-01T03:00:00Z', '2026-01-31T03:00:00Z', '2025-12-31T03:00:00Z']);
  });

  test('yearly keeps the newest set of each of the n newest years', () => {
    expect(keptSlots(
      ['2027-06-01T03:00:00Z', '2027-01-01T03:00:00Z', '2026-12-31T03:00:00Z', '2026-06-01T03:00:00Z', '2024-06-01T03:00:00Z'],
      { yearly: 3 },
    )).toEqual(['2027-06-01T03:00:00Z', '2026-12-31T03:00:00Z', '2024-06-01T03:00:00Z']);
  });

  test('within keeps every set within the duration of the newest set, the boundary included', () => {
    expect(keptSlots(
      ['2026-01-10T03:00:00Z', '2026-01-09T03:00:00Z', '2026-01-08T03:00:00Z', '2026-01-08T02:59:59Z'],
      { withinSeconds: 2 * DAY },
    )).toEqual(['2026-01-10T03:00:00Z', '2026-01-09T03:00:00Z', '2026-01-08T03:00:00Z']);
  });

  test('combined rules keep a set when any of them keeps it, and name every rule that does (the README example)', () => {
    expect(kept(
      ['2026-01-04T15:00:00Z', '2026-01-04T03:00:00Z', '2026-01-03T15:00:00Z', '2026-01-03T03:00:00Z', '2026-01-02T15:00:00Z', '2026-01-02T03:00:00Z'],
      { last: 2, daily: 3 },
    )).toEqual([
      ['2026-01-04T15:00:00Z', ['last', 'daily']],
      ['2026-01-04T03:00:00Z', ['last']],
      ['2026-01-03T15:00:00Z', ['daily']],
      ['2026-01-02T15:00:00Z', ['daily']],
    ]);
  });

  test('combines every kind of rule', () => {
    expect(kept([
      '2026-03-10T12:00:00Z',
      '2026-03-10T06:00:00Z',
      '2026-03-09T12:00:00Z',
      '2026-03-02T12:00:00Z',
      '2026-02-20T12:00:00Z',
      '2026-01-20T12:00:00Z',
      '2025-07-01T12:00:00Z',
    ], { last: 1, hourly: 2, daily: 2, weekly: 2, monthly: 3, yearly: 2, withinSeconds: 6 * HOUR })).toEqual([
      ['2026-03-10T12:00:00Z', ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly', 'within']],
      ['2026-03-10T06:00:00Z', ['hourly', 'within']],
      ['2026-03-09T12:00:00Z', ['daily']],
      ['2026-03-02T12:00:00Z', ['weekly']],
      ['2026-02-20T12:00:00Z', ['monthly']],
      ['2026-01-20T12:00:00Z', ['monthly']],
      ['2025-07-01T12:00:00Z', ['yearly']],
    ]);
  });

  describe('buckets in the schedule\'s time zone', () => {
    test('a slot at 23:30 UTC belongs to the next day in Europe/Berlin', () => {
      const slots = ['2026-03-11T08:00:00Z', '2026-03-10T23:30:00Z', '2026-03-10T12:00:00Z'];
      expect(keptSlots(slots, { daily: 2 }, 'UTC')).toEqual(['2026-03-11T08:00:00Z', '2026-03-10T23:30:00Z']);
      expect(keptSlots(slots, { daily: 2 }, 'Europe/Berlin')).toEqual(['2026-03-11T08:00:00Z', '2026-03-10T12:00:00Z']);
    });

    test('a slot at 23:30 UTC on Jan 31 belongs to February in Europe/Berlin', () => {
      const slots = ['2026-02-01T10:00:00Z', '2026-01-31T23:30:00Z', '2026-01-15T10:00:00Z'];
      expect(keptSlots(slots, { monthly: 2 }, 'UTC')).toEqual(['2026-02-01T10:00:00Z', '2026-01-31T23:30:00Z']);
      expect(keptSlots(slots, { monthly: 2 }, 'Europe/Berlin')).toEqual(['2026-02-01T10:00:00Z', '2026-01-15T10:00:00Z']);
    });

    test('a slot at 23:30 UTC on Dec 31 belongs to the next year in Europe/Berlin', () => {
      const slots = ['2027-06-01T10:00:00Z', '2026-12-31T23:30:00Z', '2026-06-01T10:00:00Z'];
      expect(keptSlots(slots, { yearly: 2 }, 'UTC')).toEqual(['2027-06-01T10:00:00Z', '2026-12-31T23:30:00Z']);
      expect(keptSlots(slots, { yearly: 2 }, 'Europe/Berlin')).toEqual(['2027-06-01T10:00:00Z', '2026-06-01T10:00:00Z']);
    });

    test('the two slots at local 01:30 on the fall-back day (Europe/London, 2026-10-25) are one day and one hour', () => {
      // 00:30 UTC is 01:30 BST; 01:30 UTC is 01:30 GMT, after the clocks went back.
      const slots = ['2026-10-25T01:30:00Z', '2026-10-25T00:30:00Z', '2026-10-24T12:00:00Z'];
      expect(keptSlots(slots, { daily: 2 }, 'Europe/London')).toEqual(['2026-10-25T01:30:00Z', '2026-10-24T12:00:00Z']);
      expect(keptSlots(slots, { hourly: 2 }, 'Europe/London')).toEqual(['2026-10-25T01:30:00Z', '2026-10-24T12:00:00Z']);
      expect(keptSlots(slots, { hourly: 2 }, 'UTC')).toEqual(['2026-10-25T01:30:00Z', '2026-10-25T00:30:00Z']);
    });

    test('after the spring-forward day (Europe/London, 2026-03-29) 23:30 UTC is already the next local day', () => {
      const slots = ['2026-03-29T23:30:00Z', '2026-03-29T22:30:00Z', '2026-03-29T00:30:00Z', '2026-03-28T23:30:00Z'];
      expect(keptSlots(slots, { daily: 3 }, 'Europe/London')).toEqual(['2026-03-29T23:30:00Z', '2026-03-29T22:30:00Z', '2026-03-28T23:30:00Z']);
      expect(keptSlots(slots, { daily: 3 }, 'UTC')).toEqual(['2026-03-29T23:30:00Z', '2026-03-28T23:30:00Z']);
    });

    test('counts a local hour once when a DST change splits it in two (Pacific/Chatham, 2026-04-05)', () => {
      // Chatham goes back from 03:45 +13:45 to 02:45 +12:45: 13:30 UTC is 03:15 local, 14:00 UTC is 02:45 and
      // 14:30 UTC is 03:15 again. Local hour 3 is one bucket, so hourly: 3 reaches back to hour 1.
      const slots = ['2026-04-04T14:30:00Z', '2026-04-04T14:00:00Z', '2026-04-04T13:30:00Z', '2026-04-04T12:00:00Z'];
      expect(keptSlots(slots, { hourly: 3 }, 'Pacific/Chatham')).toEqual(['2026-04-04T14:30:00Z', '2026-04-04T14:00:00Z', '2026-04-04T12:00:00Z']);
    });
  });
});

describe('bucketKey', () => {
  test.each([
    ['weekly', '2025-12-29T12:00:00Z', 'UTC', '2026-W1'],
    ['weekly', '2026-01-01T12:00:00Z', 'UTC', '2026-W1'],
    ['weekly', '2026-01-04T23:59:59Z', 'UTC', '2026-W1'],
    ['weekly', '2026-01-05T00:00:00Z', 'UTC', '2026-W2'],
    ['weekly', '2026-12-28T00:00:00Z', 'UTC', '2026-W53'],
    ['weekly', '2026-12-31T12:00:00Z', 'UTC', '2026-W53'],
    ['weekly', '2027-01-03T12:00:00Z', 'UTC', '2026-W53'],
    ['weekly', '2027-01-04T12:00:00Z', 'UTC', '2027-W1'],
    ['weekly', '2027-01-03T23:30:00Z', 'Europe/Berlin', '2027-W1'],
    ['weekly', '2027-12-31T12:00:00Z', 'UTC', '2027-W52'],
    ['daily', '2026-10-25T00:30:00Z', 'Europe/London', '2026-10-25'],
    ['daily', '2026-10-25T01:30:00Z', 'Europe/London', '2026-10-25'],
    ['daily', '2026-03-29T22:59:00Z', 'Europe/London', '2026-3-29'],
    ['daily', '2026-03-29T23:00:00Z', 'Europe/London', '2026-3-30'],
    ['daily', '2026-03-10T23:30:00Z', 'Europe/Berlin', '2026-3-11'],
    ['daily', '2026-03-11T04:30:00Z', 'America/New_York', '2026-3-11'],
    ['daily', '2026-03-11T03:30:00Z', 'America/New_York', '2026-3-10'],
    ['hourly', '2026-03-29T00:30:00Z', 'Europe/London', '2026-3-29T0'],
    ['hourly', '2026-03-29T01:30:00Z', 'Europe/London', '2026-3-29T2'],
    ['hourly', '2026-01-01T23:30:00Z', 'Europe/Berlin', '2026-1-2T0'],
    ['hourly', '2026-01-01T12:00:00Z', 'Asia/Kolkata', '2026-1-1T17'],
    ['monthly', '2026-01-31T23:30:00Z', 'Europe/Berlin', '2026-2'],
    ['monthly', '2026-01-31T23:30:00Z', 'UTC', '2026-1'],
    ['yearly', '2026-12-31T23:30:00Z', 'Europe/Berlin', '2027'],
  ] as const)('%s bucket of %s in %s is %s', (bucket, iso, timeZone, expected) => {
    expect(bucketKey(bucket, Date.parse(iso), timeZone)).toBe(expected);
  });
});

function snapshot(snapshotId: string, state: string, tags: Record<string, string>): SnapshotInfo {
  return { snapshotId, state, tags };
}

const OWNER = ownerOf({ policyId: 'pol', instanceTags: { backup: 'nightly' } }, new Date('2026-02-01T00:00:00Z'));

/** A snapshot as a run of the policy 'pol' makes it: tags, the set's marker, a start just after the slot. */
function ours(snapshotId: string, instanceId: string, slot: string, state = 'completed', extra: Record<string, string> = {}): SnapshotInfo {
  return {
    ...snapshot(snapshotId, state, { [POLICY_ID_TAG]: 'pol', [INSTANCE_ID_TAG]: instanceId, [SLOT_TAG]: slot, ...extra }),
    description: setDescription('pol', { backup: 'nightly' }, instanceId, slot),
    startTime: Number.isNaN(Date.parse(slot)) ? undefined : new Date(Date.parse(slot) + 60_000).toISOString(),
  };
}

describe('groupSets', () => {
  test('groups snapshots by instance and slot, instances in order and newest slot first', () => {
    const { sets, unrecognized } = groupSets([
      ours('snap-3', 'i-b', '2026-01-01T03:00:00Z'),
      ours('snap-2', 'i-a', '2026-01-01T03:00:00Z'),
      ours('snap-1', 'i-a', '2026-01-01T03:00:00Z'),
      ours('snap-4', 'i-a', '2026-01-02T03:00:00Z'),
    ], OWNER);
    expect(unrecognized).toEqual([]);
    expect(sets).toEqual([
      {
        instanceId: 'i-a',
        slot: '2026-01-02T03:00:00Z',
        slotTime: Date.parse('2026-01-02T03:00:00Z'),
        state: 'completed',
        held: false,
        snapshotIds: ['snap-4'],
      },
      {
        instanceId: 'i-a',
        slot: '2026-01-01T03:00:00Z',
        slotTime: Date.parse('2026-01-01T03:00:00Z'),
        state: 'completed',
        held: false,
        snapshotIds: ['snap-1', 'snap-2'],
      },
      {
        instanceId: 'i-b',
        slot: '2026-01-01T03:00:00Z',
        slotTime: Date.parse('2026-01-01T03:00:00Z'),
        state: 'completed',
        held: false,
        snapshotIds: ['snap-3'],
      },
    ]);
  });

  test.each([
    [['completed', 'completed', 'completed'], 'completed'],
    [['completed', 'pending', 'completed'], 'pending'],
    [['completed', 'recoverable'], 'pending'],
    [['pending', 'error'], 'error'],
    [['completed', 'error', 'completed'], 'error'],
  ])('a set of snapshots in states %j is %s', (states, expected) => {
    const { sets } = groupSets(states.map((state, i) => ours(`snap-${i}`, 'i-a', '2026-01-01T03:00:00Z', state)), OWNER);
    expect(sets.map((s) => s.state)).toEqual([expected]);
  });

  test('ignores snapshots of other policies and snapshots without the policy tag, even for the same instance and slot', () => {
    const { sets, unrecognized } = groupSets([
      ours('snap-ours', 'i-a', '2026-01-01T03:00:00Z'),
      snapshot('snap-other', 'error', { [POLICY_ID_TAG]: 'pol-other', [INSTANCE_ID_TAG]: 'i-a', [SLOT_TAG]: '2026-01-01T03:00:00Z' }),
      snapshot('snap-prefix', 'completed', { [POLICY_ID_TAG]: 'pol-2', [INSTANCE_ID_TAG]: 'i-a', [SLOT_TAG]: '2026-01-01T03:00:00Z' }),
      snapshot('snap-untagged', 'completed', { [INSTANCE_ID_TAG]: 'i-a', [SLOT_TAG]: '2026-01-01T03:00:00Z' }),
    ], OWNER);
    expect(sets.map((s) => [s.state, s.snapshotIds])).toEqual([['completed', ['snap-ours']]]);
    expect(unrecognized).toEqual([]);
  });

  test('reports snapshots of this policy without a readable instance or slot as unrecognized', () => {
    const noInstance = snapshot('snap-1', 'completed', { [POLICY_ID_TAG]: 'pol', [SLOT_TAG]: '2026-01-01T03:00:00Z' });
    const noSlot = snapshot('snap-2', 'completed', { [POLICY_ID_TAG]: 'pol', [INSTANCE_ID_TAG]: 'i-a' });
    const badSlot = ours('snap-3', 'i-a', 'last tuesday');
    const emptyInstance = ours('snap-4', '', '2026-01-01T03:00:00Z');
    const { sets, unrecognized } = groupSets([noInstance, ours('snap-ok', 'i-a', '2026-01-01T03:00:00Z'), noSlot, badSlot, emptyInstance], OWNER);
    expect(unrecognized).toEqual([
      { snapshot: noInstance, reason: 'no-instance-tag' },
      { snapshot: noSlot, reason: 'unreadable-slot' },
      { snapshot: badSlot, reason: 'unreadable-slot' },
      { snapshot: emptyInstance, reason: 'no-instance-tag' },
    ]);
    expect(sets.map((s) => s.snapshotIds)).toEqual([['snap-ok']]);
  });

  describe('duplicates', () => {
    const SLOT = '2026-01-02T03:00:00Z';
    const of = (id: string, volumeId: string, startTime: string, state = 'completed', extra: Record<string, string> = {}) =>
      ({ ...ours(id, 'i-a', SLOT, state, extra), volumeId, startTime });

    test('keeps the oldest completed snapshot of each volume and sets the others of that volume apart', () => {
      const { sets } = groupSets([
        of('snap-root-2', 'vol-root', '2026-01-02T03:00:09.000Z'),
        of('snap-root-1', 'vol-root', '2026-01-02T03:00:05.000Z'),
        of('snap-data-1', 'vol-data', '2026-01-02T03:00:05.000Z'),
        of('snap-data-2', 'vol-data', '2026-01-02T03:00:09.000Z', 'error'),
        of('snap-data-3', 'vol-data', '2026-01-02T03:00:10.000Z', 'pending'),
      ], OWNER);
      expect(sets).toEqual([expect.objectContaining({
        state: 'completed',
        snapshotIds: ['snap-data-1', 'snap-data-3', 'snap-root-1'],
        duplicateSnapshotIds: ['snap-data-2', 'snap-root-2'],
      })]);
    });

    test('has no duplicates when each volume has one snapshot, and leaves the field out', () => {
      const { sets } = groupSets([of('snap-1', 'vol-root', '2026-01-02T03:00:05.000Z'), of('snap-2', 'vol-data', '2026-01-02T03:00:05.000Z')], OWNER);
      expect(sets[0]).not.toHaveProperty('duplicateSnapshotIds');
      expect(sets[0].snapshotIds).toEqual(['snap-1', 'snap-2']);
    });

    test('sets nothing apart for a volume without a completed snapshot, whose snapshots decide the state', () => {
      const { sets } = groupSets([
        of('snap-1', 'vol-root', '2026-01-02T03:00:05.000Z', 'pending'),
        of('snap-2', 'vol-root', '2026-01-02T03:00:09.000Z', 'error'),
      ], OWNER);
      expect(sets[0]).toMatchObject({ state: 'error', snapshotIds: ['snap-1', 'snap-2'] });
      expect(sets[0]).not.toHaveProperty('duplicateSnapshotIds');
    });

    test('leaves a held set whole, duplicates included', () => {
      const { sets } = groupSets([
        of('snap-1', 'vol-root', '2026-01-02T03:00:05.000Z'),
        of('snap-2', 'vol-root', '2026-01-02T03:00:09.000Z', 'completed', { 'legal-hold': 'case-1' }),
      ], OWNER, 'legal-hold');
      expect(sets[0]).toMatchObject({ held: true, state: 'completed', snapshotIds: ['snap-1', 'snap-2'] });
      expect(sets[0]).not.toHaveProperty('duplicateSnapshotIds');
    });
  });

  // Findings 1 and 2 of the trust review: tags forged onto a foreign snapshot, and a slot from the future.
  test('sets aside snapshots that carry the policy\'s tags but are not its sets, with the reason', () => {
    const foreign = { ...ours('snap-foreign', 'i-dead', '2020-01-01T00:00:00Z'), description: 'my own AMI backup' };
    const future = ours('snap-future', 'i-a', '2999-01-01T00:00:00Z');
    const retagged = { ...ours('snap-retagged', 'i-a', '2026-01-03T03:00:00Z'), tags: { ...ours('x', 'i-a', '2026-01-03T03:00:00Z').tags, [SLOT_TAG]: '2026-01-05T03:00:00Z' } };
    const real = ours('snap-real', 'i-a', '2026-01-02T03:00:00Z');
    const { sets, unrecognized } = groupSets([foreign, future, retagged, real], OWNER);
    expect(unrecognized.map((u) => [u.snapshot.snapshotId, u.reason])).toEqual([
      ['snap-foreign', 'no-marker'], ['snap-future', 'future-slot'], ['snap-retagged', 'marker-mismatch'],
    ]);
    expect(sets.map((s) => s.snapshotIds)).toEqual([['snap-real']]);
  });

  test('holds a set when any of its snapshots carries the hold tag, whatever its value', () => {
    const { sets } = groupSets([
      ours('snap-1', 'i-a', '2026-01-02T03:00:00Z'),
      ours('snap-2', 'i-a', '2026-01-02T03:00:00Z', 'completed', { 'legal-hold': '' }),
      ours('snap-3', 'i-a', '2026-01-01T03:00:00Z', 'completed', { 'legal-hold-2': 'yes' }),
    ], OWNER, 'legal-hold');
    expect(sets.map((s) => [s.slot, s.held])).toEqual([['2026-01-02T03:00:00Z', true], ['2026-01-01T03:00:00Z', false]]);
  });

  test('holds nothing without a hold tag key', () => {
    const { sets } = groupSets([ours('snap-1', 'i-a', '2026-01-02T03:00:00Z', 'completed', { 'legal-hold': 'yes' })], OWNER);
    expect(sets.map((s) => s.held)).toEqual([false]);
  });

  test('a hold tag named like an Object member holds only the sets that carry it', () => {
    const { sets } = groupSets([
      ours('snap-1', 'i-a', '2026-01-02T03:00:00Z', 'completed', { constructor: 'hold' }),
      ours('snap-2', 'i-a', '2026-01-01T03:00:00Z'),
    ], OWNER, 'constructor');
    expect(sets.map((s) => [s.slot, s.held])).toEqual([['2026-01-02T03:00:00Z', true], ['2026-01-01T03:00:00Z', false]]);
  });
});

const NOW = new Date('2026-06-01T12:00:00Z');

function options(overrides: Partial<CleanupOptions> = {}): CleanupOptions {
  return { policyId: 'pol', rules: { last: 1 }, timeZone: 'UTC', now: NOW, errorGraceSeconds: DAY, ...overrides };
}

/** The decisions as [instance, slot, action, reasons], in the order decideSets returns them. */
function decide(sets: SnapshotSet[], overrides: Partial<CleanupOptions> = {}): Array<[string, string, string, string[]]> {
  return decideSets(sets, options(overrides)).map((d) => [d.set.instanceId, d.set.slot, d.action, d.reasons]);
}

function hoursBeforeNow(hours: number): string {
  return new Date(NOW.getTime() - hours * HOUR * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

describe('decideSets', () => {
  test('keeps a pending set and does not count it, so it pushes no completed set out', () => {
    expect(decide([set(hoursBeforeNow(1), 'pending'), set(hoursBeforeNow(25)), set(hoursBeforeNow(49))], { rules: { last: 1 } })).toEqual([
      ['i-a', hoursBeforeNow(1), 'keep', ['pending']],
      ['i-a', hoursBeforeNow(25), 'keep', ['newest', 'last']],
      ['i-a', hoursBeforeNow(49), 'delete', ['expired']],
    ]);
  });

  test('keeps a pending set however old it is and whatever the rules say', () => {
    expect(decide([set(hoursBeforeNow(1)), set(hoursBeforeNow(24 * 400), 'pending')], { rules: { last: 1 } })).toEqual([
      ['i-a', hoursBeforeNow(1), 'keep', ['newest', 'last']],
      ['i-a', hoursBeforeNow(24 * 400), 'keep', ['pending']],
    ]);
  });

  test('keeps a set in error during the grace period and deletes it once the grace period is over', () => {
    expect(decide([
      set(hoursBeforeNow(1)),
      set(hoursBeforeNow(23), 'error'),
      set(hoursBeforeNow(24), 'error'),
      set(hoursBeforeNow(25), 'error'),
    ], { rules: { last: 5 }, errorGraceSeconds: DAY })).toEqual([
      ['i-a', hoursBeforeNow(1), 'keep', ['newest', 'last']],
      ['i-a', hoursBeforeNow(23), 'keep', ['error-grace']],
      ['i-a', hoursBeforeNow(24), 'delete', ['error-expired']],
      ['i-a', hoursBeforeNow(25), 'delete', ['error-expired']],
    ]);
  });

  test('does not count sets in error, so a failed run pushes no completed set out', () => {
    expect(decide([set(hoursBeforeNow(1), 'error'), set(hoursBeforeNow(25)), set(hoursBeforeNow(49))], { rules: { last: 2 } })).toEqual([
      ['i-a', hoursBeforeNow(1), 'keep', ['error-grace']],
      ['i-a', hoursBeforeNow(25), 'keep', ['newest', 'last']],
      ['i-a', hoursBeforeNow(49), 'keep', ['last']],
    ]);
  });

  test('keeps the newest completed set even when no rule keeps it', () => {
    expect(decide([set(hoursBeforeNow(2)), set(hoursBeforeNow(26))], { rules: {} })).toEqual([
      ['i-a', hoursBeforeNow(2), 'keep', ['newest']],
      ['i-a', hoursBeforeNow(26), 'delete', ['expired']],
    ]);
  });

  test('keeps held sets whatever their state and age', () => {
    expect(decide([
      set(hoursBeforeNow(1)),
      set(hoursBeforeNow(24 * 300), 'completed', { held: true }),
      set(hoursBeforeNow(24 * 301), 'error', { held: true }),
      set(hoursBeforeNow(24 * 302)),
    ], { rules: { last: 1 } })).toEqual([
      ['i-a', hoursBeforeNow(1), 'keep', ['newest', 'last']],
      ['i-a', hoursBeforeNow(24 * 300), 'keep', ['held']],
      ['i-a', hoursBeforeNow(24 * 301), 'keep', ['held']],
      ['i-a', hoursBeforeNow(24 * 302), 'delete', ['expired']],
    ]);
  });

  test('measures within from the newest set, not from now, so sets survive when backups stop arriving', () => {
    const newest = '2025-01-10T03:00:00Z';
    expect(decide([set(newest), set('2025-01-09T15:00:00Z'), set('2025-01-08T03:00:00Z')], { rules: { withinSeconds: DAY } })).toEqual([
      ['i-a', newest, 'keep', ['newest', 'within']],
      ['i-a', '2025-01-09T15:00:00Z', 'keep', ['within']],
      ['i-a', '2025-01-08T03:00:00Z', 'delete', ['expired']],
    ]);
  });

  test('decides each instance on its own sets', () => {
    expect(decide([
      set(hoursBeforeNow(1), 'completed', { instanceId: 'i-a' }),
      set(hoursBeforeNow(2), 'completed', { instanceId: 'i-b' }),
      set(hoursBeforeNow(25), 'completed', { instanceId: 'i-a' }),
      set(hoursBeforeNow(26), 'completed', { instanceId: 'i-b' }),
    ], { rules: { last: 1 } })).toEqual([
      ['i-a', hoursBeforeNow(1), 'keep', ['newest', 'last']],
      ['i-a', hoursBeforeNow(25), 'delete', ['expired']],
      ['i-b', hoursBeforeNow(2), 'keep', ['newest', 'last']],
      ['i-b', hoursBeforeNow(26), 'delete', ['expired']],
    ]);
  });

  test('decides no set when there is none', () => {
    expect(decideSets([], options())).toEqual([]);
  });

  describe('orphans', () => {
    const ORPHAN_RETENTION = 30 * DAY;
    const live = new Set(['i-live']);
    const orphanSets = (newestAgeHours: number) => [
      set(hoursBeforeNow(newestAgeHours - 1), 'pending', { instanceId: 'i-gone' }),
      set(hoursBeforeNow(newestAgeHours), 'completed', { instanceId: 'i-gone' }),
      set(hoursBeforeNow(newestAgeHours + 24), 'completed', { instanceId: 'i-gone' }),
      set(hoursBeforeNow(newestAgeHours + 48), 'completed', { instanceId: 'i-gone', held: true }),
      set(hoursBeforeNow(newestAgeHours + 72), 'error', { instanceId: 'i-gone' }),
      set(hoursBeforeNow(newestAgeHours + 96), 'completed', { instanceId: 'i-gone' }),
    ];

    test('follow the rules while their newest set is younger than the orphan retention', () => {
      const age = 29 * 24;
      expect(decide(orphanSets(age), { rules: { last: 2 }, liveInstanceIds: live, orphanRetentionSeconds: ORPHAN_RETENTION })).toEqual([
        ['i-gone', hoursBeforeNow(age - 1), 'keep', ['pending']],
        ['i-gone', hoursBeforeNow(age), 'keep', ['newest', 'last']],
        ['i-gone', hoursBeforeNow(age + 24), 'keep', ['last']],
        ['i-gone', hoursBeforeNow(age + 48), 'keep', ['held']],
        ['i-gone', hoursBeforeNow(age + 72), 'delete', ['error-expired']],
        ['i-gone', hoursBeforeNow(age + 96), 'delete', ['expired']],
      ]);
    });

    test('are not expired when their newest set is exactly the orphan retention old', () => {
      const age = 30 * 24;
      const decisions = decide(orphanSets(age), { rules: { last: 2 }, liveInstanceIds: live, orphanRetentionSeconds: ORPHAN_RETENTION });
      expect(decisions[1]).toEqual(['i-gone', hoursBeforeNow(age), 'keep', ['newest', 'last']]);
    });

    test('expire, newest set included, once their newest set is older than the orphan retention, except held and pending sets', () => {
      const age = 30 * 24 + 1;
      expect(decide(orphanSets(age), { rules: { last: 2 }, liveInstanceIds: live, orphanRetentionSeconds: ORPHAN_RETENTION })).toEqual([
        ['i-gone', hoursBeforeNow(age - 1), 'keep', ['pending']],
        ['i-gone', hoursBeforeNow(age), 'delete', ['orphan-expired']],
        ['i-gone', hoursBeforeNow(age + 24), 'delete', ['orphan-expired']],
        ['i-gone', hoursBeforeNow(age + 48), 'keep', ['held']],
        ['i-gone', hoursBeforeNow(age + 72), 'delete', ['error-expired']],
        ['i-gone', hoursBeforeNow(age + 96), 'delete', ['orphan-expired']],
      ]);
    });

    test('never expire a live instance\'s sets, however old', () => {
      const sets = [set(hoursBeforeNow(24 * 365), 'completed', { instanceId: 'i-live' }), set(hoursBeforeNow(24 * 366), 'completed', { instanceId: 'i-live' })];
      expect(decide(sets, { rules: { last: 1 }, liveInstanceIds: live, orphanRetentionSeconds: ORPHAN_RETENTION })).toEqual([
        ['i-live', hoursBeforeNow(24 * 365), 'keep', ['newest', 'last']],
        ['i-live', hoursBeforeNow(24 * 366), 'delete', ['expired']],
      ]);
    });

    test('never expire without an orphan retention', () => {
      const age = 24 * 365;
      const decisions = decide(orphanSets(age), { rules: { last: 2 }, liveInstanceIds: live });
      expect(decisions[1]).toEqual(['i-gone', hoursBeforeNow(age), 'keep', ['newest', 'last']]);
    });

    test('are not told apart without the list of live instances', () => {
      const age = 24 * 365;
      const decisions = decide(orphanSets(age), { rules: { last: 2 }, orphanRetentionSeconds: ORPHAN_RETENTION });
      expect(decisions[1]).toEqual(['i-gone', hoursBeforeNow(age), 'keep', ['newest', 'last']]);
    });
  });
});
