import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, rm, readFile, writeFile, readdir, truncate, unlink, mkdir, cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf, tfc, tfl } from '../src/model/tf.js';
import { setupBackend } from '../src/model/backend.js';
import { saveModelDir, loadModelDir } from '../src/model/io.js';
import { buildDemoCnn } from '../src/train/cnn.js';
import { NeurolensError } from '../src/errors.js';

let dir: string;
let cnn: tfl.LayersModel;
let input: tfc.Tensor4D;

beforeAll(async () => {
  await setupBackend('wasm');
  dir = await mkdtemp(join(tmpdir(), 'model-io-'));
  cnn = buildDemoCnn(7);
  // Deterministic, non-trivial input: a ramp plus a per-image offset.
  input = tf.tensor4d(Float32Array.from({ length: 4 * 784 }, (_, i) => (i % 97) / 97 + Math.floor(i / 784) / 10), [4, 28, 28, 1]);
});
afterAll(async () => {
  cnn.dispose();
  input.dispose();
  await rm(dir, { recursive: true, force: true });
});

async function expectBadModel(p: Promise<unknown>, ...patterns: (RegExp | string)[]): Promise<void> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(NeurolensError);
  expect((err as NeurolensError).code).toBe('BAD_MODEL');
  for (const pat of patterns) {
    if (typeof pat === 'string') expect((err as NeurolensError).message).toContain(pat);
    else expect((err as NeurolensError).message).toMatch(pat);
  }
}

function predict(m: tfl.LayersModel | tfc.InferenceModel, x: tfc.Tensor): Float32Array {
  return tf.tidy(() => (m.predict(x, {}) as tfc.Tensor).dataSync() as Float32Array);
}

describe('saveModelDir / loadModelDir: LayersModel round trip', () => {
  it('writes the TF.js layout atomically and reloads identical weights and predictions', async () => {
    const d = join(dir, 'ckpt-000042');
    await saveModelDir(cnn, d, { step: 42, metadata: { note: 'hello' } });
    expect((await readdir(d)).sort()).toEqual(['group1-shard1of1.bin', 'model.json']);
    // No temporary or old directories left next to it.
    expect((await readdir(dir)).filter((n) => n.startsWith('.'))).toEqual([]);
    const json = JSON.parse(await readFile(join(d, 'model.json'), 'utf8'));
    expect(json.format).toBe('layers-model');
    expect(json.weightsManifest[0].paths).toEqual(['group1-shard1of1.bin']);
    expect(json.userDefinedMetadata.neurolens).toEqual({ note: 'hello', step: 42 });

    const loaded = await loadModelDir(d);
    expect(loaded.kind).toBe('layers');
    expect(loaded.format).toBe('layers-model');
    expect(loaded.step).toBe(42);
    const m = loaded.model as tfl.LayersModel;
    try {
      expect(m.layers.map((l) => l.name)).toEqual(cnn.layers.map((l) => l.name));
      const a = cnn.getWeights().map((w) => Array.from(w.dataSync()));
      const b = m.getWeights().map((w) => Array.from(w.dataSync()));
      expect(b).toEqual(a);
      expect(Array.from(predict(m, input))).toEqual(Array.from(predict(cnn, input)));
    } finally {
      m.dispose();
    }
  });

  it('replaces an existing directory and leaves nothing stale behind', async () => {
    const d = join(dir, 'replace-me');
    await saveModelDir(cnn, d, { step: 1 });
    await writeFile(join(d, 'stale.txt'), 'from the old save');
    const other = buildDemoCnn(8);
    try {
      await saveModelDir(other, d, { step: 2 });
      expect((await readdir(d)).sort()).toEqual(['group1-shard1of1.bin', 'model.json']);
      expect((await readdir(dir)).filter((n) => n.startsWith('.'))).toEqual([]);
      const loaded = await loadModelDir(d);
      expect(loaded.step).toBe(2);
      const m = loaded.model as tfl.LayersModel;
      expect(Array.from(predict(m, input))).toEqual(Array.from(predict(other, input)));
      expect(Array.from(predict(m, input))).not.toEqual(Array.from(predict(cnn, input)));
      m.dispose();
    } finally {
      other.dispose();
    }
  });

  it('splits weights over 4 MiB into several shards and joins them back', async () => {
    const big = tfl.sequential({
      layers: [tfl.layers.dense({ inputShape: [1500], units: 1000, kernelInitializer: tfl.initializers.randomUniform({ seed: 3 }) })],
    });
    const d = join(dir, 'big');
    try {
      await saveModelDir(big, d);
      const json = JSON.parse(await readFile(join(d, 'model.json'), 'utf8'));
      expect(json.weightsManifest[0].paths).toEqual(['group1-shard1of2.bin', 'group1-shard2of2.bin']);
      const loaded = await loadModelDir(d);
      const m = loaded.model as tfl.LayersModel;
      expect(Array.from(m.getWeights()[0].dataSync())).toEqual(Array.from(big.getWeights()[0].dataSync()));
      expect(loaded.step).toBeNull();
      m.dispose();
    } finally {
      big.dispose();
    }
  });

  it('detects the format from the topology when model.json has no format field', async () => {
    const d = join(dir, 'noformat');
    await saveModelDir(cnn, d, { step: 5 });
    const json = JSON.parse(await readFile(join(d, 'model.json'), 'utf8'));
    delete json.format;
    await writeFile(join(d, 'model.json'), JSON.stringify(json));
    const loaded = await loadModelDir(d);
    expect(loaded.kind).toBe('layers');
    (loaded.model as tfl.LayersModel).dispose();
  });
});

