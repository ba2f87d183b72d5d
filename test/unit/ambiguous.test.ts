// The check before a CreateSnapshots that failed ambiguously is sent again: the pure decisions of
// lambda/logic/ambiguous.ts (filters, timing, verdicts), then executeRequests with a fake EC2 adapter on a
// virtual clock: failures close together share one DescribeSnapshots, a set found counts as created, a set
// not found after the settle time is sent again, and nothing is sent twice for an instance that has its set.
import type { Ec2Adapter } from '../../lambda/adapters/ec2';
import { AmbiguousFailure, CheckTiming, checkVerdicts, MAX_FILTER_VALUES, nextCheckAt, slotCheckFilters } from '../../lambda/logic/ambiguous';
import { CreateSnapshotsParams, INSTANCE_ID_TAG, PlannedSnapshot, POLICY_ID_TAG, SLOT_TAG, SnapshotInfo } from '../../lambda/logic/model';
import { describeSet, ownerOf, selectorFingerprint, setMarker } from '../../lambda/logic/ownership';
import { executeRequests } from '../../lambda/runs/snapshot-run';
import { TokenBucket } from '../../lambda/support/rate-limiter';
import { VirtualClock } from '../support/virtual-clock';

const POLICY = { policyId: 'nightly', instanceTags: { Backup: 'nightly' } };
const SLOT = '2026-03-01T03:00:00Z';
const START = Date.parse('2026-03-01T03:00:05Z');
const OWNER = ownerOf(POLICY, new Date(START));
const TIMING: CheckTiming = { settleMs: 5000, gatherMs: 2000, deadline: START + 600_000 };

/** A snapshot of the policy's set for `instanceId` in `slot`, as a run writes it (tags and Description marker). */
function setSnapshot(instanceId: string, volumeId: string, snapshotId: string, slot = SLOT, marker = true): SnapshotInfo {
  const description = marker ? describeSet('nightly', setMarker(selectorFingerprint(POLICY.policyId, POLICY.instanceTags), instanceId, slot)) : 'nightly';
  return {
    snapshotId,
    state: 'pending',
    startTime: new Date(START).toISOString(),
    description,
    volumeId,
    tags: { [POLICY_ID_TAG]: POLICY.policyId, [INSTANCE_ID_TAG]: instanceId, [SLOT_TAG]: slot },
  };
}

const failure = (instanceId: string, failedAt: number, volumeIds = [`vol-${instanceId}`]): AmbiguousFailure => ({ instanceId, volumeIds, failedAt });

describe('slotCheckFilters', () => {
  test('lists the policy\'s snapshots of the slot for the instances in one call up to 200 instances', () => {
    expect(slotCheckFilters('nightly', SLOT, ['i-b', 'i-a', 'i-b'])).toEqual([[
      { Name: 'tag:snapshot-policy:id', Values: ['nightly'] },
      { Name: 'tag:snapshot-policy:slot', Values: [SLOT] },
      { Name: 'tag:snapshot-policy:instance-id', Values: ['i-a', 'i-b'] },
    ]]);
  });

  test('splits more than 200 instances into calls of at most 200, each with the policy and slot filters', () => {
    const ids = Array.from({ length: 450 }, (_, i) => `i-${String(i).padStart(4, '0')}`);
    const calls = slotCheckFilters('nightly', SLOT, ids);
    expect(calls.map((c) => c[2].Values.length)).toEqual([MAX_FILTER_VALUES, MAX_FILTER_VALUES, 50]);
    expect(calls.flatMap((c) => c[2].Values)).toEqual(ids);
    for (const call of calls) expect(call.slice(0, 2).map((f) => f.Values)).toEqual([['nightly'], [SLOT]]);
  });

  test('makes no call for no instance', () => {
    expect(slotCheckFilters('nightly', SLOT, [])).toEqual([]);
  });
});

describe('nextCheckAt', () => {
  test('waits until the first failure and those gathered with it have settled', () => {
    expect(nextCheckAt([failure('i-b', START + 300), failure('i-a', START)], TIMING)).toBe(START + 7000);
  });

  test('never waits past the deadline', () => {
    expect(nextCheckAt([failure('i-a', START)], { ...TIMING, deadline: START + 1000 })).toBe(START + 1000);
  });

  test('is undefined when nothing waits', () => {
    expect(nextCheckAt([], TIMING)).toBeUndefined();
  });
});

