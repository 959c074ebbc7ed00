/**
 * Bench worker (piscina, started through src/workers/pool.ts like the infer workers): the "bare
 * model.predict" side of bench/pipeline.ts. Keeps one model and one input batch loaded and runs
 * `model.predict` + one download of the output per task, so the bench measures the compute of the
 * model alone, in the same number of threads as the pipeline's infer pool.
 * Mode 'tap' runs the infer stage's work instead (Tapper.run: upload, tapped forward pass,
 * on-backend reduction, two downloads), with the fused kernel or (`fused: false`) tensor ops.
 */
import { setupBackend, type BackendChoice } from '../src/model/backend.js';
import { loadModelDir, type LoadedModel } from '../src/model/io.js';
import { tf, type tfc } from '../src/model/tf.js';
import { Tapper } from '../src/model/taps.js';
import { workerEntry } from '../src/workers/pool.js';

export interface PredictRequest {
  modelDir: string;
  backend: BackendChoice;
  batch: number;
  /** Per-sample input shape [H, W, C]. */
  inputShape: number[];
  mode?: 'predict' | 'tap';
  /** Layers to tap (mode 'tap'). */
  layers?: string[];
  /** Fused reduction kernel (default) or the tensor-op path (mode 'tap'). */
  fused?: boolean;
}

export interface PredictResponse {
  images: number;
  /** Milliseconds of predict + download in the worker. */
  ms: number;
  backend: string;
}

let current: { dir: string; loaded: LoadedModel; tapper?: { key: string; t: Tapper } } | null = null;
let input: { key: string; x: tfc.Tensor; values: Float32Array } | null = null;

async function predict(req: PredictRequest): Promise<PredictResponse> {
  const backend = await setupBackend(req.backend);
  if (current?.dir !== req.modelDir) {
    current?.loaded.model.dispose();
    current = { dir: req.modelDir, loaded: await loadModelDir(req.modelDir) };
  }
  const key = `${req.batch}x${req.inputShape.join('x')}`;
  if (input?.key !== key) {
    input?.x.dispose();
    // Deterministic values in [0, 1) (the pixel range the bench models take).
    const n = req.batch * req.inputShape.reduce((a, b) => a * b, 1);
    const values = Float32Array.from({ length: n }, (_, i) => ((i * 2654435761) >>> 0) / 2 ** 32);
    input = { key, x: tf.tensor(values, [req.batch, ...req.inputShape], 'float32'), values };
  }
  const model = current.loaded.model;
  const x = input.x;
  if (req.mode === 'tap') {
    const layers = req.layers ?? [];
    if (current.tapper?.key !== layers.join(',')) {
      current.tapper = { key: layers.join(','), t: await Tapper.create(current.loaded, layers, { predictions: true }) };
    }
    // reduce.ts reads this per batch; worker threads have their own copy of the environment.
    if (req.fused === false) process.env.NEUROLENS_FUSED_STATS = '0';
    else delete process.env.NEUROLENS_FUSED_STATS;
    const t0 = performance.now();
    current.tapper.t.run(input.values, req.batch); // uploads the batch, as the infer worker does
    return { images: req.batch, ms: performance.now() - t0, backend: backend.name };
  }
  const t0 = performance.now();
  tf.tidy(() => {
    const out = model.predict(x) as tfc.Tensor | tfc.Tensor[];
    (Array.isArray(out) ? out[0] : out).dataSync();
  });
  return { images: req.batch, ms: performance.now() - t0, backend: backend.name };
}

export default workerEntry(predict);
