import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isNeurolensError } from '../src/errors.js';
import {
  Store,
  bools,
  commitRelPath,
  commitShard,
  decodeSegment,
  encodeSegment,
  floatList,
  isTempName,
  listRunIds,
  newRunId,
  parsePartPath,
  readRun,
  shardPartPath,
  withNulls,
  writeFileAtomic,
  writeRun,
  writeTablePart,
} from '../src/storage/index.js';

let store: string;
beforeEach(async () => {
  store = await mkdtemp(join(tmpdir(), 'nl-storage-layout-'));
});
afterEach(async () => {
  await rm(store, { recursive: true, force: true });
});

const WEIRD = ['block_1/conv', 'a b+c%d=e', 'ünï/cödé', '.hidden', '..', 'StatefulPartitionedCall/model/conv1/Conv2D'];

describe('layout', () => {
  it('encodes partition values as single, safe, reversible segments', () => {
    for (const v of WEIRD) {
      const seg = encodeSegment(v);
      expect(seg).toMatch(/^[A-Za-z0-9_%-][A-Za-z0-9_.%-]*$/); // no '/', '=', leading '.'
      expect(decodeSegment(seg)).toBe(v);
    }
    expect(() => encodeSegment('')).toThrow(/non-empty/);
  });

  it('builds deterministic paths and parses them back', () => {
    const loc = shardPartPath(store, 'activations', { dataset: 'd', model: 'm', step: 12, layer: 'block_1/conv' }, 7);
    expect(loc.rel).toBe('activations/dataset=d/model=m/step=12/layer=block_1%2Fconv/shard-00007.parquet');
    expect(loc.abs).toBe(join(store, loc.rel));
    expect(parsePartPath(loc.rel)).toEqual({
      table: 'activations',
      partition: { dataset: 'd', model: 'm', step: 12, layer: 'block_1/conv' },
      file: 'shard-00007.parquet',
    });
    expect(commitRelPath({ dataset: 'd/x', model: 'm', step: 3, shard: 123456 })).toBe('_commits/m/3/d%2Fx/shard-123456.json');
    expect(() => shardPartPath(store, 'predictions', { dataset: 'd', model: 'm', step: 1, layer: 'x' }, 0)).toThrow(/not partitioned by layer/);
    expect(() => shardPartPath(store, 'activations', { dataset: 'd', model: 'm', step: -1, layer: 'x' }, 0)).toThrow(/step/);
  });

  it('DuckDB decodes every encoded layer name back to the original', async () => {
    const parts = [];
    for (const [i, layer] of WEIRD.entries()) {
      parts.push(
        await writeTablePart(store, 'topk_partial', { dataset: 'd', model: 'm', step: 1, layer }, 0, {
          channel: new Int32Array([i]), rank: new Int32Array([0]), value: new Float32Array([i]), sample_id: new Int32Array([i]),
          argmax_t: new Int32Array([0]), argmax_y: new Int32Array([0]), argmax_x: new Int32Array([0]),
        }),
      );
    }
    await commitShard(store, { dataset: 'd', model: 'm', step: 1, shard: 0 }, parts, 'r');
    const db = await Store.open(store, { readOnly: true });
    try {
      const rows = await db.query<{ layer: string; channel: number }>('SELECT layer, channel FROM topk_partial ORDER BY channel');
      expect(rows.map((r) => r.layer)).toEqual(WEIRD);
    } finally {
      db.dispose();
    }
  });
});

