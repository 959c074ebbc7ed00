/**
 * The directories a checkpoint glob names, complete or not: the watch has to see a directory
 * while it is being written (listCheckpoints only lists directories whose model.json already
 * parses, and fails as a whole on one broken model.json). Same pattern rules as
 * listCheckpoints: relative to the spec's directory; a pattern names the directories
 * (`ckpts/ckpt-*`) or their model.json files (`ckpts/ckpt-*\/model.json`); without glob
 * characters it is one directory. Hidden names (saveModelDir's `.ckpt-N.tmp-PID`) never match.
 */
import { stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { glob, isDynamicPattern } from 'tinyglobby';

export function dirPattern(pattern: string): string {
  const trimmed = pattern.replace(/\/+$/, '');
  return basename(trimmed) === 'model.json' ? dirname(trimmed) : trimmed;
}

/** Absolute directories matching the pattern now (sorted by path); [] when none. */
export async function candidateDirs(pattern: string, baseDir: string): Promise<string[]> {
  const p = dirPattern(pattern);
  if (!isDynamicPattern(p)) {
    const dir = resolve(baseDir, p);
    return (await stat(dir).catch(() => null))?.isDirectory() ? [dir] : [];
  }
  const dirs = await glob(p, { cwd: baseDir, absolute: true, onlyDirectories: true, followSymbolicLinks: true });
  return [...new Set(dirs.map((d) => resolve(d)))].sort();
}

/** True when the pattern is one directory (a step-less directory is then step 0, as in `run`). */
export function isSingleDir(pattern: string): boolean {
  return !isDynamicPattern(dirPattern(pattern));
}
