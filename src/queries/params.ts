/**
 * Parameter binding: caller values (CLI strings, JSON scalars) -> the declared types, with every
 * problem (unknown name, missing required value, wrong type) reported in one message.
 * `null` and the strings 'NULL' / 'null' mean SQL NULL.
 */
import { distance } from 'fastest-levenshtein';
import { NeurolensError } from '../errors.js';
import type { ParamDef, QueryDef, RawParam } from './types.js';

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Names within a small edit distance (or sharing a prefix), closest first. */
export function closeNames(name: string, candidates: readonly string[]): string[] {
  const lower = name.toLowerCase();
  return candidates
    .map((c) => ({ c, d: distance(lower, c.toLowerCase()) }))
    .filter(({ c, d }) => d <= Math.max(2, Math.floor(name.length / 3)) || c.startsWith(lower) || lower.startsWith(c))
    .sort((a, b) => a.d - b.d || a.c.localeCompare(b.c))
    .map(({ c }) => c);
}

function show(v: RawParam): string {
  return typeof v === 'string' ? `'${v}'` : String(v);
}

function toInteger(v: RawParam, min: bigint, max: bigint): number | bigint | undefined {
  let b: bigint;
  if (typeof v === 'bigint') b = v;
  else if (typeof v === 'number') {
    if (!Number.isInteger(v)) return undefined;
    b = BigInt(v);
  } else if (typeof v === 'string' && /^[+-]?\d+$/.test(v.trim())) b = BigInt(v.trim());
  else return undefined;
  if (b < min || b > max) return undefined;
  return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
}

/** Converts one value to the parameter's type; a string describes why it cannot. */
function convert(p: ParamDef, v: RawParam): RawParam | { problem: string } {
  const bad = (what: string) => ({ problem: `parameter ${p.name} must be ${what}, got ${show(v)}` });
  switch (p.type) {
    case 'VARCHAR':
      return typeof v === 'boolean' || typeof v === 'number' || typeof v === 'bigint' ? String(v) : v;
    case 'INTEGER': {
      const n = toInteger(v, BigInt(INT32_MIN), BigInt(INT32_MAX));
      return n === undefined ? bad(`an INTEGER (whole number from ${INT32_MIN} to ${INT32_MAX})`) : n;
    }
    case 'BIGINT': {
      const n = toInteger(v, INT64_MIN, INT64_MAX);
      return n === undefined ? bad('a BIGINT (64-bit whole number)') : n;
    }
    case 'DOUBLE': {
      const n = typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
      return Number.isFinite(n) ? n : bad('a DOUBLE (finite number)');
    }
    case 'BOOLEAN': {
      if (typeof v === 'boolean') return v;
      const s = String(v).trim().toLowerCase();
      if (s === 'true' || s === '1') return true;
      if (s === 'false' || s === '0') return false;
      return bad('a BOOLEAN (true/false/1/0)');
    }
  }
}

const isNull = (v: RawParam | undefined): boolean => v === null || v === 'NULL' || v === 'null';

/**
 * Values for every declared parameter of `def` (defaults filled in), typed for DuckDB: INTEGER
 * and BIGINT as numbers (bigint beyond 2^53), DOUBLE as numbers, BOOLEAN as booleans.
 * The values are plain JS scalars (valid DuckDB parameter values). Idempotent: bound values can
 * be bound again. Throws NeurolensError('BAD_QUERY') listing every
 * unknown, missing or mistyped parameter.
 */
export function bindParams(def: QueryDef, raw: Record<string, RawParam | undefined>): Record<string, RawParam> {
  const problems: string[] = [];
  const names = def.params.map((p) => p.name);
  for (const key of Object.keys(raw)) {
    if (names.includes(key) || raw[key] === undefined) continue;
    const close = closeNames(key, names);
    problems.push(`unknown parameter ${key}${close.length ? ` (did you mean ${close.join(' or ')}?)` : ''}`);
  }
  const out: Record<string, RawParam> = {};
  for (const p of def.params) {
    const given = raw[p.name];
    if (given === undefined || isNull(given)) {
      if (p.required) problems.push(`missing required parameter ${p.name} (${p.type}${p.description ? `: ${p.description}` : ''})`);
      else out[p.name] = given === undefined ? (p.default ?? null) : null;
      continue;
    }
    const v = convert(p, given);
    if (v !== null && typeof v === 'object' && 'problem' in v) problems.push(v.problem);
    else out[p.name] = v;
  }
  if (problems.length) {
    const takes = def.params.length
      ? def.params.map((p) => `${p.name} ${p.type}${p.required ? ' required' : ''}`).join(', ')
      : 'no parameters';
    throw new NeurolensError('BAD_QUERY', `query ${def.name}: ${problems.join('; ')} (it takes: ${takes})`);
  }
  return out;
}
