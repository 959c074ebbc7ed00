-- Accuracy and cross-entropy loss per checkpoint and split, over the labelled samples of the
-- predictions table. loss = mean of -ln p(label) with p clipped to [1e-7, 1] (Keras' epsilon, so
-- one confident mistake is a large finite term, not infinity); NULL for stores written before
-- label_prob was recorded. For a softmax head p(label) is the probability of the true class;
-- for a one-unit sigmoid head, p or 1 - p.
-- @param split VARCHAR default NULL  split name (train, test, ...); NULL = every split
-- @param dataset VARCHAR default NULL  dataset name; NULL = any
-- @param model VARCHAR default NULL  model name; NULL = any
-- @column dataset  dataset name
-- @column model  model name
-- @column split  the samples' split
-- @column step  checkpoint step
-- @column samples  labelled samples predicted at that step
-- @column accuracy  share of samples whose top-1 prediction is the label
-- @column loss  mean cross-entropy -ln p(label) (NULL when not recorded)

SELECT p.dataset, p.model, s.split, p.step,
  count(*) AS samples,
  avg(CAST(p.pred = p.label AS DOUBLE)) AS accuracy,
  avg(-ln(greatest(CAST(p.label_prob AS DOUBLE), 1e-7))) AS loss
FROM predictions p JOIN samples s ON s.dataset = p.dataset AND s.sample_id = p.sample_id
WHERE p.label IS NOT NULL AND p.label >= 0
  AND ($split IS NULL OR s.split = $split) AND ($dataset IS NULL OR p.dataset = $dataset) AND ($model IS NULL OR p.model = $model)
GROUP BY ALL
ORDER BY p.dataset, p.model, s.split, p.step;
