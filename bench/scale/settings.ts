// bench/scale.ts's knobs (environment variables, checked here once), constants and small helpers shared by its parts.
import { performance } from 'perf_hooks';
import { EC2_LIMITS } from '../../test/support/fault-proxy';

export const REGION = 'us-east-1';
export const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };
export const TIME_SCALE = Number(process.env.BENCH_TIME_SCALE ?? 10);
export const SIZES = [...new Set((process.env.BENCH_SCALE_SIZES ?? '1000,5000,10000').split(',').map(Number))].sort((a, b) => a - b);
export const MOTO_INDEX = process.env.BENCH_SCALE_MOTO_INDEX !== '0';
export const THROTTLE_RATE = Number(process.env.BENCH_SCALE_THROTTLE_RATE ?? 0);
export const SERVER_ERROR_RATE = Number(process.env.BENCH_SCALE_SERVER_ERROR_RATE ?? 0);
export const PLAN_BUCKET = 'scale-bench-plans';
/** The clean-up stage: this many snapshots of this policy (one-volume instances, CLEANUP_SLOTS sets each). */
export const CLEANUP_SNAPSHOTS = Number(process.env.BENCH_SCALE_CLEANUP_SNAPSHOTS ?? 20_000);
export const CLEANUP_SLOTS = 4;
/** The bench policy's retention: the two newest sets of each instance stay, the two older ones expire. */
export const CLEANUP_KEEP_LAST = 2;
/** us-east-1 list prices (USD), free tiers left out. EC2 API calls are not charged. */
export const PRICE = {
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

// Bound before the handler's output is captured (bench/scale/capture.ts), so progress always reaches the terminal.
const stderr = process.stderr.write.bind(process.stderr);
export const progress = (line: string) => { stderr(`${line}\n`); };
export const seconds = (startMs: number) => (performance.now() - startMs) / 1000;
export const f1 = (x: number) => x.toFixed(1);
/** The least time EC2's mutate bucket allows for n requests, in seconds. */
export const limitSeconds = (n: number) => Math.max(0, n - EC2_LIMITS.mutate.capacity) / EC2_LIMITS.mutate.refillPerSecond;
/** A slot `minutesAgo` minutes before this minute, as the schedules write it. */
export const slotMinutesAgo = (minutesAgo: number) =>
  new Date((Math.floor(Date.now() / 60_000) - minutesAgo) * 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
