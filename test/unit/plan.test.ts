// Unit tests of the snapshot planner (lambda/plan.ts) on plain data: placement, instance selection, data
// volume exclusion, the request's tags and flags, the server-side filters, and the run's slot.
import { InstanceInfo, INSTANCE_ID_TAG, POLICY_ID_TAG, SLOT_TAG, VolumeInfo } from '../../lambda/logic/model';
import {
  instanceFilters, MAX_EXCLUDED_VOLUMES, planSnapshots, PlanInput, PlanOptions, SNAPSHOT_STATES, slotOf,
} from '../../lambda/logic/plan';

const SLOT = '2026-03-29T01:30:00Z';
const OUTPOST_ARN = 'arn:aws:outposts:us-west-2:123456789012:outpost/op-0123456789abcdef0';

const OPTIONS: PlanOptions = {
  policyId: 'stack/policy',
  instanceTags: { backup: 'nightly' },
  excludeBootVolume: false,
  excludeDataVolumeTags: {},
  copyVolumeTags: false,
  snapshotTags: {},
  description: 'nightly crash-consistent set',
  localZoneDestination: 'PARENT_REGION',
  outpostDestination: 'PARENT_REGION',
  dryRun: false,
};

const ZONE_TYPES: ReadonlyMap<string, string> = new Map([
  ['us-west-2a', 'availability-zone'],
  ['us-west-2-lax-1a', 'local-zone'],
  ['us-west-2-wl1-sfo-wlz-1', 'wavelength-zone'],
]);

/** A running instance in a Region AZ with a root volume and one data volume, carrying the policy's tag. */
function instance(instanceId: string, overrides: Partial<InstanceInfo> = {}): InstanceInfo {
  return {
    instanceId,
    state: 'running',
    availabilityZone: 'us-west-2a',
    rootDeviceName: '/dev/xvda',
    volumes: [
      { deviceName: '/dev/xvda', volumeId: `vol-${instanceId}-root` },
      { deviceName: '/dev/xvdb', volumeId: `vol-${instanceId}-data` },
    ],
    tags: { backup: 'nightly' },
    ...overrides,
  };
}

function volume(volumeId: string, attachedTo: string, tags: Record<string, string>): VolumeInfo {
  return { volumeId, attachedInstanceIds: [attachedTo], tags };
}

function plan(
  instances: InstanceInfo[], options: Partial<PlanOptions> = {}, taggedVolumes: VolumeInfo[] = [],
): ReturnType<typeof planSnapshots> {
  const input: PlanInput = { slot: SLOT, instances, zoneTypes: ZONE_TYPES, taggedVolumes, options: { ...OPTIONS, ...options } };
  return planSnapshots(input);
}

/** The only request of a plan that must have exactly one. */
function onlyRequest(result: ReturnType<typeof planSnapshots>) {
  expect(result.errors).toEqual([]);
  expect(result.requests).toHaveLength(1);
  return result.requests[0];
}

