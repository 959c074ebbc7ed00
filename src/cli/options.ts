import { statSync } from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { NeurolensError } from '../errors.js';
import { BACKEND_CHOICES } from '../model/backend.js';

/** Commander parser for a positive integer option, with the option named in the error. */
export function intOption(name: string, min = 1) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name}: expected an integer >= ${min}, got '${v}'`);
    return n;
  };
}

/** Commander parser for a finite number option accepted by `ok` (`what` names it in the error). */
export function numberOption(name: string, ok: (v: number) => boolean = () => true, what = 'a number') {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || !ok(n)) throw new InvalidArgumentError(`${name}: expected ${what}, got '${v}'`);
    return n;
  };
}

/** Commander parser for a fraction in [0, 1] (a rate or share), e.g. `--max-error-rate 0.05`. */
export function fraction(name: string) {
  return numberOption(name, (v) => v >= 0 && v <= 1, 'a fraction between 0 and 1');
}

/**
 * The options `neurolens run` and `neurolens watch` share, declared once so both parse them alike:
 * --limit, --workers, --decode-workers, --backend (default auto), --store, --max-error-rate.
 * `perRun`: the command starts several runs (watch), so the worker counts say "per run".
 */
export function addRunOptions(cmd: Command, o: { perRun?: boolean } = {}): Command {
  const per = o.perRun ? ' per run' : '';
  return cmd
    .option('--limit <n>', 'only the first N samples', intOption('--limit'))
    .option('--workers <n>', `inference workers${per} (default: cores)`, intOption('--workers'))
    .option('--decode-workers <n>', `decode workers${per}`, intOption('--decode-workers'))
    .option('--backend <name>', `${BACKEND_CHOICES.join('|')}`, 'auto')
    .option('--store <dir>', "override the spec's store directory")
    .option('--max-error-rate <r>', 'stop when more than this fraction of samples fail (default: spec, 0.01)', fraction('--max-error-rate'));
}

/** Commander parser for a comma-separated list of finite numbers, each accepted by `ok`. */
export function listOption(name: string, ok: (v: number) => boolean, what: string) {
  return (v: string): number[] => {
    const parts = v.split(',').map((s) => s.trim());
    const nums = parts.map(Number);
    if (parts.some((p) => p === '') || nums.some((n) => !Number.isFinite(n) || !ok(n))) throw new InvalidArgumentError(`${name}: expected comma-separated ${what}, got '${v}'`);
    return nums;
  };
}

/** Commander parser for one of a fixed set of values. */
export function choice<T extends string>(name: string, values: readonly T[]) {
  return (v: string): T => {
    if (!values.includes(v as T)) throw new InvalidArgumentError(`${name}: expected ${values.join('|')}, got '${v}'`);
    return v as T;
  };
}

/** `--shard i/N` -> { index: i, count: N } with 0 <= i < N. */
export function parseShardOption(v: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(v);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index >= count) throw new InvalidArgumentError(`--shard: expected i/N with 0 <= i < N (e.g. 0/4), got '${v}'`);
  return { index, count };
}

/**
 * `--model NAME`: always a model name in the store (the `model` partition; spec names are letters,
 * digits, '.', '_', '-'). A TF.js model directory is `--model-dir DIR`; a value that is an
 * existing directory or a path is refused with the flag to use instead, so the old meaning of
 * `--model DIR` in some render commands cannot silently select nothing.
 */
export function modelNameOption(v: string): string {
  let isDir = false;
  try {
    isDir = statSync(v).isDirectory();
  } catch {
    // not a path on disk: a name
  }
  if (isDir || v.includes('/') || v.includes(path.sep)) {
    throw new NeurolensError('BAD_SPEC', `--model ${v}: --model is a model name in the store; use --model-dir ${v}`);
  }
  return v;
}

export const MODEL_NAME_HELP = 'model name in the store (when it holds several); a TF.js model directory is --model-dir';
