// Scale benchmark of Orchestration.STEP_FUNCTIONS: synthesizes a SnapshotPolicy, reads its state machine and
// run function from the template, and carries the definition out in-process with a small interpreter (Task,
// Map, Pass; Retry and Catch) whose Lambda tasks invoke the real lambda/orchestrated.ts handler, with the
// function's environment and a context that reflects its Timeout. EC2 is moto behind fault-proxy.ts (EC2's
// token buckets); the plan's S3 bucket is moto's S3. Time is scaled: the proxy's buckets, the handler's
// buckets, its pacer's back-off, its deadline, the Lambda Timeout and Step Functions' retry intervals all run
// BENCH_TIME_SCALE times faster. For fleets of 1,000, 5,000 and 10,000 instances it prints batches,
// invocations, the longest invocation and the whole run (unscaled seconds) against the bucket's limit
// (N-100)/5 s, API calls against their lower bound, instances lost, and the cost of the largest run.
// Run: npx projen bundle:handlers && npx ts-node --transpile-only bench/scale.ts
//
// Knobs (environment): BENCH_SCALE_SIZES=1000,5000,10000  BENCH_TIME_SCALE=10  BENCH_SCALE_MOTO_INDEX=1 (0 runs
// moto without the tag index below)  BENCH_SCALE_THROTTLE_RATE=0  BENCH_SCALE_SERVER_ERROR_RATE=0 (injected faults)
import { AsyncLocalStorage } from 'async_hooks';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import {
  CreateSnapshotsCommand, DescribeImagesCommand, DescribeInstancesCommand, DescribeSnapshotsCommand, DescribeTagsCommand, EC2Client,
} from '@aws-sdk/client-ec2';
import { CreateBucketCommand, ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { FLEET_TAG, growFleet } from './fleet';
import { handler } from '../lambda/handlers/orchestrated';
import { INSTANCE_ID_TAG, POLICY_ID_TAG, SLOT_TAG } from '../lambda/logic/model';
import { realClock } from '../lambda/support/rate-limiter';
import { Orchestration, Retention, SnapshotPolicy } from '../lib';
import { countRecords, EC2_LIMITS, FaultProxy, startFaultProxy } from '../test/support/fault-proxy';
import { MotoServer, startMoto } from '../test/support/moto-server';

const REGION = 'us-east-1';
const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };
const TIME_SCALE = Number(process.env.BENCH_TIME_SCALE ?? 10);
const SIZES = [...new Set((process.env.BENCH_SCALE_SIZES ?? '1000,5000,10000').split(',').map(Number))].sort((a, b) => a - b);
const MOTO_INDEX = process.env.BENCH_SCALE_MOTO_INDEX !== '0';
const THROTTLE_RATE = Number(process.env.BENCH_SCALE_THROTTLE_RATE ?? 0);
const SERVER_ERROR_RATE = Number(process.env.BENCH_SCALE_SERVER_ERROR_RATE ?? 0);
/** Instances per RunInstances call; moto makes one reservation of each call. */
const PLAN_BUCKET = 'scale-bench-plans';
/** The clean-up stage: this many snapshots of this policy (one-volume instances, CLEANUP_SLOTS sets each). */
const CLEANUP_SNAPSHOTS = Number(process.env.BENCH_SCALE_CLEANUP_SNAPSHOTS ?? 20_000);
const CLEANUP_SLOTS = 4;
/** The bench policy's retention: the two newest sets of each instance stay, the two older ones expire. */
const CLEANUP_KEEP_LAST = 2;
/** Step Functions' limit on a state's input or output. */
const STATE_LIMIT_BYTES = 256 * 1024;
/** us-east-1 list prices (USD), free tiers left out. EC2 API calls are not charged. */
const PRICE = {
  transition: 0.025 / 1000,
  lambdaGbSecond: { arm64: 0.0000133334, x86_64: 0.0000166667 } as Record<string, number>,
  lambdaRequest: 0.2 / 1e6,
  s3Put: 0.005 / 1000,
  s3Get: 0.0004 / 1000,
  logsGb: 0.5,
};

if (!(TIME_SCALE > 0)) throw new Error(`BENCH_TIME_SCALE must be positive, got ${process.env.BENCH_TIME_SCALE}`);
if (!Number.isInteger(CLEANUP_SNAPSHOTS) || CLEANUP_SNAPSHOTS < 0 || CLEANUP_SNAPSHOTS % CLEANUP_SLOTS !== 0) {
  throw new Error(`BENCH_SCALE_CLEANUP_SNAPSHOTS must be a whole multiple of ${CLEANUP_SLOTS} (0 skips the stage), got ${process.env.BENCH_SCALE_CLEANUP_SNAPSHOTS}`);
}
if (SIZES.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`BENCH_SCALE_SIZES must list whole numbers, got ${process.env.BENCH_SCALE_SIZES}`);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

const stderr = process.stderr.write.bind(process.stderr);
const progress = (line: string) => { stderr(`${line}\n`); };
const seconds = (startMs: number) => (performance.now() - startMs) / 1000;

// ---------------------------------------------------------------------------------------------------------
// What the template says: the definition, and the function its tasks invoke.

interface RunFunction {
  readonly logicalId: string;
  readonly environment: Record<string, string>;
  readonly timeoutSeconds: number;
  readonly memoryMb: number;
  readonly architecture: string;
}

interface Synthesized {
  readonly definition: Machine;
  /** Task Resource (with tokens replaced by placeholders) to the function it invokes. */
  readonly functions: Map<string, RunFunction>;
}

/** A Fn::Join of strings and tokens, with each token replaced by a JSON-safe placeholder. */
function joinWithPlaceholders(value: unknown, tokens: Map<string, unknown>): string {
  if (typeof value === 'string') return value;
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  if (!join) throw new Error(`expected a string or Fn::Join, got ${JSON.stringify(value).slice(0, 200)}`);
  return join[1].map((part) => {
    if (typeof part === 'string') return part;
    const placeholder = `\${token-${tokens.size}}`;
    tokens.set(placeholder, part);
    return placeholder;
  }).join(join[0]);
}

