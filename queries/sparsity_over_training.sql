-- How sparse each layer is at each checkpoint: the share of exactly-zero activations over all
-- neurons, samples and positions (TensorBoard's zero_fraction of the whole layer, i.e. weighted
-- by positions), the share of dead neurons (max <= eps over the dataset, CS231n), and the mean
-- and max activation.
-- @param layer VARCHAR default NULL  layer name; NULL = every layer
-- @param eps DOUBLE default NULL  dead threshold; NULL = the run's (stored `dead` flag)
-- @param dataset VARCHAR default NULL  dataset name; NULL = any
-- @param model VARCHAR default NULL  model name; NULL = any
-- @column layer  layer name
-- @column step  checkpoint step
-- @column units  neurons (channels) in the layer
-- @column dead  dead neurons
-- @column dead_frac  dead / units
-- @column zero_frac  zero activations / all activations (positions of every neuron and sample)
-- @column mean  mean activation over neurons, samples and positions
-- @column max  largest activation of any neuron

SELECT layer, step,
  count(*) AS units,
  count(*) FILTER (WHERE CASE WHEN $eps IS NULL THEN dead ELSE max <= $eps END) AS dead,
  avg(CAST(CASE WHEN $eps IS NULL THEN dead ELSE max <= $eps END AS DOUBLE)) AS dead_frac,
  sum(zero_count) / sum(positions) AS zero_frac,
  sum(mean * positions) / sum(positions) AS mean,
  max(max) AS max
FROM neuron_stats
WHERE ($layer IS NULL OR layer = $layer) AND ($dataset IS NULL OR dataset = $dataset) AND ($model IS NULL OR model = $model)
GROUP BY dataset, model, layer, step
ORDER BY dataset, model, layer, step;
