/**
 * A real 224x224 CNN for benchmarks, available offline: the MobileNetV2 that the `nsfwjs` npm
 * package (MIT, a dev dependency) ships inside itself.
 *
 * nsfwjs bundles each model as CommonJS modules under `dist/models/mobilenet_v2/`:
 * `model.min.js` exports the model.json object (a Keras 2.2.4 functional model, LayersModel
 * topology, 162 layers, weights uint8-quantized) and `group1-shard1of1.min.js` exports the weight
 * shard as one base64 string. We write them back out as a plain TF.js model directory, keeping
 * the quantized bytes as they are (tfjs dequantizes on load). No network access is involved.
 *
 * The model expects RGB 224x224 in [0, 1] (nsfwjs divides pixels by 255) and ends in a 5-way
 * softmax over NSFW_CLASSES.
 */
import { writeFileSynced } from '../storage/atomic.js';
import { createRequire } from 'node:module';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { NeurolensError, errorMessage } from '../errors.js';

/** From nsfwjs `dist/esm/nsfw_classes.js`. */
export const NSFW_CLASSES = ['Drawing', 'Hentai', 'Neutral', 'Porn', 'Sexy'];

const SHARD = 'group1-shard1of1';

interface BundledModelJson {
  modelTopology: object;
  weightsManifest: { paths: string[]; weights: object[] }[];
}

const require = createRequire(import.meta.url);

/** Root directory of the installed nsfwjs package. */
function nsfwjsRoot(): string {
  let main: string;
  try {
    main = require.resolve('nsfwjs'); // <root>/dist/cjs/index.js
  } catch (e) {
    throw new NeurolensError('NOT_FOUND', `the nsfwjs package is not installed (npm install --save-dev nsfwjs): ${errorMessage(e)}`, { cause: e });
  }
  return resolve(dirname(main), '..', '..');
}

export interface ExportedModel {
  dir: string;
  /** Bytes of the weight shard (uint8-quantized). */
  weightBytes: number;
  nsfwjsVersion: string;
}

/**
 * Writes nsfwjs' MobileNetV2 to `outDir` (model.json + `group1-shard1of1.bin`), atomically: files
 * go to a temporary sibling that is renamed into place (an existing `outDir` is replaced).
 */
export async function exportNsfwMobilenet(outDir: string): Promise<ExportedModel> {
  const root = nsfwjsRoot();
  const modelDir = join(root, 'dist', 'models', 'mobilenet_v2');
  let json: BundledModelJson;
  let shardB64: string;
  try {
    json = require(join(modelDir, 'model.min.js')) as BundledModelJson;
    shardB64 = require(join(modelDir, `${SHARD}.min.js`)) as string;
  } catch (e) {
    throw new NeurolensError('BAD_MODEL', `${modelDir}: cannot read the bundled MobileNetV2 (nsfwjs layout changed?): ${errorMessage(e)}`, { cause: e });
  }
  if (typeof shardB64 !== 'string' || !Array.isArray(json?.weightsManifest) || json.weightsManifest[0]?.paths?.[0] !== SHARD) {
    throw new NeurolensError('BAD_MODEL', `${modelDir}: unexpected bundle content (expected model.json object and one base64 shard '${SHARD}')`);
  }
  const weights = Buffer.from(shardB64, 'base64');
  const version = (require(join(root, 'package.json')) as { version: string }).version;
  const modelJson = {
    format: 'layers-model',
    generatedBy: 'keras v2.2.4',
    convertedBy: `neurolens exportNsfwMobilenet from nsfwjs@${version}`,
    modelTopology: json.modelTopology,
    weightsManifest: [{ paths: [`${SHARD}.bin`], weights: json.weightsManifest[0].weights }],
    userDefinedMetadata: { neurolens: { source: `nsfwjs@${version} mobilenet_v2`, classes: NSFW_CLASSES, input: '224x224x3 RGB / 255' } },
  };
  const final = resolve(outDir);
  const tmp = join(dirname(final), `.${basename(final)}.tmp-${process.pid}`);
  try {
    await mkdir(dirname(final), { recursive: true });
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp);
    await writeFileSynced(join(tmp, `${SHARD}.bin`), weights);
    await writeFileSynced(join(tmp, 'model.json'), JSON.stringify(modelJson));
    if (await stat(final).catch(() => null)) await rm(final, { recursive: true, force: true });
    await rename(tmp, final);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw new NeurolensError('IO', `cannot write the MobileNetV2 export to ${final}: ${errorMessage(e)}`, { cause: e });
  }
  return { dir: final, weightBytes: weights.byteLength, nsfwjsVersion: version };
}
