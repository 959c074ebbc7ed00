/**
 * Clip pictures (src/explain/actmax-clip*.ts, clip-attribution.ts, clip-render.ts) with real tfjs
 * on the cpu backend (Conv3D on wasm is slow until the project's Conv3D kernels land), on
 * known-answer models with hand-set Conv3D weights, and one short run on the demo two-stream net.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { tf, tfc, type tfl } from '../src/model/tf.js';
import { setupBackend } from '../src/model/backend.js';
import { isNeurolensError } from '../src/errors.js';
import { buildTwoStream } from '../src/video/model.js';
import { actmaxClip, actmaxTemporalSweep, rollClip, slownessOf } from '../src/explain/actmax-clip.js';
import { ClipObjective, clipStreams } from '../src/explain/actmax-clip-target.js';
import { meanTemporalFrequency, spatialVariation, temporalVariation, temporalVariationOf } from '../src/explain/actmax-clip-regularizers.js';
import { resolveClipSettings } from '../src/explain/actmax-clip-settings.js';
import { clipGradCam, clipSaliency, upsampleClipMap } from '../src/explain/clip-attribution.js';
import { appearanceFrames, heatFrames, motionFrames, normalizeHeatFrames } from '../src/explain/clip-render.js';
import { mulberry32 } from '../src/train/prng.js';

beforeAll(async () => {
  await setupBackend('cpu');
});

/**
 * Temporal units on a [4, 6, 6, 2] clip (grey + one motion channel): Conv3D `units`, kernel
 * [2, 1, 1] valid, ReLU, no bias, reading only the motion channel m:
 *   channel 0 (fast): relu(m[t+1] - m[t])        - a temporal difference, fires on change
 *   channel 1 (slow): relu((m[t] + m[t+1]) / 2)  - a temporal average, fires on a steady input
 */
function temporalUnits(): tfl.LayersModel {
  const input = tf.input({ name: 'clip', shape: [4, 6, 6, 2] });
  const conv = tf.layers.conv3d({ name: 'units', filters: 2, kernelSize: [2, 1, 1], useBias: false, activation: 'relu' });
  const out = conv.apply(input) as tfl.SymbolicTensor;
  const model = tf.model({ name: 'temporal_units', inputs: input, outputs: out });
  const k = new Float32Array(2 * 2 * 2); // [kt, 1, 1, in 2, out 2]
  const at = (t: number, c: number, o: number) => (t * 2 + c) * 2 + o;
  k[at(0, 1, 0)] = -1;
  k[at(1, 1, 0)] = 1;
  k[at(0, 1, 1)] = 0.5;
  k[at(1, 1, 1)] = 0.5;
  conv.setWeights([tf.tensor5d(k, [2, 1, 1, 2, 2])]);
  return model;
}

/**
 * Attribution net on [4, 8, 8, 2] clips (grey + frame difference):
 *   feat    Conv3D 1x1x1, identity weights, ReLU             -> [4, 8, 8, 2]
 *   window  Conv3D 4x8x8 valid, 1 filter, no bias: weight 1 on the grey channel of frame 2,
 *           rows/cols 0..3, and on the motion channel of frame 1, rows/cols 4..7; 0 elsewhere
 *   flat, fc Dense 1 -> 2 softmax, weights [1, -1]: p0 = sigmoid(2 z), z = the window sum.
 * Only those two blocks carry signal: every other input has gradient exactly 0.
 */