describe('loadModelDir: broken directories fail with BAD_MODEL naming the file', () => {
  let good: string;
  beforeAll(async () => {
    good = join(dir, 'good');
    await saveModelDir(cnn, good, { step: 3 });
  });
  async function copyOfGood(name: string): Promise<string> {
    const d = join(dir, name);
    await cp(good, d, { recursive: true });
    return d;
  }

  it('missing directory', async () => {
    await expectBadModel(loadModelDir(join(dir, 'nope')), 'nope', /does not exist/);
  });
  it('directory without model.json', async () => {
    const d = join(dir, 'empty');
    await mkdir(d);
    await expectBadModel(loadModelDir(d), join(d, 'model.json'), /missing/);
  });
  it('truncated model.json', async () => {
    const d = await copyOfGood('trunc-json');
    const text = await readFile(join(d, 'model.json'), 'utf8');
    await writeFile(join(d, 'model.json'), text.slice(0, Math.floor(text.length / 2)));
    await expectBadModel(loadModelDir(d), join(d, 'model.json'), /invalid JSON/);
  });
  it('model.json that is JSON but not a model', async () => {
    const d = await copyOfGood('not-model');
    await writeFile(join(d, 'model.json'), '{"hello": 1}');
    await expectBadModel(loadModelDir(d), /no modelTopology/);
  });
  it('deleted weights shard', async () => {
    const d = await copyOfGood('no-shard');
    await unlink(join(d, 'group1-shard1of1.bin'));
    await expectBadModel(loadModelDir(d), join(d, 'group1-shard1of1.bin'), /missing/);
  });
  it('shard shorter than the manifest says', async () => {
    const d = await copyOfGood('short-shard');
    await truncate(join(d, 'group1-shard1of1.bin'), 1000);
    await expectBadModel(loadModelDir(d), 'group1-shard1of1.bin', /hold 1000 bytes.*needs 1686568/);
  });
});

/**
 * A hand-written GraphModel (the converter's JSON: NodeDefs with base64 string attrs):
 * out = relu(conv2d(x, w, VALID) + b), x [-1, 3, 3, 1], w [2, 2, 1, 2].
 */
