/**
 * Query-string parameters of the picture routes (mosaic, tiles, clips, pictures): every error is
 * a BAD_QUERY (HTTP 400) that starts with the route and names the parameter, its bounds and the
 * value given.
 */
import { NeurolensError } from '../errors.js';

/** Refuses a parameter the route does not know (a typo would otherwise be silently ignored). */
export function checkKnown(route: string, q: Record<string, string>, known: readonly string[]): void {
  for (const k of Object.keys(q)) {
    if (!known.includes(k)) throw new NeurolensError('BAD_QUERY', `${route}: unknown parameter ${k} (parameters: ${known.join(', ')})`);
  }
}

/** A decimal integer in [min, max]; undefined when absent or empty. */
export function intParam(route: string, name: string, v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new NeurolensError('BAD_QUERY', `${route}: ${name} must be an integer in ${min}..${max}, got '${v}'`);
  }
  return n;
}

/** 0 | 1 (absent or empty = 0). */
export function flagParam(route: string, name: string, v: string | undefined): boolean {
  if (v === undefined || v === '' || v === '0') return false;
  if (v === '1') return true;
  throw new NeurolensError('BAD_QUERY', `${route}: ${name} must be 0 or 1, got '${v}'`);
}
