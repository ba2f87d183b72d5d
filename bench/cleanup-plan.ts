// What planning a very large clean-up costs inside one invocation: the real grouping, retention decisions and
// batch cutting (lambda/retention.ts, lambda/batches.ts) over synthetic histories of 100,000 and 200,000
// snapshots, with the time and heap they take and the size of what is written to S3 and kept in the state.
// The EC2 side (one DescribeSnapshots page per 1,000 snapshots) is measured by bench/scale.ts against moto.
// Run: npx ts-node --transpile-only bench/cleanup-plan.ts   (knob: BENCH_CLEANUP_PLAN_SIZES=100000,200000)
import { performance } from 'perf_hooks';
import { cutSetBatches } from '../lambda/logic/batches';
import { decideSets, groupSets, RetentionRules } from '../lambda/logic/decide-sets';
import { INSTANCE_ID_TAG, POLICY_ID_TAG, SLOT_TAG, SnapshotInfo } from '../lambda/logic/model';
import { ownerOf } from '../lambda/logic/ownership';
import { setDescription } from '../test/support/set-marker';

const SIZES = (process.env.BENCH_CLEANUP_PLAN_SIZES ?? '100000,200000').split(',').map(Number);
if (SIZES.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`BENCH_CLEANUP_PLAN_SIZES must list whole numbers, got ${process.env.BENCH_CLEANUP_PLAN_SIZES}`);

const POLICY_ID = 'Prod/Nightly';
const INSTANCE_TAGS = { Backup: 'nightly' };
const VOLUMES = 2;
const DAYS = 50;
/** A daily policy with a grandfather-father-son scheme: 7 last, 14 daily, 8 weekly, 12 monthly. */
const RULES: RetentionRules = { last: 7, daily: 14, weekly: 8, monthly: 12 };
/** Deletions per batch with the default 15-minute timeout (the construct's BATCH_SIZE). */
const BATCH_SIZE = 2175;
const NOW = Date.parse('2026-11-23T12:00:00Z');

/** Daily sets of VOLUMES snapshots for as many instances as `snapshots` needs, the newest yesterday's. */
function history(snapshots: number): SnapshotInfo[] {
  const instances = Math.ceil(snapshots / (VOLUMES * DAYS));
  const out: SnapshotInfo[] = [];
  for (let i = 0; i < instances && out.length < snapshots; i++) {
    const instanceId = `i-${i.toString(16).padStart(17, '0')}`;
    for (let d = 1; d <= DAYS && out.length < snapshots; d++) {
      const slot = new Date(NOW - d * 86_400_000).toISOString().slice(0, 10) + 'T03:00:00Z';
      for (let v = 0; v < VOLUMES; v++) {
        out.push({
          snapshotId: `snap-${out.length.toString(16).padStart(17, '0')}`,
          state: 'completed',
          startTime: new Date(Date.parse(slot) + 60_000).toISOString(),
          description: setDescription(POLICY_ID, INSTANCE_TAGS, instanceId, slot, 'nightly'),
          volumeId: `vol-${instanceId.slice(2)}-${v}`,
          tags: { [POLICY_ID_TAG]: POLICY_ID, [INSTANCE_ID_TAG]: instanceId, [SLOT_TAG]: slot, Team: 'platform' },
        });
      }
    }
  }
  return out;
}

const mb = (bytes: number) => (bytes / 1024 ** 2).toFixed(1);

for (const size of SIZES) {
  const snapshots = history(size);
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const { sets } = groupSets(snapshots, ownerOf({ policyId: POLICY_ID, instanceTags: INSTANCE_TAGS }, new Date(NOW)), 'snapshot-policy:hold');
  const t1 = performance.now();
  const decisions = decideSets(sets, { policyId: POLICY_ID, rules: RULES, timeZone: 'Europe/London', now: new Date(NOW), errorGraceSeconds: 86_400 });
  const t2 = performance.now();
  const doomed = decisions.filter((d) => d.action === 'delete')
    .map(({ set }) => ({ instanceId: set.instanceId, slot: set.slot, snapshotIds: set.snapshotIds }));
  const batches = cutSetBatches(doomed, BATCH_SIZE);
  const t3 = performance.now();
  const heapAfter = process.memoryUsage().heapUsed;
  const objectBytes = batches.map((b) => Buffer.byteLength(JSON.stringify(b)));
  // What the state machine's state carries: one ref per batch (see CleanupPlanSummary).
  const refs = batches.map((b, index) => ({
    index, key: `cleanups/Prod%2FNightly/2026-11-23T03:00:00Z/batch-${String(index).padStart(5, '0')}.json`, size: b.reduce((n, s) => n + s.snapshotIds.length, 0),
  }));
  const summary = { setsKept: 0, setsToDelete: 0, snapshotsToDelete: 0, unrecognized: 0, unrecognizedIds: [], batches: refs };
  const stateBytes = Buffer.byteLength(JSON.stringify(summary));
  const deletes = doomed.reduce((n, s) => n + s.snapshotIds.length, 0);
  console.log(`${size} snapshots (${sets.length} sets of ${VOLUMES}, ${DAYS} daily slots per instance, keep ${JSON.stringify(RULES)}):`);
  console.log(`  group ${(t1 - t0).toFixed(0)} ms, decide ${(t2 - t1).toFixed(0)} ms, cut ${(t3 - t2).toFixed(0)} ms; ` +
    `heap +${mb(heapAfter - heapBefore)} MB (${mb(heapAfter)} MB in use, function memory 512 MB)`);
  console.log(`  ${decisions.length - doomed.length} sets kept, ${doomed.length} to delete (${deletes} snapshots) in ${batches.length} batches; ` +
    `largest batch object ${(Math.max(0, ...objectBytes) / 1024).toFixed(0)} KB; plan in the state ${(stateBytes / 1024).toFixed(1)} KB of 256 KB`);
  console.log(`  EC2 time at the DeleteSnapshot rate: (${deletes} - 100) / 5 = ${Math.max(0, (deletes - 100) / 5).toFixed(0)} s over ${batches.length} ` +
    `invocations of at most ${BATCH_SIZE / 5} s each; listing: ${Math.ceil(size / 1000)} DescribeSnapshots pages`);
}
