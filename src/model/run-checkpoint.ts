/**
 * Which checkpoint directory a store's run read at a step. Pictures drawn from a store must use
 * the model the statistics came from, and the run record is the only place that says which one.
 *
 * The runner records `checkpoints: [{ step, dir }]` (absolute directories, written with the first
 * record, before any checkpoint is processed), so the answer does not depend on the spec's glob:
 * `neurolens run --checkpoints GLOB` may have pointed anywhere. Records written before that list
 * existed fall back to the glob the run used (`--checkpoints`, kept in `spec.options`, else the
 * spec's `model.checkpoints`), resolved against the spec file's directory as the runner did.
 *
 * A step the chosen run did not read is looked up in the other runs of the same dataset and model
 * (newest first): a later run over one checkpoint must not hide the steps an earlier run stored.
 */
import path from 'node:path';
import { stat } from 'node:fs/promises';
import { NeurolensError, errorMessage } from '../errors.js';
import { listRunIds, readRun, type RunRecord } from '../storage/runs.js';
import { listCheckpoints } from './checkpoints.js';

export interface RecordedCheckpoint {
  step: number;
  /** Absolute model directory. */
  dir: string;
}

export interface RunCheckpoint extends RecordedCheckpoint {
  /** The run whose record named the directory. */
  runId: string;
  /** 'record': the run's checkpoint list; 'glob': an older record's checkpoint glob. */
  from: 'record' | 'glob';
}

interface SpecLike {
  file?: unknown;
  dataset?: { name?: unknown };
  model?: { name?: unknown; checkpoints?: unknown };
  options?: { checkpoints?: unknown };
}

/** The `{ step, dir }` list of a run record, or null for records written before it existed. */
export function recordedCheckpoints(record: Pick<RunRecord, 'checkpoints'>): RecordedCheckpoint[] | null {
  const list = record.checkpoints;
  if (!Array.isArray(list)) return null;
  const ok = list.filter((c): c is RecordedCheckpoint => !!c && Number.isSafeInteger(c.step) && typeof c.dir === 'string' && c.dir !== '');
  return ok.length ? [...ok].sort((a, b) => a.step - b.step) : null;
}

/** The glob an old record's run listed its checkpoints with, and the directory it is relative to. */
function recordedGlob(spec: SpecLike): { glob: string; baseDir: string } | null {
  if (typeof spec.file !== 'string') return null;
  const glob = typeof spec.options?.checkpoints === 'string' ? spec.options.checkpoints : spec.model?.checkpoints;
  return typeof glob === 'string' && glob !== '' ? { glob, baseDir: path.dirname(spec.file) } : null;
}

async function isDirectory(dir: string): Promise<boolean> {
  return (await stat(dir).catch(() => null))?.isDirectory() ?? false;
}

/** Fails with NOT_FOUND when a recorded directory is gone (moved or deleted since the run). */
async function checkExists(c: RunCheckpoint): Promise<RunCheckpoint> {
  if (c.from === 'record' && !(await isDirectory(c.dir))) {
    throw new NeurolensError('NOT_FOUND', `step ${c.step}: run ${c.runId} read checkpoint directory ${c.dir}, which no longer exists; give --model-dir DIR`);
  }
  return c;
}

/**
 * The checkpoint run `runId` of `storeDir` read at `step` (default: the latest step it read),
 * else the one another run of the same dataset and model read at that step.
 */
export async function runCheckpointDir(storeDir: string, runId: string, step?: number): Promise<RunCheckpoint> {
  const first = await readRun(storeDir, runId);
  const spec = (first.spec ?? {}) as SpecLike;
  const steps = new Set<number>();
  let globError: unknown = null;
  /** The checkpoint run `id` read at `step` (its latest without a step), else null after noting its steps. */
  const lookup = async (id: string, record: RunRecord): Promise<RunCheckpoint | null> => {
    const listed = recordedCheckpoints(record);
    let candidates: RunCheckpoint[];
    if (listed) {
      candidates = listed.map((c) => ({ step: c.step, dir: c.dir, runId: id, from: 'record' as const }));
    } else {
      const g = recordedGlob((record.spec ?? {}) as SpecLike);
      if (!g) return null;
      try {
        candidates = (await listCheckpoints(g.glob, g.baseDir)).map((c) => ({ step: c.step, dir: c.dir, runId: id, from: 'glob' as const }));
      } catch (e) {
        if (!(e instanceof NeurolensError && e.code === 'NOT_FOUND')) throw e;
        globError ??= e;
        return null;
      }
    }
    if (candidates.length === 0) return null;
    if (step === undefined) return checkExists(candidates[candidates.length - 1]!);
    const hit = candidates.find((c) => c.step === step);
    if (hit) return checkExists(hit);
    for (const c of candidates) steps.add(c.step);
    return null;
  };
  const own = await lookup(runId, first);
  if (own) return own;
  // Usually the asked run read the step: the store's other records are listed and read only on
  // a miss, one at a time (newest first), up to the first run that read it.
  if (step !== undefined) {
    for (const id of (await listRunIds(storeDir)).reverse()) {
      if (id === runId) continue;
      const r = await readRun(storeDir, id).catch(() => null);
      const s = (r?.spec ?? {}) as SpecLike;
      if (!r || s.dataset?.name !== spec.dataset?.name || s.model?.name !== spec.model?.name) continue;
      const hit = await lookup(id, r);
      if (hit) return hit;
    }
  }
  if (steps.size === 0) {
    if (globError) throw new NeurolensError('NOT_FOUND', `run ${runId}: ${errorMessage(globError)}; give --model-dir DIR`, { cause: globError });
    throw new NeurolensError('NOT_FOUND', `run ${runId} of store ${storeDir} records neither its checkpoint directories nor its spec file and checkpoint glob; give --model-dir DIR`);
  }
  const known = [...steps].sort((a, b) => a - b).join(', ');
  throw new NeurolensError('NOT_FOUND', `--step ${step}: no checkpoint with that step was read by run ${runId} or another run of model '${String(spec.model?.name)}' on dataset '${String(spec.dataset?.name)}' (steps: ${known})`);
}
