// The fault proxy's snapshot lock emulation, driven by the real SDK over HTTP in front of moto: each action's
// answer as the SDK parses it, the rules of the modes, cool-off and expiry on the test's clock, paging and the
// lock-state filter, DeleteSnapshot refused while a lock holds, and the query parameters the SDK sends.
import {
  CreateSnapshotCommand, CreateVolumeCommand, DeleteSnapshotCommand, DescribeLockedSnapshotsCommand,
  DescribeLockedSnapshotsCommandInput, DescribeSnapshotsCommand, EC2Client, LockedSnapshotsInfo, LockSnapshotCommand,
  LockSnapshotCommandInput, UnlockSnapshotCommand,
} from '@aws-sdk/client-ec2';
import { emulatorClient } from '../support/emulator-ec2';
import { FaultProxy, FaultProxyOptions, startFaultProxy } from '../support/fault-proxy';
import { MotoServer, startMoto } from '../support/moto-server';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** The emulation's clock starts here in every test; only `locks.advance` moves it. */
const T0 = Date.parse('2030-01-01T00:00:00.000Z');

let moto: MotoServer;
let direct: EC2Client;
let volumeId: string;
const proxies: FaultProxy[] = [];
const clients: EC2Client[] = [];

async function proxy(options: Omit<FaultProxyOptions, 'target'> = { snapshotLocks: { now: () => T0 } }): Promise<{ proxy: FaultProxy; ec2: EC2Client }> {
  const p = await startFaultProxy({ target: moto.endpoint, ...options });
  proxies.push(p);
  const ec2 = emulatorClient(p.endpoint);
  clients.push(ec2);
  return { proxy: p, ec2 };
}

async function newSnapshot(): Promise<string> {
  const out = await direct.send(new CreateSnapshotCommand({ VolumeId: volumeId }));
  return out.SnapshotId!;
}

/** Whether moto still holds the snapshot, asked of moto itself. */
async function inMoto(snapshotId: string): Promise<boolean> {
  try {
    const out = await direct.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] }));
    return (out.Snapshots ?? []).some((s) => s.SnapshotId === snapshotId);
  } catch (error) {
    if ((error as Error).name === 'InvalidSnapshot.NotFound') return false;
    throw error;
  }
}

/** The SDK's error name and HTTP status, or 'ok'. */
async function outcome(sent: Promise<unknown>): Promise<{ name: string; status?: number; message?: string }> {
  try {
    await sent;
    return { name: 'ok', status: 200 };
  } catch (error) {
    const e = error as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode, message: e.message };
  }
}

const lock = (input: LockSnapshotCommandInput) => new LockSnapshotCommand(input);

beforeAll(async () => {
  moto = await startMoto();
  direct = emulatorClient(moto.endpoint);
  clients.push(direct);
  const volume = await direct.send(new CreateVolumeCommand({ AvailabilityZone: 'us-east-1a', Size: 1 }));
  volumeId = volume.VolumeId!;
});

afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.stop()));
});

afterAll(async () => {
  for (const c of clients) c.destroy();
  await moto?.stop();
});

test('LockSnapshot in governance mode answers the lock as the SDK parses it, and the proxy keeps it', async () => {
  const { proxy: p, ec2 } = await proxy();
  const id = await newSnapshot();
  const out = await ec2.send(lock({ SnapshotId: id, LockMode: 'governance', LockDuration: 7 }));

  const { $metadata: _, ...fields } = out;
  expect(fields).toEqual({
    SnapshotId: id,
    LockState: 'governance',
    LockDuration: 7,
    LockCreatedOn: new Date(T0),
    LockDurationStartTime: new Date(T0),
    LockExpiresOn: new Date(T0 + 7 * DAY),
  });
  expect(p.lockOf(id)).toMatchObject({ mode: 'governance', lockState: 'governance', lockExpiresOn: T0 + 7 * DAY });
  expect(p.records).toEqual([expect.objectContaining({ action: 'LockSnapshot', snapshotId: id, status: 200 })]);
});

