/**
 * The dataset-scale occlusion stage (src/explain/occlusion-map.ts) on a real pipeline store:
 * stored grids equal drops computed independently with model.predict on hand-occluded images,
 * one row per sample and class, resume skips finished parts, a grown --limit replaces the cut
 * shard without duplicates, and bad input is refused with clear errors.
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf, type tfc } from '../src/model/tf.js';
import { setupBackend } from '../src/model/backend.js';
import { loadModelDir } from '../src/model/io.js';
import { loadSpec } from '../src/pipeline/spec.js';
import { runPipeline } from '../src/pipeline/runner.js';
import { Store, TABLES, viewColumns } from '../src/storage/index.js';
import { isNeurolensError } from '../src/errors.js';
import { occlusionMap } from '../src/explain/occlusion-map.js';
import { registerOcclusionMap } from '../src/cli/occlusion-map.js';
import { fixtureImage, makePipelineFixture, type PipelineFixture } from './fixtures/pipeline.js';
import { H, W } from './fixtures/models.js';

let tmp: string;
let fx: PipelineFixture;
const N = 24;
const partDir = (step: number) => path.join(fx.store, 'occlusion', 'dataset=edges', 'model=edge-net', `step=${step}`);

beforeAll(async () => {
  await setupBackend('wasm');
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'nl-occmap-'));
  fx = await makePipelineFixture(path.join(tmp, 'pipe'), N);
  expect((await runPipeline(await loadSpec(fx.specFile), { workers: 1, backend: 'wasm' })).status).toBe('succeeded');
}, 180_000);
afterAll(async () => {
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

async function rows(sql: string): Promise<Record<string, unknown>[]> {
  const store = await Store.open(fx.store, { readOnly: true });
  try {
    return await store.query(sql);
  } finally {
    store.dispose();
  }
}

const glob = () => `read_parquet('${fx.store}/occlusion/*/*/*/*.parquet', hive_partitioning = true)`;

/** Drops of class c for image i by hand: model.predict on every occluded copy (patch 4, stride 2, fill 0). */
async function referenceDrops(step: number, i: number, c: number): Promise<number[]> {
  const loaded = await loadModelDir(path.join(fx.dir, 'ckpts', `ckpt-${String(step).padStart(6, '0')}`));
  const img = Float32Array.from(fixtureImage(i), (v) => v / 255);
  const copies: Float32Array[] = [img];
  for (let gy = 0; gy < 3; gy++) {
    for (let gx = 0; gx < 3; gx++) {
      const o = img.slice();
      for (let y = gy * 2; y < gy * 2 + 4; y++) for (let x = gx * 2; x < gx * 2 + 4; x++) o[y * W + x] = 0;
      copies.push(o);
    }
  }
  const all = new Float32Array(copies.length * H * W);
  copies.forEach((c2, k) => all.set(c2, k * H * W));
  const p = tf.tidy(() => (loaded.model.predict(tf.tensor4d(all, [copies.length, H, W, 1])) as tfc.Tensor).dataSync());
  loaded.model.dispose();
  const score = (k: number) => p[k * 2 + c]!;
  return Array.from({ length: 9 }, (_, k) => score(0) - score(k + 1));
}

