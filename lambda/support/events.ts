// The events each entry point accepts: exactly what its schedule or state machine sends, checked by hand
// (a schema library would weigh more than the check) before the entry point reads its configuration or builds
// an adapter, so an event nobody sends does nothing. Each checker returns the typed event or throws an error
// naming the entry point, the field and what it got. No phase takes request parameters or tags: a batch's
// requests are read from the plan store by a key checked to be the batch's own. Pure: no SDK import.
import { Handler, Phase, PhaseName, PlanPrefix, RunKind } from '../../lib/private/contract';
import {
  BatchResult, batchKey, BatchRerun, DeleteBatchResult, MAX_ERROR_CHARS, MAX_REPORTED_FAILURES, MAX_RERUNS, rerunKey,
} from '../logic/batches';
import { slotOf } from '../logic/plan';
import type {
  CleanupPlanSummary, DeleteBatchEvent, PlanDeletionsEvent, ReportCleanupEvent,
} from '../runs/cleanup-batches';
import type { BatchRef } from '../runs/phase-context';
import type {
  ExecuteBatchEvent, PlanBatchesEvent, PlanSummary, PreviousAttempts, ReportEvent,
} from '../runs/snapshot-batches';
import type { StartEvent } from '../runs/start';

/** `runSnapshots`: the schedule's `{"slot": "<scheduled time>"}`, or `{}` on demand (the current minute). */
export interface SnapshotEvent {
  readonly slot?: string;
}

/** `runCleanup`: the schedule's `{"slot": ...}` (a clean-up decides against the clock) or `{}` on demand. */
export interface CleanupEvent {
  readonly slot?: string;
}

export type SnapshotPhaseEvent = PlanBatchesEvent | ExecuteBatchEvent | ReportEvent;
export type CleanupPhaseEvent = PlanDeletionsEvent | DeleteBatchEvent | ReportCleanupEvent;

type Fields = { readonly [field: string]: unknown };
type Prefix = (typeof PlanPrefix)[keyof typeof PlanPrefix];

const SNAPSHOT_PHASES = [Phase.PLAN_BATCHES, Phase.EXECUTE_BATCH, Phase.REPORT] as const;
const CLEANUP_PHASES = [Phase.PLAN_DELETIONS, Phase.DELETE_BATCH, Phase.REPORT_CLEANUP] as const;

/** What was received, cut short: an event may be megabytes. */
function shown(value: unknown): string {
  if (value === undefined) return 'undefined';
  let json: string;
  try {
    json = JSON.stringify(value) ?? String(value);
  } catch {
    json = String(value);
  }
  return json.length > 120 ? `${json.slice(0, 117)}...` : json;
}

/** Every field of `T`, once: a field added to the interface and not here fails to compile, so the check keeps up. */
function fieldsOf<T>(fields: { readonly [K in keyof Required<T>]: true }): string[] {
  return Object.keys(fields);
}

const at = (path: string) => (path === '' ? '' : ` ${path}`);
const child = (path: string, field: string) => (path === '' ? field : `${path}.${field}`);

function fail(entry: string, path: string, rule: string, value: unknown): never {
  throw new Error(`${entry} event${at(path)} ${rule}, got ${shown(value)}`);
}

/** A plain object (neither null nor an array) with no field but `fields`. */
function record(entry: string, path: string, value: unknown, fields: readonly string[]): Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(entry, path, 'must be an object', value);
  const unknown = Object.keys(value).find((field) => !fields.includes(field));
  if (unknown !== undefined) {
    const only = fields.length === 1 ? 'the field' : 'the fields';
    throw new Error(`${entry} event${at(path)} takes only ${only} ${fields.join(', ')}, got field ${JSON.stringify(unknown)}`);
  }
  return value as Fields;
}

function wholeNumber(entry: string, path: string, value: unknown, max?: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || (max !== undefined && value > max)) {
    fail(entry, path, max === undefined ? 'must be a whole number of at least 0' : `must be a whole number from 0 to ${max}`, value);
  }
  return value;
}

