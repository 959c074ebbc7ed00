import {
  badState,
  checkColumn,
  checkPositiveInt,
  numbersFromJSON,
  numbersToJSON,
  type JsonNumber,
} from './check.js';

const KIND = 'NeuronStats';

/**
 * The saved state of a NeuronStats partial, and its two serial forms: Parquet-ready columns (one
 * row per channel) for shard partials in the store, and JSON for small states.
 */
export interface NeuronStatsState {
  layer?: string;
  channels: number;
  eps: number;
  /** Samples seen. */
  count: number;
  /** Positions seen (samples x T*H*W). */
  positions: number;
  mean: Float64Array;
  /** Sum of squared deviations from the mean over all positions (Chan et al.'s M2). */
  m2: Float64Array;
  min: Float32Array;
  max: Float32Array;
  zeroCount: Float64Array;
  activeCount: Float64Array;
}

export interface NeuronStatsColumns {
  channel: Int32Array;
  count: Float64Array;
  positions: Float64Array;
  mean: Float64Array;
  m2: Float64Array;
  min: Float32Array;
  max: Float32Array;
  zero_count: Float64Array;
  active_count: Float64Array;
}

export interface NeuronStatsJSON {
  kind: 'NeuronStats';
  version: 1;
  layer?: string;
  channels: number;
  eps: number;
  count: number;
  positions: number;
  mean: JsonNumber[];
  m2: JsonNumber[];
  min: JsonNumber[];
  max: JsonNumber[];
  zeroCount: JsonNumber[];
  activeCount: JsonNumber[];
}

export function emptyNeuronState(channels: number, eps = 0, layer?: string): NeuronStatsState {
  const c = checkPositiveInt(KIND, 'channels', channels);
  return {
    ...(layer !== undefined ? { layer } : {}),
    channels: c,
    eps,
    count: 0,
    positions: 0,
    mean: new Float64Array(c),
    m2: new Float64Array(c),
    min: new Float32Array(c).fill(Infinity),
    max: new Float32Array(c).fill(-Infinity),
    zeroCount: new Float64Array(c),
    activeCount: new Float64Array(c),
  };
}

function checkCounts(count: unknown, positions: unknown): void {
  const ok = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0;
  if (!ok(count) || !ok(positions)) throw badState(KIND, `count ${count} / positions ${positions} must be integers >= 0`);
  if ((count === 0) !== (positions === 0)) throw badState(KIND, `count ${count} and positions ${positions} disagree`);
}

export function neuronStateToColumns(s: NeuronStatsState): NeuronStatsColumns {
  const C = s.channels;
  return {
    channel: Int32Array.from({ length: C }, (_, c) => c),
    count: new Float64Array(C).fill(s.count),
    positions: new Float64Array(C).fill(s.positions),
    mean: s.mean.slice(),
    m2: s.m2.slice(),
    min: s.min.slice(),
    max: s.max.slice(),
    zero_count: s.zeroCount.slice(),
    active_count: s.activeCount.slice(),
  };
}

/** Columns as read back (any numeric arrays); rows may come in any channel order. */
export type NeuronStatsColumnsLike = { [K in keyof NeuronStatsColumns]: ArrayLike<number> };

export function neuronStateFromColumns(cols: NeuronStatsColumnsLike, eps = 0, layer?: string): NeuronStatsState {
  const n = cols.channel?.length ?? 0;
  if (n === 0) throw badState(KIND, 'column channel is missing or empty');
  const names = ['count', 'positions', 'mean', 'm2', 'min', 'max', 'zero_count', 'active_count'] as const;
  for (const name of names) checkColumn(KIND, name, cols[name], n);
  const s = emptyNeuronState(n, eps, layer);
  const seen = new Uint8Array(n);
  s.count = cols.count[0];
  s.positions = cols.positions[0];
  checkCounts(s.count, s.positions);
  for (let r = 0; r < n; r++) {
    const c = cols.channel[r];
    if (!(Number.isInteger(c) && c >= 0 && c < n) || seen[c]) {
      throw badState(KIND, `channel column must hold 0..${n - 1} once each; row ${r} has ${c}`);
    }
    seen[c] = 1;
    if (cols.count[r] !== s.count || cols.positions[r] !== s.positions) {
      throw badState(KIND, `row ${r} (channel ${c}): count/positions differ from row 0`);
    }
    s.mean[c] = cols.mean[r];
    s.m2[c] = cols.m2[r];
    s.min[c] = cols.min[r];
    s.max[c] = cols.max[r];
    s.zeroCount[c] = cols.zero_count[r];
    s.activeCount[c] = cols.active_count[r];
  }
  return s;
}

export function neuronStateToJSON(s: NeuronStatsState): NeuronStatsJSON {
  return {
    kind: KIND,
    version: 1,
    ...(s.layer !== undefined ? { layer: s.layer } : {}),
    channels: s.channels,
    eps: s.eps,
    count: s.count,
    positions: s.positions,
    mean: numbersToJSON(s.mean),
    m2: numbersToJSON(s.m2),
    min: numbersToJSON(s.min),
    max: numbersToJSON(s.max),
    zeroCount: numbersToJSON(s.zeroCount),
    activeCount: numbersToJSON(s.activeCount),
  };
}

export function neuronStateFromJSON(state: unknown): NeuronStatsState {
  const j = state as Partial<NeuronStatsJSON> | null;
  if (!j || typeof j !== 'object' || j.kind !== KIND) throw badState(KIND, 'not a NeuronStats state');
  if (j.version !== 1) throw badState(KIND, `unsupported version ${String(j.version)}`);
  if (typeof j.eps !== 'number') throw badState(KIND, 'eps is not a number');
  if (j.layer !== undefined && typeof j.layer !== 'string') throw badState(KIND, 'layer is not a string');
  const C = j.channels;
  if (!(typeof C === 'number' && Number.isInteger(C) && C > 0)) throw badState(KIND, `bad channels ${String(C)}`);
  checkCounts(j.count, j.positions);
  const s = emptyNeuronState(C, j.eps, j.layer);
  s.count = j.count as number;
  s.positions = j.positions as number;
  s.mean.set(numbersFromJSON(KIND, 'mean', j.mean, C));
  s.m2.set(numbersFromJSON(KIND, 'm2', j.m2, C));
  s.min.set(numbersFromJSON(KIND, 'min', j.min, C));
  s.max.set(numbersFromJSON(KIND, 'max', j.max, C));
  s.zeroCount.set(numbersFromJSON(KIND, 'zeroCount', j.zeroCount, C));
  s.activeCount.set(numbersFromJSON(KIND, 'activeCount', j.activeCount, C));
  return s;
}
