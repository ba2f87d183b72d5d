// Tests of the Step Functions interpreter that bench/scale.ts's figures rest on (test/support/
// state-machine-interpreter.ts), with plain async functions as tasks, an injected random source and sleep,
// and of the in-process Lambda runner's Timeout. No AWS, no moto.
import { Orchestration, SnapshotPolicy } from '../../lib';
import { InProcessLambda, SwappableClock } from '../support/in-process-lambda';
import {
  Interpreter, InterpreterOptions, Json, JsonObject, Machine, Retrier, StateDef, StatesError, TaskInvoker,
} from '../support/state-machine-interpreter';
import { machineFunctions, stateMachine, synthesizeTemplate } from '../support/synthesized';

/** An interpreter whose retries wait no time; the delays it would wait are in `sleeps` (unscaled seconds). */
function interpreter(task: TaskInvoker, options: InterpreterOptions = {}) {
  const sleeps: number[] = [];
  const it = new Interpreter(task, { sleep: async (s) => { sleeps.push(s); }, ...options });
  return { it, sleeps };
}

const machine = (States: Record<string, StateDef>, StartAt = Object.keys(States)[0]): Machine => ({ StartAt, States });
const task = (extra: Partial<StateDef> = {}): StateDef => ({ Type: 'Task', Resource: 'fn', End: true, ...extra });

/** A task that fails with these errors in turn, then returns `result`; `calls` counts its invocations. */
function failing(errors: string[], result: Json = 'ok') {
  const calls = { count: 0 };
  const invoke: TaskInvoker = async () => {
    const error = errors[calls.count++];
    if (error) throw new StatesError(error, `attempt ${calls.count}`);
    return result;
  };
  return { invoke, calls };
}

async function failure(run: Promise<unknown>): Promise<StatesError> {
  try {
    await run;
  } catch (error) {
    if (error instanceof StatesError) return error;
    throw error;
  }
  throw new Error('expected the execution to fail');
}

describe('Map', () => {
  test('runs at most MaxConcurrency iterations at once and keeps the results in item order', async () => {
    let running = 0;
    let most = 0;
    const { it } = interpreter(async (_r, payload) => {
      running += 1;
      most = Math.max(most, running);
      // Later items finish first, so order by completion would reverse the results.
      await new Promise((resolve) => setTimeout(resolve, 30 - 3 * Number(payload)));
      running -= 1;
      return Number(payload) * 10;
    });
    const out = await it.execute(machine({
      Fan: { Type: 'Map', ItemsPath: '$.items', MaxConcurrency: 2, ItemProcessor: machine({ Work: task() }), ResultPath: '$.out', End: true },
    }), { items: [0, 1, 2, 3, 4, 5, 6] }, 'x');
    expect(most).toBe(2);
    expect((out as JsonObject).out).toEqual([0, 10, 20, 30, 40, 50, 60]);
  });

  test('runs every iteration at once without MaxConcurrency, and ItemSelector reads $$.Map.Item', async () => {
    let running = 0;
    let most = 0;
    const { it } = interpreter(async (_r, payload) => {
      running += 1;
      most = Math.max(most, running);
      await new Promise((resolve) => setTimeout(resolve, 5));
      running -= 1;
      return payload;
    });
    const out = await it.execute(machine({
      Fan: {
        Type: 'Map',
        ItemsPath: '$.items',
        ItemProcessor: machine({ Work: task() }),
        End: true,
        ItemSelector: { 'slot.$': '$.slot', 'index.$': '$$.Map.Item.Index', 'id.$': '$$.Map.Item.Value.id' },
      },
    }), { slot: 's', items: [{ id: 'a' }, { id: 'b' }, { id: 'c' }] }, 'x');
    expect(most).toBe(3);
    expect(out).toEqual([{ slot: 's', index: 0, id: 'a' }, { slot: 's', index: 1, id: 'b' }, { slot: 's', index: 2, id: 'c' }]);
  });

  test('an ItemsPath that is not an array fails with States.Runtime', async () => {
    const { it } = interpreter(async () => null);
    const error = await failure(it.execute(machine({
      Fan: { Type: 'Map', ItemsPath: '$.items', ItemProcessor: machine({ Work: task() }), End: true },
    }), { items: 'no' }, 'x'));
    expect(error.error).toBe('States.Runtime');
  });
});

