// How large a function's environment is as Lambda measures it against its 4 KB limit, from the environment as
// the template holds it (strings, or intrinsics CloudFormation resolves). Lambda measures the variables as
// one compact JSON object: its error reads "... exceeded the 4KB limit. String measured: {"KEY":"value",...}",
// and LocalStack, which mirrors it, counts json.dumps(variables) in UTF-8 with non-ASCII characters escaped.
// So a JSON value (INSTANCE_TAGS) counts each of its quotes twice, and we count every non-ASCII character
// as its six-character \u escape, which is at least its size in UTF-8.

/** Lambda's limit on a function's environment. */
export const MAX_ENVIRONMENT_BYTES = 4096;

/**
 * What one unresolved token in a value counts for. The tokens in a policy's environment are the plan
 * bucket's name (at most 63 characters), the state machines' ARNs (under 160: `arn:`, a partition of at
 * most 9, `:states:`, a region of at most 16, an account of 12, `:stateMachine:` and a name of at most 80)
 * and values a user passes as parameters: a tag value (EC2 allows 256 characters), a description (255) or
 * a policy name (128). 256 bounds them all, for values without characters JSON escapes; a parameter value
 * with quotes or non-ASCII characters may take more, which no check can know at synth time.
 */
export const TOKEN_BYTES = 256;

/** The size of the environment `{ name: value }` as Lambda measures it; values as the template holds them. */
export function environmentBytes(resolved: Record<string, unknown>): number {
  const entries = Object.entries(resolved);
  const commas = Math.max(0, entries.length - 1);
  return 2 + commas + entries.reduce((sum, [name, value]) => sum + quotedBytes(name) + 1 + valueBytes(value), 0);
}

/** The size of one value, its quotes included; each unresolved token counts `TOKEN_BYTES`. */
export function valueBytes(resolved: unknown): number {
  const { literal, tokens } = flatten(resolved);
  return quotedBytes(literal) + tokens * TOKEN_BYTES;
}

/** A string as a JSON string, non-ASCII characters escaped. */
function quotedBytes(text: string): number {
  // JSON.stringify has escaped the control characters, so what is left outside printable ASCII is not ASCII.
  return JSON.stringify(text).replace(/[^ -~]/g, '\\u0000').length;
}

/** The literal text of a value and how many tokens it holds besides. */
function flatten(value: unknown): { literal: string; tokens: number } {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return { literal: String(value), tokens: 0 };
  const join = (value as { 'Fn::Join'?: unknown } | null)?.['Fn::Join'];
  if (Array.isArray(join) && typeof join[0] === 'string' && Array.isArray(join[1])) {
    const parts = (join[1] as unknown[]).map(flatten);
    return {
      literal: parts.map((p) => p.literal).join(join[0]),
      tokens: parts.reduce((sum, p) => sum + p.tokens, 0),
    };
  }
  // Ref, Fn::GetAtt, Fn::ImportValue and the like: CloudFormation's value, unknown here.
  return { literal: '', tokens: 1 };
}
