/**
 * Receptive fields from the model graph: published / hand-derived values for VGG16 and
 * MobileNetV2, the same geometry as a LayersModel and as a GraphModel, and the empirical receptive
 * field (the support of d output(y, x) / d input, by tf.grad on wasm) of a model with all-positive
 * weights and inputs (so no gradient cancels) equal to the computed box, clipped to the image.
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf, tfc, tfl, tfconv } from '../src/model/tf.js';
import { setupBackend } from '../src/model/backend.js';
import { loadModelDir } from '../src/model/io.js';
import { exportNsfwMobilenet } from '../src/model/nsfwjs.js';
import { computeReceptiveFields, receptiveField, receptiveFields, rfBox, type ReceptiveField } from '../src/model/receptive-field.js';
import { mulberry32 } from '../src/train/prng.js';
import { rfFrames, timeOf } from '../src/model/receptive-field-time.js';
import { buildTwoStream } from '../src/video/model.js';

let tmp: string;
beforeAll(async () => {
  await setupBackend('wasm');
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'nl-rf-'));
});
afterAll(async () => {
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

const field = (size: number, jump: number, start: number) => ({ size: [size, size], jump: [jump, jump], start: [start, start] });
const geo = (f: ReceptiveField) => ({ size: f.size, jump: f.jump, start: f.start });

/** VGG16 (Simonyan & Zisserman 2015, configuration D) with 2 channels per conv and random weights. */
function vgg16(): tfl.Sequential {
  const m = tf.sequential({ name: 'vgg16_small' });
  m.add(tf.layers.inputLayer({ inputShape: [224, 224, 3], name: 'input' }));
  for (const [b, n] of [[1, 2], [2, 2], [3, 3], [4, 3], [5, 3]] as const) {
    for (let i = 1; i <= n; i++) m.add(tf.layers.conv2d({ name: `conv${b}_${i}`, filters: 2, kernelSize: 3, padding: 'same', activation: 'relu' }));
    m.add(tf.layers.maxPooling2d({ name: `pool${b}`, poolSize: 2 }));
  }
  m.add(tf.layers.flatten({ name: 'flatten' }));
  m.add(tf.layers.dense({ name: 'fc', units: 4 }));
  return m;
}

describe('known architectures', () => {
  it('VGG16: conv5_3 sees 196 px with jump 16 and 90 px of padding (published), pool5 212 / 32', () => {
    const m = vgg16();
    try {
      const f = receptiveFields(m);
      expect(geo(f.get('conv5_3')!)).toEqual(field(196, 16, -90));
      expect(f.get('conv5_3')!.output).toEqual([14, 14]);
      expect(geo(f.get('pool5')!)).toEqual(field(212, 32, -90)); // Araujo et al. 2019 (Distill), vgg_16: r 212, S 32, P 90
      expect(geo(f.get('conv1_1')!)).toEqual(field(3, 1, -1));
      expect(geo(f.get('pool1')!)).toEqual(field(6, 2, -2));
      // Flatten / dense: everything pool5's 7x7 grid saw: 212 + 6 * 32.
      expect(f.get('fc')).toMatchObject({ global: true, size: [404, 404], output: null });
    } finally {
      m.dispose();
    }
  });

  it('MobileNetV2 (nsfwjs export): every depthwise block and Conv_1 = 491 px, jump 32 (Distill 2019: mobilenet_v2 r 491)', async () => {
    const dir = (await exportNsfwMobilenet(path.join(tmp, 'mnv2'))).dir;
    const loaded = await loadModelDir(dir);
    try {
      const f = receptiveFields(loaded.model);
      // By hand: Conv1 3x3/2 after ZeroPadding ((0,1),(0,1)); then 17 depthwise 3x3 (stride 2 in
      // blocks 1, 3, 6, 13; 'same' = 1 px before at stride 1, explicit (0,1) zero padding before
      // the stride-2 ones), 1x1 convs elsewhere. r += 2 j per 3x3, j *= stride, start -= pad * j.
      let r = 3;
      let j = 2;
      let start = 0;
      expect(geo(f.get('Conv1')!)).toEqual(field(r, j, start));
      const strides = [1, 2, 1, 2, 1, 1, 2, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1];
      strides.forEach((s, b) => {
        start -= s === 1 ? j : 0;
        r += 2 * j;
        j *= s;
        const name = b === 0 ? 'expanded_conv_depthwise' : `block_${b}_depthwise`;
        expect(geo(f.get(name)!), name).toEqual(field(r, j, start));
      });
      expect(r).toBe(491);
      expect(geo(f.get('Conv_1')!)).toEqual(field(491, 32, -214));
      expect(f.get('Conv_1')!.output).toEqual([7, 7]);
      // Residual adds merge paths of the same jump: the union is the longer path.
      expect(geo(f.get('block_2_add')!)).toEqual(geo(f.get('block_2_depthwise')!));
      expect(computeReceptiveFields(loaded.model).problems.size).toBe(0);
    } finally {
      loaded.model.dispose();
    }
  }, 60_000);
});

