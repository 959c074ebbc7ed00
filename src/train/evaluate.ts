/** Test-set accuracy and loss of a classifier, in batches so memory stays bounded. */
import { tf, tfc, tfl } from '../model/tf.js';
import { batchTensors, type LabeledImages } from './data.js';
import { crossEntropy } from './step.js';

export interface EvalResult {
  accuracy: number;
  loss: number;
  n: number;
}

export function evaluate(model: tfl.LayersModel, ds: LabeledImages, batchSize = 500): EvalResult {
  let correct = 0;
  let lossSum = 0;
  for (let start = 0; start < ds.n; start += batchSize) {
    const count = Math.min(batchSize, ds.n - start);
    const { x, labels } = batchTensors(ds, null, start, count);
    try {
      const [c, l] = tf.tidy(() => {
        const probs = model.predict(x) as tfc.Tensor2D;
        const ok = tf.sum(tf.cast(tf.equal(tf.argMax(probs, -1), labels), 'int32'));
        return [ok, crossEntropy(probs, labels)];
      });
      correct += c.dataSync()[0];
      lossSum += l.dataSync()[0] * count;
      c.dispose();
      l.dispose();
    } finally {
      x.dispose();
      labels.dispose();
    }
  }
  return { accuracy: correct / ds.n, loss: lossSum / ds.n, n: ds.n };
}
