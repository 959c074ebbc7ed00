/**
 * Run records: `<store>/runs/<run_id>.json` (spec, versions, backend, timings, counts, status),
 * rewritten atomically as a run progresses, so a reader sees the previous or the next record,
 * never half of one. The `runs` view reads them (catalog.ts).
 */
import { randomBytes } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { NeurolensError, errorMessage } from '../errors.js';
import { writeFileAtomic } from './atomic.js';
import { RUNS_DIR } from './layout.js';

export type RunStatus = 'running' | 'succeeded' | 'failed' | 'interrupted';

export interface RunRecord {
  run_id: string;
  status: RunStatus;
  /** ISO 8601 times. */
  started_at: string;
  finished_at?: string;
  /** The validated pipeline spec. */
  spec: unknown;
  /** Package versions (neurolens, tfjs, duckdb, node, ...). */
  versions: Record<string, string>;
  backend?: string;
  /** Seconds per stage or phase. */
  timings?: Record<string, number>;
  /** samples, shards, errors, rows ... */
  counts?: Record<string, number>;
  /** Message of the error that ended a failed run. */
  error?: string;
  /**
   * The checkpoint directories the run reads (absolute), written with the first record: pictures
   * find the model a step's statistics came from here, whatever glob selected it
   * (src/model/run-checkpoint.ts). Absent from records written before it existed.
   */
  checkpoints?: { step: number; dir: string }[];
}

const RUN_ID = /^\d{8}T\d{9}Z-[0-9a-f]{6}$/;

/**
 * A time-sortable run id, `20251128T025800123Z-3fa9c1` (UTC to the millisecond, then random
 * hex so concurrent starts differ): lexicographic order is start order.
 */
export function newRunId(now: Date = new Date()): string {
  const stamp = now.toISOString().replace(/[-:.]/g, ''); // 20251128T025800123Z
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

export function isRunId(id: string): boolean {
  return RUN_ID.test(id);
}

function runFile(store: string, runId: string): string {
  if (!isRunId(runId)) throw new NeurolensError('BAD_SPEC', `not a run id: ${JSON.stringify(runId)}`);
  return path.join(path.resolve(store), RUNS_DIR, `${runId}.json`);
}

export async function writeRun(store: string, record: RunRecord): Promise<void> {
  await writeFileAtomic(runFile(store, record.run_id), `${JSON.stringify(record, null, 1)}\n`);
}

export async function readRun(store: string, runId: string): Promise<RunRecord> {
  const file = runFile(store, runId);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'NOT_FOUND' : 'IO';
    throw new NeurolensError(code, `cannot read run ${runId} (${file}): ${errorMessage(e)}`, { cause: e });
  }
  try {
    return JSON.parse(text) as RunRecord;
  } catch (e) {
    throw new NeurolensError('IO', `run record ${file} is not valid JSON: ${errorMessage(e)}`, { cause: e });
  }
}

/** Run ids of the store, oldest first. */
export async function listRunIds(store: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(path.join(path.resolve(store), RUNS_DIR));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new NeurolensError('IO', `cannot list runs of ${store}: ${errorMessage(e)}`, { cause: e });
  }
  return names
    .filter((n) => n.endsWith('.json'))
    .map((n) => n.slice(0, -5))
    .filter(isRunId)
    .sort();
}