/**
 * A functional model exercising every rule: asymmetric zero padding, dilation, stride-2 'same'
 * on odd sizes, depthwise, separable, average pooling, Add and Concatenate merges, cropping.
 * tfjs has no gradient for dilated convolutions, so `dilation: 1` swaps the dilated 3x3 for a 5x5
 * (the same extent) for the gradient check; the dilated net is checked by perturbation.
 */
function mixedNet(dilation: 1 | 2): { model: tfl.LayersModel; probes: string[] } {
  const x = tf.input({ shape: [25, 23, 2], name: 'image' });
  let t = tf.layers.zeroPadding2d({ name: 'pad', padding: [[1, 2], [0, 1]] }).apply(x) as tfl.SymbolicTensor;
  t = tf.layers.conv2d({ name: 'c1', filters: 2, kernelSize: 3, activation: 'relu' }).apply(t) as tfl.SymbolicTensor;
  t = tf.layers.conv2d({ name: 'dil', filters: 2, kernelSize: dilation === 2 ? 3 : 5, dilationRate: dilation, activation: 'relu' }).apply(t) as tfl.SymbolicTensor;
  t = tf.layers.conv2d({ name: 's2', filters: 2, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }).apply(t) as tfl.SymbolicTensor;
  const a = tf.layers.depthwiseConv2d({ name: 'dw', kernelSize: 3, padding: 'same' }).apply(t) as tfl.SymbolicTensor;
  const b = tf.layers.averagePooling2d({ name: 'avg', poolSize: 3, strides: 1, padding: 'same' }).apply(t) as tfl.SymbolicTensor;
  const sum = tf.layers.add({ name: 'add' }).apply([a, b]) as tfl.SymbolicTensor;
  const sep = tf.layers.separableConv2d({ name: 'sep', filters: 2, kernelSize: [5, 3], strides: 2, padding: 'same' }).apply(sum) as tfl.SymbolicTensor;
  const pool = tf.layers.averagePooling2d({ name: 'pool', poolSize: 2, strides: 2, padding: 'same' }).apply(sum) as tfl.SymbolicTensor;
  const cat = tf.layers.concatenate({ name: 'cat' }).apply([sep, pool]) as tfl.SymbolicTensor;
  const crop = tf.layers.cropping2D({ name: 'crop', cropping: [[1, 0], [0, 1]] }).apply(cat) as tfl.SymbolicTensor;
  const out = tf.layers.conv2d({ name: 'head', filters: 1, kernelSize: 1 }).apply(crop) as tfl.SymbolicTensor;
  const model = tf.model({ inputs: x, outputs: out, name: 'mixed' });
  // All weights positive: every path adds, nothing cancels, ReLUs stay open.
  const rand = mulberry32(7);
  for (const l of model.layers) {
    const ws = l.getWeights().map((w) => tf.tensor(Float32Array.from({ length: w.size }, () => 0.1 + 0.9 * rand()), w.shape));
    l.setWeights(ws);
    tf.dispose(ws);
  }
  return { model, probes: ['c1', 'dil', 's2', 'dw', 'add', 'sep', 'pool', 'cat', 'crop', 'head'] };
}

