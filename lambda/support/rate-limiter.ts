// A token bucket shaped like EC2's request-rate limits (a burst capacity that refills at a steady rate).
// Callers reserve tokens in order, so waiting callers are served first-come, first-served, and the bucket
// can say how long the next caller would wait, which lets a run stop before its deadline instead of during.

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    readonly capacity: number,
    readonly refillPerSecond: number,
    private readonly clock: Clock = realClock,
    /** Tokens at the start; a bucket that continues where another invocation left off starts below capacity. */
    initialTokens: number = capacity,
  ) {
    if (!(capacity >= 1)) throw new Error(`token bucket capacity must be at least 1, got ${capacity}`);
    if (!(refillPerSecond > 0)) throw new Error(`token bucket refill rate must be positive, got ${refillPerSecond}`);
    if (!(initialTokens >= 0 && initialTokens <= capacity)) {
      throw new Error(`token bucket initial tokens must be between 0 and the capacity ${capacity}, got ${initialTokens}`);
    }
    this.tokens = initialTokens;
    this.updatedAt = clock.now();
  }

  private refill(): void {
    const now = this.clock.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.updatedAt) / 1000) * this.refillPerSecond);
    this.updatedAt = now;
  }

  /** Milliseconds until a token would be available to a new caller. */
  delayMs(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : ((1 - this.tokens) / this.refillPerSecond) * 1000;
  }

  /**
   * Empties the bucket after the server said it is throttling: the server's bucket, shared with every other
   * caller of the account, is emptier than ours, so we fall back in step with it instead of spending a burst
   * of tokens it does not have.
   */
  drain(): void {
    this.refill();
    this.tokens = Math.min(this.tokens, 0);
  }

  /** Takes one token, waiting until the bucket has it. */
  async take(): Promise<void> {
    this.refill();
    this.tokens -= 1;
    if (this.tokens < 0) {
      await this.clock.sleep((-this.tokens / this.refillPerSecond) * 1000);
    }
  }
}
