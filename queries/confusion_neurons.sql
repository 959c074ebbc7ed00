-- For two classes a model confuses, the neurons of a layer whose mean activation differs most
-- between them (largest |mean_a - mean_b| first), with Cohen's d as a scale-free effect size.
-- @param layer VARCHAR required  layer name
-- @param class_a INTEGER required  first class (label)
-- @param class_b INTEGER required  second class (label)
-- @param step BIGINT default NULL  checkpoint step; NULL = the latest step of the layer (giving it reads one checkpoint's files)
-- @param k INTEGER default 10  neurons to return
-- @param dataset VARCHAR default NULL  dataset name; NULL = any
-- @param model VARCHAR default NULL  model name; NULL = any
-- @column channel  neuron (channel) index
-- @column mean_a  mean activation on class_a samples
-- @column mean_b  mean activation on class_b samples
-- @column diff  mean_a - mean_b
-- @column effect  diff / sqrt((var_a + var_b) / 2) (Cohen's d; NULL when both variances are 0)
-- @column n_a  class_a samples
-- @column n_b  class_b samples
-- @column step  checkpoint step

-- The latest step comes from the small per-neuron tables (partials: a store not finalized yet).
WITH at_step AS (
  SELECT coalesce($step, (
    SELECT max(step) FROM (SELECT dataset, model, step, layer FROM neuron_stats UNION ALL SELECT dataset, model, step, layer FROM neuron_stats_partial)
    WHERE layer = $layer AND ($dataset IS NULL OR dataset = $dataset) AND ($model IS NULL OR model = $model)
  )) AS step
),
-- From class_stats (every layer has it, whatever its retention): per class the count, mean and
-- M2 of the per-sample mean activation; var_samp = M2 / (n - 1). Before finalize, the committed
-- shards' class_stats_partial rows are merged here (Chan et al.).
finalized AS (
  SELECT dataset, model, step, channel, label, count, mean, m2
  FROM class_stats
  WHERE layer = $layer AND step = (SELECT step FROM at_step) AND label IN ($class_a, $class_b)
    AND ($dataset IS NULL OR dataset = $dataset) AND ($model IS NULL OR model = $model)
),
merged AS (
  SELECT p.dataset, p.model, p.step, p.channel, p.label, any_value(g.n) AS count, any_value(g.mu) AS mean, sum(p.m2 + p.count * (p.mean - g.mu) ^ 2) AS m2
  FROM class_stats_partial p
  JOIN (
    SELECT dataset, model, step, channel, label, sum(count) AS n, sum(count * mean) / sum(count) AS mu
    FROM class_stats_partial WHERE layer = $layer AND step = (SELECT step FROM at_step) AND label IN ($class_a, $class_b) GROUP BY ALL
  ) g USING (dataset, model, step, channel, label)
  WHERE p.layer = $layer AND p.step = (SELECT step FROM at_step) AND p.label IN ($class_a, $class_b) AND NOT EXISTS (SELECT 1 FROM finalized)
    AND ($dataset IS NULL OR p.dataset = $dataset) AND ($model IS NULL OR p.model = $model)
  GROUP BY ALL
),
c AS (SELECT * FROM finalized UNION ALL SELECT * FROM merged),
g AS (
  SELECT dataset, model, step, channel,
    any_value(mean) FILTER (WHERE label = $class_a) AS mean_a,
    any_value(mean) FILTER (WHERE label = $class_b) AS mean_b,
    any_value(m2 / nullif(count - 1, 0)) FILTER (WHERE label = $class_a) AS var_a,
    any_value(m2 / nullif(count - 1, 0)) FILTER (WHERE label = $class_b) AS var_b,
    coalesce(any_value(count) FILTER (WHERE label = $class_a), 0) AS n_a,
    coalesce(any_value(count) FILTER (WHERE label = $class_b), 0) AS n_b
  FROM c
  GROUP BY dataset, model, step, channel
)
SELECT channel, mean_a, mean_b, mean_a - mean_b AS diff,
  (mean_a - mean_b) / nullif(sqrt((var_a + var_b) / 2), 0) AS effect,
  n_a, n_b, step
FROM g
ORDER BY abs(mean_a - mean_b) DESC NULLS LAST, dataset, model, channel
LIMIT $k;
