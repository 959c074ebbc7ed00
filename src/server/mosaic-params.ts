/**
 * Query parameters of `GET /api/neurons/:layer/:channel/mosaic.png` -> NeuronMosaicOptions and
 * the crop (`crop=cell`, default: whole images, argmax cell of the output grid; `box`: whole
 * images with the argmax position's receptive field outlined; `rf`: receptive-field crops), with
 * bounds: every tile reads and draws one sample, so k and the tile size are capped.
 */
import { NeurolensError } from '../errors.js';
import { checkKnown, intParam } from './params.js';
import type { NeuronMosaicOptions } from '../render/neuron-mosaic.js';

export const MOSAIC_LIMITS = { k: 64, tile: 512, columns: 64 };

const KNOWN = ['step', 'k', 'dataset', 'model', 'tile', 'columns', 'crop'];

const MOSAIC_CROPS = ['cell', 'box', 'rf'] as const;
export type MosaicCrop = (typeof MOSAIC_CROPS)[number];

export function mosaicCrop(v: string | undefined): MosaicCrop {
  if (v === undefined || v === '') return 'cell';
  if (!(MOSAIC_CROPS as readonly string[]).includes(v)) throw new NeurolensError('BAD_QUERY', `mosaic: crop must be one of ${MOSAIC_CROPS.join(', ')}, got '${v}'`);
  return v as MosaicCrop;
}

export function mosaicOptions(layer: string, channel: string, q: Record<string, string>): NeuronMosaicOptions {
  checkKnown('mosaic', q, KNOWN);
  const o: NeuronMosaicOptions = { layer, channel: intParam('mosaic', 'channel', channel, 0, 2 ** 31 - 1)! };
  const step = intParam('mosaic', 'step', q.step, 0, Number.MAX_SAFE_INTEGER);
  const k = intParam('mosaic', 'k', q.k, 1, MOSAIC_LIMITS.k);
  const tile = intParam('mosaic', 'tile', q.tile, 16, MOSAIC_LIMITS.tile);
  const columns = intParam('mosaic', 'columns', q.columns, 1, MOSAIC_LIMITS.columns);
  if (step !== undefined) o.step = step;
  if (k !== undefined) o.k = k;
  if (tile !== undefined) o.tileSize = tile;
  if (columns !== undefined) o.columns = columns;
  if (q.dataset) o.dataset = q.dataset;
  if (q.model) o.model = q.model;
  return o;
}