/** Input positions (rows x cols mask) with a nonzero gradient of output (y, x) of `layer`, all channels. */
function empiricalSupport(model: tfl.LayersModel, layer: string, y: number, x: number, image: tfc.Tensor): { mask: boolean[]; h: number; w: number } {
  const sub = tf.model({ inputs: model.inputs, outputs: model.getLayer(layer).output as tfl.SymbolicTensor });
  const g = tf.tidy(() => {
    const grad = tf.grad((inp: tfc.Tensor) => tf.sum(tf.slice(sub.predict(inp) as tfc.Tensor, [0, y, x, 0], [1, 1, 1, -1])))(image);
    return tf.squeeze(tf.sum(tf.abs(grad), -1), [0]);
  });
  const [h, w] = g.shape as [number, number];
  const v = g.dataSync();
  g.dispose();
  return { mask: Array.from(v, (a) => a > 0), h, w };
}

/** Input positions whose increase changes output (y, x) of `layer` (any channel): one batch, one image per pixel. */
function perturbationSupport(model: tfl.LayersModel, layers: string[], image: Float32Array, hw: [number, number, number]): (y: number, x: number, layer: string) => boolean[] {
  const [h, w, c] = hw;
  const n = h * w;
  const sub = tf.model({ inputs: model.inputs, outputs: layers.map((l) => model.getLayer(l).output as tfl.SymbolicTensor) });
  const batch = new Float32Array((n + 1) * h * w * c);
  for (let b = 0; b <= n; b++) {
    batch.set(image, b * h * w * c);
    if (b < n) for (let k = 0; k < c; k++) batch[b * h * w * c + b * c + k]! += 1;
  }
  const outs = tf.tidy(() => {
    const r = sub.predict(tf.tensor4d(batch, [n + 1, h, w, c]));
    return (Array.isArray(r) ? r : [r]).map((t) => ({ shape: t.shape, data: t.dataSync() as Float32Array }));
  });
  return (y, x, layer) => {
    const o = outs[layers.indexOf(layer)]!;
    const [, oh, ow, oc] = o.shape as number[];
    const at = (b: number, k: number) => o.data[((b * oh! + y) * ow! + x) * oc! + k]!;
    return Array.from({ length: n }, (_, p) => Array.from({ length: oc! }, (_, k) => at(p, k) !== at(n, k)).some(Boolean));
  };
}

function boxMask(f: ReceptiveField, y: number, x: number, h: number, w: number) {
  const box = rfBox(f, y, x, { height: h, width: w });
  const mask = Array.from({ length: h * w }, (_, i) => {
    const r = Math.floor(i / w);
    const c = i % w;
    return r >= box.clipped.top && r < box.clipped.bottom && c >= box.clipped.left && c < box.clipped.right;
  });
  return { box, mask };
}

