// A token bucket shaped like EC2's request-rate limits (a burst capacity that refills at a steady rate), whose
// refill rate adapts to what the server grants. Callers wait in a queue and are served first-come,
// first-served, and the bucket can say how long the next caller would wait, which lets a run stop before its
// deadline instead of during.
//
// The account's bucket is shared with every other caller, so the rate it grants this run is unknown and
// changes. On a throttling answer the bucket lowers its refill rate (multiplicative decrease); each request
// the server admits raises it a little (additive increase), up to the configured rate. Counting the increase
// per admitted request rather than per second makes it independent of how fast time runs.

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** The refill rate after a throttling answer, as a share of the rate before it. */
export const RATE_DECREASE_FACTOR = 0.7;
/** What each admitted request adds to the refill rate, as a share of the configured rate. */
export const RATE_INCREASE_SHARE = 0.002;
/**
 * The lowest refill rate, as a share of the configured rate. A refused request costs the account no token,
 * and throttling that does not come from this run's pace (other callers' bursts) would otherwise drive the
 * rate ever lower: below this share, slowing down costs more time than the refusals it saves.
 */
export const MIN_RATE_SHARE = 0.4;

// Float sums of refills can land a hair below a whole token.
const EPSILON = 1e-9;

export class TokenBucket {
  private tokens: number;
  private updatedAt: number;
  private rate: number;
  /** When the rate was last lowered: a throttled request sent before then saw the old rate. */
  private loweredAt = -Infinity;
  private readonly waiters: Array<() => void> = [];
  private pumping = false;

  constructor(
    readonly capacity: number,
    /** The configured refill rate: the most the bucket ever grants. */
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
    this.rate = refillPerSecond;
    this.updatedAt = clock.now();
  }

  /** The refill rate now, per second: the configured rate, or less after throttling. */
  get currentRatePerSecond(): number {
    return this.rate;
  }

  private refill(): void {
    const now = this.clock.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.updatedAt) / 1000) * this.rate);
    this.updatedAt = now;
  }

  /** Milliseconds until a token would be available to a new caller, after those already waiting. */
  delayMs(): number {
    this.refill();
    const missing = this.waiters.length + 1 - this.tokens;
    return missing <= EPSILON ? 0 : (missing / this.rate) * 1000;
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

  /**
   * The server refused a request sent at `sentAt` for lack of tokens: empties the bucket and lowers the rate,
   * once per round: a request sent before the last decrease was paced at the old rate and says nothing new.
   */
  throttled(sentAt: number = this.clock.now()): void {
    this.drain();
    if (sentAt < this.loweredAt) return;
    this.rate = Math.max(this.refillPerSecond * MIN_RATE_SHARE, this.rate * RATE_DECREASE_FACTOR);
    this.loweredAt = this.clock.now();
  }

  /** The server admitted a request (whatever it answered then): the rate creeps back up. */
  admitted(): void {
    this.refill();
    this.rate = Math.min(this.refillPerSecond, this.rate + this.refillPerSecond * RATE_INCREASE_SHARE);
  }

  /** Takes one token, waiting behind earlier callers until the bucket has it. */
  take(): Promise<void> {
    this.refill();
    if (this.waiters.length === 0 && this.tokens >= 1 - EPSILON) {
      this.tokens -= 1;
      return Promise.resolve();
    }
    const served = new Promise<void>((resolve) => this.waiters.push(resolve));
    void this.pump();
    return served;
  }

  /** Serves the waiters in order, sleeping until each next token; a rate change applies at the next wake. */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.waiters.length > 0) {
        this.refill();
        if (this.tokens >= 1 - EPSILON) {
          this.tokens -= 1;
          this.waiters.shift()!();
        } else {
          await this.clock.sleep(((1 - this.tokens) / this.rate) * 1000);
        }
      }
    } finally {
      this.pumping = false;
    }
  }
}
