// A local HTTP proxy in front of the moto EC2 emulator that behaves like EC2 under load: it enforces
// EC2's request token buckets per action family (scaled in time), answers throttled calls the way EC2
// does, injects throttling and server faults at seeded rates, makes chosen instances vanish and chosen
// snapshots be in use, and records every request so benchmarks and tests can count what was sent. Late faults
// let a CreateSnapshots reach moto (which makes the set) and then lose the answer: a 500, or a dropped
// connection, as when EC2 did the work but the caller cannot know. With `snapshotLocks` it also keeps EBS
// snapshot locks, which moto lacks (snapshot-locks.ts): it answers LockSnapshot, UnlockSnapshot and
// DescribeLockedSnapshots itself and refuses DeleteSnapshot of a locked snapshot before moto sees it.
import * as crypto from 'crypto';
import * as http from 'http';
import { AddressInfo } from 'net';
import { LOCK_ACTIONS, LockView, SnapshotLocks, SnapshotLocksOptions, snapshotLockedRefusal } from './snapshot-locks';

/** EC2's documented request token buckets, per action family: burst capacity and refill per second. */
export const EC2_LIMITS = {
  mutate: { capacity: 100, refillPerSecond: 5 },
  describe: { capacity: 100, refillPerSecond: 20 },
} as const;

export type ActionFamily = keyof typeof EC2_LIMITS;

/** The family whose bucket an action draws from; actions of no family are not rate limited. */
export function familyOf(action: string): ActionFamily | undefined {
  if (action === 'CreateSnapshots' || action === 'DeleteSnapshot') return 'mutate';
  // EC2 counts the lock actions among its mutating actions.
  if (action === 'LockSnapshot' || action === 'UnlockSnapshot') return 'mutate';
  if (action.startsWith('Describe')) return 'describe';
  return undefined;
}

export type Fault = 'throttled' | 'injected-throttle' | 'injected-error' | 'late-error' | 'late-drop' | 'vanished' | 'in-use' | 'locked';

/** The faults a test can plan for one request. */
export type PlannedFault = 'injected-throttle' | 'injected-error' | 'late-error' | 'late-drop';

/** The actions whose SnapshotId is recorded, and can be given a planned fault. */
const SNAPSHOT_ACTIONS: ReadonlySet<string> = new Set(['DeleteSnapshot', 'LockSnapshot', 'UnlockSnapshot']);

/** Faults decided before moto sees the request, and after: a late fault's request has done its work. */
const LATE_FAULTS: ReadonlySet<Fault> = new Set(['late-error', 'late-drop']);

export interface RequestRecord {
  /** Milliseconds since the proxy started, when the request's body had arrived. */
  readonly atMs: number;
  readonly action: string;
  /** HTTP status sent back (502 if moto could not be reached, 0 if the connection was dropped instead). */
  status: number;
  readonly instanceId?: string;
  readonly snapshotId?: string;
  /** Why the proxy refused the request itself; absent when moto or the lock emulation answered it. */
  readonly fault?: Fault;
  /** The query parameters as sent, for the actions the lock emulation answers (the wire format). */
  readonly params?: Readonly<Record<string, string>>;
}

export interface ActionCounters {
  readonly requests: number;
  /** 2xx answers. */
  readonly ok: number;
  /** 503 RequestLimitExceeded, from the bucket or injected. */
  readonly throttled: number;
  /** Of `throttled`, those the bucket refused (not injected). */
  readonly bucketThrottled: number;
  /** Other 5xx answers. */
  readonly serverErrors: number;
  /** 4xx answers. */
  readonly clientErrors: number;
  /** Connections dropped without an answer. */
  readonly dropped: number;
}

