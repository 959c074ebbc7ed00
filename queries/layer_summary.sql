-- Every layer at one checkpoint: how many neurons it has, how many are dead (max <= eps over the
-- dataset, CS231n), how sparse its neurons are on average, and its mean and max activation.
-- @param step BIGINT default NULL  checkpoint step; NULL = the latest step
-- @param dataset VARCHAR default NULL  dataset name; NULL = any
-- @param model VARCHAR default NULL  model name; NULL = any
-- @column layer  layer name
-- @column units  neurons (channels)
-- @column dead  dead neurons (stored flag: the run's eps)
-- @column mean_zero_frac  mean over neurons of their share of positions exactly 0
-- @column mean_activation  mean over neurons of their mean activation
-- @column max_activation  largest activation of any neuron
-- @column samples  samples the statistics cover
-- @column step  checkpoint step

WITH at_step AS (
  SELECT coalesce($step, (SELECT max(step) FROM neuron_stats
    WHERE ($dataset IS NULL OR dataset = $dataset) AND ($model IS NULL OR model = $model))) AS step
)
SELECT layer,
  count(*) AS units,
  count(*) FILTER (WHERE dead) AS dead,
  avg(zero_frac) AS mean_zero_frac,
  avg(mean) AS mean_activation,
  max(max) AS max_activation,
  max(count) AS samples,
  step
FROM neuron_stats
WHERE step = (SELECT step FROM at_step) AND ($dataset IS NULL OR dataset = $dataset) AND ($model IS NULL OR model = $model)
GROUP BY dataset, model, layer, step
ORDER BY dataset, model, layer;
