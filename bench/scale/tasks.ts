// The interpreter's Lambda tasks: each invokes, in-process, the export of lambda/handlers/orchestrated.ts that
// its function's Handler names, on a clock TIME_SCALE times faster (test/support/in-process-lambda.ts), and is
// recorded as an invocation of the execution.
import { performance } from 'perf_hooks';
import { LogCapture } from './capture';
import { progress, seconds, TIME_SCALE } from './settings';
import { BenchMachine } from './template';
import * as orchestrated from '../../lambda/handlers/orchestrated';
import { realClock } from '../../lambda/support/rate-limiter';
import { InProcessLambda, LambdaHandler } from '../../test/support/in-process-lambda';
import { Interpreter, JsonObject, Machine, StatesError } from '../../test/support/state-machine-interpreter';
import { FunctionSettings } from '../../test/support/synthesized';

const lambda = new InProcessLambda(TIME_SCALE);

/**
 * The handler's buckets and pacer take their time from `realClock`: inside an invocation it runs TIME_SCALE
 * times faster from the invocation's start, like the proxy's buckets.
 */
export function installScaledClock(): void {
  lambda.installOn(realClock);
}

/** The export `index.<name>` of the orchestrated bundle, from its source. */
function handlerOf(fn: FunctionSettings): LambdaHandler {
  const name = fn.handler.replace(/^index\./, '');
  const handler = (orchestrated as Record<string, unknown>)[name];
  if (typeof handler !== 'function') throw new Error(`${fn.logicalId}'s handler ${fn.handler} is not an export of lambda/handlers/orchestrated.ts`);
  return handler as LambdaHandler;
}

/** An interpreter whose Lambda tasks invoke the handler as the template's functions, recording each invocation. */
export function newInterpreter(machine: BenchMachine): Interpreter {
  const interpreter = new Interpreter(async (resource, payload, state) => {
    const target = machine.functions.get(resource);
    if (!target) throw new StatesError('States.Runtime', `${state}: no function for Resource ${resource}`);
    const event = payload as JsonObject;
    const { result, seconds: s, error } = await lambda.invoke(target, handlerOf(target), payload);
    const batch = typeof event.index === 'number' ? event.index : undefined;
    interpreter.stats.invocations.push({ state, phase: String(event.phase), batch, seconds: s, error: error?.error });
    progress(`  ${state}${batch === undefined ? '' : ` ${batch}`}: ${s.toFixed(1)} s (unscaled)${error ? ` ${error.error}` : ''}`);
    if (error) throw error;
    return result;
  }, { timeScale: TIME_SCALE, log: progress });
  return interpreter;
}

/** Runs one execution named after the slot with the handler's output captured: its output, status and wall seconds. */
export async function executeCapturing(
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