function milliseconds(entry: string, path: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) fail(entry, path, 'must be a number of at least 0', value);
  return value;
}

function text(entry: string, path: string, value: unknown, options: { maxChars?: number; empty?: boolean } = {}): string {
  const { maxChars, empty = false } = options;
  if (typeof value !== 'string' || (!empty && value === '') || (maxChars !== undefined && value.length > maxChars)) {
    const rule = `must be a${empty ? '' : ' non-empty'} string${maxChars === undefined ? '' : ` of at most ${maxChars} characters`}`;
    fail(entry, path, rule, value);
  }
  return value;
}

function oneOf<T extends string>(entry: string, path: string, value: unknown, allowed: readonly T[]): T {
  if (!(allowed as readonly unknown[]).includes(value)) fail(entry, path, `must be ${allowed.join(' or ')}`, value);
  return value as T;
}

function list(entry: string, path: string, value: unknown, maxItems?: number): readonly unknown[] {
  if (!Array.isArray(value) || (maxItems !== undefined && value.length > maxItems)) {
    fail(entry, path, maxItems === undefined ? 'must be a list' : `must be a list of at most ${maxItems} items`, value);
  }
  return value;
}

/** The slot, normalized (slotOf): an ISO-8601 time with its offset, not more than an hour ahead of `now`. */
function slotField(entry: string, path: string, value: unknown, now: Date): string {
  if (typeof value !== 'string' || value === '') fail(entry, path, 'must be an ISO-8601 time', value);
  try {
    return slotOf({ slot: value }, now);
  } catch (error) {
    // slotOf says `event slot must ...`: the same message, for this entry point and field.
    throw new Error(`${entry} ${(error as Error).message.replace(/^event slot /, `event ${path} `)}`);
  }
}

/** A phase's slot: required, as every phase of one run must carry the same one (phaseSlot). */
function phaseSlotField(entry: string, event: Fields, phase: PhaseName, now: Date): string {
  if (event.slot === undefined || event.slot === null || event.slot === '') throw new Error(`${entry} event slot is required in phase ${phase}`);
  return slotField(entry, 'slot', event.slot, now);
}

/** The event as an object whose phase is one `entry` handles. */
function phased<P extends PhaseName>(entry: string, event: unknown, handled: readonly P[]): { phase: P; fields: Fields } {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) fail(entry, '', 'must be an object', event);
  const phase = (event as Fields).phase;
  if (!(handled as readonly unknown[]).includes(phase)) {
    throw new Error(`${entry} handles the phases ${handled.join(', ')}, got phase ${shown(phase)}`);
  }
  return { phase: phase as P, fields: event as Fields };
}

/**
 * A key lambda/runs writes for batch `index` of `slot` under `prefix` (batchKey, and rerunKey for each attempt
 * after the first): the batch's own object, nothing else in the plan bucket. The policy's segment is taken from
 * the key (the event is checked before the configuration is read); it must be one batchKey would write.
 */
function batchKeyField(
  entry: string, path: string, value: unknown, where: { prefix: Prefix; slot: string; index: number; attempts: readonly number[] },
): string {
  const key = text(entry, path, value);
  const { prefix, slot, index, attempts } = where;
  let policyId = '';
  try {
    policyId = decodeURIComponent(key.split('/')[1] ?? '');
  } catch {
    // Not a segment batchKey writes: refused below.
  }
  const own = policyId !== '' && policyId !== '.' && policyId !== '..' ? batchKey(prefix, policyId, slot, index) : undefined;
  if (own === undefined || !attempts.some((attempt) => key === (attempt === 0 ? own : rerunKey(own, attempt)))) {
    const which = attempts.length > 1 ? `a key of batch ${index}`
      : attempts[0] === 0 ? `the key of batch ${index}` : `the key of attempt ${attempts[0]} of batch ${index}`;
    fail(entry, path, `must be ${which} of slot ${slot} under ${prefix}/`, key);
  }
  return key;
}

