/**
 * The one place that imports TensorFlow.js. Everything else imports `tf` from here so the
 * core, layers and converter packages share one engine and one registry of kernels.
 */
import * as tfc from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import * as tfconv from '@tensorflow/tfjs-converter';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';

export const tf = { ...tfc, ...tfl, loadGraphModel: tfconv.loadGraphModel, GraphModel: tfconv.GraphModel };
export { tfc, tfl, tfconv };
