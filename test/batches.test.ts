// Unit tests of the pure helpers of orchestrated runs (lambda/batches.ts) and of idempotency per slot
// (lambda/idempotency.ts), on plain data: execution names, batches, the first batch's tokens, batch results
// and their sum, and which instances already have a set for a slot.
import {
  batchResult, BatchResult, cutBatches, executionName, initialTokens, MAX_ERROR_CHARS, MAX_REPORTED_FAILURES, sumBatches,
} from '../lambda/batches';
import { instancesWithSetForSlot } from '../lambda/idempotency';
import { InstanceOutcome, INSTANCE_ID_TAG, POLICY_ID_TAG, SLOT_TAG, SnapshotInfo } from '../lambda/model';

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

describe('instancesWithSetForSlot', () => {
  const POLICY = 'stack/policy';
  const SLOT = '2026-01-01T03:00:00Z';
  const snapshot = (snapshotId: string, state: string, tags: Record<string, string>): SnapshotInfo => ({ snapshotId, state, tags });
  const ours = (instanceId: string, slot = SLOT) => ({ [POLICY_ID_TAG]: POLICY, [INSTANCE_ID_TAG]: instanceId, [SLOT_TAG]: slot });

  test('finds the instances with a snapshot of this policy for this slot, once each', () => {
    const done = instancesWithSetForSlot([
      snapshot('snap-1', 'completed', ours('i-a')),
      snapshot('snap-2', 'completed', ours('i-a')),
      snapshot('snap-3', 'completed', ours('i-b')),
    ], POLICY, SLOT);
    expect([...done].sort()).toEqual(['i-a', 'i-b']);
  });

  test.each(['pending', 'completed', 'error', 'recoverable', 'recovering'])('counts a snapshot in state %s as a set', (state) => {
    expect([...instancesWithSetForSlot([snapshot('snap-1', state, ours('i-a'))], POLICY, SLOT)]).toEqual(['i-a']);
  });

  test('ignores another policy\'s snapshots, other slots, and snapshots without an instance tag', () => {
    const done = instancesWithSetForSlot([
      snapshot('snap-1', 'completed', { ...ours('i-other-policy'), [POLICY_ID_TAG]: 'stack/other' }),
      snapshot('snap-2', 'completed', ours('i-other-slot', '2026-01-02T03:00:00Z')),
      // The same instant written differently is another slot: slots are compared as the tag's text.
      snapshot('snap-3', 'completed', ours('i-same-instant', '2026-01-01T03:00:00.000Z')),
      snapshot('snap-4', 'completed', { [POLICY_ID_TAG]: POLICY, [SLOT_TAG]: SLOT }),
      snapshot('snap-5', 'completed', { ...ours(''), [INSTANCE_ID_TAG]: '' }),
      snapshot('snap-6', 'completed', {}),
      snapshot('snap-7', 'completed', { [INSTANCE_ID_TAG]: 'i-no-policy', [SLOT_TAG]: SLOT }),
      snapshot('snap-8', 'completed', ours('i-mine')),
    ], POLICY, SLOT);
    expect([...done]).toEqual(['i-mine']);
  });

  test('finds nothing among no snapshots', () => {
    expect(instancesWithSetForSlot([], POLICY, SLOT).size).toBe(0);
  });
});