describe('empirical receptive field', () => {
  const corners = (f: ReceptiveField) => {
    const [oh, ow] = f.output!;
    return [[0, 0], [oh - 1, ow - 1], [Math.floor(oh / 2), Math.floor(ow / 2)], [0, ow - 1]] as const;
  };

  it('gradient (tf.grad on wasm): the support of d output(y, x) / d input is exactly the computed box, clipped to the image', () => {
    const start = tf.memory().numTensors;
    const { model, probes } = mixedNet(1);
    const rand = mulberry32(11);
    const image = tf.tensor4d(Float32Array.from({ length: 25 * 23 * 2 }, () => 0.5 + 0.5 * rand()), [1, 25, 23, 2]);
    try {
      const fields = receptiveFields(model);
      let clippedSeen = 0;
      for (const name of probes) {
        for (const [y, x] of corners(fields.get(name)!)) {
          const { box, mask: expected } = boxMask(fields.get(name)!, y, x, 25, 23);
          const { mask } = empiricalSupport(model, name, y, x, image);
          expect(mask, `${name} (${y},${x}) box ${JSON.stringify(box)}`).toEqual(expected);
          if (box.pad.top + box.pad.left + box.pad.bottom + box.pad.right > 0) clippedSeen++;
        }
      }
      expect(clippedSeen).toBeGreaterThan(10); // the border cases really reached into padding
    } finally {
      image.dispose();
      model.dispose();
    }
    expect(tf.memory().numTensors).toBe(start);
  }, 60_000);

  it('perturbation, with dilation: exactly the pixels whose change moves output (y, x) are in the box', () => {
    const start = tf.memory().numTensors;
    const { model, probes } = mixedNet(2);
    const rand = mulberry32(12);
    const image = Float32Array.from({ length: 25 * 23 * 2 }, () => 0.5 + 0.5 * rand());
    try {
      const fields = receptiveFields(model);
      expect(fields.get('dil')!.size).toEqual(fields.get('c1')!.size.map((s) => s + 4));
      const support = perturbationSupport(model, probes, image, [25, 23, 2]);
      for (const name of probes) {
        for (const [y, x] of corners(fields.get(name)!)) {
          const { box, mask: expected } = boxMask(fields.get(name)!, y, x, 25, 23);
          expect(support(y, x, name), `${name} (${y},${x}) box ${JSON.stringify(box)}`).toEqual(expected);
        }
      }
    } finally {
      model.dispose();
    }
    expect(tf.memory().numTensors).toBe(start);
  }, 60_000);
});

// ---- the same geometry as a GraphModel (hand-written GraphDef, as tfjs-converter emits it) ----

const b64 = (v: string) => Buffer.from(v).toString('base64');
const ints = (v: number[]) => ({ list: { i: v.map(String) } });
const dims = (shape: number[]) => ({ dim: shape.map((d) => ({ size: String(d) })) });
const FLOAT = { type: 'DT_FLOAT' };

