// Prints the size and cold-load time of the snapshot handler bundled two ways: with ESM entry points
// first (mainFields module,main: what ships) and with esbuild's default for Node (main first, CommonJS).
// Load times are medians over fresh Node processes, reported as a ratio to a bare CommonJS
// require('@aws-sdk/client-ec2') measured in the same run, because this machine is shared and noisy.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { buildSync } from 'esbuild';

const RUNS = Number(process.env.RUNS ?? 15);
const root = path.join(__dirname, '..');
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'bundle-bench-'));

function bundle(name: string, mainFields?: string[]): string {
  const outfile = path.join(out, name, 'index.js');
  buildSync({
    entryPoints: [path.join(root, 'lambda', 'handlers', 'snapshot-run.ts')],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify: true,
    outfile,
    ...(mainFields ? { mainFields } : {}),
    logLevel: 'silent',
  });
  return outfile;
}

/** Milliseconds to load a module in a fresh process, measured inside that process. */
function loadMs(modulePath: string): number {
  const script = `const t=process.hrtime.bigint();require(${JSON.stringify(modulePath)});` +
    'process.stdout.write(String(Number(process.hrtime.bigint()-t)/1e6))';
  return Number(execFileSync(process.execPath, ['-e', script], { cwd: root, env: { ...process.env, NODE_NO_WARNINGS: '1' } }).toString());
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const candidates = [
  { label: 'bare require(@aws-sdk/client-ec2), CommonJS', file: require.resolve('@aws-sdk/client-ec2', { paths: [root] }), size: undefined as number | undefined },
  { label: 'handler, ESM entry points (mainFields module,main) [shipped]', file: bundle('esm', ['module', 'main']), size: 0 },
  { label: 'handler, default CommonJS entry points', file: bundle('cjs'), size: 0 },
];
for (const c of candidates.slice(1)) c.size = fs.statSync(c.file).size;

// Interleave the runs so that load on the machine affects all candidates alike.
const times: number[][] = candidates.map(() => []);
for (let i = 0; i < RUNS; i++) candidates.forEach((c, j) => times[j].push(loadMs(c.file)));
const baseline = median(times[0]);

console.log(`Cold load, median of ${RUNS} fresh processes each (node ${process.version})`);
for (const [j, c] of candidates.entries()) {
  const ms = median(times[j]);
  const size = c.size === undefined ? '      -   ' : `${(c.size / 1e6).toFixed(2).padStart(6)} MB `;
  console.log(`  ${size} ${ms.toFixed(1).padStart(7)} ms  ${(ms / baseline).toFixed(2)} x baseline  ${c.label}`);
}
fs.rmSync(out, { recursive: true, force: true });
