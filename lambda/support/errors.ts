// Classifies EC2 errors by their code. The SDK puts the code in `name` (and `Code` on some paths).

export function errorCode(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const e = error as { name?: unknown; Code?: unknown; code?: unknown };
    for (const candidate of [e.Code, e.code, e.name]) {
      if (typeof candidate === 'string' && candidate !== '' && candidate !== 'Error') return candidate;
    }
  }
  return 'UnknownError';
}

export function errorMessage(error: unknown): string {
  const code = errorCode(error);
  // Read `message` from any object, not only `instanceof Error`: an error from another realm or a plain
  // object carries one too, and String() of an object says only "[object Object]".
  let message: string;
  if (typeof error === 'object' && error !== null) {
    const property = (error as { message?: unknown }).message;
    message = typeof property === 'string' ? property : '';
  } else {
    message = String(error);
  }
  return message && message !== code ? `${code}: ${message}` : code;
}

function httpStatus(error: unknown): number | undefined {
  const meta = (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata;
  return meta?.httpStatusCode;
}

/** Errors worth another attempt later in the same run: throttling, per-volume limits and server faults. */
const RETRYABLE = new Set([
  'RequestLimitExceeded',
  'Throttling',
  'ThrottlingException',
  'SnapshotCreationPerVolumeRateExceeded',
  'ConcurrentSnapshotLimitExceeded',
  'InternalError',
  'InternalFailure',
  'ServiceUnavailable',
  'Unavailable',
  'TimeoutError',
  'RequestTimeout',
  // Connection faults: the request may not have reached EC2 (mutations are re-sent through the pacer,
  // which takes a token for each attempt, since their client makes one attempt only).
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
]);

export function isRetryable(error: unknown): boolean {
  const status = httpStatus(error);
  return RETRYABLE.has(errorCode(error)) || (status !== undefined && status >= 500);
}

/**
 * A clean-up that ran out of time before it could send every deletion it decided. The invocation fails
 * after publishing its counts, so the function's Errors metric raises the failure alarm, and Lambda (or the
 * state machine's Retry) runs it again: the retry deletes what is left, counting snapshots already gone as
 * deleted.
 */
export class DeletionsNotReached extends Error {
  constructor(readonly notReached: number, readonly decided: number) {
    super(`${notReached} of ${decided} snapshot deletions were not reached before the invocation's deadline; ` +
      'they are retried, and the next clean-up plans them again');
    this.name = 'DeletionsNotReached';
  }
}

/** Codes that mean the server's request-rate bucket is empty: the request was refused, not carried out. */
const THROTTLING = new Set(['RequestLimitExceeded', 'Throttling', 'ThrottlingException']);

/** A refusal for lack of request tokens: it says the rate is too high, not that the request is wrong. */
export function isThrottling(error: unknown): boolean {
  return THROTTLING.has(errorCode(error));
}

/**
 * Retryable errors in which EC2 refused the request before carrying it out (request rate, per-volume rate,
 * concurrent snapshots), or in which the request never left this process (no connection, no address).
 */
const NOT_CARRIED_OUT = new Set([
  ...THROTTLING,
  'SnapshotCreationPerVolumeRateExceeded',
  'ConcurrentSnapshotLimitExceeded',
  'ECONNREFUSED',
  'EAI_AGAIN',
]);

/**
 * Whether a retryable failure leaves open that the request was carried out and only its answer was lost: a
 * server fault (5xx other than a refusal), a timeout, a connection reset. A mutation without a client token
 * must not be sent again after one of these until a check shows it did not happen.
 */
export function isAmbiguous(error: unknown): boolean {
  return isRetryable(error) && !NOT_CARRIED_OUT.has(errorCode(error));
}