async function geometryGraph(): Promise<tfconv.GraphModel> {
  const consts: [string, number[], 'float32' | 'int32', number[] | null][] = [
    ['pad/paddings', [4, 2], 'int32', [0, 0, 2, 1, 0, 3, 0, 0]],
    ['conv/filter', [3, 3, 2, 2], 'float32', null],
    ['conv/bias', [2], 'float32', null],
    ['dw/filter', [3, 3, 2, 1], 'float32', null],
    ['dw5/filter', [5, 5, 2, 1], 'float32', null],
    ['gap/axes', [2], 'int32', [1, 2]],
  ];
  const op = (name: string, o: string, input: string[], attr: object = {}) => ({ name, op: o, input, attr: { T: FLOAT, ...attr } });
  const win = (strides: number[], padding: string, extra: object = {}) => ({ strides: ints(strides), padding: { s: b64(padding) }, data_format: { s: b64('NHWC') }, ...extra });
  const graph = {
    node: [
      { name: 'image', op: 'Placeholder', attr: { dtype: FLOAT, shape: { shape: dims([-1, 19, 21, 2]) } } },
      ...consts.map(([name, shape, dtype]) => ({ name, op: 'Const', attr: { value: { tensor: { dtype: dtype === 'int32' ? 'DT_INT32' : 'DT_FLOAT', tensorShape: dims(shape) } }, dtype: { type: dtype === 'int32' ? 'DT_INT32' : 'DT_FLOAT' } } })),
      op('pad', 'Pad', ['image', 'pad/paddings'], { Tpaddings: { type: 'DT_INT32' } }),
      op('conv', 'Conv2D', ['pad', 'conv/filter'], win([1, 2, 2, 1], 'SAME', { dilations: ints([1, 1, 1, 1]) })),
      op('conv/BiasAdd', 'BiasAdd', ['conv', 'conv/bias'], { data_format: { s: b64('NHWC') } }),
      op('conv/Relu', 'Relu', ['conv/BiasAdd']),
      op('dw', 'DepthwiseConv2dNative', ['conv/Relu', 'dw/filter'], win([1, 1, 1, 1], 'SAME', { dilations: ints([1, 2, 2, 1]) })),
      op('dw5', 'DepthwiseConv2dNative', ['conv/Relu', 'dw5/filter'], win([1, 1, 1, 1], 'SAME', { dilations: ints([1, 1, 1, 1]) })),
      op('add', 'AddV2', ['dw', 'dw5']),
      op('maxpool', 'MaxPool', ['add'], win([1, 2, 2, 1], 'SAME', { ksize: ints([1, 3, 3, 1]) })),
      op('avg', 'AvgPool', ['maxpool'], win([1, 1, 1, 1], 'VALID', { ksize: ints([1, 2, 2, 1]) })),
      op('gap', 'Mean', ['avg', 'gap/axes'], { Tidx: { type: 'DT_INT32' }, keep_dims: { b: false } }),
    ],
    versions: { producer: 1 },
  };
  const rand = mulberry32(3);
  const arrays = consts.map(([, shape, dtype, v]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    return dtype === 'int32' ? Int32Array.from(v!) : Float32Array.from({ length: n }, () => 0.1 + rand());
  });
  const bytes = new Uint8Array(arrays.reduce((n, a) => n + a.byteLength, 0));
  let o = 0;
  for (const a of arrays) {
    bytes.set(new Uint8Array(a.buffer), o);
    o += a.byteLength;
  }
  const weightSpecs = consts.map(([name, shape, dtype]) => ({ name, shape, dtype }));
  return tfconv.loadGraphModel({ load: async () => ({ modelTopology: graph, weightSpecs, weightData: bytes.buffer, format: 'graph-model' }) });
}

function geometryLayers(): tfl.LayersModel {
  const x = tf.input({ shape: [19, 21, 2] });
  let t = tf.layers.zeroPadding2d({ padding: [[2, 1], [0, 3]] }).apply(x) as tfl.SymbolicTensor;
  t = tf.layers.conv2d({ name: 'conv', filters: 2, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }).apply(t) as tfl.SymbolicTensor;
  const a = tf.layers.depthwiseConv2d({ name: 'dw', kernelSize: 3, dilationRate: 2, padding: 'same' }).apply(t) as tfl.SymbolicTensor;
  const b = tf.layers.depthwiseConv2d({ name: 'dw5', kernelSize: 5, padding: 'same' }).apply(t) as tfl.SymbolicTensor;
  t = tf.layers.add({ name: 'add' }).apply([a, b]) as tfl.SymbolicTensor;
  t = tf.layers.maxPooling2d({ name: 'maxpool', poolSize: 3, strides: 2, padding: 'same' }).apply(t) as tfl.SymbolicTensor;
  t = tf.layers.averagePooling2d({ name: 'avg', poolSize: 2, strides: 1 }).apply(t) as tfl.SymbolicTensor;
  t = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(t) as tfl.SymbolicTensor;
  return tf.model({ inputs: x, outputs: t });
}

