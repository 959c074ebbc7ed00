import { describe, it, expect, afterAll } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store, commitShard, writeTablePart } from '../src/storage/index.js';

let store: string | undefined;
afterAll(async () => {
  if (store) await rm(store, { recursive: true, force: true });
});

describe('Parquet ingest of 1M activation rows', () => {
  it('reads back exactly what was written (throughput is printed, not asserted)', async () => {
    store = await mkdtemp(join(tmpdir(), 'nl-storage-ingest-'));
    const samples = 2048, channels = 512, n = samples * channels; // 1,048,576 rows
    const sample_id = new Int32Array(n), channel = new Int32Array(n);
    const max = new Float32Array(n), mean = new Float32Array(n), zero_frac = new Float32Array(n);
    const argmax_t = new Int32Array(n), argmax_y = new Int32Array(n), argmax_x = new Int32Array(n);
    let expectedSum = 0;
    let x = 12345; // LCG noise: realistic (poorly compressible) float columns
    const noise = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 8) / 2 ** 24;
    for (let s = 0, i = 0; s < samples; s++) {
      for (let c = 0; c < channels; c++, i++) {
        sample_id[i] = s;
        channel[i] = c;
        max[i] = 5 * noise();
        expectedSum += max[i]!;
        mean[i] = max[i]! * noise();
        zero_frac[i] = (c % 8) / 8;
        argmax_y[i] = s % 7;
        argmax_x[i] = c % 5;
      }
    }
    const partition = { dataset: 'bench', model: 'm', step: 0, layer: 'conv/1' };
    const t0 = performance.now();
    const part = await writeTablePart(store, 'activations', partition, 0, {
      sample_id, channel, max, mean, zero_frac, argmax_t, argmax_y, argmax_x,
    });
    const seconds = (performance.now() - t0) / 1000;
    await commitShard(store, { dataset: 'bench', model: 'm', step: 0, shard: 0 }, [part], 'bench');
    console.log(
      `[storage-ingest] ${n} activation rows -> ${(part.bytes / 1e6).toFixed(1)} MB Parquet (ZSTD) in ${seconds.toFixed(2)} s: ` +
        `${Math.round(n / seconds).toLocaleString('en')} rows/s, ${(part.bytes / n).toFixed(2)} bytes/row`,
    );
    const db = await Store.open(store, { readOnly: true });
    try {
      const t1 = performance.now();
      const [r] = await db.query<{ n: bigint; s: number; c: bigint }>(
        'SELECT count(*) AS n, sum(max::DOUBLE) AS s, count(DISTINCT channel) AS c FROM activations',
      );
      console.log(`[storage-ingest] DuckDB scan of the committed view: ${((performance.now() - t1) / 1000).toFixed(2)} s`);
      expect(r!.n).toBe(BigInt(n));
      expect(r!.c).toBe(BigInt(channels));
      expect(r!.s).toBeCloseTo(expectedSum, 0);
    } finally {
      db.dispose();
    }
  }, 120_000);
});
