/**
 * Timing of single kernel calls for the kernel benchmarks (bench/kernels.ts, bench/conv3d.ts).
 * Every call gets FRESH input tensors: XNNPACK caches the packed right operand of a product by
 * tensor, and reusing one input would time the cache instead of a training step, where every
 * gradient input is new. Times are process CPU time, which the load of other processes disturbs
 * less than wall time.
 */
import { tfc } from '../src/model/tf.js';

export type Inputs = Record<string, tfc.Tensor>;

/** Process CPU time (user + system) in ms. */
export const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Median CPU ms of `run` over `calls` calls (after `warm` untimed ones), each on fresh copies of `inputs`. */
export function perCall(inputs: Inputs, run: (ins: Inputs) => tfc.TensorInfo, calls = 9, warm = 2): number {
  const times: number[] = [];
  for (let i = 0; i < warm + calls; i++) {
    const fresh = Object.fromEntries(Object.entries(inputs).map(([k, t]) => [k, tfc.add(t, 0)])) as Inputs;
    const t0 = cpuMs();
    const out = run(fresh);
    const dt = cpuMs() - t0;
    // Engine-run kernels return tracked Tensors; a native kernelFunc returns a bare backend buffer.
    if (out instanceof tfc.Tensor) out.dispose();
    else tfc.engine().backend.disposeData(out.dataId);
    tfc.dispose(Object.values(fresh));
    if (i >= warm) times.push(dt);
  }
  return times.sort((a, b) => a - b)[Math.floor(calls / 2)];
}