export interface FaultProxyOptions {
  /** moto's endpoint, e.g. http://127.0.0.1:5000. */
  readonly target: string;
  /**
   * How much faster than real time the buckets refill: 10 means 50 CreateSnapshots per second instead of 5.
   * 0 stops refilling (each bucket only has its burst).
   * @default 1
   */
  readonly timeScale?: number;
  /** Share of admitted requests answered with an injected RequestLimitExceeded (503). @default 0 */
  readonly throttleRate?: number;
  /** Share of admitted requests answered with an injected InternalError (500). @default 0 */
  readonly serverErrorRate?: number;
  /**
   * Share of admitted CreateSnapshots requests that reach moto, which makes the set, and are then answered
   * with an InternalError (500) instead of moto's answer. @default 0
   */
  readonly lateErrorRate?: number;
  /**
   * Share of admitted CreateSnapshots requests that reach moto, which makes the set, after which the client's
   * connection is dropped without an answer. @default 0
   */
  readonly lateDropRate?: number;
  /** Seed of the fault draws; the same seed gives each request the same fault in every run. @default 1 */
  readonly seed?: number;
  /** CreateSnapshots for these instances answers 400 InvalidInstanceID.NotFound. */
  readonly vanishInstanceIds?: readonly string[];
  /** DeleteSnapshot for these snapshots answers 400 InvalidSnapshot.InUse. */
  readonly inUseSnapshotIds?: readonly string[];
  /** Replaces EC2's bucket sizes (before time scaling), for tests. */
  readonly limits?: Partial<Record<ActionFamily, { capacity: number; refillPerSecond: number }>>;
  /**
   * The clock of the EBS snapshot lock emulation (moto has none): every clean-up lists locks, so the proxy
   * always answers the lock actions. @default - the real clock
   */
  readonly snapshotLocks?: SnapshotLocksOptions;
}

export interface FaultProxy {
  readonly endpoint: string;
  /** Every request, in the order its body arrived. */
  readonly records: RequestRecord[];
  /** The lock emulation (its clock: `locks.advance(ms)`). */
  readonly locks: SnapshotLocks;
  /** Counters per action, from the records. */
  counters(): Record<string, ActionCounters>;
  /** Makes more instances vanish while the proxy runs. */
  vanish(instanceId: string): void;
  /** Makes a snapshot "in use by an AMI" while the proxy runs. */
  markInUse(snapshotId: string): void;
  /**
   * The next request of `action` for this instance (CreateSnapshots) or snapshot (DeleteSnapshot, LockSnapshot,
   * UnlockSnapshot) gets an injected fault whatever the draws say: an InternalError unless `fault` says
   * otherwise (a late fault lets the request reach moto first).
   */
  failOnce(action: string, subjectId: string, fault?: PlannedFault): void;
  /** A snapshot's lock and its state now; undefined when it has none or locks are not emulated. */
  lockOf(snapshotId: string): LockView | undefined;
  stop(): Promise<void>;
}

/** The bucket EC2 keeps per account and action family; a refused request takes no token. */
class ServerBucket {
  private tokens: number;
  private updatedAt = nowMs();

  constructor(readonly capacity: number, private readonly refillPerSecond: number) {
    this.tokens = capacity;
  }

  tryTake(): boolean {
    const now = nowMs();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.updatedAt) / 1000) * this.refillPerSecond);
    this.updatedAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** A uniform draw in [0, 1) from a string key: mulberry32 seeded with the key's FNV-1a hash. */
