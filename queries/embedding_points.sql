-- The 2-D embedding of a layer's codes (t-SNE, UMAP, PCA ... as computed by the embed stage),
-- one point per sample with its label, for scatter plots.
-- @param layer VARCHAR required  layer whose codes were embedded
-- @param method VARCHAR default NULL  embedding method (e.g. 'tsne', 'pca'); NULL = every method
-- @param step BIGINT default NULL  checkpoint step; NULL = the latest step with embeddings of the layer
-- @param dataset VARCHAR default NULL  dataset name; NULL = any
-- @param model VARCHAR default NULL  model name; NULL = any
-- @column method  embedding method
-- @column params  the method's parameters (canonical JSON)
-- @column sample_id  sample id
-- @column x  first coordinate
-- @column y  second coordinate
-- @column label  class label (NULL when unknown)
-- @column uri  where the sample comes from
-- @column step  checkpoint step

WITH at_step AS (
  SELECT coalesce($step, (SELECT max(step) FROM embeddings
    WHERE layer = $layer AND ($method IS NULL OR method = $method)
      AND ($dataset IS NULL OR dataset = $dataset) AND ($model IS NULL OR model = $model))) AS step
)
SELECT e.method, e.params, e.sample_id, e.x, e.y, s.label, s.uri, e.step
FROM embeddings e
LEFT JOIN samples s ON s.dataset = e.dataset AND s.sample_id = e.sample_id
WHERE e.layer = $layer AND e.step = (SELECT step FROM at_step) AND ($method IS NULL OR e.method = $method)
  AND ($dataset IS NULL OR e.dataset = $dataset) AND ($model IS NULL OR e.model = $model)
ORDER BY e.dataset, e.model, e.method, e.params, e.sample_id;