const AT = { T: 4, H: 8, W: 8, C: 2 };
function windowNet(): tfl.LayersModel {
  const { T, H, W, C } = AT;
  const m = tf.sequential({ name: 'window_net' });
  m.add(tf.layers.conv3d({ name: 'feat', inputShape: [T, H, W, C], filters: 2, kernelSize: 1, activation: 'relu' }));
  m.add(tf.layers.conv3d({ name: 'window', filters: 1, kernelSize: [T, H, W], useBias: false }));
  m.add(tf.layers.flatten({ name: 'flat' }));
  m.add(tf.layers.dense({ name: 'fc', units: 2, activation: 'softmax' }));
  m.getLayer('feat').setWeights([tf.tensor5d([1, 0, 0, 1], [1, 1, 1, 2, 2]), tf.zeros([2])]);
  const w = new Float32Array(T * H * W * C);
  for (let t = 0; t < T; t++) {
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const i = ((t * H + y) * W + x) * C;
        if (t === 2 && y < 4 && x < 4) w[i] = 1;
        if (t === 1 && y >= 4 && x >= 4) w[i + 1] = 1;
      }
    }
  }
  m.getLayer('window').setWeights([tf.tensor5d(w, [T, H, W, C, 1])]);
  m.getLayer('fc').setWeights([tf.tensor2d([[1, -1]]), tf.zeros([2])]);
  return m;
}

const idx = (t: number, y: number, x: number, c: number) => ((t * AT.H + y) * AT.W + x) * AT.C + c;
const inWindow = (t: number, y: number, x: number, c: number) => (c === 0 && t === 2 && y < 4 && x < 4) || (c === 1 && t === 1 && y >= 4 && x >= 4);

describe('clip regularizers (known answers)', () => {
  it('spatial / temporal variation match hand sums; frequency of a flip is 0.5, of a constant 0', () => {
    // u [1, T=3, H=2, W=2, 1]: frame t is t * [[0, 1], [2, 3]].
    const vals = [0, 1, 2].flatMap((t) => [0, 1, 2, 3].map((v) => t * v));
    const [sp, tv] = tfc.tidy(() => {
      const u = tfc.tensor5d(vals, [1, 3, 2, 2, 1]);
      return [spatialVariation(u, 2, 2).dataSync()[0]!, temporalVariation(u, 2).dataSync()[0]!];
    });
    // Only pixel (0, 0) has both neighbours: dx = t, dy = 2t -> (t^2 + 4 t^2) / 4, mean over t = 0, 1, 2.
    expect(sp).toBeCloseTo(((0 + 5 + 20) / 4) / 3, 5);
    // D_t u = [0, 1, 2, 3] for both pairs: mean of squares / B^2 = 3.5 / 4.
    expect(tv).toBeCloseTo(3.5 / 4, 5);
    const shape = { frames: 3, height: 2, width: 2, channels: 1 };
    expect(temporalVariationOf(vals, shape, { from: 0, count: 1 })).toBeCloseTo(3.5, 5);
    const flip = { frames: 4, height: 1, width: 1, channels: 1 };
    expect(meanTemporalFrequency([1, -1, 1, -1], flip, { from: 0, count: 1 })).toBeCloseTo(0.5, 6);
    expect(meanTemporalFrequency([2, 2, 2, 2], flip, { from: 0, count: 1 })).toBe(0);
  });

  it('rollClip shifts frames and pixels circularly', () => {
    const out = tfc.tidy(() => Array.from(rollClip(tfc.tensor5d([0, 1, 2, 3], [1, 4, 1, 1, 1]), 1, 0, 0).dataSync()));
    expect(out).toEqual([3, 0, 1, 2]);
  });

  it('settings are checked with NeurolensError naming the field', () => {
    expect(resolveClipSettings({ motion: { kappa: 3 } }).motion.kappa).toBe(3);
    for (const bad of [{ motion: { kappa: -1 } }, { appearance: { range: 0 } }, { steps: 0 }]) {
      try {
        resolveClipSettings(bad);
        expect.unreachable();
      } catch (e) {
        expect(isNeurolensError(e)).toBe(true);
      }
    }
    expect(clipStreams(5)).toEqual({ appearance: 3, motion: 2 });
    expect(clipStreams(3, 1)).toEqual({ appearance: 1, motion: 2 });
  });
});

