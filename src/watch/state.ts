/**
 * What a watch has analysed: `<store>/_watch/<model>@<dataset>.state.json`, replaced atomically
 * after each checkpoint. A restarted watch skips these directories, so each checkpoint is analysed
 * once (finalize and embeddings are not redone); an interrupted checkpoint is not listed, and
 * its re-run skips the shards already committed (resume).
 */
import { readFile } from 'node:fs/promises';
import { NeurolensError, errorMessage } from '../errors.js';
import { writeFileAtomic } from '../storage/atomic.js';

export interface AnalysedCheckpoint {
  step: number;
  dir: string;
  run_id: string;
  at: string;
}

export class WatchState {
  private constructor(
    readonly file: string,
    private readonly byDir: Map<string, AnalysedCheckpoint>,
  ) {}

  static async load(file: string): Promise<WatchState> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new WatchState(file, new Map());
      throw new NeurolensError('IO', `cannot read the watch state ${file}: ${errorMessage(e)}`, { cause: e });
    }
    let list: AnalysedCheckpoint[];
    try {
      list = (JSON.parse(text) as { analysed: AnalysedCheckpoint[] }).analysed;
      if (!Array.isArray(list)) throw new Error("no 'analysed' list");
    } catch (e) {
      throw new NeurolensError('IO', `${file}: not a watch state file (${errorMessage(e)}); delete it to re-analyse every checkpoint (committed shards are still skipped)`, { cause: e });
    }
    return new WatchState(file, new Map(list.map((a) => [a.dir, a])));
  }

  get(dir: string): AnalysedCheckpoint | undefined {
    return this.byDir.get(dir);
  }

  /** The analysed directory that has this step, if any. */
  byStep(step: number): AnalysedCheckpoint | undefined {
    for (const a of this.byDir.values()) if (a.step === step) return a;
    return undefined;
  }

  get size(): number {
    return this.byDir.size;
  }

  async add(a: AnalysedCheckpoint): Promise<void> {
    this.byDir.set(a.dir, a);
    const analysed = [...this.byDir.values()].sort((x, y) => x.step - y.step);
    await writeFileAtomic(this.file, JSON.stringify({ analysed }, null, 2) + '\n');
  }
}
