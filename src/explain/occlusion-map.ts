/**
 * Dataset-scale occlusion (Zeiler & Fergus 2014 at scale): for every sample of a pipeline's
 * dataset and every checkpoint, a coarse occlusion grid of chosen classes, stored as the Parquet
 * table `occlusion` (schemas.ts) partitioned by dataset / model / step.
 *
 * Input: a pipeline spec file, or a store directory (its newest run record names the spec: the
 * dataset source, the checkpoint directories the run read and the preprocessing, exactly as the
 * pipeline fed the model). The score is the class probability (the model output; see target.ts).
 *
 * Work is done per shard (the pipeline's shards: spec shard_size, batch_size). Each shard and
 * class is one part file, written atomically (temp name, fsync, rename) under a deterministic
 * name carrying the parameters, the shard and its sample count:
 *     occlusion/dataset=D/model=M/step=S/class3-patch8-stride4-fill0-shard-00012-1024.parquet
 * The rename is the commit: a part either exists whole or not at all, a re-run replaces it, and
 * `resume` (default) skips parts that exist. The sample count keeps `--limit` honest: a shard cut
 * short by a smaller limit is recomputed (its old part removed first) when the limit grows.
 * (Shard commit files are not used: they are keyed by (model, step, dataset, shard) and belong to
 * the pipeline, whose resume would skip a shard that only this stage had committed.)
 * Samples that fail to decode are left out and counted.
 */
import path from 'node:path';
import { readdir, stat, unlink } from 'node:fs/promises';
import { NeurolensError, errorMessage } from '../errors.js';
import { listCheckpoints } from '../model/checkpoints.js';
import { recordedCheckpoints, type RecordedCheckpoint } from '../model/run-checkpoint.js';
import { loadModelDir } from '../model/io.js';
import { validateModelInput } from '../model/validate.js';
import { tfc } from '../model/tf.js';
import { loadSpec, type PipelineSpec } from '../pipeline/spec.js';
import { openDatasetSource } from '../sources/open.js';
import { decodeBatch } from '../stages/decode.js';
import { planShards } from '../stages/source.js';
import { fsyncDir } from '../storage/atomic.js';
import { partitionRelDir } from '../storage/layout.js';
import { floatList } from '../storage/parquet-writer.js';
import { writeTablePart } from '../storage/parts.js';
import { listRunIds, readRun } from '../storage/runs.js';
import { Store } from '../storage/store.js';
import { LayerPlan } from './forward.js';
import { OCCLUSION_DEFAULTS, occlusionGrid, occlusionGrids } from './occlusion.js';
import { Objective, defaultBatch, imageInputShape } from './target.js';

export interface OcclusionMapOptions {
  /** Pipeline spec file (.yaml/.yml) or store directory. */
  from: string;
  classes: number[];
  patch?: number;
  stride?: number;
  fill?: number;
  /** Only the first N samples. */
  limit?: number;
  /** Only this checkpoint step (default: every checkpoint). */
  step?: number;
  /** Occluded copies per forward pass. */
  batch?: number;
  /** Skip parts already written (default true). */
  resume?: boolean;
  /** Called after each shard. */
  onShard?: (e: { step: number; shard: number; samples: number; skipped: boolean }) => void;
}

export interface OcclusionMapSummary {
  store: string;
  dataset: string;
  model: string;
  classes: number[];
  patch: number;
  stride: number;
  fill: number;
  grid: [number, number];
  samples: number;
  steps: { step: number; shards: number; skipped: number; samples: number; decodeErrors: number; seconds: number }[];
}

interface Resolved {
  spec: PipelineSpec;
  baseDir: string;
  store: string;
  /** From a store: the checkpoints its run read (null: a spec file, or a record older than the list). */
  run: { runId: string; checkpoints: RecordedCheckpoint[] | null } | null;
}

