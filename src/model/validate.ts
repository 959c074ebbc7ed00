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

/**
 * Throws BAD_MODEL when the model input cannot take samples of `sample` ([H, W, C] images or
 * [T, H, W, C] clips), or of the preprocess height, width and channels.
 */
export function validateModelInput(loaded: TapTarget, sampleOrPre: number[] | Pick<Preprocess, 'height' | 'width' | 'channels'>): void {
  const sample = Array.isArray(sampleOrPre) ? sampleOrPre : [sampleOrPre.height, sampleOrPre.width, sampleOrPre.channels];
  const inputs = loaded.model.inputs;
  const spec = sample.join('x');
  const clips = sample.length === 4;
  const source = clips ? 'video source frames x preprocess height x width x channels + motion channels' : 'preprocess height x width x channels';
  if (inputs.length !== 1) {
    throw new NeurolensError('BAD_MODEL', `the model has ${inputs.length} inputs (${inputs.map((i) => i.name).join(', ')}); neurolens feeds one image or clip input (${spec})`);
  }
  const shape = inputs[0].shape as (number | null | undefined)[] | undefined;
  if (!shape) return; // a graph input of unknown rank takes anything; the first batch will tell
  const shown = `[${shape.map(dimText).join(',')}]`;
  if (shape.length !== sample.length + 1) {
    const want = clips ? '[B,T,H,W,C] for clips' : '[B,H,W,C] for images';
    throw new NeurolensError('BAD_MODEL', `model expects ${shown}, the spec gives ${spec} (${source}): the input must be ${want}`);
  }
  const fits = (d: number | null | undefined, want: number) => d === null || d === undefined || d < 0 || d === want;
  if (!sample.every((want, k) => fits(shape[k + 1], want))) {
    throw new NeurolensError('BAD_MODEL', `model expects ${shown}, the spec gives ${spec} (${source})`);
  }
}