/* eslint-disable no-bitwise */ // a seeded PRNG is integer arithmetic on 32 bits
export function draw(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  let t = (h + 0x6d2b79f5) | 0;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
/* eslint-enable no-bitwise */

function xmlEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** EC2's error document: the SDK takes Errors.Error.Code as the error's name. */
export function ec2ErrorXml(code: string, message: string, requestId = crypto.randomUUID()): string {
  return '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Response><Errors><Error><Code>${xmlEscape(code)}</Code><Message>${xmlEscape(message)}</Message></Error></Errors>` +
    `<RequestID>${requestId}</RequestID></Response>`;
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(options.target);
  const timeScale = options.timeScale ?? 1;
  const throttleRate = options.throttleRate ?? 0;
  const serverErrorRate = options.serverErrorRate ?? 0;
  const lateErrorRate = options.lateErrorRate ?? 0;
  const lateDropRate = options.lateDropRate ?? 0;
  const seed = options.seed ?? 1;
  if (!(timeScale >= 0)) throw new Error(`timeScale must be 0 or more, got ${timeScale}`);
  const rates = [['throttleRate', throttleRate], ['serverErrorRate', serverErrorRate], ['lateErrorRate', lateErrorRate], ['lateDropRate', lateDropRate]] as const;
  for (const [name, rate] of rates) {
    if (!(rate >= 0 && rate <= 1)) throw new Error(`${name} must be between 0 and 1, got ${rate}`);
  }
  if (throttleRate + serverErrorRate + lateErrorRate + lateDropRate > 1) {
    throw new Error(`fault rates must add up to 1 at most, got ${throttleRate + serverErrorRate + lateErrorRate + lateDropRate}`);
  }
  const vanished = new Set(options.vanishInstanceIds ?? []);
  const inUse = new Set(options.inUseSnapshotIds ?? []);
  const planned = new Map<string, PlannedFault>();
  const buckets = {} as Record<ActionFamily, ServerBucket>;
  for (const family of Object.keys(EC2_LIMITS) as ActionFamily[]) {
    const limit = options.limits?.[family] ?? EC2_LIMITS[family];
    buckets[family] = new ServerBucket(limit.capacity, limit.refillPerSecond * timeScale);
  }
  const startedAt = nowMs();
  const records: RequestRecord[] = [];
  // Draws are keyed by what the request is about and how often it was sent, not by arrival order, so
  // concurrent runs with the same seed see the same faults on the same requests.
  const sent = new Map<string, number>();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  const locks = new SnapshotLocks(options.snapshotLocks ?? {});

  function answer(res: http.ServerResponse, status: number, code: string, message: string): void {
    const body = ec2ErrorXml(code, message);
    res.writeHead(status, { 'Content-Type': 'text/xml;charset=UTF-8', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }

  function decide(action: string, instanceId?: string, snapshotId?: string): Fault | undefined {
    const family = familyOf(action);
    if (family && !buckets[family].tryTake()) return 'throttled';
    const subject = `${action}:${instanceId ?? snapshotId ?? ''}`;
    const n = (sent.get(subject) ?? 0) + 1;
    sent.set(subject, n);
    // One draw per request decides both injected faults, so raising one rate never reshuffles the other.
    // A planned fault first: these requests fail once whatever the draws say, so a test can rely on it.
    const plannedFault = planned.get(subject);
    if (plannedFault) {
      planned.delete(subject);
      return plannedFault;
    }
    if (family && (throttleRate > 0 || serverErrorRate > 0 || lateErrorRate > 0 || lateDropRate > 0)) {
      // Late faults take the shares after the early ones, so adding them changes no early fault's draw.
      const u = draw(`${seed}:${subject}:${n}`);
      if (u < throttleRate) return 'injected-throttle';
      if (u < throttleRate + serverErrorRate) return 'injected-error';
      if (action === 'CreateSnapshots' && u < throttleRate + serverErrorRate + lateErrorRate) return 'late-error';
      if (action === 'CreateSnapshots' && u < throttleRate + serverErrorRate + lateErrorRate + lateDropRate) return 'late-drop';
    }
    if (action === 'CreateSnapshots' && instanceId && vanished.has(instanceId)) return 'vanished';
    if (action === 'DeleteSnapshot' && snapshotId && inUse.has(snapshotId)) return 'in-use';
    if (action === 'DeleteSnapshot' && snapshotId && locks?.deleteRefusal(snapshotId)) return 'locked';
    return undefined;
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      // moto's own API (/moto-api/...) and anything that is not a Query call pass through unrecorded.
      const isQuery = !(req.url ?? '').startsWith('/moto-api');
      const params = isQuery ? new URLSearchParams(body.toString('utf8')) : undefined;
      const action = params?.get('Action') ?? '';
      let record: RequestRecord | undefined;
      if (isQuery) {
        const instanceId = params?.get('InstanceSpecification.InstanceId') ?? undefined;
        const snapshotId = SNAPSHOT_ACTIONS.has(action) ? params?.get('SnapshotId') ?? undefined : undefined;
        const fault = decide(action, instanceId, snapshotId);
        const sentParams = LOCK_ACTIONS.has(action) && params ? Object.fromEntries(params) : undefined;
        record = { atMs: nowMs() - startedAt, action, status: 0, instanceId, snapshotId, fault, params: sentParams };
        records.push(record);
        switch (fault) {
          case 'throttled':
          case 'injected-throttle':
            record.status = 503;
            return answer(res, 503, 'RequestLimitExceeded', 'Request limit exceeded.');
          case 'injected-error':
            record.status = 500;
            return answer(res, 500, 'InternalError', 'An internal error has occurred.');
          case 'vanished':
            record.status = 400;
            return answer(res, 400, 'InvalidInstanceID.NotFound', `The instance ID '${instanceId}' does not exist`);
          case 'in-use':
            record.status = 400;
            return answer(res, 400, 'InvalidSnapshot.InUse', `The snapshot ${snapshotId} is currently in use by an AMI`);
          case 'locked': {
            const refusal = snapshotLockedRefusal(snapshotId!);
            record.status = refusal.status;
            return answer(res, refusal.status, refusal.code, refusal.message);
          }
          default:
            break;
        }
        if (locks && params && LOCK_ACTIONS.has(action)) return void answerLock(locks, res, record, params, req.headers.authorization);
      }
      const upstream = http.request({
        agent,
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, 'host': target.host, 'content-length': String(body.length) },
      }, (up) => {
        if (record?.fault && LATE_FAULTS.has(record.fault)) {
          // moto has done the work; its answer is thrown away.
          up.resume();
          if (record.fault === 'late-error') {
            record.status = 500;
            answer(res, 500, 'InternalError', 'An internal error has occurred.');
          } else {
            record.status = 0;
            req.socket.destroy();
          }
          return;
        }
        if (record) record.status = up.statusCode ?? 0;
        // A snapshot moto has deleted takes its (expired) lock with it.
        if (locks && record?.action === 'DeleteSnapshot' && record.snapshotId && record.status === 200) locks.forget(record.snapshotId);
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      upstream.on('error', (error) => {
        if (record) record.status = 502;
        if (!res.headersSent) answer(res, 502, 'ProxyError', error.message);
        else res.destroy(error);
      });
      upstream.end(body);
    });
  });
  /** The owner of a snapshot moto knows (DescribeSnapshots by id), or undefined; in the caller's region. */
  async function lookupSnapshot(snapshotId: string, authorization: string | undefined): Promise<string | undefined> {
    const body = new URLSearchParams({ 'Action': 'DescribeSnapshots', 'Version': '2016-11-15', 'SnapshotId.1': snapshotId }).toString();
    const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8' };
    // moto reads the region (and account) from the credential scope of the caller's signature.
    if (authorization) headers.Authorization = authorization;
    const res = await fetch(new URL('/', target), { method: 'POST', headers, body });
    const text = await res.text();
    if (res.status !== 200 || !text.includes(`<snapshotId>${snapshotId}</snapshotId>`)) return undefined;
    return /<ownerId>([^<]*)<\/ownerId>/.exec(text)?.[1] ?? '';
  }

  async function answerLock(emulation: SnapshotLocks, res: http.ServerResponse, record: RequestRecord,
    params: URLSearchParams, authorization: string | undefined): Promise<void> {
    try {
      const result = await emulation.answer(record.action, params, (id) => lookupSnapshot(id, authorization), crypto.randomUUID());
      record.status = result.status;
      if (result.refusal) return answer(res, result.status, result.refusal.code, result.refusal.message);
      const body = result.body ?? '';
      res.writeHead(result.status, { 'Content-Type': 'text/xml;charset=UTF-8', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    } catch (error) {
      record.status = 502;
      answer(res, 502, 'ProxyError', error instanceof Error ? error.message : String(error));
    }
  }

  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    records,
    counters: () => countRecords(records),
    vanish: (instanceId) => { vanished.add(instanceId); },
    markInUse: (snapshotId) => { inUse.add(snapshotId); },
    failOnce: (action, subjectId, fault = 'injected-error') => { planned.set(`${action}:${subjectId}`, fault); },
    locks,
    lockOf: (snapshotId) => locks.lockOf(snapshotId),
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      agent.destroy();
    },
  };
}

export function countRecords(records: readonly RequestRecord[]): Record<string, ActionCounters> {
  const out: Record<string, { -readonly [K in keyof ActionCounters]: number }> = {};
  for (const r of records) {
    const c = out[r.action] ??= { requests: 0, ok: 0, throttled: 0, bucketThrottled: 0, serverErrors: 0, clientErrors: 0, dropped: 0 };
    c.requests += 1;
    if (r.fault === 'late-drop') {c.dropped += 1;} else if (r.status >= 200 && r.status < 300) {c.ok += 1;} else if (r.fault === 'throttled' || r.fault === 'injected-throttle') {
      c.throttled += 1;
      if (r.fault === 'throttled') c.bucketThrottled += 1;
    } else if (r.status >= 500) {c.serverErrors += 1;} else if (r.status >= 400) {c.clientErrors += 1;}
  }
  return out;
}
