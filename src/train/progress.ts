/**
 * Renders training events: a bar on a TTY, plain lines otherwise (CI logs), NDJSON on stdout with
 * --json. Called synchronously from the training loop (the wasm kernels block the event loop, so
 * timers would not fire); rendering is throttled by wall time.
 */
import cliProgress from 'cli-progress';
import type { TrainEvent, TrainSummary } from './loop.js';

export type TrainProgressMode = 'bar' | 'lines' | 'json' | 'silent';

/** Seconds as `42s` or `3m07s`; `?` when unknown (not finite). */
export function fmtEta(sec: number): string {
  if (!Number.isFinite(sec)) return '?';
  const s = Math.round(sec);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

export class TrainProgress {
  private bar: cliProgress.SingleBar | null = null;
  private lastRender = 0;

  constructor(
    private readonly mode: TrainProgressMode,
    private readonly intervalMs = mode === 'lines' ? 10_000 : mode === 'json' ? 2_000 : 200,
    /** What is trained on what, for the first line. */
    private readonly what = { model: 'demo CNN', samples: 'Fashion-MNIST images', unit: 'img/s' },
  ) {}

  readonly onEvent = (e: TrainEvent): void => {
    if (this.mode === 'silent') return;
    if (this.mode === 'json') {
      if (e.type !== 'step' || this.due()) process.stdout.write(JSON.stringify(e) + '\n');
      return;
    }
    if (e.type === 'start') {
      process.stderr.write(
        `training ${this.what.model} on ${e.trainSamples} ${this.what.samples} (${e.backend}): ${e.totalSteps} steps, ${e.stepsPerEpoch}/epoch, checkpoint every ${e.checkpointEvery}\n`,
      );
      if (this.mode === 'bar') {
        this.bar = new cliProgress.SingleBar(
          { format: `step {value}/{total} |{bar}| loss {loss} {ips} ${this.what.unit} ETA {eta_h}`, hideCursor: true, stream: process.stderr },
          cliProgress.Presets.shades_classic,
        );
        this.bar.start(e.totalSteps, 0, { loss: '-', ips: '-', eta_h: '?' });
      }
      return;
    }
    if (e.type === 'checkpoint') {
      const line = `checkpoint ${e.checkpoint}: epoch ${e.epoch.toFixed(2)} test accuracy ${e.test_accuracy.toFixed(4)} test loss ${e.test_loss.toFixed(4)}${e.loss !== null ? ` train loss ${e.loss.toFixed(4)} train accuracy ${e.train_accuracy!.toFixed(4)}` : ''}`;
      if (this.bar) {
        // Print above the bar: clear its line, write, redraw.
        process.stderr.write(`\r\x1b[K${line}\n`);
        this.bar.render();
      } else process.stderr.write(line + '\n');
      return;
    }
    const payload = { loss: e.loss.toFixed(4), ips: e.imagesPerSec.toFixed(0), eta_h: fmtEta(e.etaSec) };
    if (this.bar) {
      this.bar.update(e.step, payload);
      if (this.due()) this.bar.render();
    } else if (this.due() || e.step === e.totalSteps) {
      process.stderr.write(`step ${e.step}/${e.totalSteps} epoch ${e.epoch.toFixed(2)} loss ${payload.loss} ${payload.ips} ${this.what.unit} ETA ${payload.eta_h}\n`);
    }
  };

  private due(): boolean {
    const now = performance.now();
    if (now - this.lastRender < this.intervalMs) return false;
    this.lastRender = now;
    return true;
  }

  finish(s: TrainSummary): void {
    this.done(s, `done: ${s.checkpoints.length} checkpoints in ${s.out}, final test accuracy ${s.finalTestAccuracy.toFixed(4)}, ${s.seconds.toFixed(0)} s (${s.trainImagesPerSec.toFixed(0)} img/s training)`);
  }

  /** Ends the display: `summary` as NDJSON with --json, else `text` on stderr. */
  done(summary: object, text: string): void {
    this.bar?.stop();
    this.bar = null;
    if (this.mode === 'json') process.stdout.write(JSON.stringify({ type: 'summary', ...summary }) + '\n');
    else if (this.mode !== 'silent') process.stderr.write(text + '\n');
  }

  /** Stops the bar without a summary (on errors). */
  abort(): void {
    this.bar?.stop();
    this.bar = null;
  }
}
