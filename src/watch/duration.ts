/**
 * Durations on the command line: `500ms`, `30s`, `10m`, `1h`, `1d`, and sums of them (`1h30m`).
 * A bare number is seconds. Tiny enough not to need a dependency; the parse is strict so a typo
 * (`30x`) is an error naming the option, not a silent default.
 */
import { NeurolensError } from '../errors.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;

/** Milliseconds of a duration string; throws BAD_SPEC naming `option` when it does not parse. */
export function parseDuration(text: string, option = 'duration'): number {
  const s = text.trim();
  let ms: number;
  if (/^\d+(?:\.\d+)?$/.test(s)) ms = Number(s) * 1000;
  else {
    ms = 0;
    PART.lastIndex = 0;
    let end = 0;
    for (let m = PART.exec(s); m; m = PART.exec(s)) {
      ms += Number(m[1]) * UNIT_MS[m[2]];
      end = PART.lastIndex;
    }
    if (end === 0 || end !== s.length) ms = NaN;
  }
  if (!Number.isFinite(ms) || ms <= 0) {
    throw new NeurolensError('BAD_SPEC', `${option}: expected a positive duration like 500ms, 30s, 10m, 1h or 1h30m, got '${text}'`);
  }
  return Math.round(ms);
}

/** `90000` -> `1m30s`, for messages. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const parts: string[] = [];
  let rest = Math.round(ms / 1000);
  for (const [u, n] of [['d', 86400], ['h', 3600], ['m', 60]] as const) {
    if (rest >= n) {
      parts.push(`${Math.floor(rest / n)}${u}`);
      rest %= n;
    }
  }
  if (rest || parts.length === 0) parts.push(`${rest}s`);
  return parts.join('');
}
