// Scale benchmark of Orchestration.STEP_FUNCTIONS: synthesizes a SnapshotPolicy, reads its state machines and
// functions from the template (bench/scale/template.ts), and carries the definitions out in-process with the
// interpreter of test/support/state-machine-interpreter.ts, whose Lambda tasks invoke the real exports of
// lambda/handlers/orchestrated.ts that the functions' Handler names (bench/scale/tasks.ts), with each function's
// environment and a context that reflects its Timeout. EC2 is moto behind test/support/fault-proxy.ts (EC2's
// token buckets); the plan's S3 bucket is moto's S3 (bench/scale/moto.ts). Time is scaled: the proxy's buckets,
// the handler's buckets, its pacer's back-off, its deadline, the Lambda Timeout and Step Functions' retry
// intervals all run BENCH_TIME_SCALE times faster. For fleets of 1,000, 5,000 and 10,000 instances
// (bench/scale/snapshot-run.ts) it prints batches, invocations, the longest invocation and the whole run
// (unscaled seconds) against the bucket's limit (N-100)/5 s, API calls against their lower bound, instances
// lost, and the cost of the largest run; then a clean-up (bench/scale/cleanup.ts). Printing: bench/scale/report.ts.
// Run: npx projen bundle:handlers && npx ts-node --transpile-only bench/scale.ts
//
// Knobs (environment, bench/scale/settings.ts): BENCH_SCALE_SIZES=1000,5000,10000  BENCH_TIME_SCALE=10
// BENCH_SCALE_MOTO_INDEX=1 (0 runs moto without its tag index)  BENCH_SCALE_THROTTLE_RATE=0
// BENCH_SCALE_SERVER_ERROR_RATE=0 (injected faults)  BENCH_SCALE_CLEANUP_SNAPSHOTS=20000 (0 skips the clean-up)
import { performance } from 'perf_hooks';
import { EC2Client } from '@aws-sdk/client-ec2';
import { S3Client } from '@aws-sdk/client-s3';
import { countS3Calls } from './scale/capture';
import { CleanupResult, runCleanup } from './scale/cleanup';
import { startBenchMoto } from './scale/moto';
import { printAll, printDefinition } from './scale/report';
import {
  CLEANUP_SNAPSHOTS, CREDENTIALS, f1, progress, REGION, seconds, SERVER_ERROR_RATE, SIZES, THROTTLE_RATE, TIME_SCALE,
} from './scale/settings';
import { BenchBackend, runSize, SizeResult } from './scale/snapshot-run';
import { installScaledClock } from './scale/tasks';
import { BenchMachine, synthesizeBench } from './scale/template';
import { startFaultProxy } from '../test/support/fault-proxy';
import { FunctionSettings } from '../test/support/synthesized';

/** moto, the proxy and the clients; the process's environment made the run function's, as Lambda gives it. */
async function startBackend(fn: FunctionSettings): Promise<BenchBackend> {
  const moto = await startBenchMoto();
  const proxy = await startFaultProxy({
    target: moto.endpoint, timeScale: TIME_SCALE, throttleRate: THROTTLE_RATE, serverErrorRate: SERVER_ERROR_RATE, seed: 7,
  }).catch(async (error) => { await moto.stop(); throw error; });
  // EC2 through the proxy, S3 straight to moto (the handler serves buckets by path behind a custom endpoint).
  Object.assign(process.env, fn.environment, {
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_EC2: proxy.endpoint,
    AWS_ENDPOINT_URL_S3: moto.endpoint,
    AWS_EC2_METADATA_DISABLED: 'true',
  });
  delete process.env.AWS_PROFILE;
  const ec2 = new EC2Client({ endpoint: moto.endpoint, region: REGION, credentials: CREDENTIALS });
  const s3 = new S3Client({ endpoint: moto.endpoint, region: REGION, credentials: CREDENTIALS, forcePathStyle: true });
  return { moto, proxy, ec2, s3 };
}

async function stopBackend(backend: BenchBackend): Promise<void> {
  backend.ec2.destroy();
  backend.s3.destroy();
  await backend.proxy.stop();
  await backend.moto.stop();
}

/** Every size, then the clean-up; moto is stopped on SIGINT and SIGTERM. */
async function runAll(machines: { run: BenchMachine; cleanup: BenchMachine }, backend: BenchBackend) {
  const stopMoto = () => { void backend.moto.stop().finally(() => process.exit(130)); };
  process.once('SIGINT', stopMoto);
  process.once('SIGTERM', stopMoto);
  const results: SizeResult[] = [];
  let cleanup: CleanupResult | undefined;
  try {
    for (const [index, n] of SIZES.entries()) {
      const t = performance.now();
      results.push(await runSize(n, index, machines.run, backend));
      progress(`N=${n}: ${f1(seconds(t))} s wall`);
    }
    if (CLEANUP_SNAPSHOTS > 0) cleanup = await runCleanup(machines.cleanup, backend);
  } finally {
    await stopBackend(backend);
    process.removeListener('SIGINT', stopMoto);
    process.removeListener('SIGTERM', stopMoto);
  }
  return { results, cleanup };
}

async function main(): Promise<void> {
  const started = performance.now();
  const machines = synthesizeBench();
  printDefinition(machines.run);
  const backend = await startBackend(machines.run.fn);
  installScaledClock();
  countS3Calls();
  const { results, cleanup } = await runAll(machines, backend);
  printAll(results, cleanup, machines.run.fn, started);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
