// The bundled orchestrated handler (assets/orchestrated/index.js, the code of the run and clean-up functions and
// of the starter), in a container process of its own, against moto serving EC2, S3 and Step Functions with the
// real SDK over HTTP: the phases a state machine execution calls one after the other (plan-batches,
// execute-batch, report; plan-deletions, delete-batch, report-cleanup) and the schedules' start. EC2 goes through a recording proxy, so a test can count the
// CreateSnapshots requests; S3 is addressed by the host name `localhost`, so the handler must use path-style
// requests (the SDK picks path style by itself only for an IP address). moto is reset and the fleet seeded
// again before every test.
import {
  AttachVolumeCommand, CreateSnapshotsCommand, CreateTagsCommand, CreateVolumeCommand, DescribeSnapshotsCommand, EC2Client,
  StopInstancesCommand,
} from '@aws-sdk/client-ec2';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  CreateStateMachineCommand, DescribeExecutionCommand, ListExecutionsCommand, SFNClient, StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import type { BatchResult, DeleteBatchResult } from '../../lambda/logic/batches';
import type { PlannedSnapshot } from '../../lambda/logic/model';
import type { DoomedSet } from '../../lambda/runs/cleanup';
import type { CleanupPlanSummary } from '../../lambda/runs/cleanup-batches';
import type { BatchRef } from '../../lambda/runs/phase-context';
import type { PlanSummary } from '../../lambda/runs/snapshot-batches';
import { Handler, Phase } from '../../lib/private/contract';
import { assertImage, emulatorClient, emulatorEnv, launch, REGION, tagList } from '../support/emulator-ec2';
import { HandlerEntry, LambdaContainer, LogLine, startContainer } from '../support/lambda-container';
import { MotoServer, startMoto } from '../support/moto-server';
import * as inMoto from '../support/policy-sets';
import { RecordingProxy, startRecordingProxy } from '../support/recording-proxy';
import { setDescription } from '../support/set-marker';

// A slash in the policy id, as in the default `<stack>/<path>`: the batch keys hold it URL-encoded.
const POLICY_ID = 'MyStack/Nightly';
const BUCKET = 'snapshot-plans';
const SLOT = '2026-01-01T03:00:00Z';
const ACCOUNT = '123456789012';
/** The export whose function gets an event of this phase: the starter, the run's phases or the clean-up's. */
function entryFor(event: unknown): HandlerEntry {
  const phase = (event as { phase?: string }).phase;
  if (phase === Phase.START) return Handler.START;
  const cleanupPhases: string[] = [Phase.PLAN_DELETIONS, Phase.DELETE_BATCH, Phase.REPORT_CLEANUP];
  return cleanupPhases.includes(phase!) ? Handler.CLEANUP_PHASES : Handler.SNAPSHOT_PHASES;
}

let moto: MotoServer;
let proxy: RecordingProxy;
let ec2: EC2Client;
let s3: S3Client;
let sfn: SFNClient;

/** The run function's environment as the construct sets it, with a small BATCH_SIZE, pointed at moto. */
function policyEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    ...emulatorEnv(proxy.endpoint),
    // Step Functions (and anything else) straight to moto; EC2 through the proxy (emulatorEnv); S3 by host name.
    AWS_ENDPOINT_URL: moto.endpoint,
    AWS_ENDPOINT_URL_S3: `http://localhost:${moto.port}`,
    POLICY_ID,
    INSTANCE_TAGS: JSON.stringify({ Backup: 'nightly', Env: 'prod' }),
    EXCLUDE_BOOT_VOLUME: 'false',
    EXCLUDE_DATA_VOLUME_TAGS: '{}',
    COPY_VOLUME_TAGS: 'false',
    SNAPSHOT_TAGS: '{}',
    DESCRIPTION: `Created by cdk-snapshot-policy ${POLICY_ID}`,
    LOCAL_ZONE_DESTINATION: 'PARENT_REGION',
    OUTPOST_DESTINATION: 'PARENT_REGION',
    DRY_RUN: 'false',
    RETENTION: JSON.stringify({ last: 7 }),
    TIME_ZONE: 'UTC',
    HOLD_TAG: 'snapshot-policy:hold',
    ORPHAN_RETENTION_SECONDS: String(90 * 86_400),
    PLAN_BUCKET: BUCKET,
    BATCH_SIZE: '2',
    ...overrides,
  };
}

const containers: LambdaContainer[] = [];

/** A fresh Lambda container of an export of the orchestrated bundle, with the policy's environment and the given changes. */
async function container(entry: HandlerEntry, overrides: Record<string, string> = {}): Promise<LambdaContainer> {
  const started = await startContainer(entry, policyEnv(overrides));
  containers.push(started);
  return started;
}

/** One invocation in a fresh container, as each state of an execution may land in a new one. */
async function invokeOnce<R>(event: unknown, overrides: Record<string, string> = {}) {
  return (await container(entryFor(event), overrides)).invoke<R>(event);
}

/** What Step Functions hands the next state: the result as JSON. */
const asJson = <T>(value: T): T => JSON.parse(JSON.stringify(value));

interface Fleet {
  /** The instances carrying both policy tags (one of them stopped), sorted as the planner orders them. */
  readonly tagged: string[];
  readonly halfTagged: string;
  readonly untagged: string;
}

let fleet: Fleet;

async function seedFleet(): Promise<Fleet> {
  const policyTags = { Backup: 'nightly', Env: 'prod' };
  const tagged: string[] = [];
  for (const name of ['web-1', 'web-2', 'db', 'queue', 'batch']) tagged.push((await launch(ec2, { Name: name, ...policyTags })).instanceId);
  await ec2.send(new StopInstancesCommand({ InstanceIds: [tagged[4]] }));
  const halfTagged = (await launch(ec2, { Name: 'half', Backup: 'nightly' })).instanceId;
  const untagged = (await launch(ec2, {})).instanceId;
  return { tagged: [...tagged].sort(), halfTagged, untagged };
}

const sorted = (values: readonly string[]) => [...values].sort();

/** This policy's sets in moto, by instance, then slot. */
const policySets = () => inMoto.policySets(ec2, POLICY_ID);
const slotsByInstance = () => inMoto.slotsByInstance(ec2, POLICY_ID);
const policySnapshotIds = () => inMoto.policySnapshotIds(ec2, POLICY_ID);