/** The spec (and store) from a spec file or a store's newest run record. */
async function resolveSpec(from: string): Promise<Resolved> {
  const st = await stat(from).catch(() => null);
  if (!st) throw new NeurolensError('NOT_FOUND', `${from}: no such pipeline spec file or store directory`);
  if (st.isFile()) {
    const loaded = await loadSpec(from);
    return { spec: loaded.spec, baseDir: loaded.baseDir, store: path.resolve(loaded.baseDir, loaded.spec.store), run: null };
  }
  for (const id of (await listRunIds(from)).reverse()) {
    const record = await readRun(from, id);
    const spec = record.spec as (PipelineSpec & { file?: string }) | undefined;
    if (!spec?.model?.checkpoints || !spec.dataset?.source || typeof spec.file !== 'string') continue;
    return { spec, baseDir: path.dirname(spec.file), store: path.resolve(from), run: { runId: id, checkpoints: recordedCheckpoints(record) } };
  }
  throw new NeurolensError('NOT_FOUND', `store ${from} has no run record naming a dataset source and checkpoints; give the pipeline spec file instead`);
}

function fillText(fill: number): string {
  return String(fill).replace('+', '');
}

/** Part file name of (class, parameters, shard, samples in the shard). */
export function occlusionPartName(cls: number, patch: number, stride: number, fill: number, shard: number, count: number): string {
  return `class${cls}-patch${patch}-stride${stride}-fill${fillText(fill)}-shard-${String(shard).padStart(5, '0')}-${count}.parquet`;
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}

/** Removes parts of the same (class, parameters, shard) with another sample count. */
async function removeStale(dir: string, keep: string): Promise<void> {
  const prefix = keep.slice(0, keep.lastIndexOf('-') + 1);
  const names = await readdir(dir).catch(() => [] as string[]);
  let removed = false;
  for (const n of names) {
    if (n !== keep && n.startsWith(prefix) && n.endsWith('.parquet')) {
      await unlink(path.join(dir, n));
      removed = true;
    }
  }
  if (removed) await fsyncDir(dir);
}