describe('spatiotemporal actmax and the kappa sweep', () => {
  const kappas = [0, 1, 10];
  const common = {
    steps: 60,
    lr: 0.1,
    seed: 3,
    jitter: 1,
    appearance: { alphaWeight: 0, tvWeight: 1 },
    motion: { alphaWeight: 0, tvWeight: 1, range: 1 },
  };

  it('the fast (temporal-difference) unit collapses as kappa grows; the slow (average) unit keeps its activation', async () => {
    const model = temporalUnits();
    try {
      const fast = await actmaxTemporalSweep(model, 'units', 0, kappas, { ...common, stream: 'motion' });
      const slow = await actmaxTemporalSweep(model, 'units', 1, kappas, { ...common, stream: 'motion' });
      // Fast: with kappa = 0 it flips every frame (the optimum, 4/3 for a +-1 flow); under kappa the
      // best per-frame step is d* = 1 / (2 kappa) (objective d - kappa d^2), 0.05 at kappa = 10.
      expect(fast.activation[0]!).toBeGreaterThan(0.3);
      expect(fast.activation[2]!).toBeLessThan(0.1 * fast.activation[0]!);
      expect(fast.activation[2]!).toBeCloseTo(0.05, 2);
      expect(fast.activation[1]!).toBeLessThanOrEqual(fast.activation[0]! + 1e-3);
      expect(fast.activation[2]!).toBeLessThanOrEqual(fast.activation[1]! + 1e-3);
      expect(fast.slowness!).toBeLessThan(0.1);
      expect(fast.frameDifference[2]!).toBeLessThan(0.01 * fast.frameDifference[0]!);
      expect(fast.temporalFrequency[0]!).toBeGreaterThan(0);
      // Slow: a steady bright flow field is optimal whatever kappa.
      expect(slow.activation[0]!).toBeGreaterThan(0.9);
      expect(slow.slowness!).toBeGreaterThan(0.9);
      // The units ignore the grey channel: only its (zero-weight alpha, TV) priors act, it stays grey.
      for (const r of [...fast.results, ...slow.results]) {
        for (let i = 0; i < r.clip.length; i += 2) expect(Math.abs(r.clip[i]! - 0.5)).toBeLessThan(0.05);
      }
      expect(slownessOf([0, 1], [0, 1])).toBeNull();
    } finally {
      model.dispose();
    }
  });

  it('normalizes by the dataset max and is reproducible for a seed', async () => {
    const model = temporalUnits();
    try {
      const o = { ...common, steps: 10, layer: 'units', channel: 1, datasetMax: 2, reduce: 'centre' as const };
      const a = await actmaxClip(model, o);
      const b = await actmaxClip(model, o);
      expect(Array.from(a.clip)).toEqual(Array.from(b.clip));
      expect(a.normalized!.centre).toBeCloseTo(a.activation.centre / 2, 6);
      expect(a.trace.at(-1)![1]).toBeLessThan(a.trace[0]![1]);
      expect(a.appearance && a.motion).toBeTruthy();
    } finally {
      model.dispose();
    }
  });

  it('a motion-stream unit of the demo two-stream net: activation rises, appearance stays grey', async () => {
    const model = buildTwoStream({ frames: 4, height: 16, width: 16, appearance: 3, motion: 2, classes: 3 }, 1);
    try {
      // Appearance priors off: no path leads from the appearance channels to mot_conv1, so their
      // gradient is exactly 0 and Adam leaves them at the initial grey (sigmoid of N(0, 0.01)).
      // (With priors on, Adam's per-parameter normalization moves them by ~lr * sigmoid' a step
      // even for tiny prior gradients.)
      const r = await actmaxClip(model, { layer: 'mot_conv1', channel: 0, steps: 6, lr: 0.1, jitter: 2, appearance: { alphaWeight: 0, tvWeight: 0 } });
      expect(r.shape).toEqual({ frames: 4, height: 16, width: 16, channels: 5 });
      expect(r.streams).toEqual({ appearance: 3, motion: 2 });
      expect(r.layer.outputShape).toEqual([null, 4, 16, 16, 16]);
      expect(r.activation.mean).toBeGreaterThan(0);
      expect(r.trace.at(-1)![1]).toBeLessThan(r.trace[0]![1]);
      const first = await actmaxClip(model, { layer: 'mot_conv1', channel: 0, steps: 1, lr: 0.1, jitter: 2, appearance: { alphaWeight: 0, tvWeight: 0 } });
      let mot = 0;
      for (let i = 0; i < r.clip.length; i++) {
        if (i % 5 < 3) expect(r.clip[i]).toBe(first.clip[i]);
        else mot = Math.max(mot, Math.abs(r.clip[i]!));
      }
      expect(mot).toBeGreaterThan(0.1);
    } finally {
      model.dispose();
    }
  });
});

