-- The most confused classes: pairs (true label, predicted class) with the most misclassified
-- samples at one checkpoint, most frequent first (like fastai's most_confused).
-- @param step BIGINT default NULL  checkpoint step; NULL = the latest step with predictions
-- @param k INTEGER default 10  pairs to return
-- @param dataset VARCHAR default NULL  dataset name; NULL = any
-- @param model VARCHAR default NULL  model name; NULL = any
-- @column label  true class
-- @column pred  predicted class
-- @column n  samples of class label predicted as pred
-- @column rate  n / samples of class label
-- @column reverse_n  samples of class pred predicted as label
-- @column step  checkpoint step

WITH at_step AS (
  SELECT coalesce($step, (SELECT max(step) FROM predictions
    WHERE ($dataset IS NULL OR dataset = $dataset) AND ($model IS NULL OR model = $model))) AS step
),
p AS (
  SELECT label, pred FROM predictions
  WHERE step = (SELECT step FROM at_step) AND label IS NOT NULL AND label >= 0
    AND ($dataset IS NULL OR dataset = $dataset) AND ($model IS NULL OR model = $model)
),
per_label AS (SELECT label, count(*) AS total FROM p GROUP BY label),
pairs AS (SELECT label, pred, count(*) AS n FROM p WHERE pred <> label GROUP BY label, pred)
SELECT x.label, x.pred, x.n, x.n / l.total AS rate, coalesce(y.n, 0) AS reverse_n, (SELECT step FROM at_step) AS step
FROM pairs x
JOIN per_label l ON l.label = x.label
LEFT JOIN pairs y ON y.label = x.pred AND y.pred = x.label
ORDER BY x.n DESC, x.label, x.pred
LIMIT $k;
