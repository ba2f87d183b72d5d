// Unit tests of the pacer (lambda/pacer.ts) on a virtual clock with a fake token bucket, and of the error
// classification it relies on (lambda/errors.ts).
import { errorCode, errorMessage, isAmbiguous, isRetryable, isThrottling } from '../../lambda/support/errors';
import { defaultBackoffMs, PacedResult, PacerOptions, runPaced } from '../../lambda/support/pacer';
import { TokenBucket } from '../../lambda/support/rate-limiter';
import { VirtualClock } from '../support/virtual-clock';

/** A bucket that never makes anyone wait unless told to, and counts the tokens taken. */
class FakeBucket {
  taken = 0;
  /** When each throttled request the bucket was told of had been sent. */
  throttledSentAt: number[] = [];
  admissions = 0;
  constructor(private readonly delay = 0) {}
  delayMs(): number {
    return this.delay;
  }
  async take(): Promise<void> {
    this.taken += 1;
  }
  throttled(sentAt: number): void {
    this.throttledSentAt.push(sentAt);
  }
  admitted(): void {
    this.admissions += 1;
  }
}

const START = 1_000_000;

function setup(overrides: Partial<PacerOptions> = {}, bucket = new FakeBucket()) {
  const clock = new VirtualClock(START);
  const options: PacerOptions = {
    bucket: bucket as unknown as TokenBucket,
    concurrency: 4,
    deadline: START + 3_600_000,
    maxAttempts: 3,
    backoffMs: (attempt) => 1000 * attempt,
    clock,
    ...overrides,
  };
  return { clock, bucket, options };
}

async function run<T, R>(clock: VirtualClock, items: T[], call: (item: T) => Promise<R>, options: PacerOptions): Promise<Array<PacedResult<R>>> {
  const done = runPaced(items, call, options as PacerOptions<T, R>);
  await clock.run();
  return done;
}

/** An EC2 error as the SDK throws it: an Error whose name is the code. */
function ec2Error(code: string, message: string, httpStatusCode?: number): Error {
  return Object.assign(new Error(message), { name: code, $metadata: { httpStatusCode } });
}

const THROTTLED = { name: 'RequestLimitExceeded', message: 'Request limit exceeded.', $metadata: { httpStatusCode: 503 } };