describe('clip attribution', () => {
  it('saliency: appearance peaks only in frame 2 top-left, motion only in frame 1 bottom-right; values = dp/dz', () => {
    const model = windowNet();
    try {
      const rand = mulberry32(7);
      const clip = Float32Array.from({ length: AT.T * AT.H * AT.W * AT.C }, () => 0.2 + 0.3 * rand());
      const r = clipSaliency(model, clip, { kind: 'class', index: 0 });
      let z = 0;
      for (let i = 0; i < clip.length; i++) {
        const c = i % 2;
        const p = (i - c) / 2;
        const x = p % AT.W;
        const y = Math.floor(p / AT.W) % AT.H;
        const t = Math.floor(p / (AT.W * AT.H));
        if (inWindow(t, y, x, c)) z += clip[i]!;
      }
      const p0 = 1 / (1 + Math.exp(-2 * z));
      expect(r.score).toBeCloseTo(p0, 5);
      expect(r.appearance).toHaveLength(4);
      expect(r.motion).toHaveLength(4);
      for (let t = 0; t < 4; t++) {
        for (let y = 0; y < 8; y++) {
          for (let x = 0; x < 8; x++) {
            const a = r.appearance[t]![y * 8 + x]!;
            const m = r.motion[t]![y * 8 + x]!;
            if (inWindow(t, y, x, 0)) expect(a).toBeCloseTo(2 * p0 * (1 - p0), 5);
            else expect(a).toBe(0);
            if (inWindow(t, y, x, 1)) expect(m).toBeCloseTo(2 * p0 * (1 - p0), 5);
            else expect(m).toBe(0);
          }
        }
      }
      // A unit target: d z / d x is exactly 1 in the windows.
      const u = clipSaliency(model, clip, { kind: 'neuron', layer: 'window', channel: 0 });
      expect(u.score).toBeCloseTo(z, 4);
      expect(u.gradient[idx(2, 1, 1, 0)]).toBeCloseTo(1, 6);
      expect(u.gradient[idx(1, 5, 5, 1)]).toBeCloseTo(1, 6);
      expect(u.gradient[idx(0, 1, 1, 0)]).toBe(0);
    } finally {
      model.dispose();
    }
  });

  it('Grad-CAM on a Conv3D layer: known weights, peak at the frame / region that carries the signal', () => {
    const model = windowNet();
    try {
      const clip = new Float32Array(AT.T * AT.H * AT.W * AT.C).fill(0.1);
      for (const [y, x] of [[1, 1], [1, 2], [2, 1], [2, 2]]) clip[idx(2, y!, x!, 0)] = 1;
      const obj = ClipObjective.create(model, { kind: 'class', index: 0 });
      const r = clipGradCam(obj, clip);
      expect(r.layer).toBe('feat');
      expect([r.camT, r.camH, r.camW]).toEqual([4, 8, 8]);
      const z = 16 * 0.1 + 4 * 0.9 + 16 * 0.1;
      const p0 = 1 / (1 + Math.exp(-2 * z));
      const w = (16 * 2 * p0 * (1 - p0)) / 256;
      expect(r.weights[0]).toBeCloseTo(w, 6);
      expect(r.weights[1]).toBeCloseTo(w, 6);
      expect(r.cam[(2 * 8 + 1) * 8 + 1]).toBeCloseTo(w * 1.1, 6);
      expect(r.cam[0]).toBeCloseTo(w * 0.2, 6);
      let best = -1;
      let at = -1;
      r.frames.forEach((f, t) => f.forEach((v, p) => v > best && ((best = v), (at = t * 64 + p))));
      const t = Math.floor(at / 64);
      const y = Math.floor((at % 64) / 8);
      const x = at % 8;
      expect(t).toBe(2);
      expect(y >= 1 && y <= 2 && x >= 1 && x <= 2).toBe(true);
    } finally {
      model.dispose();
    }
  });

  it('Grad-CAM on a temporally pooled layer of the two-stream net is upsampled to every frame', () => {
    const model = buildTwoStream({ frames: 4, height: 16, width: 16, appearance: 3, motion: 2, classes: 3 }, 1);
    try {
      const rand = mulberry32(1);
      const clip = Float32Array.from({ length: 4 * 16 * 16 * 5 }, () => rand() - 0.5);
      const r = clipGradCam(model, clip, { kind: 'class', index: 1 }, { layer: 'mot_conv3' });
      expect([r.camT, r.camH, r.camW]).toEqual([2, 4, 4]);
      expect(r.frames).toHaveLength(4);
      expect(r.frames[0]).toHaveLength(256);
      const d = clipGradCam(model, clip, { kind: 'class', index: 1 });
      expect(d.layer).toBe('fusion');
    } finally {
      model.dispose();
    }
  });

  it('upsampleClipMap interpolates linearly in time with half-pixel centres', () => {
    const f = upsampleClipMap(Float32Array.from([0, 1]), { frames: 2, height: 1, width: 1 }, { frames: 4, height: 2, width: 2 });
    expect(f.map((m) => m[0])).toEqual([0, 0.25, 0.75, 1]);
    expect(Array.from(f[1]!)).toEqual([0.25, 0.25, 0.25, 0.25]);
  });
});