describe('checkVerdicts', () => {
  test('an instance with its whole set listed is found, with the set\'s snapshot ids', () => {
    const verdicts = checkVerdicts(
      [failure('i-a', START, ['vol-1', 'vol-2'])],
      [setSnapshot('i-a', 'vol-2', 'snap-2'), setSnapshot('i-a', 'vol-1', 'snap-1')], SLOT, OWNER, START + 1000, TIMING,
    );
    expect(verdicts.get('i-a')).toEqual({ kind: 'found', snapshotIds: ['snap-1', 'snap-2'] });
  });

  test('an instance not listed is absent only once its failure has settled, unsettled before', () => {
    const failures = [failure('i-old', START), failure('i-new', START + 4000)];
    const verdicts = checkVerdicts(failures, [], SLOT, OWNER, START + 5000, TIMING);
    expect(verdicts.get('i-old')).toEqual({ kind: 'absent' });
    expect(verdicts.get('i-new')).toEqual({ kind: 'unsettled' });
  });

  test('an unsettled instance is unknown at the deadline: it may not be sent again', () => {
    const verdicts = checkVerdicts([failure('i-a', START)], [], SLOT, OWNER, START + 1000, { ...TIMING, deadline: START + 1000 });
    expect(verdicts.get('i-a')).toEqual({ kind: 'unknown' });
  });

  test('a set listed in part is not found yet: the rest may still be settling', () => {
    const partial = [setSnapshot('i-a', 'vol-1', 'snap-1')];
    const failures = [failure('i-a', START, ['vol-1', 'vol-2'])];
    expect(checkVerdicts(failures, partial, SLOT, OWNER, START + 1000, TIMING).get('i-a')).toEqual({ kind: 'unsettled' });
  });

  test.each([
    ['another slot', setSnapshot('i-a', 'vol-i-a', 'snap-1', '2026-02-28T03:00:00Z')],
    ['no Description marker (tags copied or forged)', setSnapshot('i-a', 'vol-i-a', 'snap-1', SLOT, false)],
    ['another instance', setSnapshot('i-b', 'vol-i-a', 'snap-1')],
  ])('a snapshot of %s does not count as the set', (_name, snapshot) => {
    const verdicts = checkVerdicts([failure('i-a', START)], [snapshot], SLOT, OWNER, START + 6000, TIMING);
    expect(verdicts.get('i-a')).toEqual({ kind: 'absent' });
  });
});

/** One planned request per instance, one volume each. */
function requests(ids: readonly string[]): PlannedSnapshot[] {
  return ids.map((instanceId) => ({
    instanceId,
    placement: 'region',
    volumeIds: [`vol-${instanceId}`],
    excludedVolumeIds: [],
    params: {
      InstanceSpecification: { InstanceId: instanceId, ExcludeBootVolume: false },
      Description: describeSet('nightly', setMarker(selectorFingerprint(POLICY.policyId, POLICY.instanceTags), instanceId, SLOT)),
      TagSpecifications: [{ ResourceType: 'snapshot', Tags: [] }],
    },
  }));
}

/**
 * A fake EC2 on the virtual clock: CreateSnapshots takes 100 ms; `lateFault` instances get their set made and
 * then a 500 on their first request, `earlyFault` ones a 500 without a set; listings show what was made.
 */
function fakeEc2(clock: VirtualClock, faults: { late?: string[]; early?: string[] }) {
  const made: SnapshotInfo[] = [];
  const sent: string[] = [];
  const listings: Array<{ at: number; instanceIds: string[] }> = [];
  const faulted = new Set<string>();
  const ec2 = {
    buckets: { mutate: new TokenBucket(100, 5, clock), describe: new TokenBucket(100, 20, clock) },
    async createSnapshots(params: CreateSnapshotsParams): Promise<string[]> {
      const id = params.InstanceSpecification.InstanceId;
      sent.push(id);
      await clock.sleep(100);
      const first = !faulted.has(id);
      faulted.add(id);
      if (first && faults.early?.includes(id)) throw Object.assign(new Error('An internal error has occurred.'), { name: 'InternalError' });
      const snapshotId = `snap-${id}-${sent.filter((s) => s === id).length}`;
      made.push(setSnapshot(id, `vol-${id}`, snapshotId));
      if (first && faults.late?.includes(id)) throw Object.assign(new Error('An internal error has occurred.'), { name: 'InternalError' });
      return [snapshotId];
    },
    async listSnapshotsMatching(filters: Array<{ Name: string; Values: string[] }>): Promise<SnapshotInfo[]> {
      const ids = filters.find((f) => f.Name === `tag:${INSTANCE_ID_TAG}`)!.Values;
      listings.push({ at: clock.now() - START, instanceIds: ids });
      await clock.sleep(50);
      return made.filter((s) => ids.includes(s.tags[INSTANCE_ID_TAG]));
    },
  };
  return { ec2: ec2 as unknown as Ec2Adapter, made, sent, listings };
}