describe('runPaced', () => {
  test('keeps the input order in its results when later items finish first', async () => {
    const { clock, options } = setup({ concurrency: 3 });
    const results = await run(clock, [300, 100, 200], async (ms) => {
      await clock.sleep(ms);
      return `done after ${ms}`;
    }, options);
    expect(results).toEqual([
      { status: 'ok', value: 'done after 300', attempts: 1 },
      { status: 'ok', value: 'done after 100', attempts: 1 },
      { status: 'ok', value: 'done after 200', attempts: 1 },
    ]);
  });

  test('has at most `concurrency` calls in flight', async () => {
    const { clock, options } = setup({ concurrency: 3 });
    let inFlight = 0;
    let maxInFlight = 0;
    const results = await run(clock, Array.from({ length: 10 }, (_, i) => i), async (i) => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await clock.sleep(100);
      inFlight -= 1;
      return i;
    }, options);
    expect(maxInFlight).toBe(3);
    expect(clock.now() - START).toBe(400);
    expect(results.map((r) => (r.status === 'ok' ? r.value : r.status))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  test('runs every item at once when the concurrency exceeds the items', async () => {
    const { clock, options } = setup({ concurrency: 50 });
    let inFlight = 0;
    let maxInFlight = 0;
    await run(clock, [1, 2, 3, 4], async () => {
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await clock.sleep(100);
      inFlight -= 1;
    }, options);
    expect(maxInFlight).toBe(4);
    expect(clock.now() - START).toBe(100);
  });

  test('runs one call at a time when the concurrency is below one', async () => {
    const { clock, options } = setup({ concurrency: 0 });
    const results = await run(clock, ['a', 'b'], async (item) => {
      await clock.sleep(100);
      return item;
    }, options);
    expect(results.map((r) => r.status)).toEqual(['ok', 'ok']);
    expect(clock.now() - START).toBe(200);
  });

  test('returns no result and makes no call for no items', async () => {
    const { clock, bucket, options } = setup();
    const call = jest.fn(async () => 'x');
    expect(await run(clock, [], call, options)).toEqual([]);
    expect(call).not.toHaveBeenCalled();
    expect(bucket.taken).toBe(0);
  });

  test('retries a retryable error after the backoff, taking a token for every attempt', async () => {
    const backoff = jest.fn((attempt: number) => 1000 * attempt);
    const { clock, bucket, options } = setup({ maxAttempts: 5, backoffMs: backoff });
    const startedAt: number[] = [];
    const results = await run(clock, ['i-a'], async () => {
      startedAt.push(clock.now() - START);
      if (startedAt.length < 3) throw THROTTLED;
      return 'snap-set';
    }, options);
    expect(results).toEqual([{ status: 'ok', value: 'snap-set', attempts: 3 }]);
    expect(startedAt).toEqual([0, 1000, 3000]);
    expect(backoff.mock.calls).toEqual([[1, THROTTLED], [2, THROTTLED]]);
    expect(bucket.taken).toBe(3);
    // Each throttling answer empties the local bucket, to fall back in step with the server's.
    expect(bucket.throttledSentAt.length).toBe(2);
  });

  test('does not empty the bucket for errors that are not throttling', async () => {
    const { clock, bucket, options } = setup({ maxAttempts: 2 });
    await run(clock, ['i-a'], async () => {
      throw Object.assign(new Error('boom'), { name: 'InternalError' });
    }, options);
    expect(bucket.taken).toBe(2);
    expect(bucket.throttledSentAt.length).toBe(0);
  });

  test('gives up a retryable error after maxAttempts and reports the last error', async () => {
    const { clock, bucket, options } = setup({ maxAttempts: 4 });
    const call = jest.fn(async () => {
      throw ec2Error('InternalError', 'An internal error has occurred.', 500);
    });
    const results = await run(clock, ['i-a'], call, options);
    expect(results).toEqual([{
      status: 'failed', code: 'InternalError', error: 'InternalError: An internal error has occurred.', attempts: 4,
    }]);
    expect(call).toHaveBeenCalledTimes(4);
    expect(bucket.taken).toBe(4);
  });

  test.each([
    ['SnapshotCreationPerVolumeRateExceeded'],
    ['ConcurrentSnapshotLimitExceeded'],
    ['InternalError'],
  ])('retries %s up to maxAttempts', async (code) => {
    const { clock, options } = setup({ maxAttempts: 2 });
    const call = jest.fn(async () => {
      throw { name: code, message: 'try again' };
    });
    const results = await run(clock, ['i-a'], call, options);
    expect(results).toEqual([{ status: 'failed', code, error: `${code}: try again`, attempts: 2 }]);
  });

  test('a throttled attempt does not use up one of the item\'s attempts', async () => {
    const { clock, bucket, options } = setup({ maxAttempts: 2, backoffMs: () => 1000 });
    let calls = 0;
    const results = await run(clock, ['i-a'], async () => {
      calls += 1;
      if (calls <= 6) throw THROTTLED;
      if (calls === 7) throw ec2Error('InternalError', 'boom', 500);
      return 'snap-set';
    }, options);
    // Six refusals and one real error: with two attempts allowed, the eighth call is still made.
    expect(results).toEqual([{ status: 'ok', value: 'snap-set', attempts: 8 }]);
    expect(bucket.throttledSentAt).toEqual([0, 1000, 2000, 3000, 4000, 5000].map((t) => START + t));
    // The 500 and the success were admitted by the server; refusals were not.
    expect(bucket.admissions).toBe(2);
  });

  test('keeps trying a throttled item while the run has time, then reports the throttling', async () => {
    const { clock, bucket, options } = setup({ maxAttempts: 2, deadline: START + 10_500, backoffMs: () => 1000 });
    const results = await run(clock, ['i-a'], async () => {
      throw THROTTLED;
    }, options);
    expect(results).toEqual([{
      status: 'failed', code: 'RequestLimitExceeded', error: 'RequestLimitExceeded: Request limit exceeded.', attempts: 11,
    }]);
    // Calls at 0, 1 s, ... 10 s; the next would start at 11 s, after the deadline.
    expect(bucket.taken).toBe(11);
    expect(clock.now()).toBe(START + 10_000);
  });

  test.each([
    ['InvalidInstanceID.NotFound', 'The instance ID does not exist'],
    ['UnauthorizedOperation', 'You are not authorized'],
    ['DryRunOperation', 'Request would have succeeded, but DryRun flag is set.'],
  ])('does not retry %s', async (code, message) => {
    const { clock, bucket, options } = setup({ maxAttempts: 5 });
    const call = jest.fn(async () => {
      throw ec2Error(code, message, 400);
    });
    const results = await run(clock, ['i-a'], call, options);
    expect(results).toEqual([{ status: 'failed', code, error: `${code}: ${message}`, attempts: 1 }]);
    expect(call).toHaveBeenCalledTimes(1);
    expect(bucket.taken).toBe(1);
    expect(clock.now()).toBe(START);
  });

  test('one item\'s failure does not stop the others', async () => {
    const { clock, options } = setup({ concurrency: 1 });
    const results = await run(clock, ['i-a', 'i-bad', 'i-c'], async (id) => {
      if (id === 'i-bad') throw ec2Error('InvalidInstanceID.NotFound', 'gone', 400);
      return id;
    }, options);
    expect(results).toEqual([
      { status: 'ok', value: 'i-a', attempts: 1 },
      { status: 'failed', code: 'InvalidInstanceID.NotFound', error: 'InvalidInstanceID.NotFound: gone', attempts: 1 },
      { status: 'ok', value: 'i-c', attempts: 1 },
    ]);
  });

  test('reports a call that throws before returning a promise as failed', async () => {
    const { clock, options } = setup();
    const results = await run(clock, ['i-a', 'i-b'], (id) => {
      if (id === 'i-a') throw new TypeError('cannot read properties of undefined');
      return Promise.resolve(id);
    }, options);
    expect(results).toEqual([
      { status: 'failed', code: 'TypeError', error: 'TypeError: cannot read properties of undefined', attempts: 1 },
      { status: 'ok', value: 'i-b', attempts: 1 },
    ]);
  });

  test('does not start items after the deadline and reports them as not reached', async () => {
    const { clock, bucket, options } = setup({ concurrency: 1, deadline: START + 2500 });
    const call = jest.fn(async (id: string) => {
      await clock.sleep(1000);
      return id;
    });
    const results = await run(clock, ['a', 'b', 'c', 'd', 'e'], call, options);
    expect(results).toEqual([
      { status: 'ok', value: 'a', attempts: 1 },
      { status: 'ok', value: 'b', attempts: 1 },
      { status: 'ok', value: 'c', attempts: 1 },
      { status: 'not-reached', attempts: 0 },
      { status: 'not-reached', attempts: 0 },
    ]);
    expect(call.mock.calls.map(([id]) => id)).toEqual(['a', 'b', 'c']);
    expect(bucket.taken).toBe(3);
  });

  test('does not start a call at the deadline itself', async () => {
    const { clock, options } = setup({ concurrency: 1, deadline: START + 1000 });
    const results = await run(clock, ['a', 'b'], async (id) => {
      await clock.sleep(1000);
      return id;
    }, options);
    expect(results.map((r) => r.status)).toEqual(['ok', 'not-reached']);
  });

  test('does not start a call when the wait for a token would pass the deadline', async () => {
    const { clock, bucket, options } = setup({ deadline: START + 1000 }, new FakeBucket(1000));
    const call = jest.fn(async () => 'x');
    const results = await run(clock, ['a', 'b'], call, options);
    expect(results).toEqual([{ status: 'not-reached', attempts: 0 }, { status: 'not-reached', attempts: 0 }]);
    expect(call).not.toHaveBeenCalled();
    expect(bucket.taken).toBe(0);
  });

  test('does not wait for a retry that could not start before the deadline, and reports the error', async () => {
    const { clock, options } = setup({ deadline: START + 5000, maxAttempts: 5, backoffMs: () => 5000 });
    const call = jest.fn(async () => {
      throw THROTTLED;
    });
    const results = await run(clock, ['a'], call, options);
    expect(results).toEqual([{
      status: 'failed', code: 'RequestLimitExceeded', error: 'RequestLimitExceeded: Request limit exceeded.', attempts: 1,
    }]);
    expect(call).toHaveBeenCalledTimes(1);
    expect(clock.now()).toBe(START);
  });

  test('paces calls with a real token bucket: each attempt waits for its token', async () => {
    const clock = new VirtualClock(START);
    const bucket = new TokenBucket(2, 1, clock);
    const startedAt: Array<[string, number]> = [];
    let failedOnce = false;
    const done = runPaced(['a', 'b', 'c'], async (id) => {
      startedAt.push([id, clock.now() - START]);
      if (id === 'b' && !failedOnce) {
        failedOnce = true;
        throw THROTTLED;
      }
      return id;
    }, { bucket, clock, concurrency: 3, deadline: START + 60_000, maxAttempts: 3, backoffMs: () => 0 });
    await clock.run();
    expect((await done).map((r) => r.attempts)).toEqual([1, 2, 1]);
    // a and b take the burst; b's throttling lowers the refill rate to 0.7/s, so c waits for the first token
    // refilled at that rate, b's retry for the second.
    expect(startedAt.map(([id]) => id)).toEqual(['a', 'b', 'c', 'b']);
    const times = startedAt.map(([, t]) => t);
    expect(times[0]).toBe(0);
    expect(times[1]).toBe(0);
    expect(times[2]).toBeCloseTo(1000 / 0.7, 6);
    expect(times[3]).toBeCloseTo(2000 / 0.7, 6);
  });
});

describe('runPaced after an ambiguous failure', () => {
  const internalError = () => ec2Error('InternalError', 'An internal error has occurred.', 500);

  test('takes the work found done by the check as the result, without sending the call again', async () => {
    const resolveAmbiguous = jest.fn(async (id: unknown) => [`snap-of-${String(id)}`]);
    const { clock, bucket, options } = setup({ resolveAmbiguous });
    const call = jest.fn(async (): Promise<string[]> => {
      throw internalError();
    });
    const results = await run(clock, ['i-a'], call, options);
    expect(results).toEqual([{ status: 'ok', value: ['snap-of-i-a'], attempts: 1, foundByCheck: true }]);
    expect(call).toHaveBeenCalledTimes(1);
    expect(resolveAmbiguous).toHaveBeenCalledWith('i-a', expect.objectContaining({ name: 'InternalError' }));
    expect(bucket.taken).toBe(1);
  });

  test('sends the call again once the check says it was not carried out', async () => {
    const order: string[] = [];
    const { clock, options } = setup({
      resolveAmbiguous: async () => {
        order.push('check');
        return undefined;
      },
    });
    const results = await run(clock, ['i-a'], async () => {
      order.push('call');
      if (order.length === 1) throw internalError();
      return 'snap-set';
    }, options);
    expect(results).toEqual([{ status: 'ok', value: 'snap-set', attempts: 2 }]);
    expect(order).toEqual(['call', 'check', 'call']);
  });

  test.each([
    ['a reset connection', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })],
    ['a timeout', { name: 'TimeoutError', message: 'timed out' }],
    ['an unknown 5xx', ec2Error('SomeNewFault', 'x', 502)],
    ['ServiceUnavailable', ec2Error('ServiceUnavailable', 'x', 503)],
  ])('checks before retrying after %s', async (_name, error) => {
    const resolveAmbiguous = jest.fn(async () => 'found');
    const { clock, options } = setup({ resolveAmbiguous });
    const call = jest.fn(async () => {
      throw error;
    });
    expect(await run(clock, ['i-a'], call, options)).toEqual([{ status: 'ok', value: 'found', attempts: 1, foundByCheck: true }]);
    expect(resolveAmbiguous).toHaveBeenCalledTimes(1);
  });

  test.each([
    ['throttling', THROTTLED],
    ['a per-volume rate refusal', ec2Error('SnapshotCreationPerVolumeRateExceeded', 'x', 400)],
    ['a concurrent snapshot refusal', ec2Error('ConcurrentSnapshotLimitExceeded', 'x', 400)],
    ['a refused connection', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })],
  ])('retries %s without a check: the request was not carried out', async (_name, error) => {
    const resolveAmbiguous = jest.fn(async () => 'found');
    const { clock, options } = setup({ resolveAmbiguous });
    let calls = 0;
    const results = await run(clock, ['i-a'], async () => {
      calls += 1;
      if (calls === 1) throw error;
      return 'sent';
    }, options);
    expect(results).toEqual([{ status: 'ok', value: 'sent', attempts: 2 }]);
    expect(resolveAmbiguous).not.toHaveBeenCalled();
  });

  test('does not check after a client error, which is not retried', async () => {
    const resolveAmbiguous = jest.fn(async () => 'found');
    const { clock, options } = setup({ resolveAmbiguous });
    const results = await run(clock, ['i-a'], async () => {
      throw ec2Error('InvalidInstanceID.NotFound', 'gone', 400);
    }, options);
    expect(results).toEqual([{ status: 'failed', code: 'InvalidInstanceID.NotFound', error: 'InvalidInstanceID.NotFound: gone', attempts: 1 }]);
    expect(resolveAmbiguous).not.toHaveBeenCalled();
  });

  test('a check that cannot tell is asked again after a backoff, and counts as an attempt', async () => {
    let checks = 0;
    const { clock, options } = setup({
      maxAttempts: 5,
      backoffMs: () => 700,
      resolveAmbiguous: async () => {
        checks += 1;
        if (checks < 3) throw new Error('DescribeSnapshots failed');
        return 'found';
      },
    });
    const call = jest.fn(async () => {
      throw internalError();
    });
    const results = await run(clock, ['i-a'], call, options);
    expect(results).toEqual([{ status: 'ok', value: 'found', attempts: 1, foundByCheck: true }]);
    expect(call).toHaveBeenCalledTimes(1);
    expect(clock.now()).toBe(START + 1400);
  });

  test('gives up when checks keep failing, with the call\'s own error, never sending it again unchecked', async () => {
    const { clock, options } = setup({
      maxAttempts: 3,
      resolveAmbiguous: async () => {
        throw new Error('DescribeSnapshots failed');
      },
    });
    const call = jest.fn(async () => {
      throw internalError();
    });
    const results = await run(clock, ['i-a'], call, options);
    expect(results).toEqual([{ status: 'failed', code: 'InternalError', error: 'InternalError: An internal error has occurred.', attempts: 1 }]);
    expect(call).toHaveBeenCalledTimes(1);
  });

  test('checks after the last allowed attempt too: found work is a success, absent work a failure', async () => {
    const found = setup({ maxAttempts: 1, resolveAmbiguous: async () => 'found' });
    const failing = async (): Promise<string> => {
      throw internalError();
    };
    expect(await run(found.clock, ['i-a'], failing, found.options)).toEqual([{ status: 'ok', value: 'found', attempts: 1, foundByCheck: true }]);
    const absent = setup({ maxAttempts: 1, resolveAmbiguous: async () => undefined });
    const call = jest.fn(failing);
    expect(await run(absent.clock, ['i-a'], call, absent.options)).toEqual([
      { status: 'failed', code: 'InternalError', error: 'InternalError: An internal error has occurred.', attempts: 1 },
    ]);
    expect(call).toHaveBeenCalledTimes(1);
  });

  test('an item waiting for its check or its backoff gives its place in flight to the next item', async () => {
    const { clock, options } = setup({
      concurrency: 1,
      backoffMs: () => 10_000,
      resolveAmbiguous: async () => {
        await clock.sleep(10_000);
        return undefined;
      },
    });
    const calls: Array<[string, number]> = [];
    const results = await run(clock, ['a', 'b', 'c'], async (id) => {
      calls.push([id, clock.now() - START]);
      await clock.sleep(100);
      if (calls.filter(([c]) => c === id).length === 1 && id !== 'c') throw id === 'a' ? internalError() : THROTTLED;
      return id;
    }, options);
    expect(results.map((r) => r.status)).toEqual(['ok', 'ok', 'ok']);
    // b and c are sent while a waits for its check (from 100 ms) and b for its backoff (from 200 ms).
    expect(calls).toEqual([['a', 0], ['b', 100], ['c', 200], ['a', 10_100], ['b', 10_200]]);
  });

  test('does not send the call again when the check answers after the deadline', async () => {
    const { clock, options } = setup({
      deadline: START + 5000,
      resolveAmbiguous: async () => {
        await clock.sleep(6000);
        return undefined;
      },
    });
    const call = jest.fn(async () => {
      throw internalError();
    });
    const results = await run(clock, ['i-a'], call, options);
    expect(results.map((r) => r.status)).toEqual(['failed']);
    expect(call).toHaveBeenCalledTimes(1);
  });
});

