// The events each entry point accepts (lambda/support/events.ts): what the synthesized schedules and state
// machines send is accepted, field for field; anything else is refused with a message naming the entry point,
// the field and what was received.
import { batchKey, rerunKey } from '../../lambda/logic/batches';
import {
  checkCleanupEvent, checkCleanupPhaseEvent, checkSnapshotPhaseEvent, checkSnapshotRunEvent, checkStartEvent,
} from '../../lambda/support/events';
import { Orchestration } from '../../lib';
import { Phase, PlanPrefix } from '../../lib/private/contract';
import { build } from '../support/stack';
import { Interpreter, Json, JsonObject, Machine, StatesError } from '../support/state-machine-interpreter';
import { machineFunctions, stateMachine, templateResources } from '../support/synthesized';

const NOW = new Date('2026-06-01T12:00:00Z');
const SLOT = '2026-06-01T03:00:00Z';
const POLICY = 'MyStack%2FNightly';
const runKey = (index: number) => `runs/${POLICY}/${SLOT}/batch-0000${index}.json`;
const cleanupKey = (index: number) => `cleanups/${POLICY}/${SLOT}/batch-0000${index}.json`;

type Checker = (event: unknown, now: Date) => unknown;
const CHECKERS: Record<string, Checker> = {
  runSnapshots: checkSnapshotRunEvent,
  runCleanup: checkCleanupEvent,
  start: checkStartEvent,
  snapshotPhases: checkSnapshotPhaseEvent,
  cleanupPhases: checkCleanupPhaseEvent,
};

/** Checks the event as the export `name` would; returns what the checker returned. */
function check(name: string, event: unknown): unknown {
  return CHECKERS[name](event, NOW);
}

const counts = { created: 1, dryRunOk: 0, alreadyDone: 1, failed: 0, notReached: 0 };
const batchResult = (batch: number) => ({ batch, ...counts, failures: [], durationMs: 1200 });
const plan = {
  slot: SLOT, planned: 2, planFailed: 0, planFailures: [], batches: [{ index: 0, key: runKey(0), size: 2 }],
};
const notRun = { ...batchResult(0), key: runKey(0), error: 'States.Timeout', previous: {} };
const reportEvent = (changes: object) => ({ phase: 'report', slot: SLOT, plan, results: [batchResult(0)], ...changes });
const executeEvent = (changes: object) => ({ phase: 'execute-batch', slot: SLOT, index: 0, key: runKey(0), attempt: 0, previous: {}, ...changes });
const deleteResult = { batch: 0, setsDeleted: 1, snapshotsDeleted: 2, setsHeld: 0, snapshotsSkipped: 0, skipped: [], durationMs: 10 };
const cleanupPlan = {
  slot: SLOT,
  setsKept: 3,
  setsToDelete: 1,
  snapshotsToDelete: 2,
  unrecognized: 0,
  unrecognizedIds: [],
  untagged: 1,
  untaggedInstanceIds: ['i-1'],
  batches: [{ index: 0, key: cleanupKey(0), size: 2 }],
};
const reportCleanupEvent = (changes: object) => ({ phase: 'report-cleanup', slot: SLOT, plan: cleanupPlan, results: [deleteResult], ...changes });

describe('the events the schedules and state machines send are accepted as they are', () => {
  test.each<[string, string, unknown]>([
    ['runSnapshots', 'its schedule\'s slot', { slot: SLOT }],
    ['runSnapshots', 'an on-demand {}', {}],
    ['runSnapshots', 'another spelling of a slot', { slot: '2026-06-01T04:00:00.000+01:00' }],
    ['runCleanup', 'its schedule\'s slot', { slot: SLOT }],
    ['runCleanup', 'an on-demand {}', {}],
    ['start', 'a snapshot run\'s start', { phase: 'start', run: 'snapshots', slot: SLOT }],
    ['start', 'a clean-up\'s start', { phase: 'start', run: 'cleanup', slot: SLOT }],
    ['start', 'an on-demand start without a slot', { phase: 'start', run: 'cleanup' }],
    ['snapshotPhases', 'a first attempt', executeEvent({})],
    ['snapshotPhases', 'a report with a batch not run', reportEvent({ results: [batchResult(0), { ...notRun, batch: 1, key: runKey(1) }] })],
    ['snapshotPhases', 'a report with a last rerun not run', reportEvent({ results: [{ ...notRun, key: rerunKey(runKey(0), 2) }] })],
    ['cleanupPhases', 'a report of a plan made before untagged was counted',
      reportCleanupEvent({ plan: { ...cleanupPlan, untagged: undefined, untaggedInstanceIds: undefined } })],
    ['cleanupPhases', 'a report with a batch not run',
      reportCleanupEvent({ results: [{ ...deleteResult, key: cleanupKey(0), error: 'States.Timeout' }] })],
  ])('%s accepts %s', (name, _case, event) => {
    expect(check(name, event)).toBe(event);
  });
});

