// Unit tests of what makes a snapshot one of the policy's own sets (lambda/logic/ownership.ts) and of the
// run's slot check built on it (lambda/logic/idempotency.ts): tags can be forged on any snapshot, the
// Description marker and the StartTime cannot.
import { instancesWithSetForSlot } from '../../lambda/logic/idempotency';
import { INSTANCE_ID_TAG, POLICY_ID_TAG, SLOT_TAG, SnapshotInfo } from '../../lambda/logic/model';
import {
  describeSet, MAX_SLOT_AHEAD_MS, Owner, ownershipOf, parseSlot, selectorFingerprint, setMarker,
} from '../../lambda/logic/ownership';

const POLICY = 'stack/policy';
const TAGS = { backup: 'nightly' };
const FP = selectorFingerprint(POLICY, TAGS);
const SLOT = '2026-01-01T03:00:00Z';
const OWNER: Owner = { policyId: POLICY, fingerprint: FP, now: new Date('2026-01-10T00:00:00Z') };

/** A snapshot as a run of this policy makes it, with `overrides` on top. */
function made(snapshotId: string, instanceId: string, slot = SLOT, overrides: Partial<SnapshotInfo> = {}): SnapshotInfo {
  return {
    snapshotId,
    state: 'completed',
    startTime: new Date(Date.parse(slot) + 60_000).toISOString(),
    description: describeSet('nightly', setMarker(FP, instanceId, slot)),
    volumeId: `vol-${snapshotId}`,
    tags: { [POLICY_ID_TAG]: POLICY, [INSTANCE_ID_TAG]: instanceId, [SLOT_TAG]: slot },
    ...overrides,
  };
}

describe('selectorFingerprint', () => {
  test('is 12 hex digits that depend on the policy id and on every instance tag, not on their order', () => {
    expect(FP).toMatch(/^[0-9a-f]{12}$/);
    expect(selectorFingerprint(POLICY, { b: '2', a: '1' })).toBe(selectorFingerprint(POLICY, { a: '1', b: '2' }));
    const others = [
      selectorFingerprint('stack/other', TAGS),
      selectorFingerprint(POLICY, { backup: 'weekly' }),
      selectorFingerprint(POLICY, { Backup: 'nightly' }),
      selectorFingerprint(POLICY, { ...TAGS, env: 'prod' }),
    ];
    expect(new Set([FP, ...others]).size).toBe(5);
  });
});

describe('parseSlot', () => {
  test.each([
    ['2026-01-01T03:00:00Z', Date.UTC(2026, 0, 1, 3)],
    ['2024-02-29T23:59:59Z', Date.UTC(2024, 1, 29, 23, 59, 59)],
  ])('reads %s', (text, time) => {
    expect(parseSlot(text)).toBe(time);
  });

  test.each(['1', '2020', '2020-02-30T00:00:00Z', '2023-02-29T00:00:00Z', '2026-01-01T24:00:00Z', '2026-01-01T03:00:00.000Z',
    '2026-01-01T03:00:00+01:00', '2026-01-01T03:00Z', '2026-01-01 03:00:00Z', ' 2026-01-01T03:00:00Z', '', undefined])(
    'refuses %j, which is not a slot in the policy\'s format', (text) => {
      expect(parseSlot(text)).toBeUndefined();
    });
});

