export type { LayerBatchStats } from './types.js';
export { positionsOf, unflattenArgmax } from './types.js';
export { NeuronStats } from './neuron-stats.js';
export type { NeuronStatsOptions, NeuronStatsResult } from './neuron-stats.js';
export type {
  NeuronStatsState,
  NeuronStatsColumns,
  NeuronStatsColumnsLike,
  NeuronStatsJSON,
} from './neuron-stats-state.js';
export { TopK } from './topk.js';
export type { TopKOptions, TopKChannel } from './topk.js';
export { precedes as topKPrecedes } from './topk-state.js';
export type { TopKState, TopKColumns, TopKColumnsLike, TopKJSON } from './topk-state.js';
export { ClassStats, type ClassStatsOptions, type ClassStatsState, type ClassStatsResult, type ClassStatsColumns, type ClassStatsColumnsLike, type ClassStatsJSON } from './class-stats.js';
export { MaxSketch, maxSketchMapping, emptyMaxSketchState, type MaxSketchOptions, type MaxSketchState, type MaxSketchMapping, type MaxSketchResult, type MaxSketchColumns, type MaxSketchColumnsLike, type MaxSketchJSON } from './max-sketch.js';