const ALL_ATTEMPTS = Array.from({ length: MAX_RERUNS + 1 }, (_v, attempt) => attempt);

/** The instances a batch names (batchResult, mergeAttempts, the plan's failures). */
function failuresField(entry: string, path: string, value: unknown): void {
  list(entry, path, value, MAX_REPORTED_FAILURES).forEach((item, i) => {
    const p = `${path}[${i}]`;
    const failure = record(entry, p, item, ['instanceId', 'status', 'error']);
    text(entry, child(p, 'instanceId'), failure.instanceId);
    oneOf(entry, child(p, 'status'), failure.status, ['failed', 'not-reached']);
    if (failure.error !== undefined) text(entry, child(p, 'error'), failure.error, { maxChars: MAX_ERROR_CHARS, empty: true });
  });
}

const BATCH_COUNTS = ['batch', 'created', 'dryRunOk', 'alreadyDone', 'failed', 'notReached'] as const;
const BATCH_RESULT_FIELDS = fieldsOf<BatchResult>({
  batch: true, created: true, dryRunOk: true, alreadyDone: true, failed: true, notReached: true, failures: true, durationMs: true,
});

/** A BatchResult's fields, each of its type; `partial` lets any be missing (an attempt's `previous`). */
function batchResultFields(entry: string, path: string, result: Fields, partial: boolean): void {
  for (const field of BATCH_COUNTS) {
    if (!partial || result[field] !== undefined) wholeNumber(entry, child(path, field), result[field]);
  }
  if (!partial || result.failures !== undefined) failuresField(entry, child(path, 'failures'), result.failures);
  if (!partial || result.durationMs !== undefined) milliseconds(entry, child(path, 'durationMs'), result.durationMs);
}

/** An execute-batch's `previous`: `{}` on its first attempt, then the last attempt's result with its `rerun`. */
function previousField(entry: string, path: string, value: unknown, slot: string, now: Date): PreviousAttempts {
  const previous = record(entry, path, value, [...BATCH_RESULT_FIELDS, 'rerun']);
  batchResultFields(entry, path, previous, true);
  if (previous.rerun !== undefined) {
    const p = child(path, 'rerun');
    const rerun = record(entry, p, previous.rerun, fieldsOf<BatchRerun>({ slot: true, index: true, key: true, size: true, attempt: true }));
    const rerunSlot = slotField(entry, child(p, 'slot'), rerun.slot, now);
    const index = wholeNumber(entry, child(p, 'index'), rerun.index);
    wholeNumber(entry, child(p, 'size'), rerun.size);
    const attempt = wholeNumber(entry, child(p, 'attempt'), rerun.attempt, MAX_RERUNS);
    if (rerunSlot !== slot) fail(entry, child(p, 'slot'), `must be the event's slot ${slot}`, rerun.slot);
    batchKeyField(entry, child(p, 'key'), rerun.key, { prefix: PlanPrefix.RUNS, slot, index, attempts: [attempt] });
  }
  return previous as PreviousAttempts;
}

function batchRefsField(entry: string, path: string, value: unknown, prefix: Prefix, slot: string): BatchRef[] {
  return list(entry, path, value).map((item, i) => {
    const p = `${path}[${i}]`;
    const ref = record(entry, p, item, fieldsOf<BatchRef>({ index: true, key: true, size: true }));
    const index = wholeNumber(entry, child(p, 'index'), ref.index);
    wholeNumber(entry, child(p, 'size'), ref.size);
    batchKeyField(entry, child(p, 'key'), ref.key, { prefix, slot, index, attempts: [0] });
    return ref as unknown as BatchRef;
  });
}

/** A plan's slot is the normalized slot of its run: the one the event carries. */
function planSlotField(entry: string, plan: Fields, slot: string, now: Date): void {
  if (slotField(entry, 'plan.slot', plan.slot, now) !== slot) fail(entry, 'plan.slot', `must be the event's slot ${slot}`, plan.slot);
}