test('the query parameters the SDK sends for each lock action are the ones the reference names', async () => {
  const { proxy: p, ec2 } = await proxy();
  const id = await newSnapshot();
  await ec2.send(lock({ SnapshotId: id, LockMode: 'compliance', CoolOffPeriod: 24, LockDuration: 30 }));
  await ec2.send(lock({ SnapshotId: id, LockMode: 'governance', ExpirationDate: new Date(T0 + 10 * DAY) }));
  await ec2.send(new DescribeLockedSnapshotsCommand({
    SnapshotIds: [id], Filters: [{ Name: 'lock-state', Values: ['governance', 'compliance'] }], MaxResults: 5,
  }));
  await ec2.send(new UnlockSnapshotCommand({ SnapshotId: id }));

  expect(p.records.map((r) => r.params)).toEqual([
    { Action: 'LockSnapshot', Version: '2016-11-15', SnapshotId: id, LockMode: 'compliance', CoolOffPeriod: '24', LockDuration: '30' },
    { Action: 'LockSnapshot', Version: '2016-11-15', SnapshotId: id, LockMode: 'governance', ExpirationDate: '2030-01-11T00:00:00Z' },
    {
      'Action': 'DescribeLockedSnapshots',
      'Version': '2016-11-15',
      'SnapshotId.1': id,
      'Filter.1.Name': 'lock-state',
      'Filter.1.Value.1': 'governance',
      'Filter.1.Value.2': 'compliance',
      'MaxResults': '5',
    },
    { Action: 'UnlockSnapshot', Version: '2016-11-15', SnapshotId: id },
  ]);
});

test('a compliance lock is in cool-off until the cool-off ends on the test clock, then in compliance', async () => {
  const { proxy: p, ec2 } = await proxy();
  const id = await newSnapshot();
  const out = await ec2.send(lock({ SnapshotId: id, LockMode: 'compliance', CoolOffPeriod: 24, LockDuration: 30 }));
  expect(out).toMatchObject({
    LockState: 'compliance-cooloff', CoolOffPeriod: 24, CoolOffPeriodExpiresOn: new Date(T0 + 24 * HOUR), LockExpiresOn: new Date(T0 + 30 * DAY),
  });

  p.locks!.advance(24 * HOUR - 1);
  expect(p.lockOf(id)?.lockState).toBe('compliance-cooloff');
  p.locks!.advance(1);
  expect(p.lockOf(id)?.lockState).toBe('compliance');
  const listed = await ec2.send(new DescribeLockedSnapshotsCommand({ SnapshotIds: [id] }));
  expect(listed.Snapshots).toEqual([expect.objectContaining({ SnapshotId: id, LockState: 'compliance', CoolOffPeriod: 24 })]);
});

test('after its cool-off a compliance lock cannot be unlocked, shortened, given a cool-off or changed to governance, only extended', async () => {
  const { proxy: p, ec2 } = await proxy();
  const id = await newSnapshot();
  await ec2.send(lock({ SnapshotId: id, LockMode: 'compliance', CoolOffPeriod: 1, LockDuration: 30 }));
  p.locks!.advance(2 * HOUR);

  expect(await outcome(ec2.send(new UnlockSnapshotCommand({ SnapshotId: id })))).toMatchObject({ name: 'IncorrectState', status: 400 });
  expect(await outcome(ec2.send(lock({ SnapshotId: id, LockMode: 'compliance', LockDuration: 29 })))).toMatchObject({ name: 'IncorrectState', status: 400 });
  expect(await outcome(ec2.send(lock({ SnapshotId: id, LockMode: 'governance', LockDuration: 60 })))).toMatchObject({ name: 'IncorrectState', status: 400 });
  expect(await outcome(ec2.send(lock({ SnapshotId: id, LockMode: 'compliance', LockDuration: 60, CoolOffPeriod: 1 }))))
    .toMatchObject({ name: 'InvalidParameterCombination', status: 400 });
  expect(p.lockOf(id)).toMatchObject({ lockState: 'compliance', lockDurationDays: 30, lockExpiresOn: T0 + 30 * DAY });

  // The duration still counts from the lock's start, so 60 days end 60 days after T0, not after now.
  const extended = await ec2.send(lock({ SnapshotId: id, LockMode: 'compliance', LockDuration: 60 }));
  expect(extended).toMatchObject({
    LockState: 'compliance', LockDuration: 60, LockDurationStartTime: new Date(T0), LockCreatedOn: new Date(T0), LockExpiresOn: new Date(T0 + 60 * DAY),
  });
  const byDate = await ec2.send(lock({ SnapshotId: id, LockMode: 'compliance', ExpirationDate: new Date(T0 + 90 * DAY) }));
  expect(byDate).toMatchObject({ LockState: 'compliance', LockExpiresOn: new Date(T0 + 90 * DAY) });
  expect(byDate.LockDuration).toBeUndefined();
});

