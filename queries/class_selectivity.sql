-- Which neurons respond to one class: per neuron, the mean activation per class (mean over the
-- class's samples of the per-sample mean activation) and the class-selectivity index of Morcos
-- et al. (ICLR 2018), (mu_max - mu_rest) / (mu_max + mu_rest), where mu_max is the largest class
-- mean and mu_rest the mean of the other classes' means: 0 = no preference, 1 = responds to one
-- class only. Samples without a label (NULL or -1) are left out.
-- @param layer VARCHAR required  layer name
-- @param channel INTEGER default NULL  neuron (channel) index; NULL = every channel of the layer
-- @param step BIGINT default NULL  checkpoint step; NULL = the latest step of the layer (giving it reads one checkpoint's files)
-- @param dataset VARCHAR default NULL  dataset name; NULL = any
-- @param model VARCHAR default NULL  model name; NULL = any
-- @column channel  neuron (channel) index
-- @column top_class  class with the largest mean activation (smallest label on ties)
-- @column selectivity  (mu_max - mu_rest) / (mu_max + mu_rest); NULL when the denominator is 0
-- @column mu_max  mean activation on top_class
-- @column mu_rest  mean of the other classes' mean activations
-- @column labels  the classes, ascending
-- @column class_means  mean activation per class, in the order of labels
-- @column step  checkpoint step

-- The latest step comes from the small per-neuron tables (partials: a store not finalized yet).
WITH at_step AS (
  SELECT coalesce($step, (
    SELECT max(step) FROM (SELECT dataset, model, step, layer FROM neuron_stats UNION ALL SELECT dataset, model, step, layer FROM neuron_stats_partial)
    WHERE layer = $layer AND ($dataset IS NULL OR dataset = $dataset) AND ($model IS NULL OR model = $model)
  )) AS step
),
-- Per-class means come from class_stats (every layer has it, whatever its retention): the mean
-- over the class's samples of the per-sample mean activation. Before finalize, the committed
-- shards' class_stats_partial rows are merged here (Chan et al.: weighted means).
finalized AS (
  SELECT dataset, model, step, channel, label, mean AS mu
  FROM class_stats
  WHERE layer = $layer AND step = (SELECT step FROM at_step)
    AND ($channel IS NULL OR channel = $channel)
    AND ($dataset IS NULL OR dataset = $dataset) AND ($model IS NULL OR model = $model)
),
per_class AS (
  SELECT * FROM finalized
  UNION ALL
  SELECT dataset, model, step, channel, label, sum(count * mean) / sum(count) AS mu
  FROM class_stats_partial
  WHERE layer = $layer AND step = (SELECT step FROM at_step) AND NOT EXISTS (SELECT 1 FROM finalized)
    AND ($channel IS NULL OR channel = $channel)
    AND ($dataset IS NULL OR dataset = $dataset) AND ($model IS NULL OR model = $model)
  GROUP BY dataset, model, step, channel, label
),
with_max AS (
  SELECT *,
    max(mu) OVER w AS mu_max,
    (sum(mu) OVER w - max(mu) OVER w) / nullif(count(*) OVER w - 1, 0) AS mu_rest
  FROM per_class
  WINDOW w AS (PARTITION BY dataset, model, step, channel)
)
SELECT channel,
  min(label) FILTER (WHERE mu = mu_max) AS top_class,
  (any_value(mu_max) - any_value(mu_rest)) / nullif(any_value(mu_max) + any_value(mu_rest), 0) AS selectivity,
  any_value(mu_max) AS mu_max,
  any_value(mu_rest) AS mu_rest,
  list(label ORDER BY label) AS labels,
  list(mu ORDER BY label) AS class_means,
  step
FROM with_max
GROUP BY dataset, model, step, channel
ORDER BY selectivity DESC NULLS LAST, dataset, model, channel;
