// Runs many rate-limited API calls: each call takes a token from the bucket, at most `concurrency` are in
// flight, retryable failures are tried again (each try takes a token), one item's failure never stops the
// others, and no new call starts when it could not finish before the deadline.
//
// A refusal for lack of tokens (throttling) lowers the bucket's rate and is tried again without using up
// one of the item's attempts: only real errors count toward `maxAttempts`, and the deadline bounds the rest.
// A failure that leaves open whether the call was carried out (errors.ts `isAmbiguous`) is tried again only
// after `resolveAmbiguous` found that it was not, so a call that must not happen twice does not.
import { errorCode, errorMessage, isAmbiguous, isRetryable, isThrottling } from './errors';
import { Clock, realClock, TokenBucket } from './rate-limiter';

export interface PacerOptions<T = unknown, R = unknown> {
  readonly bucket: TokenBucket;
  readonly concurrency: number;
  /** Epoch milliseconds after which no new call is started. */
  readonly deadline: number;
  /** Failed attempts per item before it is given up (refusals for lack of tokens not counted). */
  readonly maxAttempts: number;
  /** Wait before attempt n+1 (n >= 1); the default is exponential with full jitter, from 1 s to 20 s. */
  readonly backoffMs?: (attempt: number, error: unknown) => number;
  /**
   * After an ambiguous failure (5xx, timeout, reset connection): whether the call did its work anyway.
   * Resolves to the value the call would have returned if it did, to undefined if it surely did not (the
   * call is then tried again), and rejects if it cannot tell yet (it is asked again after a backoff, which
   * counts as an attempt). Without it, ambiguous failures are retried like any other.
   */
  readonly resolveAmbiguous?: (item: T, error: unknown) => Promise<R | undefined>;
  readonly clock?: Clock;
}

export type PacedResult<R> =
  /** `attempts`: the calls sent, refused ones included; `foundByCheck`: `resolveAmbiguous` found the work done. */
  | { readonly status: 'ok'; readonly value: R; readonly attempts: number; readonly foundByCheck?: boolean }
  | { readonly status: 'failed'; readonly code: string; readonly error: string; readonly attempts: number }
  | { readonly status: 'not-reached'; readonly attempts: number };

export function defaultBackoffMs(attempt: number, error: unknown): number {
  // EC2 allows one snapshot per volume every 15 seconds: waiting less than that only burns tokens.
  const floor = errorCode(error) === 'SnapshotCreationPerVolumeRateExceeded' ? 15_000 : 0;
  const cap = Math.min(20_000, 1000 * 2 ** (attempt - 1));
  return floor + Math.random() * cap;
}

export async function runPaced<T, R>(
  items: readonly T[],
  call: (item: T) => Promise<R>,
  options: PacerOptions<NoInfer<T>, NoInfer<R>>,
): Promise<Array<PacedResult<R>>> {
  // `concurrency` bounds the calls in flight, not the items under way: an item waiting for its backoff or
  // for a check gives its place to the next one.
  const slots = new Slots(Math.max(1, Math.min(options.concurrency, items.length)));
  return Promise.all(items.map((item) => runOne(item, call, options, slots)));
}

/** Places for calls in flight, given in order: retries before first attempts, each kind first come, first served. */
class Slots {
  private readonly retries: Array<() => void> = [];
  private readonly firsts: Array<() => void> = [];

  constructor(private free: number) {}

  async use<V>(retry: boolean, body: () => Promise<V>): Promise<V> {
    if (this.free > 0 && this.retries.length + this.firsts.length === 0) this.free -= 1;
    else await new Promise<void>((resolve) => (retry ? this.retries : this.firsts).push(resolve));
    try {
      return await body();
    } finally {
      const next = this.retries.shift() ?? this.firsts.shift();
      if (next) next();
      else this.free += 1;
    }
  }
}

type Sent<R> = { readonly ok: true; readonly value: R } | { readonly ok: false; readonly error: unknown; readonly sentAt: number };

/** One item's calls, until one succeeds, a check finds its work done, or it fails for good. */
async function runOne<T, R>(item: T, call: (item: T) => Promise<R>, options: PacerOptions<T, R>, slots: Slots): Promise<PacedResult<R>> {
  const clock = options.clock ?? realClock;
  const backoff = options.backoffMs ?? defaultBackoffMs;
  const fits = (extraMs: number) => clock.now() + extraMs + options.bucket.delayMs() < options.deadline;
  let sent = 0;
  let failures = 0;
  let lastFailure: PacedResult<R> = { status: 'not-reached', attempts: 0 };
  // The ambiguous failure whose outcome is still to be checked before the call may be sent again.
  let unresolved: unknown = undefined;
  for (;;) {
    if (unresolved !== undefined && options.resolveAmbiguous) {
      const checked = await check(item, unresolved, options);
      if (checked.done) return { status: 'ok', value: checked.value, attempts: sent, foundByCheck: true };
      if (checked.known) {
        unresolved = undefined;
        if (failures >= options.maxAttempts) return lastFailure;
      } else {
        failures += 1;
        const wait = backoff(failures, unresolved);
        if (failures >= options.maxAttempts || !fits(wait)) return lastFailure;
        await clock.sleep(wait);
        continue;
      }
    }
    const result = await slots.use(sent > 0, async (): Promise<Sent<R> | undefined> => {
      if (!fits(0)) return undefined;
      await options.bucket.take();
      sent += 1;
      const sentAt = clock.now();
      try {
        return { ok: true, value: await call(item) };
      } catch (error) {
        return { ok: false, error, sentAt };
      }
    });
    if (result === undefined) return lastFailure;
    if (result.ok) {
      options.bucket.admitted();
      return { status: 'ok', value: result.value, attempts: sent };
    }
    const error = result.error;
    lastFailure = { status: 'failed', code: errorCode(error), error: errorMessage(error), attempts: sent };
    const throttled = isThrottling(error);
    if (throttled) options.bucket.throttled(result.sentAt);
    else if (isRetryable(error)) options.bucket.admitted();
    if (!isRetryable(error)) return lastFailure;
    if (!throttled) failures += 1;
    if (options.resolveAmbiguous && isAmbiguous(error)) {
      // The check waits for EC2's listings to settle, which is backoff enough.
      if (!fits(0)) return lastFailure;
      unresolved = error;
      continue;
    }
    if (failures >= options.maxAttempts) return lastFailure;
    const wait = backoff(sent, error);
    if (!fits(wait)) return lastFailure;
    await clock.sleep(wait);
  }
}

type CheckResult<R> = { done: true; value: R } | { done: false; known: boolean };

async function check<T, R>(item: T, error: unknown, options: PacerOptions<T, R>): Promise<CheckResult<R>> {
  try {
    const value = await options.resolveAmbiguous!(item, error);
    return value === undefined ? { done: false, known: true } : { done: true, value };
  } catch {
    return { done: false, known: false };
  }
}