describe('fresh store and catalog refresh', () => {
  it('has every view, typed and empty, before any file exists', async () => {
    const db = await Store.open(store);
    try {
      for (const t of ['samples', 'activations', 'codes', 'neuron_stats', 'topk', 'predictions', 'embeddings', 'errors', 'commits', 'runs']) {
        expect(await db.query(`SELECT * FROM ${t}`)).toEqual([]);
      }
      const ns = await db.query<{ column_name: string; column_type: string }>('DESCRIBE neuron_stats');
      expect(ns.find((c) => c.column_name === 'dead')?.column_type).toBe('BOOLEAN');
      expect(ns.find((c) => c.column_name === 'step')?.column_type).toBe('BIGINT');
      expect((await stat(join(store, 'catalog.sql'))).isFile()).toBe(true);

      // First files of a table appear: visible after refresh (the view was an empty SELECT).
      const key = { dataset: 'd', model: 'm', step: 5, shard: 0 };
      const p = await writeTablePart(store, 'predictions', { dataset: 'd', model: 'm', step: 5 }, 0, {
        sample_id: new Int32Array([0, 1, 2]),
        label: withNulls(new Int32Array([1, 0, 0]), new Uint8Array([1, 1, 0])),
        pred: new Int32Array([1, 1, 2]),
        prob: new Float32Array([0.9, 0.6, 0.5]),
      });
      await db.refresh();
      expect(await db.query('SELECT * FROM predictions')).toEqual([]); // files, but no commit yet
      await commitShard(store, key, [p], 'r');
      // The Store follows commits: the next query sees the committed shard without a refresh.
      const rows = await db.query<{ sample_id: number; label: number | null }>('SELECT sample_id, label FROM predictions ORDER BY sample_id');
      expect(rows).toEqual([{ sample_id: 0, label: 1 }, { sample_id: 1, label: 0 }, { sample_id: 2, label: null }]);
      const acc = await db.query<{ acc: number }>('SELECT avg((pred = label)::INT) AS acc FROM predictions WHERE label IS NOT NULL');
      expect(acc[0]!.acc).toBeCloseTo(0.5);
    } finally {
      db.dispose();
    }
  });

  it('refuses to open a missing store read-only', async () => {
    const err = await Store.open(join(store, 'nope'), { readOnly: true }).catch((e) => e);
    expect(isNeurolensError(err) && err.code).toBe('NOT_FOUND');
  });

  it('samples: optional clip columns read as typed NULLs when absent', async () => {
    await writeTablePart(store, 'samples', { dataset: 'imgs' }, 'part-0.parquet', {
      sample_id: new Int32Array([0, 1]), uri: ['a.png', 'b.png'], label: new Int32Array([3, 4]), split: ['train', null],
    });
    const db = await Store.open(store);
    try {
      expect(await db.query('SELECT sample_id, uri, split, video_start, dataset FROM samples ORDER BY sample_id')).toEqual([
        { sample_id: 0, uri: 'a.png', split: 'train', video_start: null, dataset: 'imgs' },
        { sample_id: 1, uri: 'b.png', split: null, video_start: null, dataset: 'imgs' },
      ]);
      const t = await db.query<{ column_type: string }>("SELECT column_type FROM (DESCRIBE samples) WHERE column_name = 'video_start'");
      expect(t[0]!.column_type).toBe('INTEGER');
    } finally {
      db.dispose();
    }
  });

  it('codes of several widths: one FLOAT[D] view per width', async () => {
    const parts = [];
    for (const dim of [3, 5]) {
      const flat = Float32Array.from({ length: 2 * dim }, (_, i) => (i < dim ? 1 : i - dim + 1));
      parts.push(await writeTablePart(store, 'codes', { dataset: 'd', model: 'm', step: 0, layer: `fc${dim}` }, 0, {
        sample_id: new Int32Array([0, 1]), code: floatList(flat, dim),
      }));
    }
    await commitShard(store, { dataset: 'd', model: 'm', step: 0, shard: 0 }, parts, 'r');
    const db = await Store.open(store);
    try {
      expect(db.info.codeDims).toEqual([3, 5]);
      const t = await db.query<{ column_type: string }>("SELECT column_type FROM (DESCRIBE codes) WHERE column_name = 'code'");
      expect(t[0]!.column_type).toBe('FLOAT[]');
      for (const dim of [3, 5]) {
        const r = await db.query<{ d: number }>(`SELECT array_cosine_distance(a.code, b.code) AS d FROM codes_${dim} a, codes_${dim} b WHERE a.sample_id = 0 AND b.sample_id = 1`);
        // cos([1..1], [1..D]) = sum(i) / (sqrt(D) * sqrt(sum(i^2)))
        const s = (dim * (dim + 1)) / 2, s2 = (dim * (dim + 1) * (2 * dim + 1)) / 6;
        expect(r[0]!.d).toBeCloseTo(1 - s / Math.sqrt(dim * s2), 5);
      }
    } finally {
      db.dispose();
    }
  });
});

