// A Step Functions interpreter for the states the policy's definitions use, so bench/scale.ts can carry a
// synthesized definition out in-process: Task (a Lambda function, payload only), Map (inline,
// MaxConcurrency), Pass, Choice (IsPresent rules), Succeed; Parameters and ItemSelector with JSONPath
// ("$.a.b", "$$.Map.Item.Value"), InputPath, OutputPath, ResultSelector, ResultPath, Retry (per-retrier
// attempts, BackoffRate, MaxDelaySeconds, FULL jitter), Catch, the 256 KB limit on a state's data and the
// execution's TimeoutSeconds (checked when it ends). Anything else stops it with States.Runtime. The
// scale figures in bench/README.md rest on it: test/unit/state-machine-interpreter.test.ts covers it.
import { performance } from 'perf_hooks';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface Retrier {
  readonly ErrorEquals: string[];
  readonly IntervalSeconds?: number;
  readonly MaxAttempts?: number;
  readonly BackoffRate?: number;
  readonly MaxDelaySeconds?: number;
  readonly JitterStrategy?: 'FULL' | 'NONE';
}

export interface Catcher {
  readonly ErrorEquals: string[];
  readonly ResultPath?: string | null;
  readonly Next: string;
}

export interface StateDef {
  readonly Type: string;
  readonly Next?: string;
  readonly End?: boolean;
  readonly Resource?: string;
  readonly Parameters?: Json;
  readonly ResultSelector?: Json;
  readonly Result?: Json;
  readonly InputPath?: string | null;
  readonly OutputPath?: string | null;
  readonly ResultPath?: string | null;
  readonly Retry?: Retrier[];
  readonly Catch?: Catcher[];
  readonly ItemsPath?: string;
  readonly ItemSelector?: Json;
  readonly ItemProcessor?: Machine;
  readonly Iterator?: Machine;
  readonly MaxConcurrency?: number;
  readonly Choices?: ChoiceRule[];
  readonly Default?: string;
}

/** The Choice rules the interpreter supports: a path that is present or not. */
export interface ChoiceRule {
  readonly Variable: string;
  readonly IsPresent: boolean;
  readonly Next: string;
}

export interface Machine {
  readonly StartAt: string;
  readonly States: Record<string, StateDef>;
  readonly TimeoutSeconds?: number;
}

/** Step Functions' limit on a state's input or output. */
export const STATE_LIMIT_BYTES = 256 * 1024;

/** A Step Functions error: a name for Retry and Catch, and a cause. */
export class StatesError extends Error {
  constructor(readonly error: string, readonly cause: string) {
    super(`${error}: ${cause}`);
  }
}

/** Errors no Retry or Catch handles: they fail the execution. */
const TERMINAL = new Set(['States.DataLimitExceeded', 'States.Runtime']);

function matches(errorEquals: readonly string[], error: string): boolean {
  return errorEquals.includes('States.ALL') || errorEquals.includes(error) ||
    (errorEquals.includes('States.TaskFailed') && error !== 'States.Timeout');
}

function readPath(root: Json, contextObject: Json, expression: string): Json {
  const [base, rest] = expression.startsWith('$$') ? [contextObject, expression.slice(2)] : [root, expression.slice(1)];
  if (!expression.startsWith('$') || (rest !== '' && !/^(\.[A-Za-z0-9_-]+)+$/.test(rest))) {
    throw new StatesError('States.Runtime', `the interpreter's JSONPath supports $.a.b only, got ${expression}`);
  }
  let value: Json = base;
  for (const key of rest.split('.').slice(1)) {
    if (value === null || typeof value !== 'object' || Array.isArray(value) || !(key in value)) {
      throw new StatesError('States.Runtime', `path ${expression} not found in the state's input`);
    }
    value = value[key];
  }
  return value;
}

function resolveTemplate(template: Json, input: Json, contextObject: Json): Json {
  if (Array.isArray(template)) return template.map((t) => resolveTemplate(t, input, contextObject));
  if (template === null || typeof template !== 'object') return template;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(template)) {
    if (key.endsWith('.$')) {
      if (typeof value !== 'string' || !value.startsWith('$')) {
        throw new StatesError('States.Runtime', `the interpreter supports paths only (no intrinsic functions), got ${key}: ${JSON.stringify(value)}`);
      }
      out[key.slice(0, -2)] = readPath(input, contextObject, value);
    } else {
      out[key] = resolveTemplate(value, input, contextObject);
    }
  }
  return out;
}

function applyResultPath(input: Json, resultPath: string | null | undefined, result: Json): Json {
  if (resultPath === null) return input;
  if (resultPath === undefined || resultPath === '$') return result;
  if (!/^\$(\.[A-Za-z0-9_-]+)+$/.test(resultPath)) throw new StatesError('States.Runtime', `unsupported ResultPath ${resultPath}`);
  const out = structuredClone(input) as JsonObject;
  const keys = resultPath.split('.').slice(1);
  let node = out;
  for (const key of keys.slice(0, -1)) {
    if (node[key] === null || typeof node[key] !== 'object' || Array.isArray(node[key])) node[key] = {};
    node = node[key] as JsonObject;
  }
  node[keys[keys.length - 1]] = result;
  return out;
}

