import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { readIdx, readIdxPair } from '../src/sources/idx.js';
import { NeurolensError } from '../src/errors.js';

/** Encodes an IDX file by the spec (big-endian), independently of the reader. */
function encodeIdx(typeCode: number, dims: number[], values: number[]): Buffer {
  const size: Record<number, number> = { 8: 1, 9: 1, 0xb: 2, 0xc: 4, 0xd: 4, 0xe: 8 };
  const head = Buffer.alloc(4 + 4 * dims.length);
  head[2] = typeCode;
  head[3] = dims.length;
  dims.forEach((d, i) => head.writeInt32BE(d, 4 + 4 * i));
  const body = Buffer.alloc(values.length * size[typeCode]);
  values.forEach((v, i) => {
    const o = i * size[typeCode];
    if (typeCode === 8) body.writeUInt8(v, o);
    else if (typeCode === 9) body.writeInt8(v, o);
    else if (typeCode === 0xb) body.writeInt16BE(v, o);
    else if (typeCode === 0xc) body.writeInt32BE(v, o);
    else if (typeCode === 0xd) body.writeFloatBE(v, o);
    else body.writeDoubleBE(v, o);
  });
  return Buffer.concat([head, body]);
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'idx-test-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function put(name: string, buf: Buffer): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, buf);
  return p;
}

async function expectBad(p: string, pattern: RegExp): Promise<void> {
  const err = await readIdx(p).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(NeurolensError);
  expect((err as NeurolensError).code).toBe('BAD_INPUT');
  expect((err as NeurolensError).message).toContain(p);
  expect((err as NeurolensError).message).toMatch(pattern);
}

describe('readIdx: good files', () => {
  it('reads every type, converting big-endian multibyte values', async () => {
    const cases: [number, string, number[]][] = [
      [0x08, 'uint8', [0, 1, 127, 128, 255, 7]],
      [0x09, 'int8', [-128, -1, 0, 1, 127, 5]],
      [0x0b, 'int16', [-32768, -2, 0, 258, 32767, 1000]],
      [0x0c, 'int32', [-2147483648, -1, 0, 16909060, 2147483647, 42]],
      [0x0d, 'float32', [-1.5, 0, 0.25, 3.5, 1e10, -7]],
      [0x0e, 'float64', [-1.5e-300, 0, Math.PI, 1e300, -7, 0.1]],
    ];
    for (const [code, dtype, values] of cases) {
      const p = await put(`t-${dtype}.idx`, encodeIdx(code, [2, 3], values));
      const a = await readIdx(p);
      expect(a.dtype).toBe(dtype);
      expect(a.dims).toEqual([2, 3]);
      expect(a.path).toBe(p);
      const expected = dtype === 'float32' ? values.map(Math.fround) : values;
      expect(Array.from(a.data)).toEqual(expected);
    }
  });

  it('detects gzip by magic bytes, not by name', async () => {
    const values = Array.from({ length: 24 }, (_, i) => (i * 37) % 256);
    const gz = await put('looks-raw.idx', gzipSync(encodeIdx(0x08, [2, 3, 4], values)));
    const raw = await put('looks-gz.gz', encodeIdx(0x08, [2, 3, 4], values));
    const a = await readIdx(gz);
    const b = await readIdx(raw);
    expect(a.dims).toEqual([2, 3, 4]);
    expect(Array.from(a.data)).toEqual(values);
    expect(Array.from(b.data)).toEqual(values);
  });

  it('reads a pair with matching counts', async () => {
    const imgs = await put('pair-img', encodeIdx(0x08, [3, 2, 2], new Array(12).fill(9)));
    const labs = await put('pair-lab', encodeIdx(0x08, [3], [0, 5, 9]));
    const { images, labels } = await readIdxPair(imgs, labs);
    expect(images.dims[0]).toBe(3);
    expect(Array.from(labels.data)).toEqual([0, 5, 9]);
  });
});

describe('readIdx: bad files', () => {
  it('missing file', async () => {
    await expectBad(join(dir, 'nope.idx'), /does not exist/);
  });
  it('zero-byte file', async () => {
    await expectBad(await put('empty.idx', Buffer.alloc(0)), /empty/);
  });
  it('bad magic (first two bytes not 0)', async () => {
    const b = encodeIdx(0x08, [2], [1, 2]);
    b[0] = 0x12;
    await expectBad(await put('magic.idx', b), /magic/);
  });
  it('unknown type code', async () => {
    const b = encodeIdx(0x08, [2], [1, 2]);
    b[2] = 0x0a;
    await expectBad(await put('type.idx', b), /unknown type code 0x0a/);
  });
  it('truncated data', async () => {
    const b = encodeIdx(0x0c, [4], [1, 2, 3, 4]);
    await expectBad(await put('trunc.idx', b.subarray(0, b.length - 3)), /truncated.*need 16 data bytes, file has 13/);
  });
  it('truncated header', async () => {
    const b = encodeIdx(0x08, [2, 2, 2], new Array(8).fill(0));
    await expectBad(await put('trunc-head.idx', b.subarray(0, 10)), /header truncated/);
  });
  it('corrupt / truncated gzip', async () => {
    const gz = gzipSync(encodeIdx(0x08, [100], new Array(100).fill(3)));
    await expectBad(await put('trunc.gz', gz.subarray(0, gz.length - 10)), /gzip/);
  });
  it('trailing garbage', async () => {
    const b = Buffer.concat([encodeIdx(0x08, [2], [1, 2]), Buffer.from([9, 9, 9])]);
    await expectBad(await put('trail.idx', b), /3 bytes of trailing garbage/);
  });
  it('count mismatch between images and labels names both files', async () => {
    const imgs = await put('mm-img', encodeIdx(0x08, [3, 1, 1], [1, 2, 3]));
    const labs = await put('mm-lab', encodeIdx(0x08, [2], [0, 1]));
    const err = await readIdxPair(imgs, labs).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NeurolensError);
    expect((err as NeurolensError).message).toMatch(/3 images.*2 labels/);
    expect((err as NeurolensError).message).toContain(imgs);
    expect((err as NeurolensError).message).toContain(labs);
  });
});

const FM = '/usr/share/datasets/fashion-mnist';
describe.skipIf(!existsSync(FM))('readIdx: real Fashion-MNIST (Debian dataset-fashion-mnist)', () => {
  it('train and test splits have 60000/10000 28x28 images with labels 0..9', async () => {
    for (const [split, n] of [['train', 60000], ['t10k', 10000]] as const) {
      const { images, labels } = await readIdxPair(`${FM}/${split}-images-idx3-ubyte.gz`, `${FM}/${split}-labels-idx1-ubyte.gz`);
      expect(images.dtype).toBe('uint8');
      expect(images.dims).toEqual([n, 28, 28]);
      expect(labels.dims).toEqual([n]);
      expect(images.data.length).toBe(n * 784);
      let maxLabel = 0;
      const counts = new Array(10).fill(0);
      for (const l of labels.data) {
        maxLabel = Math.max(maxLabel, l);
        counts[l]++;
      }
      expect(maxLabel).toBe(9);
      // Fashion-MNIST is balanced: each class has exactly n/10 samples.
      expect(counts).toEqual(new Array(10).fill(n / 10));
    }
  });
});