test('in its cool-off a compliance lock can be shortened, changed to governance and unlocked', async () => {
  const { proxy: p, ec2 } = await proxy();
  const id = await newSnapshot();
  await ec2.send(lock({ SnapshotId: id, LockMode: 'compliance', CoolOffPeriod: 72, LockDuration: 30 }));
  p.locks!.advance(HOUR);

  expect(await ec2.send(lock({ SnapshotId: id, LockMode: 'compliance', CoolOffPeriod: 72, LockDuration: 3 })))
    .toMatchObject({ LockState: 'compliance-cooloff', LockDuration: 3, LockExpiresOn: new Date(T0 + 3 * DAY), CoolOffPeriodExpiresOn: new Date(T0 + 72 * HOUR) });
  const governance = await ec2.send(lock({ SnapshotId: id, LockMode: 'governance', LockDuration: 3 }));
  expect(governance).toMatchObject({ LockState: 'governance' });
  expect(governance.CoolOffPeriod).toBeUndefined();
  await ec2.send(lock({ SnapshotId: id, LockMode: 'compliance', CoolOffPeriod: 2, LockDuration: 3 }));
  expect(await ec2.send(new UnlockSnapshotCommand({ SnapshotId: id }))).toMatchObject({ SnapshotId: id });
  expect(p.lockOf(id)).toBeUndefined();
});

test('a governance lock can be shortened, made compliance and unlocked, after which the snapshot can be deleted', async () => {
  const { proxy: p, ec2 } = await proxy();
  const id = await newSnapshot();
  await ec2.send(lock({ SnapshotId: id, LockMode: 'governance', LockDuration: 365 }));
  expect(await ec2.send(lock({ SnapshotId: id, LockMode: 'governance', LockDuration: 1 }))).toMatchObject({ LockExpiresOn: new Date(T0 + DAY) });
  expect(await ec2.send(lock({ SnapshotId: id, LockMode: 'compliance', CoolOffPeriod: 1, LockDuration: 2 })))
    .toMatchObject({ LockState: 'compliance-cooloff', CoolOffPeriodExpiresOn: new Date(T0 + HOUR) });
  await ec2.send(lock({ SnapshotId: id, LockMode: 'governance', LockDuration: 2 }));

  expect(await outcome(ec2.send(new DeleteSnapshotCommand({ SnapshotId: id })))).toMatchObject({ name: 'SnapshotLocked', status: 400 });
  await ec2.send(new UnlockSnapshotCommand({ SnapshotId: id }));
  expect(p.lockOf(id)).toBeUndefined();
  expect(await outcome(ec2.send(new DeleteSnapshotCommand({ SnapshotId: id })))).toMatchObject({ name: 'ok' });
  expect(await inMoto(id)).toBe(false);
});

