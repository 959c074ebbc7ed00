/**
 * Query parameters of `GET /api/neurons/:layer/:channel/mosaic.png` -> NeuronMosaicOptions, with
 * bounds: every tile reads and draws one sample, so k and the tile size are capped.
 */
import { NeurolensError } from '../errors.js';
import type { NeuronMosaicOptions } from '../render/neuron-mosaic.js';

export const MOSAIC_LIMITS = { k: 64, tile: 512, columns: 64 };

const KNOWN = ['step', 'k', 'dataset', 'model', 'tile', 'columns'];

function int(name: string, v: string | undefined, min: number, max: number): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new NeurolensError('BAD_QUERY', `mosaic: ${name} must be an integer in ${min}..${max}, got '${v}'`);
  }
  return n;
}

export function mosaicOptions(layer: string, channel: string, q: Record<string, string>): NeuronMosaicOptions {
  for (const k of Object.keys(q)) {
    if (!KNOWN.includes(k)) throw new NeurolensError('BAD_QUERY', `mosaic: unknown parameter ${k} (parameters: ${KNOWN.join(', ')})`);
  }
  const o: NeuronMosaicOptions = { layer, channel: int('channel', channel, 0, 2 ** 31 - 1)! };
  const step = int('step', q.step, 0, Number.MAX_SAFE_INTEGER);
  const k = int('k', q.k, 1, MOSAIC_LIMITS.k);
  const tile = int('tile', q.tile, 16, MOSAIC_LIMITS.tile);
  const columns = int('columns', q.columns, 1, MOSAIC_LIMITS.columns);
  if (step !== undefined) o.step = step;
  if (k !== undefined) o.k = k;
  if (tile !== undefined) o.tileSize = tile;
  if (columns !== undefined) o.columns = columns;
  if (q.dataset) o.dataset = q.dataset;
  if (q.model) o.model = q.model;
  return o;
}
