/**
 * Picture worker (piscina, `serve --picture-threads N`): renders one activation-maximization
 * image or attribution map per task, off the server's event loop, with the code the CLI uses
 * (`renderActmax`; `explain` + `renderExplanation`). The main thread has already resolved the
 * run, the checkpoint directory and the step (pictures.ts), so a task names exactly what to draw.
 *
 * Attribution models are kept per checkpoint (a small LRU keyed by directory, file fingerprint
 * and run, disposed on eviction): a dashboard asks for many samples of one checkpoint in a row.
 * One task runs at a time per worker, so a model is never evicted while in use.
 */
import { performance } from 'node:perf_hooks';
import { renderActmax } from '../explain/actmax-render.js';
import { explain, renderExplanation, type MethodOptions } from '../explain/explain.js';
import { loadSampleInput, openExplainModel, type ExplainInput, type ExplainModel } from '../explain/input.js';
import { baselineFor } from '../explain/integrated-gradients.js';
import type { Target } from '../explain/target.js';
import { ensureBackend } from '../model/backend.js';
import { tfc } from '../model/tf.js';
import { NeurolensError } from '../errors.js';
import { workerEntry } from '../workers/pool.js';
import { movable } from '../workers/transfer.js';
import type { PictureJob, PictureResult, AttributionJob, ActmaxJob } from './picture-protocol.js';
import { targetHeader } from './picture-params.js';

const MODELS_KEPT = 3;

/** Loaded models by key, least recently used first; evicted ones are disposed. */
class ModelLru {
  private readonly map = new Map<string, Promise<ExplainModel>>();

  get(key: string, open: () => Promise<ExplainModel>): Promise<ExplainModel> {
    let hit = this.map.get(key);
    if (hit) this.map.delete(key);
    else {
      hit = open();
      // A failed load is not kept: the next task tries again.
      hit.catch(() => this.map.get(key) === hit && this.map.delete(key));
    }
    this.map.set(key, hit);
    for (const [k, m] of this.map) {
      if (this.map.size <= MODELS_KEPT) break;
      this.map.delete(k);
      m.then((x) => x.dispose(), () => undefined);
    }
    return hit;
  }
}

const models = new ModelLru();

async function actmaxJob(j: ActmaxJob): Promise<Omit<PictureResult, 'renderMs'>> {
  const { png, sidecar } = await renderActmax({
    store: j.store,
    modelDir: j.modelDir,
    step: j.step,
    model: j.model,
    dataset: j.dataset,
    layer: j.layer,
    channel: j.channel,
    steps: j.steps,
    seed: j.seed,
    upscale: j.upscale,
  });
  return { png, info: sidecar as unknown as Record<string, unknown>, headers: {} };
}

/** The class the model predicts for the input (argmax of its output), as the pipeline's `pred`. */
function predictedClass(m: ExplainModel, input: ExplainInput): number {
  return tfc.tidy(() => {
    const out = m.model.predict(tfc.tensor4d(input.data, [1, input.height, input.width, input.channels]));
    if (Array.isArray(out)) throw new NeurolensError('BAD_MODEL', `${m.dir}: the model has ${out.length} outputs; the predicted class needs one`);
    if (out.rank !== 2) throw new NeurolensError('BAD_MODEL', `${m.dir}: the model output has shape [${out.shape.join(',')}], not [batch, classes]; give class= or neuron=`);
    return tfc.argMax(out, -1).dataSync()[0]!;
  });
}

async function attributionJob(j: AttributionJob): Promise<Omit<PictureResult, 'renderMs'>> {
  const m = await models.get(j.modelKey, () => openExplainModel({ modelDir: j.modelDir, store: j.store, dataset: j.dataset, model: j.model }));
  const input = await loadSampleInput(j.store, m, j.sample, j.dataset);
  const predicted = j.target.kind === 'predicted' ? predictedClass(m, input) : null;
  const target: Target = j.target.kind === 'predicted' ? { kind: 'class', index: predicted! } : j.target;
  const mo: MethodOptions = { method: j.method };
  // The CLI's default baseline for integrated gradients.
  if (mo.method === 'integrated-gradients') mo.baseline = await baselineFor('black', input, m.pre);
  const e = explain(m.model, input, target, mo);
  // The title the CLI draws (`neurolens render <method>`), so both give the same picture.
  const title = `${String(e.summary.method)} ${String(e.summary.target)}`;
  const r = await renderExplanation(e, input, { size: j.size, title });
  const info: Record<string, unknown> = {
    ...e.summary,
    ...(mo.method === 'integrated-gradients' ? { baseline: 'black' } : {}),
    input: { label: input.label, sampleId: input.sampleId, uri: input.uri, classLabel: input.classLabel },
    model: { dir: m.dir, step: m.step, name: m.name },
    image: { width: r.width, height: r.height, overlay: r.overlay },
    colormap: r.colormap,
    range: r.range,
    ...(predicted === null ? {} : { target_class: predicted }),
  };
  const t = e.target.kind === 'class' ? { kind: 'class' as const, index: e.target.index } : { kind: 'neuron' as const, layer: e.target.layer, channel: e.target.channel, reduce: e.target.reduce ?? 'mean' };
  return { png: r.png, info, headers: { 'X-Neurolens-Target': targetHeader(t) } };
}

export default workerEntry<PictureJob, PictureResult>(async (job) => {
  await ensureBackend();
  const t0 = performance.now();
  const r = job.kind === 'actmax' ? await actmaxJob(job) : await attributionJob(job);
  const png = new Uint8Array(r.png.buffer, r.png.byteOffset, r.png.byteLength);
  return movable({ ...r, png, renderMs: Math.round(performance.now() - t0) });
});