describe('clip render arrays', () => {
  it('appearance frames invert the preprocessing; motion frames are divided by the motion scale', () => {
    const shape = { frames: 2, height: 1, width: 2, channels: 5 };
    const streams = { appearance: 3, motion: 2 };
    const pre = { scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
    const rgb = [
      [10, 200, 30, 255, 0, 128],
      [1, 2, 3, 4, 5, 6],
    ];
    const clip = new Float32Array(2 * 2 * 5);
    for (let t = 0; t < 2; t++) {
      for (let p = 0; p < 2; p++) {
        for (let c = 0; c < 3; c++) clip[(t * 2 + p) * 5 + c] = (rgb[t]![p * 3 + c]! * pre.scale - pre.mean[c]!) / pre.std[c]!;
        clip[(t * 2 + p) * 5 + 3] = 2 * (t + p);
        clip[(t * 2 + p) * 5 + 4] = -4;
      }
    }
    const frames = appearanceFrames(clip, shape, streams, pre);
    expect(frames.map((f) => Array.from(f))).toEqual(rgb);
    const mot = motionFrames(clip, shape, streams, 2);
    expect(Array.from(mot[1]!.u)).toEqual([1, 2]);
    expect(Array.from(mot[1]!.v!)).toEqual([-2, -2]);
    const grey = appearanceFrames(Float32Array.from([0.5, 0.1]), { frames: 1, height: 1, width: 1, channels: 2 }, { appearance: 1, motion: 1 }, { scale: 1 / 255, mean: [0], std: [1] });
    expect(Array.from(grey[0]!)).toEqual([128, 128, 128]);
  });

  it('heat frames split per frame and normalize with one range over the clip', () => {
    const f = heatFrames([0, 1, 2, 4], 2, 1, 2);
    const n = normalizeHeatFrames(f);
    expect(n.frames.map((x) => Array.from(x))).toEqual([[0, 0.25], [0.5, 1]]);
    expect(normalizeHeatFrames(f, 'frame').frames.map((x) => Array.from(x))).toEqual([[0, 1], [0, 1]]);
  });
});
