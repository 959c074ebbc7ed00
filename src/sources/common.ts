/** Small helpers the dataset sources share: path checks, id ranges, class-name lookup. */
import { stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { NeurolensError, errorMessage } from '../errors.js';

export interface OpenOptions {
  /**
   * Class names from the pipeline spec (`dataset.classes`), in the model's output order. When
   * given, folder names and manifest label names map to their index in this list (not to sorted
   * order), and integer labels must be below its length.
   */
  classes?: string[];
  /**
   * Video clips: frames a clip needs after its last input frame (1 when the model takes motion
   * channels: the motion of frame t uses frame t + 1), so clip starts leave room for them.
   */
  extraFrames?: number;
}

/** Throws NOT_FOUND unless 0 <= start <= end <= size. */
export function checkRange(what: string, size: number, start: number, end: number): void {
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end < start || end > size) {
    throw new NeurolensError('NOT_FOUND', `${what}: sample range [${start}, ${end}) is outside [0, ${size})`);
  }
}

/** stat() a path the user gave, turning failures into BAD_INPUT errors that name it and the field. */
export async function statInput(path: string, field: string, want: 'file' | 'directory'): Promise<Stats> {
  let st: Stats;
  try {
    st = await stat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : `cannot be read (${errorMessage(e)})`;
    throw new NeurolensError('BAD_INPUT', `${field} ${path} ${why}`, { cause: e });
  }
  if (want === 'file' && !st.isFile()) throw new NeurolensError('BAD_INPUT', `${field} ${path} is not a regular file`);
  if (want === 'directory' && !st.isDirectory()) throw new NeurolensError('BAD_INPUT', `${field} ${path} is not a directory`);
  return st;
}

/** Code-unit string order: the same on every machine and locale (unlike localeCompare). */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Maps class names to indices: the spec's `classes` when given (order = model output order),
 * else the sorted distinct names. `where(name)` names the place a name came from, for errors.
 */
export function classIndex(
  names: Iterable<string>,
  given: string[] | undefined,
  where: (name: string) => string,
): { classes: string[]; index: Map<string, number> } {
  if (given) {
    const index = new Map(given.map((c, i) => [c, i] as const));
    for (const n of names) {
      if (!index.has(n)) {
        throw new NeurolensError(
          'BAD_INPUT',
          `${where(n)}: class '${n}' is not in the spec's dataset.classes (${given.join(', ')})`,
        );
      }
    }
    return { classes: [...given], index };
  }
  const classes = [...new Set(names)].sort(compareCodeUnits);
  return { classes, index: new Map(classes.map((c, i) => [c, i] as const)) };
}
