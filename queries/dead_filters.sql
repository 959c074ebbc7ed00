-- Dead filters: the neurons whose activation never exceeds eps on any sample of the dataset
-- (CS231n's "dead ReLU": max <= eps over the whole dataset), at one checkpoint.
-- With eps NULL the dead flag stored by the run is used (its spec `eps`, 0 unless set); with a
-- value, dead and active_frac are recomputed from the per-sample maxima in `activations`; for a
-- layer kept as a summary (no rows), dead comes from the exact dataset max and active_frac from
-- the DDSketch of per-sample maxima (within 1% of eps it may count a sample on the wrong side).
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
-- Which layers keep every per-sample row (neuron_stats.rows_rate 1, or NULL in older stores).
rates AS (
  SELECT dataset, model, step, layer, min(coalesce(rows_rate, 1)) AS rows_rate
  FROM (SELECT dataset, model, step, layer, rows_rate FROM neuron_stats UNION ALL SELECT dataset, model, step, layer, rows_rate FROM neuron_stats_partial)
  WHERE $eps IS NOT NULL AND step = (SELECT step FROM at_step) GROUP BY ALL
),
-- Every sample of a layer has the same number of positions, so the mean of per-sample means and
-- zero fractions is the position-weighted one.
recomputed AS (
  SELECT a.dataset, a.model, a.step, a.layer, a.channel, max(a.max) AS max, avg(a.mean) AS mean,
    avg(a.zero_frac) AS zero_frac, avg(CAST(a.max > $eps AS DOUBLE)) AS active_frac, max(a.max) <= $eps AS dead
  FROM activations a
  JOIN rates r ON r.dataset = a.dataset AND r.model = a.model AND r.step = a.step AND r.layer = a.layer AND r.rows_rate >= 1
  WHERE $eps IS NOT NULL AND ($step IS NULL OR a.step = $step) AND a.step = (SELECT step FROM at_step)
    AND ($layer IS NULL OR a.layer = $layer) AND ($dataset IS NULL OR a.dataset = $dataset) AND ($model IS NULL OR a.model = $model)
  GROUP BY a.dataset, a.model, a.step, a.layer, a.channel
),
-- Layers without every row (retention summary or sample): dead from the exact dataset max; the
-- share of samples whose max > eps from the DDSketch of per-sample maxima (max_sketch, relative
-- accuracy 0.01: a bucket's value is sign * 2^(key / multiplier) * 2 / (1 + gamma),
-- gamma = 1.01 / 0.99, multiplier = ln 2 / ln gamma), so active_frac is approximate for maxima
-- within 1% of eps.
sketched AS (
  SELECT n.dataset, n.model, n.step, n.layer, n.channel, n.max, n.mean, n.zero_frac,
    (SELECT sum(k.count) FILTER (WHERE CASE WHEN k.sign = 0 THEN 0 ELSE k.sign * pow(2, k.key / (ln(2) / ln(1.01 / 0.99))) * 2 / (1 + 1.01 / 0.99) END > $eps) / sum(k.count)
     FROM max_sketch k WHERE k.dataset = n.dataset AND k.model = n.model AND k.step = n.step AND k.layer = n.layer AND k.channel = n.channel) AS active_frac,
    n.max <= $eps AS dead
  FROM neuron_stats n
  JOIN rates r ON r.dataset = n.dataset AND r.model = n.model AND r.step = n.step AND r.layer = n.layer AND r.rows_rate < 1
  WHERE $eps IS NOT NULL AND n.step = (SELECT step FROM at_step)
    AND ($layer IS NULL OR n.layer = $layer) AND ($dataset IS NULL OR n.dataset = $dataset) AND ($model IS NULL OR n.model = $model)
)
SELECT layer, channel, max, mean, zero_frac, active_frac, step
FROM (SELECT * FROM stored UNION ALL SELECT * FROM recomputed UNION ALL SELECT * FROM sketched)
WHERE dead
ORDER BY dataset, model, layer, channel;