test('DeleteSnapshot of a locked snapshot answers SnapshotLocked without reaching moto, and deletes it once the lock has expired', async () => {
  const { proxy: p, ec2 } = await proxy();
  const id = await newSnapshot();
  await ec2.send(lock({ SnapshotId: id, LockMode: 'compliance', LockDuration: 2 }));
  p.locks!.advance(2 * DAY - 1);

  const refused = await outcome(ec2.send(new DeleteSnapshotCommand({ SnapshotId: id })));
  expect(refused).toMatchObject({ name: 'SnapshotLocked', status: 400, message: `The snapshot '${id}' is locked and can't be deleted.` });
  expect(p.records.at(-1)).toMatchObject({ action: 'DeleteSnapshot', snapshotId: id, status: 400, fault: 'locked' });
  expect(await inMoto(id)).toBe(true);

  p.locks!.advance(1);
  expect(p.lockOf(id)?.lockState).toBe('expired');
  expect(await outcome(ec2.send(new DeleteSnapshotCommand({ SnapshotId: id })))).toMatchObject({ name: 'ok' });
  expect(await inMoto(id)).toBe(false);
  expect(p.lockOf(id)).toBeUndefined();
  expect(p.counters().DeleteSnapshot).toMatchObject({ requests: 2, ok: 1, clientErrors: 1 });
});

test('an expired lock is listed as expired, and locking again starts a new lock', async () => {
  const { proxy: p, ec2 } = await proxy();
  const id = await newSnapshot();
  await ec2.send(lock({ SnapshotId: id, LockMode: 'governance', LockDuration: 1 }));
  p.locks!.advance(3 * DAY);
  const listed = await ec2.send(new DescribeLockedSnapshotsCommand({ SnapshotIds: [id] }));
  expect(listed.Snapshots?.map((s) => s.LockState)).toEqual(['expired']);

  const relocked = await ec2.send(lock({ SnapshotId: id, LockMode: 'compliance', LockDuration: 1 }));
  expect(relocked).toMatchObject({
    LockState: 'compliance', LockCreatedOn: new Date(T0 + 3 * DAY), LockDurationStartTime: new Date(T0 + 3 * DAY), LockExpiresOn: new Date(T0 + 4 * DAY),
  });
});

test.each([
  ['a LockDuration of 0 days', 'InvalidParameterValue', { LockMode: 'governance', LockDuration: 0 }],
  ['a LockDuration of 36,501 days', 'InvalidParameterValue', { LockMode: 'governance', LockDuration: 36_501 }],
  ['a CoolOffPeriod of 0 hours', 'InvalidParameterValue', { LockMode: 'compliance', LockDuration: 1, CoolOffPeriod: 0 }],
  ['a CoolOffPeriod of 73 hours', 'InvalidParameterValue', { LockMode: 'compliance', LockDuration: 1, CoolOffPeriod: 73 }],
  ['a CoolOffPeriod in governance mode', 'InvalidParameterCombination', { LockMode: 'governance', LockDuration: 1, CoolOffPeriod: 1 }],
  ['both LockDuration and ExpirationDate', 'InvalidParameterCombination', { LockMode: 'governance', LockDuration: 1, ExpirationDate: new Date(T0 + DAY) }],
  ['neither LockDuration nor ExpirationDate', 'InvalidParameterCombination', { LockMode: 'governance' }],
  ['an ExpirationDate in the past', 'InvalidParameterValue', { LockMode: 'governance', ExpirationDate: new Date(T0 - 1000) }],
  ['a LockMode that does not exist', 'InvalidParameterValue', { LockMode: 'legal-hold' as 'governance', LockDuration: 1 }],
] as const)('LockSnapshot with %s is refused with %s and locks nothing', async (_, code, input) => {
  const { proxy: p, ec2 } = await proxy();
  const id = await newSnapshot();
  expect(await outcome(ec2.send(lock({ SnapshotId: id, ...input })))).toMatchObject({ name: code, status: 400 });
  expect(p.lockOf(id)).toBeUndefined();
});