const SNAPSHOTS = Handler.SNAPSHOT_PHASES.export;
const CLEANUPS = Handler.CLEANUP_PHASES.export;

export function checkPlanBatchesEvent(event: unknown, now: Date): PlanBatchesEvent {
  const { phase, fields } = phased(SNAPSHOTS, event, [Phase.PLAN_BATCHES]);
  record(SNAPSHOTS, '', fields, ['phase', 'slot']);
  phaseSlotField(SNAPSHOTS, fields, phase, now);
  return fields as unknown as PlanBatchesEvent;
}

export function checkExecuteBatchEvent(event: unknown, now: Date): ExecuteBatchEvent {
  const { phase, fields } = phased(SNAPSHOTS, event, [Phase.EXECUTE_BATCH]);
  record(SNAPSHOTS, '', fields, ['phase', 'slot', 'index', 'key', 'attempt', 'previous']);
  const slot = phaseSlotField(SNAPSHOTS, fields, phase, now);
  const index = wholeNumber(SNAPSHOTS, 'index', fields.index);
  const attempt = wholeNumber(SNAPSHOTS, 'attempt', fields.attempt, MAX_RERUNS);
  batchKeyField(SNAPSHOTS, 'key', fields.key, { prefix: PlanPrefix.RUNS, slot, index, attempts: [attempt] });
  previousField(SNAPSHOTS, 'previous', fields.previous, slot, now);
  return fields as unknown as ExecuteBatchEvent;
}

/** A batch's result in a report: what execute-batch returned, or what BatchNotRun passed on (with its error). */
function runResultField(entry: string, path: string, value: unknown, slot: string, now: Date): void {
  const notRun = typeof value === 'object' && value !== null && 'error' in value;
  const result = record(entry, path, value, notRun ? [...BATCH_RESULT_FIELDS, 'key', 'error', 'previous'] : BATCH_RESULT_FIELDS);
  batchResultFields(entry, path, result, false);
  if (!notRun) return;
  text(entry, child(path, 'error'), result.error);
  const where = { prefix: PlanPrefix.RUNS, slot, index: result.batch as number, attempts: ALL_ATTEMPTS };
  batchKeyField(entry, child(path, 'key'), result.key, where);
  previousField(entry, child(path, 'previous'), result.previous, slot, now);
}

export function checkReportEvent(event: unknown, now: Date): ReportEvent {
  const { phase, fields } = phased(SNAPSHOTS, event, [Phase.REPORT]);
  record(SNAPSHOTS, '', fields, ['phase', 'slot', 'plan', 'results']);
  const slot = phaseSlotField(SNAPSHOTS, fields, phase, now);
  const planFields = fieldsOf<PlanSummary>({ slot: true, planned: true, planFailed: true, planFailures: true, batches: true });
  const plan = record(SNAPSHOTS, 'plan', fields.plan, planFields);
  planSlotField(SNAPSHOTS, plan, slot, now);
  wholeNumber(SNAPSHOTS, 'plan.planned', plan.planned);
  wholeNumber(SNAPSHOTS, 'plan.planFailed', plan.planFailed);
  failuresField(SNAPSHOTS, 'plan.planFailures', plan.planFailures);
  batchRefsField(SNAPSHOTS, 'plan.batches', plan.batches, PlanPrefix.RUNS, slot);
  list(SNAPSHOTS, 'results', fields.results).forEach((result, i) => runResultField(SNAPSHOTS, `results[${i}]`, result, slot, now));
  return fields as unknown as ReportEvent;
}

export function checkPlanDeletionsEvent(event: unknown, now: Date): PlanDeletionsEvent {
  const { phase, fields } = phased(CLEANUPS, event, [Phase.PLAN_DELETIONS]);
  record(CLEANUPS, '', fields, ['phase', 'slot']);
  phaseSlotField(CLEANUPS, fields, phase, now);
  return fields as unknown as PlanDeletionsEvent;
}

