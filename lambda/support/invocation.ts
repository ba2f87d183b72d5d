// What a handler needs of Lambda's invocation context: how long it has left, and so when a run must stop
// starting new requests.
import { Defaults } from '../../lib/private/contract';

export interface LambdaContext {
  getRemainingTimeInMillis(): number;
}

/** Epoch milliseconds after which no new request is started: the invocation's end less the safety margin. */
export function deadlineOf(context: LambdaContext | undefined, config: { readonly safetyMarginSeconds: number }): number {
  const remaining = context?.getRemainingTimeInMillis() ?? Defaults.INVOCATION_MILLIS;
  return Date.now() + remaining - config.safetyMarginSeconds * 1000;
}