test('a snapshot moto does not know answers InvalidSnapshot.NotFound to LockSnapshot and UnlockSnapshot', async () => {
  const { proxy: p, ec2 } = await proxy();
  const missing = 'snap-00000000000000000';
  expect(await outcome(ec2.send(lock({ SnapshotId: missing, LockMode: 'governance', LockDuration: 1 }))))
    .toMatchObject({ name: 'InvalidSnapshot.NotFound', status: 400 });
  expect(await outcome(ec2.send(new UnlockSnapshotCommand({ SnapshotId: missing })))).toMatchObject({ name: 'InvalidSnapshot.NotFound', status: 400 });
  expect(p.lockOf(missing)).toBeUndefined();
});

test('DryRun answers DryRunOperation and changes no lock', async () => {
  const { proxy: p, ec2 } = await proxy();
  const id = await newSnapshot();
  expect(await outcome(ec2.send(lock({ SnapshotId: id, LockMode: 'governance', LockDuration: 1, DryRun: true }))))
    .toMatchObject({ name: 'DryRunOperation', status: 412 });
  expect(p.lockOf(id)).toBeUndefined();
  await ec2.send(lock({ SnapshotId: id, LockMode: 'governance', LockDuration: 1 }));
  expect(await outcome(ec2.send(new UnlockSnapshotCommand({ SnapshotId: id, DryRun: true })))).toMatchObject({ name: 'DryRunOperation' });
  expect(p.lockOf(id)?.lockState).toBe('governance');
});

test('UnlockSnapshot of a snapshot without a lock is refused', async () => {
  const { ec2 } = await proxy();
  const id = await newSnapshot();
  expect(await outcome(ec2.send(new UnlockSnapshotCommand({ SnapshotId: id })))).toMatchObject({ name: 'IncorrectState', status: 400 });
});

/** Every page of a listing, following NextToken. */
async function allPages(ec2: EC2Client, input: DescribeLockedSnapshotsCommandInput): Promise<LockedSnapshotsInfo[][]> {
  const pages: LockedSnapshotsInfo[][] = [];
  let token: string | undefined;
  do {
    const out = await ec2.send(new DescribeLockedSnapshotsCommand({ ...input, NextToken: token }));
    pages.push(out.Snapshots ?? []);
    token = out.NextToken;
  } while (token);
  return pages;
}

test('DescribeLockedSnapshots pages by MaxResults with NextToken, each lock once, with its owner and fields', async () => {
  const { ec2 } = await proxy();
  const ids: string[] = [];
  for (let i = 0; i < 12; i++) {
    const id = await newSnapshot();
    ids.push(id);
    await ec2.send(lock({ SnapshotId: id, LockMode: 'governance', LockDuration: i + 1 }));
  }
  const pages = await allPages(ec2, { MaxResults: 5 });

  expect(pages.map((page) => page.length)).toEqual([5, 5, 2]);
  const listed = pages.flat();
  expect(listed.map((s) => s.SnapshotId).sort()).toEqual([...ids].sort());
  const first = listed.find((s) => s.SnapshotId === ids[2]);
  expect(first).toEqual({
    OwnerId: '123456789012',
    SnapshotId: ids[2],
    LockState: 'governance',
    LockDuration: 3,
    LockCreatedOn: new Date(T0),
    LockDurationStartTime: new Date(T0),
    LockExpiresOn: new Date(T0 + 3 * DAY),
  });
  // Without MaxResults, one page holds all.
  expect((await allPages(ec2, {})).map((page) => page.length)).toEqual([12]);
});

test('DescribeLockedSnapshots refuses a MaxResults outside 5 to 1000 and a NextToken it did not give', async () => {
  const { ec2 } = await proxy();
  expect(await outcome(ec2.send(new DescribeLockedSnapshotsCommand({ MaxResults: 4 })))).toMatchObject({ name: 'InvalidParameterValue', status: 400 });
  expect(await outcome(ec2.send(new DescribeLockedSnapshotsCommand({ MaxResults: 1001 })))).toMatchObject({ name: 'InvalidParameterValue', status: 400 });
  expect(await outcome(ec2.send(new DescribeLockedSnapshotsCommand({ NextToken: 'not-a-token' })))).toMatchObject({ name: 'InvalidPaginationToken', status: 400 });
  expect(await outcome(ec2.send(new DescribeLockedSnapshotsCommand({ Filters: [{ Name: 'tag:Policy', Values: ['x'] }] }))))
    .toMatchObject({ name: 'InvalidParameterValue', status: 400 });
});

