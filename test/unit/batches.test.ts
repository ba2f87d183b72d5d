// Unit tests of the pure helpers of orchestrated runs and clean-ups (lambda/batches.ts) and of idempotency
// per slot (lambda/idempotency.ts), on plain data: execution names, batches of requests and of sets, the first
// batch's tokens, sets put on hold since the plan, batch results and their sums, and which instances already
// have a set for a slot.
import * as fc from 'fast-check';
import {
  batchResult, BatchResult, cutBatches, cutSetBatches, deleteBatchResult, DeleteBatchResult, executionName, initialTokens,
  MAX_ERROR_CHARS, MAX_REPORTED_FAILURES, mergeAttempts, rerunKey, sumBatches, sumDeleteBatches, withoutHeldSets,
} from '../../lambda/logic/batches';
import { InstanceOutcome } from '../../lambda/logic/model';

/** Step Functions' rule for execution names: 1 to 80 characters, none of them whitespace, brackets, wildcards or `"#%\^|~`$&,;:/`. */
const STEP_FUNCTIONS_NAME = /^[^\s<>{}[\]?*"#%\\^|~`$&,;:/\u0000-\u001f\u007f-\u009f]{1,80}$/;

describe('executionName', () => {
  test('replaces the colons of a slot, which execution names may not hold', () => {
    expect(executionName('2026-01-01T03:00:00Z')).toBe('slot-2026-01-01T03-00-00Z');
  });

  test('gives the same name for the same slot, so a duplicated start finds the name taken', () => {
    expect(executionName('2026-03-29T01:30:00Z')).toBe(executionName('2026-03-29T01:30:00Z'));
  });

  test('gives different names for slots a second apart', () => {
    expect(executionName('2026-03-29T01:30:00Z')).not.toBe(executionName('2026-03-29T01:30:01Z'));
  });

  test.each([
    '2026-01-01T03:00:00Z', '1970-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '2026-02-29T12:00:00Z',
  ])('gives slot %s a name of at most 80 characters that Step Functions accepts', (slot) => {
    const name = executionName(slot);
    expect(name).toMatch(STEP_FUNCTIONS_NAME);
    expect(name.length).toBeLessThanOrEqual(80);
    expect(name).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  test('accepts the longest slot that still gives an 80-character name', () => {
    const slot = 'a'.repeat(75);
    expect(executionName(slot)).toBe(`slot-${slot}`);
    expect(executionName(slot)).toHaveLength(80);
  });

  test.each<[string, string]>([
    ['one character too long', 'a'.repeat(76)],
    ['milliseconds (a dot)', '2026-01-01T03:00:00.000Z'],
    ['a UTC offset (a plus sign)', '2026-01-01T03:00:00+01:00'],
    ['a space', '2026-01-01 03:00:00Z'],
    ['a slash', '2026/01/01'],
    ['the scheduler placeholder left unreplaced', '<aws.scheduler.scheduled-time>'],
  ])('throws for a slot with %s', (_name, slot) => {
    expect(() => executionName(slot)).toThrow(new Error(`slot ${JSON.stringify(slot)} gives no valid execution name`));
  });
});

describe('cutBatches', () => {
  test('cuts into consecutive batches of the batch size, the last one shorter, in order', () => {
    expect(cutBatches([1, 2, 3, 4, 5, 6, 7], 3)).toEqual([[1, 2, 3], [4, 5, 6], [7]]);
  });

  test('cuts an exact multiple into full batches only', () => {
    expect(cutBatches(['a', 'b', 'c', 'd'], 2)).toEqual([['a', 'b'], ['c', 'd']]);
  });

  test('gives one batch when everything fits, and none for no items', () => {
    expect(cutBatches([1, 2], 2175)).toEqual([[1, 2]]);
    expect(cutBatches([], 5)).toEqual([]);
  });

  test('gives ceil(n / size) batches holding every item once', () => {
    const items = Array.from({ length: 4351 }, (_, i) => i);
    const batches = cutBatches(items, 2175);
    expect(batches.map((b) => b.length)).toEqual([2175, 2175, 1]);
    expect(batches.flat()).toEqual(items);
  });

  test('does not change the items it is given', () => {
    const items = Object.freeze([1, 2, 3]);
    expect(cutBatches(items, 1)).toEqual([[1], [2], [3]]);
    expect(items).toEqual([1, 2, 3]);
  });

  test.each([0, -1, 1.5, Number.NaN])('throws for a batch size of %p', (size) => {
    expect(() => cutBatches([1], size)).toThrow(new Error(`batch size must be a whole number of at least 1, got ${size}`));
  });
});

describe('initialTokens', () => {
  test('lets only the first batch spend the burst', () => {
    expect(initialTokens(0, 100)).toBe(100);
  });

  test.each([1, 2, 47])('starts batch %p with an empty bucket', (index) => {
    expect(initialTokens(index, 100)).toBe(0);
  });
});

describe('batchResult', () => {
  const outcome = (instanceId: string, status: InstanceOutcome['status'], error?: string): InstanceOutcome =>
    ({ instanceId, status, ...(error === undefined ? {} : { error }), attempts: 1 });

  test('counts each status and lists the failed and not-reached instances', () => {
    const result = batchResult(3, [
      outcome('i-1', 'created'), outcome('i-2', 'created'), outcome('i-3', 'already-done'), outcome('i-4', 'dry-run'),
      outcome('i-5', 'failed', 'InvalidInstanceID.NotFound: gone'), outcome('i-6', 'not-reached'),
    ], 1234);
    expect(result).toEqual({
      batch: 3,
      created: 2,
      dryRunOk: 1,
      alreadyDone: 1,
      failed: 1,
      notReached: 1,
      failures: [
        { instanceId: 'i-5', status: 'failed', error: 'InvalidInstanceID.NotFound: gone' },
        { instanceId: 'i-6', status: 'not-reached', error: undefined },
      ],
      durationMs: 1234,
    });
  });

  test('reports an empty batch as all zeros', () => {
    expect(batchResult(0, [], 0)).toEqual({
      batch: 0, created: 0, dryRunOk: 0, alreadyDone: 0, failed: 0, notReached: 0, failures: [], durationMs: 0,
    });
  });

  test(`lists at most ${MAX_REPORTED_FAILURES} failures, the first ones, but counts all of them`, () => {
    const outcomes = Array.from({ length: MAX_REPORTED_FAILURES + 50 }, (_, i) => outcome(`i-${i}`, i % 2 === 0 ? 'failed' : 'not-reached', 'x'));
    const result = batchResult(1, outcomes, 10);
    expect(MAX_REPORTED_FAILURES).toBe(20);
    expect(result.failed + result.notReached).toBe(70);
    expect(result.failures).toHaveLength(20);
    expect(result.failures.map((f) => f.instanceId)).toEqual(outcomes.slice(0, 20).map((o) => o.instanceId));
  });

  test('lists all failures when there are exactly as many as the cap', () => {
    const outcomes = Array.from({ length: MAX_REPORTED_FAILURES }, (_, i) => outcome(`i-${i}`, 'failed', 'x'));
    expect(batchResult(1, outcomes, 10).failures).toHaveLength(MAX_REPORTED_FAILURES);
  });

  test('the results of 40 batches (87,000 instances) that all failed stay inside the 256 KB state limit', () => {
    const worst = batchResult(0, Array.from({ length: 2175 }, (_, i) => outcome(`i-${String(i).padStart(17, '0')}`, 'failed', 'x'.repeat(5000))), 450_000);
    const size = Buffer.byteLength(JSON.stringify(Array.from({ length: 40 }, () => worst)));
    expect(size).toBeLessThan(256 * 1024);
  });

  test('cuts each error text to 200 characters', () => {
    expect(MAX_ERROR_CHARS).toBe(200);
    const result = batchResult(0, [outcome('i-1', 'failed', 'e'.repeat(201)), outcome('i-2', 'failed', 'f'.repeat(200))], 0);
    expect(result.failures.map((f) => f.error)).toEqual(['e'.repeat(200), 'f'.repeat(200)]);
  });
});

describe('sumBatches', () => {
  const result = (batch: number, counts: Partial<BatchResult>): BatchResult => ({
    batch, created: 0, dryRunOk: 0, alreadyDone: 0, failed: 0, notReached: 0, failures: [], durationMs: 0, ...counts,
  });

  test('adds every count up and joins the failures in batch order', () => {
    const total = sumBatches([
      result(0, { created: 2, alreadyDone: 1, failed: 1, failures: [{ instanceId: 'i-1', status: 'failed', error: 'boom' }], durationMs: 50 }),
      result(1, { created: 3, dryRunOk: 4, notReached: 2, failures: [{ instanceId: 'i-7', status: 'not-reached' }, { instanceId: 'i-8', status: 'not-reached' }] }),
      // A batch the state machine could not run (its BatchNotRun state): every instance not reached.
      { ...result(2, { notReached: 5 }), error: 'Lambda.Unknown' } as BatchResult,
    ]);
    expect(total).toEqual({
      batches: 3,
      created: 5,
      dryRunOk: 4,
      alreadyDone: 1,
      failed: 1,
      notReached: 7,
      failures: [
        { instanceId: 'i-1', status: 'failed', error: 'boom' },
        { instanceId: 'i-7', status: 'not-reached' },
        { instanceId: 'i-8', status: 'not-reached' },
      ],
    });
  });

  test('sums no batches to zeros', () => {
    expect(sumBatches([])).toEqual({ batches: 0, created: 0, dryRunOk: 0, alreadyDone: 0, failed: 0, notReached: 0, failures: [] });
  });
});

describe('mergeAttempts', () => {
  const first: BatchResult = {
    batch: 4,
    created: 1500,
    dryRunOk: 0,
    alreadyDone: 20,
    failed: 2,
    notReached: 653,
    failures: [
      { instanceId: 'i-f1', status: 'failed', error: 'InvalidInstanceID.NotFound: gone' },
      { instanceId: 'i-n1', status: 'not-reached' },
      { instanceId: 'i-f2', status: 'failed', error: 'InternalError' },
      { instanceId: 'i-n2', status: 'not-reached' },
    ],
    durationMs: 870_000,
  };

  test('adds every count of the earlier attempts, keeps only the latest not reached, and drops the not-reached names it retried', () => {
    const rerun: BatchResult = {
      batch: 4,
      created: 650,
      dryRunOk: 0,
      alreadyDone: 1,
      failed: 1,
      notReached: 1,
      failures: [{ instanceId: 'i-f3', status: 'failed', error: 'boom' }, { instanceId: 'i-n1', status: 'not-reached' }],
      durationMs: 140_000,
    };
    expect(mergeAttempts(first, rerun)).toEqual({
      batch: 4,
      created: 2150,
      dryRunOk: 0,
      alreadyDone: 21,
      failed: 3,
      notReached: 1,
      failures: [
        { instanceId: 'i-f1', status: 'failed', error: 'InvalidInstanceID.NotFound: gone' },
        { instanceId: 'i-f2', status: 'failed', error: 'InternalError' },
        { instanceId: 'i-f3', status: 'failed', error: 'boom' },
        { instanceId: 'i-n1', status: 'not-reached' },
      ],
      durationMs: 1_010_000,
    });
  });

  test('the totals of a batch over its attempts count each instance once', () => {
    // 2,175 instances: the first attempt reached 1,522 of them, the rerun the other 653.
    const rerun = batchResult(4, [
      ...Array.from({ length: 652 }, (_, i): InstanceOutcome => ({ instanceId: `i-r${i}`, status: 'created', snapshotIds: ['snap'], attempts: 1 })),
      { instanceId: 'i-last', status: 'failed', error: 'x', attempts: 8 },
    ], 1);
    const merged = mergeAttempts(first, rerun);
    expect(merged.created + merged.dryRunOk + merged.alreadyDone + merged.failed + merged.notReached).toBe(2175);
  });

  test('a first attempt, with no result so far ({} from the state machine, or none), is its own result', () => {
    expect(mergeAttempts({}, first)).toEqual({ ...first, failures: first.failures });
    expect(mergeAttempts(undefined, first)).toEqual(first);
  });

  test(`names at most ${MAX_REPORTED_FAILURES} failures over all attempts`, () => {
    const many = (prefix: string): BatchResult['failures'] => Array.from({ length: 15 }, (_, i) => ({ instanceId: `${prefix}${i}`, status: 'failed' }));
    const merged = mergeAttempts({ ...first, failures: many('i-a') }, { ...first, failures: many('i-b') });
    expect(merged.failures.map((f) => f.instanceId)).toEqual([...many('i-a'), ...many('i-b')].slice(0, MAX_REPORTED_FAILURES).map((f) => f.instanceId));
  });
});

describe('rerunKey', () => {
  test('puts the attempt beside the batch object', () => {
    expect(rerunKey('runs/MyStack%2FNightly/2026-01-01T03:00:00Z/batch-00002.json', 1))
      .toBe('runs/MyStack%2FNightly/2026-01-01T03:00:00Z/batch-00002-rerun-1.json');
  });
});

/** A set of `size` snapshots named after `name`. */
const set = (name: string, size: number) => ({ name, snapshotIds: Array.from({ length: size }, (_, i) => `snap-${name}-${i}`) });

describe('cutSetBatches', () => {
  test('fills a batch with whole sets up to the snapshot limit, in order', () => {
    const batches = cutSetBatches([set('a', 2), set('b', 2), set('c', 1), set('d', 3)], 5);
    expect(batches.map((b) => b.map((s) => s.name))).toEqual([['a', 'b', 'c'], ['d']]);
  });

  test('starts a new batch rather than split a set', () => {
    const batches = cutSetBatches([set('a', 3), set('b', 3), set('c', 3)], 5);
    expect(batches.map((b) => b.map((s) => s.name))).toEqual([['a'], ['b'], ['c']]);
  });

  test('gives a set larger than the limit a batch of its own', () => {
    const batches = cutSetBatches([set('a', 1), set('big', 9), set('c', 1)], 4);
    expect(batches.map((b) => b.map((s) => s.name))).toEqual([['a'], ['big'], ['c']]);
  });

  test('cuts nothing into no batches', () => {
    expect(cutSetBatches([], 10)).toEqual([]);
  });

  test.each([0, -1, 1.5, Number.NaN])('rejects a batch size of %p', (size) => {
    expect(() => cutSetBatches([set('a', 1)], size)).toThrow(`batch size must be a whole number of at least 1, got ${size}`);
  });

  test('over random sets: every set lands whole in exactly one batch, in order, and no batch of several sets exceeds the limit', () => {
    fc.assert(fc.property(
      fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 60 }), fc.integer({ min: 1, max: 50 }),
      (sizes, limit) => {
        const sets = sizes.map((n, i) => set(String(i), n));
        const batches = cutSetBatches(sets, limit);
        expect(batches.flat()).toEqual(sets);
        for (const batch of batches) {
          expect(batch.length).toBeGreaterThan(0);
          const snapshots = batch.reduce((n, s) => n + s.snapshotIds.length, 0);
          if (batch.length > 1) expect(snapshots).toBeLessThanOrEqual(limit);
        }
        // Greedy: a batch closes only when the next set would not fit.
        for (let i = 0; i + 1 < batches.length; i++) {
          const snapshots = batches[i].reduce((n, s) => n + s.snapshotIds.length, 0);
          expect(snapshots + batches[i + 1][0].snapshotIds.length).toBeGreaterThan(limit);
        }
      },
    ), { numRuns: 500 });
  });
});

describe('withoutHeldSets', () => {
  test('keeps back every set with any held snapshot and passes the rest on, in order', () => {
    const sets = [set('a', 2), set('b', 3), set('c', 1), set('d', 2)];
    const { toDelete, held } = withoutHeldSets(sets, new Set(['snap-b-2', 'snap-d-0', 'snap-elsewhere']));
    expect(toDelete.map((s) => s.name)).toEqual(['a', 'c']);
    expect(held.map((s) => s.name)).toEqual(['b', 'd']);
  });

  test('passes every set on when nothing is held', () => {
    const sets = [set('a', 2), set('b', 1)];
    expect(withoutHeldSets(sets, new Set())).toEqual({ toDelete: sets, held: [] });
  });
});

describe('deleteBatchResult', () => {
  test('counts deletions, held sets and skipped snapshots', () => {
    const result = deleteBatchResult(3, {
      setsDeleted: 4, snapshotsDeleted: 9, duplicatesDeleted: 2, snapshotsSkipped: [{ snapshotId: 'snap-1', error: 'InvalidSnapshot.InUse: used by ami-1' }],
    }, 2, 1234);
    expect(result).toEqual({
      batch: 3,
      setsDeleted: 4,
      snapshotsDeleted: 9,
      duplicatesDeleted: 2,
      setsHeld: 2,
      snapshotsSkipped: 1,
      skipped: [{ snapshotId: 'snap-1', error: 'InvalidSnapshot.InUse: used by ami-1' }],
      durationMs: 1234,
    });
  });

  test(`names at most ${MAX_REPORTED_FAILURES} skipped snapshots, each error cut to ${MAX_ERROR_CHARS} characters, and counts them all`, () => {
    const skipped = Array.from({ length: 50 }, (_, i) => ({ snapshotId: `snap-${i}`, error: 'x'.repeat(1000) }));
    const result = deleteBatchResult(0, { setsDeleted: 0, snapshotsDeleted: 0, duplicatesDeleted: 0, snapshotsSkipped: skipped }, 0, 0);
    expect(result.snapshotsSkipped).toBe(50);
    expect(result.skipped).toHaveLength(MAX_REPORTED_FAILURES);
    expect(result.skipped.map((s) => s.snapshotId)).toEqual(skipped.slice(0, MAX_REPORTED_FAILURES).map((s) => s.snapshotId));
    expect(result.skipped.every((s) => s.error.length === MAX_ERROR_CHARS)).toBe(true);
  });
});

describe('sumDeleteBatches', () => {
  test('adds every count up and concatenates the skipped snapshots in batch order', () => {
    const results: DeleteBatchResult[] = [
      { batch: 0, setsDeleted: 5, snapshotsDeleted: 11, duplicatesDeleted: 1, setsHeld: 0, snapshotsSkipped: 1, skipped: [{ snapshotId: 'snap-a', error: 'e' }], durationMs: 10 },
      { batch: 1, setsDeleted: 0, snapshotsDeleted: 0, duplicatesDeleted: 0, setsHeld: 0, snapshotsSkipped: 40, skipped: [], durationMs: 0 },
      { batch: 2, setsDeleted: 2, snapshotsDeleted: 4, duplicatesDeleted: 2, setsHeld: 1, snapshotsSkipped: 1, skipped: [{ snapshotId: 'snap-b', error: 'f' }], durationMs: 5 },
    ];
    expect(sumDeleteBatches(results)).toEqual({
      batches: 3,
      setsDeleted: 7,
      snapshotsDeleted: 15,
      duplicatesDeleted: 3,
      setsHeld: 1,
      snapshotsSkipped: 42,
      skipped: [{ snapshotId: 'snap-a', error: 'e' }, { snapshotId: 'snap-b', error: 'f' }],
    });
  });

  test('adds nothing up to zeros', () => {
    expect(sumDeleteBatches([])).toEqual({
      batches: 0, setsDeleted: 0, snapshotsDeleted: 0, duplicatesDeleted: 0, setsHeld: 0, snapshotsSkipped: 0, skipped: [],
    });
  });
});