describe('occlusion-map', () => {
  it('stores one grid per sample and class for every checkpoint; grids match model.predict on occluded copies', async () => {
    const before = tf.memory().numTensors;
    const s = await occlusionMap({ from: fx.specFile, classes: [1, 0], patch: 4, stride: 2 });
    expect(tf.memory().numTensors).toBe(before);
    expect(s).toMatchObject({ dataset: 'edges', model: 'edge-net', classes: [0, 1], grid: [3, 3], samples: N });
    expect(s.steps.map((x) => [x.step, x.shards, x.skipped, x.samples])).toEqual([
      [0, 2, 0, N],
      [100, 2, 0, N],
    ]);
    const counts = await rows(`SELECT step, class, count(*)::INT AS n, count(DISTINCT sample_id)::INT AS d, min(len(drop))::INT AS l FROM ${glob()} GROUP BY ALL ORDER BY ALL`);
    expect(counts).toEqual([0, 100].flatMap((step) => [0, 1].map((c) => ({ step: BigInt(step), class: c, n: N, d: N, l: 9 }))));
    for (const [step, i, c] of [[0, 1, 0], [100, 5, 1], [100, 8, 0], [0, 23, 1]] as const) {
      const [r] = await rows(`SELECT drop, score, grid_h, grid_w, patch, stride, fill FROM ${glob()} WHERE step = ${step} AND sample_id = ${i} AND class = ${c}`);
      expect(r).toMatchObject({ grid_h: 3, grid_w: 3, patch: 4, stride: 2, fill: 0 });
      const want = await referenceDrops(step, i, c);
      const got = (r!.drop as { items: number[] }).items ?? (r!.drop as number[]);
      want.forEach((v, k) => expect(Number(got[k])).toBeCloseTo(v, 5));
    }
    // The catalog view shows the table (columns other than drop; see the next test for drop).
    const viaView = await rows('SELECT count(*)::INT AS n FROM occlusion');
    expect(viaView).toEqual([{ n: 4 * N }]);
  });

  it.runIf(viewColumns(TABLES.occlusion, 3).find(([n]) => n === 'drop')?.[1] === 'FLOAT[]')('the occlusion view reads drop (FLOAT[] next to codes of another width)', async () => {
    const r = await rows('SELECT len(drop)::INT AS l FROM occlusion LIMIT 1');
    expect(r).toEqual([{ l: 9 }]);
  });

  it('resume skips written parts; a grown --limit replaces the cut shard without duplicates', async () => {
    const file = path.join(partDir(0), 'class0-patch4-stride2-fill0-shard-00000-16.parquet');
    const mtime = (await fs.stat(file)).mtimeMs;
    const again = await occlusionMap({ from: fx.store, classes: [0, 1], patch: 4, stride: 2 });
    expect(again.steps.map((x) => [x.shards, x.skipped, x.samples])).toEqual([
      [0, 2, 0],
      [0, 2, 0],
    ]);
    expect((await fs.stat(file)).mtimeMs).toBe(mtime);

    // Another parameter set, cut at 20 samples (shard 1 holds 4), then grown to all 24.
    await occlusionMap({ from: fx.store, classes: [1], patch: 2, stride: 2, limit: 20, step: 100 });
    expect((await fs.readdir(partDir(100))).filter((n) => n.startsWith('class1-patch2-')).sort()).toEqual([
      'class1-patch2-stride2-fill0-shard-00000-16.parquet',
      'class1-patch2-stride2-fill0-shard-00001-4.parquet',
    ]);
    const grown = await occlusionMap({ from: fx.store, classes: [1], patch: 2, stride: 2, step: 100 });
    expect(grown.steps.map((x) => [x.step, x.shards, x.skipped, x.samples])).toEqual([[100, 1, 1, 8]]);
    expect((await fs.readdir(partDir(100))).filter((n) => n.startsWith('class1-patch2-')).sort()).toEqual([
      'class1-patch2-stride2-fill0-shard-00000-16.parquet',
      'class1-patch2-stride2-fill0-shard-00001-8.parquet',
    ]);
    const [c] = await rows(`SELECT count(*)::INT AS n, count(DISTINCT sample_id)::INT AS d, min(len(drop))::INT AS l FROM ${glob()} WHERE patch = 2`);
    expect(c).toEqual({ n: N, d: N, l: 16 });
  });

  it('the CLI prints a JSON summary; bad input gives clear errors', async () => {
    const out: string[] = [];
    const program = new Command().exitOverride();
    registerOcclusionMap(program, { write: (c) => out.push(String(c)) });
    await program.parseAsync(['occlusion-map', fx.store, '--class', '0,1', '--patch', '4', '--stride', '2', '--json', '--backend', 'wasm'], { from: 'user' });
    expect(JSON.parse(out.join(''))).toMatchObject({ classes: [0, 1], grid: [3, 3], steps: [{ step: 0, skipped: 2 }, { step: 100, skipped: 2 }] });

    const fails = async (o: Parameters<typeof occlusionMap>[0], code: string, text: RegExp) => {
      const e = await occlusionMap(o).then(
        () => null,
        (err: unknown) => err,
      );
      expect(isNeurolensError(e), String(e)).toBe(true);
      expect((e as { code: string }).code).toBe(code);
      expect((e as Error).message).toMatch(text);
    };
    await fails({ from: fx.store, classes: [2] }, 'NOT_FOUND', /class 2 is out of range: the model has 2 classes/);
    await fails({ from: fx.store, classes: [0], patch: 9 }, 'BAD_SPEC', /--patch 9 is larger than the 8x8 input/);
    await fails({ from: path.join(tmp, 'nowhere'), classes: [0] }, 'NOT_FOUND', /no such pipeline spec file or store directory/);
    await fails({ from: fx.store, classes: [0], step: 5 }, 'NOT_FOUND', /--step 5: no checkpoint/);
  });
});
