/** Checkpoint series layout: `<out>/ckpt-<step, 6 digits>/` model directories. */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { NeurolensError } from '../errors.js';

const CKPT_RE = /^ckpt-(\d{6,})$/;

export function checkpointName(step: number): string {
  return `ckpt-${String(step).padStart(6, '0')}`;
}

/** Existing checkpoint directories in `out`, sorted by step. */
export function listCheckpoints(out: string): { name: string; step: number }[] {
  let names: string[];
  try {
    names = readdirSync(out);
  } catch {
    return [];
  }
  return names
    .map((name) => ({ name, m: CKPT_RE.exec(name) }))
    .filter((e) => e.m)
    .map((e) => ({ name: e.name, step: Number(e.m![1]) }))
    .sort((a, b) => a.step - b.step);
}

/** Steps at which a run of `totalSteps` saves: 0, every `every` steps, and the last step. */
export function checkpointSteps(totalSteps: number, every: number): number[] {
  const steps: number[] = [];
  for (let s = 0; s < totalSteps; s += every) steps.push(s);
  steps.push(totalSteps);
  return steps;
}

/**
 * A new series must not mix with an old one (a stale ckpt-000900 from a longer run would look
 * like part of this run). Refuse unless `overwrite`, then remove only the old `ckpt-*` dirs.
 */
export function prepareSeriesDir(out: string, overwrite: boolean): void {
  const old = listCheckpoints(out);
  if (old.length === 0) return;
  if (!overwrite) {
    throw new NeurolensError(
      'BAD_SPEC',
      `--out ${out}: already holds ${old.length} checkpoints (${old[0].name} .. ${old[old.length - 1].name}); pass --overwrite to replace the series or choose another --out`,
    );
  }
  for (const c of old) rmSync(join(out, c.name), { recursive: true, force: true });
}
