/**
 * A checkpoint series: the model directories a glob matches, each with its training step, sorted
 * by step. The step comes from model.json (`userDefinedMetadata.neurolens.step`, else
 * `userDefinedMetadata.step`), else from the directory name's trailing number
 * (`ckpt-000300` -> 300, `step_300` -> 300, `300` -> 300).
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { glob, isDynamicPattern } from 'tinyglobby';
import { NeurolensError, errorMessage } from '../errors.js';

export interface Checkpoint {
  /** Absolute model directory (holds model.json). */
  dir: string;
  step: number;
  /** Directory name, for display and store paths. */
  name: string;
  /** Where the step came from; 'default' only for a single directory with no step anywhere (0). */
  stepFrom: 'metadata' | 'dirname' | 'default';
}

/** Trailing number after a separator or alone; the same rule as io.ts' loadModelDir. */
const DIR_STEP = /(?:^|[-_])(\d+)$/;

export function stepFromDirName(dir: string): number | null {
  const m = DIR_STEP.exec(basename(dir));
  return m ? Number(m[1]) : null;
}

function metadataStep(meta: unknown, jsonPath: string): number | null {
  if (meta === null || typeof meta !== 'object') return null;
  const m = meta as { neurolens?: { step?: unknown }; step?: unknown };
  const [field, raw] = m.neurolens?.step !== undefined ? ['userDefinedMetadata.neurolens.step', m.neurolens.step] : ['userDefinedMetadata.step', m.step];
  if (raw === undefined || raw === null) return null;
  const n = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw new NeurolensError('BAD_MODEL', `${jsonPath}: ${field} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  }
  return n;
}

async function readStep(dir: string, single: boolean): Promise<Checkpoint> {
  const jsonPath = resolve(dir, 'model.json');
  let text: string;
  try {
    text = await readFile(jsonPath, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new NeurolensError(code === 'ENOENT' ? 'NOT_FOUND' : 'IO', `${jsonPath}: ${code === 'ENOENT' ? 'no model.json (not a TF.js model directory)' : errorMessage(e)}`, { cause: e });
  }
  let json: { userDefinedMetadata?: unknown };
  try {
    json = JSON.parse(text) as typeof json;
  } catch (e) {
    throw new NeurolensError('BAD_MODEL', `${jsonPath}: invalid JSON (${errorMessage(e)})`, { cause: e });
  }
  const name = basename(dir);
  const fromMeta = metadataStep(json?.userDefinedMetadata, jsonPath);
  if (fromMeta !== null) return { dir, step: fromMeta, name, stepFrom: 'metadata' };
  const fromName = stepFromDirName(dir);
  if (fromName !== null) return { dir, step: fromName, name, stepFrom: 'dirname' };
  if (single) return { dir, step: 0, name, stepFrom: 'default' };
  throw new NeurolensError(
    'BAD_MODEL',
    `${dir}: no training step: set userDefinedMetadata.neurolens.step in model.json or end the directory name with it (ckpt-000300)`,
  );
}

/**
 * Model directories matched by `pattern` (relative to `baseDir`), sorted by step. A pattern
 * without glob characters is one directory (a series of one). A pattern may name the
 * directories (`ckpts/ckpt-*`) or their model.json files (a pattern ending in `model.json`).
 */
export async function listCheckpoints(pattern: string, baseDir: string = process.cwd()): Promise<Checkpoint[]> {
  const trimmed = pattern.replace(/\/+$/, '');
  if (!isDynamicPattern(trimmed)) {
    const p = resolve(baseDir, trimmed);
    const dir = basename(p) === 'model.json' ? dirname(p) : p;
    const st = await stat(dir).catch(() => null);
    if (!st?.isDirectory()) throw new NeurolensError('NOT_FOUND', `model directory ${dir} does not exist`);
    return [await readStep(dir, true)];
  }
  const filesPattern = basename(trimmed) === 'model.json' ? trimmed : `${trimmed}/model.json`;
  const files = await glob(filesPattern, { cwd: baseDir, absolute: true, onlyFiles: true, followSymbolicLinks: true });
  if (files.length === 0) {
    throw new NeurolensError('NOT_FOUND', `no model directories match '${pattern}' (looked for ${filesPattern} under ${resolve(baseDir)})`);
  }
  const ckpts = await Promise.all(files.map((f) => readStep(dirname(resolve(f)), false)));
  ckpts.sort((a, b) => a.step - b.step || a.dir.localeCompare(b.dir));
  for (let i = 1; i < ckpts.length; i++) {
    if (ckpts[i].step === ckpts[i - 1].step) {
      throw new NeurolensError('BAD_MODEL', `checkpoints ${ckpts[i - 1].dir} and ${ckpts[i].dir} both have step ${ckpts[i].step} (from ${ckpts[i - 1].stepFrom} and ${ckpts[i].stepFrom})`);
    }
  }
  return ckpts;
}
