// Unit tests of the token bucket (lambda/rate-limiter.ts) on a virtual clock: the burst, the refill rate,
// first-come first-served waiting, the delay it predicts, and its validation.
import { MIN_RATE_SHARE, RATE_DECREASE_FACTOR, RATE_INCREASE_SHARE, TokenBucket } from '../../lambda/support/rate-limiter';
import { VirtualClock } from '../support/virtual-clock';

/** Starts `take()` for each name at the clock's current time and records when each one got its token. */
function takeAll(bucket: TokenBucket, clock: VirtualClock, names: string[], served: Array<[string, number]>): Array<Promise<void>> {
  return names.map((name) => bucket.take().then(() => {
    served.push([name, clock.now()]);
  }));
}

describe('TokenBucket', () => {
  test('serves a burst of its capacity at once, then one caller per refill interval', async () => {
    const clock = new VirtualClock(1_000_000);
    const bucket = new TokenBucket(3, 2, clock);
    const served: Array<[string, number]> = [];
    const done = takeAll(bucket, clock, ['a', 'b', 'c', 'd', 'e', 'f'], served);
    await clock.run();
    await Promise.all(done);
    expect(served).toEqual([
      ['a', 1_000_000], ['b', 1_000_000], ['c', 1_000_000],
      ['d', 1_000_500], ['e', 1_001_000], ['f', 1_001_500],
    ]);
  });

  test('serves waiting callers first come, first served, a latecomer after those already waiting', async () => {
    const clock = new VirtualClock();
    const bucket = new TokenBucket(1, 1, clock);
    const served: Array<[string, number]> = [];
    const first = takeAll(bucket, clock, ['a', 'b', 'c'], served);
    const late = clock.sleep(500).then(() => Promise.all(takeAll(bucket, clock, ['late'], served)));
    await clock.run();
    await Promise.all([...first, late]);
    expect(served).toEqual([['a', 0], ['b', 1000], ['c', 2000], ['late', 3000]]);
  });

  test('refills at the given rate while idle, up to its capacity and no more', async () => {
    const clock = new VirtualClock();
    const bucket = new TokenBucket(2, 1, clock);
    const served: Array<[string, number]> = [];
    await Promise.all([bucket.take(), bucket.take()]);
    clock.advance(60_000);
    const done = takeAll(bucket, clock, ['a', 'b', 'c'], served);
    await clock.run();
    await Promise.all(done);
    expect(served).toEqual([['a', 60_000], ['b', 60_000], ['c', 61_000]]);
  });

  test('a partly refilled token shortens the wait', async () => {
    const clock = new VirtualClock();
    const bucket = new TokenBucket(1, 4, clock);
    await bucket.take();
    clock.advance(100);
    const served: Array<[string, number]> = [];
    const done = takeAll(bucket, clock, ['a'], served);
    await clock.run();
    await Promise.all(done);
    expect(served).toEqual([['a', 250]]);
  });

  describe('delayMs', () => {
    test('is zero while the bucket holds a token, and does not take it', async () => {
      const clock = new VirtualClock();
      const bucket = new TokenBucket(1, 1, clock);
      expect(bucket.delayMs()).toBe(0);
      expect(bucket.delayMs()).toBe(0);
      const served: Array<[string, number]> = [];
      const done = takeAll(bucket, clock, ['a'], served);
      await clock.run();
      await Promise.all(done);
      expect(served).toEqual([['a', 0]]);
    });

    test('is the time until the next token once the burst is spent', async () => {
      const clock = new VirtualClock();
      const bucket = new TokenBucket(100, 5, clock);
      for (let i = 0; i < 100; i++) void bucket.take();
      expect(bucket.delayMs()).toBe(200);
      clock.advance(50);
      expect(bucket.delayMs()).toBe(150);
    });

    test('counts the callers already waiting', () => {
      const clock = new VirtualClock();
      const bucket = new TokenBucket(1, 2, clock);
      void bucket.take();
      void bucket.take();
      void bucket.take();
      // Two callers wait (until 500 and 1000 ms); a new one would get the token after them, at 1500 ms.
      expect(bucket.delayMs()).toBe(1500);
      clock.advance(250);
      expect(bucket.delayMs()).toBe(1250);
    });
  });

  describe('constructor', () => {
    test.each([
      [0, 1, 'token bucket capacity must be at least 1, got 0'],
      [0.5, 1, 'token bucket capacity must be at least 1, got 0.5'],
      [-3, 1, 'token bucket capacity must be at least 1, got -3'],
      [Number.NaN, 1, 'token bucket capacity must be at least 1, got NaN'],
      [10, 0, 'token bucket refill rate must be positive, got 0'],
      [10, -1, 'token bucket refill rate must be positive, got -1'],
      [10, Number.NaN, 'token bucket refill rate must be positive, got NaN'],
    ])('rejects capacity %p with refill rate %p', (capacity, rate, message) => {
      expect(() => new TokenBucket(capacity, rate, new VirtualClock())).toThrow(new Error(message));
    });

    test('starts with the given initial tokens, so a continuing batch gets no second burst', async () => {
      const clock = new VirtualClock();
      const bucket = new TokenBucket(100, 5, clock, 0);
      const served: Array<[string, number]> = [];
      const done = takeAll(bucket, clock, ['a', 'b'], served);
      await clock.run();
      await Promise.all(done);
      expect(served).toEqual([['a', 200], ['b', 400]]);
    });

    test.each([-1, 101, Number.NaN])('rejects initial tokens %p outside 0..capacity', (initial) => {
      expect(() => new TokenBucket(100, 5, new VirtualClock(), initial))
        .toThrow(new Error(`token bucket initial tokens must be between 0 and the capacity 100, got ${initial}`));
    });

    test('drain empties the bucket, so the next caller waits a full refill interval', async () => {
      const clock = new VirtualClock();
      const bucket = new TokenBucket(100, 5, clock);
      await bucket.take();
      bucket.drain();
      expect(bucket.delayMs()).toBe(200);
      const served: Array<[string, number]> = [];
      const done = takeAll(bucket, clock, ['a'], served);
      await clock.run();
      await Promise.all(done);
      expect(served).toEqual([['a', 200]]);
    });

    test('starts full', () => {
      const bucket = new TokenBucket(5, 0.001, new VirtualClock());
      for (let i = 0; i < 5; i++) void bucket.take();
      expect(bucket.delayMs()).toBe(1_000_000);
      expect([bucket.capacity, bucket.refillPerSecond]).toEqual([5, 0.001]);
    });
  });

  describe('adaptive rate', () => {
    test('a throttling answer empties the bucket and lowers the refill rate by the decrease factor', async () => {
      const clock = new VirtualClock();
      const bucket = new TokenBucket(10, 5, clock);
      await bucket.take();
      bucket.throttled(clock.now());
      expect(bucket.currentRatePerSecond).toBeCloseTo(5 * RATE_DECREASE_FACTOR, 9);
      // One token at 3.5/s takes 286 ms, where the configured 5/s would take 200 ms.
      expect(bucket.delayMs()).toBeCloseTo(1000 / (5 * RATE_DECREASE_FACTOR), 6);
    });

    test('lowers the rate once per round: a throttled request sent before the last decrease says nothing new', () => {
      const clock = new VirtualClock(1000);
      const bucket = new TokenBucket(10, 5, clock);
      const sentBefore = clock.now();
      clock.advance(10);
      bucket.throttled(clock.now());
      const once = bucket.currentRatePerSecond;
      bucket.throttled(sentBefore);
      expect(bucket.currentRatePerSecond).toBe(once);
      clock.advance(10);
      bucket.throttled(clock.now());
      expect(bucket.currentRatePerSecond).toBeCloseTo(5 * RATE_DECREASE_FACTOR ** 2, 9);
    });

    test('never goes below its floor, however often it is throttled', () => {
      const clock = new VirtualClock();
      const bucket = new TokenBucket(10, 5, clock);
      for (let i = 0; i < 100; i++) {
        clock.advance(1);
        bucket.throttled(clock.now());
      }
      expect(bucket.currentRatePerSecond).toBeCloseTo(5 * MIN_RATE_SHARE, 9);
    });

    test('each admitted request raises the rate by a share of the configured rate, never above it', () => {
      const clock = new VirtualClock();
      const bucket = new TokenBucket(10, 5, clock);
      bucket.admitted();
      expect(bucket.currentRatePerSecond).toBe(5);
      bucket.throttled(clock.now());
      bucket.admitted();
      bucket.admitted();
      expect(bucket.currentRatePerSecond).toBeCloseTo(5 * RATE_DECREASE_FACTOR + 2 * 5 * RATE_INCREASE_SHARE, 9);
      for (let i = 0; i < 10_000; i++) bucket.admitted();
      expect(bucket.currentRatePerSecond).toBe(5);
    });

    test('a lower rate applies at once to callers already waiting, in their order', async () => {
      const clock = new VirtualClock();
      const bucket = new TokenBucket(1, 1, clock);
      const served: Array<[string, number]> = [];
      const done = takeAll(bucket, clock, ['a', 'b', 'c'], served);
      // a takes the only token; b and c wait. The server refuses a's request at once: 0.7/s from now on.
      bucket.throttled(clock.now());
      await clock.run();
      await Promise.all(done);
      expect(served.map(([name]) => name)).toEqual(['a', 'b', 'c']);
      expect(served[1][1]).toBeCloseTo(1000 / RATE_DECREASE_FACTOR, 6);
      expect(served[2][1]).toBeCloseTo(2000 / RATE_DECREASE_FACTOR, 6);
    });

    test('restores the configured rate after enough admitted requests, so the burst refills as before', async () => {
      const clock = new VirtualClock();
      const bucket = new TokenBucket(2, 2, clock);
      bucket.throttled(clock.now());
      for (let i = 0; i < 1000; i++) bucket.admitted();
      bucket.drain();
      expect(bucket.delayMs()).toBe(500);
    });
  });
});
