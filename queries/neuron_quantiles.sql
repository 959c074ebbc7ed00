-- The distribution of a neuron's per-sample maximum over the dataset, for any layer whatever its
-- retention: quantiles from the DDSketch of per-sample maxima (Masson, Rim & Lee, VLDB 2019;
-- src/stats/max-sketch.ts), each within `error_bound` (relative) of the exact quantile, the
-- element of 0-based rank floor(q * (n - 1)) of the sorted maxima. Buckets: sign -1 / 0 / +1 and
-- key; value = sign * 2^(key / multiplier) * 2 / (1 + gamma), gamma = (1 + a) / (1 - a), a = 0.01,
-- multiplier = ln 2 / ln gamma. Reads the finalized max_sketch (or merges the committed shards'
-- max_sketch_partial before finalize).
-- @param layer VARCHAR required  layer name
-- @param channel INTEGER default NULL  neuron (channel) index; NULL = every channel
-- @param step BIGINT default NULL  checkpoint step; NULL = the latest step of the layer
-- @param q DOUBLE default 0.5  quantile in [0, 1]
-- @param dataset VARCHAR default NULL  dataset name; NULL = any
-- @param model VARCHAR default NULL  model name; NULL = any
-- @column channel  neuron (channel) index
-- @column q  the quantile asked for
-- @column value  estimated quantile of the per-sample max
-- @column error_bound  relative accuracy of value (0.01)
-- @column n  samples in the sketch
-- @column min  exact smallest per-sample max
-- @column max  exact largest per-sample max
-- @column step  checkpoint step

WITH at_step AS (
  SELECT coalesce($step, (
    SELECT max(step) FROM (SELECT dataset, model, step, layer FROM max_sketch UNION ALL SELECT dataset, model, step, layer FROM max_sketch_partial)
    WHERE layer = $layer AND ($dataset IS NULL OR dataset = $dataset) AND ($model IS NULL OR model = $model)
  )) AS step
),
finalized AS (
  SELECT dataset, model, step, channel, sign, key, count, min, max FROM max_sketch
  WHERE layer = $layer AND step = (SELECT step FROM at_step) AND ($channel IS NULL OR channel = $channel)
    AND ($dataset IS NULL OR dataset = $dataset) AND ($model IS NULL OR model = $model)
),
buckets AS (
  SELECT * FROM finalized
  UNION ALL
  SELECT dataset, model, step, channel, sign, key, sum(count) AS count, NULL, NULL FROM max_sketch_partial
  WHERE layer = $layer AND step = (SELECT step FROM at_step) AND NOT EXISTS (SELECT 1 FROM finalized)
    AND ($channel IS NULL OR channel = $channel) AND ($dataset IS NULL OR dataset = $dataset) AND ($model IS NULL OR model = $model)
  GROUP BY dataset, model, step, channel, sign, key
),
extremes AS (
  SELECT dataset, model, step, channel, min(min) AS min, max(max) AS max FROM (
    SELECT dataset, model, step, channel, min, max FROM finalized
    UNION ALL
    SELECT dataset, model, step, channel, min, max FROM max_sketch_partial
    WHERE layer = $layer AND step = (SELECT step FROM at_step) AND NOT EXISTS (SELECT 1 FROM finalized)
      AND ($channel IS NULL OR channel = $channel) AND ($dataset IS NULL OR dataset = $dataset) AND ($model IS NULL OR model = $model)
  ) GROUP BY ALL
),
ranked AS (
  SELECT *,
    sum(count) OVER (PARTITION BY dataset, model, step, channel ORDER BY sign, sign * key ROWS UNBOUNDED PRECEDING) AS cum,
    sum(count) OVER (PARTITION BY dataset, model, step, channel) AS n
  FROM buckets WHERE count > 0
),
pick AS (
  SELECT dataset, model, step, channel, n,
    arg_min(CASE WHEN sign = 0 THEN 0 ELSE sign * pow(2, key / (ln(2) / ln(1.01 / 0.99))) * 2 / (1 + 1.01 / 0.99) END, cum) AS value
  FROM ranked
  WHERE cum > floor($q * (n - 1))
  GROUP BY dataset, model, step, channel, n
)
SELECT p.channel, $q AS q, p.value, 0.01 AS error_bound, CAST(p.n AS BIGINT) AS n, e.min, e.max, p.step
FROM pick p JOIN extremes e USING (dataset, model, step, channel)
WHERE $q BETWEEN 0 AND 1 OR error('q must be in [0, 1], got ' || $q)
ORDER BY p.dataset, p.model, p.channel;
