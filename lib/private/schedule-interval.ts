// The longest time a schedule leaves between two runs, worked out at synth time for maxSetAge's default and
// check: exactly for rate(), by walking the calendar of one year for cron() in the schedule's time zone.
// EventBridge Scheduler runs rate() every fixed number of seconds whatever the time zone; cron() by the
// zone's wall clock, skipping a time that daylight saving time skips and running a repeated time once
// (https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html#daylist-savings-time).
import { Cron, cronMatchesDay, parseCron } from './cron';
import { rateSeconds } from './schedule-validation';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/**
 * The longest time between two consecutive runs of a valid `rate()` or `cron()` expression, in seconds.
 * For cron, the runs from January 1st of `year` to the first run in the year after are walked in `timeZone`
 * (an IANA name), so the worst month, weekday pattern and daylight saving change of that year count.
 * Undefined for `at()`, and for a cron expression that runs fewer than twice from `year` to the end of the next.
 */
export function longestGapSeconds(expression: string, timeZone: string, year: number): number | undefined {
  const rate = rateSeconds(expression);
  if (rate !== undefined) return rate;
  const cron = parseCron(expression);
  const longest = cron === undefined ? undefined : longestCronGapMillis(cron, new Zone(timeZone), year);
  return longest === undefined ? undefined : longest / 1000;
}

/** The runs of one day, as instants. */
interface DayRuns {
  readonly first: number;
  readonly last: number;
  /** The longest time between two runs within the day (0 for one run). */
  readonly longestWithin: number;
}

function longestCronGapMillis(cron: Cron, zone: Zone, year: number): number | undefined {
  const end = Date.UTC(year + 1, 0, 1);
  const uniformWithin = longestStep(cron.timesOfDay) * MINUTE_MS;
  let previous: number | undefined;
  let longest: number | undefined;
  // Day by day (about 730 days at most): only the days the expression runs on are turned into instants.
  for (let day = Date.UTC(year, 0, 1); day < Date.UTC(year + 2, 0, 1); day += DAY_MS) {
    const date = new Date(day);
    if (!cronMatchesDay(cron, date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate())) continue;
    const runs = runsOfDay(zone, day, cron.timesOfDay, uniformWithin);
    if (runs === undefined) continue;
    if (previous !== undefined) longest = Math.max(longest ?? 0, runs.first - previous);
    // The first run after the year only closes the year's last gap.
    if (runs.first >= end) break;
    if (runs.longestWithin > 0) longest = Math.max(longest ?? 0, runs.longestWithin);
    previous = runs.last;
  }
  return longest;
}

/**
 * The instants of the runs on the wall-clock day starting at `day` (its midnight read as UTC). A day without
 * a change of offset needs two look-ups; a day with one has each time converted, so skipped times drop out.
 */
function runsOfDay(zone: Zone, day: number, timesOfDay: readonly number[], uniformWithin: number): DayRuns | undefined {
  // The instants of a wall-clock day lie within UTC-12 and UTC+14 of its wall times.
  const offset = zone.offsetAt(day - 15 * HOUR_MS);
  if (offset === zone.offsetAt(day + DAY_MS + 13 * HOUR_MS)) {
    const at = (minutes: number) => day + minutes * MINUTE_MS - offset;
    return { first: at(timesOfDay[0]), last: at(timesOfDay[timesOfDay.length - 1]), longestWithin: uniformWithin };
  }
  const instants = timesOfDay.map((minutes) => zone.instantOf(day + minutes * MINUTE_MS))
    .filter((instant): instant is number => instant !== undefined)
    .sort((a, b) => a - b);
  if (instants.length === 0) return undefined;
  return { first: instants[0], last: instants[instants.length - 1], longestWithin: longestStep(instants) };
}

/** The largest difference between neighbours of an ascending list; 0 for fewer than two. */
function longestStep(values: readonly number[]): number {
  let longest = 0;
  for (let i = 1; i < values.length; i++) longest = Math.max(longest, values[i] - values[i - 1]);
  return longest;
}

/** A time zone's wall clock, through Intl (the IANA database EventBridge also uses). */
class Zone {
  private static readonly formats = new Map<string, Intl.DateTimeFormat>();
  private readonly format: Intl.DateTimeFormat;

  constructor(timeZone: string) {
    let format = Zone.formats.get(timeZone);
    if (format === undefined) {
      format = new Intl.DateTimeFormat('en-US', {
        timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
      });
      Zone.formats.set(timeZone, format);
    }
    this.format = format;
  }

  /** How far the wall clock is ahead of UTC at `instant` (milliseconds since the epoch). */
  public offsetAt(instant: number): number {
    const parts = this.format.formatToParts(new Date(instant));
    const part = (type: string) => Number(parts.find((p) => p.type === type)?.value);
    const wall = Date.UTC(part('year'), part('month') - 1, part('day'), part('hour'), part('minute'), part('second'));
    return wall - Math.floor(instant / 1000) * 1000;
  }

  /**
   * The instant the wall time `wall` (read as UTC) happens; undefined when daylight saving time skips it, the
   * first of the two when it happens twice.
   */
  public instantOf(wall: number): number | undefined {
    const offsets = new Set([this.offsetAt(wall - DAY_MS), this.offsetAt(wall + DAY_MS)]);
    const instants = [...offsets].map((offset) => wall - offset).filter((instant) => wall - instant === this.offsetAt(instant));
    return instants.length === 0 ? undefined : Math.min(...instants);
  }
}