/** The run's and the clean-up's state machines of a synthesized policy, told apart by their first state. */
function synthesize(): { run: Synthesized; cleanup: Synthesized } {
  const app = new App();
  const stack = new Stack(app, 'ScaleBench', { env: { account: '123456789012', region: REGION } });
  new SnapshotPolicy(stack, 'Fleet', {
    instanceTags: { [FLEET_TAG.Key]: FLEET_TAG.Value },
    orchestration: Orchestration.STEP_FUNCTIONS,
    retention: Retention.keepLast(CLEANUP_KEEP_LAST),
  });
  const resources = Template.fromStack(stack).toJSON().Resources as Record<string, { Type: string; Properties: Record<string, any> }>;
  const machines = Object.values(resources).filter((r) => r.Type === 'AWS::StepFunctions::StateMachine').map((m) => readMachine(m, resources));
  const byStart = (start: string) => {
    const found = machines.filter((m) => m.definition.StartAt === start);
    if (found.length !== 1) throw new Error(`expected one state machine starting at ${start} in the template, found ${found.length}`);
    return found[0];
  };
  if (machines.length !== 2) throw new Error(`expected two state machines in the template, found ${machines.length}`);
  return { run: byStart('PlanBatches'), cleanup: byStart('PlanDeletions') };
}

type Resources = Record<string, { Type: string; Properties: Record<string, any> }>;

function readMachine(machine: { Properties: Record<string, any> }, resources: Resources): Synthesized {
  const tokens = new Map<string, unknown>();
  const definition = JSON.parse(joinWithPlaceholders(machine.Properties.DefinitionString, tokens)) as Machine;

  const functions = new Map<string, RunFunction>();
  for (const [placeholder, token] of tokens) {
    const getAtt = (token as { 'Fn::GetAtt'?: [string, string] })['Fn::GetAtt'];
    if (!getAtt || getAtt[1] !== 'Arn' || resources[getAtt[0]]?.Type !== 'AWS::Lambda::Function') continue;
    const props = resources[getAtt[0]].Properties;
    const environment: Record<string, string> = {};
    for (const [name, value] of Object.entries<unknown>(props.Environment?.Variables ?? {})) {
      const ref = (value as { Ref?: string } | null)?.Ref;
      if (typeof value === 'string') environment[name] = value;
      else if (ref && resources[ref]?.Type === 'AWS::S3::Bucket') environment[name] = PLAN_BUCKET;
      else throw new Error(`environment variable ${name} of ${getAtt[0]} is a token the bench cannot resolve: ${JSON.stringify(value)}`);
    }
    functions.set(placeholder, {
      logicalId: getAtt[0],
      environment,
      timeoutSeconds: props.Timeout ?? 3,
      memoryMb: props.MemorySize ?? 128,
      architecture: props.Architectures?.[0] ?? 'x86_64',
    });
  }
  return { definition, functions };
}

// ---------------------------------------------------------------------------------------------------------
// A Step Functions interpreter for the states this definition uses: Task (a Lambda function, payload only),
// Map (inline, MaxConcurrency), Pass, Choice (IsPresent rules), Succeed; Parameters and ItemSelector with JSONPath ("$.a.b", "$$.Map.Item.Value"),
// ResultPath, Retry (per-retrier attempts, BackoffRate, MaxDelaySeconds, FULL jitter) and Catch.

interface Retrier {
  readonly ErrorEquals: string[];
  readonly IntervalSeconds?: number;
  readonly MaxAttempts?: number;
  readonly BackoffRate?: number;
  readonly MaxDelaySeconds?: number;
  readonly JitterStrategy?: 'FULL' | 'NONE';
}

interface Catcher {
  readonly ErrorEquals: string[];
  readonly ResultPath?: string | null;
  readonly Next: string;
}

interface StateDef {
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

/** The Choice rules the bench supports: a path that is present or not. */
interface ChoiceRule {
  readonly Variable: string;
  readonly IsPresent: boolean;
  readonly Next: string;
}

interface Machine {
  readonly StartAt: string;
  readonly States: Record<string, StateDef>;
  readonly TimeoutSeconds?: number;
}

/** A Step Functions error: a name for Retry and Catch, and a cause. */
class StatesError extends Error {
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
    throw new StatesError('States.Runtime', `the bench's JSONPath supports $.a.b only, got ${expression}`);
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
        throw new StatesError('States.Runtime', `the bench supports paths only (no intrinsic functions), got ${key}: ${JSON.stringify(value)}`);
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

interface InvocationRecord {
  readonly state: string;
  readonly phase: string;
  readonly batch?: number;
  /** Unscaled (EC2-time) seconds, what Lambda would bill. */
  readonly seconds: number;
  readonly error?: string;
}

interface ExecutionStats {
  transitions: number;
  retries: number;
  largestStateBytes: number;
  readonly invocations: InvocationRecord[];
  /** Unscaled seconds spent in each top-level state. */
  readonly stateSeconds: Record<string, number>;
}

type TaskInvoker = (resource: string, payload: Json, state: string) => Promise<Json>;

class Interpreter {
  readonly stats: ExecutionStats = { transitions: 0, retries: 0, largestStateBytes: 0, invocations: [], stateSeconds: {} };

  constructor(private readonly invokeTask: TaskInvoker) {}

  /** Runs a whole execution; throws StatesError if it fails. */
  async execute(machine: Machine, input: Json, name: string): Promise<Json> {
    const contextObject: JsonObject = { Execution: { Name: name, Input: input, StartTime: new Date().toISOString() } };
    const started = performance.now();
    const output = await this.run(machine, input, contextObject, true);
    if (machine.TimeoutSeconds !== undefined && seconds(started) * TIME_SCALE > machine.TimeoutSeconds) {
      throw new StatesError('States.Timeout', `the execution took longer than its TimeoutSeconds ${machine.TimeoutSeconds}`);
    }
    return output;
  }

