// EventBridge Scheduler expressions (rate, cron, at) and time zone names, read as plain strings: what is wrong
// with one, how often it runs and when a one-time schedule fires. Pure functions, so the construct's checks
// and warnings are tested without a stack.
// Rules from https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html and
// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cron-expressions.html

const RATE_SECONDS: Record<string, number> = { minute: 60, hour: 3_600, day: 86_400 };

export interface CronField {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  /** Names standing for min, min + 1, ... (JAN = 1, SUN = 1). */
  readonly names?: readonly string[];
  /** The wildcards EventBridge allows in this field. */
  readonly wildcards: string;
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const WEEKDAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

export const CRON_FIELDS: readonly CronField[] = [
  { name: 'minutes', min: 0, max: 59, wildcards: ', - * /' },
  { name: 'hours', min: 0, max: 23, wildcards: ', - * /' },
  { name: 'day-of-month', min: 1, max: 31, wildcards: ', - * ? / L W' },
  { name: 'month', min: 1, max: 12, names: MONTHS, wildcards: ', - * /' },
  { name: 'day-of-week', min: 1, max: 7, names: WEEKDAYS, wildcards: ', - * ? L #' },
  { name: 'year', min: 1970, max: 2199, wildcards: ', - * /' },
];

/** What is wrong with an expression, each problem a phrase to follow the prop's name; empty when valid. */
export function scheduleExpressionProblems(expression: string): string[] {
  const body = (kind: string) => (expression.startsWith(`${kind}(`) && expression.endsWith(')') ? expression.slice(kind.length + 1, -1) : undefined);
  const rate = body('rate');
  if (rate !== undefined) return rateProblems(rate, expression);
  const cron = body('cron');
  if (cron !== undefined) return cronProblems(cron, expression);
  const at = body('at');
  if (at !== undefined) return atDate(expression) ? [] : [`at must be a real date and time at(yyyy-mm-ddThh:mm:ss), got "${expression}"`];
  return [`must be rate(value unit), cron(fields) or at(yyyy-mm-ddThh:mm:ss), got "${expression}"`];
}

/** The interval of a valid `rate()` expression in seconds; undefined for anything else. */
export function rateSeconds(expression: string): number | undefined {
  const match = /^rate\((\d+)\s+(minute|hour|day)s?\)$/.exec(expression);
  return match ? Number(match[1]) * RATE_SECONDS[match[2]] : undefined;
}

/**
 * The shortest time between two runs of a valid `rate()` or `cron()` expression in minutes, where it is
 * under an hour; undefined when runs are at least an hour apart or the expression is neither.
 */
export function shortestIntervalMinutes(expression: string): number | undefined {
  const seconds = rateSeconds(expression);
  if (seconds !== undefined) return seconds < 3_600 ? seconds / 60 : undefined;
  const fields = /^cron\((.*)\)$/.exec(expression)?.[1].trim().split(/\s+/);
  if (!fields || fields.length !== 6 || cronProblems(fields.join(' '), expression).length > 0) return undefined;
  const minutes = expand(fields[0], CRON_FIELDS[0]);
  const hours = expand(fields[1], CRON_FIELDS[1]);
  const gaps = minutes.slice(1).map((m, i) => m - minutes[i]);
  // The last minute of one hour and the first of the next are a gap too when both hours run.
  if (hours.some((h) => hours.includes(h + 1))) gaps.push(60 - minutes[minutes.length - 1] + minutes[0]);
  const shortest = Math.min(...gaps);
  return shortest < 60 ? shortest : undefined;
}

/** The instant a valid `at()` expression fires in the IANA `timeZone`; undefined for anything else. */
export function atInstant(expression: string, timeZone: string): Date | undefined {
  const wall = atDate(expression);
  if (!wall || !isTimeZoneName(timeZone)) return undefined;
  // The zone's offset at the wall time read as UTC; an hour off at most around a DST change.
  return new Date(wall.getTime() - offsetMillis(timeZone, wall));
}

/** Whether Node's Intl (and so EventBridge's IANA database) knows the time zone. */
export function isTimeZoneName(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return name.length > 0;
  } catch {
    return false;
  }
}

function rateProblems(body: string, expression: string): string[] {
  const parts = body.trim().split(/\s+/);
  if (parts.length !== 2) return [`rate must be rate(value unit), got "${expression}"`];
  const [value, unit] = parts;
  const problems: string[] = [];
  if (!/^\d+$/.test(value) || Number(value) < 1) problems.push(`rate value must be a positive whole number, got "${expression}"`);
  const singular = unit.replace(/s$/, '');
  const unitOk = Object.keys(RATE_SECONDS).includes(singular) && (value === '1') === (unit === singular);
  if (!unitOk) {
    problems.push(`rate unit must be minute, hour or day for 1 and minutes, hours or days otherwise, got "${expression}"`);
  }
  return problems;
}