export async function occlusionMap(o: OcclusionMapOptions): Promise<OcclusionMapSummary> {
  const patch = o.patch ?? OCCLUSION_DEFAULTS.patch;
  const stride = o.stride ?? OCCLUSION_DEFAULTS.stride;
  const fill = o.fill ?? OCCLUSION_DEFAULTS.fill;
  const classes = [...new Set(o.classes)].sort((a, b) => a - b);
  if (classes.length === 0) throw new NeurolensError('BAD_SPEC', 'give at least one --class');
  if (!Number.isFinite(fill)) throw new NeurolensError('BAD_SPEC', `--fill must be a number, got ${fill}`);
  const { spec, baseDir, store, run } = await resolveSpec(o.from);
  const pre = spec.model.input;
  const { gridH, gridW } = occlusionGrid(pre.height, pre.width, patch, stride);
  const source = await openDatasetSource(spec.dataset, spec.model.input, baseDir);
  const size = Math.min(source.size, o.limit ?? Infinity);
  // From a store, the checkpoint directories its run read (the spec glob may have been overridden
  // by `run --checkpoints`); from a spec file (or an old record), the spec's glob.
  // (An old record without the list: the glob the run used, `--checkpoints` first.)
  const glob = (run && (spec as { options?: { checkpoints?: unknown } }).options?.checkpoints) || spec.model.checkpoints;
  let checkpoints: { step: number; dir: string }[] = run?.checkpoints ?? (await listCheckpoints(String(glob), baseDir));
  const what = run?.checkpoints ? `run ${run.runId}` : `'${String(glob)}'`;
  if (o.step !== undefined) {
    checkpoints = checkpoints.filter((c) => c.step === o.step);
    if (checkpoints.length === 0) throw new NeurolensError('NOT_FOUND', `--step ${o.step}: no checkpoint of ${what} has that step`);
  }
  if (run?.checkpoints) {
    for (const c of checkpoints) {
      if (!(await stat(c.dir).catch(() => null))?.isDirectory()) {
        throw new NeurolensError('NOT_FOUND', `step ${c.step}: run ${run.runId} read checkpoint directory ${c.dir}, which no longer exists; give the pipeline spec file with its checkpoints instead`);
      }
    }
  }
  const shards = planShards(size, spec.shard_size, spec.batch_size);
  const summary: OcclusionMapSummary = { store, dataset: spec.dataset.name, model: spec.model.name, classes, patch, stride, fill, grid: [gridH, gridW], samples: size, steps: [] };

  for (const ck of checkpoints) {
    const t0 = performance.now();
    const partition = { dataset: spec.dataset.name, model: spec.model.name, step: ck.step };
    const dir = path.join(store, ...partitionRelDir('occlusion', partition).split('/'));
    const names = (shard: number, count: number) => classes.map((c) => occlusionPartName(c, patch, stride, fill, shard, count));
    const pending = [];
    for (const s of shards) {
      const done = o.resume !== false && (await Promise.all(names(s.index, s.end - s.start).map((n) => exists(path.join(dir, n))))).every(Boolean);
      if (done) o.onShard?.({ step: ck.step, shard: s.index, samples: s.end - s.start, skipped: true });
      else pending.push(s);
    }
    const row = { step: ck.step, shards: pending.length, skipped: shards.length - pending.length, samples: 0, decodeErrors: 0, seconds: 0 };
    if (pending.length) {
      const loaded = await loadModelDir(ck.dir);
      try {
        if (loaded.kind !== 'layers') throw new NeurolensError('BAD_MODEL', `${ck.dir}: occlusion maps need a LayersModel`);
        validateModelInput(loaded, pre);
        const model = loaded.model;
        for (const c of classes) Objective.create(model, { kind: 'class', index: c, score: 'prob' }); // checks the class indices
        const plan = LayerPlan.of(model);
        const shape = imageInputShape(model);
        const classIdx = tfc.tensor1d(classes, 'int32');
        const score = (x: tfc.Tensor) => tfc.gather(plan.run(x, { release: true }).output!, classIdx, 1);
        const opts = { patch, stride, fill, batch: o.batch ?? defaultBatch(shape, 'forward') };
        try {
          for (const s of pending) {
            const ids: number[] = [];
            const scores: number[][] = classes.map(() => []);
            const drops: Float32Array[][] = classes.map(() => []);
            for (const b of s.batches) {
              const decoded = await decodeBatch(source.decodeTask(b.start, b.end), pre);
              row.decodeErrors += decoded.errors.length;
              const per = pre.height * pre.width * pre.channels;
              decoded.sampleIds.forEach((id, i) => {
                const r = occlusionGrids(score, classes.length, decoded.data.subarray(i * per, (i + 1) * per), shape, opts);
                ids.push(id);
                classes.forEach((_, k) => {
                  scores[k]!.push(r.scores[k]!);
                  drops[k]!.push(r.grids[k]!);
                });
              });
            }
            const cells = gridH * gridW;
            const fileNames = names(s.index, s.end - s.start);
            for (const [k, cls] of classes.entries()) {
              const flat = new Float32Array(ids.length * cells);
              drops[k]!.forEach((d, i) => flat.set(d, i * cells));
              const n = ids.length;
              await removeStale(dir, fileNames[k]!);
              // writeTablePart checks the file name and the columns against the schema.
              await writeTablePart(store, 'occlusion', partition, fileNames[k]!, {
                sample_id: Int32Array.from(ids),
                class: new Int32Array(n).fill(cls),
                patch: new Int32Array(n).fill(patch),
                stride: new Int32Array(n).fill(stride),
                fill: new Float32Array(n).fill(fill),
                grid_h: new Int32Array(n).fill(gridH),
                grid_w: new Int32Array(n).fill(gridW),
                score: Float32Array.from(scores[k]!),
                drop: floatList(flat, cells),
              });
            }
            row.samples += ids.length;
            o.onShard?.({ step: ck.step, shard: s.index, samples: ids.length, skipped: false });
          }
        } finally {
          classIdx.dispose();
        }
      } catch (e) {
        if (e instanceof NeurolensError) throw e;
        throw new NeurolensError('INTERNAL', `occlusion maps of ${ck.dir}: ${errorMessage(e)}`, { cause: e });
      } finally {
        loaded.model.dispose();
      }
    }
    row.seconds = (performance.now() - t0) / 1000;
    summary.steps.push(row);
  }
  // Regenerate the catalog so the `occlusion` view exists (Store.open refreshes and writes catalog.sql).
  (await Store.open(store)).dispose();
  return summary;
}
