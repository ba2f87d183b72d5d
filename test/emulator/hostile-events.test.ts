// Events no schedule or state machine sends, given to the bundled handlers (assets/*/index.js) in containers
// of their own: each is refused with an error naming the entry point, the field and what it got, and does
// nothing. Every AWS endpoint of the containers (EC2, S3, Step Functions) is a recording proxy in front of moto,
// so "nothing" is checked on the wire: not one request reaches it. The same containers then reach moto with an
// event they accept, which shows the proxy would have seen a request.
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { Handler } from '../../lib/private/contract';
import { emulatorEnv, REGION } from '../support/emulator-ec2';
import { HandlerEntry, LambdaContainer, startContainer } from '../support/lambda-container';
import { MotoServer, startMoto } from '../support/moto-server';
import { RecordingProxy, startRecordingProxy } from '../support/recording-proxy';

const POLICY_ID = 'MyStack/Nightly';
const BUCKET = 'snapshot-plans';
const SLOT = '2026-01-01T03:00:00Z';
const runKey = (index: number) => `runs/MyStack%2FNightly/${SLOT}/batch-0000${index}.json`;
const cleanupKey = (index: number) => `cleanups/MyStack%2FNightly/${SLOT}/batch-0000${index}.json`;
const STATE_MACHINE_ARN = `arn:aws:states:${REGION}:123456789012:stateMachine:snapshot-run`;

let moto: MotoServer;
let proxy: RecordingProxy;
const containers = new Map<HandlerEntry, LambdaContainer>();

/** Every function's environment at once, each AWS endpoint the proxy. */
function policyEnv(): Record<string, string> {
  return {
    ...emulatorEnv(proxy.endpoint),
    AWS_ENDPOINT_URL: proxy.endpoint,
    AWS_ENDPOINT_URL_S3: proxy.endpoint,
    POLICY_ID,
    INSTANCE_TAGS: JSON.stringify({ Backup: 'nightly' }),
    RETENTION: JSON.stringify({ last: 7 }),
    DESCRIPTION: `Created by cdk-snapshot-policy ${POLICY_ID}`,
    PLAN_BUCKET: BUCKET,
    BATCH_SIZE: '2',
    STATE_MACHINE_ARN,
    CLEANUP_STATE_MACHINE_ARN: STATE_MACHINE_ARN.replace('snapshot-run', 'cleanup'),
  };
}

beforeAll(async () => {
  moto = await startMoto();
  proxy = await startRecordingProxy(moto.endpoint);
  const entries = [Handler.SNAPSHOT_RUN, Handler.CLEANUP, Handler.START, Handler.SNAPSHOT_PHASES, Handler.CLEANUP_PHASES];
  for (const entry of entries) containers.set(entry, await startContainer(entry, policyEnv()));
});

afterAll(async () => {
  await Promise.all([...containers.values()].map((c) => c.stop()));
  await proxy?.stop();
  await moto?.stop();
});

beforeEach(() => proxy.clear());

const report = (results: unknown[]) => ({
  phase: 'report', slot: SLOT, plan: { slot: SLOT, planned: 2, planFailed: 0, planFailures: [], batches: [] }, results,
});
const notRun = { batch: 0, created: 0, dryRunOk: 0, alreadyDone: 0, failed: 0, notReached: 2, failures: [], durationMs: 0, error: 'States.Timeout', previous: {} };
const execute = { phase: 'execute-batch', slot: SLOT, index: 0, key: runKey(0), attempt: 0, previous: {} };