describe('GraphModel', () => {
  it('node attributes (strides, SAME/VALID, dilations, ksize, Pad) give the same fields as the LayersModel', async () => {
    const start = tf.memory().numTensors;
    const g = await geometryGraph();
    const l = geometryLayers();
    try {
      const gf = receptiveFields(g);
      const lf = receptiveFields(l);
      for (const name of ['conv', 'dw', 'dw5', 'add', 'maxpool', 'avg', 'gap']) expect(gf.get(name), name).toEqual(lf.get(name));
      expect(gf.get('conv/Relu')).toEqual(gf.get('conv'));
      // By hand: pad moves the start by (-2, 0); conv 3x3/2 SAME on 22x24: pad before 0 -> size 3, jump 2.
      expect(geo(gf.get('conv')!)).toEqual({ size: [3, 3], jump: [2, 2], start: [-2, 0] });
      // dilated 3x3 (effective 5) SAME, 1 px... 2 px before at jump 2: size 3 + 4*2 = 11, start -4.
      expect(geo(gf.get('dw')!)).toEqual({ size: [11, 11], jump: [2, 2], start: [-6, -4] });
      expect(gf.get('gap')!.global).toBe(true);
      expect(receptiveField(g, 'avg:0')).toEqual(gf.get('avg'));
    } finally {
      g.dispose();
      l.dispose();
    }
    expect(tf.memory().numTensors).toBe(start);
  });
});

describe('boxes and errors', () => {
  it('rfBox: box of a position, clipped to the image, padding amounts reported, never wrapped', () => {
    const f: ReceptiveField = { size: [7, 7], jump: [2, 2], start: [-3, -3], output: [8, 8] };
    expect(rfBox(f, 0, 0, { height: 16, width: 16 })).toEqual({
      top: -3, left: -3, bottom: 4, right: 4,
      clipped: { top: 0, left: 0, bottom: 4, right: 4 },
      pad: { top: 3, left: 3, bottom: 0, right: 0 },
    });
    const b = rfBox(f, 7, 3, { height: 16, width: 16 });
    expect(b.clipped).toEqual({ top: 11, left: 3, bottom: 16, right: 10 });
    expect(b.pad).toEqual({ top: 0, left: 0, bottom: 2, right: 0 });
    expect(() => rfBox(f, 20, 0, { height: 16, width: 16 })).toThrow(/only padding/);
    const g: ReceptiveField = { size: [20, 20], jump: [0, 0], start: [-2, -2], output: null, global: true };
    expect(rfBox(g, 0, 0, { height: 16, width: 16 }).clipped).toEqual({ top: 0, left: 0, bottom: 16, right: 16 });
  });

  it('unknown layer lists close names; layers after an upsampling say why they have no field', () => {
    const m = tf.sequential();
    m.add(tf.layers.conv2d({ name: 'conv_a', inputShape: [8, 8, 1], filters: 1, kernelSize: 3 }));
    m.add(tf.layers.upSampling2d({ name: 'up', size: [2, 2] }));
    m.add(tf.layers.conv2d({ name: 'conv_b', filters: 1, kernelSize: 3 }));
    try {
      expect(geo(receptiveField(m, 'conv_a'))).toEqual(field(3, 1, 0));
      expect(() => receptiveField(m, 'conv_c')).toThrow(/'conv_c' is not in the model; did you mean: conv_a, conv_b/);
      expect(() => receptiveField(m, 'up')).toThrow(expect.objectContaining({ code: 'BAD_MODEL', message: expect.stringMatching(/UpSampling2D maps one input position to several/) }));
      expect(() => receptiveField(m, 'conv_b')).toThrow(/after up \(UpSampling2D\)/);
    } finally {
      m.dispose();
    }
  });
});

// ---- video networks: Conv3D / pooling 3-D fields in space and in time ----

/** Input (t, y, x) positions with a nonzero gradient of output (t, y, x) of `layer`, all channels. */
function clipSupport(model: tfl.LayersModel, layer: string, pos: [number, number, number], clip: tfc.Tensor): boolean[] {
  const sub = tf.model({ inputs: model.inputs, outputs: model.getLayer(layer).output as tfl.SymbolicTensor });
  const g = tf.tidy(() => {
    const grad = tf.grad((inp: tfc.Tensor) => tf.sum(tf.slice(sub.predict(inp) as tfc.Tensor, [0, ...pos, 0], [1, 1, 1, 1, -1])))(clip);
    return tf.sum(tf.abs(grad), -1);
  });
  const v = g.dataSync();
  g.dispose();
  return Array.from(v, (a) => a > 0);
}