test('the lock-state filter lists only locks in the states asked for, as they are on the test clock', async () => {
  const { proxy: p, ec2 } = await proxy();
  const [governance, cooloff, compliance, expired] = [await newSnapshot(), await newSnapshot(), await newSnapshot(), await newSnapshot()];
  await ec2.send(lock({ SnapshotId: expired, LockMode: 'governance', LockDuration: 1 }));
  await ec2.send(lock({ SnapshotId: compliance, LockMode: 'compliance', CoolOffPeriod: 1, LockDuration: 30 }));
  p.locks!.advance(DAY);
  await ec2.send(lock({ SnapshotId: governance, LockMode: 'governance', LockDuration: 30 }));
  await ec2.send(lock({ SnapshotId: cooloff, LockMode: 'compliance', CoolOffPeriod: 72, LockDuration: 30 }));

  const ids = [governance, cooloff, compliance, expired];
  const inState = async (...values: string[]) => (await allPages(ec2, { SnapshotIds: ids, Filters: [{ Name: 'lock-state', Values: values }] }))
    .flat().map((s) => s.SnapshotId).sort();
  expect(await inState('governance')).toEqual([governance]);
  expect(await inState('compliance-cooloff')).toEqual([cooloff]);
  expect(await inState('compliance')).toEqual([compliance]);
  expect(await inState('expired')).toEqual([expired]);
  expect(await inState('governance', 'compliance', 'compliance-cooloff')).toEqual([governance, cooloff, compliance].sort());
  p.locks!.advance(72 * HOUR);
  expect(await inState('compliance')).toEqual([cooloff, compliance].sort());
});

test('lock actions go through the faults and buckets like others: a planned fault, the mutate bucket', async () => {
  const { proxy: p, ec2 } = await proxy({ snapshotLocks: { now: () => T0 }, timeScale: 0, limits: { mutate: { capacity: 2, refillPerSecond: 5 } } });
  const id = await newSnapshot();
  p.failOnce('LockSnapshot', id);
  expect(await outcome(ec2.send(lock({ SnapshotId: id, LockMode: 'governance', LockDuration: 1 })))).toMatchObject({ name: 'InternalError', status: 500 });
  expect(p.lockOf(id)).toBeUndefined();
  expect(await outcome(ec2.send(lock({ SnapshotId: id, LockMode: 'governance', LockDuration: 1 })))).toMatchObject({ name: 'ok' });
  expect(await outcome(ec2.send(new UnlockSnapshotCommand({ SnapshotId: id })))).toMatchObject({ name: 'RequestLimitExceeded', status: 503 });
  expect(p.counters().LockSnapshot).toMatchObject({ requests: 2, ok: 1, serverErrors: 1 });
  expect(p.counters().UnlockSnapshot).toMatchObject({ requests: 1, throttled: 1, bucketThrottled: 1 });
});

test('without snapshotLocks the proxy still emulates locks, on the real clock', async () => {
  const { proxy: p, ec2 } = await proxy({});
  const id = await newSnapshot();
  expect(await outcome(ec2.send(lock({ SnapshotId: id, LockMode: 'governance', LockDuration: 1 })))).toMatchObject({ name: 'ok' });
  expect(p.lockOf(id)).toMatchObject({ lockState: 'governance' });
  expect(Math.abs(p.locks.now() - Date.now())).toBeLessThan(60_000);
  expect(await outcome(ec2.send(new DeleteSnapshotCommand({ SnapshotId: id })))).toMatchObject({ name: 'SnapshotLocked' });
});
