// A virtual clock for tests of time-dependent code (the token bucket, the pacer): time moves only when the
// test runs the sleepers, so waits of minutes take no real time and results are exact.
import { Clock } from '../../lambda/support/rate-limiter';

/**
 * A clock whose time moves only when every sleeper due earliest is woken: `run()` wakes sleepers in time
 * order (ties in the order they went to sleep) until none is left, letting promise chains settle between.
 */
export class VirtualClock implements Clock {
  private time: number;
  private sequence = 0;
  private readonly sleepers: Array<{ at: number; sequence: number; wake: () => void }> = [];

  constructor(start = 0) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((wake) => this.sleepers.push({ at: this.time + Math.max(0, ms), sequence: this.sequence++, wake }));
  }

  /** Moves time forward by `ms` without waking anyone (for callers that only read the clock). */
  advance(ms: number): void {
    this.time += ms;
  }

  async run(): Promise<void> {
    for (;;) {
      await settle();
      if (this.sleepers.length === 0) return;
      this.sleepers.sort((a, b) => a.at - b.at || a.sequence - b.sequence);
      const next = this.sleepers.shift()!;
      this.time = Math.max(this.time, next.at);
      next.wake();
    }
  }
}

export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