/** One Lambda invocation, as the task invoker records it (the interpreter only holds the list). */
export interface InvocationRecord {
  readonly state: string;
  readonly phase: string;
  readonly batch?: number;
  /** Unscaled seconds, what Lambda would bill. */
  readonly seconds: number;
  readonly error?: string;
}

export interface ExecutionStats {
  transitions: number;
  retries: number;
  largestStateBytes: number;
  readonly invocations: InvocationRecord[];
  /** Unscaled seconds spent in each top-level state. */
  readonly stateSeconds: Record<string, number>;
}

/** Invokes a Task's Resource with its payload; throws a StatesError (by its name) when the task fails. */
export type TaskInvoker = (resource: string, payload: Json, state: string) => Promise<Json>;

export interface InterpreterOptions {
  /**
   * How many times faster than Step Functions the clock runs: Retry waits are divided by it, measured
   * times multiplied by it.
   * @default 1
   */
  readonly timeScale?: number;
  /** @default Math.random, FULL jitter's draw in [0, 1) */
  readonly random?: () => number;
  /** Waits a Retry's delay, given in unscaled seconds. @default setTimeout for seconds / timeScale */
  readonly sleep?: (unscaledSeconds: number) => Promise<void>;
  /** @default performance.now */
  readonly now?: () => number;
  /** Progress lines (retries, catches). @default none */
  readonly log?: (line: string) => void;
}

export class Interpreter {
  readonly stats: ExecutionStats = { transitions: 0, retries: 0, largestStateBytes: 0, invocations: [], stateSeconds: {} };
  private readonly timeScale: number;
  private readonly random: () => number;
  private readonly sleep: (unscaledSeconds: number) => Promise<void>;
  private readonly now: () => number;
  private readonly log: (line: string) => void;

  constructor(private readonly invokeTask: TaskInvoker, options: InterpreterOptions = {}) {
    const timeScale = options.timeScale ?? 1;
    this.timeScale = timeScale;
    this.random = options.random ?? Math.random;
    this.sleep = options.sleep ?? ((s) => new Promise((resolve) => setTimeout(resolve, (s * 1000) / timeScale)));
    this.now = options.now ?? (() => performance.now());
    this.log = options.log ?? (() => undefined);
  }

  /** Runs a whole execution; throws StatesError if it fails. */
  async execute(machine: Machine, input: Json, name: string): Promise<Json> {
    const contextObject: JsonObject = { Execution: { Name: name, Input: input, StartTime: new Date().toISOString() } };
    const started = this.now();
    const output = await this.run(machine, input, contextObject, true);
    if (machine.TimeoutSeconds !== undefined && this.unscaledSeconds(started) > machine.TimeoutSeconds) {
      throw new StatesError('States.Timeout', `the execution took longer than its TimeoutSeconds ${machine.TimeoutSeconds}`);
    }
    return output;
  }

  private unscaledSeconds(startMs: number): number {
    return ((this.now() - startMs) / 1000) * this.timeScale;
  }

  private async run(machine: Machine, input: Json, contextObject: JsonObject, topLevel = false): Promise<Json> {
    let name: string | undefined = machine.StartAt;
    let data = input;
    while (name !== undefined) {
      const def: StateDef | undefined = machine.States[name];
      if (!def) throw new StatesError('States.Runtime', `no state named ${name}`);
      const started = this.now();
      const { output, next } = await this.runWithRetries(name, def, data, contextObject);
      if (topLevel) this.stats.stateSeconds[name] = (this.stats.stateSeconds[name] ?? 0) + this.unscaledSeconds(started);
      data = output;
      name = next;
    }
    return data;
  }

  private async runWithRetries(name: string, def: StateDef, input: Json, contextObject: JsonObject): Promise<{ output: Json; next?: string }> {
    const attempts = (def.Retry ?? []).map(() => 0);
    this.stats.transitions += 1;
    for (;;) {
      try {
        const output = await this.runState(name, def, input, contextObject);
        if (def.Type === 'Choice') return { output, next: this.choose(name, def, output, contextObject) };
        return { output, next: def.End || def.Type === 'Succeed' ? undefined : def.Next };
      } catch (error) {
        if (!(error instanceof StatesError) || TERMINAL.has(error.error)) throw error;
        const r = (def.Retry ?? []).findIndex((retrier) => matches(retrier.ErrorEquals, error.error));
        const retrier = def.Retry?.[r];
        if (retrier && attempts[r] < (retrier.MaxAttempts ?? 3)) {
          attempts[r] += 1;
          await this.waitBeforeRetry(name, error, retrier, attempts[r]);
          continue;
        }
        const catcher = def.Catch?.find((c) => matches(c.ErrorEquals, error.error));
        if (!catcher) throw error;
        this.log(`  ${name} failed with ${error.error}, caught: going to ${catcher.Next}`);
        const output = applyResultPath(input, catcher.ResultPath, { Error: error.error, Cause: error.cause });
        return { output: this.checkSize(output, `${name}'s Catch`), next: catcher.Next };
      }
    }
  }

