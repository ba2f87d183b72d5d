// Runs a bundled handler (assets/<name>/index.js, the code Lambda runs) the way a Lambda container does: a
// Node process of its own that loads the bundle once, with only the environment given here, and takes one
// invocation at a time; state the handler keeps between invocations (its configuration, its SDK client) lives
// as long as the container. Not in Jest's module sandbox: the SDK in the bundle loads node:http with a
// dynamic import(), which Jest's VM context refuses without --experimental-vm-modules.
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Handler } from '../../lib/private/contract';

/** A handler as a function's `handler` names it: the bundle (assets/<asset>/index.js) and its export. */
export type HandlerEntry = (typeof Handler)[keyof typeof Handler];
export type AssetName = HandlerEntry['asset'];

export interface LogLine {
  readonly level: string;
  readonly event: string;
  readonly [field: string]: unknown;
}

export interface Invocation<R> {
  readonly result: R;
  /** The handler's console output of this invocation, one entry a line, JSON lines parsed. */
  readonly logs: LogLine[];
}

export interface LambdaContainer {
  readonly pid: number;
  invoke<R = unknown>(event: unknown): Promise<Invocation<R>>;
  stop(): Promise<void>;
}

const ROOT = path.join(__dirname, '..', '..');

// The container's bootstrap: console output of an invocation is collected and sent back with its result.
const BOOTSTRAP = `
const lines = [];
for (const method of ['log', 'info', 'warn', 'error']) {
  console[method] = (...args) => { lines.push(args.map(String).join(' ')); };
}
// Powertools writes its embedded-metric lines to process.stdout through a Console of its own.
process.stdout.write = (chunk) => { lines.push(...String(chunk).split('\\n').filter((l) => l !== '')); return true; };
const handler = require(process.argv[1])[process.argv[3]];
if (typeof handler !== 'function') throw new Error('the bundle exports no function ' + process.argv[3]);
const remaining = Number(process.argv[2]);
process.on('message', async ({ id, event }) => {
  lines.length = 0;
  try {
    const result = await handler(event, { getRemainingTimeInMillis: () => remaining });
    process.send({ id, result: result === undefined ? null : result, lines: [...lines] });
  } catch (error) {
    process.send({ id, error: { name: error && error.name, message: error && error.message, stack: error && error.stack }, lines: [...lines] });
  }
});
process.send({ ready: true });
`;

function parseLine(text: string): LogLine {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && ('event' in parsed || '_aws' in parsed)) return parsed as LogLine;
  } catch {
    // not one of the handler's JSON lines
  }
  return { level: 'TEXT', event: '', text };
}

interface Reply {
  readonly id?: number;
  readonly ready?: boolean;
  readonly result?: unknown;
  readonly error?: { name?: string; message?: string; stack?: string };
  readonly lines?: string[];
}

/**
 * Starts a container for a bundled handler. `env` is the whole environment of the process besides PATH, so
 * nothing of the test's own environment (credentials, profiles, endpoints) reaches the handler.
 */
export async function startContainer(
  handler: HandlerEntry, env: Record<string, string>, remainingTimeMs = 5 * 60_000,
): Promise<LambdaContainer> {
  const name = handler.asset;
  // The bundle is what `npx projen bundle:handlers` last built (`npm test` builds it first); it is not rebuilt here.
  const entry = path.join(ROOT, 'assets', handler.asset, 'index.js');
  if (!fs.existsSync(entry)) throw new Error(`${entry} does not exist: run npx projen bundle:handlers first`);
  const child: ChildProcess = spawn(process.execPath, ['-e', BOOTSTRAP, entry, String(remainingTimeMs), handler.export], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  child.stdout?.on('data', (d) => { output = (output + d).slice(-4000); });
  child.stderr?.on('data', (d) => { output = (output + d).slice(-4000); });
  const pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  let ready: (() => void) | undefined;
  let failStart: ((e: Error) => void) | undefined;
  const started = new Promise<void>((resolve, reject) => { ready = resolve; failStart = reject; });
  child.on('message', (reply: Reply) => {
    if (reply.ready) ready?.();
    else if (reply.id !== undefined) pending.get(reply.id)?.resolve(reply);
  });
  child.on('exit', (code, signal) => {
    const error = new Error(`${name} container exited (${code ?? signal}): ${output}`);
    failStart?.(error);
    for (const p of pending.values()) p.reject(error);
    pending.clear();
  });
  await started;
  let nextId = 0;
  return {
    pid: child.pid!,
    async invoke<R>(event: unknown): Promise<Invocation<R>> {
      const id = nextId++;
      const reply = await new Promise<Reply>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        child.send({ id, event });
      });
      pending.delete(id);
      const logs = (reply.lines ?? []).map(parseLine);
      if (reply.error) {
        const error = new Error(`${name} handler threw ${reply.error.name}: ${reply.error.message}`);
        Object.assign(error, { logs, handlerStack: reply.error.stack });
        throw error;
      }
      return { result: reply.result as R, logs };
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
