// The snapshot lock emulation's pure rules, without moto: lock states at their boundaries, how a request
// changes a lock, what the listing's query means, and the XML it renders.
import { Readable } from 'stream';
import { DescribeLockedSnapshotsCommand, EC2Client } from '@aws-sdk/client-ec2';
import {
  Ec2Refusal, LockRequest, SnapshotLock, SnapshotLocks, lockStateAt, nextLock, parseDescribeRequest, parseLockRequest,
  renderDescribeLockedSnapshots,
} from '../support/snapshot-locks';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.parse('2030-01-01T00:00:00.000Z');

const base: SnapshotLock = {
  snapshotId: 'snap-1',
  ownerId: '123456789012',
  mode: 'compliance',
  lockDurationDays: 10,
  coolOffPeriodHours: 2,
  coolOffPeriodExpiresOn: T0 + 2 * HOUR,
  lockCreatedOn: T0,
  lockDurationStartTime: T0,
  lockExpiresOn: T0 + 10 * DAY,
};

const request = (fields: Partial<LockRequest>): LockRequest => ({ snapshotId: 'snap-1', mode: 'compliance', dryRun: false, ...fields });

function refusalOf(f: () => unknown): { code: string; status: number; message: string } | undefined {
  try {
    f();
    return undefined;
  } catch (error) {
    if (!(error instanceof Ec2Refusal)) throw error;
    return { code: error.code, status: error.status, message: error.message };
  }
}

test.each([
  ['when locked', 'compliance-cooloff', 0],
  ['1 ms before its cool-off ends', 'compliance-cooloff', 2 * HOUR - 1],
  ['when its cool-off ends', 'compliance', 2 * HOUR],
  ['1 ms before it expires', 'compliance', 10 * DAY - 1],
  ['when it expires', 'expired', 10 * DAY],
])('a compliance lock with a 2-hour cool-off, %s, is %s', (_, state, afterMs) => {
  expect(lockStateAt(base, T0 + (afterMs as number))).toBe(state);
});

test('a governance lock is governance until it expires, whatever cool-off fields it carries', () => {
  const governance: SnapshotLock = { ...base, mode: 'governance' };
  expect(lockStateAt(governance, T0)).toBe('governance');
  expect(lockStateAt(governance, T0 + 10 * DAY)).toBe('expired');
});

test('changing a lock in its cool-off keeps the cool-off start; a cool-off begun from governance starts at the request', () => {
  const changed = nextLock(base, request({ lockDurationDays: 5, coolOffPeriodHours: 4 }), 'o', T0 + HOUR);
  expect(changed).toMatchObject({ coolOffPeriodExpiresOn: T0 + 4 * HOUR, lockExpiresOn: T0 + 5 * DAY, lockCreatedOn: T0 });

  const governance: SnapshotLock = { ...base, mode: 'governance', coolOffPeriodHours: undefined, coolOffPeriodExpiresOn: undefined };
  const toCompliance = nextLock(governance, request({ lockDurationDays: 5, coolOffPeriodHours: 4 }), 'o', T0 + DAY);
  expect(toCompliance).toMatchObject({ mode: 'compliance', coolOffPeriodExpiresOn: T0 + DAY + 4 * HOUR, lockDurationStartTime: T0 });
});

test('a change that would end the lock before now is refused rather than made', () => {
  const governance: SnapshotLock = { ...base, mode: 'governance' };
  expect(refusalOf(() => nextLock(governance, request({ mode: 'governance', lockDurationDays: 1 }), 'o', T0 + 2 * DAY)))
    .toMatchObject({ code: 'InvalidParameterValue', status: 400 });
});

test('extending a compliance lock past its cool-off to the same end is allowed, to an earlier one refused', () => {
  const now = T0 + DAY;
  expect(nextLock(base, request({ lockDurationDays: 10 }), 'o', now)).toMatchObject({ lockExpiresOn: T0 + 10 * DAY, coolOffPeriodHours: 2 });
  expect(refusalOf(() => nextLock(base, request({ expirationDate: T0 + 9 * DAY }), 'o', now))).toMatchObject({ code: 'IncorrectState' });
});

test('a new lock after an expired one starts at the request and is owned as the lookup says', () => {
  const renewed = nextLock(base, request({ mode: 'governance', lockDurationDays: 1 }), '210987654321', T0 + 20 * DAY);
  expect(renewed).toEqual({
    snapshotId: 'snap-1',
    ownerId: '210987654321',
    mode: 'governance',
    lockDurationDays: 1,
    lockCreatedOn: T0 + 20 * DAY,
    lockDurationStartTime: T0 + 20 * DAY,
    lockExpiresOn: T0 + 21 * DAY,
  });
});

