/**
 * Bad input: broken files are recorded in `errors` and the run goes on up to --max-error-rate;
 * past it the run stops with a clear message and keeps what is committed. Spec and model
 * problems fail before any work starts.
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { makePipelineFixture, type PipelineFixture } from './fixtures/pipeline.js';
import { badFiles, pattern, pngBytes, put } from './fixtures/images.js';
import { setupBackend } from '../src/model/backend.js';
import { loadSpec } from '../src/pipeline/spec.js';
import { runPipeline } from '../src/pipeline/runner.js';
import { Store } from '../src/storage/index.js';
import { NeurolensError } from '../src/errors.js';

let fx: PipelineFixture;

async function folderSpec(name: string, maxErrorRate: number, shardSize = 8): Promise<string> {
  const root = path.join(fx.dir, `folder-${name}`);
  for (let i = 0; i < 30; i++) await put(path.join(root, i % 2 ? 'b' : 'a', `img${String(i).padStart(2, '0')}.png`), pngBytes(pattern(12, 10, 3)));
  const bad = await badFiles(path.join(root, 'a'));
  const file = path.join(fx.dir, `folder-${name}.yaml`);
  await fs.writeFile(
    file,
    `name: folder
store: store-${name}
dataset: { name: pics, source: { kind: folder, root: folder-${name} } }
model: { name: edge-net, checkpoints: ckpts/ckpt-000000, input: { height: 8, width: 8, channels: 1 } }
layers: [conv1]
shard_size: ${shardSize}
batch_size: 4
max_error_rate: ${maxErrorRate}
`,
  );
  return file;
}

async function expectError(p: Promise<unknown>, code: string, ...fragments: string[]): Promise<NeurolensError> {
  const e = (await p.then(
    () => null,
    (err) => err,
  )) as NeurolensError;
  expect(e, 'expected an error').toBeInstanceOf(Error);
  expect(e.code).toBe(code);
  for (const f of fragments) expect(e.message).toContain(f);
  return e;
}

beforeAll(async () => {
  await setupBackend('wasm');
  fx = await makePipelineFixture(await fs.mkdtemp(path.join(os.tmpdir(), 'nl-err-')), 12);
});

describe('bad input', () => {
  it('records unreadable, truncated, zero-byte and non-image files in errors and goes on', async () => {
    const spec = await loadSpec(await folderSpec('ok', 0.2));
    const summary = await runPipeline(spec, { workers: 1, backend: 'wasm' });
    expect(summary.errors).toBe(3);
    const s = await Store.open(path.join(fx.dir, 'store-ok'), { readOnly: true });
    try {
      const errs = await s.query<{ uri: string; stage: string; reason: string }>('SELECT uri, stage, reason FROM errors ORDER BY uri');
      expect(errs.map((e) => path.basename(e.uri))).toEqual(['empty.png', 'text.jpg', 'truncated.png']);
      expect(errs.every((e) => e.stage === 'decode' && e.reason.length > 5)).toBe(true);
      expect(errs[0].reason).toMatch(/empty/);
      const n = await s.query<{ n: bigint }>("SELECT count(DISTINCT sample_id) AS n FROM activations WHERE layer = 'conv1'");
      expect(Number(n[0].n)).toBe(30);
    } finally {
      s.dispose();
    }
  });

  it('stops past --max-error-rate with a clear message and keeps committed shards', async () => {
    const spec = await loadSpec(await folderSpec('strict', 0.01));
    await expectError(runPipeline(spec, { workers: 1, backend: 'wasm' }), 'TOO_MANY_ERRORS', 'max-error-rate', 'errors table');
    const s = await Store.open(path.join(fx.dir, 'store-strict'), { readOnly: true });
    try {
      // Sorted order: a/empty.png, a/img00.png, ... so the first shard holds the bad files and is committed.
      const shards = await s.query<{ shard: number }>('SELECT DISTINCT shard FROM activations');
      expect(shards.length).toBeGreaterThan(0);
      const errs = await s.query<{ n: bigint }>('SELECT count(*) AS n FROM errors');
      expect(Number(errs[0].n)).toBeGreaterThan(0);
    } finally {
      s.dispose();
    }
  });

  it('an invalid spec names the file, the field and the reason', async () => {
    const file = path.join(fx.dir, 'bad.yaml');
    await fs.writeFile(file, (await fs.readFile(fx.specFile, 'utf8')).replace('height: 8', 'height: eight').replace('topk: 4', 'topk: 4\nbogus: 1'));
    const e = await expectError(loadSpec(file), 'BAD_SPEC', 'bad.yaml', "'model.input.height'", "unknown field(s) 'bogus'");
    expect(e.message).toMatch(/Expected number/);
  });

  it('a model whose input does not fit the data fails before any work', async () => {
    const file = path.join(fx.dir, 'wrong-size.yaml');
    await fs.writeFile(file, (await fs.readFile(fx.specFile, 'utf8')).replace('height: 8', 'height: 10').replace('store: store', 'store: store-wrong'));
    await expectError(runPipeline(await loadSpec(file), { backend: 'wasm' }), 'BAD_MODEL', '10x8x1');
    await expect(fs.stat(path.join(fx.dir, 'store-wrong'))).rejects.toThrow();
  });

  it('a missing weights shard or a broken model.json fails before any work', async () => {
    const broken = path.join(fx.dir, 'broken');
    await fs.cp(path.join(fx.dir, 'ckpts'), path.join(broken, 'ckpts'), { recursive: true });
    const spec = (await fs.readFile(fx.specFile, 'utf8'))
      .replace('store: store', 'store: store-broken')
      .replace('images: images', `images: ${fx.dir}/images`)
      .replace('labels: labels', `labels: ${fx.dir}/labels`);
    await fs.writeFile(path.join(broken, 'edge.yaml'), spec);
    const shard = (await fs.readdir(path.join(broken, 'ckpts/ckpt-000100'))).find((f) => f.endsWith('.bin'))!;
    await fs.rm(path.join(broken, 'ckpts/ckpt-000100', shard));
    await expectError(runPipeline(await loadSpec(path.join(broken, 'edge.yaml')), { backend: 'wasm' }), 'BAD_MODEL', shard);
    await expect(fs.stat(path.join(broken, 'store-broken'))).rejects.toThrow();

    await fs.writeFile(path.join(broken, 'ckpts/ckpt-000100/model.json'), '{"modelTopology": ');
    await expectError(runPipeline(await loadSpec(path.join(broken, 'edge.yaml')), { backend: 'wasm' }), 'BAD_MODEL', 'model.json');
  });

  it('an unknown layer name is an error listing close matches', async () => {
    const file = path.join(fx.dir, 'bad-layer.yaml');
    await fs.writeFile(file, (await fs.readFile(fx.specFile, 'utf8')).replace('layers: [conv1, fc]', 'layers: [conv_1]'));
    await expectError(runPipeline(await loadSpec(file), { backend: 'wasm' }), 'NOT_FOUND', 'conv_1', 'conv1');
  });
});
