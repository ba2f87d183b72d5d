// What bench/scale.ts prints: what it read from the template, then per fleet size, the cost of the largest run,
// the clean-up, and the last lines `cleanup: …` and `scale: …` that scripts read.
import { CleanupResult } from './cleanup';
import { CLEANUP_KEEP_LAST, CLEANUP_SLOTS, f1, limitSeconds, PRICE, seconds, SERVER_ERROR_RATE, THROTTLE_RATE, TIME_SCALE } from './settings';
import { SizeResult } from './snapshot-run';
import { BenchMachine } from './template';
import { FunctionSettings } from '../../test/support/synthesized';

type Invocations = SizeResult['stats']['invocations'];

const longestOf = (invocations: Invocations) => invocations.reduce((a, b) => (b.seconds > a.seconds ? b : a), invocations[0]);
const describeLongest = (l: Invocations[number] | undefined) =>
  (l ? `${f1(l.seconds)} s (${l.state}${l.batch === undefined ? '' : ` ${l.batch}`})` : '-');
const stateTimes = (stateSeconds: Record<string, number>) => Object.entries(stateSeconds).map(([s, t]) => `${s} ${f1(t)}`).join(', ');
/** EC2 calls by action, those with a lower bound first. */
const callsAgainst = (calls: Record<string, number>, bound: Record<string, number>) => [
  ...Object.entries(bound).map(([action, b]) => `${action} ${calls[action] ?? 0} (bound ${b})`),
  ...Object.entries(calls).filter(([action]) => !(action in bound)).map(([action, c]) => `${action} ${c}`),
].join(', ');

