/**
 * Is a checkpoint directory completely written? A watch must never read a half-written model, and
 * a trainer gives no signal that it is done, so a directory counts as complete only when
 *   1. model.json parses and is a TF.js model.json (modelTopology, weightsManifest), and
 *   2. every weight file its weightsManifest lists exists, and each group's files hold exactly
 *      the bytes its weight specs imply (sum over weights of the shape product x dtype bytes;
 *      the quantized dtype when quantized: the rule of io.ts' loader), and
 *   3. the directory's listing (names, sizes, mtimes) is unchanged across two observations at
 *      least `settle` apart, or the writer left a `.complete` marker file (written last).
 * `saveModelDir` (what train-demo uses) writes a hidden `.ckpt-N.tmp-PID` directory, fsyncs it and
 * renames it into place, so its checkpoints appear complete at once; 3 still guards writers that
 * copy or write in place (rsync, cp, other trainers) and rewrite files in place.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../errors.js';
// The loader's size rule: a checkpoint counts as complete exactly when loadModelDir would accept its sizes.
import { specBytes, type WeightSpecLike } from '../model/io.js';

/** Name of the marker file a writer may create last to say "this directory is complete". */
export const COMPLETE_MARKER = '.complete';

export type FilesCheck =
  /** Every listed weight file holds the bytes the manifest implies; `bytes` per file name. */
  | { state: 'ok'; files: Record<string, number> }
  /** Looks like a write in progress (missing or short files, model.json that does not parse). */
  | { state: 'incomplete'; reason: string }
  /** Cannot become a model by more bytes arriving (parsed model.json that is not a model, too many bytes). */
  | { state: 'bad'; reason: string };

interface ManifestGroup {
  paths?: unknown;
  weights?: WeightSpecLike[];
}

/** Checks 1 and 2 above (not stability). Never throws for file-level problems. */
export async function checkModelFiles(dir: string): Promise<FilesCheck> {
  const jsonPath = join(dir, 'model.json');
  let text: string;
  try {
    text = await readFile(jsonPath, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { state: 'incomplete', reason: 'no model.json (yet)' };
    if (code === 'EISDIR') return { state: 'bad', reason: 'model.json is a directory' };
    return { state: 'incomplete', reason: `model.json: ${errorMessage(e)}` };
  }
  let json: { modelTopology?: unknown; weightsManifest?: unknown };
  try {
    json = JSON.parse(text) as typeof json;
  } catch (e) {
    // A JSON document cut short does not parse: the usual sight of a model.json being written.
    return { state: 'incomplete', reason: `model.json does not parse (${errorMessage(e)})` };
  }
  if (json === null || typeof json !== 'object' || json.modelTopology === null || typeof json.modelTopology !== 'object') {
    return { state: 'bad', reason: 'model.json has no modelTopology object (not a TF.js model.json)' };
  }
  if (!Array.isArray(json.weightsManifest)) return { state: 'bad', reason: "model.json's weightsManifest is missing or not a list" };
  const files: Record<string, number> = { 'model.json': Buffer.byteLength(text, 'utf8') };
  for (const [g, group] of (json.weightsManifest as ManifestGroup[]).entries()) {
    if (!Array.isArray(group?.paths) || !Array.isArray(group?.weights)) {
      return { state: 'bad', reason: `model.json's weightsManifest[${g}] needs 'paths' and 'weights' lists` };
    }
    let have = 0;
    for (const p of group.paths as unknown[]) {
      if (typeof p !== 'string' || p.includes('..')) return { state: 'bad', reason: `model.json's weightsManifest[${g}] lists a bad path ${JSON.stringify(p)}` };
      const st = await stat(join(dir, p)).catch(() => null);
      if (!st) return { state: 'incomplete', reason: `weight file ${p} (listed in model.json) does not exist (yet)` };
      if (!st.isFile()) return { state: 'bad', reason: `weight file ${p} is not a file` };
      files[p] = st.size;
      have += st.size;
    }
    const sizes = group.weights.map(specBytes);
    if (sizes.every((s) => s !== null)) {
      const need = (sizes as number[]).reduce((a, b) => a + b, 0);
      if (have < need) return { state: 'incomplete', reason: `weight files ${group.paths.join(', ')} hold ${have} of the ${need} bytes model.json's manifest needs` };
      if (have > need) return { state: 'bad', reason: `weight files ${group.paths.join(', ')} hold ${have} bytes, more than the ${need} model.json's manifest describes (files from another model?)` };
    }
  }
  return { state: 'ok', files };
}

/**
 * The directory's listing as a string: name, size and mtime of every entry (sorted). Equal
 * signatures at two observations mean nothing was written in between. Null when the directory
 * is gone.
 */
export async function dirSignature(dir: string): Promise<string | null> {
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch {
    return null;
  }
  const parts: string[] = [];
  for (const n of names) {
    const st = await stat(join(dir, n)).catch(() => null);
    parts.push(st ? `${n}:${st.isDirectory() ? 'd' : st.size}:${st.mtimeMs}` : `${n}:gone`);
  }
  return parts.join('|');
}

export async function hasCompleteMarker(dir: string): Promise<boolean> {
  return (await stat(join(dir, COMPLETE_MARKER)).catch(() => null))?.isFile() ?? false;
}