  private async run(machine: Machine, input: Json, contextObject: JsonObject, topLevel = false): Promise<Json> {
    let name: string | undefined = machine.StartAt;
    let data = input;
    while (name !== undefined) {
      const def: StateDef | undefined = machine.States[name];
      if (!def) throw new StatesError('States.Runtime', `no state named ${name}`);
      const started = performance.now();
      const { output, next } = await this.runWithRetries(name, def, data, contextObject);
      if (topLevel) this.stats.stateSeconds[name] = (this.stats.stateSeconds[name] ?? 0) + seconds(started) * TIME_SCALE;
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
          let delay = (retrier.IntervalSeconds ?? 1) * (retrier.BackoffRate ?? 2) ** (attempts[r] - 1);
          if (retrier.MaxDelaySeconds !== undefined) delay = Math.min(delay, retrier.MaxDelaySeconds);
          if (retrier.JitterStrategy === 'FULL') delay *= Math.random();
          progress(`  ${name} failed with ${error.error}, retry ${attempts[r]} in ${delay.toFixed(1)} s (unscaled)`);
          await new Promise((resolve) => setTimeout(resolve, (delay * 1000) / TIME_SCALE));
          this.stats.retries += 1;
          this.stats.transitions += 1;
          continue;
        }
        const catcher = def.Catch?.find((c) => matches(c.ErrorEquals, error.error));
        if (!catcher) throw error;
        progress(`  ${name} failed with ${error.error}, caught: going to ${catcher.Next}`);
        const output = applyResultPath(input, catcher.ResultPath, { Error: error.error, Cause: error.cause });
        return { output: this.checkSize(output, `${name}'s Catch`), next: catcher.Next };
      }
    }
  }

