import { InvalidArgumentError } from 'commander';

/** Commander parser for a positive integer option, with the option named in the error. */
export function intOption(name: string, min = 1) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name}: expected an integer >= ${min}, got '${v}'`);
    return n;
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
