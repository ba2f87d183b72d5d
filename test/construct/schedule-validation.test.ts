// The pure reading of EventBridge Scheduler expressions behind the schedule checks and warnings: which
// expressions are refused and why, how often one runs, when a one-time schedule fires.
import {
  atInstant, isTimeZoneName, rateSeconds, scheduleExpressionProblems, shortestIntervalMinutes,
} from '../../lib/private/schedule-validation';

describe('scheduleExpressionProblems', () => {
  test.each([
    'rate(1 minute)', 'rate(5 minutes)', 'rate(1 hour)', 'rate(12 hours)', 'rate(1 day)', 'rate(30 days)',
    'cron(0 3 * * ? *)', 'cron(0 3 ? * MON-FRI *)', 'cron(15,45 8-18 ? * 2-6 *)', 'cron(0/10 * * * ? *)', 'cron(5-50/5 */2 * * ? *)',
    'cron(0 3 L * ? *)', 'cron(0 3 LW * ? *)', 'cron(0 3 15W * ? *)', 'cron(0 3 ? * L *)', 'cron(0 3 ? * 6L *)', 'cron(0 3 ? * 3#2 *)',
    'cron(0 3 ? * FRI#1 *)', 'cron(0 3 1 JAN,jul ? 2025-2030)', 'cron(0 3 1/7 * ? *)', 'cron(59 23 31 12 ? 2199)', 'cron(0 0 1 1 ? 1970)',
    'at(2024-02-29T00:00:00)', 'at(2030-12-31T23:59:59)',
  ])('accepts %s', (expression) => {
    expect(scheduleExpressionProblems(expression)).toEqual([]);
  });

  test.each<[string, string[]]>([
    ['cron(bad)', ['cron must have six fields (minutes hours day-of-month month day-of-week year), got "cron(bad)"']],
    ['cron(0 3 * * ?)', ['cron must have six fields (minutes hours day-of-month month day-of-week year), got "cron(0 3 * * ?)"']],
    ['cron(61 25 * * ? *)', [
      'cron minutes must hold values 0-59 and only the wildcards , - * /, got "61" in "cron(61 25 * * ? *)"',
      'cron hours must hold values 0-23 and only the wildcards , - * /, got "25" in "cron(61 25 * * ? *)"',
    ]],
    ['cron(0 3 32 * ? *)', ['cron day-of-month must hold values 1-31 and only the wildcards , - * ? / L W, got "32" in "cron(0 3 32 * ? *)"']],
    ['cron(0 3 0 * ? *)', ['cron day-of-month must hold values 1-31 and only the wildcards , - * ? / L W, got "0" in "cron(0 3 0 * ? *)"']],
    ['cron(0 3 1 13 ? *)', ['cron month must hold values 1-12 or JAN-DEC and only the wildcards , - * /, got "13" in "cron(0 3 1 13 ? *)"']],
    ['cron(0 3 1 FOO ? *)', ['cron month must hold values 1-12 or JAN-DEC and only the wildcards , - * /, got "FOO" in "cron(0 3 1 FOO ? *)"']],
    ['cron(0 3 ? * 8 *)', ['cron day-of-week must hold values 1-7 or SUN-SAT and only the wildcards , - * ? L #, got "8" in "cron(0 3 ? * 8 *)"']],
    ['cron(0 3 ? * 1/2 *)', ['cron day-of-week must hold values 1-7 or SUN-SAT and only the wildcards , - * ? L #, got "1/2" in "cron(0 3 ? * 1/2 *)"']],
    ['cron(0 3 ? * 3#6 *)', ['cron day-of-week must hold values 1-7 or SUN-SAT and only the wildcards , - * ? L #, got "3#6" in "cron(0 3 ? * 3#6 *)"']],
    ['cron(0 3 ? * 3#1,6#3 *)',
      ['cron day-of-week must hold values 1-7 or SUN-SAT and only the wildcards , - * ? L #, got "3#1,6#3" in "cron(0 3 ? * 3#1,6#3 *)"']],
    ['cron(L 3 * * ? *)', ['cron minutes must hold values 0-59 and only the wildcards , - * /, got "L" in "cron(L 3 * * ? *)"']],
    ['cron(0 ? * * ? *)', ['cron hours must hold values 0-23 and only the wildcards , - * /, got "?" in "cron(0 ? * * ? *)"']],
    ['cron(0 3 1,? * ? *)', ['cron day-of-month must hold values 1-31 and only the wildcards , - * ? / L W, got "1,?" in "cron(0 3 1,? * ? *)"']],
    ['cron(0/0 3 * * ? *)', ['cron minutes must hold values 0-59 and only the wildcards , - * /, got "0/0" in "cron(0/0 3 * * ? *)"']],
    ['cron(0 3 * * ? 1969)', ['cron year must hold values 1970-2199 and only the wildcards , - * /, got "1969" in "cron(0 3 * * ? 1969)"']],
    ['cron(0 3 * * ? 2200)', ['cron year must hold values 1970-2199 and only the wildcards , - * /, got "2200" in "cron(0 3 * * ? 2200)"']],
    ['cron(0 3 * * * *)', ['cron must have ? in exactly one of day-of-month and day-of-week, got "cron(0 3 * * * *)"']],
    ['cron(0 3 ? * ? *)', ['cron must have ? in exactly one of day-of-month and day-of-week, got "cron(0 3 ? * ? *)"']],
    ['rate(0 minutes)', ['rate value must be a positive whole number, got "rate(0 minutes)"']],
    ['rate(1.5 hours)', ['rate value must be a positive whole number, got "rate(1.5 hours)"']],
    ['rate(-5 minutes)', ['rate value must be a positive whole number, got "rate(-5 minutes)"']],
    ['rate(1 minutes)', ['rate unit must be minute, hour or day for 1 and minutes, hours or days otherwise, got "rate(1 minutes)"']],
    ['rate(5 hour)', ['rate unit must be minute, hour or day for 1 and minutes, hours or days otherwise, got "rate(5 hour)"']],
    ['rate(2 weeks)', ['rate unit must be minute, hour or day for 1 and minutes, hours or days otherwise, got "rate(2 weeks)"']],
    ['rate(5)', ['rate must be rate(value unit), got "rate(5)"']],
    ['at(2023-02-29T00:00:00)', ['at must be a real date and time at(yyyy-mm-ddThh:mm:ss), got "at(2023-02-29T00:00:00)"']],
    ['at(2025-13-01T00:00:00)', ['at must be a real date and time at(yyyy-mm-ddThh:mm:ss), got "at(2025-13-01T00:00:00)"']],
    ['at(2025-01-01T24:00:00)', ['at must be a real date and time at(yyyy-mm-ddThh:mm:ss), got "at(2025-01-01T24:00:00)"']],
    ['at(2025-01-01 03:00:00)', ['at must be a real date and time at(yyyy-mm-ddThh:mm:ss), got "at(2025-01-01 03:00:00)"']],
    ['every day', ['must be rate(value unit), cron(fields) or at(yyyy-mm-ddThh:mm:ss), got "every day"']],
  ])('refuses %s', (expression, problems) => {
    expect(scheduleExpressionProblems(expression)).toEqual(problems);
  });
});

