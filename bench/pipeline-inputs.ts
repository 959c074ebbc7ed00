/**
 * Inputs of bench/pipeline.ts, created once under the bench directory and reused by later runs:
 * checkpoint directories (two steps of the same weights) and a folder of 224x224 JPEGs.
 */
import path from 'node:path';
import { mkdir, readdir, rm } from 'node:fs/promises';
import sharp from 'sharp';
import { saveModelDir, loadModelDir } from '../src/model/io.js';
import { listLayers } from '../src/model/layers.js';
import { exportNsfwMobilenet } from '../src/model/nsfwjs.js';
import { buildDemoCnn } from '../src/train/cnn.js';

const FASHION = '/usr/share/datasets/fashion-mnist';

export interface Bench {
  name: string;
  /** Two checkpoint dirs (same weights) ckpt-000000 and ckpt-000001 under `ckptRoot`. */
  ckptRoot: string;
  spec: Record<string, unknown>;
  inputShape: [number, number, number];
  batch: number;
  limit: number;
  layers: number;
  /** The spec's shard_size in the bench. */
  shardSize: number;
}

async function exists(p: string): Promise<boolean> {
  return readdir(p).then(
    () => true,
    () => false,
  );
}

/** The demo CNN (untrained, seed 1) over the Fashion-MNIST test set. */
export async function demoCnnBench(root: string, limit: number, batch: number): Promise<Bench> {
  const ckptRoot = path.join(root, 'demo-cnn');
  for (const step of [0, 1]) {
    const dir = path.join(ckptRoot, `ckpt-00000${step}`);
    if (await exists(dir)) continue;
    const m = buildDemoCnn(1);
    await saveModelDir(m, dir, { step });
    m.dispose();
  }
  const spec = {
    name: 'bench-cnn',
    dataset: {
      name: 'fashion-mnist-test',
      source: { kind: 'idx', images: `${FASHION}/t10k-images-idx3-ubyte.gz`, labels: `${FASHION}/t10k-labels-idx1-ubyte.gz`, split: 'test' },
    },
    model: { name: 'demo-cnn', checkpoints: `${ckptRoot}/ckpt-*`, input: { height: 28, width: 28, channels: 1 } },
    layers: ['conv*', 'dense*'],
    codes: ['dense1'],
    batch_size: batch,
  };
  return { name: 'demo CNN', ckptRoot, spec, inputShape: [28, 28, 1], batch, limit: Math.min(limit, 10000), layers: 4, shardSize: 1024 };
}

/** ~`n` 224x224 JPEGs of smooth colour fields plus noise, in two class folders. */
async function jpegFolder(root: string, n: number): Promise<string> {
  const dir = path.join(root, 'jpegs-224');
  const have = (await exists(dir)) ? (await Promise.all(['a', 'b'].map((c) => readdir(path.join(dir, c)).catch(() => [])))).flat().length : 0;
  if (have >= n) return dir;
  await rm(dir, { recursive: true, force: true });
  for (const c of ['a', 'b']) await mkdir(path.join(dir, c), { recursive: true });
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let i = 0; i < n; i++) {
    const px = Buffer.alloc(224 * 224 * 3);
    const [fx, fy, ph] = [rand() * 0.1, rand() * 0.1, rand() * 6];
    for (let y = 0; y < 224; y++) {
      for (let x = 0; x < 224; x++) {
        for (let k = 0; k < 3; k++) {
          const v = 128 + 100 * Math.sin(fx * x + fy * y + ph + 2 * k) + 20 * (rand() - 0.5);
          px[(y * 224 + x) * 3 + k] = Math.max(0, Math.min(255, Math.round(v)));
        }
      }
    }
    const file = path.join(dir, i % 2 ? 'b' : 'a', `img-${String(i).padStart(5, '0')}.jpg`);
    await sharp(px, { raw: { width: 224, height: 224, channels: 3 } }).jpeg({ quality: 90 }).toFile(file);
  }
  return dir;
}

/** nsfwjs' MobileNetV2 with every Conv2D / DepthwiseConv2D layer tapped, over generated JPEGs. */
export async function mobilenetBench(root: string, limit: number, batch: number): Promise<Bench> {
  const ckptRoot = path.join(root, 'mobilenet_v2');
  for (const step of [0, 1]) {
    const dir = path.join(ckptRoot, `ckpt-00000${step}`);
    if (!(await exists(dir))) await exportNsfwMobilenet(dir);
  }
  const loaded = await loadModelDir(path.join(ckptRoot, 'ckpt-000000'));
  const convs = listLayers(loaded.model)
    .filter((l) => /Conv2D$/.test(l.kind))
    .map((l) => l.name);
  loaded.model.dispose();
  const images = await jpegFolder(root, limit);
  const spec = {
    name: 'bench-mobilenet',
    dataset: { name: 'jpegs-224', source: { kind: 'folder', root: images } },
    model: { name: 'mobilenet-v2', checkpoints: `${ckptRoot}/ckpt-*`, input: { height: 224, width: 224, channels: 3 } },
    layers: convs,
    batch_size: batch,
  };
  // Shards of 256: one shard would be written whole after the last batch (a tail a real dataset
  // of many shards does not have); much smaller shards multiply the top-k partials and files.
  return { name: 'MobileNetV2', ckptRoot, spec, inputShape: [224, 224, 3], batch, limit, layers: convs.length, shardSize: 256 };
}