describe('placement', () => {
  test('an instance in a Region AZ gets neither Location nor OutpostArn, whatever the destinations', () => {
    for (const destination of ['PARENT_REGION', 'LOCAL'] as const) {
      const request = onlyRequest(plan([instance('i-a')], { localZoneDestination: destination, outpostDestination: destination }));
      expect(request.placement).toBe('region');
      expect(request.zone).toBe('us-west-2a');
      expect(request.params).not.toHaveProperty('Location');
      expect(request.params).not.toHaveProperty('OutpostArn');
    }
  });

  test('an instance in a Local Zone stores locally with LOCAL', () => {
    const request = onlyRequest(plan([instance('i-a', { availabilityZone: 'us-west-2-lax-1a' })], { localZoneDestination: 'LOCAL' }));
    expect(request.placement).toBe('local-zone');
    expect(request.zone).toBe('us-west-2-lax-1a');
    expect(request.params.Location).toBe('local');
    expect(request.params).not.toHaveProperty('OutpostArn');
  });

  test('an instance in a Local Zone stores in the parent Region with PARENT_REGION', () => {
    const request = onlyRequest(plan([instance('i-a', { availabilityZone: 'us-west-2-lax-1a' })], { localZoneDestination: 'PARENT_REGION' }));
    expect(request.placement).toBe('local-zone');
    expect(request.params.Location).toBe('regional');
    expect(request.params).not.toHaveProperty('OutpostArn');
  });

  test('an instance on an Outpost stores on its own Outpost with LOCAL', () => {
    const request = onlyRequest(plan([instance('i-a', { outpostArn: OUTPOST_ARN })], { outpostDestination: 'LOCAL' }));
    expect(request.placement).toBe('outpost');
    expect(request.params.OutpostArn).toBe(OUTPOST_ARN);
    expect(request.params).not.toHaveProperty('Location');
  });

  test('an instance on an Outpost gets neither parameter with PARENT_REGION', () => {
    const request = onlyRequest(plan([instance('i-a', { outpostArn: OUTPOST_ARN })], { outpostDestination: 'PARENT_REGION' }));
    expect(request.placement).toBe('outpost');
    expect(request.params).not.toHaveProperty('Location');
    expect(request.params).not.toHaveProperty('OutpostArn');
  });

  test('the Local Zone destination does not apply to an Outpost instance', () => {
    const request = onlyRequest(plan(
      [instance('i-a', { outpostArn: OUTPOST_ARN })], { localZoneDestination: 'LOCAL', outpostDestination: 'PARENT_REGION' },
    ));
    expect(request.params).not.toHaveProperty('Location');
    expect(request.params).not.toHaveProperty('OutpostArn');
  });

  test('the Outpost destination does not apply to a Local Zone instance', () => {
    const request = onlyRequest(plan(
      [instance('i-a', { availabilityZone: 'us-west-2-lax-1a' })], { localZoneDestination: 'PARENT_REGION', outpostDestination: 'LOCAL' },
    ));
    expect(request.params.Location).toBe('regional');
    expect(request.params).not.toHaveProperty('OutpostArn');
  });

  test.each([
    ['a Wavelength Zone', { availabilityZone: 'us-west-2-wl1-sfo-wlz-1' }, 'wavelength-zone'],
    ['a zone EC2 did not list', { availabilityZone: 'us-west-2-xyz-9z' }, 'unknown'],
    ['no zone at all', { availabilityZone: undefined }, 'unknown'],
  ] as const)('an instance in %s gets neither Location nor OutpostArn (EC2 takes Location only for Local Zones), with either destination', (_name, overrides, placement) => {
    for (const destination of ['PARENT_REGION', 'LOCAL'] as const) {
      const request = onlyRequest(plan([instance('i-a', overrides)], { localZoneDestination: destination, outpostDestination: destination }));
      expect(request.placement).toBe(placement);
      expect(request.params).not.toHaveProperty('Location');
      expect(request.params).not.toHaveProperty('OutpostArn');
    }
  });
});

describe('instance selection', () => {
  test('leaves out instances that lack one of the policy tags even when the server returned them', () => {
    const result = plan([
      instance('i-both', { tags: { backup: 'nightly', env: 'prod', other: 'x' } }),
      instance('i-backup-only', { tags: { backup: 'nightly' } }),
      instance('i-wrong-env', { tags: { backup: 'nightly', env: 'dev' } }),
      instance('i-wrong-case', { tags: { backup: 'Nightly', env: 'prod' } }),
      instance('i-untagged', { tags: {} }),
    ], { instanceTags: { backup: 'nightly', env: 'prod' } });
    expect(result.requests.map((r) => r.instanceId)).toEqual(['i-both']);
    expect(result.errors).toEqual([]);
  });

  test('plans pending, running, stopping and stopped instances and leaves out terminated and shutting-down ones', () => {
    const result = plan([
      instance('i-1', { state: 'pending' }),
      instance('i-2', { state: 'running' }),
      instance('i-3', { state: 'stopping' }),
      instance('i-4', { state: 'stopped' }),
      instance('i-5', { state: 'terminated' }),
      instance('i-6', { state: 'shutting-down' }),
    ]);
    expect(result.requests.map((r) => r.instanceId)).toEqual(['i-1', 'i-2', 'i-3', 'i-4']);
    expect(result.errors).toEqual([]);
  });

  test('plans an instance listed twice once', () => {
    const result = plan([instance('i-a'), instance('i-b'), instance('i-a')]);
    expect(result.requests.map((r) => r.instanceId)).toEqual(['i-a', 'i-b']);
  });

  test('orders requests and errors by instance id', () => {
    const result = plan([
      instance('i-0c'),
      instance('i-0e', { volumes: [] }),
      instance('i-0a'),
      instance('i-0d', { volumes: [] }),
      instance('i-0b'),
    ]);
    expect(result.requests.map((r) => r.instanceId)).toEqual(['i-0a', 'i-0b', 'i-0c']);
    expect(result.errors.map((e) => e.instanceId)).toEqual(['i-0d', 'i-0e']);
  });

  test('returns the slot it was given and an empty plan for no instances', () => {
    expect(plan([])).toEqual({ slot: SLOT, requests: [], errors: [] });
  });
});

