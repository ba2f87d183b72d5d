// EBS snapshot locks as EC2 keeps them, for the fault proxy, which moto cannot stand in for: the state of each
// lock on a clock the test moves, the rules of LockSnapshot, UnlockSnapshot and DescribeLockedSnapshots from
// the EC2 API reference, and their answers in the XML the SDK parses (element names from its EC2 model).
// Pure state and rendering: whether a snapshot exists is asked of the caller, who asks moto.

export type LockMode = 'governance' | 'compliance';
export type LockState = 'compliance-cooloff' | 'governance' | 'compliance' | 'expired';

export const LOCK_STATES: readonly LockState[] = ['compliance-cooloff', 'governance', 'compliance', 'expired'];
export const LOCK_ACTIONS: ReadonlySet<string> = new Set(['LockSnapshot', 'UnlockSnapshot', 'DescribeLockedSnapshots']);

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** The reference's ranges: LockDuration in days, CoolOffPeriod in hours, MaxResults per page. */
export const LOCK_LIMITS = {
  lockDurationDays: { min: 1, max: 36_500 },
  coolOffPeriodHours: { min: 1, max: 72 },
  maxResults: { min: 5, max: 1000 },
} as const;

/** One snapshot's lock, times in epoch milliseconds of the emulation's clock. */
export interface SnapshotLock {
  readonly snapshotId: string;
  readonly ownerId: string;
  readonly mode: LockMode;
  /** Absent when the lock was given an ExpirationDate. */
  readonly lockDurationDays?: number;
  readonly coolOffPeriodHours?: number;
  readonly coolOffPeriodExpiresOn?: number;
  readonly lockCreatedOn: number;
  /** The instant LockDuration counts from; kept when the lock is changed or extended. */
  readonly lockDurationStartTime: number;
  readonly lockExpiresOn: number;
}

/** A lock with its state at the clock's time: what EC2 answers and what tests assert. */
export interface LockView extends SnapshotLock {
  readonly lockState: LockState;
}

/** An answer EC2 gives as its XML error document. */
export class Ec2Refusal extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

/** What the emulation answers: a body, or a refusal to send as EC2's error document. */
export interface LockAnswer {
  readonly status: number;
  readonly body?: string;
  readonly refusal?: Ec2Refusal;
}

export interface SnapshotLocksOptions {
  /** The clock the emulation starts from; `advance` moves it further. @default Date.now */
  readonly now?: () => number;
}

/** The owner of a snapshot moto knows, or undefined when moto does not know it. */
export type SnapshotLookup = (snapshotId: string) => Promise<string | undefined>;

// The EC2 API reference names SnapshotLocked for a DeleteSnapshot of a locked snapshot but lists no code for a
// lock change its state forbids; IncorrectState (EC2's general code for an action a resource's state forbids)
// stands in for those, and the messages are ours. One table, so a code seen from EC2 is a one-line change.
const refuse = {
  missing: (name: string) => new Ec2Refusal(400, 'MissingParameter', `The request must contain the parameter ${name}`),
  value: (name: string, value: string, why: string) =>
    new Ec2Refusal(400, 'InvalidParameterValue', `Value (${value}) for parameter ${name} is invalid. ${why}`),
  combination: (message: string) => new Ec2Refusal(400, 'InvalidParameterCombination', message),
  notFound: (id: string) => new Ec2Refusal(400, 'InvalidSnapshot.NotFound', `The snapshot '${id}' does not exist.`),
  state: (message: string) => new Ec2Refusal(400, 'IncorrectState', message),
  dryRun: () => new Ec2Refusal(412, 'DryRunOperation', 'Request would have succeeded, but DryRun flag is set.'),
  token: (token: string) => new Ec2Refusal(400, 'InvalidPaginationToken', `The pagination token ${token} is invalid or expired.`),
};

