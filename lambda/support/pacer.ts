// Runs many rate-limited API calls: each call takes a token from the bucket, at most `concurrency` are in
// flight, retryable failures are tried again (each try takes a token), one item's failure never stops the
// others, and no new call starts when it could not finish before the deadline.
import { errorCode, errorMessage, isRetryable } from './errors';
import { Clock, realClock, TokenBucket } from './rate-limiter';

export interface PacerOptions {
  readonly bucket: TokenBucket;
  readonly concurrency: number;
  /** Epoch milliseconds after which no new call is started. */
  readonly deadline: number;
  /** Attempts per item, the first included. */
  readonly maxAttempts: number;
  /** Wait before attempt n+1 (n >= 1); the default is exponential with full jitter, from 1 s to 20 s. */
  readonly backoffMs?: (attempt: number, error: unknown) => number;
  readonly clock?: Clock;
}

export type PacedResult<R> =
  | { readonly status: 'ok'; readonly value: R; readonly attempts: number }
  | { readonly status: 'failed'; readonly code: string; readonly error: string; readonly attempts: number }
  | { readonly status: 'not-reached'; readonly attempts: number };

/** Codes that mean the server's bucket is empty. */
const THROTTLED = new Set(['RequestLimitExceeded', 'Throttling', 'ThrottlingException']);

export function defaultBackoffMs(attempt: number, error: unknown): number {
  // EC2 allows one snapshot per volume every 15 seconds: waiting less than that only burns tokens.
  const floor = errorCode(error) === 'SnapshotCreationPerVolumeRateExceeded' ? 15_000 : 0;
  const cap = Math.min(20_000, 1000 * 2 ** (attempt - 1));
  return floor + Math.random() * cap;
}

export async function runPaced<T, R>(
  items: readonly T[],
  call: (item: T) => Promise<R>,
  options: PacerOptions,
): Promise<Array<PacedResult<R>>> {
  const clock = options.clock ?? realClock;
  const backoff = options.backoffMs ?? defaultBackoffMs;
  const results: Array<PacedResult<R>> = new Array(items.length);
  let next = 0;

  const fitsBeforeDeadline = (extraMs: number) => clock.now() + extraMs + options.bucket.delayMs() < options.deadline;

  async function one(index: number): Promise<PacedResult<R>> {
    let attempts = 0;
    let lastFailure: PacedResult<R> = { status: 'not-reached', attempts };
    for (;;) {
      if (!fitsBeforeDeadline(0)) return lastFailure;
      await options.bucket.take();
      attempts += 1;
      try {
        return { status: 'ok', value: await call(items[index]), attempts };
      } catch (error) {
        lastFailure = { status: 'failed', code: errorCode(error), error: errorMessage(error), attempts };
        if (THROTTLED.has(lastFailure.code)) options.bucket.drain();
        if (!isRetryable(error) || attempts >= options.maxAttempts) return lastFailure;
        const wait = backoff(attempts, error);
        if (!fitsBeforeDeadline(wait)) return lastFailure;
        await clock.sleep(wait);
      }
    }
  }

  async function worker(): Promise<void> {
    while (next < items.length) {
      const index = next++;
      results[index] = await one(index);
    }
  }

  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency, items.length)) }, worker));
  return results;
}
