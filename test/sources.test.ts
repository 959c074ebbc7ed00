import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, rm, mkdir, symlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openSource, SourceSpecSchema, IdxSource } from '../src/sources/index.js';
import { decodeBatch, loadSampleImage } from '../src/stages/decode.js';
import { idxBytes, pattern, pngBytes, put, solid } from './fixtures/images.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'sources-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const png = (v: number) => pngBytes(solid(2, 2, [v]));

describe('folder source', () => {
  let root: string;
  beforeAll(async () => {
    root = path.join(dir, 'folder');
    // Written in an order unlike the sorted one; names chosen so that locale and code-unit order differ.
    await put(path.join(root, 'dog/x/1.png'), png(5));
    await put(path.join(root, 'cat/b.png'), png(4));
    await put(path.join(root, 'top.png'), png(6));
    await put(path.join(root, 'cat/a.png'), png(3));
    await put(path.join(root, 'cat/C.JPG'), png(2)); // PNG bytes behind .JPG: extension picks, sharp sniffs
    await put(path.join(root, 'Zebra/z.png'), png(1));
    await put(path.join(root, 'cat/notes.txt'), 'not an image');
    await put(path.join(root, '.hidden/h.png'), png(9));
    await mkdir(path.join(root, 'empty-class'));
  });

  it('orders samples by code-unit sorted relative path and labels them by sorted class folder', async () => {
    const src = await openSource({ kind: 'folder', root: 'folder', split: 'val' }, dir);
    expect(src.kind).toBe('folder');
    expect(src.classes).toEqual(['Zebra', 'cat', 'dog', 'empty-class']);
    expect(src.size).toBe(6);
    const refs = src.refs(0, src.size);
    expect(refs.map((r) => path.relative(root, r.uri))).toEqual(['Zebra/z.png', 'cat/C.JPG', 'cat/a.png', 'cat/b.png', 'dog/x/1.png', 'top.png']);
    expect(refs.map((r) => r.label)).toEqual([0, 1, 1, 1, 2, -1]);
    expect(refs.map((r) => r.sampleId)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(refs.every((r) => r.split === 'val' && path.isAbsolute(r.uri))).toBe(true);
    // The decoded values prove the uri <-> sample id pairing: file k holds value k+1.
    const batch = await decodeBatch(src.decodeTask(0, 5), { height: 2, width: 2, channels: 1, scale: 1, mean: [0], std: [1], fit: 'stretch' });
    expect(Array.from(batch.data.filter((_, i) => i % 4 === 0))).toEqual([1, 2, 3, 4, 5]);
  });

  it('is the same when opened again (stable ids), and a sub-range matches', async () => {
    const a = await openSource({ kind: 'folder', root }, '/');
    const b = await openSource({ kind: 'folder', root }, '/');
    expect(b.refs(0, b.size)).toEqual(a.refs(0, a.size));
    expect(a.refs(2, 4)).toEqual(a.refs(0, a.size).slice(2, 4));
    const t = a.decodeTask(2, 4);
    expect(t.kind).toBe('files');
    expect(Array.from(t.sampleIds)).toEqual([2, 3]);
    expect(t.uris).toEqual(a.refs(2, 4).map((r) => r.uri));
  });

  it('filters by extension, case-insensitively, with or without the dot', async () => {
    const src = await openSource({ kind: 'folder', root, extensions: ['jpg'] }, dir);
    expect(src.refs(0, src.size).map((r) => path.basename(r.uri))).toEqual(['C.JPG']);
    const pngs = await openSource({ kind: 'folder', root, extensions: ['.PNG'] }, dir);
    expect(pngs.size).toBe(5);
  });

  it('maps folder names through the spec classes when given, and rejects unknown folders', async () => {
    const classes = ['dog', 'cat', 'Zebra', 'empty-class', 'bird'];
    const src = await openSource({ kind: 'folder', root }, dir, { classes });
    expect(src.classes).toEqual(classes);
    expect(src.refs(0, src.size).map((r) => r.label)).toEqual([2, 1, 1, 1, 0, -1]);
    await expect(openSource({ kind: 'folder', root }, dir, { classes: ['cat', 'dog'] })).rejects.toThrow(/sub-directory 'Zebra'.*not in the spec's dataset.classes/);
  });

  it('follows symlinked class folders; a dangling link is a sample that fails to decode', async () => {
    const r2 = path.join(dir, 'links');
    await put(path.join(r2, 'real/a.png'), png(7));
    await symlink(path.join(r2, 'real'), path.join(r2, 'linked'));
    await symlink(path.join(r2, 'nowhere.png'), path.join(r2, 'real/dangling.png'));
    const src = await openSource({ kind: 'folder', root: r2 }, dir);
    expect(src.refs(0, src.size).map((r) => path.relative(r2, r.uri))).toEqual(['linked/a.png', 'linked/dangling.png', 'real/a.png', 'real/dangling.png']);
    const out = await decodeBatch(src.decodeTask(0, src.size), { height: 2, width: 2, channels: 1, scale: 1, mean: [0], std: [1], fit: 'stretch' });
    expect(Array.from(out.sampleIds)).toEqual([0, 2]);
    expect(out.errors.map((e) => [e.sampleId, e.reason])).toEqual([[1, 'file not found'], [3, 'file not found']]);
  });

  it('errors: missing root, root that is a file, no images, out-of-range ids', async () => {
    await expect(openSource({ kind: 'folder', root: 'no-such-dir' }, dir)).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringContaining(`${path.join(dir, 'no-such-dir')} does not exist`),
    });
    await expect(openSource({ kind: 'folder', root: 'folder/top.png' }, dir)).rejects.toThrow(/is not a directory/);
    await mkdir(path.join(dir, 'only-text'));
    await put(path.join(dir, 'only-text/readme.txt'), 'x');
    await expect(openSource({ kind: 'folder', root: 'only-text' }, dir)).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/empty: no files with extensions/) });
    const src = await openSource({ kind: 'folder', root }, dir);
    expect(() => src.refs(5, 7)).toThrow(/\[5, 7\) is outside \[0, 6\)/);
    expect(() => src.decodeTask(-1, 1)).toThrow(expect.objectContaining({ code: 'NOT_FOUND' }));
  });

  it('loadSampleImage returns the stored pixels (RGBA -> RGB, 16-bit -> 8-bit)', async () => {
    const r3 = path.join(dir, 'orig');
    const rgba = pattern(5, 3, 4);
    await put(path.join(r3, 'a.png'), pngBytes(rgba));
    await put(path.join(r3, 'b.png'), pngBytes(pattern(4, 2, 1, 16, 200)));
    await put(path.join(r3, 'c.png'), Buffer.from('junk'));
    const src = await openSource({ kind: 'folder', root: r3 }, dir);
    const a = await loadSampleImage(src, 0);
    expect([a.width, a.height, a.channels]).toEqual([5, 3, 3]);
    expect(Array.from(a.data)).toEqual(Array.from(rgba.data).filter((_, i) => i % 4 !== 3));
    const b = await loadSampleImage(src, 1);
    expect([b.width, b.height, b.channels]).toEqual([4, 2, 1]);
    // v16 = v8 * 257 + 200 rounds to v8 + 1 (200 / 257 > 0.5).
    expect(Array.from(b.data)).toEqual(Array.from(pattern(4, 2, 1).data, (v) => v + 1));
    await expect(loadSampleImage(src, 2)).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringContaining('c.png') });
  });
});