export function checkDeleteBatchEvent(event: unknown, now: Date): DeleteBatchEvent {
  const { phase, fields } = phased(CLEANUPS, event, [Phase.DELETE_BATCH]);
  record(CLEANUPS, '', fields, ['phase', 'slot', 'index', 'key']);
  const slot = phaseSlotField(CLEANUPS, fields, phase, now);
  const index = wholeNumber(CLEANUPS, 'index', fields.index);
  batchKeyField(CLEANUPS, 'key', fields.key, { prefix: PlanPrefix.CLEANUPS, slot, index, attempts: [0] });
  return fields as unknown as DeleteBatchEvent;
}

const DELETE_RESULT_FIELDS = fieldsOf<DeleteBatchResult>({
  batch: true,
  setsDeleted: true,
  snapshotsDeleted: true,
  duplicatesDeleted: true,
  setsHeld: true,
  snapshotsSkipped: true,
  skipped: true,
  durationMs: true,
});

/** A deletion batch's result: what delete-batch returned, or what DeleteBatchNotRun passed on (with its error). */
function deleteResultField(entry: string, path: string, value: unknown, slot: string): void {
  const notRun = typeof value === 'object' && value !== null && 'error' in value;
  const result = record(entry, path, value, notRun ? [...DELETE_RESULT_FIELDS, 'key', 'error'] : DELETE_RESULT_FIELDS);
  for (const field of ['batch', 'setsDeleted', 'snapshotsDeleted', 'setsHeld', 'snapshotsSkipped']) {
    wholeNumber(entry, child(path, field), result[field]);
  }
  // A batch result from before duplicates were counted (a clean-up running across an update) has none.
  if (result.duplicatesDeleted !== undefined) wholeNumber(entry, child(path, 'duplicatesDeleted'), result.duplicatesDeleted);
  list(entry, child(path, 'skipped'), result.skipped, MAX_REPORTED_FAILURES).forEach((item, i) => {
    const p = `${child(path, 'skipped')}[${i}]`;
    const skipped = record(entry, p, item, ['snapshotId', 'error']);
    text(entry, child(p, 'snapshotId'), skipped.snapshotId);
    text(entry, child(p, 'error'), skipped.error, { maxChars: MAX_ERROR_CHARS, empty: true });
  });
  milliseconds(entry, child(path, 'durationMs'), result.durationMs);
  if (!notRun) return;
  text(entry, child(path, 'error'), result.error);
  batchKeyField(entry, child(path, 'key'), result.key, { prefix: PlanPrefix.CLEANUPS, slot, index: result.batch as number, attempts: [0] });
}

const CLEANUP_PLAN_FIELDS = fieldsOf<CleanupPlanSummary>({
  slot: true,
  setsKept: true,
  setsToDelete: true,
  setsLocked: true,
  snapshotsToDelete: true,
  unrecognized: true,
  unrecognizedIds: true,
  untagged: true,
  untaggedInstanceIds: true,
  batches: true,
});

/** The first MAX_REPORTED_FAILURES ids of something a plan counts. */
function idsField(entry: string, path: string, value: unknown): void {
  list(entry, path, value, MAX_REPORTED_FAILURES).forEach((id, i) => text(entry, `${path}[${i}]`, id));
}