describe('the synthesized senders', () => {
  /** The export (`index.<name>`) of the function a resource's `Fn::GetAtt Arn` names. */
  const exportOf = (resources: Record<string, any>, arn: any) => String(resources[arn['Fn::GetAtt'][0]].Properties.Handler).replace(/^index\./, '');

  test.each([Orchestration.LAMBDA, Orchestration.STEP_FUNCTIONS])('each schedule of %s sends an event its target accepts', (orchestration) => {
    const resources = templateResources(build({ orchestration }).template);
    const schedules = Object.values(resources).filter((r) => r.Type === 'AWS::Scheduler::Schedule');
    expect(schedules).toHaveLength(2);
    for (const schedule of schedules) {
      const { Arn, Input } = schedule.Properties!.Target;
      const event = JSON.parse(String(Input).replace('<aws.scheduler.scheduled-time>', SLOT));
      expect(check(exportOf(resources, Arn), event)).toEqual(event);
    }
  });

  /**
   * Runs a synthesized state machine in the interpreter; each task checks its payload with the checker of the
   * function it invokes (as the bundle would) and answers with `answer`. Returns the payloads it saw.
   */
  async function execute(hasState: string, answer: (event: JsonObject) => object): Promise<JsonObject[]> {
    const template = build({ orchestration: Orchestration.STEP_FUNCTIONS }).template;
    const machine = stateMachine(template, { hasState });
    const functions = machineFunctions(template, machine);
    const seen: JsonObject[] = [];
    const interpreter = new Interpreter(async (resource, payload) => {
      const name = functions.get(resource)!.handler.replace(/^index\./, '');
      expect(check(name, payload)).toBe(payload);
      seen.push(payload as JsonObject);
      return answer(payload as JsonObject) as Json;
    }, { sleep: async () => undefined });
    await interpreter.execute(machine.definition as unknown as Machine, { slot: SLOT }, 'slot');
    return seen;
  }

  test('every payload of a snapshot run is accepted: reruns with their previous result, and a batch not run in the report', async () => {
    const seen = await execute('PlanBatches', (event) => {
      if (event.phase === Phase.PLAN_BATCHES) {
        return { ...plan, batches: [0, 1].map((index) => ({ index, key: batchKey(PlanPrefix.RUNS, 'MyStack/Nightly', SLOT, index), size: 2 })) };
      }
      if (event.phase === Phase.REPORT) return { done: true };
      const index = event.index as number;
      const attempt = event.attempt as number;
      // Batch 0 is rerun once; batch 1 is rerun, then its rerun times out (BatchNotRun).
      if (attempt === 0) {
        return { ...batchResult(index), notReached: 1, rerun: { slot: SLOT, index, key: rerunKey(event.key as string, 1), size: 1, attempt: 1 } };
      }
      if (index === 1) throw new StatesError('States.Timeout', 'the batch took too long');
      return batchResult(index);
    });

    expect(seen.map((e) => [e.phase, e.index, e.attempt])).toEqual([
      ['plan-batches', undefined, undefined],
      ['execute-batch', 0, 0], ['execute-batch', 0, 1], ['execute-batch', 1, 0], ['execute-batch', 1, 1],
      ['report', undefined, undefined],
    ]);
    expect(seen[2].previous).toMatchObject({ rerun: { attempt: 1 } });
    const results = seen[5].results as JsonObject[];
    expect(results[1]).toMatchObject({ batch: 1, key: rerunKey(runKey(1), 1), error: 'States.Timeout', previous: { rerun: { index: 1 } } });
  });

  test('every payload of a clean-up is accepted, and a batch not run in the report', async () => {
    const seen = await execute('PlanDeletions', (event) => {
      if (event.phase === Phase.PLAN_DELETIONS) {
        return { ...cleanupPlan, batches: [0, 1].map((index) => ({ index, key: batchKey(PlanPrefix.CLEANUPS, 'MyStack/Nightly', SLOT, index), size: 2 })) };
      }
      if (event.phase === Phase.REPORT_CLEANUP) return { done: true };
      if (event.index === 1) throw new StatesError('States.Timeout', 'the batch took too long');
      return { ...deleteResult, batch: event.index as number };
    });

    expect(seen.map((e) => e.phase)).toEqual(['plan-deletions', 'delete-batch', 'delete-batch', 'report-cleanup']);
    expect((seen[3].results as JsonObject[])[1]).toMatchObject({ batch: 1, key: cleanupKey(1), error: 'States.Timeout' });
  });
});