describe('schema checks', () => {
  const partition = { dataset: 'd', model: 'm', step: 0, layer: 'l' };
  it('rejects missing, extra or mistyped columns, naming the column', async () => {
    const ok = { sample_id: new Int32Array([1]), code: floatList(new Float32Array(4), 4) };
    await expect(writeTablePart(store, 'codes', partition, 0, { sample_id: new Int32Array([1]) })).rejects.toThrow(/missing column code/);
    await expect(writeTablePart(store, 'codes', partition, 0, { ...ok, extra: new Int32Array([1]) })).rejects.toThrow(/unknown column extra/);
    await expect(writeTablePart(store, 'codes', partition, 0, { ...ok, sample_id: new Float32Array([1]) })).rejects.toThrow(/codes.sample_id: expected INT32/);
    await expect(writeTablePart(store, 'codes', partition, 0, { ...ok, sample_id: new Int32Array([1, 2]) })).rejects.toThrow(/rows/);
    await expect(writeTablePart(store, 'errors', { dataset: 'd', model: 'm', step: 0 }, 0, {
      sample_id: new Int32Array([1]), uri: [null], stage: [null], reason: ['x'],
    })).rejects.toThrow(/errors.stage: row 0 is null/);
    // Nothing was written under a final name.
    expect(await readdir(store)).toEqual([]);
  });

  it('writes booleans, int64 and doubles with their types', async () => {
    await writeTablePart(store, 'neuron_stats', partition, 'part-0.parquet', {
      channel: new Int32Array([0, 1]), count: new BigInt64Array([10n, 2n ** 40n]), positions: new BigInt64Array([40n, 80n]),
      mean: new Float64Array([0.5, 0]), std: new Float64Array([1, 0]), min: new Float32Array([0, 0]), max: new Float32Array([3, 0]),
      zero_frac: new Float64Array([0.25, 1]), active_frac: new Float64Array([0.9, 0]), dead: bools([false, true]),
      m2: new Float64Array([9, 0]), zero_count: new BigInt64Array([10n, 80n]), active_count: new BigInt64Array([9n, 0n]),
    });
    const db = await Store.open(store);
    try {
      expect(await db.query('SELECT channel, count, dead FROM neuron_stats ORDER BY channel')).toEqual([
        { channel: 0, count: 10n, dead: false },
        { channel: 1, count: 2n ** 40n, dead: true },
      ]);
    } finally {
      db.dispose();
    }
  });
});

describe('atomic writes and runs', () => {
  it('a failed write leaves neither a final nor a temp file', async () => {
    const target = join(store, 'x', 'file.json');
    await mkdir(target, { recursive: true }); // a directory where the file should go: rename fails
    await expect(writeFileAtomic(target, '{}')).rejects.toThrow(/cannot write/);
    expect((await readdir(join(store, 'x'))).filter(isTempName)).toEqual([]);
  });

  it('run ids sort by time; run records round-trip and show in the runs view', async () => {
    const a = newRunId(new Date('2025-01-02T03:04:05.006Z'));
    const b = newRunId(new Date('2025-01-02T03:04:05.007Z'));
    expect(a < b).toBe(true);
    expect(a).toMatch(/^20250102T030405006Z-[0-9a-f]{6}$/);
    await writeRun(store, { run_id: b, status: 'running', started_at: 't1', spec: { layers: ['c1'] }, versions: { node: process.version } });
    await writeRun(store, { run_id: a, status: 'succeeded', started_at: 't0', finished_at: 't2', spec: {}, versions: {}, counts: { samples: 7 } });
    expect(await listRunIds(store)).toEqual([a, b]);
    expect((await readRun(store, a)).counts).toEqual({ samples: 7 });
    const db = await Store.open(store);
    try {
      const rows = await db.query<{ run_id: string; status: string; samples: bigint | null }>(
        "SELECT run_id, status, (counts->>'samples')::BIGINT AS samples FROM runs ORDER BY run_id",
      );
      expect(rows).toEqual([{ run_id: a, status: 'succeeded', samples: 7n }, { run_id: b, status: 'running', samples: null }]);
    } finally {
      db.dispose();
    }
  });
});
