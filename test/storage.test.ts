import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import {
  Store,
  commitShard,
  committedShards,
  floatList,
  isShardCommitted,
  readCommit,
  shardPartPath,
  tempNameFor,
  uncommitShard,
  writeTablePart,
  type PartRecord,
  type ShardKey,
} from '../src/storage/index.js';

const C = 6; // channels
const D = 8; // code width
const SHARD = 10; // samples per shard
const LAYERS = ['block_1/conv', 'conv1'];
const part = { dataset: 'toy', model: 'net', step: 300 };

/** Known-answer values: max = sample_id + channel/100 + offset, so every row is identifiable. */
function activationColumns(shard: number, layerIdx: number, offset = 0) {
  const n = SHARD * C;
  const sample_id = new Int32Array(n);
  const channel = new Int32Array(n);
  const max = new Float32Array(n);
  const mean = new Float32Array(n);
  const zero_frac = new Float32Array(n);
  const at = new Int32Array(n);
  const ay = new Int32Array(n);
  const ax = new Int32Array(n);
  for (let s = 0; s < SHARD; s++) {
    for (let c = 0; c < C; c++) {
      const i = s * C + c;
      sample_id[i] = shard * SHARD + s;
      channel[i] = c;
      max[i] = sample_id[i]! + c / 100 + offset + layerIdx;
      mean[i] = max[i]! / 2;
      zero_frac[i] = c / C;
      ay[i] = s % 3;
      ax[i] = c % 4;
    }
  }
  return { sample_id, channel, max, mean, zero_frac, argmax_t: at, argmax_y: ay, argmax_x: ax };
}

function code(sampleId: number): Float32Array {
  return Float32Array.from({ length: D }, (_, j) => Math.sin(sampleId * 0.7 + j) + (j === 0 ? 2 : 0));
}

function codeColumns(shard: number) {
  const ids = Int32Array.from({ length: SHARD }, (_, s) => shard * SHARD + s);
  const flat = new Float32Array(SHARD * D);
  ids.forEach((id, s) => flat.set(code(id), s * D));
  return { sample_id: ids, code: floatList(flat, D) };
}

async function writeShard(store: string, shard: number, offset = 0): Promise<PartRecord[]> {
  const parts: PartRecord[] = [];
  for (const [li, layer] of LAYERS.entries()) {
    parts.push(await writeTablePart(store, 'activations', { ...part, layer }, shard, activationColumns(shard, li, offset)));
  }
  parts.push(await writeTablePart(store, 'codes', { ...part, layer: 'pool' }, shard, codeColumns(shard)));
  return parts;
}

const key = (shard: number): ShardKey => ({ ...part, shard });

function cosineDistance(a: Float32Array, b: Float32Array): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return 1 - ab / Math.sqrt(aa * bb);
}

let store: string;
let db: Store;

beforeAll(async () => {
  store = await mkdtemp(join(tmpdir(), 'nl-storage-'));
  const parts0 = await writeShard(store, 0);
  await writeShard(store, 1); // written, never committed (a run killed before its commit)
  await commitShard(store, key(0), parts0, 'run-a');
  db = await Store.open(store);
});

afterAll(async () => {
  db?.dispose();
  await rm(store, { recursive: true, force: true });
});