/** The (t, y, x) mask of frames x box the field says output `pos` sees, clipped to the clip. */
function clipBoxMask(f: ReceptiveField, pos: [number, number, number], [T, H, W]: [number, number, number]): boolean[] {
  const time = timeOf(f)!;
  const fr = rfFrames(time, f.global ? 0 : pos[0], T);
  const box = rfBox(f, pos[1], pos[2], { height: H, width: W }).clipped;
  return Array.from({ length: T * H * W }, (_, i) => {
    const t = Math.floor(i / (H * W));
    const y = Math.floor((i % (H * W)) / W);
    const x = i % W;
    return t >= fr.clipped.first && t < fr.clipped.end && y >= box.top && y < box.bottom && x >= box.left && x < box.right;
  });
}

function positiveWeights(model: tfl.LayersModel, seed: number, skip: string[] = []): void {
  const rand = mulberry32(seed);
  for (const l of model.layers) {
    if (skip.includes(l.name)) continue;
    const ws = l.getWeights().map((w) => tf.tensor(Float32Array.from({ length: w.size }, () => 0.1 + 0.9 * rand()), w.shape));
    l.setWeights(ws);
    tf.dispose(ws);
  }
}

/** Corner and centre positions of a layer's (t, y, x) output grid. */
function clipProbes(f: ReceptiveField): [number, number, number][] {
  const T = timeOf(f)!.output ?? 1;
  const [h, w] = f.output ?? [1, 1];
  return [[0, 0, 0], [T - 1, h - 1, w - 1], [Math.floor(T / 2), Math.floor(h / 2), Math.floor(w / 2)], [T - 1, 0, w - 1]];
}