function graphModelJson(): object {
  const f = { type: 'DT_FLOAT' };
  const shape = (dims: number[]) => ({ dim: dims.map((d) => ({ size: String(d) })) });
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return {
    format: 'graph-model',
    generatedBy: 'hand-written',
    convertedBy: null,
    modelTopology: {
      node: [
        { name: 'x', op: 'Placeholder', attr: { dtype: f, shape: { shape: shape([-1, 3, 3, 1]) } } },
        { name: 'w', op: 'Const', attr: { dtype: f, value: { tensor: { dtype: 'DT_FLOAT', tensorShape: shape([2, 2, 1, 2]) } } } },
        { name: 'b', op: 'Const', attr: { dtype: f, value: { tensor: { dtype: 'DT_FLOAT', tensorShape: shape([2]) } } } },
        {
          name: 'conv',
          op: 'Conv2D',
          input: ['x', 'w'],
          attr: {
            T: f,
            strides: { list: { i: ['1', '1', '1', '1'] } },
            dilations: { list: { i: ['1', '1', '1', '1'] } },
            padding: { s: b64('VALID') },
            data_format: { s: b64('NHWC') },
          },
        },
        { name: 'bias', op: 'BiasAdd', input: ['conv', 'b'], attr: { T: f, data_format: { s: b64('NHWC') } } },
        { name: 'out', op: 'Relu', input: ['bias'], attr: { T: f } },
      ],
      library: {},
      versions: { producer: 1 },
    },
    weightsManifest: [
      {
        paths: ['group1-shard1of1.bin'],
        weights: [
          { name: 'w', shape: [2, 2, 1, 2], dtype: 'float32' },
          { name: 'b', shape: [2], dtype: 'float32' },
        ],
      },
    ],
  };
}

describe('loadModelDir: GraphModel', () => {
  // w[ky][kx][0][c]: filter 0 sums the 2x2 window, filter 1 is (top-left - bottom-right).
  const w = [1, 1, 1, 0, 1, 0, 1, -1];
  const b = [-10, 0.5];

  it('loads a hand-written graph model and computes the known answer', async () => {
    const d = join(dir, 'ckpt-000300');
    await mkdir(d);
    await writeFile(join(d, 'model.json'), JSON.stringify(graphModelJson()));
    await writeFile(join(d, 'group1-shard1of1.bin'), Buffer.from(new Float32Array([...w, ...b]).buffer));
    const loaded = await loadModelDir(d);
    expect(loaded.kind).toBe('graph');
    expect(loaded.format).toBe('graph-model');
    // No metadata: the step comes from the directory name.
    expect(loaded.step).toBe(300);
    const x = [1, 2, 3, 4, 5, 6, 7, 8, 9];
    const out = tf.tidy(() => (loaded.model.predict(tf.tensor4d(x, [1, 3, 3, 1])) as tfc.Tensor).dataSync());
    // Hand computation over the four 2x2 windows (rows of x: 1 2 3 / 4 5 6 / 7 8 9).
    const expected: number[] = [];
    for (const [r, c] of [[0, 0], [0, 1], [1, 0], [1, 1]]) {
      const tl = x[r * 3 + c], tr = x[r * 3 + c + 1], bl = x[(r + 1) * 3 + c], br = x[(r + 1) * 3 + c + 1];
      expected.push(Math.max(0, tl + tr + bl + br + b[0]), Math.max(0, tl - br + b[1]));
    }
    expect(Array.from(out)).toEqual(expected);
    loaded.model.dispose();
  });

  it('detects a graph model by its node list when format is absent', async () => {
    const d = join(dir, 'graph-noformat');
    await mkdir(d);
    const json = graphModelJson() as { format?: string };
    delete json.format;
    await writeFile(join(d, 'model.json'), JSON.stringify(json));
    await writeFile(join(d, 'group1-shard1of1.bin'), Buffer.from(new Float32Array([...w, ...b]).buffer));
    const loaded = await loadModelDir(d);
    expect(loaded.kind).toBe('graph');
    loaded.model.dispose();
  });

  it('rejects a graph model whose shard is too short, naming it', async () => {
    const d = join(dir, 'graph-short');
    await mkdir(d);
    await writeFile(join(d, 'model.json'), JSON.stringify(graphModelJson()));
    await writeFile(join(d, 'group1-shard1of1.bin'), Buffer.from(new Float32Array(w).buffer));
    await expectBadModel(loadModelDir(d), join(d, 'group1-shard1of1.bin'), /hold 32 bytes.*needs 40/);
  });
});
