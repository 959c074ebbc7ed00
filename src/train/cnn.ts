/**
 * The demo CNN: the classic two-convolution Fashion-MNIST baseline (conv 32 -> pool -> conv 64 ->
 * pool -> dense 128 -> softmax 10; the Keras/TF tutorial architecture, ~0.91-0.92 test accuracy).
 * Layer names are stable because pipeline specs and queries refer to them.
 *
 * No dropout: tfjs' dropout re-seeds its mask generator on every call when given a seed (same
 * mask every step) and is unseeded otherwise, so it would break run-to-run determinism.
 */
import { tfl } from '../model/tf.js';

export const DEMO_INPUT_SHAPE = [28, 28, 1] as const;
export const DEMO_CLASSES = 10;
export const DEMO_LAYER_NAMES = ['conv1', 'pool1', 'conv2', 'pool2', 'flatten', 'dense1', 'dense2'] as const;

/** Builds the demo CNN with weights drawn from seeded initializers (same seed => same weights). */
export function buildDemoCnn(seed: number): tfl.Sequential {
  // Each layer gets its own seed so layers with equal shapes do not get equal weights.
  const he = (k: number) => tfl.initializers.heNormal({ seed: seed * 16 + k });
  const model = tfl.sequential({ name: 'fashion_mnist_cnn' });
  model.add(
    tfl.layers.conv2d({
      name: 'conv1',
      inputShape: [...DEMO_INPUT_SHAPE],
      filters: 32,
      kernelSize: 3,
      padding: 'same',
      activation: 'relu',
      kernelInitializer: he(1),
      biasInitializer: 'zeros',
    }),
  );
  model.add(tfl.layers.maxPooling2d({ name: 'pool1', poolSize: 2, strides: 2 }));
  model.add(
    tfl.layers.conv2d({ name: 'conv2', filters: 64, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: he(2), biasInitializer: 'zeros' }),
  );
  model.add(tfl.layers.maxPooling2d({ name: 'pool2', poolSize: 2, strides: 2 }));
  model.add(tfl.layers.flatten({ name: 'flatten' }));
  model.add(tfl.layers.dense({ name: 'dense1', units: 128, activation: 'relu', kernelInitializer: he(3), biasInitializer: 'zeros' }));
  model.add(
    tfl.layers.dense({
      name: 'dense2',
      units: DEMO_CLASSES,
      activation: 'softmax',
      kernelInitializer: tfl.initializers.glorotUniform({ seed: seed * 16 + 4 }),
      biasInitializer: 'zeros',
    }),
  );
  return model;
}
