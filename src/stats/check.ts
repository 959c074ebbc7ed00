import { NeurolensError } from '../errors.js';
import type { LayerBatchStats } from './types.js';
import { positionsOf } from './types.js';

/**
 * Validation shared by the statistics. A batch whose channel count differs from the statistic's
 * comes from a different layer or a changed model (BAD_MODEL); saved state that does not fit
 * (merge, fromJSON, fromColumns) is a store part that does not belong here (BAD_INPUT); arrays
 * whose lengths disagree with the batch header are a bug in the reducer (INTERNAL).
 */

function where(kind: string, layer: string | undefined): string {
  return layer ? `${kind} (layer ${layer})` : kind;
}

/** Checks a batch against a statistic of `channels` channels; returns the positions per sample. */
export function checkBatch(kind: string, layer: string | undefined, channels: number, b: LayerBatchStats): number {
  const w = where(kind, layer ?? b.layer);
  if (layer !== undefined && b.layer !== layer) {
    throw new NeurolensError('BAD_MODEL', `${w}: batch is for layer ${b.layer}, expected ${layer}`);
  }
  if (b.channels !== channels) {
    throw new NeurolensError(
      'BAD_MODEL',
      `${w}: channel mismatch: batch has ${b.channels} channels, statistic has ${channels}`,
    );
  }
  const n = b.batch * b.channels;
  const arrays: [string, ArrayLike<number>, number][] = [
    ['sampleIds', b.sampleIds, b.batch],
    ['max', b.max, n],
    ['min', b.min, n],
    ['mean', b.mean, n],
    ['sqMean', b.sqMean, n],
    ['zeroFrac', b.zeroFrac, n],
    ['argmax', b.argmax, n],
  ];
  for (const [name, arr, len] of arrays) {
    if (arr.length !== len) {
      throw new NeurolensError(
        'INTERNAL',
        `${w}: batch field ${name} has length ${arr.length}, expected ${len} (batch ${b.batch} x channels ${b.channels})`,
      );
    }
  }
  const p = positionsOf(b.extent);
  if (!(Number.isInteger(p) && p > 0)) {
    throw new NeurolensError('INTERNAL', `${w}: batch extent [${b.extent.join(', ')}] has no positions`);
  }
  return p;
}

/** Throws unless two partials agree on a numeric setting (channels, k, eps). */
export function checkSame(kind: string, layer: string | undefined, field: string, mine: number, theirs: number): void {
  if (mine !== theirs && !(Number.isNaN(mine) && Number.isNaN(theirs))) {
    throw new NeurolensError(
      'BAD_INPUT',
      `${where(kind, layer)}: cannot merge partials with different ${field} (${mine} vs ${theirs})`,
    );
  }
}

/** Throws unless two partials are for the same layer (an undefined layer matches any). */
export function checkSameLayer(kind: string, mine: string | undefined, theirs: string | undefined): void {
  if (mine !== undefined && theirs !== undefined && mine !== theirs) {
    throw new NeurolensError('BAD_INPUT', `${kind}: cannot merge partials of layer ${mine} and layer ${theirs}`);
  }
}

/** Error for saved state (JSON or columns) that cannot be restored. */
export function badState(kind: string, reason: string): NeurolensError {
  return new NeurolensError('BAD_INPUT', `${kind}: saved state is invalid: ${reason}`);
}

/** Checks that a column exists and has `len` entries. */
export function checkColumn(kind: string, name: string, col: ArrayLike<number> | undefined, len: number): ArrayLike<number> {
  if (!col || typeof col.length !== 'number') throw badState(kind, `column ${name} is missing`);
  if (col.length !== len) throw badState(kind, `column ${name} has ${col.length} rows, expected ${len}`);
  return col;
}

/** Checks a positive integer setting (channels, k). */
export function checkPositiveInt(kind: string, field: string, v: number): number {
  if (!(Number.isInteger(v) && v > 0)) {
    throw new NeurolensError('INTERNAL', `${kind}: ${field} must be a positive integer, got ${v}`);
  }
  return v;
}

/**
 * JSON has no Infinity or NaN (JSON.stringify writes null) and drops the sign of -0. Those are
 * written as the strings "Infinity", "-Infinity", "NaN", "-0"; other numbers as numbers, which round-trip float64 exactly
 * (ECMAScript Number::toString prints the shortest string that reads back to the same double).
 */
export type JsonNumber = number | 'Infinity' | '-Infinity' | 'NaN' | '-0';

export function numbersToJSON(a: ArrayLike<number>): JsonNumber[] {
  const out: JsonNumber[] = new Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    out[i] = Object.is(v, -0) ? '-0' : Number.isFinite(v) ? v : (String(v) as JsonNumber);
  }
  return out;
}

export function numbersFromJSON(kind: string, name: string, a: unknown, len: number): Float64Array {
  if (!Array.isArray(a)) throw badState(kind, `field ${name} is not an array`);
  if (a.length !== len) throw badState(kind, `field ${name} has ${a.length} entries, expected ${len}`);
  const out = new Float64Array(len);
  for (let i = 0; i < len; i++) {
    const v = a[i];
    if (typeof v === 'number') out[i] = v;
    else if (v === 'Infinity' || v === '-Infinity' || v === 'NaN' || v === '-0') out[i] = Number(v);
    else throw badState(kind, `field ${name}[${i}] is not a number (${JSON.stringify(v)})`);
  }
  return out;
}
