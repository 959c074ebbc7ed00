/**
 * Memory stays flat: peak RSS of a 60,000-image run (Fashion-MNIST train split, demo CNN with
 * all conv and dense layers tapped) is within 1.5x of a 6,000-image run. Each run is its own
 * child process so the peaks do not mix.
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { cli } from './helpers/cli.js';
import { beforeAll, expect, it } from 'vitest';
import { setupBackend } from '../src/model/backend.js';
import { saveModelDir } from '../src/model/io.js';
import { buildDemoCnn } from '../src/train/cnn.js';

const DATA = '/usr/share/datasets/fashion-mnist';
let dir: string;

beforeAll(async () => {
  await setupBackend('wasm');
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nl-mem-'));
  const m = buildDemoCnn(7);
  await saveModelDir(m, path.join(dir, 'ckpt-000000'), { step: 0 });
  m.dispose();
  await fs.writeFile(
    path.join(dir, 'train.yaml'),
    `name: mem
store: store
dataset:
  name: fmnist-train
  source: { kind: idx, images: ${DATA}/train-images-idx3-ubyte.gz, labels: ${DATA}/train-labels-idx1-ubyte.gz, split: train }
model: { name: demo, checkpoints: ckpt-000000, input: { height: 28, width: 28, channels: 1 } }
layers: ['conv*', 'dense*']
codes: [dense1]
batch_size: 256
`,
  );
});

async function run(limit: number) {
  const r = await cli(['run', path.join(dir, 'train.yaml'), '--limit', String(limit), '--store', path.join(dir, `store-${limit}`), '--json']);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { peak_rss_mib: number; samples: number };
}

it('peak RSS over 60,000 images is within 1.5x of 6,000 images', async () => {
  const small = await run(6000);
  const large = await run(60000);
  expect(small.samples).toBe(6000);
  expect(large.samples).toBe(60000);
  console.log(`peak RSS: 6k ${small.peak_rss_mib} MiB, 60k ${large.peak_rss_mib} MiB, ratio ${(large.peak_rss_mib / small.peak_rss_mib).toFixed(2)}`);
  expect(large.peak_rss_mib).toBeLessThan(1.5 * small.peak_rss_mib);
});
