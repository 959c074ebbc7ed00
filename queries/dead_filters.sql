-- Dead filters: the neurons whose activation never exceeds eps on any sample of the dataset
-- (CS231n's "dead ReLU": max <= eps over the whole dataset), at one checkpoint.
-- With eps NULL the dead flag stored by the run is used (its spec `eps`, 0 unless set); with a
-- value, dead and active_frac are recomputed from the per-sample maxima in `activations`.
-- @param layer VARCHAR default NULL  layer name; NULL = every layer
-- @param step BIGINT default NULL  checkpoint step; NULL = the latest step
-- @param eps DOUBLE default NULL  threshold; NULL = the run's (stored `dead` flag)
-- @param dataset VARCHAR default NULL  dataset name; NULL = any
-- @param model VARCHAR default NULL  model name; NULL = any
-- @column layer  layer name
-- @column channel  neuron (channel) index
-- @column max  largest activation over the dataset
-- @column mean  mean activation over samples and positions
-- @column zero_frac  share of positions exactly 0 (TensorBoard zero_fraction)
-- @column active_frac  share of samples whose max > eps
-- @column step  checkpoint step

WITH at_step AS (
  SELECT coalesce($step, (SELECT max(step) FROM neuron_stats
    WHERE ($layer IS NULL OR layer = $layer) AND ($dataset IS NULL OR dataset = $dataset) AND ($model IS NULL OR model = $model))) AS step
),
stored AS (
  SELECT dataset, model, step, layer, channel, max, mean, zero_frac, active_frac, dead
  FROM neuron_stats
  WHERE $eps IS NULL AND step = (SELECT step FROM at_step)
    AND ($layer IS NULL OR layer = $layer) AND ($dataset IS NULL OR dataset = $dataset) AND ($model IS NULL OR model = $model)
),
-- Every sample of a layer has the same number of positions, so the mean of per-sample means and
-- zero fractions is the position-weighted one.
recomputed AS (
  SELECT a.dataset, a.model, a.step, a.layer, a.channel, max(a.max) AS max, avg(a.mean) AS mean,
    avg(a.zero_frac) AS zero_frac, avg(CAST(a.max > $eps AS DOUBLE)) AS active_frac, max(a.max) <= $eps AS dead
  FROM activations a
  WHERE $eps IS NOT NULL AND ($step IS NULL OR a.step = $step) AND a.step = (SELECT step FROM at_step)
    AND ($layer IS NULL OR a.layer = $layer) AND ($dataset IS NULL OR a.dataset = $dataset) AND ($model IS NULL OR a.model = $model)
  GROUP BY a.dataset, a.model, a.step, a.layer, a.channel
)
SELECT layer, channel, max, mean, zero_frac, active_frac, step
FROM (SELECT * FROM stored UNION ALL SELECT * FROM recomputed)
WHERE dead
ORDER BY dataset, model, layer, channel;
