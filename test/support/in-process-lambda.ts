// Runs a Lambda handler in-process the way Lambda runs a function with a given Timeout, on a clock that may
// run `timeScale` times faster: each invocation gets its own clock from its start, a context whose
// getRemainingTimeInMillis() counts down from the Timeout on that clock, and a Sandbox.Timedout error if it
// outlives the Timeout, after which its waits never end (Lambda freezes a timed-out sandbox). bench/scale.ts
// uses it for the Lambda tasks of the state machine interpreter; test/unit/state-machine-interpreter.test.ts
// covers the timeout.
import { AsyncLocalStorage } from 'async_hooks';
import { performance } from 'perf_hooks';
import { Json, StatesError } from './state-machine-interpreter';

/** The clock a handler reads through `realClock` of lambda/support/rate-limiter.ts. */
export interface SwappableClock {
  now: () => number;
  sleep: (ms: number) => Promise<void>;
}

/** What an invocation needs of its function. */
export interface InvokedFunction {
  readonly logicalId: string;
  readonly timeoutSeconds: number;
}

export type LambdaHandler = (event: never, context: { functionName: string; getRemainingTimeInMillis(): number }) => Promise<unknown>;

export interface InvocationOutcome {
  readonly result: Json;
  /** Unscaled seconds, at most the Timeout: what Lambda would bill. */
  readonly seconds: number;
  readonly error?: StatesError;
}

interface InvocationClock {
  /** Epoch ms and performance.now() when the invocation started. */
  readonly startMs: number;
  readonly startPerf: number;
  /** Set when the invocation timed out: its later waits never end. */
  frozen: boolean;
}

export class InProcessLambda {
  private readonly clocks = new AsyncLocalStorage<InvocationClock>();

  constructor(readonly timeScale = 1) {}

  /** How long this invocation's clock has been running, in unscaled ms. */
  private elapsedMs(c: InvocationClock): number {
    return (performance.now() - c.startPerf) * this.timeScale;
  }

  /**
   * Makes `clock` run `timeScale` times faster inside an invocation, from the invocation's start (bucket
   * refills, a pacer's back-off and its deadline all alike), and leaves it as it was outside. Returns the undo.
   */
  installOn(clock: SwappableClock): () => void {
    const unscaled = { now: clock.now, sleep: clock.sleep };
    clock.now = () => {
      const c = this.clocks.getStore();
      return c ? c.startMs + this.elapsedMs(c) : unscaled.now();
    };
    clock.sleep = async (ms) => {
      const c = this.clocks.getStore();
      if (!c) return unscaled.sleep(ms);
      const never = () => new Promise<void>(() => undefined);
      if (c.frozen) return never();
      await unscaled.sleep(ms / this.timeScale);
      if (c.frozen) return never();
    };
    return () => Object.assign(clock, unscaled);
  }

  /** Invokes the handler as Lambda would a function with this Timeout; a thrown error becomes a StatesError of its name. */
  async invoke(fn: InvokedFunction, handler: LambdaHandler, payload: Json): Promise<InvocationOutcome> {
    const clock: InvocationClock = { startMs: Date.now(), startPerf: performance.now(), frozen: false };
    const timeoutMs = fn.timeoutSeconds * 1000;
    const context = { functionName: fn.logicalId, getRemainingTimeInMillis: () => Math.max(0, timeoutMs - this.elapsedMs(clock)) };
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), timeoutMs / this.timeScale); });
    try {
      const outcome = await Promise.race([
        this.clocks.run(clock, () => handler(payload as never, context)).then((value) => ({ value })),
        timedOut,
      ]);
      const elapsed = Math.min(timeoutMs, this.elapsedMs(clock)) / 1000;
      if (outcome === 'timeout') {
        clock.frozen = true;
        return { result: null, seconds: elapsed, error: new StatesError('Sandbox.Timedout', `Task timed out after ${fn.timeoutSeconds.toFixed(2)} seconds`) };
      }
      // What Lambda sends back is JSON.
      return { result: JSON.parse(JSON.stringify(outcome.value ?? null)) as Json, seconds: elapsed };
    } catch (error) {
      const e = error as { name?: string; message?: string };
      const errorType = e?.name || 'Error';
      return {
        result: null,
        seconds: Math.min(timeoutMs, this.elapsedMs(clock)) / 1000,
        error: new StatesError(errorType, JSON.stringify({ errorType, errorMessage: e?.message ?? String(error) })),
      };
    } finally {
      clearTimeout(timer);
    }
  }
}