/** The instance each CreateSnapshots request that reached moto was for. */
const createdFor = () => proxy.requests('CreateSnapshots').map((r) => r.params.get('InstanceSpecification.InstanceId')!);

async function bucketKeys(): Promise<string[]> {
  const out = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
  return sorted((out.Contents ?? []).map((o) => o.Key!));
}

async function readBatch(key: string): Promise<PlannedSnapshot[]> {
  const out = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return JSON.parse(await out.Body!.transformToString());
}

const keyOf = (slot: string, index: number) => `runs/MyStack%2FNightly/${slot}/batch-0000${index}.json`;

const executeEvent = (ref: Omit<BatchRef, 'size'>, slot = SLOT) => ({
  phase: 'execute-batch', slot, index: ref.index, key: ref.key, attempt: 0, previous: {},
});

/** What the BatchNotRun state passes on for a batch that failed for good: all its instances not reached. */
const notRunResult = (ref: BatchRef, error: string) => ({
  batch: ref.index,
  key: ref.key,
  created: 0,
  dryRunOk: 0,
  alreadyDone: 0,
  failed: 0,
  notReached: ref.size,
  failures: [],
  durationMs: 0,
  error,
  previous: {},
});

const emfLines = (logs: LogLine[]) => logs.filter((l) => '_aws' in l) as any[];

beforeAll(async () => {
  moto = await startMoto();
  proxy = await startRecordingProxy(moto.endpoint);
  ec2 = emulatorClient(moto.endpoint);
  const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
  s3 = new S3Client({ endpoint: moto.endpoint, region: REGION, credentials, forcePathStyle: true, maxAttempts: 1 });
  sfn = new SFNClient({ endpoint: moto.endpoint, region: REGION, credentials, maxAttempts: 1 });
  await assertImage(ec2);
});

afterAll(async () => {
  ec2?.destroy();
  s3?.destroy();
  sfn?.destroy();
  await proxy?.stop();
  await moto?.stop();
});

afterEach(async () => {
  await Promise.all(containers.splice(0).map((c) => c.stop()));
});

beforeEach(async () => {
  await moto.reset();
  fleet = await seedFleet();
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  proxy.clear();
});

describe('plan-batches', () => {
  test('writes ceil(5 / 2) = 3 batch objects of the planned requests in order and returns their refs', async () => {
    const { result, logs } = await invokeOnce<PlanSummary>({ phase: 'plan-batches', slot: SLOT });

    expect(result).toEqual({
      slot: SLOT,
      planned: 5,
      planFailed: 0,
      planFailures: [],
      batches: [
        { index: 0, key: keyOf(SLOT, 0), size: 2 },
        { index: 1, key: keyOf(SLOT, 1), size: 2 },
        { index: 2, key: keyOf(SLOT, 2), size: 1 },
      ],
    });
    expect(await bucketKeys()).toEqual([keyOf(SLOT, 0), keyOf(SLOT, 1), keyOf(SLOT, 2)]);
    const batches = await Promise.all(result.batches.map((b) => readBatch(b.key)));
    expect(batches.map((b) => b.map((r) => r.instanceId))).toEqual([fleet.tagged.slice(0, 2), fleet.tagged.slice(2, 4), fleet.tagged.slice(4)]);
    for (const request of batches.flat()) {
      expect(request.params.InstanceSpecification.InstanceId).toBe(request.instanceId);
      expect(request.params.TagSpecifications).toEqual([{
        ResourceType: 'snapshot',
        Tags: expect.arrayContaining([
          { Key: 'snapshot-policy:id', Value: POLICY_ID },
          { Key: 'snapshot-policy:instance-id', Value: request.instanceId },
          { Key: 'snapshot-policy:slot', Value: SLOT },
        ]),
      }]);
    }
    // Planning sends nothing.
    expect(proxy.requests('CreateSnapshots')).toEqual([]);
    expect(logs.filter((l) => l.event === 'run-planned')).toEqual([
      { level: 'INFO', event: 'run-planned', slot: SLOT, planned: 5, batches: 3, planFailures: 0 },
    ]);
  });

  test('writes one batch when the fleet fits in BATCH_SIZE', async () => {
    const { result } = await invokeOnce<PlanSummary>({ phase: 'plan-batches', slot: SLOT }, { BATCH_SIZE: '2175' });

    expect(result.batches).toEqual([{ index: 0, key: keyOf(SLOT, 0), size: 5 }]);
    expect(await bucketKeys()).toEqual([keyOf(SLOT, 0)]);
  });

  test('returns the instances it cannot plan as plan failures and batches only the others', async () => {
    // With the boot volume left out, only the instance with a data volume has anything to snapshot.
    const withData = fleet.tagged[1];
    const volume = await ec2.send(new CreateVolumeCommand({
      AvailabilityZone: 'us-east-1a', Size: 10, TagSpecifications: [{ ResourceType: 'volume', Tags: tagList({ Name: 'data' }) }],
    }));
    await ec2.send(new AttachVolumeCommand({ VolumeId: volume.VolumeId!, InstanceId: withData, Device: '/dev/sdf' }));

    const { result } = await invokeOnce<PlanSummary>({ phase: 'plan-batches', slot: SLOT }, { EXCLUDE_BOOT_VOLUME: 'true' });

    expect(result).toEqual({
      slot: SLOT,
      planned: 1,
      planFailed: fleet.tagged.length - 1,
      planFailures: fleet.tagged.filter((id) => id !== withData).map((instanceId) => ({
        instanceId, status: 'failed', error: 'no volume is left to snapshot after the exclusions (1 attached, all excluded)',
      })),
      batches: [{ index: 0, key: keyOf(SLOT, 0), size: 1 }],
    });
    expect((await readBatch(keyOf(SLOT, 0))).map((r) => r.instanceId)).toEqual([withData]);
  });

  test('normalizes the slot as the starter does, so keys and tags carry the same text', async () => {
    const { result } = await invokeOnce<PlanSummary>({ phase: 'plan-batches', slot: '2026-01-01T04:00:00.000+01:00' });

    expect(result.slot).toBe(SLOT);
    expect(await bucketKeys()).toEqual([keyOf(SLOT, 0), keyOf(SLOT, 1), keyOf(SLOT, 2)]);
    const tags = (await readBatch(keyOf(SLOT, 0)))[0].params.TagSpecifications[0].Tags;
    expect(tags.find((t) => t.Key === 'snapshot-policy:slot')).toEqual({ Key: 'snapshot-policy:slot', Value: SLOT });
  });

  test.each<[string, object, string]>([
    ['no slot', { phase: 'plan-batches' }, 'snapshotPhases event slot is required in phase plan-batches'],
    ['a slot that is not a time', { phase: 'plan-batches', slot: 'tomorrow' }, 'snapshotPhases event slot must be an ISO-8601 time, got "tomorrow"'],
  ])('fails for %s and writes nothing', async (_name, event, message) => {
    await expect(invokeOnce(event)).rejects.toThrow(`orchestrated handler threw Error: ${message}`);
    expect(await bucketKeys()).toEqual([]);
  });
});