describe('committed shards only', () => {
  it('views show the committed shard and hide the uncommitted one', async () => {
    const rows = await db.query<{ n: bigint; lo: number; hi: number }>(
      'SELECT count(*) AS n, min(sample_id) AS lo, max(sample_id) AS hi FROM activations',
    );
    expect(rows[0]).toEqual({ n: BigInt(SHARD * C * LAYERS.length), lo: 0, hi: SHARD - 1 });
    const codes = await db.query<{ n: bigint }>('SELECT count(*) AS n FROM codes');
    expect(codes[0]!.n).toBe(BigInt(SHARD));
    expect(await isShardCommitted(store, key(0))).toBe(true);
    expect(await isShardCommitted(store, key(1))).toBe(false);
  });

  it('has the right types, partition columns included', async () => {
    const rows = await db.query<{ column_name: string; column_type: string }>('DESCRIBE activations');
    const types = Object.fromEntries(rows.map((r) => [r.column_name, r.column_type]));
    expect(types).toEqual({
      sample_id: 'INTEGER', channel: 'INTEGER', max: 'FLOAT', mean: 'FLOAT', zero_frac: 'FLOAT',
      argmax_t: 'INTEGER', argmax_y: 'INTEGER', argmax_x: 'INTEGER',
      dataset: 'VARCHAR', model: 'VARCHAR', step: 'BIGINT', layer: 'VARCHAR', shard: 'INTEGER',
    });
    const shards = await db.query('SELECT DISTINCT shard FROM activations');
    expect(shards).toEqual([{ shard: 0 }]);
    const codeType = await db.query<{ t: string }>("SELECT column_type AS t FROM (DESCRIBE codes) WHERE column_name = 'code'");
    expect(codeType[0]!.t).toBe(`FLOAT[${D}]`);
  });

  it('round-trips values and layer names containing "/"', async () => {
    const layers = await db.query<{ layer: string }>('SELECT DISTINCT layer FROM activations ORDER BY layer');
    expect(layers.map((r) => r.layer)).toEqual([...LAYERS].sort());
    const r = await db.query<{ max: number; step: bigint }>(
      "SELECT max, step FROM activations WHERE layer = $layer AND sample_id = 7 AND channel = 3",
      { layer: 'block_1/conv' },
    );
    expect(r).toEqual([{ max: Math.fround(7.03), step: 300n }]);
  });

  it('array_cosine_distance works on the FLOAT[D] codes view', async () => {
    const rows = await db.query<{ id: number; d: number }>(
      `SELECT b.sample_id AS id, array_cosine_distance(a.code, b.code) AS d
       FROM codes a JOIN codes b USING (dataset, model, step, layer)
       WHERE a.sample_id = 3 ORDER BY b.sample_id`,
    );
    expect(rows).toHaveLength(SHARD);
    for (const { id, d } of rows) expect(d).toBeCloseTo(cosineDistance(code(3), code(id)), 5);
    expect(rows[3]!.d).toBeCloseTo(0, 6);
  });
});

describe('catalog.sql', () => {
  it('opens in a fresh DuckDB instance and gives the same answers', async () => {
    const sql = await readFile(join(store, 'catalog.sql'), 'utf8');
    expect(sql).not.toContain(store); // relative paths only
    const fresh = await DuckDBInstance.create(':memory:');
    const c = await fresh.connect();
    try {
      await c.run(`SET file_search_path = '${store}'`);
      await c.run(sql);
      const q = 'SELECT layer, count(*) AS n, sum(max) AS s FROM activations GROUP BY layer ORDER BY layer';
      const viaFile = (await c.runAndReadAll(q)).getRowObjectsJS();
      expect(viaFile).toEqual(await db.query(q));
      expect(viaFile).toHaveLength(2);
      const d = (await c.runAndReadAll('SELECT array_cosine_distance(a.code, b.code) AS d FROM codes a, codes b WHERE a.sample_id = 1 AND b.sample_id = 2')).getRowObjectsJS();
      expect(d[0]!.d as number).toBeCloseTo(cosineDistance(code(1), code(2)), 5);
    } finally {
      c.closeSync();
      fresh.closeSync();
    }
  });

  it('works from the store directory with relative paths (cd store && duckdb -init catalog.sql)', async () => {
    // A separate process whose working directory is the store (vitest workers cannot chdir).
    const api = createRequire(import.meta.url).resolve('@duckdb/node-api');
    const script = `
      const { DuckDBInstance } = require(${JSON.stringify(api)});
      const fs = require('node:fs');
      (async () => {
        const c = await (await DuckDBInstance.create(':memory:')).connect();
        await c.run(fs.readFileSync('catalog.sql', 'utf8'));
        const r = await c.runAndReadAll('SELECT count(*)::INT AS n, count(DISTINCT shard)::INT AS s FROM activations');
        console.log(JSON.stringify(r.getRowObjectsJS()));
      })().catch((e) => { console.error(e); process.exit(1); });`;
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script], { cwd: store });
    const [expected] = await db.query<{ n: number; s: number }>('SELECT count(*)::INT AS n, count(DISTINCT shard)::INT AS s FROM activations');
    expect(JSON.parse(stdout)).toEqual([expected]);
  });
});