export function checkReportCleanupEvent(event: unknown, now: Date): ReportCleanupEvent {
  const { phase, fields } = phased(CLEANUPS, event, [Phase.REPORT_CLEANUP]);
  record(CLEANUPS, '', fields, ['phase', 'slot', 'plan', 'results']);
  const slot = phaseSlotField(CLEANUPS, fields, phase, now);
  const plan = record(CLEANUPS, 'plan', fields.plan, CLEANUP_PLAN_FIELDS);
  planSlotField(CLEANUPS, plan, slot, now);
  for (const field of ['setsKept', 'setsToDelete', 'snapshotsToDelete', 'unrecognized']) wholeNumber(CLEANUPS, `plan.${field}`, plan[field]);
  idsField(CLEANUPS, 'plan.unrecognizedIds', plan.unrecognizedIds);
  // A plan made before the update that added them (an execution running across a deployment) has neither.
  if (plan.untagged !== undefined) wholeNumber(CLEANUPS, 'plan.untagged', plan.untagged);
  if (plan.setsLocked !== undefined) wholeNumber(CLEANUPS, 'plan.setsLocked', plan.setsLocked);
  if (plan.untaggedInstanceIds !== undefined) idsField(CLEANUPS, 'plan.untaggedInstanceIds', plan.untaggedInstanceIds);
  batchRefsField(CLEANUPS, 'plan.batches', plan.batches, PlanPrefix.CLEANUPS, slot);
  list(CLEANUPS, 'results', fields.results).forEach((result, i) => deleteResultField(CLEANUPS, `results[${i}]`, result, slot));
  return fields as unknown as ReportCleanupEvent;
}

/** `snapshotPhases`: the run state machine's plan-batches, execute-batch and report. */
export function checkSnapshotPhaseEvent(event: unknown, now: Date): SnapshotPhaseEvent {
  switch (phased(SNAPSHOTS, event, SNAPSHOT_PHASES).phase) {
    case Phase.PLAN_BATCHES: return checkPlanBatchesEvent(event, now);
    case Phase.EXECUTE_BATCH: return checkExecuteBatchEvent(event, now);
    case Phase.REPORT: return checkReportEvent(event, now);
  }
}

/** `cleanupPhases`: the clean-up state machine's plan-deletions, delete-batch and report-cleanup. */
export function checkCleanupPhaseEvent(event: unknown, now: Date): CleanupPhaseEvent {
  switch (phased(CLEANUPS, event, CLEANUP_PHASES).phase) {
    case Phase.PLAN_DELETIONS: return checkPlanDeletionsEvent(event, now);
    case Phase.DELETE_BATCH: return checkDeleteBatchEvent(event, now);
    case Phase.REPORT_CLEANUP: return checkReportCleanupEvent(event, now);
  }
}

/** `start`: a schedule's `{"phase": "start", "run": ..., "slot": ...}`; without a slot, on demand (the current minute). */
export function checkStartEvent(event: unknown, now: Date): StartEvent {
  const entry = Handler.START.export;
  const { fields } = phased(entry, event, [Phase.START]);
  record(entry, '', fields, ['phase', 'run', 'slot']);
  oneOf(entry, 'run', fields.run, Object.values(RunKind));
  if (fields.slot !== undefined) slotField(entry, 'slot', fields.slot, now);
  return fields as unknown as StartEvent;
}

/** An event of a single-invocation function: no phase, at most a slot. */
function slotEvent(entry: string, event: unknown, whole: string, now: Date): { readonly slot?: string } {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) fail(entry, '', 'must be an object', event);
  const phase = (event as Fields).phase;
  if (phase !== undefined) throw new Error(`${entry} takes no phase (${whole}), got phase ${shown(phase)}`);
  const fields = record(entry, '', event, ['slot']);
  if (fields.slot !== undefined) slotField(entry, 'slot', fields.slot, now);
  return fields;
}

/** `runSnapshots`: `{"slot": ...}` from its schedule, or `{}`. */
export function checkSnapshotRunEvent(event: unknown, now: Date): SnapshotEvent {
  return slotEvent(Handler.SNAPSHOT_RUN.export, event, 'it plans and sends a whole run', now);
}

/** `runCleanup`: `{"slot": ...}` from its schedule, or `{}`. */
export function checkCleanupEvent(event: unknown, now: Date): CleanupEvent {
  return slotEvent(Handler.CLEANUP.export, event, 'it decides and deletes a whole clean-up', now);
}
