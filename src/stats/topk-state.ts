import {
  badState,
  checkColumn,
  checkPositiveInt,
  numbersFromJSON,
  numbersToJSON,
  type JsonNumber,
} from './check.js';

const KIND = 'TopK';

/**
 * The saved state of a TopK partial, and its serial forms: Parquet-ready columns (one row per
 * (channel, rank)) for shard partials in the store, and JSON for small states.
 */
export interface TopKState {
  layer?: string;
  channels: number;
  k: number;
  /** Channel c holds its entries, best first, in slots c*k .. c*k + size[c] - 1. */
  value: Float32Array;
  sampleId: Int32Array;
  argmax: Int32Array;
  size: Int32Array;
}

export interface TopKColumns {
  channel: Int32Array;
  rank: Int32Array;
  value: Float32Array;
  sample_id: Int32Array;
  argmax: Int32Array;
}

/** Columns as read back (any numeric arrays), rows in any order. */
export type TopKColumnsLike = { [K in keyof TopKColumns]: ArrayLike<number> };

export interface TopKJSON {
  kind: 'TopK';
  version: 1;
  layer?: string;
  channels: number;
  k: number;
  /** Entries per channel; the flat arrays below hold them channel after channel, best first. */
  size: number[];
  value: JsonNumber[];
  sampleId: number[];
  argmax: number[];
}

/**
 * The rank order: (v1, id1, a1) comes before (v2, id2, a2) when its value is higher, then its
 * sample id lower, then its argmax lower. A total order on non-NaN entries, so the k first of any
 * multiset are unique: merges in any order give the same bits as one pass.
 */
export function precedes(v1: number, id1: number, a1: number, v2: number, id2: number, a2: number): boolean {
  return v1 > v2 || (v1 === v2 && (id1 < id2 || (id1 === id2 && a1 < a2)));
}

export function emptyTopKState(channels: number, k = 32, layer?: string): TopKState {
  const c = checkPositiveInt(KIND, 'channels', channels);
  const kk = checkPositiveInt(KIND, 'k', k);
  return {
    ...(layer !== undefined ? { layer } : {}),
    channels: c,
    k: kk,
    value: new Float32Array(c * kk),
    sampleId: new Int32Array(c * kk),
    argmax: new Int32Array(c * kk),
    size: new Int32Array(c),
  };
}

export function topKStateToColumns(s: TopKState): TopKColumns {
  let rows = 0;
  for (let c = 0; c < s.channels; c++) rows += s.size[c];
  const cols: TopKColumns = {
    channel: new Int32Array(rows),
    rank: new Int32Array(rows),
    value: new Float32Array(rows),
    sample_id: new Int32Array(rows),
    argmax: new Int32Array(rows),
  };
  let r = 0;
  for (let c = 0; c < s.channels; c++) {
    for (let i = 0; i < s.size[c]; i++, r++) {
      const p = c * s.k + i;
      cols.channel[r] = c;
      cols.rank[r] = i;
      cols.value[r] = s.value[p];
      cols.sample_id[r] = s.sampleId[p];
      cols.argmax[r] = s.argmax[p];
    }
  }
  return cols;
}

/**
 * Restores a state from rows in any order. Ranks of a channel must be 0..n-1 with n <= k and
 * entries must be in rank order, else the part is rejected as corrupt.
 */
