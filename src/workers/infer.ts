/**
 * Infer worker (piscina). Keeps one checkpoint's model and its layer taps loaded; a request for
 * another checkpoint swaps them. Only [B, C] statistics leave the worker (reduced on the backend).
 */
import { setupBackend } from '../model/backend.js';
import { loadModelDir } from '../model/io.js';
import { Tapper } from '../model/taps.js';
import type { InferRequest, InferResponse } from './protocol.js';
import { movable } from './transfer.js';
import { workerEntry } from './pool.js';

let current: { key: string; tapper: Tapper; dispose: () => void } | null = null;

async function tapperFor(req: InferRequest): Promise<Tapper> {
  const key = `${req.checkpointDir}\u0000${req.layers.join(',')}\u0000${req.predictions}`;
  if (current?.key === key) return current.tapper;
  current?.dispose();
  current = null;
  const loaded = await loadModelDir(req.checkpointDir);
  const tapper = await Tapper.create(loaded, req.layers, { codes: [], predictions: req.predictions });
  current = {
    key,
    tapper,
    dispose: () => {
      tapper.dispose();
      loaded.model.dispose();
    },
  };
  return tapper;
}

async function infer(req: InferRequest): Promise<InferResponse> {
  const backend = await setupBackend(req.backend);
  const tapper = await tapperFor(req);
  const t0 = performance.now();
  const batch = req.sampleIds.length;
  if (req.zero) {
    const C = req.inputShape[req.inputShape.length - 1];
    const [from, to] = req.zero;
    for (let p = 0; p < req.data.length; p += C) req.data.fill(0, p + from, p + to);
  }
  const res = tapper.run(req.data, batch, undefined, req.predictions ? (req.labels ?? null) : null);
  for (const l of res.layers) l.sampleIds = req.sampleIds;
  const out: InferResponse = {
    sampleIds: req.sampleIds,
    layers: res.layers,
    predictions: res.predictions ?? null,
    backend: backend.name,
    computeMs: performance.now() - t0,
  };
  return movable(out);
}

export default workerEntry(infer);
