/**
 * Gradients for Complex, Real, Imag, FFT and IFFT, which tfjs-core 4.22 does not register (so
 * tf.grad through tf.spectral.* fails on every backend). They follow TensorFlow's rules
 * (tensorflow/python/ops/math_grad.py and fft_ops.py), where the gradient of a real loss with
 * respect to z = a + ib is dL/da + i dL/db:
 *   Complex(a, b): (Real(g), Imag(g));  Real(z): Complex(g, 0);  Imag(z): Complex(0, g);
 *   FFT: n * IFFT(g);  IFFT: FFT(g) / n   (the DFT matrix is symmetric, so its adjoint is its
 *   conjugate, n times the inverse).
 * Scaling is done on the parts because wasm has no complex Multiply. Gradients are global (not
 * per backend), so these are registered only where none exist.
 */
import { tfc } from '../tf.js';

type Tensor = tfc.Tensor;

function scaleComplex(z: Tensor, s: number): Tensor {
  return tfc.complex(tfc.mul(tfc.real(z), s), tfc.mul(tfc.imag(z), s));
}

function lastDim(t: Tensor): number {
  return t.shape[t.rank - 1];
}

export const spectralGradConfigs: tfc.GradConfig[] = [
  {
    kernelName: tfc.Complex,
    gradFunc: (dy) => {
      const g = dy as Tensor;
      return { real: () => tfc.real(g), imag: () => tfc.imag(g) };
    },
  },
  {
    kernelName: tfc.Real,
    gradFunc: (dy) => {
      const g = dy as Tensor;
      return { input: () => tfc.complex(g, tfc.zerosLike(g)) };
    },
  },
  {
    kernelName: tfc.Imag,
    gradFunc: (dy) => {
      const g = dy as Tensor;
      return { input: () => tfc.complex(tfc.zerosLike(g), g) };
    },
  },
  {
    kernelName: tfc.FFT,
    gradFunc: (dy) => {
      const g = dy as Tensor;
      return { input: () => scaleComplex(tfc.ifft(g), lastDim(g)) };
    },
  },
  {
    kernelName: tfc.IFFT,
    gradFunc: (dy) => {
      const g = dy as Tensor;
      return { input: () => scaleComplex(tfc.fft(g), 1 / lastDim(g)) };
    },
  },
];
