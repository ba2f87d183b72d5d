// Retention rules: which snapshot sets of each instance the clean-up keeps. Modelled on restic's `forget`.
import { Duration, Token } from 'aws-cdk-lib';

/**
 * Keep rules, combined: a snapshot set is kept when any rule keeps it. Rules apply per instance, to the
 * instance's completed sets, ordered by the slot (scheduled time) each set was made for.
 */
export interface KeepRules {
  /**
   * Keep the newest N sets.
   * @default - no count rule
   */
  readonly last?: number;
  /**
   * For the newest N hours that have a set, keep the newest set of each hour.
   * @default - no hourly rule
   */
  readonly hourly?: number;
  /**
   * For the newest N days that have a set, keep the newest set of each day (in the schedule's time zone).
   * @default - no daily rule
   */
  readonly daily?: number;
  /**
   * For the newest N ISO weeks (Monday to Sunday) that have a set, keep the newest set of each week.
   * @default - no weekly rule
   */
  readonly weekly?: number;
  /**
   * For the newest N calendar months that have a set, keep the newest set of each month.
   * @default - no monthly rule
   */
  readonly monthly?: number;
  /**
   * For the newest N calendar years that have a set, keep the newest set of each year.
   * @default - no yearly rule
   */
  readonly yearly?: number;
  /**
   * Keep every set whose slot is within this duration of the instance's newest set (as restic's
   * `--keep-within`: measured from the newest set, not from now, so backups that stop arriving are not
   * all aged out).
   * @default - no age rule
   */
  readonly within?: Duration;
}

/** The most any count rule may keep. */
const MAX_COUNT = 1000;

/**
 * Which snapshot sets the clean-up keeps. Whatever the rules, the clean-up never deletes the newest
 * completed set of an instance, a set that is still pending, or a set under legal hold.
 */
export class Retention {
  /** Keep the newest `count` completed sets of each instance (1 to 1000). */
  public static keepLast(count: number): Retention {
    return new Retention('keepLast', { last: count });
  }

  /**
   * Keep the sets made within `age` of each instance's newest set (at least one day).
   */
  public static maxAge(age: Duration): Retention {
    return new Retention('maxAge', { within: age });
  }

  /** Combine restic-style keep rules; a set is kept when any of them keeps it. */
  public static keep(rules: KeepRules): Retention {
    return new Retention('keep', rules);
  }

  private constructor(private readonly factory: string, private readonly rules: KeepRules) {}

  /**
   * Problems with these rules, each naming the rule and the value.
   * @internal
   */
  public _validate(): string[] {
    const problems: string[] = [];
    const counts: Array<keyof KeepRules> = ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'];
    for (const key of counts) {
      const value = this.rules[key] as number | undefined;
      if (value === undefined || Token.isUnresolved(value)) continue;
      const name = this.factory === 'keepLast' ? 'retention keepLast' : `retention ${key}`;
      if (!Number.isInteger(value) || value < 1 || value > MAX_COUNT) {
        problems.push(`${name} must be a whole number between 1 and ${MAX_COUNT}, got ${value}`);
      }
    }
    const within = this.rules.within;
    if (within !== undefined && !within.isUnresolved()) {
      const min = this.factory === 'maxAge' ? Duration.days(1) : Duration.hours(1);
      const name = this.factory === 'maxAge' ? 'retention maxAge' : 'retention within';
      if (within.toSeconds() < min.toSeconds()) {
        problems.push(`${name} must be at least ${min.toHumanString()}, got ${within.toHumanString()}`);
      }
    }
    const anyRule = counts.some((k) => this.rules[k] !== undefined) || within !== undefined;
    if (!anyRule) problems.push('retention keep must set at least one rule');
    return problems;
  }

  /**
   * The rules as the clean-up reads them (JSON with durations in seconds).
   * @internal
   */
  public _render(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const key of ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const) {
      const value = this.rules[key];
      if (value !== undefined) out[key] = value;
    }
    if (this.rules.within !== undefined) out.withinSeconds = this.rules.within.toSeconds();
    return out;
  }
}
