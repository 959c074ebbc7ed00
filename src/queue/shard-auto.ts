/**
 * `--shard auto`: the static shard of this process from the scheduler's environment.
 *   Kubernetes Indexed Job: JOB_COMPLETION_INDEX (0-based); N from --shard-count or
 *     NEUROLENS_SHARD_COUNT (set it to the Job's `completions`, docs/scale-out/k8s-indexed-job.yaml).
 *   Slurm job array: SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN (so --array=1-8 works too);
 *     N from --shard-count or SLURM_ARRAY_TASK_COUNT.
 */
import { NeurolensError } from '../errors.js';

export function resolveAutoShard(env: NodeJS.ProcessEnv, shardCount?: number): { index: number; count: number; from: string } {
  const int = (name: string): number | undefined => {
    const v = env[name];
    if (v === undefined || v === '') return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new NeurolensError('BAD_SPEC', `--shard auto: ${name}=${JSON.stringify(v)} is not a non-negative integer`);
    return n;
  };
  let index: number | undefined;
  let count = shardCount;
  let from = '';
  if (int('JOB_COMPLETION_INDEX') !== undefined) {
    index = int('JOB_COMPLETION_INDEX');
    count ??= int('NEUROLENS_SHARD_COUNT');
    from = 'JOB_COMPLETION_INDEX';
  } else if (int('SLURM_ARRAY_TASK_ID') !== undefined) {
    index = int('SLURM_ARRAY_TASK_ID')! - (int('SLURM_ARRAY_TASK_MIN') ?? 0);
    count ??= int('SLURM_ARRAY_TASK_COUNT') ?? int('NEUROLENS_SHARD_COUNT');
    from = 'SLURM_ARRAY_TASK_ID';
  } else {
    throw new NeurolensError('BAD_SPEC', '--shard auto: neither JOB_COMPLETION_INDEX (Kubernetes Indexed Job) nor SLURM_ARRAY_TASK_ID (Slurm array) is set; use --shard i/N');
  }
  if (count === undefined) {
    throw new NeurolensError('BAD_SPEC', `--shard auto: ${from}=${index} but no shard count: pass --shard-count N (or set NEUROLENS_SHARD_COUNT${from.startsWith('SLURM') ? ' or SLURM_ARRAY_TASK_COUNT' : ''})`);
  }
  if (!(count >= 1) || index! < 0 || index! >= count) throw new NeurolensError('BAD_SPEC', `--shard auto: index ${index} from ${from} is not in [0, ${count})`);
  return { index: index!, count, from };
}