describe('defaultBackoffMs', () => {
  let random: jest.SpiedFunction<typeof Math.random>;
  beforeEach(() => {
    random = jest.spyOn(Math, 'random').mockReturnValue(0.5);
  });
  afterEach(() => {
    random.mockRestore();
  });

  test.each([
    [1, 500],
    [2, 1000],
    [3, 2000],
    [5, 8000],
    [6, 10_000],
    [20, 10_000],
  ])('waits up to an exponential cap at attempt %d (half the cap when random is 0.5: %d ms)', (attempt, expected) => {
    expect(defaultBackoffMs(attempt, THROTTLED)).toBe(expected);
  });

  test('waits at least 15 s after SnapshotCreationPerVolumeRateExceeded', () => {
    expect(defaultBackoffMs(1, { name: 'SnapshotCreationPerVolumeRateExceeded' })).toBe(15_500);
    random.mockReturnValue(0);
    expect(defaultBackoffMs(1, { name: 'SnapshotCreationPerVolumeRateExceeded' })).toBe(15_000);
    expect(defaultBackoffMs(1, THROTTLED)).toBe(0);
  });
});

describe('error classification', () => {
  test.each([
    ['the SDK\'s name', ec2Error('RequestLimitExceeded', 'Request limit exceeded.'), 'RequestLimitExceeded'],
    ['Code before name', { Code: 'InvalidSnapshot.InUse', name: 'SomethingElse' }, 'InvalidSnapshot.InUse'],
    ['code before name', { code: 'ECONNRESET', name: 'Error' }, 'ECONNRESET'],
    ['a plain Error', new Error('boom'), 'UnknownError'],
    ['an empty name', { name: '' }, 'UnknownError'],
    ['a string', 'boom', 'UnknownError'],
    ['null', null, 'UnknownError'],
    ['undefined', undefined, 'UnknownError'],
  ])('errorCode reads %s', (_name, error, expected) => {
    expect(errorCode(error)).toBe(expected);
  });

  test.each([
    ['an SDK error', ec2Error('RequestLimitExceeded', 'Request limit exceeded.'), 'RequestLimitExceeded: Request limit exceeded.'],
    ['a plain object', { name: 'RequestLimitExceeded', message: 'Request limit exceeded.' }, 'RequestLimitExceeded: Request limit exceeded.'],
    ['an object without a message', { name: 'RequestLimitExceeded' }, 'RequestLimitExceeded'],
    ['an error whose message is its code', ec2Error('TimeoutError', 'TimeoutError'), 'TimeoutError'],
    ['an error without a message', ec2Error('InternalError', ''), 'InternalError'],
    ['a string', 'boom', 'UnknownError: boom'],
  ])('errorMessage words %s', (_name, error, expected) => {
    expect(errorMessage(error)).toBe(expected);
  });

  test.each([
    'RequestLimitExceeded', 'Throttling', 'ThrottlingException', 'SnapshotCreationPerVolumeRateExceeded',
    'ConcurrentSnapshotLimitExceeded', 'InternalError', 'InternalFailure', 'ServiceUnavailable', 'Unavailable', 'TimeoutError',
  ])('%s is retryable', (code) => {
    expect(isRetryable({ name: code })).toBe(true);
  });

  test.each([
    'InvalidInstanceID.NotFound', 'InvalidSnapshot.NotFound', 'InvalidSnapshot.InUse', 'UnauthorizedOperation',
    'DryRunOperation', 'InvalidParameterValue', 'SnapshotLimitExceeded', 'UnknownError',
  ])('%s is not retryable', (code) => {
    expect(isRetryable({ name: code, $metadata: { httpStatusCode: 400 } })).toBe(false);
  });

  test.each([
    [503, true],
    [500, true],
    [502, true],
    [429, false],
    [400, false],
  ])('an error of unknown code with HTTP status %d is retryable: %s', (status, expected) => {
    expect(isRetryable({ name: 'SomeNewError', $metadata: { httpStatusCode: status } })).toBe(expected);
    expect(isRetryable(ec2Error('SomeNewError', 'x', status))).toBe(expected);
  });

  test.each([
    ['InternalError', { name: 'InternalError', $metadata: { httpStatusCode: 500 } }, true],
    ['an unknown 5xx', { name: 'SomeNewFault', $metadata: { httpStatusCode: 502 } }, true],
    ['ServiceUnavailable', { name: 'ServiceUnavailable' }, true],
    ['TimeoutError', { name: 'TimeoutError' }, true],
    ['ECONNRESET', { code: 'ECONNRESET' }, true],
    ['EPIPE', { code: 'EPIPE' }, true],
    ['RequestLimitExceeded', THROTTLED, false],
    ['SnapshotCreationPerVolumeRateExceeded', { name: 'SnapshotCreationPerVolumeRateExceeded' }, false],
    ['ConcurrentSnapshotLimitExceeded', { name: 'ConcurrentSnapshotLimitExceeded' }, false],
    ['ECONNREFUSED', { code: 'ECONNREFUSED' }, false],
    ['EAI_AGAIN', { code: 'EAI_AGAIN' }, false],
    ['a client error', { name: 'InvalidParameterValue', $metadata: { httpStatusCode: 400 } }, false],
  ])('%s is ambiguous (the request may have been carried out): %s', (_name, error, expected) => {
    expect(isAmbiguous(error)).toBe(expected);
  });

  test.each([
    ['RequestLimitExceeded', true], ['Throttling', true], ['ThrottlingException', true],
    ['SnapshotCreationPerVolumeRateExceeded', false], ['InternalError', false],
  ])('%s is throttling: %s', (code, expected) => {
    expect(isThrottling({ name: code })).toBe(expected);
  });

  test('an error without a code or a status is not retryable', () => {
    expect(isRetryable(new Error('boom'))).toBe(false);
    expect(isRetryable(null)).toBe(false);
    expect(isRetryable(undefined)).toBe(false);
    expect(isRetryable('RequestLimitExceeded')).toBe(false);
  });
});
