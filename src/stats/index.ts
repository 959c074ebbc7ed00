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