describe('execute-batch', () => {
  test('each batch gives exactly its instances one set for the slot, batch by batch', async () => {
    const { result: plan } = await invokeOnce<PlanSummary>({ phase: 'plan-batches', slot: SLOT });
    const expected: Record<string, string[]> = {};

    for (const ref of asJson(plan).batches) {
      proxy.clear();
      const { result, logs } = await invokeOnce<BatchResult>(executeEvent(ref));

      const counts = { created: ref.size, dryRunOk: 0, alreadyDone: 0, failed: 0, notReached: 0 };
      expect(result).toEqual({ batch: ref.index, ...counts, failures: [], durationMs: expect.any(Number) });
      const instances = fleet.tagged.slice(ref.index * 2, ref.index * 2 + ref.size);
      expect(sorted(createdFor())).toEqual(instances);
      for (const id of instances) expected[id] = [SLOT];
      expect(await slotsByInstance()).toEqual(expected);
      expect(logs.filter((l) => l.event === 'batch-finished')).toEqual([
        { level: 'INFO', event: 'batch-finished', slot: SLOT, batch: ref.index, ...counts, durationMs: result.durationMs, attempt: 0 },
      ]);
    }
    expect(Object.keys(expected)).toHaveLength(5);
    const untouched = await ec2.send(new DescribeSnapshotsCommand({ Filters: [{ Name: 'tag:snapshot-policy:instance-id', Values: [fleet.halfTagged, fleet.untagged] }] }));
    expect(untouched.Snapshots).toEqual([]);
  });

  // A bucket of 1 token that refills once in 1,000 s: the first request is sent, the next one cannot be
  // before the deadline, as when other callers drain the account's bucket.
  const STARVED = { MUTATE_BURST: '1', MUTATE_RATE_PER_SECOND: '0.001' };

  test('a batch that does not reach all its instances asks for a rerun of exactly those, which adds up to one result', async () => {
    const { result: plan } = await invokeOnce<PlanSummary>({ phase: 'plan-batches', slot: SLOT });
    const [reached, unreached] = fleet.tagged.slice(0, 2);

    const first = await invokeOnce<BatchResult & { rerun?: any }>({ ...executeEvent(plan.batches[0]), attempt: 0, previous: {} }, STARVED);

    const rerunKey = 'runs/MyStack%2FNightly/2026-01-01T03:00:00Z/batch-00000-rerun-1.json';
    expect(first.result).toEqual({
      batch: 0,
      created: 1,
      dryRunOk: 0,
      alreadyDone: 0,
      failed: 0,
      notReached: 1,
      failures: [{ instanceId: unreached, status: 'not-reached' }],
      durationMs: expect.any(Number),
      rerun: { slot: SLOT, index: 0, key: rerunKey, size: 1, attempt: 1 },
    });
    expect(createdFor()).toEqual([reached]);
    expect((await readBatch(rerunKey)).map((r) => r.instanceId)).toEqual([unreached]);
    expect(first.logs.filter((l) => l.event === 'batch-rerun')).toEqual([{
      level: 'WARN',
      event: 'batch-rerun',
      slot: SLOT,
      batch: 0,
      created: 1,
      dryRunOk: 0,
      alreadyDone: 0,
      failed: 0,
      notReached: 1,
      durationMs: first.result.durationMs,
      attempt: 0,
      rerun: rerunKey,
      rerunSize: 1,
    }]);
    proxy.clear();

    // What PrepareRerun passes on, in a fresh invocation with the account's bucket back to normal.
    const { rerun, ...previous } = asJson(first.result);
    const second = await invokeOnce<BatchResult & { rerun?: any }>({ phase: 'execute-batch', slot: SLOT, index: 0, key: rerun.key, attempt: 1, previous: { ...previous, rerun } });

    expect(second.result).toEqual({
      batch: 0, created: 2, dryRunOk: 0, alreadyDone: 0, failed: 0, notReached: 0, failures: [], durationMs: expect.any(Number),
    });
    expect(createdFor()).toEqual([unreached]);
    expect(await slotsByInstance()).toEqual({ [reached]: [SLOT], [unreached]: [SLOT] });
  });

  test('asks for no rerun after the last one, and names the instances still not reached', async () => {
    const { result: plan } = await invokeOnce<PlanSummary>({ phase: 'plan-batches', slot: SLOT });
    // The last rerun's object, as the attempt before it would have written it: the whole of batch 0.
    const lastKey = 'runs/MyStack%2FNightly/2026-01-01T03:00:00Z/batch-00000-rerun-2.json';
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: lastKey, Body: JSON.stringify(await readBatch(plan.batches[0].key)) }));

    const { result } = await invokeOnce<BatchResult & { rerun?: any }>({ ...executeEvent(plan.batches[0]), key: lastKey, attempt: 2 }, STARVED);

    // A rerun starts with an empty bucket: with the starved rate, nothing is reached.
    expect(result).toEqual({
      batch: 0,
      created: 0,
      dryRunOk: 0,
      alreadyDone: 0,
      failed: 0,
      notReached: 2,
      failures: fleet.tagged.slice(0, 2).map((instanceId) => ({ instanceId, status: 'not-reached' })),
      durationMs: expect.any(Number),
    });
    expect(proxy.requests('CreateSnapshots')).toEqual([]);
  });

  test('executing the same batch again reports its instances already done and creates nothing', async () => {
    const { result: plan } = await invokeOnce<PlanSummary>({ phase: 'plan-batches', slot: SLOT });
    const first = await invokeOnce<BatchResult>(executeEvent(plan.batches[0]));
    expect(first.result.created).toBe(2);
    const snapshotsAfterFirst = await policySnapshotIds();
    proxy.clear();

    // A retry of the batch, in a new container (as Step Functions' Retry would invoke it).
    const { result, logs } = await invokeOnce<BatchResult>(executeEvent(plan.batches[0]));

    expect(result).toEqual({
      batch: 0, created: 0, dryRunOk: 0, alreadyDone: 2, failed: 0, notReached: 0, failures: [], durationMs: expect.any(Number),
    });
    expect(proxy.requests('CreateSnapshots')).toEqual([]);
    expect(await policySnapshotIds()).toEqual(snapshotsAfterFirst);
    expect(sorted(logs.filter((l) => l.event === 'snapshot-already-done').map((l) => l.instanceId as string))).toEqual(fleet.tagged.slice(0, 2));
  });

  test('sends only the requests of instances without a set when a batch is partly done', async () => {
    const { result: plan } = await invokeOnce<PlanSummary>({ phase: 'plan-batches', slot: SLOT });
    await invokeOnce<BatchResult>(executeEvent(plan.batches[0]));
    const [done] = await readBatch(plan.batches[0].key);
    const [notDone] = await readBatch(plan.batches[1].key);
    // Batch 1's object holds one instance done by batch 0 and one of its own (an event may name no other key).
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: plan.batches[1].key, Body: JSON.stringify([done, notDone]) }));
    proxy.clear();

    const { result } = await invokeOnce<BatchResult>(executeEvent(plan.batches[1]));

    expect(result).toMatchObject({ created: 1, alreadyDone: 1, failed: 0, notReached: 0 });
    expect(createdFor()).toEqual([notDone.instanceId]);
  });

  test('a batch sent with another spelling of the slot finds the sets of the normalized slot', async () => {
    const { result: plan } = await invokeOnce<PlanSummary>({ phase: 'plan-batches', slot: SLOT });
    await invokeOnce<BatchResult>(executeEvent(plan.batches[0]));
    proxy.clear();

    const { result } = await invokeOnce<BatchResult>(executeEvent(plan.batches[0], '2026-01-01T03:00:00.000Z'));

    expect(result).toMatchObject({ created: 0, alreadyDone: 2 });
    expect(proxy.requests('CreateSnapshots')).toEqual([]);
  });

  test('fails when the batch object does not exist, so the state machine retries it and then reports it not run', async () => {
    await expect(invokeOnce(executeEvent({ index: 0, key: keyOf(SLOT, 0) })))
      .rejects.toThrow('orchestrated handler threw NoSuchKey: The specified key does not exist.');
    expect(proxy.requests('CreateSnapshots')).toEqual([]);
  });
});

