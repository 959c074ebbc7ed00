/**
 * Input checks for the embedding algorithms. Codes come from user models and datasets, so a
 * NaN/Inf in one activation must surface as a clear BAD_INPUT naming the row and column instead of
 * silently turning every distance (and so the whole layout) into NaN.
 */
import { NeurolensError } from '../errors.js';

/** Row-major n x d matrix of float32 points (one row per sample). */
export interface Points {
  data: Float32Array;
  n: number;
  d: number;
}

/** Throws NeurolensError('BAD_INPUT') on shape mismatch or any non-finite value, naming row and column. */
export function validatePoints(points: Points, what: string): void {
  const { data, n, d } = points;
  if (!Number.isInteger(n) || !Number.isInteger(d) || n < 0 || d < 1) {
    throw new NeurolensError('BAD_INPUT', `${what}: invalid shape n=${n} d=${d}`);
  }
  if (data.length !== n * d) {
    throw new NeurolensError('BAD_INPUT', `${what}: data has ${data.length} values, expected n*d = ${n}*${d} = ${n * d}`);
  }
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!Number.isFinite(v)) {
      const row = Math.floor(i / d);
      const col = i - row * d;
      throw new NeurolensError('BAD_INPUT', `${what}: row ${row} column ${col} is ${v} (codes must be finite numbers)`);
    }
  }
}
