// What leaves the SDK: the serialized CreateSnapshots request for each placement, planned by planSnapshots and
// sent by the real Ec2Adapter to moto (which answers, but models neither Local Zones nor Outposts and ignores
// Location and OutpostArn), captured after signing. Then the error codes moto cannot produce, from
// aws-sdk-client-mock: an in-use snapshot for the clean-up, throttling for the snapshot run.
import {
  AttachVolumeCommand, CreateSnapshotsCommand, CreateVolumeCommand, DeleteSnapshotCommand, DescribeInstancesCommand, DescribeLockedSnapshotsCommand,
  DescribeSnapshotsCommand,
  EC2Client,
  EC2ServiceException,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { defaultBuckets, Ec2Adapter } from '../../lambda/adapters/ec2';
import { Destination, InstanceInfo, PlacementKind } from '../../lambda/logic/model';
import { planSnapshots, PlanOptions } from '../../lambda/logic/plan';
import { cleanup } from '../../lambda/runs/cleanup';
import { executeRequests } from '../../lambda/runs/snapshot-run';
import { readConfig } from '../../lambda/support/config';
import { assertImage, emulatorClient, launch, Launched, tagList } from '../support/emulator-ec2';
import { MotoServer, startMoto } from '../support/moto-server';
import { setDescription } from '../support/set-marker';

const SLOT = '2026-01-01T03:00:00Z';
const OUTPOST_ARN = 'arn:aws:outposts:us-east-1:123456789012:outpost/op-0123456789abcdef0';
/** OutpostArn as EC2's query protocol carries it: ':' and '/' percent-encoded. */
const ENCODED_OUTPOST_ARN = 'arn%3Aaws%3Aoutposts%3Aus-east-1%3A123456789012%3Aoutpost%2Fop-0123456789abcdef0';
const ZONE_TYPES = new Map([
  ['us-east-1a', 'availability-zone'],
  ['us-east-1-bos-1a', 'local-zone'],
  ['us-east-1-wl1-bos-wlz-1', 'wavelength-zone'],
]);
/** Where each fabricated instance runs; the ids are of real moto instances, so moto answers. */
const PLACEMENTS: Record<Exclude<PlacementKind, 'unknown'> | 'unlisted-zone', Pick<InstanceInfo, 'availabilityZone' | 'outpostArn'>> = {
  'region': { availabilityZone: 'us-east-1a' },
  'local-zone': { availabilityZone: 'us-east-1-bos-1a' },
  'outpost': { availabilityZone: 'us-east-1a', outpostArn: OUTPOST_ARN },
  'wavelength-zone': { availabilityZone: 'us-east-1-wl1-bos-wlz-1' },
  // A zone DescribeAvailabilityZones did not list.
  'unlisted-zone': { availabilityZone: 'us-east-1-xyz-1a' },
};
type Where = keyof typeof PLACEMENTS;

let moto: MotoServer;
let ec2: EC2Client;
let adapter: Ec2Adapter;
/** Bodies of the requests as they left the SDK, last one last. */
const bodies: string[] = [];
const instances = {} as Record<Where, Launched>;
/** An instance of its own with two data volumes, so the placement tests' sets stay one snapshot each. */
let withData: Launched;
let dataVolumes: { keep: string; scratch: string };

function planOptions(destination: Destination, overrides: Partial<PlanOptions> = {}): PlanOptions {
  return {
    policyId: 'wire-test',
    instanceTags: { Backup: 'nightly' },
    excludeBootVolume: false,
    excludeDataVolumeTags: {},
    copyVolumeTags: false,
    snapshotTags: {},
    description: '',
    localZoneDestination: destination,
    outpostDestination: destination,
    dryRun: false,
    ...overrides,
  };
}

function instanceIn(where: Where): InstanceInfo {
  return {
    instanceId: instances[where].instanceId,
    state: 'running',
    rootDeviceName: '/dev/sda1',
    volumes: [{ deviceName: '/dev/sda1', volumeId: instances[where].rootVolumeId }],
    tags: { Backup: 'nightly' },
    ...PLACEMENTS[where],
  };
}

/** The `&Name=value` segments of a query body for one parameter name, exactly as encoded. */
function segments(body: string, name: string): string[] {
  return body.match(new RegExp(`&${name}=[^&]*`, 'g')) ?? [];
}

beforeAll(async () => {
  moto = await startMoto();
  ec2 = emulatorClient(moto.endpoint);
  await assertImage(ec2);
  for (const where of Object.keys(PLACEMENTS) as Where[]) instances[where] = await launch(ec2, { Backup: 'nightly' });
  withData = await launch(ec2, { Backup: 'nightly' });
  const volume = async (tags: Record<string, string>, device: string) => {
    const out = await ec2.send(new CreateVolumeCommand({
      AvailabilityZone: 'us-east-1a', Size: 1, TagSpecifications: [{ ResourceType: 'volume', Tags: tagList(tags) }],
    }));
    await ec2.send(new AttachVolumeCommand({ VolumeId: out.VolumeId!, InstanceId: withData.instanceId, Device: device }));
    return out.VolumeId!;
  };
  dataVolumes = { keep: await volume({ NoBackup: 'false' }, '/dev/sdf'), scratch: await volume({ NoBackup: 'true' }, '/dev/sdg') };

  const client = emulatorClient(moto.endpoint);
  // Last in the finalizeRequest step: after the retry and signing middleware, the request as it goes out.
  client.middlewareStack.add(
    (next) => async (args) => {
      const { body } = args.request as { body?: unknown };
      bodies.push(typeof body === 'string' ? body : String(body));
      return next(args);
    },
    { step: 'finalizeRequest', name: 'captureSerializedBody', priority: 'low' },
  );
  adapter = new Ec2Adapter(client, defaultBuckets());
});

afterAll(async () => {
  adapter?.client.destroy();
  ec2?.destroy();
  await moto?.stop();
});

beforeEach(() => {
  bodies.length = 0;
});

describe('placement parameters on the wire', () => {
  // The README's placement table: Location only for Local Zones, OutpostArn only for an Outpost instance whose
  // snapshots stay on the Outpost; neither for a Region, a Wavelength Zone or a zone EC2 did not list.
  test.each<[Where, Destination, string[], string[]]>([
    ['region', 'PARENT_REGION', [], []],
    ['region', 'LOCAL', [], []],
    ['local-zone', 'PARENT_REGION', ['&Location=regional'], []],
    ['local-zone', 'LOCAL', ['&Location=local'], []],
    ['outpost', 'PARENT_REGION', [], []],
    ['outpost', 'LOCAL', [], [`&OutpostArn=${ENCODED_OUTPOST_ARN}`]],
    // EC2 takes Location "only for instances in Local Zones": a Wavelength or unlisted zone's request omits it.
    ['wavelength-zone', 'PARENT_REGION', [], []],
    ['wavelength-zone', 'LOCAL', [], []],
    ['unlisted-zone', 'PARENT_REGION', [], []],
    ['unlisted-zone', 'LOCAL', [], []],
  ])('an instance in %s with destination %s sends Location %j and OutpostArn %j', async (where, destination, location, outpostArn) => {
    const plan = planSnapshots({
      slot: SLOT, instances: [instanceIn(where)], zoneTypes: ZONE_TYPES, taggedVolumes: [], options: planOptions(destination),
    });
    expect(plan.errors).toEqual([]);
    expect(plan.requests).toHaveLength(1);

    const snapshotIds = await adapter.createSnapshots(plan.requests[0].params);

    expect(snapshotIds).toEqual([expect.stringMatching(/^snap-/)]);
    expect(bodies).toHaveLength(1);
    const [body] = bodies;
    expect(new URLSearchParams(body).get('Action')).toBe('CreateSnapshots');
    expect(new URLSearchParams(body).get('InstanceSpecification.InstanceId')).toBe(instances[where].instanceId);
    expect(segments(body, 'Location')).toEqual(location);
    expect(segments(body, 'OutpostArn')).toEqual(outpostArn);
  });
});

describe('other CreateSnapshots parameters on the wire', () => {
  test('sends the instance, the excluded data volume, the tags, CopyTagsFromSource and DryRun under their EC2 query names', async () => {
    const instance: InstanceInfo = {
      ...instanceIn('region'),
      instanceId: withData.instanceId,
      volumes: [
        { deviceName: '/dev/sda1', volumeId: withData.rootVolumeId },
        { deviceName: '/dev/sdf', volumeId: dataVolumes.keep },
        { deviceName: '/dev/sdg', volumeId: dataVolumes.scratch },
      ],
    };
    const plan = planSnapshots({
      slot: SLOT,
      instances: [instance],
      zoneTypes: ZONE_TYPES,
      taggedVolumes: [
        { volumeId: dataVolumes.keep, attachedInstanceIds: [instance.instanceId], tags: { NoBackup: 'false' } },
        { volumeId: dataVolumes.scratch, attachedInstanceIds: [instance.instanceId], tags: { NoBackup: 'true' } },
      ],
      options: planOptions('PARENT_REGION', {
        excludeDataVolumeTags: { NoBackup: 'true' },
        copyVolumeTags: true,
        dryRun: true,
        snapshotTags: { CostCenter: 'ops' },
        description: 'nightly run',
      }),
    });

    // moto honours DryRun: 412 DryRunOperation, as EC2 answers a permitted dry run.
    await expect(adapter.createSnapshots(plan.requests[0].params)).rejects.toMatchObject({
      name: 'DryRunOperation', $metadata: { httpStatusCode: 412 },
    });

    const params = new URLSearchParams(bodies[0]);
    expect(params.get('InstanceSpecification.InstanceId')).toBe(instance.instanceId);
    expect(params.get('InstanceSpecification.ExcludeBootVolume')).toBe('false');
    // The list is ExcludeDataVolumeId.N on the wire (singular), not the SDK's member name.
    expect([...params.keys()].filter((k) => k.includes('ExcludeDataVolume'))).toEqual(['InstanceSpecification.ExcludeDataVolumeId.1']);
    expect(params.get('InstanceSpecification.ExcludeDataVolumeId.1')).toBe(dataVolumes.scratch);
    // The user's text, then the set's marker (its fingerprint pinned for this policy id and instance tags).
    expect(segments(bodies[0], 'Description')).toEqual([
      `&Description=nightly%20run%20%5Bsnapshot-policy%20d417b22d4c13%20${instance.instanceId}%20${encodeURIComponent(SLOT)}%5D`,
    ]);
    expect(params.get('CopyTagsFromSource')).toBe('volume');
    expect(params.get('DryRun')).toBe('true');
    expect(params.get('TagSpecification.1.ResourceType')).toBe('snapshot');
    expect(params.has('TagSpecification.2.ResourceType')).toBe(false);
    const tags: Record<string, string> = {};
    for (let n = 1; params.has(`TagSpecification.1.Tag.${n}.Key`); n++) {
      tags[params.get(`TagSpecification.1.Tag.${n}.Key`)!] = params.get(`TagSpecification.1.Tag.${n}.Value`)!;
    }
    expect(tags).toEqual({
      'CostCenter': 'ops',
      'snapshot-policy:id': 'wire-test',
      'snapshot-policy:instance-id': instance.instanceId,
      'snapshot-policy:slot': SLOT,
    });
    expect(params.has('Location')).toBe(false);
    expect(params.has('OutpostArn')).toBe(false);
  });
});

describe('error codes moto cannot produce (aws-sdk-client-mock)', () => {
  const ec2Error = (name: string, message: string, httpStatusCode: number) => new EC2ServiceException({
    name, message, $fault: httpStatusCode >= 500 ? 'server' : 'client', $metadata: { httpStatusCode },
  });
  let silence: jest.SpyInstance[];

  beforeEach(() => {
    // The handler modules log a JSON line per decision; these tests read their results instead.
    silence = (['log', 'warn', 'error'] as const).map((m) => jest.spyOn(console, m).mockImplementation(() => undefined));
  });

  afterEach(() => {
    for (const spy of silence) spy.mockRestore();
  });

  test.each([
    ['in use by an AMI', 'InvalidSnapshot.InUse', 'The snapshot snap-1a is currently in use by ami-0123456789abcdef0'],
    // A lock put after the clean-up listed the locks.
    ['locked', 'SnapshotLocked', 'The snapshot \'snap-1a\' is locked and can\'t be deleted.'],
  ])('the clean-up skips and reports a snapshot %s, deletes the rest, and does not count its set as deleted', async (_what, code, message) => {
    const client = new EC2Client({ region: 'us-east-1' });
    const mock = mockClient(client);
    const snapshot = (id: string, slot: string) => ({
      SnapshotId: id,
      State: 'completed' as const,
      StartTime: new Date(Date.parse(slot) + 60_000),
      Description: setDescription('p', { Backup: 'nightly' }, 'i-1', slot),
      Tags: tagList({ 'snapshot-policy:id': 'p', 'snapshot-policy:instance-id': 'i-1', 'snapshot-policy:slot': slot }),
    });
    // No instance carries the policy's tags any more: every set is an orphan, still within orphanRetention.
    mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    mock.on(DescribeLockedSnapshotsCommand).resolves({ Snapshots: [] });
    mock.on(DescribeSnapshotsCommand).resolves({
      Snapshots: [
        snapshot('snap-1a', '2026-01-01T03:00:00Z'), snapshot('snap-1b', '2026-01-01T03:00:00Z'),
        snapshot('snap-2a', '2026-01-02T03:00:00Z'), snapshot('snap-2b', '2026-01-02T03:00:00Z'),
        snapshot('snap-3a', '2026-01-03T03:00:00Z'), snapshot('snap-3b', '2026-01-03T03:00:00Z'),
      ],
    });
    mock.on(DeleteSnapshotCommand).resolves({});
    mock.on(DeleteSnapshotCommand, { SnapshotId: 'snap-1a' }).rejects(ec2Error(code, message, 400));
    const config = readConfig({ POLICY_ID: 'p', INSTANCE_TAGS: '{"Backup":"nightly"}', RETENTION: '{"last":1}' });

    const report = await cleanup(new Ec2Adapter(client, defaultBuckets()), config, new Date('2026-01-10T00:00:00Z'), Date.now() + 60_000);

    expect(report).toEqual({
      policyId: 'p',
      dryRun: false,
      setsKept: 1,
      setsLocked: 0,
      setsDeleted: 1,
      snapshotsDeleted: 3,
      snapshotsSkipped: [{ snapshotId: 'snap-1a', error: `${code}: ${message}` }],
      unrecognized: [],
      unrecognizedCount: 0,
      untaggedInstanceIds: [],
      duplicatesDeleted: 0,
      protectedInstances: 0,
      unprotectedInstanceIds: [],
      maxLatestSetAgeSeconds: 0,
    });
    // Each expired snapshot asked for once: an in-use snapshot is not retried within the run.
    expect(mock.commandCalls(DeleteSnapshotCommand).map((c) => c.args[0].input.SnapshotId).sort())
      .toEqual(['snap-1a', 'snap-1b', 'snap-2a', 'snap-2b']);
    mock.restore();
  });

  test('the clean-up\'s summary line lists at most 100 skipped snapshots and counts them all, far under CloudWatch\'s 256 KB', async () => {
    const client = new EC2Client({ region: 'us-east-1' });
    const mock = mockClient(client);
    // 4,000 expired one-snapshot sets, every deletion refused: the summary once grew by each of them.
    const slots = Array.from({ length: 4001 }, (_, i) => new Date(Date.UTC(2015, 0, 1) + i * 3_600_000).toISOString().replace('.000', ''));
    mock.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    mock.on(DescribeLockedSnapshotsCommand).resolves({ Snapshots: [] });
    mock.on(DescribeSnapshotsCommand).resolves({
      Snapshots: slots.map((slot, i) => ({
        SnapshotId: `snap-${String(i).padStart(17, '0')}`,
        State: 'completed' as const,
        StartTime: new Date(Date.parse(slot) + 60_000),
        Description: setDescription('p', { Backup: 'nightly' }, 'i-1', slot),
        Tags: tagList({ 'snapshot-policy:id': 'p', 'snapshot-policy:instance-id': 'i-1', 'snapshot-policy:slot': slot }),
      })),
    });
    mock.on(DeleteSnapshotCommand).rejects(ec2Error('InvalidSnapshot.InUse', 'The snapshot is currently in use by ami-0123456789abcdef0', 400));
    const config = readConfig({
      POLICY_ID: 'p',
      INSTANCE_TAGS: '{"Backup":"nightly"}',
      RETENTION: '{"last":1}',
      ORPHAN_RETENTION_SECONDS: String(36_500 * 86_400),
      MUTATE_BURST: '10000',
      MUTATE_RATE_PER_SECOND: '10000',
      CONCURRENCY: '64',
    });
    const lines: string[] = [];
    for (const spy of silence) spy.mockImplementation((line: unknown) => { lines.push(String(line)); });

    const report = await cleanup(new Ec2Adapter(client, defaultBuckets(10_000, 10_000)), config, new Date('2026-01-10T00:00:00Z'), Date.now() + 60_000);

    expect(report.snapshotsSkipped).toHaveLength(4000);
    const summary = lines.find((l) => l.includes('"cleanup-finished"'))!;
    expect(JSON.parse(summary)).toMatchObject({ snapshotsSkippedCount: 4000 });
    expect(JSON.parse(summary).snapshotsSkipped).toHaveLength(100);
    expect(Buffer.byteLength(summary)).toBeLessThan(32 * 1024);
    mock.restore();
  });

  function regionRequest() {
    return planSnapshots({
      slot: SLOT,
      instances: [{ instanceId: 'i-1', state: 'running', availabilityZone: 'us-east-1a', volumes: [{ volumeId: 'vol-1' }], tags: { Backup: 'nightly' } }],
      zoneTypes: ZONE_TYPES,
      taggedVolumes: [],
      options: planOptions('PARENT_REGION'),
    }).requests;
  }
  const throttled = () => ec2Error('RequestLimitExceeded', 'Request limit exceeded.', 503);

  test('the snapshot run tries a throttled CreateSnapshots again and reports the set of the second attempt', async () => {
    const client = new EC2Client({ region: 'us-east-1' });
    const mock = mockClient(client);
    mock.on(CreateSnapshotsCommand).rejectsOnce(throttled()).resolves({ Snapshots: [{ SnapshotId: 'snap-new' }] });
    const requests = regionRequest();

    const outcomes = await executeRequests(new Ec2Adapter(client, defaultBuckets()), requests, {
      deadline: Date.now() + 60_000, concurrency: 1, maxAttempts: 5, backoffMs: () => 0,
    });

    expect(outcomes).toEqual([{ instanceId: 'i-1', status: 'created', snapshotIds: ['snap-new'], attempts: 2 }]);
    const calls = mock.commandCalls(CreateSnapshotsCommand);
    expect(calls).toHaveLength(2);
    expect(calls[1].args[0].input).toEqual(calls[0].args[0].input);
    mock.restore();
  });

  test('the snapshot run keeps retrying an instance throttled on every attempt past maxAttempts until its deadline, then reports the throttling error', async () => {
    const client = new EC2Client({ region: 'us-east-1' });
    const mock = mockClient(client);
    mock.on(CreateSnapshotsCommand).rejects(throttled());

    // Refusals do not use up an instance's attempts while the run has time left: only the deadline ends them.
    const outcomes = await executeRequests(new Ec2Adapter(client, defaultBuckets()), regionRequest(), {
      deadline: Date.now() + 3_000, concurrency: 1, maxAttempts: 3, backoffMs: () => 0,
    });

    const sent = mock.commandCalls(CreateSnapshotsCommand).length;
    expect(sent).toBeGreaterThan(3);
    expect(outcomes).toEqual([{ instanceId: 'i-1', status: 'failed', error: 'RequestLimitExceeded: Request limit exceeded.', attempts: sent }]);
    mock.restore();
  });
});
