-- The videos that excite a neuron most (clip datasets): per video, the largest per-clip max of
-- the neuron over the video's clips, with the clip that reached it (its start frame and the
-- argmax position t, y, x in the layer's output grid), ranked; per-video aggregation over clips,
-- as the dataset-scale retrieval of Feichtenhofer et al. (CVPR 2018) ranks videos. Reads the
-- per-clip `activations` rows of one checkpoint. Ties: smaller uri first.
-- @param layer VARCHAR required  layer name
-- @param channel INTEGER required  neuron (channel) index
-- @param step BIGINT default NULL  checkpoint step; NULL = the latest step of the layer
-- @param k INTEGER default 9  videos to return
-- @param dataset VARCHAR default NULL  dataset name; NULL = any
-- @param model VARCHAR default NULL  model name; NULL = any
-- @column rank  0 = highest
-- @column uri  the video file
-- @column label  class label (NULL when unknown)
-- @column value  largest per-clip max of the neuron over the video's clips
-- @column mean_of_clip_max  mean over the video's clips of the per-clip max
-- @column clips  clips of the video that were analysed
-- @column best_sample_id  the clip that reached `value`
-- @column best_start  its first frame (in the sampled stream)
-- @column argmax_t  position of the max in that clip: frame in the layer's output grid
-- @column argmax_y  row in the layer's output grid
-- @column argmax_x  column in the layer's output grid
-- @column step  checkpoint step
-- @column dataset  dataset name
-- @column model  model name

WITH at_step AS (
  SELECT coalesce($step, (
    SELECT max(step) FROM (SELECT dataset, model, step, layer FROM neuron_stats UNION ALL SELECT dataset, model, step, layer FROM neuron_stats_partial)
    WHERE layer = $layer AND ($dataset IS NULL OR dataset = $dataset) AND ($model IS NULL OR model = $model)
  )) AS step
),
-- Per-video maxima need every per-clip row: a layer kept as a summary or sample says so.
rows_check AS (
  SELECT CASE WHEN min(coalesce(rows_rate, 1)) < 1
    THEN error('layer ' || $layer || ' keeps ' || CASE WHEN min(coalesce(rows_rate, 1)) = 0 THEN 'no per-clip rows (retention summary)' ELSE 'a sample of its per-clip rows' END
      || ': top_k_videos needs them; run again with retention.layers: { ' || $layer || ': rows } (top_k_activators answers per clip from the topk table)')
    ELSE true END AS ok
  FROM (SELECT rows_rate FROM neuron_stats WHERE layer = $layer AND step = (SELECT step FROM at_step) AND ($dataset IS NULL OR dataset = $dataset) AND ($model IS NULL OR model = $model)
        UNION ALL SELECT rows_rate FROM neuron_stats_partial WHERE layer = $layer AND step = (SELECT step FROM at_step) AND ($dataset IS NULL OR dataset = $dataset) AND ($model IS NULL OR model = $model))
),
clips AS (
  SELECT a.dataset, a.model, a.step, a.sample_id, a.max, a.argmax_t, a.argmax_y, a.argmax_x, s.uri, s.label, s.video_start
  FROM activations a
  JOIN samples s ON s.dataset = a.dataset AND s.sample_id = a.sample_id
  WHERE (SELECT ok FROM rows_check) AND a.layer = $layer AND a.channel = $channel
    AND ($step IS NULL OR a.step = $step) AND a.step = (SELECT step FROM at_step)
    AND ($dataset IS NULL OR a.dataset = $dataset) AND ($model IS NULL OR a.model = $model)
),
videos AS (
  SELECT dataset, model, step, uri, any_value(label) AS label,
    max(max) AS value, avg(max) AS mean_of_clip_max, count(*) AS clips,
    arg_max({s: sample_id, start: video_start, t: argmax_t, y: argmax_y, x: argmax_x}, {v: max, s: -sample_id}) AS best
  FROM clips
  GROUP BY dataset, model, step, uri
)
SELECT CAST(row_number() OVER (PARTITION BY dataset, model ORDER BY value DESC, uri) - 1 AS INTEGER) AS rank,
  uri, label, value, mean_of_clip_max, clips,
  best.s AS best_sample_id, best.start AS best_start, best.t AS argmax_t, best.y AS argmax_y, best.x AS argmax_x,
  step, dataset, model
FROM videos
QUALIFY rank < $k
ORDER BY dataset, model, rank;
