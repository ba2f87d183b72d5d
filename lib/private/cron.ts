// EventBridge Scheduler's six-field cron expressions, evaluated: on which days and at which times of day a
// valid expression runs. Pure functions of the calendar; the schedule's time zone is schedule-interval.ts's.
// Rules from https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cron-expressions.html (the `L`, `W`
// and `#` wildcards as EventBridge defines them).
import { CRON_FIELDS, CronField, fieldValue, scheduleExpressionProblems } from './schedule-validation';

const [MINUTES, HOURS, DAY_OF_MONTH, MONTH, DAY_OF_WEEK, YEAR] = CRON_FIELDS;
const SUNDAY = 1;
const SATURDAY = 7;

/** An item of day-of-month or day-of-week that depends on the month's calendar, not on a plain number. */
interface DayRule {
  /** `L` (last day), `LW` (last weekday), `nW` (weekday nearest day n), `nL` (last weekday n), `n#k` (k-th weekday n). */
  readonly kind: 'last' | 'lastWeekday' | 'nearestWeekday' | 'lastOfWeekday' | 'nth';
  readonly value: number;
  readonly nth: number;
}

/** A valid cron expression, read. */
export interface Cron {
  /** The times of day it runs at, in minutes after midnight, ascending. */
  readonly timesOfDay: readonly number[];
  readonly months: ReadonlySet<number>;
  readonly years: ReadonlySet<number>;
  /** The field that picks the days: day-of-week when day-of-month is `?`. */
  readonly dayField: 'day-of-month' | 'day-of-week';
  /** Plain values of that field (days 1-31, or weekdays 1-7 with SUN = 1). */
  readonly days: ReadonlySet<number>;
  readonly dayRules: readonly DayRule[];
}

/** The reading of a valid `cron()` expression; undefined for anything else. */
export function parseCron(expression: string): Cron | undefined {
  if (!expression.startsWith('cron(') || scheduleExpressionProblems(expression).length > 0) return undefined;
  const fields = expression.slice('cron('.length, -1).trim().split(/\s+/);
  const byWeek = fields[2] === '?';
  const [dayText, daySpec] = byWeek ? [fields[4], DAY_OF_WEEK] : [fields[2], DAY_OF_MONTH];
  const days = new Set<number>();
  const dayRules: DayRule[] = [];
  for (const item of dayText.split(',')) {
    const rule = dayRuleOf(item, daySpec);
    if (rule) dayRules.push(rule);
    else valuesOf(item, daySpec).forEach((d) => days.add(d));
  }
  const minutes = [...new Set(fields[0].split(',').flatMap((i) => valuesOf(i, MINUTES)))];
  const hours = [...new Set(fields[1].split(',').flatMap((i) => valuesOf(i, HOURS)))];
  return {
    timesOfDay: hours.flatMap((h) => minutes.map((m) => h * 60 + m)).sort((a, b) => a - b),
    months: new Set(fields[3].split(',').flatMap((i) => valuesOf(i, MONTH))),
    years: new Set(fields[5].split(',').flatMap((i) => valuesOf(i, YEAR))),
    dayField: byWeek ? 'day-of-week' : 'day-of-month',
    days,
    dayRules,
  };
}

/** Whether the expression runs on the given day of the calendar (month 1-12). */
export function cronMatchesDay(cron: Cron, year: number, month: number, day: number): boolean {
  if (!cron.years.has(year) || !cron.months.has(month)) return false;
  const weekday = weekdayOf(year, month, day);
  if (cron.days.has(cron.dayField === 'day-of-week' ? weekday : day)) return true;
  return cron.dayRules.some((rule) => ruleDay(rule, year, month, weekday, day));
}

function ruleDay(rule: DayRule, year: number, month: number, weekday: number, day: number): boolean {
  const last = lastDayOf(year, month);
  switch (rule.kind) {
    case 'last': return day === last;
    case 'lastWeekday': return day === nearestWeekday(year, month, last);
    case 'nearestWeekday': return rule.value <= last && day === nearestWeekday(year, month, rule.value);
    case 'lastOfWeekday': return weekday === rule.value && day + 7 > last;
    case 'nth': return weekday === rule.value && Math.ceil(day / 7) === rule.nth;
  }
}

/**
 * The weekday (Monday to Friday) nearest the given day without leaving the month: a Saturday moves to the
 * Friday before (or the Monday after, for the 1st), a Sunday to the Monday after (or the Friday before, for
 * the last day).
 */
function nearestWeekday(year: number, month: number, day: number): number {
  const weekday = weekdayOf(year, month, day);
  if (weekday === SATURDAY) return day > 1 ? day - 1 : day + 2;
  if (weekday === SUNDAY) return day < lastDayOf(year, month) ? day + 1 : day - 2;
  return day;
}

function dayRuleOf(item: string, spec: CronField): DayRule | undefined {
  if (spec === DAY_OF_MONTH) {
    if (item === 'L') return { kind: 'last', value: 0, nth: 0 };
    if (item === 'LW') return { kind: 'lastWeekday', value: 0, nth: 0 };
    if (item.endsWith('W')) return { kind: 'nearestWeekday', value: Number(item.slice(0, -1)), nth: 0 };
    return undefined;
  }
  // A lone L in day-of-week is its last day, Saturday: a plain value.
  if (item.length > 1 && item.endsWith('L')) return { kind: 'lastOfWeekday', value: fieldValue(item.slice(0, -1), spec)!, nth: 0 };
  if (item.includes('#')) {
    const [weekday, nth] = item.split('#');
    return { kind: 'nth', value: fieldValue(weekday, spec)!, nth: Number(nth) };
  }
  return undefined;
}

/**
 * The values of a plain item: `*`, `n`, `a-b`, with an optional `/step`. Ranges of the cyclic fields wrap
 * (`FRI-MON`, `50-10`); a year range written backwards holds no year.
 */
function valuesOf(item: string, spec: CronField): number[] {
  if (spec === DAY_OF_WEEK && item === 'L') return [SATURDAY];
  const [base, stepText] = item.split('/');
  const step = stepText === undefined ? 1 : Number(stepText);
  const [fromText, toText] = base.split('-');
  const from = base === '*' ? spec.min : fieldValue(fromText, spec)!;
  const to = base === '*' ? spec.max : toText !== undefined ? fieldValue(toText, spec)! : stepText !== undefined ? spec.max : from;
  const size = spec.max - spec.min + 1;
  if (to < from && spec === YEAR) return [];
  const span = (to - from + size) % size;
  const values: number[] = [];
  for (let offset = 0; offset <= span; offset += step) values.push(spec.min + ((from - spec.min + offset) % size));
  return values;
}

/** 1 for Sunday to 7 for Saturday, as cron counts. */
function weekdayOf(year: number, month: number, day: number): number {
  return new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 1;
}

function lastDayOf(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}