describe('Retry', () => {
  const retrier = (r: Partial<Retrier>): Retrier => ({ ErrorEquals: ['States.ALL'], ...r });

  test('waits IntervalSeconds × BackoffRate^(n−1) before retry n, up to MaxAttempts retries, then fails', async () => {
    const { invoke, calls } = failing(['E', 'E', 'E', 'E', 'E']);
    const { it, sleeps } = interpreter(invoke);
    const error = await failure(it.execute(machine({ T: task({ Retry: [retrier({ IntervalSeconds: 2, BackoffRate: 3, MaxAttempts: 3 })] }) }), {}, 'x'));
    expect(error.error).toBe('E');
    expect(calls.count).toBe(4);
    expect(sleeps).toEqual([2, 6, 18]);
    expect(it.stats.retries).toBe(3);
    expect(it.stats.transitions).toBe(4);
  });

  test('defaults to 3 retries at 1 s doubling, and MaxAttempts 0 never retries', async () => {
    const first = interpreter(failing(['E', 'E', 'E', 'E']).invoke);
    await failure(first.it.execute(machine({ T: task({ Retry: [retrier({})] }) }), {}, 'x'));
    expect(first.sleeps).toEqual([1, 2, 4]);
    const none = failing(['E']);
    const second = interpreter(none.invoke);
    await failure(second.it.execute(machine({ T: task({ Retry: [retrier({ MaxAttempts: 0 })] }) }), {}, 'x'));
    expect(none.calls.count).toBe(1);
  });

  test('MaxDelaySeconds caps the delay', async () => {
    const { it, sleeps } = interpreter(failing(['E', 'E', 'E', 'E']).invoke);
    await it.execute(machine({ T: task({ Retry: [retrier({ IntervalSeconds: 10, BackoffRate: 4, MaxAttempts: 4, MaxDelaySeconds: 50 })] }) }), {}, 'x');
    expect(sleeps).toEqual([10, 40, 50, 50]);
  });

  test('each retrier counts its own attempts, the first that names the error is used, and an exhausted one does not fall through', async () => {
    // A is retried once by its own retrier, B by States.ALL; the second A finds its retrier exhausted and fails,
    // though States.ALL has attempts left.
    const { invoke, calls } = failing(['A', 'B', 'B', 'A']);
    const { it, sleeps } = interpreter(invoke);
    const error = await failure(it.execute(machine({
      T: task({ Retry: [retrier({ ErrorEquals: ['A'], IntervalSeconds: 1, MaxAttempts: 1 }), retrier({ IntervalSeconds: 100, MaxAttempts: 5 })] }),
    }), {}, 'x'));
    expect(error.error).toBe('A');
    expect(calls.count).toBe(4);
    expect(sleeps).toEqual([1, 100, 200]);
  });

  test('a retrier naming another error does not match; States.ALL and States.TaskFailed match any task error but TaskFailed not States.Timeout', async () => {
    const named = failing(['Lambda.Unknown']);
    const a = interpreter(named.invoke);
    await failure(a.it.execute(machine({ T: task({ Retry: [retrier({ ErrorEquals: ['Lambda.ServiceException'] })] }) }), {}, 'x'));
    expect(named.calls.count).toBe(1);

    const b = interpreter(failing(['Sandbox.Timedout', 'Custom']).invoke);
    expect(await b.it.execute(machine({ T: task({ Retry: [retrier({ ErrorEquals: ['States.TaskFailed'] })] }) }), {}, 'x')).toBe('ok');
    expect(b.sleeps).toHaveLength(2);

    const timeout = failing(['States.Timeout']);
    const c = interpreter(timeout.invoke);
    expect((await failure(c.it.execute(machine({ T: task({ Retry: [retrier({ ErrorEquals: ['States.TaskFailed'] })] }) }), {}, 'x'))).error)
      .toBe('States.Timeout');
    expect(timeout.calls.count).toBe(1);
  });

  test('FULL jitter multiplies the delay by the random draw, so it stays within [0, the delay)', async () => {
    const draws = [0, 0.5, 0.999];
    const { it, sleeps } = interpreter(failing(['E', 'E', 'E']).invoke, { random: () => draws.shift()! });
    await it.execute(machine({ T: task({ Retry: [retrier({ IntervalSeconds: 10, BackoffRate: 2, JitterStrategy: 'FULL' })] }) }), {}, 'x');
    expect(sleeps[0]).toBe(0);
    expect(sleeps[1]).toBeCloseTo(10);
    expect(sleeps[2]).toBeCloseTo(39.96);
    const seeded = interpreter(failing(Array(8).fill('E')).invoke, { random: Math.random });
    await seeded.it.execute(machine({ T: task({ Retry: [retrier({ IntervalSeconds: 5, BackoffRate: 2, MaxAttempts: 8, JitterStrategy: 'FULL' })] }) }), {}, 'x');
    seeded.sleeps.forEach((s, i) => { expect(s).toBeGreaterThanOrEqual(0); expect(s).toBeLessThan(5 * 2 ** i); });
  });

  test('the default sleep waits the delay divided by timeScale', async () => {
    const it = new Interpreter(failing(['E']).invoke, { timeScale: 100 });
    const started = Date.now();
    await it.execute(machine({ T: task({ Retry: [retrier({ IntervalSeconds: 20 })] }) }), {}, 'x');
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

describe('Catch', () => {
  test('after the retries, puts the error at the ResultPath of the state\'s input and goes to Next', async () => {
    const { invoke, calls } = failing(['Boom', 'Boom']);
    const { it } = interpreter(invoke);
    const out = await it.execute(machine({
      T: task({ End: undefined, Next: 'Never', Retry: [{ ErrorEquals: ['Boom'], MaxAttempts: 1 }], Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Caught' }] }),
      Never: { Type: 'Succeed' },
      Caught: { Type: 'Pass', Parameters: { 'kept.$': '$.id', 'error.$': '$.error.Error' }, End: true },
    }), { id: 7 }, 'x');
    expect(calls.count).toBe(2);
    expect(out).toEqual({ kept: 7, error: 'Boom' });
  });

  test('without a ResultPath the output is the error itself, and a catcher for another error does not catch', async () => {
    const { it } = interpreter(failing(['Boom']).invoke);
    const out = await it.execute(machine({
      T: task({ End: undefined, Catch: [{ ErrorEquals: ['Other'], Next: 'Wrong' }, { ErrorEquals: ['Boom'], Next: 'Done' }] }),
      Wrong: { Type: 'Succeed' },
      Done: { Type: 'Succeed' },
    }), { id: 7 }, 'x');
    expect(out).toEqual({ Error: 'Boom', Cause: 'attempt 1' });
  });
});

describe('Choice, Succeed and Pass', () => {
  const choice = machine({
    Check: { Type: 'Choice', Choices: [{ Variable: '$.rerun', IsPresent: true, Next: 'Yes' }], Default: 'No' },
    Yes: { Type: 'Pass', Result: 'yes', End: true },
    No: { Type: 'Pass', Result: 'no', End: true },
  });

  test('IsPresent rules go to their Next when the path is there, to Default otherwise', async () => {
    const { it } = interpreter(async () => null);
    expect(await it.execute(choice, { rerun: { index: 1 } }, 'x')).toBe('yes');
    expect(await it.execute(choice, { rerun: null }, 'x')).toBe('yes');
    expect(await it.execute(choice, {}, 'x')).toBe('no');
    const absent = machine({ C: { Type: 'Choice', Choices: [{ Variable: '$.a.b', IsPresent: false, Next: 'Y' }] }, Y: { Type: 'Succeed' } });
    expect(await it.execute(absent, { a: {} }, 'x')).toEqual({ a: {} });
  });

  test('no matching rule and no Default fails with States.NoChoiceMatched; other rules fail with States.Runtime', async () => {
    const { it } = interpreter(async () => null);
    const noDefault = machine({ C: { Type: 'Choice', Choices: [{ Variable: '$.a', IsPresent: true, Next: 'Y' }] }, Y: { Type: 'Succeed' } });
    expect((await failure(it.execute(noDefault, {}, 'x'))).error).toBe('States.NoChoiceMatched');
    const other = machine({ C: { Type: 'Choice', Choices: [{ Variable: '$.a', StringEquals: 'b', Next: 'Y' } as never], Default: 'Y' }, Y: { Type: 'Succeed' } });
    expect((await failure(it.execute(other, { a: 'b' }, 'x'))).error).toBe('States.Runtime');
  });

  test('Succeed ends the execution with its input', async () => {
    const { invoke, calls } = failing([]);
    const { it } = interpreter(invoke);
    expect(await it.execute(machine({ S: { Type: 'Succeed', Next: 'T' } as StateDef, T: task() }), { a: 1 }, 'x')).toEqual({ a: 1 });
    expect(calls.count).toBe(0);
  });

  test('Pass builds Parameters from $ and $$ paths and writes them at its ResultPath', async () => {
    const { it } = interpreter(async () => null);
    const out = await it.execute(machine({
      P: { Type: 'Pass', Parameters: { 'slot.$': '$.slot', 'name.$': '$$.Execution.Name', 'fixed': [1, { 'nested.$': '$.slot' }] }, ResultPath: '$.made', Next: 'Q' },
      Q: { Type: 'Pass', Result: { r: 1 }, ResultPath: '$.deep.result', Next: 'R' },
      R: { Type: 'Pass', ResultPath: null, Result: 'dropped', End: true },
    }), { slot: 's' }, 'exec-1');
    expect(out).toEqual({ slot: 's', made: { slot: 's', name: 'exec-1', fixed: [1, { nested: 's' }] }, deep: { result: { r: 1 } } });
  });

  test('a path missing from the input and intrinsic functions fail with States.Runtime', async () => {
    const { it } = interpreter(async () => null);
    expect((await failure(it.execute(machine({ P: { Type: 'Pass', Parameters: { 'a.$': '$.missing' }, End: true } }), {}, 'x'))).error).toBe('States.Runtime');
    expect((await failure(it.execute(machine({ P: { Type: 'Pass', Parameters: { 'a.$': 'States.Format(\'x\')' }, End: true } }), {}, 'x'))).error)
      .toBe('States.Runtime');
  });
});

describe('Task', () => {
  test('sends Parameters as the payload, applies ResultSelector, ResultPath, InputPath and OutputPath', async () => {
    const payloads: Json[] = [];
    const { it } = interpreter(async (resource, payload) => { payloads.push([resource, payload]); return { value: 3, noise: 'x' }; });
    const out = await it.execute(machine({
      T: task({ InputPath: '$.in', Parameters: { 'phase': 'p', 'v.$': '$.v' }, ResultSelector: { 'got.$': '$.value' }, ResultPath: '$.r', OutputPath: '$.r' }),
    }), { in: { v: 1 } }, 'x');
    expect(payloads).toEqual([['fn', { phase: 'p', v: 1 }]]);
    expect(out).toEqual({ got: 3 });
  });

  test('a result over 256 KB fails with States.DataLimitExceeded, which no Retry or Catch handles', async () => {
    const { invoke, calls } = failing([], 'x'.repeat(256 * 1024));
    const { it } = interpreter(invoke);
    const error = await failure(it.execute(machine({
      T: task({ End: undefined, Retry: [{ ErrorEquals: ['States.ALL'] }], Catch: [{ ErrorEquals: ['States.ALL'], Next: 'C' }] }),
      C: { Type: 'Succeed' },
    }), {}, 'x'));
    expect(error.error).toBe('States.DataLimitExceeded');
    expect(calls.count).toBe(1);
    expect(it.stats.largestStateBytes).toBeGreaterThan(256 * 1024);
  });

  test('a state input just under 256 KB passes', async () => {
    const { it } = interpreter(async () => null);
    const input = { s: 'x'.repeat(256 * 1024 - 10) };
    await expect(it.execute(machine({ P: { Type: 'Pass', End: true } }), input, 'x')).resolves.toEqual(input);
  });
});

test('an unsupported state type fails with States.Runtime, which Catch does not handle', async () => {
  const { it } = interpreter(async () => null);
  for (const Type of ['Parallel', 'Wait', 'Fail']) {
    const error = await failure(it.execute(machine({
      S: { Type, End: true, Catch: [{ ErrorEquals: ['States.ALL'], Next: 'C' }] } as StateDef, C: { Type: 'Succeed' },
    }), {}, 'x'));
    expect(error.error).toBe('States.Runtime');
    expect(error.cause).toContain(Type);
  }
});

test('an execution that outlasts its TimeoutSeconds (scaled) fails with States.Timeout; stateSeconds are scaled', async () => {
  let now = 0;
  const { it } = interpreter(async () => { now += 1000; return null; }, { now: () => now, timeScale: 10 });
  const error = await failure(it.execute({ ...machine({ A: task({ End: undefined, Next: 'B' }), B: task() }), TimeoutSeconds: 15 }, {}, 'x'));
  expect(error.error).toBe('States.Timeout');
  expect(it.stats.stateSeconds).toEqual({ A: 10, B: 10 });
});

describe('a task\'s timeout (the in-process Lambda runner)', () => {
  const clock = (): SwappableClock => ({ now: () => Date.now(), sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) });

  test('an invocation that outlives the function\'s Timeout fails with Sandbox.Timedout, billed the Timeout, its waits frozen', async () => {
    const lambda = new InProcessLambda(100);
    const c = clock();
    const undo = lambda.installOn(c);
    let woke = false;
    try {
      // 5 s on a 100x clock is 50 ms; the 1 s Timeout is 10 ms.
      const outcome = await lambda.invoke({ logicalId: 'Fn', timeoutSeconds: 1 }, async () => { await c.sleep(5000); woke = true; return 'late'; }, {});
      expect(outcome.error?.error).toBe('Sandbox.Timedout');
      expect(outcome.error?.cause).toBe('Task timed out after 1.00 seconds');
      expect(outcome.seconds).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(woke).toBe(false);
    } finally {
      undo();
    }
  });

  test('an invocation within its Timeout returns its result as JSON, on a clock and a remaining time that run scaled', async () => {
    const lambda = new InProcessLambda(100);
    const c = clock();
    const undo = lambda.installOn(c);
    try {
      const outcome = await lambda.invoke({ logicalId: 'Fn', timeoutSeconds: 60 }, async (_e, context) => {
        const [before, remaining] = [c.now(), context.getRemainingTimeInMillis()];
        await c.sleep(2000);
        return { waited: c.now() - before, used: remaining - context.getRemainingTimeInMillis(), at: new Date(0) };
      }, {});
      const result = outcome.result as JsonObject;
      expect(result.waited).toBeGreaterThanOrEqual(1900);
      expect(result.used).toBeGreaterThanOrEqual(1900);
      expect(result.at).toBe('1970-01-01T00:00:00.000Z');
      expect(outcome.seconds).toBeGreaterThanOrEqual(1.9);
      expect(outcome.seconds).toBeLessThan(60);
    } finally {
      undo();
    }
  });

  test('a thrown error becomes a task error of its name, which Retry on States.TaskFailed then retries', async () => {
    const lambda = new InProcessLambda(100);
    let calls = 0;
    const handler = async () => { calls += 1; if (calls === 1) throw new RangeError('bad'); return 'ok'; };
    const { it } = interpreter(async (_r, payload) => {
      const outcome = await lambda.invoke({ logicalId: 'Fn', timeoutSeconds: 1 }, handler, payload);
      if (outcome.error) {
        expect(outcome.error.error).toBe('RangeError');
        expect(JSON.parse(outcome.error.cause)).toEqual({ errorType: 'RangeError', errorMessage: 'bad' });
        throw outcome.error;
      }
      return outcome.result;
    });
    expect(await it.execute(machine({ T: task({ Retry: [{ ErrorEquals: ['States.TaskFailed'] }] }) }), {}, 'x')).toBe('ok');
  });
});

describe('the definitions SnapshotPolicy synthesizes with Orchestration.STEP_FUNCTIONS', () => {
  const template = synthesizeTemplate((scope) => new SnapshotPolicy(scope, 'Fleet', {
    instanceTags: { backup: 'nightly' }, orchestration: Orchestration.STEP_FUNCTIONS,
  }));
  const batches = [0, 1, 2].map((index) => ({ index, key: `k${index}`, size: 10 }));
  const typesOf = (m: Machine): string[] => Object.values(m.States)
    .flatMap((s) => [s.Type, ...(s.ItemProcessor ?? s.Iterator ? typesOf((s.ItemProcessor ?? s.Iterator)!) : [])]);

  test('use only the state types the interpreter supports', () => {
    for (const hasState of ['PlanBatches', 'PlanDeletions']) {
      const types = new Set(typesOf(stateMachine(template, { hasState }).definition as unknown as Machine));
      expect([...types].filter((t) => !['Task', 'Map', 'Pass', 'Choice', 'Succeed'].includes(t))).toEqual([]);
    }
  });

  /** Stub phases: batch 1 asks for one rerun, batch 2 always fails; every phase seen is counted. */
  function stubPhases(run: ReturnType<typeof stateMachine>) {
    const functions = machineFunctions(template, run);
    const phases: string[] = [];
    const invoke: TaskInvoker = async (resource, payload): Promise<Json> => {
      expect(functions.has(resource)).toBe(true);
      const event = payload as JsonObject;
      phases.push(String(event.phase));
      if (String(event.phase).startsWith('plan')) return { slot: event.slot, batches };
      if (event.phase === 'report' || event.phase === 'report-cleanup') return { results: event.results };
      if (event.index === 2) throw new StatesError('Error', 'batch 2 fails');
      if (event.index === 1 && event.attempt === 0) return { batch: 1, rerun: { slot: event.slot, index: 1, key: 'k1', size: 4, attempt: 1 } };
      return { batch: event.index, attempt: event.attempt ?? null };
    };
    return { invoke, phases };
  }

  test('the run: every state type it uses runs, reruns go round the loop and a failed batch becomes BatchNotRun', async () => {
    const run = stateMachine(template, { hasState: 'PlanBatches' });
    const { invoke, phases } = stubPhases(run);
    const { it } = interpreter(invoke, { random: () => 0 });
    const out = await it.execute(run.definition as unknown as Machine, { slot: 's' }, 'x') as JsonObject;
    const results = (out.results as JsonObject[]);
    expect(results[0]).toEqual({ batch: 0, attempt: 0 });
    expect(results[1]).toMatchObject({ batch: 1, attempt: 1 });
    expect(results[2]).toMatchObject({ batch: 2, key: 'k2', notReached: 10, error: 'Error' });
    // Batch 2: the first try and 2 retries on States.TaskFailed.
    expect(phases.filter((p) => p === 'execute-batch')).toHaveLength(1 + 2 + 3);
    expect(phases[0]).toBe('plan-batches');
    expect(phases[phases.length - 1]).toBe('report');
    expect(new Set(typesOf(run.definition as unknown as Machine))).toEqual(new Set(['Task', 'Map', 'Pass', 'Choice', 'Succeed']));
  });

  test('the clean-up: deletion batches in order, a failed one becomes DeleteBatchNotRun', async () => {
    const cleanup = stateMachine(template, { hasState: 'PlanDeletions' });
    const { invoke, phases } = stubPhases(cleanup);
    const { it } = interpreter(invoke, { random: () => 0 });
    const out = await it.execute(cleanup.definition as unknown as Machine, { slot: 's' }, 'x') as JsonObject;
    const results = (out.results as JsonObject[]);
    expect(results.map((r) => r.batch)).toEqual([0, 1, 2]);
    expect(results[2]).toMatchObject({ snapshotsSkipped: 10, error: 'Error' });
    expect(phases.filter((p) => p === 'delete-batch')).toHaveLength(1 + 1 + 3);
  });
});
