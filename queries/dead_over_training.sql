-- When neurons die during training, and whether they come back: for every neuron that is dead
-- (max <= eps over the dataset, CS231n) at some checkpoint, the first step at which it is dead
-- and the first later step at which it is alive again (NULL if it never revives).
-- @param layer VARCHAR default NULL  layer name; NULL = every layer
-- @param eps DOUBLE default NULL  threshold; NULL = the run's (stored `dead` flag)
-- @param dataset VARCHAR default NULL  dataset name; NULL = any
-- @param model VARCHAR default NULL  model name; NULL = any
-- @column layer  layer name
-- @column channel  neuron (channel) index
-- @column first_dead_step  first checkpoint at which the neuron is dead
-- @column revived_step  first checkpoint after first_dead_step at which it is alive (NULL = never)
-- @column revives  revived_step is not NULL
-- @column dead_at_last  dead at the latest checkpoint
-- @column dead_checkpoints  checkpoints at which it is dead
-- @column checkpoints  checkpoints with statistics for the neuron

WITH s AS (
  SELECT dataset, model, layer, channel, step,
    CASE WHEN $eps IS NULL THEN dead ELSE max <= $eps END AS is_dead
  FROM neuron_stats
  WHERE ($layer IS NULL OR layer = $layer) AND ($dataset IS NULL OR dataset = $dataset) AND ($model IS NULL OR model = $model)
),
per AS (
  SELECT dataset, model, layer, channel,
    min(step) FILTER (WHERE is_dead) AS first_dead_step,
    arg_max(is_dead, step) AS dead_at_last,
    count(*) FILTER (WHERE is_dead) AS dead_checkpoints,
    count(*) AS checkpoints
  FROM s
  GROUP BY dataset, model, layer, channel
),
revived AS (
  SELECT p.dataset, p.model, p.layer, p.channel, min(s.step) AS revived_step
  FROM per p JOIN s USING (dataset, model, layer, channel)
  WHERE NOT s.is_dead AND s.step > p.first_dead_step
  GROUP BY p.dataset, p.model, p.layer, p.channel
)
SELECT p.layer, p.channel, p.first_dead_step, r.revived_step, r.revived_step IS NOT NULL AS revives,
  p.dead_at_last, p.dead_checkpoints, p.checkpoints
FROM per p
LEFT JOIN revived r USING (dataset, model, layer, channel)
WHERE p.first_dead_step IS NOT NULL
ORDER BY p.dataset, p.model, p.layer, p.channel;