describe('video networks (Conv3D, MaxPooling3D, AveragePooling3D, 1x1x1 channel selection)', () => {
  it('buildTwoStream: spatial fields as in 2-D, temporal extents by hand, the gradient support inside frames x box (exact before the first max pool)', () => {
    const [T, H, W] = [4, 12, 12] as [number, number, number];
    const model = buildTwoStream({ frames: T, height: H, width: W, appearance: 3, motion: 2, classes: 2, width0: 2 }, 5);
    positiveWeights(model, 21, ['rgb', 'motion']);
    // After building: the selection layers' initial weight tensors are the builder's, not ours.
    const start = tf.memory().numTensors;
    const rand = mulberry32(22);
    const clip = tf.tensor5d(Float32Array.from({ length: T * H * W * 5 }, () => 0.5 + 0.5 * rand()), [1, T, H, W, 5]);
    try {
      const f = receptiveFields(model);
      const time = (n: string) => timeOf(f.get(n)!);
      // 1x1x1 selection: one frame, one pixel. Appearance (temporal kernel 1): one frame all the way.
      expect(geo(f.get('rgb')!)).toEqual(field(1, 1, 0));
      expect(time('rgb')).toEqual({ size: 1, jump: 1, start: 0, output: T });
      expect(time('app_conv2')).toEqual({ size: 1, jump: 1, start: 0, output: T });
      expect(geo(f.get('app_conv2')!)).toEqual(field(8, 2, -3));
      // Motion: 3 frames per 3x3x3 'same' conv, pool [2, 2, 2] doubles the temporal jump.
      expect(time('mot_conv1')).toEqual({ size: 3, jump: 1, start: -1, output: T });
      expect(time('mot_conv2')).toEqual({ size: 5, jump: 1, start: -2, output: T });
      expect(time('mot_pool2')).toEqual({ size: 6, jump: 2, start: -2, output: T / 2 });
      expect(time('mot_conv3')).toEqual({ size: 10, jump: 2, start: -4, output: T / 2 });
      // Average over time: one position seeing the whole clip; the fusion merges both streams.
      expect(time('app_time')).toEqual({ size: T, jump: T, start: 0, output: 1 });
      expect(time('fusion')!.output).toBe(1);
      expect(rfFrames(time('fusion')!, 0, T).clipped).toEqual({ first: 0, end: T });
      expect(time('logits')).toMatchObject({ global: true, jump: 0 });
      const exact = new Set(['rgb', 'motion', 'app_conv1', 'mot_conv1']);
      let checked = 0;
      for (const name of ['rgb', 'motion', 'app_conv1', 'mot_conv1', 'app_pool1', 'mot_conv2', 'mot_pool2', 'mot_conv3', 'app_time', 'mot_time', 'fusion']) {
        for (const pos of clipProbes(f.get(name)!)) {
          const expected = clipBoxMask(f.get(name)!, pos, [T, H, W]);
          const got = clipSupport(model, name, pos, clip);
          if (exact.has(name)) expect(got, `${name} ${pos.join(',')}`).toEqual(expected);
          else {
            // Max pools pass the gradient to one input per window: the support lies inside the field.
            expect(got.every((g, i) => !g || expected[i]), `${name} ${pos.join(',')}`).toBe(true);
            expect(got.some(Boolean)).toBe(true);
          }
          checked++;
        }
      }
      expect(checked).toBe(44);
      clip.dispose();
      expect(tf.memory().numTensors).toBe(start);
    } finally {
      clip.dispose();
      model.dispose();
    }
  }, 120_000);

  it('strided / valid / same Conv3D and AveragePooling3D in time: the gradient support is exactly frames x box', () => {
    const start = tf.memory().numTensors;
    const [T, H, W] = [9, 10, 11] as [number, number, number];
    const x = tf.input({ shape: [T, H, W, 2], name: 'clip' });
    let t = tf.layers.conv3d({ name: 'c1', filters: 2, kernelSize: [3, 3, 3], strides: [2, 1, 1], padding: 'same', activation: 'relu' }).apply(x) as tfl.SymbolicTensor;
    const a = tf.layers.conv3d({ name: 'c2', filters: 2, kernelSize: [2, 3, 1], padding: 'valid', activation: 'relu' }).apply(t) as tfl.SymbolicTensor;
    const b = tf.layers.averagePooling3d({ name: 'p', poolSize: [2, 3, 1], strides: [1, 1, 1], padding: 'valid' }).apply(t) as tfl.SymbolicTensor;
    t = tf.layers.concatenate({ name: 'cat' }).apply([a, b]) as tfl.SymbolicTensor;
    t = tf.layers.averagePooling3d({ name: 'p2', poolSize: [2, 2, 2], padding: 'same' }).apply(t) as tfl.SymbolicTensor;
    const model = tf.model({ inputs: x, outputs: t });
    positiveWeights(model, 31);
    const rand = mulberry32(32);
    const clip = tf.tensor5d(Float32Array.from({ length: T * H * W * 2 }, () => 0.5 + 0.5 * rand()), [1, T, H, W, 2]);
    try {
      const f = receptiveFields(model);
      expect(timeOf(f.get('c1')!)).toEqual({ size: 3, jump: 2, start: -1, output: 5 });
      expect(timeOf(f.get('c2')!)).toEqual({ size: 5, jump: 2, start: -1, output: 4 });
      for (const name of ['c1', 'c2', 'p', 'cat', 'p2']) {
        for (const pos of clipProbes(f.get(name)!)) {
          expect(clipSupport(model, name, pos, clip), `${name} ${pos.join(',')}`).toEqual(clipBoxMask(f.get(name)!, pos, [T, H, W]));
        }
      }
      // Image models get no time axis.
      const image = geometryLayers();
      expect(timeOf(receptiveFields(image).get('conv')!)).toBeNull();
      image.dispose();
    } finally {
      clip.dispose();
      model.dispose();
    }
    expect(tf.memory().numTensors).toBe(start);
  }, 120_000);
});