  /** IntervalSeconds × BackoffRate^(attempt − 1), at most MaxDelaySeconds, times a draw in [0, 1) with FULL jitter. */
  private async waitBeforeRetry(name: string, error: StatesError, retrier: Retrier, attempt: number): Promise<void> {
    let delay = (retrier.IntervalSeconds ?? 1) * (retrier.BackoffRate ?? 2) ** (attempt - 1);
    if (retrier.MaxDelaySeconds !== undefined) delay = Math.min(delay, retrier.MaxDelaySeconds);
    if (retrier.JitterStrategy === 'FULL') delay *= this.random();
    this.log(`  ${name} failed with ${error.error}, retry ${attempt} in ${delay.toFixed(1)} s (unscaled)`);
    await this.sleep(delay);
    this.stats.retries += 1;
    this.stats.transitions += 1;
  }

  private choose(name: string, def: StateDef, input: Json, contextObject: JsonObject): string {
    for (const rule of def.Choices ?? []) {
      if (Object.keys(rule).sort().join() !== 'IsPresent,Next,Variable') {
        throw new StatesError('States.Runtime', `the interpreter's Choice supports IsPresent rules only (${name}): ${JSON.stringify(rule)}`);
      }
      let present = true;
      try {
        readPath(input, contextObject, rule.Variable);
      } catch {
        present = false;
      }
      if (present === rule.IsPresent) return rule.Next;
    }
    if (!def.Default) throw new StatesError('States.NoChoiceMatched', `${name}: no rule matched and there is no Default`);
    return def.Default;
  }

  private checkSize(value: Json, where: string): Json {
    const bytes = Buffer.byteLength(JSON.stringify(value));
    this.stats.largestStateBytes = Math.max(this.stats.largestStateBytes, bytes);
    if (bytes > STATE_LIMIT_BYTES) throw new StatesError('States.DataLimitExceeded', `${where}: ${bytes} bytes`);
    return value;
  }

  private async runState(name: string, def: StateDef, stateInput: Json, contextObject: JsonObject): Promise<Json> {
    const input = def.InputPath === null ? {} : def.InputPath ? readPath(stateInput, contextObject, def.InputPath) : stateInput;
    let output: Json;
    switch (def.Type) {
      case 'Task':
        output = await this.runTask(name, def, stateInput, input, contextObject);
        break;
      case 'Choice':
      case 'Succeed':
        output = input;
        break;
      case 'Pass': {
        const result = def.Result !== undefined ? def.Result
          : def.Parameters !== undefined ? resolveTemplate(def.Parameters, input, contextObject) : input;
        output = applyResultPath(stateInput, def.ResultPath, result);
        break;
      }
      case 'Map':
        output = applyResultPath(stateInput, def.ResultPath, await this.runMap(name, def, input, contextObject));
        break;
      default:
        throw new StatesError('States.Runtime', `the interpreter does not support ${def.Type} states (${name})`);
    }
    if (def.OutputPath === null) output = {};
    else if (def.OutputPath) output = readPath(output, contextObject, def.OutputPath);
    return this.checkSize(output, `${name}'s output`);
  }

  private async runTask(name: string, def: StateDef, stateInput: Json, input: Json, contextObject: JsonObject): Promise<Json> {
    if (!def.Resource) throw new StatesError('States.Runtime', `${name} has no Resource`);
    const payload = this.checkSize(def.Parameters !== undefined ? resolveTemplate(def.Parameters, input, contextObject) : input, `${name}'s input`);
    let result = await this.invokeTask(def.Resource, payload, name);
    if (def.ResultSelector !== undefined) result = resolveTemplate(def.ResultSelector, result, contextObject);
    return applyResultPath(stateInput, def.ResultPath, this.checkSize(result, `${name}'s result`));
  }

  /** The iterations' outputs in item order, at most MaxConcurrency (0 or none: all) running at once. */
  private async runMap(name: string, def: StateDef, input: Json, contextObject: JsonObject): Promise<Json[]> {
    const processor = def.ItemProcessor ?? def.Iterator;
    if (!processor) throw new StatesError('States.Runtime', `${name} has no ItemProcessor`);
    const items = readPath(input, contextObject, def.ItemsPath ?? '$');
    if (!Array.isArray(items)) throw new StatesError('States.Runtime', `${name}'s ItemsPath ${def.ItemsPath} is not an array`);
    const results: Json[] = new Array(items.length);
    let next = 0;
    const worker = async () => {
      while (next < items.length) {
        const index = next++;
        const itemContext: JsonObject = { ...contextObject, Map: { Item: { Index: index, Value: items[index] } } };
        const itemInput = def.ItemSelector !== undefined ? resolveTemplate(def.ItemSelector, input, itemContext) : items[index];
        results[index] = await this.run(processor, itemInput, itemContext);
      }
    };
    const concurrency = def.MaxConcurrency && def.MaxConcurrency > 0 ? def.MaxConcurrency : items.length;
    await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
    return results;
  }
}
