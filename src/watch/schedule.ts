/**
 * When the watch polls: a fixed period (`--every 30s`, ticks at start + k x period) or a cron
 * expression (`--cron "*\/10 * * * *"`, parsed by cron-parser, local time). Both answer the same
 * two questions: the next tick at or after a time, and how many ticks fell strictly between two
 * times (the ticks a long run swallowed: skipped, not queued, and counted).
 */
import cronParser from 'cron-parser';
import { NeurolensError, errorMessage } from '../errors.js';
import { formatDuration } from './duration.js';

export interface Schedule {
  /** First tick time (ms since epoch) >= `t`. */
  nextAtOrAfter(t: number): number;
  /** Number of ticks in the open interval (from, to). */
  countBetween(from: number, to: number): number;
  /** Typical gap between ticks (ms), for the settle default and in-tick re-checks. */
  readonly periodMs: number;
  readonly description: string;
}

export function everySchedule(periodMs: number, startMs: number): Schedule {
  return {
    periodMs,
    description: `every ${formatDuration(periodMs)}`,
    nextAtOrAfter: (t) => (t <= startMs ? startMs : startMs + Math.ceil((t - startMs) / periodMs) * periodMs),
    countBetween(from, to) {
      if (to <= from) return 0;
      // ticks k with from < start + k*P < to
      const first = Math.floor((from - startMs) / periodMs) + 1;
      const last = Math.ceil((to - startMs) / periodMs) - 1;
      return Math.max(0, last - first + 1);
    },
  };
}

/** Upper bound on ticks counted one by one (a cron of every minute over ~70 days). */
const MAX_COUNT = 100_000;

export function cronSchedule(expr: string): Schedule {
  // cron-parser fills in missing fields ('*/10 * *' parses); a crontab line has 5 (6 with seconds).
  const fields = expr.trim().split(/\s+/).length;
  if (!expr.trim().startsWith('@') && (fields < 5 || fields > 6)) {
    throw new NeurolensError('BAD_SPEC', `--cron '${expr}': expected five fields (minute hour day-of-month month day-of-week, e.g. "*/10 * * * *") or six with seconds first, got ${fields}`);
  }
  const parse = (from: number) => {
    try {
      return cronParser.parseExpression(expr, { currentDate: new Date(from) });
    } catch (e) {
      throw new NeurolensError('BAD_SPEC', `--cron '${expr}': ${errorMessage(e)} (expected five fields: minute hour day-of-month month day-of-week, e.g. "*/10 * * * *")`, { cause: e });
    }
  };
  const it = parse(Date.now());
  const a = it.next().getTime();
  const b = it.next().getTime();
  return {
    periodMs: b - a,
    description: `cron '${expr}'`,
    // cron-parser's next() is strictly after currentDate: start 1 ms earlier to include t itself.
    nextAtOrAfter: (t) => parse(t - 1).next().getTime(),
    countBetween(from, to) {
      const i = parse(from);
      let n = 0;
      while (n < MAX_COUNT && i.next().getTime() < to) n++;
      return n;
    },
  };
}
