/** The training metrics log: one JSON object per checkpoint in `<out>/metrics.jsonl`. */
import { appendFileSync, writeFileSync } from 'node:fs';

export interface MetricsRecord {
  step: number;
  /** Fractional epoch: step / steps per epoch. */
  epoch: number;
  /** Mean training loss over the steps since the previous checkpoint (null at step 0). */
  loss: number | null;
  /** Running top-1 accuracy on the training batches since the previous checkpoint (null at step 0). */
  train_accuracy: number | null;
  /** Top-1 accuracy and mean cross-entropy on the test split, with the checkpoint's weights. */
  test_accuracy: number;
  test_loss: number;
  test_samples: number;
  images_seen: number;
  /** Learning rate the schedule gives at this step. */
  learning_rate: number;
  elapsed_s: number;
  /** Checkpoint directory name (`ckpt-000300`). */
  checkpoint: string;
}

export class MetricsLog {
  private constructor(readonly path: string) {}

  /** Starts a fresh log (truncates an existing one: a run's metrics describe only its checkpoints). */
  static create(path: string): MetricsLog {
    writeFileSync(path, '');
    return new MetricsLog(path);
  }

  append(r: MetricsRecord): void {
    appendFileSync(this.path, JSON.stringify(r) + '\n');
  }
}
