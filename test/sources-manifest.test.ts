import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { openSource } from '../src/sources/index.js';
import { decodeBatch } from '../src/stages/decode.js';
import { pngBytes, put, solid } from './fixtures/images.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'manifest-test-'));
  for (let v = 1; v <= 4; v++) await put(path.join(dir, `imgs/${v}.png`), pngBytes(solid(2, 2, [v * 10])));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function duck(sql: string, params: string[] = []): Promise<void> {
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  try {
    await c.run(sql, params);
  } finally {
    c.closeSync();
    db.closeSync();
  }
}

const PRE = { height: 2, width: 2, channels: 1 as const, scale: 1, mean: [0], std: [1], fit: 'stretch' as const };

describe('CSV manifest', () => {
  it('resolves relative, absolute and file:// uris; maps class names to sorted indices; keeps row order', async () => {
    const abs = path.join(dir, 'imgs/3.png');
    const csv = [
      'uri,label,split',
      'imgs/2.png,dog,train',
      `${abs},cat,test`,
      `"${pathToFileURL(path.join(dir, 'imgs/1.png')).href}",bird,train`,
      'imgs/4.png,,train',
      '',
    ].join('\n');
    await put(path.join(dir, 'm1.csv'), csv);
    const src = await openSource({ kind: 'manifest', path: 'm1.csv' }, dir);
    expect(src.kind).toBe('manifest');
    expect(src.classes).toEqual(['bird', 'cat', 'dog']);
    expect(src.refs(0, src.size)).toEqual([
      { sampleId: 0, uri: path.join(dir, 'imgs/2.png'), label: 2, split: 'train' },
      { sampleId: 1, uri: abs, label: 1, split: 'test' },
      { sampleId: 2, uri: path.join(dir, 'imgs/1.png'), label: 0, split: 'train' },
      { sampleId: 3, uri: path.join(dir, 'imgs/4.png'), label: -1, split: 'train' },
    ]);
    const out = await decodeBatch(src.decodeTask(0, 4), PRE);
    expect(Array.from(out.data.filter((_, i) => i % 4 === 0))).toEqual([20, 30, 10, 40]);
  });

  it('integer labels, a root for relative uris, no split column, BOM and CRLF', async () => {
    const sub = path.join(dir, 'lists');
    await put(path.join(sub, 'm2.csv'), '\ufeffuri,label\r\n1.png,7\r\n2.png,-1\r\n');
    const src = await openSource({ kind: 'manifest', path: 'lists/m2.csv', root: 'imgs' }, dir);
    expect(src.classes).toBeNull();
    expect(src.refs(0, 2).map((r) => [path.relative(dir, r.uri), r.label, r.split])).toEqual([
      ['imgs/1.png', 7, ''],
      ['imgs/2.png', -1, ''],
    ]);
    // The spec's classes give names to integer labels and bound them.
    await expect(openSource({ kind: 'manifest', path: 'lists/m2.csv', root: 'imgs' }, dir, { classes: ['a', 'b'] })).rejects.toThrow(
      /row 1 \(line 2\), column 'label': bad label '7': spec dataset.classes has only 2 classes/,
    );
  });

  it('without a label column every label is -1; TSV works', async () => {
    await put(path.join(dir, 'm3.tsv'), 'split\turi\nx\timgs/1.png\n');
    const src = await openSource({ kind: 'manifest', path: 'm3.tsv' }, dir);
    expect(src.refs(0, 1)).toEqual([{ sampleId: 0, uri: path.join(dir, 'imgs/1.png'), label: -1, split: 'x' }]);
  });

  it('spec classes order name labels', async () => {
    const src = await openSource({ kind: 'manifest', path: 'm1.csv' }, dir, { classes: ['dog', 'cat', 'bird'] });
    expect(src.refs(0, 3).map((r) => r.label)).toEqual([0, 1, 2]);
    await expect(openSource({ kind: 'manifest', path: 'm1.csv' }, dir, { classes: ['dog', 'cat'] })).rejects.toThrow(
      /m1.csv: row 3 \(line 4\), column 'label': class 'bird' is not in the spec's dataset.classes/,
    );
  });

  it('errors name the file, row/line, column and reason', async () => {
    await put(path.join(dir, 'nouri.csv'), 'path,label\na.png,1\n');
    await expect(openSource({ kind: 'manifest', path: 'nouri.csv' }, dir)).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: `manifest ${path.join(dir, 'nouri.csv')}: missing column 'uri' (the image path of each row); columns found: path, label`,
    });
    // A quoted multi-line field shifts lines: the row's line number is where it ends.
    await put(path.join(dir, 'badlabel.csv'), 'uri,label\n"imgs/1.png",1\n"imgs/\n2.png",-5\n');
    await expect(openSource({ kind: 'manifest', path: 'badlabel.csv' }, dir)).rejects.toThrow(
      /badlabel.csv: row 2 \(line 4\), column 'label': bad label '-5': must be >= 0 \(or -1 for unknown\)/,
    );
    await put(path.join(dir, 'mixed.csv'), 'uri,label\na.png,cat\nb.png,3\n');
    await expect(openSource({ kind: 'manifest', path: 'mixed.csv' }, dir)).rejects.toThrow(/row 2 \(line 3\), column 'label': the column mixes integer labels/);
    await put(path.join(dir, 'emptyuri.csv'), 'uri,label\nimgs/1.png,1\n,2\n');
    await expect(openSource({ kind: 'manifest', path: 'emptyuri.csv' }, dir)).rejects.toThrow(/row 2 \(line 3\), column 'uri': empty uri/);
    await put(path.join(dir, 'http.csv'), 'uri\nhttps://example.com/a.png\n');
    await expect(openSource({ kind: 'manifest', path: 'http.csv' }, dir)).rejects.toThrow(/column 'uri': 'https:\/\/example.com\/a.png': only local paths/);
    await put(path.join(dir, 'ragged.csv'), 'uri,label\na.png,1,extra\n');
    await expect(openSource({ kind: 'manifest', path: 'ragged.csv' }, dir)).rejects.toThrow(/ragged.csv: not valid CSV/);
    await put(path.join(dir, 'header-only.csv'), 'uri,label\n');
    await expect(openSource({ kind: 'manifest', path: 'header-only.csv' }, dir)).rejects.toThrow(/the dataset is empty/);
    await expect(openSource({ kind: 'manifest', path: 'missing.csv' }, dir)).rejects.toThrow(`manifest ${path.join(dir, 'missing.csv')} does not exist`);
    await put(path.join(dir, 'm.json'), '[]');
    await expect(openSource({ kind: 'manifest', path: 'm.json' }, dir)).rejects.toThrow(/unknown format '.json'/);
    await expect(openSource({ kind: 'manifest', path: 'm1.csv', root: 'no-root' }, dir)).rejects.toThrow(/manifest root .*no-root does not exist/);
  });
});

