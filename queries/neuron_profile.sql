-- One neuron across training: its statistics at every checkpoint, and how stable its top
-- activators are, as the overlap of its top-k samples with those of the previous checkpoint,
-- |topk(s) ∩ topk(s-1)| / k (1 = the same samples excite it most, 0 = all new).
-- @param layer VARCHAR required  layer name
-- @param channel INTEGER required  neuron (channel) index
-- @param k INTEGER default NULL  top-k size for the overlap; NULL = all stored (capped at what both checkpoints hold)
-- @param dataset VARCHAR default NULL  dataset name; NULL = any
-- @param model VARCHAR default NULL  model name; NULL = any
-- @column step  checkpoint step
-- @column mean  mean activation over samples and positions
-- @column std  standard deviation over samples and positions
-- @column max  largest activation over the dataset
-- @column zero_frac  share of positions exactly 0
-- @column active_frac  share of samples whose max > eps
-- @column dead  max <= eps over the dataset
-- @column topk_overlap  |topk(step) ∩ topk(previous step)| / overlap_k (NULL at the first checkpoint)
-- @column overlap_k  the k used for topk_overlap
-- @column previous_step  the checkpoint compared with

WITH ns AS (
  SELECT dataset, model, step, mean, std, max, zero_frac, active_frac, dead,
    lag(step) OVER (PARTITION BY dataset, model ORDER BY step) AS previous_step
  FROM neuron_stats
  WHERE layer = $layer AND channel = $channel
    AND ($dataset IS NULL OR dataset = $dataset) AND ($model IS NULL OR model = $model)
),
t AS (
  SELECT dataset, model, step, rank, sample_id
  FROM topk
  WHERE layer = $layer AND channel = $channel
    AND ($dataset IS NULL OR dataset = $dataset) AND ($model IS NULL OR model = $model)
),
sizes AS (
  SELECT dataset, model, step, count(*) AS n FROM t GROUP BY dataset, model, step
),
pairs AS (
  SELECT ns.dataset, ns.model, ns.step, ns.previous_step, least(coalesce($k, cur.n), cur.n, prev.n) AS k
  FROM ns
  JOIN sizes cur ON cur.dataset = ns.dataset AND cur.model = ns.model AND cur.step = ns.step
  JOIN sizes prev ON prev.dataset = ns.dataset AND prev.model = ns.model AND prev.step = ns.previous_step
),
overlap AS (
  SELECT p.dataset, p.model, p.step, p.k, count(y.sample_id) AS common
  FROM pairs p
  JOIN t x ON x.dataset = p.dataset AND x.model = p.model AND x.step = p.step AND x.rank < p.k
  LEFT JOIN t y ON y.dataset = p.dataset AND y.model = p.model AND y.step = p.previous_step
    AND y.rank < p.k AND y.sample_id = x.sample_id
  GROUP BY p.dataset, p.model, p.step, p.k
)
SELECT ns.step, ns.mean, ns.std, ns.max, ns.zero_frac, ns.active_frac, ns.dead,
  o.common / o.k AS topk_overlap, CAST(o.k AS INTEGER) AS overlap_k, ns.previous_step
FROM ns
LEFT JOIN overlap o USING (dataset, model, step)
ORDER BY ns.dataset, ns.model, ns.step;
