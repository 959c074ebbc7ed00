/**
 * Helpers of bench/pipeline.ts for `--retention rows,summary`: the store bytes one checkpoint
 * wrote, and the DDSketch quantiles of per-sample maxima (queries/neuron_quantiles.sql) against
 * the exact quantiles from the `activations` rows of a rows-mode run.
 */
import path from 'node:path';
import { readdir, stat } from 'node:fs/promises';
import { getQuery, runQuery } from '../src/queries/index.js';
import { Store } from '../src/storage/index.js';

/**
 * Bytes of the Parquet files under `<store>/<table>/.../step=<step>/...`, per table: everything a
 * checkpoint wrote (per-shard parts, partials and finalized parts); the dataset-level `samples`
 * table and the JSON commit / run records are not counted.
 */
export async function stepParquetBytes(storeDir: string, step: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const walk = async (dir: string, rel: string[]): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await walk(p, [...rel, e.name]);
      else if (e.isFile() && e.name.endsWith('.parquet') && rel.includes(`step=${step}`)) {
        out[rel[0]] = (out[rel[0]] ?? 0) + (await stat(p)).size;
      }
    }
  };
  await walk(storeDir, []);
  return out;
}

export interface QuantileCheck {
  layer: string;
  channels: number;
  /** Samples per channel (from the rows). */
  n: number;
  /** Worst relative error |sketch - exact| / |exact| over all channels and quantiles. */
  worst: number;
  at: { channel: number; q: number; sketch: number; exact: number };
  /** Channels x quantiles compared, and how many were beyond `bound`. */
  compared: number;
  beyond: number;
  /** The bound the query states (its error_bound column). */
  bound: number;
}

/**
 * For each layer, `neuron_quantiles` (sketch) at every q against the exact quantile of the
 * per-sample maxima in `activations`: the element of 0-based rank floor(q * (n - 1)) of the sorted
 * maxima, the rule the query states.
 */
export async function sketchVsExact(storeDir: string, layers: string[], step: number, qs: number[]): Promise<QuantileCheck[]> {
  const store = await Store.open(storeDir, { readOnly: true });
  try {
    const def = await getQuery('neuron_quantiles');
    const out: QuantileCheck[] = [];
    for (const layer of layers) {
      const exact = await store.query<{ channel: number; xs: number[] }>(
        'SELECT channel, list_sort(list(max)) AS xs FROM activations WHERE layer = $layer AND step = $step GROUP BY channel ORDER BY channel',
        { layer, step },
      );
      const byChannel = new Map(exact.map((r) => [Number(r.channel), r.xs]));
      const check: QuantileCheck = { layer, channels: exact.length, n: exact[0]?.xs.length ?? 0, worst: 0, at: { channel: -1, q: NaN, sketch: NaN, exact: NaN }, compared: 0, beyond: 0, bound: NaN };
      for (const q of qs) {
        const r = await runQuery(store, def, { layer, step, q });
        const { channel, value, error_bound: bound, n } = r.data as Record<string, unknown[]>;
        if (r.rowCount !== exact.length) throw new Error(`${layer} q=${q}: ${r.rowCount} sketch channels vs ${exact.length} with rows`);
        for (let i = 0; i < r.rowCount; i++) {
          const c = Number(channel[i]);
          const xs = byChannel.get(c)!;
          if (Number(n[i]) !== xs.length) throw new Error(`${layer} channel ${c}: sketch n ${String(n[i])} vs ${xs.length} rows`);
          const ex = xs[Math.floor(q * (xs.length - 1))];
          const sk = Number(value[i]);
          const err = ex === 0 ? (sk === 0 ? 0 : Infinity) : Math.abs(sk - ex) / Math.abs(ex);
          check.bound = Number(bound[i]);
          check.compared++;
          if (err > check.bound) check.beyond++;
          if (err > check.worst || check.at.channel < 0) {
            check.worst = Math.max(check.worst, err);
            check.at = { channel: c, q, sketch: sk, exact: ex };
          }
        }
      }
      out.push(check);
    }
    return out;
  } finally {
    store.dispose();
  }
}