describe('Parquet manifest (written by DuckDB COPY)', () => {
  it('keeps file row order over many row groups, with integer labels and splits', async () => {
    const file = path.join(dir, 'big.parquet');
    // 5000 rows in row groups of 1000, ids written in a scrambled but known order.
    await duck(
      `COPY (SELECT 'imgs/' || ((i * 7919) % 5000) || '.png' AS uri, ((i * 7919) % 5000 % 10)::INTEGER AS label,
                    CASE WHEN i % 2 = 0 THEN 'train' ELSE 'test' END AS split
             FROM range(5000) t(i) ORDER BY i)
       TO '${file}' (FORMAT parquet, ROW_GROUP_SIZE 1000)`,
    );
    const src = await openSource({ kind: 'manifest', path: 'big.parquet' }, dir);
    expect(src.size).toBe(5000);
    const refs = src.refs(0, 5000);
    refs.forEach((r, i) => {
      const k = (i * 7919) % 5000;
      expect([r.sampleId, r.uri, r.label, r.split]).toEqual([i, path.join(dir, `imgs/${k}.png`), k % 10, i % 2 === 0 ? 'train' : 'test']);
    });
  });

  it('name labels map to sorted indices; nulls are -1', async () => {
    const file = path.join(dir, 'names.parquet');
    await duck(`COPY (SELECT * FROM (VALUES ('imgs/1.png', 'zebra'), ('imgs/2.png', NULL), ('imgs/3.png', 'ant')) v(uri, label)) TO '${file}' (FORMAT parquet)`);
    const src = await openSource({ kind: 'manifest', path: file }, '/');
    expect(src.classes).toEqual(['ant', 'zebra']);
    expect(src.refs(0, 3).map((r) => [r.label, r.split])).toEqual([[1, ''], [-1, ''], [0, '']]);
    const out = await decodeBatch(src.decodeTask(0, 3), PRE);
    expect(Array.from(out.data.filter((_, i) => i % 4 === 0))).toEqual([10, 20, 30]);
  });

  it('errors: non-integer label, missing uri column, not a Parquet file', async () => {
    const frac = path.join(dir, 'frac.parquet');
    await duck(`COPY (SELECT * FROM (VALUES ('a.png', 1.0::DOUBLE), ('b.png', 2.5::DOUBLE)) v(uri, label)) TO '${frac}' (FORMAT parquet)`);
    await expect(openSource({ kind: 'manifest', path: frac }, dir)).rejects.toThrow(/frac.parquet: row 2, column 'label': bad label '2.5': not an integer/);
    const nouri = path.join(dir, 'nouri.parquet');
    await duck(`COPY (SELECT 'a.png' AS file, 1 AS label) TO '${nouri}' (FORMAT parquet)`);
    await expect(openSource({ kind: 'manifest', path: nouri }, dir)).rejects.toThrow(/missing column 'uri'.*columns found: file, label/);
    await put(path.join(dir, 'fake.parquet'), 'not parquet at all');
    await expect(openSource({ kind: 'manifest', path: 'fake.parquet' }, dir)).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringMatching(/fake.parquet: cannot read Parquet/),
    });
  });
});
