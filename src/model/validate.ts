/**
 * Checks, before any work, that the model takes what the pipeline spec will feed it: one input of
 * [B, H, W, C] (images) or [B, T, H, W, C] (clips) whose known dims equal the spec's preprocess
 * height, width and channels. Unknown dims (null, or -1 in graph models) accept any size.
 */
import { NeurolensError } from '../errors.js';
import type { Preprocess } from '../sources/types.js';
import type { TapTarget } from './taps.js';

function dimText(d: number | null | undefined): string {
  return d === null || d === undefined || d < 0 ? 'null' : String(d);
}

/** Throws BAD_MODEL when the model input cannot take [*, pre.height, pre.width, pre.channels]. */
export function validateModelInput(loaded: TapTarget, pre: Pick<Preprocess, 'height' | 'width' | 'channels'>): void {
  const inputs = loaded.model.inputs;
  const spec = `${pre.height}x${pre.width}x${pre.channels}`;
  if (inputs.length !== 1) {
    throw new NeurolensError('BAD_MODEL', `the model has ${inputs.length} inputs (${inputs.map((i) => i.name).join(', ')}); neurolens feeds one image or clip input (${spec})`);
  }
  const shape = inputs[0].shape as (number | null | undefined)[] | undefined;
  if (!shape) return; // a graph input of unknown rank takes anything; the first batch will tell
  const shown = `[${shape.map(dimText).join(',')}]`;
  if (shape.length !== 4 && shape.length !== 5) {
    throw new NeurolensError('BAD_MODEL', `model expects ${shown}, the spec gives ${spec} images: the input must be [B,H,W,C] or [B,T,H,W,C]`);
  }
  const [h, w, c] = shape.slice(-3);
  const fits = (d: number | null | undefined, want: number) => d === null || d === undefined || d < 0 || d === want;
  if (!fits(h, pre.height) || !fits(w, pre.width) || !fits(c, pre.channels)) {
    throw new NeurolensError('BAD_MODEL', `model expects ${shown}, the spec gives ${spec} (preprocess height x width x channels)`);
  }
}
