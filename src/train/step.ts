/** One optimisation step of a softmax classifier, and the loss it minimises. */
import { tf, tfc, tfl } from '../model/tf.js';

/**
 * Mean categorical cross-entropy -1/B * sum_b log p[b, y_b] of softmax outputs. Probabilities are
 * clipped at 1e-7 (the Keras epsilon) so a confident wrong answer gives a large finite loss.
 */
export function crossEntropy(probs: tfc.Tensor2D, labels: tfc.Tensor1D): tfc.Scalar {
  return tf.tidy(() => {
    const oneHot = tf.oneHot(labels, probs.shape[1]);
    const logp = tf.log(tf.clipByValue(probs, 1e-7, 1));
    return tf.neg(tf.mean(tf.sum(tf.mul(oneHot, logp), -1))) as tfc.Scalar;
  });
}

export interface StepResult {
  loss: number;
  /** Correct top-1 predictions in the batch (forward pass of this step, before the update). */
  correct: number;
}

/** Forward + backward + optimizer update on one batch; leaves no tensors behind. */
export function trainStep(model: tfl.LayersModel, optimizer: tfc.Optimizer, x: tfc.Tensor4D, labels: tfc.Tensor1D): StepResult {
  const vars = model.trainableWeights.map((w) => w.read() as tfc.Variable);
  let correct: tfc.Tensor | null = null;
  const loss = tf.tidy((): tfc.Scalar =>
    optimizer.minimize(
      () => {
        const probs = model.apply(x, { training: true }) as tfc.Tensor2D;
        correct = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(probs, -1), labels), 'int32')));
        return crossEntropy(probs, labels);
      },
      true,
      vars,
    )!,
  );
  try {
    return { loss: loss.dataSync()[0], correct: (correct as tfc.Tensor | null)!.dataSync()[0] };
  } finally {
    loss.dispose();
    (correct as tfc.Tensor | null)?.dispose();
  }
}
