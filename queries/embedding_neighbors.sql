-- The samples whose codes (pooled layer vectors, the "CNN codes" of CS231n) are closest to one
-- sample's: the k nearest neighbours by cosine distance, 1 - cos(angle), nearest first (ties by
-- sample_id). A sample's neighbours show what the layer considers similar.
-- @param layer VARCHAR required  layer whose codes are compared (one of the spec's `codes`)
-- @param sample_id INTEGER required  the query sample
-- @param k INTEGER default 10  neighbours to return
-- @param step BIGINT default NULL  checkpoint step; NULL = the latest step of the layer (giving it reads one checkpoint's files)
-- @param dataset VARCHAR default NULL  dataset name; NULL = any
-- @param model VARCHAR default NULL  model name; NULL = any
-- @array-fallback
-- @column rank  0 = nearest
-- @column sample_id  neighbour's sample id
-- @column distance  cosine distance to the query sample's code
-- @column label  neighbour's class label
-- @column uri  where the neighbour comes from
-- @column step  checkpoint step

-- The latest step comes from the small per-neuron tables (code layers are tapped for statistics
-- too; partials cover a store not finalized yet).
WITH at_step AS (
  SELECT coalesce($step, (
    SELECT max(step) FROM (SELECT dataset, model, step, layer FROM neuron_stats UNION ALL SELECT dataset, model, step, layer FROM neuron_stats_partial)
    WHERE layer = $layer AND ($dataset IS NULL OR dataset = $dataset) AND ($model IS NULL OR model = $model)
  )) AS step
),
c AS (
  SELECT dataset, model, step, sample_id, code FROM codes
  WHERE layer = $layer AND ($step IS NULL OR step = $step) AND step = (SELECT step FROM at_step)
    AND ($dataset IS NULL OR dataset = $dataset) AND ($model IS NULL OR model = $model)
),
q AS (SELECT dataset, model, code FROM c WHERE sample_id = $sample_id),
d AS (
  SELECT c.dataset, c.step, c.sample_id, array_cosine_distance(c.code, q.code) AS distance
  FROM c JOIN q ON q.dataset = c.dataset AND q.model = c.model
  WHERE c.sample_id <> $sample_id
)
SELECT CAST(row_number() OVER (ORDER BY d.distance, d.sample_id) - 1 AS INTEGER) AS rank,
  d.sample_id, d.distance, s.label, s.uri, d.step
FROM d
LEFT JOIN samples s ON s.dataset = d.dataset AND s.sample_id = d.sample_id
ORDER BY d.distance, d.sample_id
LIMIT $k;