describe('ownershipOf', () => {
  test('owns a snapshot whose tags, marker and start time agree', () => {
    expect(ownershipOf(made('snap-1', 'i-a'), OWNER)).toEqual({ owned: true, instanceId: 'i-a', slot: SLOT, slotTime: Date.parse(SLOT) });
  });

  test.each<[string, Partial<SnapshotInfo>, string]>([
    // Finding 1: a foreign snapshot tagged with the policy's id, an instance and a slot.
    ['a foreign snapshot given the policy\'s tags', { description: 'Created by someone else' }, 'no-marker'],
    ['a snapshot without a description', { description: undefined }, 'no-marker'],
    // A set of this policy whose slot tag was rewritten: the marker still names the old slot.
    ['a real set re-tagged to another slot', { tags: { [POLICY_ID_TAG]: POLICY, [INSTANCE_ID_TAG]: 'i-a', [SLOT_TAG]: '2025-12-01T03:00:00Z' } },
      'marker-mismatch'],
    ['a real set re-tagged to another instance', { tags: { [POLICY_ID_TAG]: POLICY, [INSTANCE_ID_TAG]: 'i-b', [SLOT_TAG]: SLOT } },
      'marker-mismatch'],
    // Finding 3: a policy with the same id but another selector.
    ['a set made under another selector', { description: describeSet('nightly', setMarker(selectorFingerprint(POLICY, { backup: 'weekly' }), 'i-a', SLOT)) },
      'other-selector'],
    ['a marker that is not at the end', { description: `${setMarker(FP, 'i-a', SLOT)} and more` }, 'no-marker'],
    ['a snapshot without an instance tag', { tags: { [POLICY_ID_TAG]: POLICY, [SLOT_TAG]: SLOT } }, 'no-instance-tag'],
    ['a slot of "1"', { tags: { [POLICY_ID_TAG]: POLICY, [INSTANCE_ID_TAG]: 'i-a', [SLOT_TAG]: '1' } }, 'unreadable-slot'],
    ['a slot of Feb 30', { tags: { [POLICY_ID_TAG]: POLICY, [INSTANCE_ID_TAG]: 'i-a', [SLOT_TAG]: '2020-02-30T00:00:00Z' } }, 'unreadable-slot'],
    ['a snapshot without a start time', { startTime: undefined }, 'no-start-time'],
    ['a snapshot started long before its slot', { startTime: '2025-12-31T01:59:59.000Z' }, 'started-before-slot'],
  ])('does not own %s', (_name, overrides, reason) => {
    expect(ownershipOf(made('snap-1', 'i-a', SLOT, overrides), OWNER)).toEqual({ owned: false, reason });
  });

  test('owns a set started up to an hour before its slot, and any time after it', () => {
    const atLimit = new Date(Date.parse(SLOT) - MAX_SLOT_AHEAD_MS).toISOString();
    expect(ownershipOf(made('snap-1', 'i-a', SLOT, { startTime: atLimit }), OWNER).owned).toBe(true);
    expect(ownershipOf(made('snap-1', 'i-a', SLOT, { startTime: '2026-01-09T00:00:00.000Z' }), OWNER).owned).toBe(true);
  });

  // Finding 2: a slot far in the future would be the instance's newest set and age out every real one.
  test('never takes a slot more than an hour ahead of the clock for a set\'s, even with a matching marker', () => {
    const future = '2999-01-01T00:00:00Z';
    const forged = made('snap-1', 'i-a', future, { startTime: '2999-01-01T00:00:00.000Z' });
    expect(ownershipOf(forged, OWNER)).toEqual({ owned: false, reason: 'future-slot' });
    const justAhead = new Date(OWNER.now.getTime() + MAX_SLOT_AHEAD_MS).toISOString().replace('.000', '');
    expect(ownershipOf(made('snap-2', 'i-a', justAhead), OWNER).owned).toBe(true);
  });
});

describe('instancesWithSetForSlot', () => {
  const request = (instanceId: string, volumeIds: string[]) => ({ instanceId, volumeIds });

  test('finds the instances whose set for the slot covers every planned volume, with its snapshot ids', () => {
    const done = instancesWithSetForSlot([
      made('snap-2', 'i-a', SLOT, { volumeId: 'vol-a2' }),
      made('snap-1', 'i-a', SLOT, { volumeId: 'vol-a1' }),
      made('snap-3', 'i-b', SLOT, { volumeId: 'vol-b1' }),
    ], [request('i-a', ['vol-a1', 'vol-a2']), request('i-b', ['vol-b1']), request('i-c', ['vol-c1'])], SLOT, OWNER);
    expect([...done]).toEqual([['i-a', ['snap-1', 'snap-2']], ['i-b', ['snap-3']]]);
  });

  test.each(['pending', 'completed', 'error', 'recoverable', 'recovering'])('counts a snapshot in state %s as a set', (state) => {
    const done = instancesWithSetForSlot([made('snap-1', 'i-a', SLOT, { state, volumeId: 'vol-1' })], [request('i-a', ['vol-1'])], SLOT, OWNER);
    expect([...done.keys()]).toEqual(['i-a']);
  });

  // Finding 4: a forged snapshot for the next slot suppressed the instance's backup without an alarm.
  test('does not count a snapshot that only carries the policy\'s tags for the slot', () => {
    const forged = made('snap-1', 'i-a', SLOT, { description: 'anything', volumeId: 'vol-1' });
    expect(instancesWithSetForSlot([forged], [request('i-a', ['vol-1'])], SLOT, OWNER).size).toBe(0);
  });

  test('does not count a set that covers only some of the planned volumes', () => {
    const partial = made('snap-1', 'i-a', SLOT, { volumeId: 'vol-1' });
    expect(instancesWithSetForSlot([partial], [request('i-a', ['vol-1', 'vol-2'])], SLOT, OWNER).size).toBe(0);
  });

  test('ignores other slots, other instances and sets of another selector', () => {
    const done = instancesWithSetForSlot([
      made('snap-1', 'i-a', '2026-01-02T03:00:00Z', { volumeId: 'vol-1' }),
      made('snap-2', 'i-other', SLOT, { volumeId: 'vol-1' }),
      made('snap-3', 'i-a', SLOT, { volumeId: 'vol-1', description: setMarker(selectorFingerprint(POLICY, { backup: 'weekly' }), 'i-a', SLOT) }),
    ], [request('i-a', ['vol-1'])], SLOT, OWNER);
    expect(done.size).toBe(0);
  });

  test('finds nothing among no snapshots', () => {
    expect(instancesWithSetForSlot([], [request('i-a', ['vol-1'])], SLOT, OWNER).size).toBe(0);
  });
});