describe('instanceFilters', () => {
  test('filters on every policy tag and on the states a snapshot can be taken in', () => {
    expect(instanceFilters({ backup: 'nightly', env: 'prod' })).toEqual([
      { Name: 'tag:backup', Values: ['nightly'] },
      { Name: 'tag:env', Values: ['prod'] },
      { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
    ]);
  });

  test('hands out a copy of the state list, so a caller cannot change what the planner accepts', () => {
    const filters = instanceFilters({ backup: 'nightly' });
    filters[1].Values.push('terminated');
    expect(SNAPSHOT_STATES).toEqual(['pending', 'running', 'stopping', 'stopped']);
  });
});

describe('data volume exclusion', () => {
  const EXCLUDE = { nobackup: 'true', tier: 'scratch' };
  const fourDataVolumes = instance('i-a', {
    volumes: [
      { deviceName: '/dev/xvda', volumeId: 'vol-root' },
      { deviceName: '/dev/xvdb', volumeId: 'vol-b' },
      { deviceName: '/dev/xvdc', volumeId: 'vol-c' },
      { deviceName: '/dev/xvdd', volumeId: 'vol-d' },
      { deviceName: '/dev/xvde', volumeId: 'vol-e' },
    ],
  });

  test('excludes data volumes that carry any one of the exclusion tag pairs', () => {
    const request = onlyRequest(plan([fourDataVolumes], { excludeDataVolumeTags: EXCLUDE }, [
      volume('vol-e', 'i-a', { nobackup: 'true' }),
      volume('vol-b', 'i-a', { tier: 'scratch', nobackup: 'no' }),
      volume('vol-c', 'i-a', { nobackup: 'false', tier: 'hot' }),
    ]));
    expect(request.params.InstanceSpecification).toStrictEqual({
      InstanceId: 'i-a', ExcludeBootVolume: false, ExcludeDataVolumeIds: ['vol-b', 'vol-e'],
    });
    expect(request.excludedVolumeIds).toEqual(['vol-b', 'vol-e']);
    expect(request.volumeIds).toEqual(['vol-root', 'vol-c', 'vol-d']);
  });

  test('omits ExcludeDataVolumeIds when no exclusion tags are configured, even if volumes carry tags', () => {
    const request = onlyRequest(plan([fourDataVolumes], { excludeDataVolumeTags: {} }, [volume('vol-b', 'i-a', { nobackup: 'true' })]));
    expect(request.params.InstanceSpecification).toStrictEqual({ InstanceId: 'i-a', ExcludeBootVolume: false });
    expect(request.excludedVolumeIds).toEqual([]);
    expect(request.volumeIds).toEqual(['vol-root', 'vol-b', 'vol-c', 'vol-d', 'vol-e']);
  });

  test('never puts the root volume in ExcludeDataVolumeIds, even when it carries an exclusion tag', () => {
    const request = onlyRequest(plan([fourDataVolumes], { excludeDataVolumeTags: EXCLUDE }, [
      volume('vol-root', 'i-a', { nobackup: 'true' }),
      volume('vol-c', 'i-a', { nobackup: 'true' }),
    ]));
    expect(request.params.InstanceSpecification).toStrictEqual({
      InstanceId: 'i-a', ExcludeBootVolume: false, ExcludeDataVolumeIds: ['vol-c'],
    });
    expect(request.volumeIds).toEqual(['vol-root', 'vol-b', 'vol-d', 'vol-e']);
  });

  test('leaves the root volume to excludeBootVolume alone', () => {
    const request = onlyRequest(plan([fourDataVolumes], { excludeBootVolume: true, excludeDataVolumeTags: EXCLUDE }, [
      volume('vol-root', 'i-a', { nobackup: 'true' }),
      volume('vol-d', 'i-a', { tier: 'scratch' }),
    ]));
    expect(request.params.InstanceSpecification).toStrictEqual({
      InstanceId: 'i-a', ExcludeBootVolume: true, ExcludeDataVolumeIds: ['vol-d'],
    });
    expect(request.volumeIds).toEqual(['vol-b', 'vol-c', 'vol-e']);
  });

  test('ignores tagged volumes that are attached to another instance or not attached to this one', () => {
    const result = plan([fourDataVolumes, instance('i-b')], { excludeDataVolumeTags: EXCLUDE }, [
      volume('vol-i-b-data', 'i-b', { nobackup: 'true' }),
      // EC2 says it is attached to i-a, but DescribeInstances did not list it on i-a (attached since).
      volume('vol-late', 'i-a', { nobackup: 'true' }),
    ]);
    expect(result.errors).toEqual([]);
    expect(result.requests.map((r) => [r.instanceId, r.params.InstanceSpecification.ExcludeDataVolumeIds])).toEqual([
      ['i-a', undefined],
      ['i-b', ['vol-i-b-data']],
    ]);
    expect(result.requests[0].params.InstanceSpecification).not.toHaveProperty('ExcludeDataVolumeIds');
  });

  test('lists a volume reported twice once', () => {
    const request = onlyRequest(plan([fourDataVolumes], { excludeDataVolumeTags: EXCLUDE }, [
      volume('vol-c', 'i-a', { nobackup: 'true' }),
      volume('vol-c', 'i-a', { nobackup: 'true' }),
    ]));
    expect(request.params.InstanceSpecification.ExcludeDataVolumeIds).toEqual(['vol-c']);
  });

  function withDataVolumes(instanceId: string, count: number): { instance: InstanceInfo; tagged: VolumeInfo[] } {
    const data = Array.from({ length: count }, (_, i) => `vol-${instanceId}-${String(i).padStart(2, '0')}`);
    return {
      instance: instance(instanceId, {
        volumes: [{ deviceName: '/dev/xvda', volumeId: `vol-${instanceId}-root` }, ...data.map((volumeId) => ({ volumeId }))],
      }),
      tagged: data.map((id) => volume(id, instanceId, { nobackup: 'true' })),
    };
  }

  test(`plans an instance with exactly ${MAX_EXCLUDED_VOLUMES} excluded data volumes`, () => {
    expect(MAX_EXCLUDED_VOLUMES).toBe(40);
    const forty = withDataVolumes('i-a', 40);
    const request = onlyRequest(plan([forty.instance], { excludeDataVolumeTags: EXCLUDE }, forty.tagged));
    expect(request.params.InstanceSpecification.ExcludeDataVolumeIds).toHaveLength(40);
    expect(request.volumeIds).toEqual(['vol-i-a-root']);
  });

  test('reports an instance with more than 40 excluded data volumes as a plan error and still plans the others', () => {
    const many = withDataVolumes('i-many', 41);
    const result = plan([many.instance, instance('i-other'), instance('i-another')], { excludeDataVolumeTags: EXCLUDE }, many.tagged);
    expect(result.errors).toEqual([{
      instanceId: 'i-many',
      error: '41 data volumes carry an exclusion tag, more than the 40 that CreateSnapshots accepts',
    }]);
    expect(result.requests.map((r) => r.instanceId)).toEqual(['i-another', 'i-other']);
  });

  test('reports an instance whose every volume is excluded as a plan error', () => {
    const result = plan([instance('i-a'), instance('i-b')], { excludeBootVolume: true, excludeDataVolumeTags: EXCLUDE }, [
      volume('vol-i-a-data', 'i-a', { tier: 'scratch' }),
    ]);
    expect(result.errors).toEqual([{ instanceId: 'i-a', error: 'no volume is left to snapshot after the exclusions (2 attached, all excluded)' }]);
    expect(result.requests.map((r) => r.instanceId)).toEqual(['i-b']);
  });

  test('reports an instance with only a root volume and excludeBootVolume as a plan error', () => {
    const result = plan([instance('i-a', { volumes: [{ deviceName: '/dev/xvda', volumeId: 'vol-root' }] })], { excludeBootVolume: true });
    expect(result.requests).toEqual([]);
    expect(result.errors).toEqual([{ instanceId: 'i-a', error: 'no volume is left to snapshot after the exclusions (1 attached, all excluded)' }]);
  });

  test('reports an instance with no volume at all as such, not as excluded', () => {
    const result = plan([instance('i-a', { volumes: [] })]);
    expect(result.requests).toEqual([]);
    expect(result.errors).toEqual([{ instanceId: 'i-a', error: 'the instance has no EBS volume attached' }]);
  });
});

describe('request', () => {
  test('builds the whole CreateSnapshots request for a Region instance', () => {
    const request = onlyRequest(plan([instance('i-a')], { snapshotTags: { team: 'db', cost: 'backup' } }));
    expect(request).toStrictEqual({
      instanceId: 'i-a',
      placement: 'region',
      zone: 'us-west-2a',
      volumeIds: ['vol-i-a-root', 'vol-i-a-data'],
      excludedVolumeIds: [],
      params: {
        InstanceSpecification: { InstanceId: 'i-a', ExcludeBootVolume: false },
        // The user's text, then the set's marker: the fingerprint of the policy id and its instance tags
        // (pinned: a change here would make every existing set foreign), the instance and the slot.
        Description: `nightly crash-consistent set [snapshot-policy 3c2fd9bddf93 i-a ${SLOT}]`,
        TagSpecifications: [{
          ResourceType: 'snapshot',
          Tags: [
            { Key: 'team', Value: 'db' },
            { Key: 'cost', Value: 'backup' },
            { Key: 'snapshot-policy:id', Value: 'stack/policy' },
            { Key: 'snapshot-policy:instance-id', Value: 'i-a' },
            { Key: 'snapshot-policy:slot', Value: SLOT },
          ],
        }],
      },
    });
  });

  test('the policy tags win over user tags of the same key, and every key appears once', () => {
    const request = onlyRequest(plan([instance('i-a')], {
      snapshotTags: { [POLICY_ID_TAG]: 'spoofed', [INSTANCE_ID_TAG]: 'i-spoofed', [SLOT_TAG]: '1999-01-01T00:00:00Z', team: 'db' },
    }));
    const tags = request.params.TagSpecifications[0].Tags;
    expect(tags).toHaveLength(4);
    expect(new Map(tags.map((t) => [t.Key, t.Value]))).toEqual(new Map([
      [POLICY_ID_TAG, 'stack/policy'],
      [INSTANCE_ID_TAG, 'i-a'],
      [SLOT_TAG, SLOT],
      ['team', 'db'],
    ]));
  });

  test('each instance\'s snapshots carry its own instance id', () => {
    const result = plan([instance('i-a'), instance('i-b')]);
    expect(result.requests.map((r) => r.params.TagSpecifications[0].Tags.find((t) => t.Key === INSTANCE_ID_TAG)?.Value))
      .toEqual(['i-a', 'i-b']);
  });

  test('copies the volume tags only with copyVolumeTags', () => {
    expect(onlyRequest(plan([instance('i-a')], { copyVolumeTags: true })).params.CopyTagsFromSource).toBe('volume');
    expect(onlyRequest(plan([instance('i-a')], { copyVolumeTags: false })).params).not.toHaveProperty('CopyTagsFromSource');
  });

  test('sets DryRun only with dryRun', () => {
    expect(onlyRequest(plan([instance('i-a')], { dryRun: true })).params.DryRun).toBe(true);
    expect(onlyRequest(plan([instance('i-a')], { dryRun: false })).params).not.toHaveProperty('DryRun');
  });

  test('passes excludeBootVolume to the request', () => {
    const request = onlyRequest(plan([instance('i-a')], { excludeBootVolume: true }));
    expect(request.params.InstanceSpecification).toStrictEqual({ InstanceId: 'i-a', ExcludeBootVolume: true });
    expect(request.volumeIds).toEqual(['vol-i-a-data']);
  });

  test('uses the configured description', () => {
    expect(onlyRequest(plan([instance('i-a')], { description: 'weekly set' })).params.Description).toBe(`weekly set [snapshot-policy 3c2fd9bddf93 i-a ${SLOT}]`);
  });

  test('writes only the marker when the description is empty, and another marker for another selector', () => {
    expect(onlyRequest(plan([instance('i-a')], { description: '' })).params.Description).toBe(`[snapshot-policy 3c2fd9bddf93 i-a ${SLOT}]`);
    const other = onlyRequest(plan([instance('i-a', { tags: { backup: 'weekly' } })], { instanceTags: { backup: 'weekly' } }));
    expect(other.params.Description).toMatch(/^nightly crash-consistent set \[snapshot-policy [0-9a-f]{12} i-a \S+\]$/);
    expect(other.params.Description).not.toContain('3c2fd9bddf93');
  });
});

describe('slotOf', () => {
  const NOW = new Date('2026-05-01T10:17:42.512Z');

  test.each([
    ['2026-03-29T01:30:00Z', '2026-03-29T01:30:00Z'],
    ['2026-03-29T01:30:00.789Z', '2026-03-29T01:30:00Z'],
    ['2026-03-29T01:30Z', '2026-03-29T01:30:00Z'],
    ['2026-03-29T02:30:00+01:00', '2026-03-29T01:30:00Z'],
    ['2026-03-28T20:30:00-05:00', '2026-03-29T01:30:00Z'],
    ['2024-02-29T23:59:59Z', '2024-02-29T23:59:59Z'],
  ])('normalizes the scheduled slot %s to %s', (given, expected) => {
    expect(slotOf({ slot: given }, NOW)).toBe(expected);
  });

  test.each([
    ['no event', undefined],
    ['an empty event', {}],
    ['an empty slot', { slot: '' }],
    ['a null event', null],
  ])('uses the current minute for %s', (_name, event) => {
    expect(slotOf(event, NOW)).toBe('2026-05-01T10:17:00Z');
  });

  test.each([
    'yesterday',
    '1',
    '2026-03-29',
    '2026-03-29T01:30:00',
    '2026-02-30T01:30:00Z',
    '2026-13-01T01:30:00Z',
    '2026-03-29T24:00:00Z',
    '2026-03-29 01:30:00Z',
  ])('throws for the slot %j, which is not an ISO-8601 UTC or offset time', (given) => {
    expect(() => slotOf({ slot: given }, NOW)).toThrow(new Error(`event slot must be an ISO-8601 time, got ${JSON.stringify(given)}`));
  });

  test('accepts a slot up to an hour ahead of now, and throws for one further ahead', () => {
    expect(slotOf({ slot: '2026-05-01T11:17:42Z' }, NOW)).toBe('2026-05-01T11:17:42Z');
    expect(() => slotOf({ slot: '2026-05-01T11:17:43Z' }, NOW)).toThrow(new Error(
      'event slot must not be more than an hour ahead of now (2026-05-01T10:17:42Z), got "2026-05-01T11:17:43Z"'));
  });

  test('throws for a slot that is not a string', () => {
    expect(() => slotOf({ slot: 1774747800000 }, NOW)).toThrow(new Error('event slot must be an ISO-8601 time, got 1774747800000'));
  });
});