  private choose(name: string, def: StateDef, input: Json, contextObject: JsonObject): string {
    for (const rule of def.Choices ?? []) {
      if (Object.keys(rule).sort().join() !== 'IsPresent,Next,Variable') {
        throw new StatesError('States.Runtime', `the bench's Choice supports IsPresent rules only (${name}): ${JSON.stringify(rule)}`);
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
      case 'Task': {
        if (!def.Resource) throw new StatesError('States.Runtime', `${name} has no Resource`);
        const payload = this.checkSize(def.Parameters !== undefined ? resolveTemplate(def.Parameters, input, contextObject) : input, `${name}'s input`);
        let result = await this.invokeTask(def.Resource, payload, name);
        if (def.ResultSelector !== undefined) result = resolveTemplate(def.ResultSelector, result, contextObject);
        output = applyResultPath(stateInput, def.ResultPath, this.checkSize(result, `${name}'s result`));
        break;
      }
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
      case 'Map': {
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
        output = applyResultPath(stateInput, def.ResultPath, results);
        break;
      }
      default:
        throw new StatesError('States.Runtime', `the bench's interpreter does not support ${def.Type} states (${name})`);
    }
    if (def.OutputPath === null) output = {};
    else if (def.OutputPath) output = readPath(output, contextObject, def.OutputPath);
    return this.checkSize(output, `${name}'s output`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Lambda, in-process: the real handler, with a time-scaled clock per invocation and its Timeout enforced.

interface InvocationClock {
  /** Epoch ms and performance.now() when the invocation started; its clock runs TIME_SCALE times faster. */
  readonly startMs: number;
  readonly startPerf: number;
  /** Set when the invocation timed out: its later waits never end, as Lambda freezes a timed-out sandbox. */
  frozen: boolean;
}

const invocationClock = new AsyncLocalStorage<InvocationClock>();
const unscaledClock = { now: realClock.now, sleep: realClock.sleep };
/** How long the scaled clock has been running in this invocation, in unscaled ms. */
const scaledElapsedMs = (c: InvocationClock) => (performance.now() - c.startPerf) * TIME_SCALE;

/**
 * The handler's buckets (lambda/rate-limiter.ts) and pacer (lambda/pacer.ts) take their time from
 * `realClock`. Inside an invocation it runs TIME_SCALE times faster, from the invocation's start: bucket
 * refills, the pacer's back-off and its deadline check (against `Date.now() + remaining - safety margin`,
 * taken at the start) are all scaled alike, like the proxy's buckets.
 */
function installScaledClock(): void {
  realClock.now = () => {
    const c = invocationClock.getStore();
    return c ? c.startMs + scaledElapsedMs(c) : unscaledClock.now();
  };
  realClock.sleep = async (ms) => {
    const c = invocationClock.getStore();
    if (!c) return unscaledClock.sleep(ms);
    const never = () => new Promise<void>(() => undefined);
    if (c.frozen) return never();
    await unscaledClock.sleep(ms / TIME_SCALE);
    if (c.frozen) return never();
  };
}

/** The handler's console output: counted, and the instances it names as failed or not reached kept. */
class LogCapture {
  bytes = 0;
  lines = 0;
  readonly failedInstances = new Set<string>();
  private restore?: () => void;

  start(): void {
    const original = { log: console.log, info: console.info, warn: console.warn, error: console.error, write: process.stdout.write };
    const take = (text: string) => {
      for (const line of text.split('\n')) {
        if (line === '') continue;
        this.lines += 1;
        this.bytes += Buffer.byteLength(line) + 1;
        if (line.includes('"snapshot-failed"') || line.includes('"snapshot-not-reached"') || line.includes('"plan-failed"')) {
          const id = (JSON.parse(line) as { instanceId?: string }).instanceId;
          if (id) this.failedInstances.add(id);
        }
      }
    };
    const collect = (...args: unknown[]) => take(args.map(String).join(' '));
    console.log = console.info = console.warn = console.error = collect;
    // Powertools writes its embedded-metric lines to process.stdout through a Console of its own.
    process.stdout.write = ((chunk: string | Uint8Array) => { take(String(chunk)); return true; }) as typeof process.stdout.write;
    this.restore = () => {
      Object.assign(console, { log: original.log, info: original.info, warn: original.warn, error: original.error });
      process.stdout.write = original.write;
    };
  }

  stop(): void {
    this.restore?.();
    this.restore = undefined;
  }
}

/** Invokes the handler as Lambda would a function with this Timeout, on the scaled clock. */
async function invokeLambda(fn: RunFunction, payload: Json): Promise<{ result: Json; seconds: number; error?: StatesError }> {
  const clock: InvocationClock = { startMs: Date.now(), startPerf: performance.now(), frozen: false };
  const timeoutMs = fn.timeoutSeconds * 1000;
  const context = { functionName: fn.logicalId, getRemainingTimeInMillis: () => Math.max(0, timeoutMs - scaledElapsedMs(clock)) };
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), timeoutMs / TIME_SCALE); });
  try {
    const outcome = await Promise.race([
      invocationClock.run(clock, () => handler(payload as never, context)).then((value) => ({ value })),
      timedOut,
    ]);
    const elapsed = Math.min(timeoutMs, scaledElapsedMs(clock)) / 1000;
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
      seconds: Math.min(timeoutMs, scaledElapsedMs(clock)) / 1000,
      error: new StatesError(errorType, JSON.stringify({ errorType, errorMessage: e?.message ?? String(error) })),
    };
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------------------
// moto: started with an index on its tag lookups, reset and seeded per fleet size.

/**
 * moto finds an object's tags by scanning every tag it holds (TagBackend.describe_tags with a resource-id
 * filter), so DescribeInstances, DescribeSnapshots with tag filters and even RunInstances grow quadratically:
 * measured here with 10,000 instances, DescribeInstances took 179 s and DescribeSnapshots of 3,000 tagged
 * snapshots 121 s. This sitecustomize answers the lookup of one literal resource id from moto's own dict
 * (same result, same order); every other filter takes moto's code. It fails moto's start if moto changed.
 */
const MOTO_TAG_INDEX = `
from moto.ec2.models import tags as _tags
from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix
_scan = _tags.TagBackend.describe_tags
def describe_tags(self, filters=None):
    ids = (filters or {}).get("resource-id")
    if ids and len(filters) == 1 and len(ids) == 1 and not any(c in ids[0] for c in "*?[\\\\"):
        rid = ids[0]
        kind = EC2_PREFIX_TO_RESOURCE.get(get_prefix(rid), "")
        return [{"resource_id": rid, "key": k, "value": v, "resource_type": kind} for k, v in self.tags.get(rid, {}).items()]
    return _scan(self, filters)
_tags.TagBackend.describe_tags = describe_tags
`;

async function startBenchMoto(): Promise<MotoServer> {
  if (!MOTO_INDEX) return startMoto();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scale-bench-moto-'));
  fs.writeFileSync(path.join(dir, 'sitecustomize.py'), MOTO_TAG_INDEX);
  const before = process.env.PYTHONPATH;
  process.env.PYTHONPATH = before ? `${dir}${path.delimiter}${before}` : dir;
  try {
    return await startMoto();
  } finally {
    if (before === undefined) delete process.env.PYTHONPATH;
    else process.env.PYTHONPATH = before;
    // Python has read the module by the time moto answers.
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Resets moto and checks it holds nothing, then creates the plan bucket. */
async function resetMoto(moto: MotoServer, ec2: EC2Client, s3: S3Client): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await moto.reset();
    const reservations = (await ec2.send(new DescribeInstancesCommand({}))).Reservations ?? [];
    const buckets = (await s3.send(new ListBucketsCommand({}))).Buckets ?? [];
    if (reservations.length === 0 && buckets.length === 0) break;
    if (attempt >= 3) throw new Error(`moto still holds ${reservations.length} reservations and ${buckets.length} buckets after ${attempt} resets`);
  }
  await s3.send(new CreateBucketCommand({ Bucket: PLAN_BUCKET }));
}

/** A tagged fleet of `size` running instances (bench/fleet.ts). */
async function seed(ec2: EC2Client, size: number): Promise<string[]> {
  const imageId = (await ec2.send(new DescribeImagesCommand({}))).Images![0].ImageId!;
  const fleet: string[] = [];
  await growFleet(ec2, imageId, fleet, size);
  return fleet;
}

/** Instance id to the number of snapshots moto holds for it in this slot, read directly from the tags. */
async function setsInMoto(ec2: EC2Client, slot: string): Promise<Map<string, number>> {
  const inSlot = await ec2.send(new DescribeTagsCommand({
    Filters: [{ Name: 'resource-type', Values: ['snapshot'] }, { Name: 'key', Values: [SLOT_TAG] }, { Name: 'value', Values: [slot] }],
  }));
  const snapshotIds = new Set((inSlot.Tags ?? []).map((t) => t.ResourceId!));
  const owners = await ec2.send(new DescribeTagsCommand({
    Filters: [{ Name: 'resource-type', Values: ['snapshot'] }, { Name: 'key', Values: [INSTANCE_ID_TAG] }],
  }));
  const sets = new Map<string, number>();
  for (const t of owners.Tags ?? []) {
    if (snapshotIds.has(t.ResourceId!)) sets.set(t.Value!, (sets.get(t.Value!) ?? 0) + 1);
  }
  return sets;
}

/** S3 requests of the handler, by command, counted on the client class it shares with this script. */
const s3Calls: Record<string, number> = {};
function countS3Calls(): void {
  const send = S3Client.prototype.send;
  S3Client.prototype.send = function (this: S3Client, command: { constructor: { name: string } }, ...rest: unknown[]) {
    const name = command.constructor.name.replace(/Command$/, '');
    s3Calls[name] = (s3Calls[name] ?? 0) + 1;
    return (send as (...args: unknown[]) => unknown).call(this, command, ...rest);
  } as typeof S3Client.prototype.send;
}

/** Runs one execution named after the slot with the handler's output captured: its output, status and wall seconds. */
async function executeCapturing(
  interpreter: Interpreter, definition: Machine, slot: string, logs: LogCapture,
): Promise<{ report: JsonObject | undefined; status: string; runSeconds: number }> {
  const wallRun = performance.now();
  let report: JsonObject | undefined;
  let status = 'SUCCEEDED';
  logs.start();
  try {
    report = await interpreter.execute(definition, { slot }, `slot-${slot.replace(/:/g, '-')}`) as JsonObject;
  } catch (error) {
    if (!(error instanceof StatesError)) throw error;
    status = `FAILED (${error.error}: ${error.cause.slice(0, 200)})`;
  } finally {
    logs.stop();
  }
  return { report, status, runSeconds: seconds(wallRun) };
}

/** An interpreter whose Lambda tasks invoke the handler as the template's functions, recording each invocation. */
function newInterpreter(synthesized: Synthesized): Interpreter {
  const interpreter = new Interpreter(async (resource, payload, state) => {
    const target = synthesized.functions.get(resource);
    if (!target) throw new StatesError('States.Runtime', `${state}: no function for Resource ${resource}`);
    const event = payload as JsonObject;
    const { result, seconds: s, error } = await invokeLambda(target, payload);
    const batch = typeof event.index === 'number' ? event.index : undefined;
    interpreter.stats.invocations.push({ state, phase: String(event.phase), batch, seconds: s, error: error?.error });
    progress(`  ${state}${batch === undefined ? '' : ` ${batch}`}: ${s.toFixed(1)} s (unscaled)${error ? ` ${error.error}` : ''}`);
    if (error) throw error;
    return result;
  });
  return interpreter;
}

// ---------------------------------------------------------------------------------------------------------

interface SizeResult {
  readonly n: number;
  readonly batchSize: number;
  readonly batches: number;
  readonly timeoutSeconds: number;
  readonly status: string;
  readonly stats: ExecutionStats;
  readonly totalSeconds: number;
  readonly calls: Record<string, number>;
  readonly bucketThrottled: number;
  readonly injected: number;
  readonly s3: Record<string, number>;
  readonly report: JsonObject | undefined;
  readonly noSet: number;
  readonly namedInReport: number;
  readonly onlyInLogs: number;
  readonly lost: number;
  readonly duplicates: number;
  readonly logBytes: number;
  readonly wall: { seed: number; run: number; check: number };
}

async function runSize(
  n: number, index: number, synthesized: Synthesized, moto: MotoServer, proxy: FaultProxy, ec2: EC2Client, s3: S3Client,
): Promise<SizeResult> {
  const wallSeed = performance.now();
  await resetMoto(moto, ec2, s3);
  const fleet = await seed(ec2, n);
  const seedSeconds = seconds(wallSeed);
  progress(`N=${n}: seeded ${fleet.length} instances in ${seedSeconds.toFixed(1)} s; running the state machine...`);

  const fn = [...synthesized.functions.values()][0];
  const firstRecord = proxy.records.length;
  for (const key of Object.keys(s3Calls)) delete s3Calls[key];
  const logs = new LogCapture();
  const interpreter = newInterpreter(synthesized);
  // A distinct slot per size, in the past (the handler refuses slots more than an hour ahead of its clock).
  const slot = new Date((Math.floor(Date.now() / 60_000) - SIZES.length + index) * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const { report, status, runSeconds } = await executeCapturing(interpreter, synthesized.definition, slot, logs);

  const wallCheck = performance.now();
  const records = proxy.records.slice(firstRecord);
  const counters = countRecords(records);
  const sets = await setsInMoto(ec2, slot);
  const named = new Set(((report?.failures ?? []) as Array<{ instanceId: string }>).map((f) => f.instanceId));
  const noSet = fleet.filter((id) => !sets.has(id));
  // Instances sent more than one CreateSnapshots that moto accepted: a second set for the same slot.
  const accepted = new Map<string, number>();
  for (const r of records) {
    if (r.action === 'CreateSnapshots' && r.status === 200 && r.instanceId) accepted.set(r.instanceId, (accepted.get(r.instanceId) ?? 0) + 1);
  }
  const all = Object.values(counters);
  return {
    n,
    batchSize: Number(fn.environment.BATCH_SIZE),
    timeoutSeconds: fn.timeoutSeconds,
    batches: interpreter.stats.invocations.filter((i) => i.phase === 'execute-batch').reduce((s, i) => s.add(i.batch!), new Set<number>()).size,
    status,
    stats: interpreter.stats,
    totalSeconds: runSeconds * TIME_SCALE,
    calls: Object.fromEntries(Object.entries(counters).map(([action, c]) => [action, c.requests])),
    bucketThrottled: all.reduce((s, c) => s + c.bucketThrottled, 0),
    injected: all.reduce((s, c) => s + c.throttled - c.bucketThrottled + c.serverErrors, 0),
    s3: { ...s3Calls },
    report,
    noSet: noSet.length,
    namedInReport: noSet.filter((id) => named.has(id)).length,
    onlyInLogs: noSet.filter((id) => !named.has(id) && logs.failedInstances.has(id)).length,
    lost: noSet.filter((id) => !named.has(id) && !logs.failedInstances.has(id)).length,
    duplicates: [...accepted.values()].filter((count) => count > 1).length,
    logBytes: logs.bytes,
    wall: { seed: seedSeconds, run: runSeconds, check: seconds(wallCheck) },
  };
}

const limitSeconds = (n: number) => Math.max(0, n - EC2_LIMITS.mutate.capacity) / EC2_LIMITS.mutate.refillPerSecond;
const f1 = (x: number) => x.toFixed(1);

function printDefinition(synthesized: Synthesized): void {
  const { definition } = synthesized;
  const map = Object.entries(definition.States).find(([, s]) => s.Type === 'Map');
  if (!map) throw new Error('the definition has no Map state');
  const processor = (map[1].ItemProcessor ?? map[1].Iterator)!;
  const task = Object.entries(processor.States).find(([, s]) => s.Type === 'Task');
  if (!task) throw new Error(`the Map state ${map[0]} has no Task`);
  const fn = synthesized.functions.get(task[1].Resource!);
  if (!fn) throw new Error(`${task[0]} does not invoke a function of the template`);
  console.log(`from the template: ${Object.keys(definition.States).join(' -> ')}; ${map[0]} ItemsPath ${map[1].ItemsPath} MaxConcurrency ${map[1].MaxConcurrency}`);
  for (const r of task[1].Retry ?? []) {
    console.log(`  ${task[0]} Retry ${r.ErrorEquals.join(',')}: IntervalSeconds ${r.IntervalSeconds} MaxAttempts ${r.MaxAttempts} ` +
      `BackoffRate ${r.BackoffRate} JitterStrategy ${r.JitterStrategy ?? 'NONE'}`);
  }
  for (const c of task[1].Catch ?? []) console.log(`  ${task[0]} Catch ${c.ErrorEquals.join(',')} ResultPath ${c.ResultPath} -> ${c.Next}`);
  const loop = Object.entries(processor.States).filter(([, st]) => st.Type === 'Choice')
    .map(([n, st]) => `${n}: ${(st.Choices ?? []).map((c) => `${c.Variable} present -> ${c.Next}`).join(', ')}, else ${st.Default}`);
  if (loop.length > 0) console.log(`  after ${task[0]}: ${loop.join('; ')}`);
  console.log(`  function ${fn.logicalId}: Timeout ${fn.timeoutSeconds} s, ${fn.memoryMb} MB ${fn.architecture}, BATCH_SIZE ${fn.environment.BATCH_SIZE}`);
  console.log(`timeScale ${TIME_SCALE}: EC2's buckets, the handler's, its pacer's back-off and deadline, the Timeout and the Retry ` +
    `intervals run ${TIME_SCALE}x faster; seconds below are unscaled (EC2 time) unless marked wall`);
  if (THROTTLE_RATE > 0 || SERVER_ERROR_RATE > 0) console.log(`injected faults: ${THROTTLE_RATE} throttling, ${SERVER_ERROR_RATE} InternalError`);
}

function printSize(r: SizeResult): void {
  const invocations = r.stats.invocations;
  const byPhase = (phase: string) => invocations.filter((i) => i.phase === phase).length;
  const longest = invocations.reduce((a, b) => (b.seconds > a.seconds ? b : a), invocations[0]);
  const lastBatch = r.n - (r.batches - 1) * r.batchSize;
  const states = Object.entries(r.stats.stateSeconds).map(([s, t]) => `${s} ${f1(t)}`).join(', ');
  const rep = (key: string) => Number(r.report?.[key] ?? 0);
  console.log(`\nN=${r.n}: ${r.status}; ${r.batches} batches of ${r.batchSize}${r.batches > 1 ? ` (last ${lastBatch})` : ''}; ` +
    `${invocations.length} invocations ` +
    `(plan ${byPhase('plan-batches')}, execute ${byPhase('execute-batch')}, report ${byPhase('report')}; ${r.stats.retries} retries)`);
  console.log(`  time: total ${f1(r.totalSeconds)} s (${states}) vs limit ${f1(limitSeconds(r.n))} s; ` +
    `longest invocation ${longest ? `${f1(longest.seconds)} s (${longest.state}${longest.batch === undefined ? '' : ` ${longest.batch}`})` : '-'} of Timeout ${r.timeoutSeconds} s`);
  const bound = { DescribeInstances: Math.ceil(r.n / 1000), DescribeAvailabilityZones: 1, CreateSnapshots: r.n, DescribeSnapshots: r.batches };
  const listed = Object.entries(bound).map(([action, b]) => `${action} ${r.calls[action] ?? 0} (bound ${b})`);
  const others = Object.entries(r.calls).filter(([action]) => !(action in bound)).map(([action, c]) => `${action} ${c}`);
  console.log(`  EC2 calls: ${[...listed, ...others].join(', ')}; refused by the bucket ${r.bucketThrottled}, injected faults ${r.injected}`);
  console.log(`  S3 calls: ${Object.entries(r.s3).map(([c, k]) => `${c} ${k}`).join(', ') || 'none'}; largest state ` +
    `${f1(r.stats.largestStateBytes / 1024)} KB of 256 KB; ${r.stats.transitions} state transitions`);
  console.log(`  report: created ${rep('created')}, already done ${rep('alreadyDone')}, failed ${rep('failed')}, not reached ${rep('notReached')}; ` +
    `without a set in moto ${r.noSet} (named in the report ${r.namedInReport}, only in the logs ${r.onlyInLogs}), lost ${r.lost}, ` +
    `second sets ${r.duplicates}`);
  console.log(`  wall: seeding ${f1(r.wall.seed)} s, run ${f1(r.wall.run)} s, check ${f1(r.wall.check)} s`);
}

function printCost(r: SizeResult, fn: RunFunction): void {
  const invocationSeconds = r.stats.invocations.reduce((s, i) => s + i.seconds, 0);
  const gbSeconds = invocationSeconds * fn.memoryMb / 1024;
  const lambdaRate = PRICE.lambdaGbSecond[fn.architecture] ?? PRICE.lambdaGbSecond.x86_64;
  const ec2Calls = Object.values(r.calls).reduce((a, b) => a + b, 0);
  const puts = r.s3.PutObject ?? 0;
  const gets = r.s3.GetObject ?? 0;
  const items = [
    ['Step Functions', r.stats.transitions * PRICE.transition, `${r.stats.transitions} transitions`],
    ['Lambda', gbSeconds * lambdaRate + r.stats.invocations.length * PRICE.lambdaRequest,
      `${f1(gbSeconds)} GB-s (${f1(invocationSeconds)} s x ${fn.memoryMb} MB ${fn.architecture}), ${r.stats.invocations.length} requests`],
    ['S3', puts * PRICE.s3Put + gets * PRICE.s3Get, `${puts} PUT, ${gets} GET`],
    ['CloudWatch Logs', (r.logBytes / 1024 ** 3) * PRICE.logsGb, `${f1(r.logBytes / 1024 ** 2)} MB of handler logs ingested`],
    ['EC2 API', 0, `${ec2Calls} calls, not charged`],
  ] as const;
  const total = items.reduce((s, [, usd]) => s + usd, 0);
  console.log(`\ncost of the ${r.n}-instance run (us-east-1 list prices, no free tier; snapshot storage not included): $${total.toFixed(4)}`);
  for (const [what, usd, detail] of items) console.log(`  ${what.padEnd(16)} $${usd.toFixed(4)}  ${detail}`);
}

// ---------------------------------------------------------------------------------------------------------
// The clean-up stage: a history of CLEANUP_SLOTS sets per instance, then one orchestrated clean-up.

interface CleanupResult {
  readonly snapshots: number;
  readonly instances: number;
  readonly expected: number;
  readonly status: string;
  readonly stats: ExecutionStats;
  readonly batches: number;
  readonly batchSize: number;
  readonly totalSeconds: number;
  readonly calls: Record<string, number>;
  readonly bucketThrottled: number;
  readonly report: JsonObject | undefined;
  /** Sets the rules keep that are gone: must be 0. */
  readonly wrongDeletes: number;
  /** Expired sets still there (each must be among the snapshots the report counts as skipped). */
  readonly left: number;
  readonly wall: { seed: number; run: number; check: number };
}

/** One set per instance and slot, made straight in moto (not through the proxy) with the tags a run gives them. */
async function seedHistory(ec2: EC2Client, fleet: readonly string[], policyId: string, slots: readonly string[]): Promise<void> {
  const jobs = slots.flatMap((slot) => fleet.map((instanceId) => ({ slot, instanceId })));
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const { slot, instanceId } = jobs[next++];
      await ec2.send(new CreateSnapshotsCommand({
        InstanceSpecification: { InstanceId: instanceId },
        TagSpecifications: [{
          ResourceType: 'snapshot',
          Tags: [{ Key: POLICY_ID_TAG, Value: policyId }, { Key: INSTANCE_ID_TAG, Value: instanceId }, { Key: SLOT_TAG, Value: slot }],
        }],
      }));
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

/**
 * Instance id to the slots of this policy's sets that moto still holds, from DescribeSnapshots straight to moto
 * (moto keeps the tags of a deleted snapshot in DescribeTags, so tags alone would count deleted sets).
 */
async function slotsInMoto(ec2: EC2Client, policyId: string): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  const listed = await ec2.send(new DescribeSnapshotsCommand({ Filters: [{ Name: `tag:${POLICY_ID_TAG}`, Values: [policyId] }] }));
  for (const snapshot of listed.Snapshots ?? []) {
    const tags = Object.fromEntries((snapshot.Tags ?? []).map((t) => [t.Key!, t.Value!]));
    const [instanceId, slot] = [tags[INSTANCE_ID_TAG], tags[SLOT_TAG]];
    if (instanceId && slot) out.set(instanceId, (out.get(instanceId) ?? new Set()).add(slot));
  }
  return out;
}

async function runCleanup(
  synthesized: Synthesized, moto: MotoServer, proxy: FaultProxy, ec2: EC2Client, s3: S3Client,
): Promise<CleanupResult> {
  const fn = [...synthesized.functions.values()][0];
  const instances = CLEANUP_SNAPSHOTS / CLEANUP_SLOTS;
  const wallSeed = performance.now();
  await resetMoto(moto, ec2, s3);
  const fleet = await seed(ec2, instances);
  // Daily slots at 03:00 UTC, the newest yesterday's.
  const today = Math.floor(Date.now() / 86_400_000) * 86_400_000;
  const slots = Array.from({ length: CLEANUP_SLOTS }, (_, i) => new Date(today - (CLEANUP_SLOTS - i) * 86_400_000 + 3 * 3_600_000)
    .toISOString().replace(/\.\d{3}Z$/, 'Z'));
  await seedHistory(ec2, fleet, fn.environment.POLICY_ID, slots);
  const seedSeconds = seconds(wallSeed);
  progress(`clean-up: seeded ${fleet.length} instances with ${slots.length} sets each in ${f1(seedSeconds)} s; running the state machine...`);

  const firstRecord = proxy.records.length;
  const logs = new LogCapture();
  const interpreter = newInterpreter(synthesized);
  const slot = new Date(Math.floor(Date.now() / 60_000) * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const { report, status, runSeconds } = await executeCapturing(interpreter, synthesized.definition, slot, logs);

  const wallCheck = performance.now();
  const counters = countRecords(proxy.records.slice(firstRecord));
  const remaining = await slotsInMoto(ec2, fn.environment.POLICY_ID);
  const kept = slots.slice(-CLEANUP_KEEP_LAST);
  let wrongDeletes = 0;
  let left = 0;
  for (const instanceId of fleet) {
    const has = remaining.get(instanceId) ?? new Set<string>();
    wrongDeletes += kept.filter((s) => !has.has(s)).length;
    left += slots.filter((s) => !kept.includes(s) && has.has(s)).length;
  }
  return {
    snapshots: CLEANUP_SNAPSHOTS,
    instances,
    expected: instances * (CLEANUP_SLOTS - CLEANUP_KEEP_LAST),
    status,
    stats: interpreter.stats,
    batches: interpreter.stats.invocations.filter((i) => i.phase === 'delete-batch').reduce((s, i) => s.add(i.batch!), new Set<number>()).size,
    batchSize: Number(fn.environment.BATCH_SIZE),
    totalSeconds: runSeconds * TIME_SCALE,
    calls: Object.fromEntries(Object.entries(counters).map(([action, c]) => [action, c.requests])),
    bucketThrottled: Object.values(counters).reduce((s, c) => s + c.bucketThrottled, 0),
    report,
    wrongDeletes,
    left,
    wall: { seed: seedSeconds, run: runSeconds, check: seconds(wallCheck) },
  };
}

function printCleanup(r: CleanupResult): void {
  const invocations = r.stats.invocations;
  const longest = invocations.reduce((a, b) => (b.seconds > a.seconds ? b : a), invocations[0]);
  const states = Object.entries(r.stats.stateSeconds).map(([s, t]) => `${s} ${f1(t)}`).join(', ');
  const rep = (key: string) => Number(r.report?.[key] ?? 0);
  console.log(`\nclean-up of ${r.snapshots} snapshots (${r.instances} instances x ${CLEANUP_SLOTS} sets, keepLast ${CLEANUP_KEEP_LAST}): ${r.status}; ` +
    `${r.batches} deletion batches of at most ${r.batchSize} snapshots; ${invocations.length} invocations (${r.stats.retries} retries)`);
  console.log(`  time: total ${f1(r.totalSeconds)} s (${states}) vs limit ${f1(limitSeconds(r.expected))} s for ${r.expected} deletes; ` +
    `longest invocation ${longest ? `${f1(longest.seconds)} s (${longest.state}${longest.batch === undefined ? '' : ` ${longest.batch}`})` : '-'}`);
  const bound = { DescribeSnapshots: Math.ceil(r.snapshots / 1000) + r.batches, DeleteSnapshot: r.expected };
  const listed = Object.entries(bound).map(([action, b]) => `${action} ${r.calls[action] ?? 0} (bound ${b})`);
  const others = Object.entries(r.calls).filter(([action]) => !(action in bound)).map(([action, c]) => `${action} ${c}`);
  console.log(`  EC2 calls: ${[...listed, ...others].join(', ')}; refused by the bucket ${r.bucketThrottled}; largest state ` +
    `${f1(r.stats.largestStateBytes / 1024)} KB of 256 KB; ${r.stats.transitions} state transitions`);
  console.log(`  report: sets kept ${rep('setsKept')}, deleted ${rep('setsDeleted')} (${rep('snapshotsDeleted')} snapshots), held ${rep('setsHeld')}, ` +
    `snapshots skipped ${rep('snapshotsSkipped')}; in moto: kept sets deleted ${r.wrongDeletes}, expired sets left ${r.left}`);
  console.log(`  wall: seeding ${f1(r.wall.seed)} s, run ${f1(r.wall.run)} s, check ${f1(r.wall.check)} s`);
  console.log(`cleanup: snapshots=${r.snapshots} deleted=${rep('snapshotsDeleted')} wrong_deletes=${r.wrongDeletes} left=${r.left} ` +
    `longest_invocation_s=${f1(Math.max(...invocations.map((i) => i.seconds)))} total_s=${f1(r.totalSeconds)} limit_s=${f1(limitSeconds(r.expected))}`);
}

async function main(): Promise<void> {
  const started = performance.now();
  const machines = synthesize();
  const synthesized = machines.run;
  const fn = [...synthesized.functions.values()][0];
  for (const m of [machines.run, machines.cleanup]) {
    if (new Set([...m.functions.values()].map((f) => f.logicalId)).size !== 1) {
      throw new Error('expected every Task of a definition to invoke the one function of its state machine');
    }
  }
  printDefinition(synthesized);
  const cleanupFn = [...machines.cleanup.functions.values()][0];
  const { PLAN_BUCKET: _runBucket, ...runEnv } = fn.environment;
  const { PLAN_BUCKET: _cleanupBucket, ...cleanupEnv } = cleanupFn.environment;
  if (JSON.stringify(runEnv) !== JSON.stringify(cleanupEnv)) throw new Error('the run and cleanup functions differ in their environment');

  const moto = await startBenchMoto();
  const stopMoto = () => { void moto.stop().finally(() => process.exit(130)); };
  process.once('SIGINT', stopMoto);
  process.once('SIGTERM', stopMoto);
  const proxy = await startFaultProxy({
    target: moto.endpoint, timeScale: TIME_SCALE, throttleRate: THROTTLE_RATE, serverErrorRate: SERVER_ERROR_RATE, seed: 7,
  });
  // The function's own environment from the template, the way Lambda gives it; EC2 through the proxy,
  // S3 straight to moto (the handler serves buckets by path behind a custom endpoint).
  Object.assign(process.env, fn.environment, {
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_EC2: proxy.endpoint,
    AWS_ENDPOINT_URL_S3: moto.endpoint,
    AWS_EC2_METADATA_DISABLED: 'true',
  });
  delete process.env.AWS_PROFILE;
  installScaledClock();
  countS3Calls();
  const ec2 = new EC2Client({ endpoint: moto.endpoint, region: REGION, credentials: CREDENTIALS });
  const s3 = new S3Client({ endpoint: moto.endpoint, region: REGION, credentials: CREDENTIALS, forcePathStyle: true });
  const results: SizeResult[] = [];
  let cleanup: CleanupResult | undefined;
  try {
    for (const [index, n] of SIZES.entries()) {
      const t = performance.now();
      results.push(await runSize(n, index, synthesized, moto, proxy, ec2, s3));
      progress(`N=${n}: ${f1(seconds(t))} s wall`);
    }
    if (CLEANUP_SNAPSHOTS > 0) cleanup = await runCleanup(machines.cleanup, moto, proxy, ec2, s3);
  } finally {
    ec2.destroy();
    s3.destroy();
    await proxy.stop();
    await moto.stop();
    process.removeListener('SIGINT', stopMoto);
    process.removeListener('SIGTERM', stopMoto);
  }

  for (const r of results) printSize(r);
  console.log('\nbounds: ceil(N/1000) DescribeInstances (moto pages by reservation of 250, so it needs 1 page where EC2 needs ' +
    'ceil(N/1000)), 1 DescribeAvailabilityZones, N CreateSnapshots, 1 DescribeSnapshots per batch (idempotency check). ' +
    'lost: instances with no snapshot for the slot in moto and no failure named in the report or the logs.');
  const largest = results[results.length - 1];
  printCost(largest, fn);
  if (cleanup) printCleanup(cleanup);
  console.log(`\nwall: ${results.map((r) => `N=${r.n} ${f1(r.wall.seed + r.wall.run + r.wall.check)} s`).join(', ')}; total ${f1(seconds(started))} s`);
  const longest = Math.max(...largest.stats.invocations.map((i) => i.seconds));
  console.log(`scale: N=${largest.n} lost=${largest.lost} longest_invocation_s=${f1(longest)} total_s=${f1(largest.totalSeconds)} ` +
    `limit_s=${f1(limitSeconds(largest.n))}`);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
