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
x AS (
  SELECT a.dataset, a.model, a.step, a.channel, s.label, a.mean
  FROM activations a
  JOIN samples s ON s.dataset = a.dataset AND s.sample_id = a.sample_id
  WHERE a.layer = $layer AND ($step IS NULL OR a.step = $step) AND a.step = (SELECT step FROM at_step) AND s.label IN ($class_a, $class_b)
    AND ($dataset IS NULL OR a.dataset = $dataset) AND ($model IS NULL OR a.model = $model)
),
g AS (
  SELECT dataset, model, step, channel,
    avg(mean) FILTER (WHERE label = $class_a) AS mean_a,
    avg(mean) FILTER (WHERE label = $class_b) AS mean_b,
    var_samp(mean) FILTER (WHERE label = $class_a) AS var_a,
    var_samp(mean) FILTER (WHERE label = $class_b) AS var_b,
    count(*) FILTER (WHERE label = $class_a) AS n_a,
    count(*) FILTER (WHERE label = $class_b) AS n_b
  FROM x
  GROUP BY dataset, model, step, channel
)
SELECT channel, mean_a, mean_b, mean_a - mean_b AS diff,
  (mean_a - mean_b) / nullif(sqrt((var_a + var_b) / 2), 0) AS effect,
  n_a, n_b, step
FROM g
ORDER BY abs(mean_a - mean_b) DESC NULLS LAST, dataset, model, channel
LIMIT $k;
