import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tfl } from '../src/model/tf.js';
import { setupBackend } from '../src/model/backend.js';
import { loadModelDir } from '../src/model/io.js';
import { NeurolensError } from '../src/errors.js';
import {
  TRAIN_DEFAULTS,
  trainDemo,
  epochOrder,
  checkpointSteps,
  checkpointName,
  evaluate,
  loadFashionMnist,
  buildDemoCnn,
  DEMO_LAYER_NAMES,
  learningRateAt,
  type MetricsRecord,
  type TrainOptions,
  type TrainSummary,
} from '../src/train/index.js';

const FM = TRAIN_DEFAULTS.dataDir;

beforeAll(async () => {
  await setupBackend('wasm');
});

describe('seeded data order', () => {
  it('each epoch is a permutation, reproducible from the seed, different across epochs and seeds', () => {
    const a = epochOrder(1000, 5, 0);
    expect(Array.from(a).sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(Array.from(epochOrder(1000, 5, 0))).toEqual(Array.from(a));
    expect(Array.from(epochOrder(1000, 5, 1))).not.toEqual(Array.from(a));
    expect(Array.from(epochOrder(1000, 6, 0))).not.toEqual(Array.from(a));
  });
  it('checkpoint schedule: step 0, every N, and the last step', () => {
    expect(checkpointSteps(40, 10)).toEqual([0, 10, 20, 30, 40]);
    expect(checkpointSteps(25, 10)).toEqual([0, 10, 20, 25]);
    expect(checkpointName(300)).toBe('ckpt-000300');
  });
  it('cosine schedule starts at the base rate, decays monotonically to 2% of it; constant stays', () => {
    const lrs = Array.from({ length: 101 }, (_, t) => learningRateAt('cosine', 1e-3, t, 100));
    expect(lrs[0]).toBeCloseTo(1e-3, 12);
    expect(lrs[50]).toBeCloseTo((1e-3 + 2e-5) / 2, 12);
    expect(lrs[100]).toBeCloseTo(2e-5, 12);
    for (let t = 1; t <= 100; t++) expect(lrs[t]).toBeLessThan(lrs[t - 1]);
    expect(learningRateAt('constant', 1e-3, 70, 100)).toBe(1e-3);
  });
  it('the demo CNN has the documented layer names and is seeded', () => {
    const a = buildDemoCnn(3);
    const b = buildDemoCnn(3);
    const c = buildDemoCnn(4);
    expect(a.layers.map((l) => l.name)).toEqual([...DEMO_LAYER_NAMES]);
    const w = (m: tfl.LayersModel) => Array.from(m.getWeights()[0].dataSync());
    expect(w(b)).toEqual(w(a));
    expect(w(c)).not.toEqual(w(a));
    [a, b, c].forEach((m) => m.dispose());
  });
});

describe.skipIf(!existsSync(FM))('trainDemo on Fashion-MNIST subsets (wasm)', () => {
  let root: string;
  let runA: TrainSummary;
  const base = (out: string, over: Partial<TrainOptions> = {}): TrainOptions => ({
    ...TRAIN_DEFAULTS,
    out,
    limit: 640,
    testLimit: 500,
    batchSize: 32,
    epochs: 2,
    checkpointEvery: 10,
    seed: 3,
    backend: 'wasm',
    ...over,
  });

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'train-test-'));
    // 2 epochs x 20 steps of 32 images, checkpoints every 10 steps.
    runA = await trainDemo(base(join(root, 'a')));
  }, 120_000);
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('writes the checkpoint series and one metrics line per checkpoint', async () => {
    expect(runA.steps).toBe(40);
    const names = ['ckpt-000000', 'ckpt-000010', 'ckpt-000020', 'ckpt-000030', 'ckpt-000040'];
    expect(runA.checkpoints).toEqual(names);
    expect((await readdir(join(root, 'a'))).sort()).toEqual([...names, 'metrics.jsonl']);
    const lines = (await readFile(join(root, 'a', 'metrics.jsonl'), 'utf8')).trim().split('\n');
    const recs = lines.map((l) => JSON.parse(l) as MetricsRecord);
    expect(recs.map((r) => r.step)).toEqual([0, 10, 20, 30, 40]);
    expect(recs.map((r) => r.epoch)).toEqual([0, 0.5, 1, 1.5, 2]);
    expect(recs[0].loss).toBeNull();
    expect(recs[0].learning_rate).toBe(TRAIN_DEFAULTS.learningRate);
    expect(recs[4].learning_rate).toBeCloseTo(TRAIN_DEFAULTS.learningRate * 0.02, 12);
    expect(recs.every((r) => r.test_samples === 500)).toBe(true);
  });

  it('learns: training and test loss go down, test accuracy goes up from chance', async () => {
    const recs = (await readFile(join(root, 'a', 'metrics.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as MetricsRecord);
    const first = recs[1];
    const last = recs[recs.length - 1];
    expect(last.loss!).toBeLessThan(first.loss!);
    expect(last.test_loss).toBeLessThan(recs[0].test_loss);
    expect(recs[0].test_accuracy).toBeLessThan(0.3);
    expect(last.test_accuracy).toBeGreaterThan(0.6);
  });

  it('keeps the number of live tensors flat', () => {
    expect(runA.tensorsAtEnd).toBe(runA.tensorsAfterFirstStep);
  });

  it('checkpoints reload with metadata and reproduce the recorded test metrics exactly', async () => {
    const test = await loadFashionMnist(FM, 't10k', 500);
    const recs = (await readFile(join(root, 'a', 'metrics.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as MetricsRecord);
    for (const rec of [recs[0], recs[4]]) {
      const loaded = await loadModelDir(join(root, 'a', rec.checkpoint));
      expect(loaded.kind).toBe('layers');
      expect(loaded.step).toBe(rec.step);
      expect((loaded.userDefinedMetadata?.neurolens as { seed: number }).seed).toBe(3);
      const m = loaded.model as tfl.LayersModel;
      const ev = evaluate(m, test);
      // Same weights + same kernels => bit-identical predictions => identical metrics.
      expect(ev.accuracy).toBe(rec.test_accuracy);
      expect(ev.loss).toBe(rec.test_loss);
      m.dispose();
    }
  });

  it('is deterministic: same seed => byte-identical checkpoints; another seed differs', async () => {
    await trainDemo(base(join(root, 'b')));
    await trainDemo(base(join(root, 'c'), { seed: 4, epochs: 1, checkpointEvery: 5 }));
    const shard = (run: string, ckpt: string) => readFile(join(root, run, ckpt, 'group1-shard1of1.bin'));
    for (const ckpt of runA.checkpoints) expect((await shard('b', ckpt)).equals(await shard('a', ckpt))).toBe(true);
    // The recorded metrics agree too (all but wall-clock time).
    const metricsOf = async (run: string) =>
      (await readFile(join(root, run, 'metrics.jsonl'), 'utf8'))
        .trim()
        .split('\n')
        .map((l) => ({ ...(JSON.parse(l) as MetricsRecord), elapsed_s: 0 }));
    expect(await metricsOf('b')).toEqual(await metricsOf('a'));
    for (const ckpt of ['ckpt-000000', 'ckpt-000010']) expect((await shard('c', ckpt)).equals(await shard('a', ckpt))).toBe(false);
  }, 60_000);

  it('refuses to mix a new series into an existing one unless --overwrite', async () => {
    const err = await trainDemo(base(join(root, 'a'), { epochs: 1 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NeurolensError);
    expect((err as NeurolensError).code).toBe('BAD_SPEC');
    expect((err as NeurolensError).message).toMatch(/already holds 5 checkpoints.*--overwrite/);
    const s = await trainDemo(base(join(root, 'a'), { epochs: 1, limit: 64, checkpointEvery: 1, overwrite: true }));
    expect(s.checkpoints).toEqual(['ckpt-000000', 'ckpt-000001', 'ckpt-000002']);
    expect((await readdir(join(root, 'a'))).sort()).toEqual(['ckpt-000000', 'ckpt-000001', 'ckpt-000002', 'metrics.jsonl']);
  }, 60_000);
});