function cronProblems(body: string, expression: string): string[] {
  const fields = body.trim().split(/\s+/);
  if (fields.length !== 6) {
    return [`cron must have six fields (minutes hours day-of-month month day-of-week year), got "${expression}"`];
  }
  const problems: string[] = [];
  CRON_FIELDS.forEach((spec, i) => {
    if (cronFieldValid(fields[i], spec)) return;
    const names = spec.names ? ` or ${spec.names[0]}-${spec.names[spec.names.length - 1]}` : '';
    problems.push(`cron ${spec.name} must hold values ${spec.min}-${spec.max}${names} and only the wildcards ${spec.wildcards}, ` +
      `got "${fields[i]}" in "${expression}"`);
  });
  if ((fields[2] === '?') === (fields[4] === '?')) {
    problems.push(`cron must have ? in exactly one of day-of-month and day-of-week, got "${expression}"`);
  }
  return problems;
}

function cronFieldValid(field: string, spec: CronField): boolean {
  if (field === '?') return spec.wildcards.includes('?');
  const items = field.split(',');
  // With #, the day-of-week field holds one expression only.
  if (field.includes('#') && items.length > 1) return false;
  return items.every((item) => cronItemValid(item, spec));
}

function cronItemValid(item: string, spec: CronField): boolean {
  const allows = (wildcard: string) => spec.wildcards.split(' ').includes(wildcard);
  if (item === '*') return true;
  if (spec.name === 'day-of-month' && (item === 'L' || item === 'LW')) return true;
  if (spec.name === 'day-of-month' && item.endsWith('W')) return fieldValue(item.slice(0, -1), spec) !== undefined;
  if (spec.name === 'day-of-week' && item.endsWith('L')) return item === 'L' || fieldValue(item.slice(0, -1), spec) !== undefined;
  if (spec.name === 'day-of-week' && item.includes('#')) {
    const [day, nth] = item.split('#');
    return fieldValue(day, spec) !== undefined && /^[1-5]$/.test(nth);
  }
  const [base, step, ...rest] = item.split('/');
  if (rest.length > 0) return false;
  if (step !== undefined && (!allows('/') || !/^\d+$/.test(step) || Number(step) < 1)) return false;
  if (step !== undefined && base === '*') return true;
  const bounds = base.split('-');
  return bounds.length <= 2 && bounds.every((b) => fieldValue(b, spec) !== undefined);
}

/** The number a value of the field stands for, or undefined when it is out of range. */
export function fieldValue(text: string, spec: CronField): number | undefined {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    return n >= spec.min && n <= spec.max ? n : undefined;
  }
  const index = spec.names?.indexOf(text.toUpperCase()) ?? -1;
  return index >= 0 ? spec.min + index : undefined;
}

/** The sorted values of a valid numeric field (minutes, hours); ranges may wrap (50-10). */
function expand(field: string, spec: CronField): number[] {
  const values = new Set<number>();
  for (const item of field.split(',')) {
    const [base, stepText] = item.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    const [from, to] = base === '*' ? [spec.min, spec.max] : base.split('-').map(Number);
    const last = to ?? (stepText === undefined ? from : spec.max);
    const span = (last - from + (spec.max - spec.min + 1)) % (spec.max - spec.min + 1);
    for (let offset = 0; offset <= span; offset += step) values.add(spec.min + ((from - spec.min + offset) % (spec.max - spec.min + 1)));
  }
  return [...values].sort((a, b) => a - b);
}

/** The wall time of a valid `at()` expression, read as UTC; undefined when it is no real date. */
function atDate(expression: string): Date | undefined {
  const match = /^at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)$/.exec(expression);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number);
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  // Date.UTC rolls 2023-02-29 over to March 1st: a date that does not come back as written is no real date.
  const roundTrip = [date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate(), date.getUTCHours(), date.getUTCMinutes(),
    date.getUTCSeconds()];
  return roundTrip.every((n, i) => n === [year, month, day, hour, minute, second][i]) ? date : undefined;
}

/** How far the zone's wall clock is ahead of UTC at `instant`. */
function offsetMillis(timeZone: string, instant: Date): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
  }).formatToParts(instant);
  const part = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  const wall = Date.UTC(part('year'), part('month') - 1, part('day'), part('hour'), part('minute'), part('second'));
  return wall - Math.floor(instant.getTime() / 1000) * 1000;
}