const HOSTILE: Array<[string, HandlerEntry, unknown, string]> = [
  ['runSnapshots', Handler.SNAPSHOT_RUN, null, 'runSnapshots event must be an object, got null'],
  ['runSnapshots', Handler.SNAPSHOT_RUN, [], 'runSnapshots event must be an object, got []'],
  ['runSnapshots', Handler.SNAPSHOT_RUN, 'a string', 'runSnapshots event must be an object, got "a string"'],
  ['runSnapshots', Handler.SNAPSHOT_RUN, { slot: '' }, 'runSnapshots event slot must be an ISO-8601 time, got ""'],
  ['runSnapshots', Handler.SNAPSHOT_RUN, { slot: 5 }, 'runSnapshots event slot must be an ISO-8601 time, got 5'],
  ['runSnapshots', Handler.SNAPSHOT_RUN, { phase: 'execute-batch', slot: SLOT },
    'runSnapshots takes no phase (it plans and sends a whole run), got phase "execute-batch"'],
  ['runSnapshots', Handler.SNAPSHOT_RUN, { requests: [{ instanceId: 'i-1', params: {} }] }, 'runSnapshots event takes only the field slot, got field "requests"'],
  ['runSnapshots', Handler.SNAPSHOT_RUN, { slot: SLOT, tags: { Owner: 'me' } }, 'runSnapshots event takes only the field slot, got field "tags"'],
  ['runCleanup', Handler.CLEANUP, null, 'runCleanup event must be an object, got null'],
  ['runCleanup', Handler.CLEANUP, { slot: 'tomorrow' }, 'runCleanup event slot must be an ISO-8601 time, got "tomorrow"'],
  ['runCleanup', Handler.CLEANUP, { snapshotIds: ['snap-1'] }, 'runCleanup event takes only the field slot, got field "snapshotIds"'],
  ['start', Handler.START, null, 'start event must be an object, got null'],
  ['start', Handler.START, { phase: 'start', run: 'backup', slot: SLOT }, 'start event run must be snapshots or cleanup, got "backup"'],
  ['start', Handler.START, { phase: 'start', run: 'snapshots', slot: SLOT, input: { slot: SLOT } },
    'start event takes only the fields phase, run, slot, got field "input"'],
  ['snapshotPhases', Handler.SNAPSHOT_PHASES, null, 'snapshotPhases event must be an object, got null'],
  ['snapshotPhases', Handler.SNAPSHOT_PHASES, { ...execute, key: cleanupKey(0) },
    `snapshotPhases event key must be the key of batch 0 of slot ${SLOT} under runs/, got "${cleanupKey(0)}"`],
  ['snapshotPhases', Handler.SNAPSHOT_PHASES, { ...execute, index: -1 }, 'snapshotPhases event index must be a whole number of at least 0, got -1'],
  ['snapshotPhases', Handler.SNAPSHOT_PHASES, { ...execute, requests: [] },
    'snapshotPhases event takes only the fields phase, slot, index, key, attempt, previous, got field "requests"'],
  ['snapshotPhases', Handler.SNAPSHOT_PHASES, { ...report([]), plan: null }, 'snapshotPhases event plan must be an object, got null'],
  ['snapshotPhases', Handler.SNAPSHOT_PHASES, report([{ batch: 0 }]), 'snapshotPhases event results[0].created must be a whole number of at least 0, got undefined'],
  ['snapshotPhases', Handler.SNAPSHOT_PHASES, report([{ ...notRun, key: 'runs/other/object.json' }]),
    `snapshotPhases event results[0].key must be a key of batch 0 of slot ${SLOT} under runs/, got "runs/other/object.json"`],
  ['cleanupPhases', Handler.CLEANUP_PHASES, null, 'cleanupPhases event must be an object, got null'],
  ['cleanupPhases', Handler.CLEANUP_PHASES, { phase: 'delete-batch', slot: SLOT, index: 0, key: runKey(0) },
    `cleanupPhases event key must be the key of batch 0 of slot ${SLOT} under cleanups/, got "${runKey(0)}"`],
  ['cleanupPhases', Handler.CLEANUP_PHASES, { phase: 'report-cleanup', slot: SLOT, plan: null, results: [] },
    'cleanupPhases event plan must be an object, got null'],
];

/** The rows with the event as the test's name says it, cut short. */
const named = HOSTILE.map(([name, entry, event, message]) => [name, (JSON.stringify(event) ?? 'undefined').slice(0, 80), entry, event, message] as const);

test.each(named)('%s refuses %s and sends no request', async (_name, _shown, entry, event, message) => {
  await expect(containers.get(entry)!.invoke(event)).rejects.toThrow(new Error(`${entry.asset} handler threw Error: ${message}`));
  expect(proxy.records).toEqual([]);
});

test('the same containers reach the emulator through the proxy with events they accept', async () => {
  const s3 = new S3Client({ endpoint: moto.endpoint, region: REGION, forcePathStyle: true, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  s3.destroy();

  await containers.get(Handler.SNAPSHOT_RUN)!.invoke({});
  expect(proxy.requests('DescribeInstances').length).toBeGreaterThan(0);
  proxy.clear();

  const { result } = await containers.get(Handler.SNAPSHOT_PHASES)!.invoke({ phase: 'plan-batches', slot: SLOT });
  expect(result).toMatchObject({ slot: SLOT, planned: 0, batches: [] });
  expect(proxy.requests('DescribeInstances').length).toBeGreaterThan(0);
});

test('an event is checked before the configuration: a container with none refuses it by the event', async () => {
  const bare = await startContainer(Handler.SNAPSHOT_RUN, emulatorEnv(proxy.endpoint));
  try {
    await expect(bare.invoke({ tags: {} })).rejects.toThrow(
      new Error('snapshot-run handler threw Error: runSnapshots event takes only the field slot, got field "tags"'));
    await expect(bare.invoke({})).rejects.toThrow(/^snapshot-run handler threw Error: environment variable /);
  } finally {
    await bare.stop();
  }
  expect(proxy.records).toEqual([]);
});
