-- Which input stream drives each unit of a two-stream (appearance + motion) clip model: the
-- unit's mean activation over the dataset with both streams, and with each stream's input
-- channels zeroed (the `ablate` passes of the run, stored as models `<model>.no-appearance` and
-- `<model>.no-motion`), as relative drops, drop = 1 - ablated / full. A unit is
-- 'appearance'-driven when zeroing appearance drops it by at least `threshold` and zeroing motion
-- does not, 'motion'-driven for the converse, 'fusion' when it needs both (either ablation drops
-- it), 'either' when it survives losing either stream, 'silent' when its full mean is 0. This is
-- the dataset-scale counterpart of Feichtenhofer et al.'s (CVPR 2018) appearance / motion / fused
-- units. Needs a run with `ablate: [appearance, motion]`.
-- @param layer VARCHAR required  layer name
-- @param step BIGINT default NULL  checkpoint step; NULL = the latest step with all three passes
-- @param threshold DOUBLE default 0.5  relative drop that counts as "needs this stream"
-- @param dataset VARCHAR default NULL  dataset name; NULL = any
-- @param model VARCHAR default NULL  the full model's name; NULL = any model that has both ablations
-- @column channel  neuron (channel) index
-- @column driver  appearance | motion | fusion | either | silent
-- @column mean  mean activation with both streams
-- @column mean_no_appearance  mean activation with the appearance channels zeroed
-- @column mean_no_motion  mean activation with the motion channels zeroed
-- @column drop_appearance  1 - mean_no_appearance / mean (NULL when mean is 0)
-- @column drop_motion  1 - mean_no_motion / mean (NULL when mean is 0)
-- @column step  checkpoint step
-- @column model  the full model's name

WITH trio AS (
  SELECT f.dataset, f.model, f.step, f.channel, f.mean, a.mean AS mean_no_appearance, m.mean AS mean_no_motion
  FROM neuron_stats f
  JOIN neuron_stats a ON a.dataset = f.dataset AND a.model = f.model || '.no-appearance' AND a.step = f.step AND a.layer = f.layer AND a.channel = f.channel
  JOIN neuron_stats m ON m.dataset = f.dataset AND m.model = f.model || '.no-motion' AND m.step = f.step AND m.layer = f.layer AND m.channel = f.channel
  WHERE f.layer = $layer AND ($dataset IS NULL OR f.dataset = $dataset) AND ($model IS NULL OR f.model = $model)
),
at_step AS (SELECT coalesce($step, (SELECT max(step) FROM trio)) AS step),
drops AS (
  SELECT *,
    CASE WHEN mean > 0 THEN 1 - mean_no_appearance / mean END AS drop_appearance,
    CASE WHEN mean > 0 THEN 1 - mean_no_motion / mean END AS drop_motion
  FROM trio WHERE step = (SELECT step FROM at_step)
)
SELECT channel,
  CASE
    WHEN mean <= 0 THEN 'silent'
    WHEN drop_appearance >= $threshold AND drop_motion >= $threshold THEN 'fusion'
    WHEN drop_appearance >= $threshold THEN 'appearance'
    WHEN drop_motion >= $threshold THEN 'motion'
    ELSE 'either'
  END AS driver,
  mean, mean_no_appearance, mean_no_motion, drop_appearance, drop_motion, step, model
FROM drops
ORDER BY dataset, model, channel;
