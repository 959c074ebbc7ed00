/**
 * Exports nsfwjs' MobileNetV2 (224x224, bundled in the npm package) to a TF.js model directory,
 * loads it back, and checks it with one tapped batch over all its conv layers.
 *
 *   npx tsx bench/export-mobilenet.ts [OUT_DIR=$TMPDIR/neurolens-bench/mobilenet_v2] [--backend wasm|cpu]
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportNsfwMobilenet, NSFW_CLASSES } from '../src/model/nsfwjs.js';
import { loadModelDir } from '../src/model/io.js';
import { setupBackend, type BackendChoice } from '../src/model/backend.js';
import { listLayers } from '../src/model/layers.js';
import { Tapper } from '../src/model/taps.js';
import { tf } from '../src/model/tf.js';

const args = process.argv.slice(2);
const bi = args.indexOf('--backend');
const backend = (bi >= 0 ? args.splice(bi, 2)[1] : 'wasm') as BackendChoice;
const outDir = args[0] ?? join(tmpdir(), 'neurolens-bench', 'mobilenet_v2');

const info = await setupBackend(backend);
const exported = await exportNsfwMobilenet(outDir);
console.log(`exported nsfwjs@${exported.nsfwjsVersion} MobileNetV2 to ${exported.dir} (${(exported.weightBytes / 1e6).toFixed(1)} MB of uint8 weights)`);

const loaded = await loadModelDir(exported.dir);
const layers = listLayers(loaded.model);
const convs = layers.filter((l) => /Conv2D$/.test(l.kind));
console.log(`kind: ${loaded.kind}, input ${JSON.stringify(loaded.model.inputs[0].shape)}, ${layers.length} layers, ${convs.length} conv layers`);
console.log(`conv layers: ${convs.map((l) => l.name).join(' ')}`);

const batch = 2;
const tapper = await Tapper.create(loaded, convs.map((l) => l.name), { predictions: true, codes: ['global_average_pooling2d_1'].filter((n) => layers.some((l) => l.name === n)) });
const input = new Float32Array(batch * 224 * 224 * 3).map((_, i) => ((i * 2654435761) % 1000) / 1000);
const before = tf.memory().numTensors;
const r = tapper.run(input, batch); // also the warm-up
const pred = r.predictions ? [...r.predictions.pred].map((p, i) => `${NSFW_CLASSES[p]} ${r.predictions?.prob[i].toFixed(3)}`) : [];
console.log(`${info.name}: tapped ${r.layers.length} layers; predictions: ${pred.join(', ')}; tensors before/after: ${before}/${tf.memory().numTensors}`);

// Cost of tapping 52 layers (+ on-backend reduction and 2 downloads) vs a plain predict.
const reps = 3;
const x = tf.tensor4d(input, [batch, 224, 224, 3]);
const plain = () => tf.tidy(() => (loaded.model.predict(x) as ReturnType<typeof tf.zeros>).dataSync());
plain();
let t0 = performance.now();
for (let i = 0; i < reps; i++) plain();
const plainMs = (performance.now() - t0) / reps;
t0 = performance.now();
for (let i = 0; i < reps; i++) tapper.run(input, batch);
const tapMs = (performance.now() - t0) / reps;
x.dispose();
console.log(`batch ${batch}: predict ${plainMs.toFixed(0)} ms, tapped run ${tapMs.toFixed(0)} ms, ratio ${(tapMs / plainMs).toFixed(2)}`);
tapper.dispose();
loaded.model.dispose();