describe('re-run of a shard', () => {
  it('replaces the shard, never duplicates it', async () => {
    // Shard 1 is re-run from scratch (its earlier parts were never committed), then committed.
    const again1 = await writeShard(store, 1);
    await commitShard(store, key(1), again1, 'run-a');
    const count = async () => (await db.query<{ n: bigint }>('SELECT count(*) AS n FROM activations'))[0]!.n;
    expect(await count()).toBe(BigInt(2 * SHARD * C * LAYERS.length));

    // Re-run shard 0 with new values: uncommit, rewrite parts under the same names, commit.
    expect(await uncommitShard(store, key(0))).toBe(true);
    expect(await count()).toBe(BigInt(SHARD * C * LAYERS.length)); // readers stop seeing shard 0
    const parts0 = await writeShard(store, 0, 1000);
    await commitShard(store, key(0), parts0, 'run-b');
    expect(await count()).toBe(BigInt(2 * SHARD * C * LAYERS.length));
    const s0 = await db.query<{ n: bigint; lo: number }>(`SELECT count(*) AS n, min(max) AS lo FROM activations WHERE sample_id < ${SHARD}`);
    expect(s0[0]).toEqual({ n: BigInt(SHARD * C * LAYERS.length), lo: 1000 }); // only the new values
    expect((await readCommit(store, key(0)))?.run_id).toBe('run-b');
    expect(await committedShards(store, part)).toEqual([0, 1]);
    const dupes = await db.query('SELECT sample_id, channel, layer FROM activations GROUP BY ALL HAVING count(*) > 1');
    expect(dupes).toEqual([]);
  });
});

describe('crash safety', () => {
  it('a part written to its temp name but never renamed is invisible and harmless', async () => {
    const before = await db.query('SELECT count(*) AS n, sum(max) AS s FROM activations');
    // A kill between write and rename leaves a truncated temp file next to the parts.
    const loc = shardPartPath(store, 'activations', { ...part, layer: 'conv1' }, 2);
    await writeFile(tempNameFor(loc.abs), Buffer.from('PAR1 truncated garbage'));
    const top = await writeTablePart(store, 'topk', { ...part, layer: 'conv1' }, 'part-0.parquet', {
      channel: new Int32Array([0]), rank: new Int32Array([0]), value: new Float32Array([1]), sample_id: new Int32Array([4]),
      argmax_t: new Int32Array([0]), argmax_y: new Int32Array([0]), argmax_x: new Int32Array([0]),
    });
    await writeFile(tempNameFor(join(store, top.path)), Buffer.from('garbage'));
    await db.refresh();
    expect(await db.query('SELECT count(*) AS n, sum(max) AS s FROM activations')).toEqual(before);
    expect(await db.query('SELECT sample_id FROM topk')).toEqual([{ sample_id: 4 }]);
  });

  it('refuses to commit a part that is not on disk with its recorded size', async () => {
    const parts = await writeShard(store, 3);
    await expect(commitShard(store, key(3), [{ ...parts[0]!, bytes: parts[0]!.bytes + 1 }], 'r')).rejects.toThrow(/bytes/);
    await expect(commitShard(store, { ...key(3), dataset: 'other' }, parts, 'r')).rejects.toThrow(/does not belong/);
    await expect(commitShard(store, key(4), parts, 'r')).rejects.toThrow(/not a file of shard 4/);
    expect(await isShardCommitted(store, key(3))).toBe(false);
  });
});