describe('report', () => {
  test('adds up the batches, names each instance of a batch that did not run, logs the run as failed and prints the EMF metrics', async () => {
    const { result: plan } = await invokeOnce<PlanSummary>({ phase: 'plan-batches', slot: SLOT });
    const results: unknown[] = [];
    for (const ref of plan.batches.slice(0, 2)) results.push((await invokeOnce<BatchResult>(executeEvent(ref))).result);
    // What the BatchNotRun state of the state machine passes on for the third batch.
    results.push(notRunResult(plan.batches[2], 'States.Timeout'));
    proxy.clear();

    const { result, logs } = await invokeOnce({ phase: 'report', slot: SLOT, plan: asJson(plan), results: asJson(results) });

    const totals = { planned: 5, batches: 3, created: 4, dryRunOk: 0, alreadyDone: 0, failed: 0, notReached: 1, batchesNotRun: 1 };
    const notReached = { instanceId: fleet.tagged[4], status: 'not-reached', error: 'batch 2 did not run: States.Timeout' };
    expect(result).toEqual({ policyId: POLICY_ID, slot: SLOT, ...totals, failures: [notReached] });
    expect(logs.filter((l) => l.event === 'snapshot-not-reached')).toEqual([{ level: 'ERROR', event: 'snapshot-not-reached', slot: SLOT, ...notReached, attempts: 0 }]);
    const emf = emfLines(logs);
    expect(emf).toHaveLength(1);
    expect(emf[0]._aws.CloudWatchMetrics).toEqual([{
      Namespace: 'SnapshotPolicy',
      Dimensions: [['service', 'PolicyId']],
      Metrics: [
        { Name: 'SetsCreated', Unit: 'Count' },
        { Name: 'InstancesFailed', Unit: 'Count' },
        { Name: 'InstancesNotReached', Unit: 'Count' },
        { Name: 'InstancesAlreadyDone', Unit: 'Count' },
      ],
    }]);
    expect(emf[0]).toMatchObject({
      service: 'cdk-snapshot-policy', PolicyId: POLICY_ID, SetsCreated: 4, InstancesFailed: 0, InstancesNotReached: 1, InstancesAlreadyDone: 0,
    });
    // The log line counts the failures it names (each one has a line of its own above).
    expect(logs.filter((l) => l.event === 'run-finished')).toEqual([
      { level: 'ERROR', event: 'run-finished', policyId: POLICY_ID, slot: SLOT, ...totals, failures: 1 },
    ]);
    // Reporting sends EC2 only the slot check of the batch that did not run.
    expect(proxy.records.map((r) => r.action)).toEqual(['DescribeSnapshots']);
  });

  test('counts the instances of a batch that did not run but made their sets anyway as already done', async () => {
    const { result: plan } = await invokeOnce<PlanSummary>({ phase: 'plan-batches', slot: SLOT });
    const results: unknown[] = [];
    for (const ref of plan.batches.slice(0, 2)) results.push((await invokeOnce<BatchResult>(executeEvent(ref))).result);
    // The third batch made its set, then its invocation failed (say, a timeout before it could answer).
    await invokeOnce<BatchResult>(executeEvent(plan.batches[2]));
    results.push(notRunResult(plan.batches[2], 'Sandbox.Timedout'));

    const { result, logs } = await invokeOnce({ phase: 'report', slot: SLOT, plan: asJson(plan), results: asJson(results) });

    expect(result).toEqual({
      policyId: POLICY_ID,
      slot: SLOT,
      planned: 5,
      batches: 3,
      created: 4,
      dryRunOk: 0,
      alreadyDone: 1,
      failed: 0,
      notReached: 0,
      batchesNotRun: 1,
      failures: [],
    });
    expect(logs.filter((l) => l.event === 'snapshot-not-reached')).toEqual([]);
    expect(logs.find((l) => l.event === 'run-finished')?.level).toBe('INFO');
  });

  test('keeps a not-run batch as the state machine gave it when its object cannot be read, and says so', async () => {
    const { result: plan } = await invokeOnce<PlanSummary>({ phase: 'plan-batches', slot: SLOT });
    // A rerun's object that was never written (batch 0's own object is in the bucket).
    const missingKey = 'runs/MyStack%2FNightly/2026-01-01T03:00:00Z/batch-00000-rerun-1.json';
    const results = [{
      batch: 0, key: missingKey, created: 0, dryRunOk: 0, alreadyDone: 0, failed: 0, notReached: 2, failures: [], durationMs: 0, error: 'States.Timeout', previous: {},
    }];

    const { result, logs } = await invokeOnce({ phase: 'report', slot: SLOT, plan: asJson(plan), results });

    expect(result).toMatchObject({ created: 0, notReached: 2, batchesNotRun: 1, failures: [] });
    expect(logs.filter((l) => l.event === 'batch-not-checked')).toEqual([{
      level: 'ERROR', event: 'batch-not-checked', slot: SLOT, batch: 0, key: missingKey, error: expect.stringMatching(/^NoSuchKey/),
    }]);
  });

  test('counts plan failures as failed instances, lists them first, and logs a clean run at INFO', async () => {
    const plan: PlanSummary = {
      slot: SLOT,
      planned: 3,
      planFailed: 1,
      planFailures: [{ instanceId: 'i-00000000000000001', status: 'failed', error: 'no volume is left to snapshot after the exclusions' }],
      batches: [{ index: 0, key: keyOf(SLOT, 0), size: 2 }, { index: 1, key: keyOf(SLOT, 1), size: 1 }],
    };
    const results: BatchResult[] = [
      { batch: 0, created: 1, dryRunOk: 0, alreadyDone: 1, failed: 0, notReached: 0, failures: [], durationMs: 900 },
      { batch: 1, created: 0, dryRunOk: 0, alreadyDone: 0, failed: 1, notReached: 0, failures: [{ instanceId: 'i-2', status: 'failed', error: 'boom' }], durationMs: 300 },
    ];

    const { result, logs } = await invokeOnce({ phase: 'report', slot: SLOT, plan, results });

    const totals = { planned: 3, batches: 2, created: 1, dryRunOk: 0, alreadyDone: 1, failed: 2, notReached: 0, batchesNotRun: 0 };
    expect(result).toEqual({
      policyId: POLICY_ID,
      slot: SLOT,
      ...totals,
      failures: [...plan.planFailures, { instanceId: 'i-2', status: 'failed', error: 'boom' }],
    });
    expect(emfLines(logs)[0]).toMatchObject({ SetsCreated: 1, InstancesFailed: 2, InstancesNotReached: 0, InstancesAlreadyDone: 1 });
    expect(logs.find((l) => l.event === 'run-finished')?.level).toBe('ERROR');

    const clean = await invokeOnce({
      phase: 'report', slot: SLOT, plan: { ...plan, planFailed: 0, planFailures: [] }, results: [{ ...results[0], created: 2, alreadyDone: 0 }],
    });
    expect(clean.result).toMatchObject({ created: 2, failed: 0, notReached: 0, failures: [] });
    expect(clean.logs.find((l) => l.event === 'run-finished')?.level).toBe('INFO');
    expect(emfLines(clean.logs)[0]).toMatchObject({ SetsCreated: 2, InstancesFailed: 0, InstancesNotReached: 0, InstancesAlreadyDone: 0 });
  });
});