describe('executeRequests with a slot check', () => {
  let quiet: jest.SpyInstance[];
  beforeEach(() => {
    quiet = (['log', 'warn', 'error'] as const).map((level) => jest.spyOn(console, level).mockImplementation(() => undefined));
  });
  afterEach(() => quiet.forEach((spy) => spy.mockRestore()));

  async function execute(ids: string[], faults: { late?: string[]; early?: string[] }, deadlineMs = 600_000) {
    const clock = new VirtualClock(START);
    const fake = fakeEc2(clock, faults);
    const done = executeRequests(fake.ec2, requests(ids), {
      deadline: START + deadlineMs,
      concurrency: 4,
      maxAttempts: 3,
      backoffMs: () => 0,
      slotCheck: { policy: POLICY, slot: SLOT, settleMs: 5000, gatherMs: 2000 },
      clock,
    });
    await clock.run();
    return { outcomes: await done, ...fake };
  }

  test('an instance whose set was made before its 500 counts as created with that set, and gets no second one', async () => {
    const { outcomes, sent, made } = await execute(['i-a', 'i-b'], { late: ['i-a'] });
    expect(outcomes).toEqual([
      { instanceId: 'i-a', status: 'created', snapshotIds: ['snap-i-a-1'], attempts: 1 },
      { instanceId: 'i-b', status: 'created', snapshotIds: ['snap-i-b-1'], attempts: 1 },
    ]);
    expect(sent).toEqual(['i-a', 'i-b']);
    expect(made.map((s) => s.snapshotId)).toEqual(['snap-i-a-1', 'snap-i-b-1']);
  });

  test('an instance whose 500 came before its set was made is sent again after the settle time', async () => {
    const { outcomes, sent, listings } = await execute(['i-a'], { early: ['i-a'] });
    expect(outcomes).toEqual([{ instanceId: 'i-a', status: 'created', snapshotIds: ['snap-i-a-2'], attempts: 2 }]);
    expect(sent).toEqual(['i-a', 'i-a']);
    // Failed at 100 ms; gathered for 2 s and settled for 5 s more before "not listed" meant "not made".
    expect(listings).toEqual([{ at: 7100, instanceIds: ['i-a'] }]);
  });

  test('failures close together share one DescribeSnapshots, found and absent alike', async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `i-${String(i).padStart(2, '0')}`);
    const late = ids.filter((_, i) => i % 3 === 0);
    const early = ids.filter((_, i) => i % 3 === 1);
    const { outcomes, sent, listings, made } = await execute(ids, { late, early });
    expect(listings).toHaveLength(1);
    expect(listings[0].instanceIds).toEqual([...late, ...early].sort());
    expect(outcomes.every((o) => o.status === 'created')).toBe(true);
    // One set per instance: the late ones were not sent again, the early ones were.
    for (const id of ids) expect(made.filter((s) => s.tags[INSTANCE_ID_TAG] === id)).toHaveLength(1);
    expect(sent.length).toBe(ids.length + early.length);
  });

  test('a 500 that comes with no time left for a settled check is reported failed, not sent again', async () => {
    const { outcomes, sent } = await execute(['i-a'], { early: ['i-a'] }, 3000);
    expect(outcomes).toEqual([
      { instanceId: 'i-a', status: 'failed', error: 'InternalError: An internal error has occurred.', attempts: 1 },
    ]);
    expect(sent).toEqual(['i-a']);
  });

  test('without a slot check, an ambiguous failure is sent again unchecked (the duplicate this check prevents)', async () => {
    const clock = new VirtualClock(START);
    const fake = fakeEc2(clock, { late: ['i-a'] });
    const done = executeRequests(fake.ec2, requests(['i-a']), { deadline: START + 60_000, concurrency: 1, maxAttempts: 3, backoffMs: () => 0, clock });
    await clock.run();
    expect((await done)[0].status).toBe('created');
    expect(fake.made).toHaveLength(2);
    expect(fake.listings).toHaveLength(0);
  });
});
