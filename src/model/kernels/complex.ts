/**
 * complex64 on the wasm backend: Complex, Real, Imag, ComplexAbs.
 *
 * How wasm can hold complex64 at all: BackendWasm.move() allocates `size * bytesPerElement`
 * bytes, and tfjs-core counts complex64 as 8 bytes, but its readSync() has no complex64 case
 * (typedArrayFromBuffer throws) and it has no `complexTensorInfos` the way the cpu backend does.
 * So a complex64 tensor here is stored as an ordinary float32 buffer of shape [...shape, 2]
 * holding (re, im) pairs interleaved, and the engine's complex64 Tensor points at that buffer.
 * That is exactly the layout tfjs-core uses for complex values everywhere else (dataSync() of a
 * complex tensor on cpu returns interleaved pairs, backend_util.mergeRealAndImagArrays), so
 * `data()`/`dataSync()` work unchanged. Reshape only relabels the buffer, so it works too;
 * FFT/IFFT are in fft.ts.
 *
 * Limits (documented, not papered over): other wasm kernels (Slice, Concat, Cast, ...) do not
 * understand complex64 and must not be given it; Identity (tf.clone, and the copies the tape keeps
 * of a kernel's inputs under tf.grad) is replaced by a sharing one (identity.ts), which works for
 * complex64 too. tf.memory().numBytes does not count complex buffers (the engine counts complex
 * bytes "by their components", which do not exist here); and a complex tensor alive when the
 * backend is switched away from wasm moves as float32 data.
 * Gradients cannot flow through complex tensors in tfjs 4.22 on any backend (tape.ts requires
 * every gradient to be float32, and no gradient is registered for FFT/Real/Imag/Complex), which
 * is why the differentiable real-valued DFT helpers of dft.ts exist.
 */
import { tfc } from '../tf.js';
import { asTensor, inputInfo, viewOf, type RefCountingBackend } from './tensors.js';

type Tensor = tfc.Tensor;

/** The interleaved float32 [...shape, 2] view of a complex64 tensor (see header). */
export function complexAsPairs(z: tfc.TensorInfo, backend: RefCountingBackend): Tensor {
  if (z.dtype !== 'complex64') throw new Error(`expected a complex64 tensor, got ${z.dtype}`);
  return viewOf(z, backend, [...z.shape, 2], 'float32');
}

/** A complex64 tensor of `shape` over the interleaved pairs `pairs` ([...shape, 2] float32). */
export function pairsAsComplex(pairs: Tensor, shape: number[], backend: RefCountingBackend): Tensor {
  return viewOf(pairs, backend, shape, 'complex64');
}

function complexKernel({ inputs, backend }: Parameters<tfc.KernelFunc>[0]): Tensor {
  const be = backend as RefCountingBackend;
  return tfc.tidy(() => {
    const re = asTensor(inputs, 'real', be);
    const im = asTensor(inputs, 'imag', be);
    if (!tfc.util.arraysEqual(re.shape, im.shape)) {
      throw new Error(`complex: real shape [${re.shape}] differs from imag shape [${im.shape}]`);
    }
    const pairs = tfc.stack([tfc.cast(re, 'float32'), tfc.cast(im, 'float32')], -1);
    return pairsAsComplex(pairs, re.shape, be);
  });
}

function partKernel(part: 0 | 1): tfc.KernelFunc {
  return ({ inputs, backend }) => {
    const be = backend as RefCountingBackend;
    const z = inputInfo(inputs, 'input');
    return tfc.tidy(() => {
      const pairs = complexAsPairs(z, be);
      const begin = z.shape.map(() => 0).concat(part);
      return tfc.reshape(tfc.slice(pairs, begin, [...z.shape, 1]), z.shape);
    });
  };
}

function complexAbsKernel({ inputs, backend }: Parameters<tfc.KernelFunc>[0]): Tensor {
  const be = backend as RefCountingBackend;
  return tfc.tidy(() => tfc.sqrt(tfc.sum(tfc.square(complexAsPairs(inputInfo(inputs, 'x'), be)), -1)));
}

export const complexConfigs: tfc.KernelConfig[] = [
  { kernelName: tfc.Complex, backendName: 'wasm', kernelFunc: complexKernel },
  { kernelName: tfc.Real, backendName: 'wasm', kernelFunc: partKernel(0) },
  { kernelName: tfc.Imag, backendName: 'wasm', kernelFunc: partKernel(1) },
  { kernelName: tfc.ComplexAbs, backendName: 'wasm', kernelFunc: complexAbsKernel },
];