describe('idx source', () => {
  it('serves pixels and labels from generated IDX files; each task owns a copy of its bytes', async () => {
    const n = 5;
    const pixels = new Uint8Array(n * 4 * 3).map((_, i) => (i * 11) % 256);
    await put(path.join(dir, 'idx/images.gz'), idxBytes(0x08, [n, 4, 3], pixels, true));
    await put(path.join(dir, 'idx/labels'), idxBytes(0x08, [n], Uint8Array.from([3, 1, 4, 1, 5])));
    const src = await openSource({ kind: 'idx', images: 'idx/images.gz', labels: 'idx/labels', split: 'test' }, dir);
    expect(src.size).toBe(n);
    expect(src.classes).toBeNull();
    const refs = src.refs(0, n);
    expect(refs.map((r) => r.label)).toEqual([3, 1, 4, 1, 5]);
    expect(refs[2]).toEqual({ sampleId: 2, uri: `idx://${path.join(dir, 'idx/images.gz')}#2`, label: 4, split: 'test' });
    const t = src.decodeTask(1, 3);
    if (t.kind !== 'pixels') throw new Error('expected a pixels task');
    expect([t.height, t.width, t.channels]).toEqual([4, 3, 1]);
    expect(Array.from(t.sampleIds)).toEqual([1, 2]);
    expect(t.pixels).toEqual(pixels.subarray(12, 36));
    expect(t.pixels.buffer.byteLength).toBe(24); // its own buffer: transferable without detaching the source
    t.pixels.fill(0);
    const again = src.decodeTask(1, 3);
    expect(again.kind === 'pixels' && again.pixels).toEqual(pixels.subarray(12, 36));
    const img = await loadSampleImage(src, 4);
    expect([img.width, img.height, img.channels]).toEqual([3, 4, 1]);
    expect(img.data).toEqual(pixels.subarray(48, 60));
  });

  it('without labels every label is -1; [n,H,W,3] images have 3 channels; spec classes bound labels', async () => {
    await put(path.join(dir, 'idx/rgb'), idxBytes(0x08, [2, 2, 2, 3], new Uint8Array(24)));
    const src = await openSource({ kind: 'idx', images: path.join(dir, 'idx/rgb') }, '/elsewhere');
    expect(src.refs(0, 2).map((r) => [r.label, r.split])).toEqual([[-1, ''], [-1, '']]);
    expect((src as IdxSource).channels).toBe(3);
    await expect(openSource({ kind: 'idx', images: 'idx/images.gz', labels: 'idx/labels' }, dir, { classes: ['a', 'b', 'c', 'd'] })).rejects.toThrow(
      /labels: sample 2: bad label 4: spec dataset.classes has only 4 classes/,
    );
  });

  it('errors: missing file, wrong shape, empty', async () => {
    await expect(openSource({ kind: 'idx', images: 'idx/none.gz' }, dir)).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringContaining(`IDX images file ${path.join(dir, 'idx/none.gz')} does not exist`),
    });
    await put(path.join(dir, 'idx/flat'), idxBytes(0x08, [6], new Uint8Array(6)));
    await expect(openSource({ kind: 'idx', images: 'idx/flat' }, dir)).rejects.toThrow(/must be \[n, height, width\].*this file is \[6\]/);
    await put(path.join(dir, 'idx/zero'), idxBytes(0x08, [0, 2, 2], new Uint8Array(0)));
    await expect(openSource({ kind: 'idx', images: 'idx/zero' }, dir)).rejects.toThrow(/empty/);
  });

  const FASHION = '/usr/share/datasets/fashion-mnist';
  it.skipIf(!existsSync(`${FASHION}/t10k-images-idx3-ubyte.gz`))('reads the real Fashion-MNIST test set: 10000 samples, 1000 per class', async () => {
    const spec = SourceSpecSchema.parse({
      kind: 'idx',
      images: 't10k-images-idx3-ubyte.gz',
      labels: 't10k-labels-idx1-ubyte.gz',
      split: 'test',
    });
    const src = await openSource(spec, FASHION);
    expect(src.size).toBe(10000);
    const counts = new Array(10).fill(0);
    for (const r of src.refs(0, src.size)) counts[r.label]++;
    expect(counts).toEqual(new Array(10).fill(1000));
    const t = src.decodeTask(9990, 10000);
    if (t.kind !== 'pixels') throw new Error('expected a pixels task');
    expect(t.pixels.length).toBe(10 * 28 * 28);
    const out = await decodeBatch(t, { height: 28, width: 28, channels: 1, scale: 1 / 255, mean: [0], std: [1], fit: 'stretch' });
    expect(Array.from(out.sampleIds)).toEqual(Array.from({ length: 10 }, (_, i) => 9990 + i));
    expect(out.data).toEqual(Float32Array.from(t.pixels, (v) => v / 255));
  });
});

describe('source spec schema', () => {
  it('rejects unknown kinds and unknown fields', () => {
    expect(SourceSpecSchema.safeParse({ kind: 'folder', root: 'x', extra: 1 }).success).toBe(false);
    expect(SourceSpecSchema.safeParse({ kind: 'video', root: 'x' }).success).toBe(false);
    expect(SourceSpecSchema.safeParse({ kind: 'manifest', path: 'm.csv', root: 'imgs' }).success).toBe(true);
  });
});