export function topKStateFromColumns(cols: TopKColumnsLike, channels: number, k = 32, layer?: string): TopKState {
  const t = emptyTopKState(channels, k, layer);
  const n = cols.channel?.length ?? 0;
  for (const name of ['channel', 'rank', 'value', 'sample_id', 'argmax'] as const) checkColumn(KIND, name, cols[name], n);
  const filled = new Uint8Array(channels * t.k);
  for (let r = 0; r < n; r++) {
    const c = cols.channel[r];
    const i = cols.rank[r];
    if (!(Number.isInteger(c) && c >= 0 && c < channels)) throw badState(KIND, `row ${r}: channel ${c} not in 0..${channels - 1}`);
    if (!(Number.isInteger(i) && i >= 0 && i < t.k)) throw badState(KIND, `row ${r}: rank ${i} not in 0..${t.k - 1}`);
    const p = c * t.k + i;
    if (filled[p]) throw badState(KIND, `row ${r}: channel ${c} rank ${i} appears twice`);
    if (Number.isNaN(cols.value[r])) throw badState(KIND, `row ${r}: value is NaN`);
    if ((cols.sample_id[r] | 0) !== cols.sample_id[r] || (cols.argmax[r] | 0) !== cols.argmax[r]) {
      throw badState(KIND, `row ${r}: sample_id ${cols.sample_id[r]} / argmax ${cols.argmax[r]} are not int32`);
    }
    filled[p] = 1;
    t.value[p] = cols.value[r] + 0; // -0 is kept as +0 (see TopK.add)
    t.sampleId[p] = cols.sample_id[r];
    t.argmax[p] = cols.argmax[r];
  }
  for (let c = 0; c < channels; c++) {
    const base = c * t.k;
    let m = 0;
    while (m < t.k && filled[base + m]) m++;
    for (let i = m; i < t.k; i++) {
      if (filled[base + i]) throw badState(KIND, `channel ${c}: rank ${i} present but rank ${m} missing`);
    }
    for (let p = base + 1; p < base + m; p++) {
      const q = p - 1;
      if (precedes(t.value[p], t.sampleId[p], t.argmax[p], t.value[q], t.sampleId[q], t.argmax[q])) {
        throw badState(KIND, `channel ${c}: rank ${p - base} ranks above rank ${q - base}`);
      }
    }
    t.size[c] = m;
  }
  return t;
}

export function topKStateToJSON(s: TopKState): TopKJSON {
  const cols = topKStateToColumns(s);
  return {
    kind: KIND,
    version: 1,
    ...(s.layer !== undefined ? { layer: s.layer } : {}),
    channels: s.channels,
    k: s.k,
    size: Array.from(s.size),
    value: numbersToJSON(cols.value),
    sampleId: Array.from(cols.sample_id),
    argmax: Array.from(cols.argmax),
  };
}

export function topKStateFromJSON(state: unknown): TopKState {
  const j = state as Partial<TopKJSON> | null;
  if (!j || typeof j !== 'object' || j.kind !== KIND) throw badState(KIND, 'not a TopK state');
  if (j.version !== 1) throw badState(KIND, `unsupported version ${String(j.version)}`);
  if (j.layer !== undefined && typeof j.layer !== 'string') throw badState(KIND, 'layer is not a string');
  const C = j.channels;
  const k = j.k;
  if (!(typeof C === 'number' && Number.isInteger(C) && C > 0)) throw badState(KIND, `bad channels ${String(C)}`);
  if (!(typeof k === 'number' && Number.isInteger(k) && k > 0)) throw badState(KIND, `bad k ${String(k)}`);
  const size = numbersFromJSON(KIND, 'size', j.size, C);
  let rows = 0;
  for (const s of size) {
    if (!(Number.isInteger(s) && s >= 0 && s <= k)) throw badState(KIND, `size ${s} not in 0..${k}`);
    rows += s;
  }
  const channel = new Int32Array(rows);
  const rank = new Int32Array(rows);
  let r = 0;
  for (let c = 0; c < C; c++) {
    for (let i = 0; i < size[c]; i++, r++) {
      channel[r] = c;
      rank[r] = i;
    }
  }
  const cols = {
    channel,
    rank,
    value: numbersFromJSON(KIND, 'value', j.value, rows),
    sample_id: numbersFromJSON(KIND, 'sampleId', j.sampleId, rows),
    argmax: numbersFromJSON(KIND, 'argmax', j.argmax, rows),
  };
  return topKStateFromColumns(cols, C, k, j.layer);
}