/** The refusal EC2 gives a DeleteSnapshot of a snapshot whose lock has not expired. */
export function snapshotLockedRefusal(snapshotId: string): Ec2Refusal {
  return new Ec2Refusal(400, 'SnapshotLocked', `The snapshot '${snapshotId}' is locked and can't be deleted.`);
}

/** The state of a lock at `now`: expiry first, then the mode, then the cool-off. */
export function lockStateAt(lock: SnapshotLock, now: number): LockState {
  if (now >= lock.lockExpiresOn) return 'expired';
  if (lock.mode === 'governance') return 'governance';
  return lock.coolOffPeriodExpiresOn !== undefined && now < lock.coolOffPeriodExpiresOn ? 'compliance-cooloff' : 'compliance';
}

/** A LockSnapshot request as read from its query parameters, checked field by field. */
export interface LockRequest {
  readonly snapshotId: string;
  readonly mode: LockMode;
  readonly lockDurationDays?: number;
  readonly expirationDate?: number;
  readonly coolOffPeriodHours?: number;
  readonly dryRun: boolean;
}

function intParam(params: URLSearchParams, name: string, range: { min: number; max: number }, unit: string): number | undefined {
  const raw = params.get(name);
  if (raw === null) return undefined;
  const value = Number(raw);
  if (!/^-?\d+$/.test(raw) || value < range.min || value > range.max) {
    throw refuse.value(name, raw, `It must be an integer between ${range.min} and ${range.max} ${unit}.`);
  }
  return value;
}

export function parseLockRequest(params: URLSearchParams, now: number): LockRequest {
  const snapshotId = params.get('SnapshotId');
  if (!snapshotId) throw refuse.missing('SnapshotId');
  const mode = params.get('LockMode');
  if (!mode) throw refuse.missing('LockMode');
  if (mode !== 'governance' && mode !== 'compliance') throw refuse.value('LockMode', mode, 'Valid values are governance and compliance.');
  const lockDurationDays = intParam(params, 'LockDuration', LOCK_LIMITS.lockDurationDays, 'days');
  const coolOffPeriodHours = intParam(params, 'CoolOffPeriod', LOCK_LIMITS.coolOffPeriodHours, 'hours');
  const rawDate = params.get('ExpirationDate');
  if ((lockDurationDays === undefined) === (rawDate === null)) {
    throw refuse.combination('You must specify either LockDuration or ExpirationDate, but not both.');
  }
  let expirationDate: number | undefined;
  if (rawDate !== null) {
    expirationDate = Date.parse(rawDate);
    if (Number.isNaN(expirationDate)) throw refuse.value('ExpirationDate', rawDate, 'It must be a date and time in UTC (YYYY-MM-DDThh:mm:ss.sssZ).');
    if (expirationDate <= now) throw refuse.value('ExpirationDate', rawDate, 'It must be in the future.');
    if (expirationDate > now + LOCK_LIMITS.lockDurationDays.max * DAY_MS) {
      throw refuse.value('ExpirationDate', rawDate, `It must be at most ${LOCK_LIMITS.lockDurationDays.max} days away.`);
    }
  }
  if (mode === 'governance' && coolOffPeriodHours !== undefined) {
    throw refuse.combination('CoolOffPeriod applies only to a lock in compliance mode.');
  }
  return { snapshotId, mode, lockDurationDays, expirationDate, coolOffPeriodHours, dryRun: params.get('DryRun') === 'true' };
}