describe('clean-up phases', () => {
  const SLOTS = ['2026-01-01T03:00:00Z', '2026-01-02T03:00:00Z', '2026-01-03T03:00:00Z', '2026-01-04T03:00:00Z'];
  const CLEANUP_SLOT = '2026-01-05T04:00:00Z';
  // Keep the last 2 sets per instance; batches of at most 3 snapshots.
  const CLEANUP_ENV = { RETENTION: JSON.stringify({ last: 2 }), BATCH_SIZE: '3' };
  let twoVolumes: string;
  let foreign: string;

  /** One set per tagged instance and slot, made straight in moto with the tags and Description a run gives them. */
  async function makeHistory(): Promise<void> {
    for (const slot of SLOTS) {
      for (const instanceId of fleet.tagged) {
        await ec2.send(new CreateSnapshotsCommand({
          InstanceSpecification: { InstanceId: instanceId },
          Description: setDescription(POLICY_ID, JSON.parse(policyEnv().INSTANCE_TAGS), instanceId, slot),
          TagSpecifications: [{
            ResourceType: 'snapshot',
            Tags: tagList({ 'snapshot-policy:id': POLICY_ID, 'snapshot-policy:instance-id': instanceId, 'snapshot-policy:slot': slot }),
          }],
        }));
      }
    }
  }

  /** The snapshot ids of one instance's set, as moto holds them. */
  async function setIds(instanceId: string, slot: string): Promise<string[]> {
    return sorted(((await policySets()).get(instanceId)?.get(slot) ?? []).map((s) => s.SnapshotId!));
  }

  beforeEach(async () => {
    twoVolumes = fleet.tagged[0];
    const volume = await ec2.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 10 }));
    await ec2.send(new AttachVolumeCommand({ VolumeId: volume.VolumeId!, InstanceId: twoVolumes, Device: '/dev/sdf' }));
    await makeHistory();
    const other = await ec2.send(new CreateSnapshotsCommand({
      InstanceSpecification: { InstanceId: fleet.tagged[1] },
      TagSpecifications: [{
        ResourceType: 'snapshot',
        Tags: tagList({ 'snapshot-policy:id': 'SomeOtherPolicy', 'snapshot-policy:instance-id': fleet.tagged[1], 'snapshot-policy:slot': SLOTS[0] }),
      }],
    }));
    foreign = other.Snapshots![0].SnapshotId!;
    proxy.clear();
  });

  const deleteEvent = (ref: BatchRef) => ({ phase: 'delete-batch', slot: CLEANUP_SLOT, index: ref.index, key: ref.key });

  test('plan-deletions writes the expired sets, whole, in batches of at most BATCH_SIZE snapshots, and deletes nothing', async () => {
    const before = await policySnapshotIds();
    expect(before).toHaveLength(4 * 6); // 4 slots: 4 instances with one volume, 1 with two

    const { result, logs } = await invokeOnce<CleanupPlanSummary>({ phase: 'plan-deletions', slot: CLEANUP_SLOT }, CLEANUP_ENV);

    // Two expired sets per instance; the two-volume instance's sets hold 2 snapshots each.
    const batchSizes = result.batches.map((b) => b.size);
    expect(result).toEqual({
      slot: CLEANUP_SLOT,
      setsKept: 10,
      setsToDelete: 10,
      setsLocked: 0,
      snapshotsToDelete: 12,
      unrecognized: 0,
      unrecognizedIds: [],
      untagged: 0,
      untaggedInstanceIds: [],
      batches: batchSizes.map((size, index) => ({ index, key: `cleanups/MyStack%2FNightly/${CLEANUP_SLOT}/batch-0000${index}.json`, size })),
    });
    expect(batchSizes.reduce((a, b) => a + b, 0)).toBe(12);
    expect(batchSizes.every((n) => n <= 3)).toBe(true);
    const written: DoomedSet[] = [];
    for (const ref of result.batches) {
      const sets = JSON.parse(await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: ref.key }))).Body!.transformToString()) as DoomedSet[];
      expect(sets.reduce((n, set) => n + set.snapshotIds.length, 0)).toBe(ref.size);
      written.push(...sets);
    }
    // Exactly the two oldest sets of every instance, each with all of its snapshots.
    const expected: DoomedSet[] = [];
    for (const instanceId of fleet.tagged) {
      for (const slot of SLOTS.slice(0, 2)) expected.push({ instanceId, slot, snapshotIds: await setIds(instanceId, slot) });
    }
    const byKey = (a: DoomedSet, b: DoomedSet) => `${a.instanceId}${a.slot}`.localeCompare(`${b.instanceId}${b.slot}`);
    expect([...written].sort(byKey)).toEqual(expected.sort(byKey));
    expect(written.find((set) => set.instanceId === twoVolumes)!.snapshotIds).toHaveLength(2);
    expect(await policySnapshotIds()).toEqual(before);
    expect(proxy.requests('DeleteSnapshot')).toEqual([]);
    expect(logs.filter((l) => l.event === 'cleanup-planned')).toEqual([{
      level: 'INFO',
      event: 'cleanup-planned',
      slot: CLEANUP_SLOT,
      setsKept: 10,
      setsToDelete: 10,
      setsLocked: 0,
      snapshotsToDelete: 12,
      unrecognized: 0,
      untagged: 0,
      batches: result.batches.length,
    }]);
  });

  test('delete-batch deletes exactly its sets, batch by batch, and report-cleanup adds the batches up', async () => {
    const { result: plan } = await invokeOnce<CleanupPlanSummary>({ phase: 'plan-deletions', slot: CLEANUP_SLOT }, CLEANUP_ENV);
    const results: DeleteBatchResult[] = [];
    for (const ref of asJson(plan).batches) {
      const sets = JSON.parse(await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: ref.key }))).Body!.transformToString()) as DoomedSet[];
      const ids = sorted(sets.flatMap((set) => set.snapshotIds));
      const before = await policySnapshotIds();
      proxy.clear();

      const { result } = await invokeOnce<DeleteBatchResult>(deleteEvent(ref), CLEANUP_ENV);

      expect(result).toEqual({
        batch: ref.index,
        setsDeleted: sets.length,
        snapshotsDeleted: ref.size,
        duplicatesDeleted: 0,
        setsHeld: 0,
        snapshotsSkipped: 0,
        skipped: [],
        durationMs: expect.any(Number),
      });
      expect(sorted(proxy.requests('DeleteSnapshot').map((r) => r.params.get('SnapshotId')!))).toEqual(ids);
      expect(await policySnapshotIds()).toEqual(before.filter((id) => !ids.includes(id)));
      results.push(result);
    }
    const remaining = await slotsByInstance();
    expect(remaining).toEqual(Object.fromEntries(fleet.tagged.map((id) => [id, SLOTS.slice(2)])));
    const other = await ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [foreign] }));
    expect(other.Snapshots).toHaveLength(1);

    proxy.clear();
    const { result: report, logs } = await invokeOnce({ phase: 'report-cleanup', slot: CLEANUP_SLOT, plan: asJson(plan), results: asJson(results) }, CLEANUP_ENV);

    const totals = { setsDeleted: 10, snapshotsDeleted: 12, duplicatesDeleted: 0, setsHeld: 0, snapshotsSkipped: 0 };
    expect(report).toEqual({
      policyId: POLICY_ID,
      slot: CLEANUP_SLOT,
      dryRun: false,
      setsKept: 10,
      setsToDelete: 10,
      setsLocked: 0,
      unrecognized: 0,
      batches: plan.batches.length,
      ...totals,
      skipped: [],
    });
    const emf = emfLines(logs);
    expect(emf).toHaveLength(1);
    expect(emf[0]).toMatchObject({
      PolicyId: POLICY_ID, SetsDeleted: 10, SnapshotsDeleted: 12, DeletesSkipped: 0, SnapshotsUnrecognized: 0, InstancesUntagged: 0,
    });
    expect(proxy.records).toEqual([]);
  });

  test('a set put on hold after the plan is left whole and counted as held; the rest of its batch is deleted', async () => {
    const { result: plan } = await invokeOnce<CleanupPlanSummary>({ phase: 'plan-deletions', slot: CLEANUP_SLOT }, CLEANUP_ENV);
    const ref = plan.batches.find((b) => b.size === 3)!;
    const sets = JSON.parse(await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: ref.key }))).Body!.transformToString()) as DoomedSet[];
    const [heldSet, ...others] = sets;
    // Someone puts a legal hold on one snapshot of the set after the plan was written.
    await ec2.send(new CreateTagsCommand({ Resources: [heldSet.snapshotIds[heldSet.snapshotIds.length - 1]], Tags: [{ Key: 'snapshot-policy:hold', Value: 'case-42' }] }));
    proxy.clear();

    const { result, logs } = await invokeOnce<DeleteBatchResult>(deleteEvent(ref), CLEANUP_ENV);

    const deletedIds = others.flatMap((set) => set.snapshotIds);
    expect(result).toEqual({
      batch: ref.index,
      setsDeleted: others.length,
      snapshotsDeleted: deletedIds.length,
      duplicatesDeleted: 0,
      setsHeld: 1,
      snapshotsSkipped: 0,
      skipped: [],
      durationMs: expect.any(Number),
    });
    expect(await setIds(heldSet.instanceId, heldSet.slot)).toEqual([...heldSet.snapshotIds].sort());
    expect(sorted(proxy.requests('DeleteSnapshot').map((r) => r.params.get('SnapshotId')!))).toEqual(sorted(deletedIds));
    expect(logs.filter((l) => l.event === 'set-held-since-plan')).toEqual([{
      level: 'WARN', event: 'set-held-since-plan', slot: CLEANUP_SLOT, instanceId: heldSet.instanceId, setSlot: heldSet.slot, snapshotIds: heldSet.snapshotIds,
    }]);
  });

  test('deleting the same batch again counts its snapshots, already gone, as deleted and skips nothing', async () => {
    const { result: plan } = await invokeOnce<CleanupPlanSummary>({ phase: 'plan-deletions', slot: CLEANUP_SLOT }, CLEANUP_ENV);
    const ref = plan.batches[0];
    const first = await invokeOnce<DeleteBatchResult>(deleteEvent(ref), CLEANUP_ENV);
    const after = await policySnapshotIds();
    proxy.clear();

    // A retry of the batch, in a new container (as Step Functions' Retry would invoke it).
    const { result } = await invokeOnce<DeleteBatchResult>(deleteEvent(ref), CLEANUP_ENV);

    expect(result).toEqual({ ...first.result, durationMs: expect.any(Number) });
    expect(result.snapshotsSkipped).toBe(0);
    expect(proxy.requests('DeleteSnapshot').map((r) => r.status)).toEqual(Array(ref.size).fill(400));
    expect(await policySnapshotIds()).toEqual(after);
  });

  test('plans nothing to delete when every set is kept, and the report says so', async () => {
    const { result: plan } = await invokeOnce<CleanupPlanSummary>({ phase: 'plan-deletions', slot: CLEANUP_SLOT }, { RETENTION: JSON.stringify({ last: 4 }) });

    expect(plan).toEqual({
      slot: CLEANUP_SLOT,
      setsKept: 20,
      setsToDelete: 0,
      setsLocked: 0,
      snapshotsToDelete: 0,
      unrecognized: 0,
      unrecognizedIds: [],
      untagged: 0,
      untaggedInstanceIds: [],
      batches: [],
    });
    expect(await bucketKeys()).toEqual([]);
    const { result } = await invokeOnce({ phase: 'report-cleanup', slot: CLEANUP_SLOT, plan: asJson(plan), results: [] });
    expect(result).toMatchObject({ setsKept: 20, setsToDelete: 0, batches: 0, setsDeleted: 0, snapshotsDeleted: 0, snapshotsSkipped: 0 });
  });
});

