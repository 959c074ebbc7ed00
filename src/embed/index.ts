/**
 * Public API of the embedding algorithms: 2-D layouts of per-sample CNN codes by PCA, t-SNE or
 * UMAP. `embed2d` is what the CLI/pipeline call; the pieces are exported for reuse and tests.
 */
export { validatePoints, type Points } from './validate.js';
export { pca, type PcaResult } from './pca.js';
export { knn, type KnnGraph, type KnnOptions } from './knn.js';
export { embed2d, type EmbedOptions, type Embedding, type EmbedProgress } from './embed2d.js';
export { knnAccuracy } from './quality.js';
export { tsne, tsneNeighbours, type TsneOptions, type TsneResult } from './tsne.js';
export { calibratePerplexity, rowEntropy, type Calibration } from './perplexity.js';
export { exactKl, sparseKl } from './tsne-exact.js';
export { umap, type UmapOptions, type UmapResult } from './umap.js';
export { knnParallel, selfKnn } from './knn-parallel.js';