/** The lock a request makes of the current one (undefined: none, or expired), or the refusal EC2 gives. */
export function nextLock(current: SnapshotLock | undefined, request: LockRequest, ownerId: string, now: number): SnapshotLock {
  const state = current && lockStateAt(current, now);
  if (!current || state === 'expired') {
    // A new lock: the duration counts from now (moto's snapshots are completed at once, never pending).
    return withTimes({ snapshotId: request.snapshotId, ownerId, lockCreatedOn: now, lockDurationStartTime: now }, request, now);
  }
  if (state === 'compliance') {
    // After the cool-off a compliance lock can only be made to last longer.
    if (request.mode !== 'compliance') throw refuse.state(`The snapshot '${request.snapshotId}' is locked in compliance mode and its cooling-off period has expired: its lock mode can't be changed.`);
    if (request.coolOffPeriodHours !== undefined) throw refuse.combination(`The snapshot '${request.snapshotId}' is past its cooling-off period: omit CoolOffPeriod to extend its lock.`);
    const extended = withTimes(current, request, now);
    if (extended.lockExpiresOn < current.lockExpiresOn) {
      throw refuse.state(`The snapshot '${request.snapshotId}' is locked in compliance mode and its cooling-off period has expired: its lock duration can only be increased.`);
    }
    return { ...extended, coolOffPeriodHours: current.coolOffPeriodHours, coolOffPeriodExpiresOn: current.coolOffPeriodExpiresOn };
  }
  // Governance, or compliance in its cool-off: the settings are replaced; a cool-off already running keeps
  // its start, one that begins with this request (from governance) starts now.
  const coolOffStart = state === 'compliance-cooloff' && current.coolOffPeriodExpiresOn !== undefined
    ? current.coolOffPeriodExpiresOn - (current.coolOffPeriodHours ?? 0) * HOUR_MS
    : now;
  const changed = withTimes(current, request, coolOffStart);
  if (changed.lockExpiresOn <= now) {
    throw refuse.value('LockDuration', String(request.lockDurationDays), `The lock would already have expired: its duration counts from ${iso(current.lockDurationStartTime)}.`);
  }
  return changed;
}

/** The lock a request sets on `base`: the expiry from ExpirationDate or from the duration's start, a cool-off from `coolOffStart`. */
function withTimes(base: Pick<SnapshotLock, 'snapshotId' | 'ownerId' | 'lockCreatedOn' | 'lockDurationStartTime'>,
  request: LockRequest, coolOffStart: number): SnapshotLock {
  const lockExpiresOn = request.expirationDate ?? base.lockDurationStartTime + request.lockDurationDays! * DAY_MS;
  const coolOff = request.mode === 'compliance' && request.coolOffPeriodHours !== undefined
    ? { coolOffPeriodHours: request.coolOffPeriodHours, coolOffPeriodExpiresOn: coolOffStart + request.coolOffPeriodHours * HOUR_MS }
    : {};
  return {
    snapshotId: base.snapshotId,
    ownerId: base.ownerId,
    mode: request.mode,
    lockDurationDays: request.lockDurationDays,
    ...coolOff,
    lockCreatedOn: base.lockCreatedOn,
    lockDurationStartTime: base.lockDurationStartTime,
    lockExpiresOn,
  };
}

/** The locks of one emulated account, on a clock the test moves. */
export class SnapshotLocks {
  private readonly locks = new Map<string, SnapshotLock>();
  private offsetMs = 0;
  private readonly baseNow: () => number;

  constructor(options: SnapshotLocksOptions = {}) {
    this.baseNow = options.now ?? Date.now;
  }

  /** The emulation's time, epoch milliseconds. */
  now(): number {
    return this.baseNow() + this.offsetMs;
  }

  /** Moves the emulation's clock forward: cool-offs and locks end as they would in that time. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new Error(`advance takes 0 ms or more, got ${ms}`);
    this.offsetMs += ms;
  }

  /** The lock of a snapshot and its state now, or undefined if it has none. */
  lockOf(snapshotId: string): LockView | undefined {
    const lock = this.locks.get(snapshotId);
    return lock && { ...lock, lockState: lockStateAt(lock, this.now()) };
  }

  /** Every lock held, expired ones included, in snapshot id order. */
  all(): LockView[] {
    return [...this.locks.keys()].sort().map((id) => this.lockOf(id)!);
  }

  /** The refusal a DeleteSnapshot gets while the snapshot's lock has not expired. */
  deleteRefusal(snapshotId: string): Ec2Refusal | undefined {
    const lock = this.lockOf(snapshotId);
    return lock && lock.lockState !== 'expired' ? snapshotLockedRefusal(snapshotId) : undefined;
  }