describe('entry points', () => {
  test.each<[string, HandlerEntry, unknown, string]>([
    ['snapshotPhases', Handler.SNAPSHOT_PHASES, { phase: 'plan-deletions', slot: SLOT },
      'snapshotPhases handles the phases plan-batches, execute-batch, report, got phase "plan-deletions"'],
    ['snapshotPhases', Handler.SNAPSHOT_PHASES, { slot: SLOT }, 'snapshotPhases handles the phases plan-batches, execute-batch, report, got phase undefined'],
    ['cleanupPhases', Handler.CLEANUP_PHASES, { phase: 'execute-batch', slot: SLOT, index: 0, key: keyOf(SLOT, 0) },
      'cleanupPhases handles the phases plan-deletions, delete-batch, report-cleanup, got phase "execute-batch"'],
    ['start', Handler.START, { phase: 'report', slot: SLOT }, 'start handles the phases start, got phase "report"'],
  ])('%s refuses an event of another function\'s phase and touches nothing', async (_name, entry, event, message) => {
    const refusing = await container(entry);
    await expect(refusing.invoke(event)).rejects.toThrow(`orchestrated handler threw Error: ${message}`);
    expect(await bucketKeys()).toEqual([]);
    expect(proxy.requests('DescribeSnapshots')).toHaveLength(0);
  });

  test.each([
    ['PLAN_BUCKET missing', { PLAN_BUCKET: '' }, 'environment variable PLAN_BUCKET is required'],
    ['BATCH_SIZE not a whole number', { BATCH_SIZE: '2.5' }, 'environment variable BATCH_SIZE must be a whole number of at least 1, got "2.5"'],
    ['BATCH_SIZE zero', { BATCH_SIZE: '0' }, 'environment variable BATCH_SIZE must be a whole number of at least 1, got "0"'],
  ])('plan-batches fails with %s and plans nothing', async (_name, env, message) => {
    await expect(invokeOnce({ phase: 'plan-batches', slot: SLOT }, env)).rejects.toThrow(`orchestrated handler threw Error: ${message}`);
    expect(await bucketKeys()).toEqual([]);
  });
});

