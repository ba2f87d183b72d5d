// The synth-time reading of when a schedule runs, behind maxSetAge's default and check: on which days a cron
// expression runs (L, W and # included), and the longest time between two runs of rate and cron expressions,
// in their time zones across daylight saving time.
import { cronMatchesDay, parseCron } from '../../lib/private/cron';
import { longestGapSeconds } from '../../lib/private/schedule-interval';

const HOUR = 3_600;
const DAY = 24 * HOUR;

/** The days of a month (1-12) the expression runs on. */
function daysOf(expression: string, year: number, month: number): number[] {
  const cron = parseCron(expression)!;
  const last = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return Array.from({ length: last }, (_, i) => i + 1).filter((day) => cronMatchesDay(cron, year, month, day));
}

describe('parseCron', () => {
  test('reads the times of day of minutes and hours, ascending', () => {
    expect(parseCron('cron(15,45 8-9 * * ? *)')?.timesOfDay).toEqual([8 * 60 + 15, 8 * 60 + 45, 9 * 60 + 15, 9 * 60 + 45]);
    expect(parseCron('cron(0/20 */12 * * ? *)')?.timesOfDay).toEqual([0, 20, 40, 720, 740, 760]);
    expect(parseCron('cron(50-10/10 23 * * ? *)')?.timesOfDay).toEqual([23 * 60, 23 * 60 + 10, 23 * 60 + 50]);
  });

  test.each(['rate(1 day)', 'at(2030-01-01T00:00:00)', 'cron(0 3 * * * *)', 'cron(61 3 * * ? *)', 'cron(bad)'])('reads no %s', (expression) => {
    expect(parseCron(expression)).toBeUndefined();
  });
});

describe('cronMatchesDay', () => {
  // 2025: March 1st is a Saturday, March 31st a Monday; May 31st a Saturday; August 31st a Sunday; June 1st a Sunday.
  test.each<[string, string, number, number[]]>([
    ['every day', 'cron(0 3 * * ? *)', 2, Array.from({ length: 28 }, (_, i) => i + 1)],
    ['days 1 to 31 in a month of 30', 'cron(0 3 29-31 * ? *)', 4, [29, 30]],
    ['every 7th day from the 1st', 'cron(0 3 1/7 * ? *)', 3, [1, 8, 15, 22, 29]],
    ['the last day (L)', 'cron(0 3 L * ? *)', 2, [28]],
    ['the last weekday (LW) when the month ends on a Saturday', 'cron(0 3 LW * ? *)', 5, [30]],
    ['the last weekday (LW) when the month ends on a Sunday', 'cron(0 3 LW * ? *)', 8, [29]],
    ['the weekday nearest the 15th (15W), a Saturday in March', 'cron(0 3 15W * ? *)', 3, [14]],
    ['the weekday nearest the 1st (1W), a Saturday: the Monday after, not the month before', 'cron(0 3 1W * ? *)', 3, [3]],
    ['the weekday nearest the 1st (1W), a Sunday', 'cron(0 3 1W * ? *)', 6, [2]],
    ['the weekday nearest the 31st (31W), a Sunday: the Friday before', 'cron(0 3 31W * ? *)', 8, [29]],
    ['31W in a month of 30 days', 'cron(0 3 31W * ? *)', 4, []],
    ['Mondays to Fridays', 'cron(0 3 ? * MON-FRI *)', 3, [3, 4, 5, 6, 7, 10, 11, 12, 13, 14, 17, 18, 19, 20, 21, 24, 25, 26, 27, 28, 31]],
    ['a range that wraps, Friday to Monday', 'cron(0 3 ? * FRI-MON *)', 3, [1, 2, 3, 7, 8, 9, 10, 14, 15, 16, 17, 21, 22, 23, 24, 28, 29, 30, 31]],
    ['L in day-of-week, Saturday', 'cron(0 3 ? * L *)', 3, [1, 8, 15, 22, 29]],
    ['the last Friday (6L)', 'cron(0 3 ? * 6L *)', 3, [28]],
    ['the second Tuesday (3#2)', 'cron(0 3 ? * 3#2 *)', 3, [11]],
    ['the fifth Monday (MON#5)', 'cron(0 3 ? * MON#5 *)', 3, [31]],
    ['the fifth Monday (MON#5) of a month with four', 'cron(0 3 ? * MON#5 *)', 2, []],
    ['a list of days and L', 'cron(0 3 1,15,L * ? *)', 4, [1, 15, 30]],
  ])('%s', (_name, expression, month, days) => {
    expect(daysOf(expression, 2025, month)).toEqual(days);
  });

  test('keeps to the months and years of the expression', () => {
    expect(daysOf('cron(0 3 1 JAN,JUL ? *)', 2025, 2)).toEqual([]);
    expect(daysOf('cron(0 3 1 JAN,JUL ? *)', 2025, 7)).toEqual([1]);
    expect(daysOf('cron(0 3 1 1/3 ? *)', 2025, 10)).toEqual([1]);
    expect(daysOf('cron(0 3 1 * ? 2026-2030)', 2025, 1)).toEqual([]);
    expect(daysOf('cron(0 3 1 * ? 2026-2030)', 2026, 1)).toEqual([1]);
    expect(daysOf('cron(0 3 1 * ? 2024/2)', 2025, 1)).toEqual([]);
    expect(daysOf('cron(0 3 1 * ? 2024/2)', 2026, 1)).toEqual([1]);
  });

  test('February 29th only in leap years', () => {
    expect(daysOf('cron(0 3 29 2 ? *)', 2024, 2)).toEqual([29]);
    expect(daysOf('cron(0 3 29 2 ? *)', 2025, 2)).toEqual([]);
  });
});

