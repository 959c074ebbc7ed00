/**
 * nsfwjs' bundled MobileNetV2, exported offline to a model directory, loads as a LayersModel and
 * can be tapped on all its conv layers.
 */
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../src/model/tf.js';
import { setupBackend } from '../src/model/backend.js';
import { exportNsfwMobilenet, NSFW_CLASSES } from '../src/model/nsfwjs.js';
import { loadModelDir } from '../src/model/io.js';
import { listLayers, resolveLayers } from '../src/model/layers.js';
import { Tapper } from '../src/model/taps.js';

let root: string;
beforeAll(async () => {
  await setupBackend('wasm');
  root = await mkdtemp(join(tmpdir(), 'nl-nsfw-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('exportNsfwMobilenet', () => {
  it('writes model.json + one shard, keeping the uint8 quantization', async () => {
    const out = join(root, 'mobilenet_v2');
    const r = await exportNsfwMobilenet(out);
    expect((await readdir(out)).sort()).toEqual(['group1-shard1of1.bin', 'model.json']);
    expect((await stat(join(out, 'group1-shard1of1.bin'))).size).toBe(r.weightBytes);
    const json = JSON.parse(await readFile(join(out, 'model.json'), 'utf8'));
    expect(json.format).toBe('layers-model');
    expect(json.weightsManifest[0].weights.every((w: { quantization?: { dtype: string } }) => w.quantization?.dtype === 'uint8')).toBe(true);
    // Exporting again replaces the directory.
    await exportNsfwMobilenet(out);
    expect((await readdir(root)).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('loads as a 224x224 LayersModel with 52 conv layers, taps them all, and predicts a distribution', async () => {
    const out = join(root, 'mobilenet_v2');
    const loaded = await loadModelDir(out);
    expect(loaded.kind).toBe('layers');
    expect(loaded.model.inputs[0].shape).toEqual([null, 224, 224, 3]);
    const layers = listLayers(loaded.model);
    expect(layers).toHaveLength(162);
    const convs = resolveLayers(loaded.model, ['Conv1', 'expanded_conv_{depthwise,project}', 'block_*_expand', 'block_*_depthwise', 'block_*_project', 'Conv_1']);
    expect(convs).toHaveLength(52);
    expect(convs.map((l) => l.kind).every((k) => k === 'Conv2D' || k === 'DepthwiseConv2D')).toBe(true);
    expect(layers.filter((l) => /Conv2D$/.test(l.kind)).map((l) => l.name)).toEqual(convs.map((l) => l.name));
    expect(layers.at(-1)).toMatchObject({ name: 'dense_3', kind: 'Dense', outputShape: [null, NSFW_CLASSES.length] });

    const base = tf.memory().numTensors;
    const t = await Tapper.create(loaded, convs.map((l) => l.name), { predictions: true });
    const input = Float32Array.from({ length: 224 * 224 * 3 }, (_, i) => ((i * 7919) % 256) / 255);
    const r = t.run(input, 1);
    expect(tf.memory().numTensors).toBe(base);
    expect(r.layers.find((l) => l.layer === 'Conv1')).toMatchObject({ channels: 32, extent: [1, 112, 112] });
    expect(r.layers.find((l) => l.layer === 'Conv_1')).toMatchObject({ channels: 1280, extent: [1, 7, 7] });
    // The head is a softmax: the reported probability is the largest of five that sum to 1.
    const probs = tf.tidy(() => (loaded.model.predict(tf.tensor4d(input, [1, 224, 224, 3])) as ReturnType<typeof tf.zeros>).dataSync() as Float32Array);
    expect(probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expect(r.predictions?.pred[0]).toBe(probs.indexOf(Math.max(...probs)));
    expect(r.predictions?.prob[0]).toBeCloseTo(Math.max(...probs), 5);
    loaded.model.dispose();
  });
});