test.each([
  ['no SnapshotId', 'LockMode=governance&LockDuration=1', 'MissingParameter', 'The request must contain the parameter SnapshotId'],
  ['no LockMode', 'SnapshotId=snap-1&LockDuration=1', 'MissingParameter', 'The request must contain the parameter LockMode'],
  ['a fractional LockDuration', 'SnapshotId=snap-1&LockMode=governance&LockDuration=1.5', 'InvalidParameterValue',
    'Value (1.5) for parameter LockDuration is invalid. It must be an integer between 1 and 36500 days.'],
  ['an ExpirationDate that is no date', 'SnapshotId=snap-1&LockMode=governance&ExpirationDate=soon', 'InvalidParameterValue',
    'Value (soon) for parameter ExpirationDate is invalid. It must be a date and time in UTC (YYYY-MM-DDThh:mm:ss.sssZ).'],
  ['an ExpirationDate more than 36,500 days away', 'SnapshotId=snap-1&LockMode=governance&ExpirationDate=2130-01-01T00:00:00Z', 'InvalidParameterValue',
    'Value (2130-01-01T00:00:00Z) for parameter ExpirationDate is invalid. It must be at most 36500 days away.'],
])('a LockSnapshot with %s is refused', (_, query, code, message) => {
  expect(refusalOf(() => parseLockRequest(new URLSearchParams(query), T0))).toEqual({ code, status: 400, message });
});

test('two lock-state filters are joined with AND, and the listing reads ids and paging from the query', () => {
  const query = parseDescribeRequest(new URLSearchParams(
    'Filter.1.Name=lock-state&Filter.1.Value.1=governance&Filter.1.Value.2=expired&Filter.2.Name=lock-state&Filter.2.Value.1=expired' +
    '&SnapshotId.1=snap-a&SnapshotId.2=snap-b&MaxResults=10',
  ));
  expect(query).toEqual({ snapshotIds: ['snap-a', 'snap-b'], states: new Set(['expired']), maxResults: 10, nextToken: undefined, dryRun: false });
  expect(refusalOf(() => parseDescribeRequest(new URLSearchParams('Filter.1.Name=lock-state&Filter.1.Value.1=locked'))))
    .toMatchObject({ code: 'InvalidParameterValue' });
});

test('the clock only moves forward, and lockOf shows the state at its time', () => {
  const locks = new SnapshotLocks({ now: () => T0 });
  expect(locks.now()).toBe(T0);
  locks.advance(HOUR);
  expect(locks.now()).toBe(T0 + HOUR);
  expect(() => locks.advance(-1)).toThrow('advance takes 0 ms or more, got -1');
  expect(locks.lockOf('snap-none')).toBeUndefined();
});

/** Parses a rendered body with the real SDK, through a client whose handler answers with it. */
async function parsedBySdk(body: string, command: DescribeLockedSnapshotsCommand): Promise<unknown> {
  const client = new EC2Client({
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    requestHandler: {
      handle: async () => ({
        response: {
          statusCode: 200,
          headers: { 'content-type': 'text/xml' },
          body: Readable.from([Buffer.from(body, 'utf8')]),
        },
      }),
    } as never,
  });
  try {
    const { $metadata: _, ...out } = await client.send(command);
    return out;
  } finally {
    client.destroy();
  }
}

test('a listing renders the elements the SDK model names, escaped, with the token only when there is more', async () => {
  const view = { ...base, snapshotId: 'snap-<1>&', lockState: 'compliance' as const };
  const body = renderDescribeLockedSnapshots([view], 'tok=', 'req-1');
  expect(body).toContain('<snapshotId>snap-&lt;1&gt;&amp;</snapshotId>');
  expect(await parsedBySdk(body, new DescribeLockedSnapshotsCommand({}))).toEqual({
    NextToken: 'tok=',
    Snapshots: [{
      OwnerId: '123456789012',
      SnapshotId: 'snap-<1>&',
      LockState: 'compliance',
      LockDuration: 10,
      CoolOffPeriod: 2,
      CoolOffPeriodExpiresOn: new Date(T0 + 2 * HOUR),
      LockCreatedOn: new Date(T0),
      LockDurationStartTime: new Date(T0),
      LockExpiresOn: new Date(T0 + 10 * DAY),
    }],
  });
  expect(renderDescribeLockedSnapshots([], undefined, 'req-2')).not.toContain('nextToken');
});