export function printDefinition(machine: BenchMachine): void {
  const { definition } = machine;
  const map = Object.entries(definition.States).find(([, s]) => s.Type === 'Map');
  if (!map) throw new Error('the definition has no Map state');
  const processor = (map[1].ItemProcessor ?? map[1].Iterator)!;
  const task = Object.entries(processor.States).find(([, s]) => s.Type === 'Task');
  if (!task) throw new Error(`the Map state ${map[0]} has no Task`);
  const fn = machine.functions.get(task[1].Resource!);
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

export function printSize(r: SizeResult): void {
  const invocations = r.stats.invocations;
  const byPhase = (phase: string) => invocations.filter((i) => i.phase === phase).length;
  const lastBatch = r.n - (r.batches - 1) * r.batchSize;
  const rep = (key: string) => Number(r.report?.[key] ?? 0);
  console.log(`\nN=${r.n}: ${r.status}; ${r.batches} batches of ${r.batchSize}${r.batches > 1 ? ` (last ${lastBatch})` : ''}; ` +
    `${invocations.length} invocations ` +
    `(plan ${byPhase('plan-batches')}, execute ${byPhase('execute-batch')}, report ${byPhase('report')}; ${r.stats.retries} retries)`);
  console.log(`  time: total ${f1(r.totalSeconds)} s (${stateTimes(r.stats.stateSeconds)}) vs limit ${f1(limitSeconds(r.n))} s; ` +
    `longest invocation ${describeLongest(longestOf(invocations))} of Timeout ${r.timeoutSeconds} s`);
  const bound = { DescribeInstances: Math.ceil(r.n / 1000), DescribeAvailabilityZones: 1, CreateSnapshots: r.n, DescribeSnapshots: r.batches };
  console.log(`  EC2 calls: ${callsAgainst(r.calls, bound)}; refused by the bucket ${r.bucketThrottled}, injected faults ${r.injected}`);
  console.log(`  S3 calls: ${Object.entries(r.s3).map(([c, k]) => `${c} ${k}`).join(', ') || 'none'}; largest state ` +
    `${f1(r.stats.largestStateBytes / 1024)} KB of 256 KB; ${r.stats.transitions} state transitions`);
  console.log(`  report: created ${rep('created')}, already done ${rep('alreadyDone')}, failed ${rep('failed')}, not reached ${rep('notReached')}; ` +
    `without a set in moto ${r.noSet} (named in the report ${r.namedInReport}, only in the logs ${r.onlyInLogs}), lost ${r.lost}, ` +
    `second sets ${r.duplicates}`);
  console.log(`  wall: seeding ${f1(r.wall.seed)} s, run ${f1(r.wall.run)} s, check ${f1(r.wall.check)} s`);
}

export function printCost(r: SizeResult, fn: FunctionSettings): void {
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

export function printCleanup(r: CleanupResult): void {
  const invocations = r.stats.invocations;
  const rep = (key: string) => Number(r.report?.[key] ?? 0);
  console.log(`\nclean-up of ${r.snapshots} snapshots (${r.instances} instances x ${CLEANUP_SLOTS} sets, keepLast ${CLEANUP_KEEP_LAST}): ${r.status}; ` +
    `${r.batches} deletion batches of at most ${r.batchSize} snapshots; ${invocations.length} invocations (${r.stats.retries} retries)`);
  console.log(`  time: total ${f1(r.totalSeconds)} s (${stateTimes(r.stats.stateSeconds)}) vs limit ${f1(limitSeconds(r.expected))} s for ${r.expected} deletes; ` +
    `longest invocation ${describeLongest(longestOf(invocations))}`);
  const bound = { DescribeSnapshots: Math.ceil(r.snapshots / 1000) + r.batches, DeleteSnapshot: r.expected };
  console.log(`  EC2 calls: ${callsAgainst(r.calls, bound)}; refused by the bucket ${r.bucketThrottled}; largest state ` +
    `${f1(r.stats.largestStateBytes / 1024)} KB of 256 KB; ${r.stats.transitions} state transitions`);
  console.log(`  report: sets kept ${rep('setsKept')}, deleted ${rep('setsDeleted')} (${rep('snapshotsDeleted')} snapshots), held ${rep('setsHeld')}, ` +
    `snapshots skipped ${rep('snapshotsSkipped')}; in moto: kept sets deleted ${r.wrongDeletes}, expired sets left ${r.left}`);
  console.log(`  wall: seeding ${f1(r.wall.seed)} s, run ${f1(r.wall.run)} s, check ${f1(r.wall.check)} s`);
  console.log(`cleanup: snapshots=${r.snapshots} deleted=${rep('snapshotsDeleted')} wrong_deletes=${r.wrongDeletes} left=${r.left} ` +
    `longest_invocation_s=${f1(Math.max(...invocations.map((i) => i.seconds)))} total_s=${f1(r.totalSeconds)} limit_s=${f1(limitSeconds(r.expected))}`);
}

/** Everything after the runs: the sizes, the bounds, the cost, the clean-up, the wall times and the `scale:` line last. */
export function printAll(results: SizeResult[], cleanup: CleanupResult | undefined, fn: FunctionSettings, startedMs: number): void {
  for (const r of results) printSize(r);
  console.log('\nbounds: ceil(N/1000) DescribeInstances (moto pages by reservation of 250, so it needs 1 page where EC2 needs ' +
    'ceil(N/1000)), 1 DescribeAvailabilityZones, N CreateSnapshots, 1 DescribeSnapshots per batch (idempotency check). ' +
    'lost: instances with no snapshot for the slot in moto and no failure named in the report or the logs.');
  const largest = results[results.length - 1];
  printCost(largest, fn);
  if (cleanup) printCleanup(cleanup);
  console.log(`\nwall: ${results.map((r) => `N=${r.n} ${f1(r.wall.seed + r.wall.run + r.wall.check)} s`).join(', ')}; total ${f1(seconds(startedMs))} s`);
  const longest = Math.max(...largest.stats.invocations.map((i) => i.seconds));
  console.log(`scale: N=${largest.n} lost=${largest.lost} longest_invocation_s=${f1(longest)} total_s=${f1(largest.totalSeconds)} ` +
    `limit_s=${f1(limitSeconds(largest.n))}`);
}