  /** Drops the lock of a snapshot that no longer exists. */
  forget(snapshotId: string): void {
    this.locks.delete(snapshotId);
  }

  /** Answers one of LOCK_ACTIONS from its query parameters; `lookup` says whether moto knows a snapshot. */
  async answer(action: string, params: URLSearchParams, lookup: SnapshotLookup, requestId: string): Promise<LockAnswer> {
    try {
      if (action === 'LockSnapshot') return { status: 200, body: await this.lock(params, lookup, requestId) };
      if (action === 'UnlockSnapshot') return { status: 200, body: await this.unlock(params, lookup, requestId) };
      if (action === 'DescribeLockedSnapshots') return { status: 200, body: this.describe(params, requestId) };
      throw new Error(`not a snapshot lock action: ${action}`);
    } catch (error) {
      if (error instanceof Ec2Refusal) return { status: error.status, refusal: error };
      throw error;
    }
  }

  private async lock(params: URLSearchParams, lookup: SnapshotLookup, requestId: string): Promise<string> {
    const request = parseLockRequest(params, this.now());
    const ownerId = await lookup(request.snapshotId);
    if (ownerId === undefined) throw refuse.notFound(request.snapshotId);
    const current = this.locks.get(request.snapshotId);
    // Read the clock after the lookup, so a lock made now is judged at the time it is stored.
    const lock = nextLock(current, request, ownerId, this.now());
    if (request.dryRun) throw refuse.dryRun();
    this.locks.set(lock.snapshotId, lock);
    return renderLockSnapshot(this.lockOf(lock.snapshotId)!, requestId);
  }

  private async unlock(params: URLSearchParams, lookup: SnapshotLookup, requestId: string): Promise<string> {
    const snapshotId = params.get('SnapshotId');
    if (!snapshotId) throw refuse.missing('SnapshotId');
    if (await lookup(snapshotId) === undefined) throw refuse.notFound(snapshotId);
    const lock = this.lockOf(snapshotId);
    if (!lock) throw refuse.state(`The snapshot '${snapshotId}' is not locked.`);
    if (lock.lockState === 'compliance') {
      throw refuse.state(`The snapshot '${snapshotId}' is locked in compliance mode and its cooling-off period has expired: it can't be unlocked.`);
    }
    if (params.get('DryRun') === 'true') throw refuse.dryRun();
    this.locks.delete(snapshotId);
    return renderUnlockSnapshot(snapshotId, requestId);
  }

  private describe(params: URLSearchParams, requestId: string): string {
    const query = parseDescribeRequest(params);
    if (query.dryRun) throw refuse.dryRun();
    const ids = query.snapshotIds.length > 0 ? new Set(query.snapshotIds) : undefined;
    const matching = this.all().filter((l) => (!ids || ids.has(l.snapshotId)) && (!query.states || query.states.has(l.lockState)));
    let start = 0;
    if (query.nextToken !== undefined) {
      const after = decodeToken(query.nextToken);
      start = matching.findIndex((l) => l.snapshotId > after);
      if (start < 0) start = matching.length;
    }
    const page = matching.slice(start, query.maxResults === undefined ? undefined : start + query.maxResults);
    const more = start + page.length < matching.length;
    return renderDescribeLockedSnapshots(page, more ? encodeToken(page[page.length - 1].snapshotId) : undefined, requestId);
  }
}

export interface DescribeLockedRequest {
  readonly snapshotIds: readonly string[];
  /** The lock-state filter's values; undefined when there is no such filter. */
  readonly states?: ReadonlySet<LockState>;
  readonly maxResults?: number;
  readonly nextToken?: string;
  readonly dryRun: boolean;
}

/** The members of a query list `Name.1`, `Name.2`, ... in their order. */
function listParam(params: URLSearchParams, name: string): string[] {
  const out: string[] = [];
  for (let i = 1; params.has(`${name}.${i}`); i++) out.push(params.get(`${name}.${i}`)!);
  return out;
}

