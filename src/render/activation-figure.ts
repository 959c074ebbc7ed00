/**
 * `render activations` from code: model (and preprocessing) from a directory or a store run,
 * one input (a store sample or an image file), the layer's maps, dead channels, the grid.
 *
 * Dead channels: with a store whose neuron_stats cover (dataset, model, step, layer), a channel
 * is dead when its max over the whole dataset is <= eps (the store's `dead`, CS231n's "never
 * activates"). Otherwise (no store, or no statistics for that layer / step) a channel is marked
 * dead when its map is all zero for THIS input only, which is weaker: `deadFrom` says which.
 */
import { NeurolensError } from '../errors.js';
import { Store } from '../storage/store.js';
import { renderActivationGrid, type ActivationGrid, type MapScale } from './activations.js';
import type { ColormapName } from './colormap.js';
import { layerMaps } from './layer-maps.js';
import { fileInput, runSource, sampleInput, type RenderInput } from './render-input.js';
import { openRenderModel, type RenderModelOptions, type RunSpecRecord } from './run-model.js';

export interface ActivationFigureOptions extends RenderModelOptions {
  layer: string;
  sampleId?: number;
  image?: string;
  scale?: MapScale;
  colormap?: ColormapName;
  upscale?: number;
  columns?: number;
  /** Draw the input image as the first tile (default true). */
  showInput?: boolean;
}

export interface ActivationFigure {
  grid: ActivationGrid;
  layer: string;
  kind: string;
  /** [H', W', C] of the layer output. */
  shape: [number, number, number];
  modelDir: string;
  model: string | null;
  dataset: string | null;
  step: number | null;
  input: { sampleId: number | null; file: string | null; height: number; width: number; channels: number };
  dead: number[];
  deadFrom: 'store' | 'input';
  deadNote: string | null;
}

async function storeDead(storeDir: string, run: RunSpecRecord, step: number | null, layer: string): Promise<{ dead: Set<number> | null; note: string | null }> {
  if (step === null) return { dead: null, note: 'the model has no training step, so its neuron_stats cannot be matched' };
  const store = await Store.open(storeDir, { readOnly: true });
  try {
    if (!store.info.tablesWithFiles.includes('neuron_stats')) return { dead: null, note: `store ${storeDir} has no neuron_stats yet` };
    const rows = await store.query<{ channel: number; dead: boolean }>(
      'SELECT channel, dead FROM neuron_stats WHERE dataset = $dataset AND model = $model AND step = $step AND layer = $layer ORDER BY channel',
      { dataset: run.dataset.name, model: run.model.name, step, layer },
    );
    if (rows.length === 0) return { dead: null, note: `no neuron_stats for layer '${layer}' at step ${step} (layer not tapped by the run?)` };
    return { dead: new Set(rows.filter((r) => r.dead).map((r) => Number(r.channel))), note: null };
  } finally {
    store.dispose();
  }
}

export async function activationFigure(o: ActivationFigureOptions): Promise<ActivationFigure> {
  if ((o.sampleId === undefined) === (o.image === undefined)) throw new NeurolensError('BAD_SPEC', 'give exactly one input: --sample ID (with --store) or --image FILE');
  if (o.sampleId !== undefined && !o.store) throw new NeurolensError('BAD_SPEC', '--sample needs --store DIR (the store run records where the dataset is)');
  const { loaded, preprocess, run, step } = await openRenderModel(o);
  try {
    let input: RenderInput;
    if (o.sampleId !== undefined) input = await sampleInput(await runSource(run!), run!.dataset.name, o.sampleId, preprocess);
    else input = await fileInput(o.image!, preprocess);
    const maps = layerMaps(loaded.model, o.layer, input.data, [preprocess.height, preprocess.width, preprocess.channels]);
    const fromStore = o.store && run ? await storeDead(o.store, run, step, maps.layer) : { dead: null, note: null };
    let dead = fromStore.dead;
    if (!dead) {
      dead = new Set<number>();
      for (let ch = 0; ch < maps.channels; ch++) {
        let zero = true;
        for (let p = ch; p < maps.data.length && zero; p += maps.channels) zero = maps.data[p] === 0;
        if (zero) dead.add(ch);
      }
    }
    const stepText = step === null ? '' : ` step ${step}`;
    const grid = await renderActivationGrid(maps.data, maps.height, maps.width, maps.channels, {
      scale: o.scale,
      colormap: o.colormap,
      upscale: o.upscale,
      columns: o.columns,
      dead,
      ...(o.showInput === false ? {} : { input: { image: input.view, label: input.label } }),
      title: `${maps.layer} ${maps.height}x${maps.width}x${maps.channels}${stepText}, ${input.label}, ${o.scale ?? 'shared'} scale`,
    });
    return {
      grid,
      layer: maps.layer,
      kind: maps.kind,
      shape: [maps.height, maps.width, maps.channels],
      modelDir: loaded.dir,
      model: run?.model.name ?? null,
      dataset: run?.dataset.name ?? null,
      step,
      input: { sampleId: input.sampleId, file: input.file, height: preprocess.height, width: preprocess.width, channels: preprocess.channels },
      dead: [...dead].sort((a, b) => a - b),
      deadFrom: fromStore.dead ? 'store' : 'input',
      deadNote: fromStore.dead ? null : (fromStore.note ?? 'no --store: dead = all-zero map for this input'),
    };
  } finally {
    loaded.model.dispose();
  }
}
