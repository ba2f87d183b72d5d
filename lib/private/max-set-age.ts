// maxSetAge: its default (twice the longest gap between two runs of the schedule) and its synth-time checks.
import { Duration, Token, aws_scheduler as scheduler } from 'aws-cdk-lib';
import { Defaults } from './contract';
import { longestGapSeconds } from './schedule-interval';
import { isTimeZoneName } from './schedule-validation';

/** The default for schedules whose gaps cannot be worked out at synth time: at(), Tokens, rare cron expressions. */
export const FALLBACK_MAX_SET_AGE_SECONDS: number = Defaults.MAX_SET_AGE_SECONDS;
/** Below an hour a set may still be completing when the clean-up looks, and the default never goes lower. */
export const MIN_MAX_SET_AGE_SECONDS = 3_600;

/** The run schedule when `schedule` is left out: every day at 03:00 UTC. */
export function runScheduleOf(schedule: scheduler.ScheduleExpression | undefined): scheduler.ScheduleExpression {
  return schedule ?? scheduler.ScheduleExpression.cron({ hour: '3', minute: '0' });
}

/**
 * The longest time between two consecutive runs of `schedule` in seconds, in the calendar of `now`'s UTC year
 * (see schedule-interval.ts); undefined for at(), an unresolved expression or time zone, and a cron expression
 * that runs fewer than twice that year and the next.
 */
export function longestScheduleGapSeconds(schedule: scheduler.ScheduleExpression, now: Date): number | undefined {
  const expression = schedule.expressionString;
  const timeZone = schedule.timeZone?.timezoneName ?? Defaults.TIME_ZONE;
  if (Token.isUnresolved(expression) || Token.isUnresolved(timeZone) || !isTimeZoneName(timeZone)) return undefined;
  return longestGapSeconds(expression, timeZone, now.getUTCFullYear());
}

/** Twice the schedule's longest gap, at least an hour; two days where the gap cannot be worked out. */
export function defaultMaxSetAge(schedule: scheduler.ScheduleExpression, now: Date): Duration {
  const gap = longestScheduleGapSeconds(schedule, now);
  return Duration.seconds(gap === undefined ? FALLBACK_MAX_SET_AGE_SECONDS : Math.max(2 * gap, MIN_MAX_SET_AGE_SECONDS));
}

/**
 * What is wrong with a `maxSetAge`: under an hour, not whole seconds, or not longer than the schedule's longest
 * gap (a clean-up that runs with a run sees the set before the newest one, a full gap old, so a maxSetAge of the
 * gap itself would call every instance unprotected).
 */
export function maxSetAgeProblems(maxSetAge: Duration | undefined, schedule: scheduler.ScheduleExpression, now: Date): string[] {
  if (maxSetAge === undefined || maxSetAge.isUnresolved()) return [];
  const ms = maxSetAge.toMilliseconds();
  if (ms < MIN_MAX_SET_AGE_SECONDS * 1000) return [`maxSetAge must be at least 1 hour, got ${maxSetAge.toHumanString()}`];
  if (ms % 1000 !== 0) return [`maxSetAge must be a whole number of seconds, got ${ms} milliseconds`];
  const gap = longestScheduleGapSeconds(schedule, now);
  if (gap === undefined || ms > gap * 1000) return [];
  // A rate runs every fixed number of seconds in any time zone; a cron expression by the zone's clock.
  const zone = schedule.expressionString.startsWith('cron(') ? ` in ${schedule.timeZone?.timezoneName ?? Defaults.TIME_ZONE}` : '';
  return [`maxSetAge must be longer than the longest time between two runs of schedule ${schedule.expressionString}${zone} ` +
    `(${Duration.seconds(gap).toHumanString()}), got ${maxSetAge.toHumanString()}`];
}