export function parseDescribeRequest(params: URLSearchParams): DescribeLockedRequest {
  let states: Set<LockState> | undefined;
  for (let i = 1; params.has(`Filter.${i}.Name`); i++) {
    const name = params.get(`Filter.${i}.Name`)!;
    if (name !== 'lock-state') throw refuse.value('Filter', name, 'The only filter is lock-state.');
    const values = listParam(params, `Filter.${i}.Value`);
    for (const v of values) {
      if (!(LOCK_STATES as readonly string[]).includes(v)) throw refuse.value('lock-state', v, `Valid values are ${LOCK_STATES.join(', ')}.`);
    }
    // Filters are joined with AND: a second lock-state filter narrows the first.
    const these = new Set(values as LockState[]);
    states = states ? new Set([...states].filter((s) => these.has(s))) : these;
  }
  const maxResults = intParam(params, 'MaxResults', LOCK_LIMITS.maxResults, 'items');
  const nextToken = params.get('NextToken') ?? undefined;
  if (nextToken !== undefined) decodeToken(nextToken);
  return { snapshotIds: listParam(params, 'SnapshotId'), states, maxResults, nextToken, dryRun: params.get('DryRun') === 'true' };
}

// The token names the last snapshot of the page, so a page never repeats or skips a lock that stays.
const TOKEN_PREFIX = 'locks:';

function encodeToken(lastSnapshotId: string): string {
  return Buffer.from(`${TOKEN_PREFIX}${lastSnapshotId}`, 'utf8').toString('base64');
}

function decodeToken(token: string): string {
  const text = Buffer.from(token, 'base64').toString('utf8');
  if (!text.startsWith(TOKEN_PREFIX) || text.length === TOKEN_PREFIX.length) throw refuse.token(token);
  return text.slice(TOKEN_PREFIX.length);
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function xmlEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The elements of a lock, named as the SDK's EC2 model deserializes them (LockedSnapshotsInfo, LockSnapshotResult). */
function lockElements(lock: LockView, withOwner: boolean): string {
  const fields: Array<[string, string | number | undefined]> = [
    ['ownerId', withOwner ? lock.ownerId : undefined],
    ['snapshotId', lock.snapshotId],
    ['lockState', lock.lockState],
    ['lockDuration', lock.lockDurationDays],
    ['coolOffPeriod', lock.coolOffPeriodHours],
    ['coolOffPeriodExpiresOn', lock.coolOffPeriodExpiresOn === undefined ? undefined : iso(lock.coolOffPeriodExpiresOn)],
    ['lockCreatedOn', iso(lock.lockCreatedOn)],
    ['lockDurationStartTime', iso(lock.lockDurationStartTime)],
    ['lockExpiresOn', iso(lock.lockExpiresOn)],
  ];
  return fields.filter(([, v]) => v !== undefined).map(([k, v]) => `<${k}>${xmlEscape(String(v))}</${k}>`).join('');
}

function response(action: string, requestId: string, inner: string): string {
  return '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<${action}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>${requestId}</requestId>${inner}</${action}Response>`;
}

export function renderLockSnapshot(lock: LockView, requestId: string): string {
  return response('LockSnapshot', requestId, lockElements(lock, false));
}

export function renderUnlockSnapshot(snapshotId: string, requestId: string): string {
  return response('UnlockSnapshot', requestId, `<snapshotId>${xmlEscape(snapshotId)}</snapshotId>`);
}

export function renderDescribeLockedSnapshots(locks: readonly LockView[], nextToken: string | undefined, requestId: string): string {
  const items = locks.map((l) => `<item>${lockElements(l, true)}</item>`).join('');
  return response('DescribeLockedSnapshots', requestId,
    `<snapshotSet>${items}</snapshotSet>${nextToken === undefined ? '' : `<nextToken>${xmlEscape(nextToken)}</nextToken>`}`);
}