describe('start', () => {
  const MACHINE = 'snapshot-run';
  const MACHINE_ARN = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${MACHINE}`;
  const EXECUTION_ARN = `arn:aws:states:${REGION}:${ACCOUNT}:execution:${MACHINE}:slot-2026-01-01T03-00-00Z`;

  beforeEach(async () => {
    const out = await sfn.send(new CreateStateMachineCommand({
      name: MACHINE,
      definition: JSON.stringify({ StartAt: 'Run', States: { Run: { Type: 'Pass', End: true } } }),
      roleArn: `arn:aws:iam::${ACCOUNT}:role/${MACHINE}`,
    }));
    expect(out.stateMachineArn).toBe(MACHINE_ARN);
  });

  const executions = async () => (await sfn.send(new ListExecutionsCommand({ stateMachineArn: MACHINE_ARN }))).executions ?? [];

  test('starts one execution named after the slot, with the slot as its input', async () => {
    const { result, logs } = await invokeOnce({ phase: 'start', run: 'snapshots', slot: SLOT }, { STATE_MACHINE_ARN: MACHINE_ARN });

    expect(result).toEqual({ run: 'snapshots', slot: SLOT, executionArn: EXECUTION_ARN, started: true });
    const execution = await sfn.send(new DescribeExecutionCommand({ executionArn: EXECUTION_ARN }));
    expect(execution).toMatchObject({ name: 'slot-2026-01-01T03-00-00Z', stateMachineArn: MACHINE_ARN, input: JSON.stringify({ slot: SLOT }) });
    expect((await executions()).map((e) => e.name)).toEqual(['slot-2026-01-01T03-00-00Z']);
    expect(logs.filter((l) => l.event === 'run-started')).toEqual([
      { level: 'INFO', event: 'run-started', policyId: POLICY_ID, run: 'snapshots', slot: SLOT, execution: EXECUTION_ARN },
    ]);
  });

  // StartExecution with the name and input of an execution that is still running succeeds and returns that
  // execution (AWS documents this idempotency, and moto implements it): the duplicate starts no second run,
  // but cannot tell that it was a duplicate.
  test('a duplicated start while the run is still going returns the same execution and starts no second one', async () => {
    const starter = await container(Handler.START, { STATE_MACHINE_ARN: MACHINE_ARN });
    await starter.invoke({ phase: 'start', run: 'snapshots', slot: SLOT });

    const again = await starter.invoke({ phase: 'start', run: 'snapshots', slot: SLOT });
    // Another spelling of the same scheduled time, from a new container.
    const respelled = await invokeOnce({ phase: 'start', run: 'snapshots', slot: '2026-01-01T04:00:00+01:00' }, { STATE_MACHINE_ARN: MACHINE_ARN });

    expect(again.result).toEqual({ run: 'snapshots', slot: SLOT, executionArn: EXECUTION_ARN, started: true });
    expect(respelled.result).toEqual({ run: 'snapshots', slot: SLOT, executionArn: EXECUTION_ARN, started: true });
    const listed = await executions();
    expect(listed.map((e) => [e.name, e.status])).toEqual([['slot-2026-01-01T03-00-00Z', 'RUNNING']]);
  });

  test('a start for a slot whose run has ended finds the name taken (ExecutionAlreadyExists) and reports started false', async () => {
    await invokeOnce({ phase: 'start', run: 'snapshots', slot: SLOT }, { STATE_MACHINE_ARN: MACHINE_ARN });
    await sfn.send(new StopExecutionCommand({ executionArn: EXECUTION_ARN }));

    const { result, logs } = await invokeOnce({ phase: 'start', run: 'snapshots', slot: SLOT }, { STATE_MACHINE_ARN: MACHINE_ARN });

    expect(result).toEqual({ run: 'snapshots', slot: SLOT, started: false });
    expect(logs.filter((l) => l.event.startsWith('run-'))).toEqual([
      { level: 'WARN', event: 'run-already-started', policyId: POLICY_ID, run: 'snapshots', slot: SLOT, execution: 'slot-2026-01-01T03-00-00Z' },
    ]);
    expect((await executions()).map((e) => [e.name, e.status])).toEqual([['slot-2026-01-01T03-00-00Z', 'ABORTED']]);
  });

  test('starts a new execution for the next slot', async () => {
    const starter = await container(Handler.START, { STATE_MACHINE_ARN: MACHINE_ARN });
    await starter.invoke({ phase: 'start', run: 'snapshots', slot: SLOT });

    const { result } = await starter.invoke({ phase: 'start', run: 'snapshots', slot: '2026-01-02T03:00:00Z' });

    expect(result).toEqual({
      run: 'snapshots', slot: '2026-01-02T03:00:00Z', executionArn: `arn:aws:states:${REGION}:${ACCOUNT}:execution:${MACHINE}:slot-2026-01-02T03-00-00Z`, started: true,
    });
    expect(sorted((await executions()).map((e) => e.name!))).toEqual(['slot-2026-01-01T03-00-00Z', 'slot-2026-01-02T03-00-00Z']);
  });

  test('fails on any other error, such as a state machine that does not exist', async () => {
    const missing = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:no-such-machine`;
    await expect(invokeOnce({ phase: 'start', run: 'snapshots', slot: SLOT }, { STATE_MACHINE_ARN: missing }))
      .rejects.toThrow(/^orchestrated handler threw StateMachineDoesNotExist: /);
    expect(await executions()).toEqual([]);
  });

  test('with run cleanup starts the clean-up\'s state machine, once per slot, beside the run of the same slot', async () => {
    const cleanupMachine = 'snapshot-cleanup';
    const cleanupArn = (await sfn.send(new CreateStateMachineCommand({
      name: cleanupMachine,
      definition: JSON.stringify({ StartAt: 'Clean', States: { Clean: { Type: 'Pass', End: true } } }),
      roleArn: `arn:aws:iam::${ACCOUNT}:role/${cleanupMachine}`,
    }))).stateMachineArn!;
    const starter = await container(Handler.START, { STATE_MACHINE_ARN: MACHINE_ARN, CLEANUP_STATE_MACHINE_ARN: cleanupArn });

    await starter.invoke({ phase: 'start', run: 'snapshots', slot: SLOT });
    const { result, logs } = await starter.invoke({ phase: 'start', run: 'cleanup', slot: SLOT });
    await sfn.send(new StopExecutionCommand({ executionArn: `arn:aws:states:${REGION}:${ACCOUNT}:execution:${cleanupMachine}:slot-2026-01-01T03-00-00Z` }));
    const again = await starter.invoke({ phase: 'start', run: 'cleanup', slot: SLOT });

    const cleanupExecution = `arn:aws:states:${REGION}:${ACCOUNT}:execution:${cleanupMachine}:slot-2026-01-01T03-00-00Z`;
    expect(result).toEqual({ run: 'cleanup', slot: SLOT, executionArn: cleanupExecution, started: true });
    expect(logs.filter((l) => l.event === 'run-started')).toEqual([
      { level: 'INFO', event: 'run-started', policyId: POLICY_ID, run: 'cleanup', slot: SLOT, execution: cleanupExecution },
    ]);
    expect(again.result).toEqual({ run: 'cleanup', slot: SLOT, started: false });
    const cleanups = (await sfn.send(new ListExecutionsCommand({ stateMachineArn: cleanupArn }))).executions ?? [];
    expect(cleanups.map((e) => [e.name, e.status])).toEqual([['slot-2026-01-01T03-00-00Z', 'ABORTED']]);
    expect((await executions()).map((e) => [e.name, e.status])).toEqual([['slot-2026-01-01T03-00-00Z', 'RUNNING']]);
  });

  test.each([
    ['an unknown run', { phase: 'start', run: 'backup', slot: SLOT }, {}, 'event run must be snapshots or cleanup, got "backup"'],
    ['a clean-up without its state machine', { phase: 'start', run: 'cleanup', slot: SLOT }, { STATE_MACHINE_ARN: MACHINE_ARN },
      'environment variable CLEANUP_STATE_MACHINE_ARN is required'],
  ])('refuses %s and starts nothing', async (_name, event, env, message) => {
    await expect(invokeOnce(event, env)).rejects.toThrow(message);
    expect(await executions()).toEqual([]);
  });
});
