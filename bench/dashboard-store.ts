/**
 * The dashboard benchmark's store, synthesized without a pipeline run (a run over 70k samples
 * would take longer than the measurement): one layer of `units` units at `steps` checkpoints
 * (neuron_stats and class_stats over 10 classes), a 2-D embedding of `points` samples at the last
 * step, their predictions at that step (one committed shard), and real sample images (an IDX file
 * of 16x16 grey pictures named by a run record, so `/api/samples/<dataset>/<id>.png` answers as it
 * does for a pipeline's store and hover thumbnails can be timed).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { commitShard, newRunId, writeFinalPart, writeRun, writeTablePart } from '../src/storage/index.js';
import { mulberry32 } from '../src/train/prng.js';

export const BENCH_DM = { dataset: 'synth', model: 'bench-net' } as const;
export const BENCH_LAYER = 'conv5';
const CLASSES = 10;
const SIDE = 16;

/** An IDX uint8 file (the MNIST format): magic 0x0000 08 <ndims>, big-endian dims, then the bytes. */
function idx(dims: number[], data: Uint8Array): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head[2] = 0x08;
  head[3] = dims.length;
  dims.forEach((d, i) => head.writeInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

/** Sample i: a bar whose angle is its class, with a little noise (so thumbnails differ). */
function images(n: number, rand: () => number): Uint8Array {
  const px = new Uint8Array(n * SIDE * SIDE);
  for (let i = 0; i < n; i++) {
    const a = (Math.PI * (i % CLASSES)) / CLASSES;
    for (let y = 0; y < SIDE; y++) {
      for (let x = 0; x < SIDE; x++) {
        const d = Math.abs((x - SIDE / 2) * Math.sin(a) - (y - SIDE / 2) * Math.cos(a));
        px[i * SIDE * SIDE + y * SIDE + x] = Math.min(255, (d < 2 ? 220 : 20) + Math.floor(rand() * 30));
      }
    }
  }
  return px;
}

/** Writes the store; returns the embedding's coordinates (sample i at index i). */
export async function buildDashboardStore(store: string, o: { units: number; steps: number; points: number }): Promise<{ x: Float32Array; y: Float32Array }> {
  const { units: C, steps: S, points: N } = o;
  const rand = mulberry32(7);
  const labels = Int32Array.from({ length: N }, (_, i) => i % CLASSES);
  await writeTablePart(store, 'samples', { dataset: BENCH_DM.dataset }, 'part-0.parquet', {
    sample_id: Int32Array.from({ length: N }, (_, i) => i),
    uri: Array.from({ length: N }, (_, i) => `synth://${i}`),
    label: labels,
    split: Array.from({ length: N }, () => 'test'),
  });
  for (let s = 0; s < S; s++) {
    const step = s * 100;
    const part = { ...BENCH_DM, step, layer: BENCH_LAYER };
    const zf = Float64Array.from({ length: C }, (_, c) => Math.min(1, 0.2 + (0.6 * s) / S + 0.2 * rand() + (c % 7 === 0 ? 0.3 : 0)));
    const max = Float32Array.from(zf, (z) => (z >= 1 ? 0 : 1 + 5 * rand()));
    const mean = Float64Array.from(max, (m) => m * 0.3);
    await writeFinalPart(store, 'neuron_stats', part, {
      channel: Int32Array.from({ length: C }, (_, c) => c),
      count: BigInt64Array.from({ length: C }, () => BigInt(N)),
      positions: BigInt64Array.from({ length: C }, () => BigInt(N * 49)),
      mean,
      std: Float64Array.from(mean, (m) => m * 0.5),
      min: new Float32Array(C),
      max,
      zero_frac: zf,
      active_frac: Float64Array.from(zf, (z) => 1 - z),
      dead: Array.from(max, (m) => m <= 0),
      m2: new Float64Array(C),
      zero_count: BigInt64Array.from(zf, (z) => BigInt(Math.round(z * N * 49))),
      active_count: BigInt64Array.from(zf, (z) => BigInt(Math.round((1 - z) * N))),
    });
    const rows = C * CLASSES;
    await writeFinalPart(store, 'class_stats', part, {
      channel: Int32Array.from({ length: rows }, (_, r) => Math.floor(r / CLASSES)),
      label: Int32Array.from({ length: rows }, (_, r) => r % CLASSES),
      count: BigInt64Array.from({ length: rows }, () => BigInt(N / CLASSES)),
      mean: Float64Array.from({ length: rows }, () => rand()),
      m2: new Float64Array(rows),
      sum_max: new Float64Array(rows),
      max: new Float32Array(rows),
      active_count: new BigInt64Array(rows),
    });
  }
  const last = (S - 1) * 100;
  const x = new Float32Array(N);
  const y = new Float32Array(N);
  for (let i = 0; i < N; i++) {
    const a = (2 * Math.PI * (i % CLASSES)) / CLASSES;
    x[i] = 5 * Math.cos(a) + rand() * 2;
    y[i] = 5 * Math.sin(a) + rand() * 2;
  }
  await writeFinalPart(store, 'embeddings', { ...BENCH_DM, step: last, layer: BENCH_LAYER }, {
    method: Array.from({ length: N }, () => 'pca'),
    params: Array.from({ length: N }, () => '{}'),
    sample_id: Int32Array.from({ length: N }, (_, i) => i),
    x,
    y,
  });
  // 80% right; a wrong prediction is the next class.
  const runId = newRunId();
  const pred = Int32Array.from(labels, (l) => (rand() < 0.8 ? l : (l + 1) % CLASSES));
  const part = await writeTablePart(store, 'predictions', { ...BENCH_DM, step: last }, 0, {
    sample_id: Int32Array.from({ length: N }, (_, i) => i),
    label: labels,
    pred,
    prob: Float32Array.from({ length: N }, () => 0.5 + rand() / 2),
  });
  await commitShard(store, { ...BENCH_DM, step: last, shard: 0 }, [part], runId);

  const data = path.join(path.dirname(path.resolve(store)), 'data');
  await fs.mkdir(data, { recursive: true });
  await fs.writeFile(path.join(data, 'images-idx3-ubyte'), idx([N, SIDE, SIDE], images(N, rand)));
  await fs.writeFile(path.join(data, 'labels-idx1-ubyte'), idx([N], Uint8Array.from(labels)));
  // The server finds a dataset's images through the newest run record that names it.
  const now = new Date().toISOString();
  await writeRun(store, {
    run_id: runId,
    status: 'succeeded',
    started_at: now,
    finished_at: now,
    versions: {},
    spec: {
      file: path.join(data, 'bench.yaml'),
      dataset: { name: BENCH_DM.dataset, source: { kind: 'idx', images: 'images-idx3-ubyte', labels: 'labels-idx1-ubyte', split: 'test' } },
      model: { name: BENCH_DM.model, input: { height: SIDE, width: SIDE, channels: 1 } },
    },
  });
  return { x, y };
}