const AHEAD = '2026-06-01T14:00:00Z';

describe.each<[string, Array<[string, unknown, string]>]>([
  ['runSnapshots', [
    ['null', null, 'runSnapshots event must be an object, got null'],
    ['no event', undefined, 'runSnapshots event must be an object, got undefined'],
    ['a list', [], 'runSnapshots event must be an object, got []'],
    ['a string', 'a string', 'runSnapshots event must be an object, got "a string"'],
    ['a number', 5, 'runSnapshots event must be an object, got 5'],
    ['an empty slot', { slot: '' }, 'runSnapshots event slot must be an ISO-8601 time, got ""'],
    ['a number slot', { slot: 5 }, 'runSnapshots event slot must be an ISO-8601 time, got 5'],
    ['a null slot', { slot: null }, 'runSnapshots event slot must be an ISO-8601 time, got null'],
    ['a slot without offset', { slot: '2026-06-01T03:00:00' }, 'runSnapshots event slot must be an ISO-8601 time, got "2026-06-01T03:00:00"'],
    ['a slot two hours ahead', { slot: AHEAD },
      `runSnapshots event slot must not be more than an hour ahead of now (2026-06-01T12:00:00Z), got "${AHEAD}"`],
    ['a phase', { phase: 'plan-batches', slot: SLOT }, 'runSnapshots takes no phase (it plans and sends a whole run), got phase "plan-batches"'],
    ['the start phase', { phase: 'start' }, 'runSnapshots takes no phase (it plans and sends a whole run), got phase "start"'],
    ['requests of its own', { requests: [{ instanceId: 'i-1' }] }, 'runSnapshots event takes only the field slot, got field "requests"'],
    ['tags of its own', { slot: SLOT, tags: { Owner: 'me' } }, 'runSnapshots event takes only the field slot, got field "tags"'],
    ['a __proto__ field', JSON.parse('{"__proto__": {"dryRun": false}}'), 'runSnapshots event takes only the field slot, got field "__proto__"'],
  ]],
  ['runCleanup', [
    ['null', null, 'runCleanup event must be an object, got null'],
    ['a list', [{}], 'runCleanup event must be an object, got [{}]'],
    ['an empty slot', { slot: '' }, 'runCleanup event slot must be an ISO-8601 time, got ""'],
    ['a phase', { phase: 'plan-deletions' }, 'runCleanup takes no phase (it decides and deletes a whole clean-up), got phase "plan-deletions"'],
    ['a retention of its own', { retention: { last: 0 } }, 'runCleanup event takes only the field slot, got field "retention"'],
  ]],
  ['start', [
    ['null', null, 'start event must be an object, got null'],
    ['no phase', { run: 'snapshots', slot: SLOT }, 'start handles the phases start, got phase undefined'],
    ['another phase', { phase: 'report', slot: SLOT }, 'start handles the phases start, got phase "report"'],
    ['no run', { phase: 'start', slot: SLOT }, 'start event run must be snapshots or cleanup, got undefined'],
    ['an unknown run', { phase: 'start', run: 'backup', slot: SLOT }, 'start event run must be snapshots or cleanup, got "backup"'],
    ['an empty slot', { phase: 'start', run: 'snapshots', slot: '' }, 'start event slot must be an ISO-8601 time, got ""'],
    ['a state machine of its own', { phase: 'start', run: 'snapshots', stateMachineArn: 'arn:aws:states:::stateMachine:x' },
      'start event takes only the fields phase, run, slot, got field "stateMachineArn"'],
  ]],
  ['snapshotPhases', [
    ['null', null, 'snapshotPhases event must be an object, got null'],
    ['a list', [], 'snapshotPhases event must be an object, got []'],
    ['no phase', { slot: SLOT }, 'snapshotPhases handles the phases plan-batches, execute-batch, report, got phase undefined'],
    ['a clean-up phase', { phase: 'plan-deletions', slot: SLOT },
      'snapshotPhases handles the phases plan-batches, execute-batch, report, got phase "plan-deletions"'],
    ['no slot', { phase: 'plan-batches' }, 'snapshotPhases event slot is required in phase plan-batches'],
    ['a slot that is not a time', { phase: 'plan-batches', slot: 'tomorrow' }, 'snapshotPhases event slot must be an ISO-8601 time, got "tomorrow"'],
    ['requests of its own', { phase: 'plan-batches', slot: SLOT, requests: [] },
      'snapshotPhases event takes only the fields phase, slot, got field "requests"'],
    ['tags of its own', executeEvent({ tags: { Owner: 'me' } }),
      'snapshotPhases event takes only the fields phase, slot, index, key, attempt, previous, got field "tags"'],
    ['no index', executeEvent({ index: undefined }), 'snapshotPhases event index must be a whole number of at least 0, got undefined'],
    ['a negative index', executeEvent({ index: -1 }), 'snapshotPhases event index must be a whole number of at least 0, got -1'],
    ['an index as text', executeEvent({ index: '0' }), 'snapshotPhases event index must be a whole number of at least 0, got "0"'],
    ['a key of the clean-ups', executeEvent({ key: cleanupKey(0) }),
      `snapshotPhases event key must be the key of batch 0 of slot ${SLOT} under runs/, got "${cleanupKey(0)}"`],
    ['a key of another slot', executeEvent({ key: `runs/${POLICY}/2026-05-31T03:00:00Z/batch-00000.json` }),
      `snapshotPhases event key must be the key of batch 0 of slot ${SLOT} under runs/, got "runs/${POLICY}/2026-05-31T03:00:00Z/batch-00000.json"`],
    ['a key of another batch', executeEvent({ key: runKey(1) }),
      `snapshotPhases event key must be the key of batch 0 of slot ${SLOT} under runs/, got "${runKey(1)}"`],
    ['a key outside the plan', executeEvent({ key: 'runs/../secrets.json' }),
      `snapshotPhases event key must be the key of batch 0 of slot ${SLOT} under runs/, got "runs/../secrets.json"`],
    ['a key that is not text', executeEvent({ key: 5 }), 'snapshotPhases event key must be a non-empty string, got 5'],
    ['the first key on a rerun', executeEvent({ attempt: 1 }),
      `snapshotPhases event key must be the key of attempt 1 of batch 0 of slot ${SLOT} under runs/, got "${runKey(0)}"`],
    ['an attempt past the last rerun', executeEvent({ attempt: 3 }), 'snapshotPhases event attempt must be a whole number from 0 to 2, got 3'],
    ['no previous', executeEvent({ previous: undefined }), 'snapshotPhases event previous must be an object, got undefined'],
    ['a previous count below 0', executeEvent({ previous: { created: -1 } }),
      'snapshotPhases event previous.created must be a whole number of at least 0, got -1'],
    ['a previous with requests', executeEvent({ previous: { requests: [] } }),
      'snapshotPhases event previous takes only the fields batch, created, dryRunOk, alreadyDone, failed, notReached, failures, durationMs, rerun, got field "requests"'],
    ['a report without its plan', reportEvent({ plan: null }), 'snapshotPhases event plan must be an object, got null'],
    ['a plan of another slot', reportEvent({ plan: { ...plan, slot: '2026-05-31T03:00:00Z' } }),
      `snapshotPhases event plan.slot must be the event's slot ${SLOT}, got "2026-05-31T03:00:00Z"`],
    ['results that are not a list', reportEvent({ results: {} }), 'snapshotPhases event results must be a list, got {}'],
    ['a null result', reportEvent({ results: [null] }), 'snapshotPhases event results[0] must be an object, got null'],
    ['a result without counts', reportEvent({ results: [{ batch: 0 }] }),
      'snapshotPhases event results[0].created must be a whole number of at least 0, got undefined'],
    ['a failure of another status', reportEvent({ results: [{ ...batchResult(0), failures: [{ instanceId: 'i-1', status: 'created' }] }] }),
      'snapshotPhases event results[0].failures[0].status must be failed or not-reached, got "created"'],
    ['more failures than a batch reports', reportEvent({ plan: { ...plan, planFailures: Array(21).fill({ instanceId: 'i-1', status: 'failed' }) } }),
      `snapshotPhases event plan.planFailures must be a list of at most 20 items, got ${JSON.stringify(Array(21).fill({ instanceId: 'i-1', status: 'failed' })).slice(0, 117)}...`],
    ['a batch not run outside the plan', reportEvent({ results: [{ ...notRun, key: 'runs/x/y.json' }] }),
      `snapshotPhases event results[0].key must be a key of batch 0 of slot ${SLOT} under runs/, got "runs/x/y.json"`],
    ['a batch not run without previous', reportEvent({ results: [{ ...notRun, previous: undefined }] }),
      'snapshotPhases event results[0].previous must be an object, got undefined'],
    ['a key on a batch result', reportEvent({ results: [{ ...batchResult(0), key: runKey(0) }] }),
      'snapshotPhases event results[0] takes only the fields batch, created, dryRunOk, alreadyDone, failed, notReached, failures, durationMs, got field "key"'],
  ]],
  ['cleanupPhases', [
    ['null', null, 'cleanupPhases event must be an object, got null'],
    ['a snapshot phase', { phase: 'execute-batch', slot: SLOT, index: 0, key: runKey(0) },
      'cleanupPhases handles the phases plan-deletions, delete-batch, report-cleanup, got phase "execute-batch"'],
    ['no slot', { phase: 'plan-deletions', slot: '' }, 'cleanupPhases event slot is required in phase plan-deletions'],
    ['a key of the runs', { phase: 'delete-batch', slot: SLOT, index: 0, key: runKey(0) },
      `cleanupPhases event key must be the key of batch 0 of slot ${SLOT} under cleanups/, got "${runKey(0)}"`],
    ['snapshots of its own', { phase: 'delete-batch', slot: SLOT, index: 0, key: cleanupKey(0), snapshotIds: ['snap-1'] },
      'cleanupPhases event takes only the fields phase, slot, index, key, got field "snapshotIds"'],
    ['a report without its plan', reportCleanupEvent({ plan: null }), 'cleanupPhases event plan must be an object, got null'],
    ['an untagged count below 0', reportCleanupEvent({ plan: { ...cleanupPlan, untagged: -1 } }),
      'cleanupPhases event plan.untagged must be a whole number of at least 0, got -1'],
    ['untagged instances that are not text', reportCleanupEvent({ plan: { ...cleanupPlan, untaggedInstanceIds: [null] } }),
      'cleanupPhases event plan.untaggedInstanceIds[0] must be a non-empty string, got null'],
    ['skipped that are not a list', reportCleanupEvent({ results: [{ ...deleteResult, skipped: 'none' }] }),
      'cleanupPhases event results[0].skipped must be a list of at most 20 items, got "none"'],
    ['a batch not run outside the plan', reportCleanupEvent({ results: [{ ...deleteResult, key: runKey(0), error: 'States.Timeout' }] }),
      `cleanupPhases event results[0].key must be the key of batch 0 of slot ${SLOT} under cleanups/, got "${runKey(0)}"`],
  ]],
])('%s refuses', (name, cases) => {
  test.each(cases)('%s', (_case, event, message) => {
    expect(() => check(name, event)).toThrow(new Error(message));
  });
});