describe('shortestIntervalMinutes', () => {
  test.each<[string, number | undefined]>([
    ['rate(1 minute)', 1],
    ['rate(14 minutes)', 14],
    ['rate(59 minutes)', 59],
    ['rate(1 hour)', undefined],
    ['rate(1 day)', undefined],
    ['cron(0/5 * * * ? *)', 5],
    ['cron(0,10,20,30,40,50 * * * ? *)', 10],
    ['cron(0,30 3 * * ? *)', 30],
    // 02:55 and 03:00 are five minutes apart.
    ['cron(0,55 2,3 * * ? *)', 5],
    // 02:55 and 04:00 are not.
    ['cron(0,55 2,4 * * ? *)', 55],
    ['cron(50-10 * * * ? *)', 1],
    ['cron(0 3 * * ? *)', undefined],
    ['cron(0 * * * ? *)', undefined],
    ['at(2030-01-01T00:00:00)', undefined],
  ])('%s runs %s minutes apart at the closest', (expression, minutes) => {
    expect(shortestIntervalMinutes(expression)).toEqual(minutes);
  });
});

describe('rateSeconds', () => {
  test.each<[string, number | undefined]>([
    ['rate(1 minute)', 60], ['rate(6 hours)', 21_600], ['rate(2 days)', 172_800], ['cron(0 3 * * ? *)', undefined],
  ])('%s is %s seconds apart', (expression, seconds) => {
    expect(rateSeconds(expression)).toEqual(seconds);
  });
});

describe('atInstant', () => {
  test.each<[string, string, string]>([
    ['at(2025-01-15T12:00:00)', 'UTC', '2025-01-15T12:00:00.000Z'],
    ['at(2025-01-15T12:00:00)', 'Asia/Tokyo', '2025-01-15T03:00:00.000Z'],
    ['at(2025-07-01T12:00:00)', 'Europe/London', '2025-07-01T11:00:00.000Z'],
    ['at(2025-01-15T12:00:00)', 'America/New_York', '2025-01-15T17:00:00.000Z'],
  ])('%s in %s is %s', (expression, timeZone, iso) => {
    expect(atInstant(expression, timeZone)?.toISOString()).toEqual(iso);
  });

  test('is undefined for a recurring schedule', () => {
    expect(atInstant('rate(1 day)', 'UTC')).toBeUndefined();
  });
});

describe('isTimeZoneName', () => {
  test.each(['UTC', 'Etc/UTC', 'Etc/GMT+5', 'Europe/London', 'America/Argentina/Buenos_Aires', 'Asia/Kolkata'])('knows %s', (name) => {
    expect(isTimeZoneName(name)).toBe(true);
  });

  test.each(['Mars/Olympus', '', 'Europe/Atlantis', '+05:00'])('does not know "%s"', (name) => {
    expect(isTimeZoneName(name)).toBe(false);
  });
});
