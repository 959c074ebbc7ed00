import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Piscina } from 'piscina';
import { openSource, type Source } from '../src/sources/index.js';
import { decodeBatch } from '../src/stages/decode.js';
import decodeWorker from '../src/workers/decode.js';
import { createPool, type WorkerPool } from '../src/workers/pool.js';
import type { DecodeRequest, DecodeResponse } from '../src/workers/protocol.js';
import type { Preprocess } from '../src/sources/types.js';
import { badFiles, encodeWith, idxBytes, pattern, pngBytes, put } from './fixtures/images.js';

let dir: string;
let pool: WorkerPool<DecodeRequest, DecodeResponse>;
let folder: Source;
const PRE: Preprocess = { height: 8, width: 8, channels: 3, scale: 1 / 255, mean: [0.5], std: [0.25], fit: 'cover' };

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'decode-pool-test-'));
  await put(path.join(dir, 'f/a/1.png'), pngBytes(pattern(12, 9, 3)));
  await put(path.join(dir, 'f/a/2.png'), pngBytes(pattern(8, 8, 1, 16, 99)));
  await put(path.join(dir, 'f/b/3.webp'), await encodeWith(pattern(10, 16, 4), 'webp'));
  await put(path.join(dir, 'f/b/4.jpg'), await encodeWith(pattern(20, 20, 3), 'jpeg'));
  await badFiles(path.join(dir, 'f/b'));
  folder = await openSource({ kind: 'folder', root: 'f' }, dir);
  pool = createPool<DecodeRequest, DecodeResponse>(new URL('../src/workers/decode.ts', import.meta.url), { threads: 2 });
});
afterAll(async () => {
  await pool?.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe('decode worker pool (piscina + tsx)', () => {
  it('decodes real files in worker threads exactly as in-thread, errors included', async () => {
    expect(pool.threads).toBe(2);
    const local = await decodeBatch(folder.decodeTask(0, folder.size), PRE);
    const remote = await pool.run({ task: folder.decodeTask(0, folder.size), pre: PRE });
    expect(remote.sampleIds).toBeInstanceOf(Int32Array);
    expect(remote.data).toBeInstanceOf(Float32Array);
    expect(Array.from(remote.sampleIds)).toEqual(Array.from(local.sampleIds));
    expect(remote.data).toEqual(local.data);
    // libvips' detail in parentheses comes from an error buffer that concurrent decodes share
    // ("libpng read error" in one run, "Unknown error" in another): compare what neurolens says.
    const stable = (errs: typeof local.errors) => errs.map((e) => ({ ...e, reason: e.reason.replace(/ \(.*\)$/, '') }));
    expect(stable(remote.errors)).toEqual(stable(local.errors));
    expect(remote.errors.map((e) => e.reason).join('\n')).toMatch(/corrupt or truncated png data \(/);
    expect(remote.sampleIds.length).toBe(4);
    expect(remote.errors).toHaveLength(3);
  });

  it('transfers the request pixels (detached in the caller); several tasks in flight come back whole', async () => {
    const n = 64;
    const pixels = new Uint8Array(n * 28 * 28).map((_, i) => (i * 13) % 256);
    await put(path.join(dir, 'idx/images'), idxBytes(0x08, [n, 28, 28], pixels));
    const idx = await openSource({ kind: 'idx', images: 'idx/images' }, dir);
    const pre: Preprocess = { height: 28, width: 28, channels: 1, scale: 1 / 255, mean: [0], std: [1], fit: 'stretch' };
    const tasks = [0, 16, 32, 48].map((s) => idx.decodeTask(s, s + 16));
    const sent = tasks.map((t) => (t.kind === 'pixels' ? t.pixels : null));
    const results = await Promise.all(tasks.map((task) => pool.run({ task, pre })));
    for (const p of sent) expect(p!.byteLength).toBe(0); // moved to the worker, not copied
    const all = new Float32Array(n * 784);
    results.forEach((r, k) => {
      expect(Array.from(r.sampleIds)).toEqual(Array.from({ length: 16 }, (_, i) => k * 16 + i));
      all.set(r.data, k * 16 * 784);
    });
    expect(all).toEqual(Float32Array.from(pixels, (v) => v / 255));
  });

  it('the worker entry marks every result buffer for transfer', async () => {
    const res = (await decodeWorker({ task: folder.decodeTask(0, 2), pre: PRE })) as unknown as Record<symbol, unknown>;
    const list = res[Piscina.transferableSymbol] as ArrayBuffer[];
    const value = res[Piscina.valueSymbol] as DecodeResponse;
    expect(list).toContain(value.data.buffer);
    expect(list).toContain(value.sampleIds.buffer);
  });

  it('a NeurolensError thrown in a worker keeps its code; other failures become INTERNAL naming the worker', async () => {
    const bad = createPool<{ code: 'BAD_INPUT' | 'NOT_FOUND'; plain?: boolean }, never>(new URL('./fixtures/throwing-worker.ts', import.meta.url), {
      threads: 1,
    });
    try {
      await expect(bad.run({ code: 'NOT_FOUND' })).rejects.toMatchObject({ name: 'NeurolensError', code: 'NOT_FOUND', message: 'sample 7: failed on purpose' });
      await expect(bad.run({ code: 'BAD_INPUT', plain: true })).rejects.toMatchObject({
        code: 'INTERNAL',
        message: expect.stringMatching(/throwing-worker.ts failed: plain failure/),
      });
    } finally {
      await bad.dispose();
    }
  });
});