describe('longestGapSeconds', () => {
  test.each<[string, string, number | undefined]>([
    // Rates run every fixed number of seconds, whatever the time zone.
    ['rate(5 minutes)', 'UTC', 5 * 60],
    ['rate(6 hours)', 'Europe/London', 6 * HOUR],
    ['rate(3 days)', 'UTC', 3 * DAY],
    ['cron(0 3 * * ? *)', 'UTC', DAY],
    ['cron(0/15 * * * ? *)', 'UTC', 15 * 60],
    ['cron(* * * * ? *)', 'UTC', 60],
    ['cron(0 3,15 * * ? *)', 'UTC', 12 * HOUR],
    ['cron(0 1,23 * * ? *)', 'UTC', 22 * HOUR],
    // Friday 03:00 to Monday 03:00.
    ['cron(0 3 ? * MON-FRI *)', 'UTC', 3 * DAY],
    ['cron(0 22 ? * MON-FRI *)', 'Asia/Tokyo', 3 * DAY],
    ['cron(0 3 ? * SUN *)', 'UTC', 7 * DAY],
    // The longest months have 31 days.
    ['cron(0 3 1 * ? *)', 'UTC', 31 * DAY],
    ['cron(0 3 L * ? *)', 'UTC', 31 * DAY],
    // July 1st to January 1st of the next year: the gap across the year's end counts.
    ['cron(0 3 1 JAN,JUL ? *)', 'UTC', 184 * DAY],
    ['cron(0 3 31 12 ? *)', 'UTC', 365 * DAY],
    // 2025's third Fridays: January 17th to February 21st is 5 weeks.
    ['cron(0 3 ? * 6#3 *)', 'UTC', 35 * DAY],
    // Daily at 03:00 in London: 25 hours across the October change back to GMT.
    ['cron(0 3 * * ? *)', 'Europe/London', 25 * HOUR],
    // 01:30 does not exist in London on March 30th, 2025: that day's run is skipped.
    ['cron(30 1 * * ? *)', 'Europe/London', 47 * HOUR],
    ['cron(30 2 * * ? *)', 'America/New_York', 47 * HOUR],
    // October 5th, 2025 in Sydney: 02:00 becomes 03:00.
    ['cron(0 2 * * ? *)', 'Australia/Sydney', 47 * HOUR],
    // Lord Howe Island moves its clocks by 30 minutes.
    ['cron(30 2 * * ? *)', 'Australia/Lord_Howe', 24.5 * HOUR],
    // Hourly in London: the repeated hour of October 26th runs once, so 00:00 to 02:00 UTC.
    ['cron(0 * * * ? *)', 'Europe/London', 2 * HOUR],
    ['cron(* * * * ? *)', 'Europe/London', 61 * 60],
    // Only in 2025: no run after December 31st, so the last gap is open and does not count.
    ['cron(0 3 * * ? 2025)', 'UTC', DAY],
    // Fewer than two runs in 2025 and 2026.
    ['cron(0 3 29 2 ? *)', 'UTC', undefined],
    ['cron(0 3 1 1 ? 2030)', 'UTC', undefined],
    ['at(2030-01-01T00:00:00)', 'UTC', undefined],
  ])('%s in %s is at most %s seconds between runs in 2025', (expression, timeZone, seconds) => {
    expect(longestGapSeconds(expression, timeZone, 2025)).toEqual(seconds);
  });

  test('takes the worst gap of the year it is given', () => {
    // Fifth Mondays: 2025 has them in March, June, September and December, 13 weeks apart; 2026 in March,
    // June, August and November, and the next is March 29th, 2027: 17 weeks after November 30th.
    expect(longestGapSeconds('cron(0 3 ? * MON#5 *)', 'UTC', 2025)).toEqual(91 * DAY);
    expect(longestGapSeconds('cron(0 3 ? * MON#5 *)', 'UTC', 2026)).toEqual(119 * DAY);
  });

  test('walks a year of an every-minute schedule in a zone with daylight saving time quickly', () => {
    const started = Date.now();
    expect(longestGapSeconds('cron(* * * * ? *)', 'America/New_York', 2025)).toEqual(61 * 60);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
