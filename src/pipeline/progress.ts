import cliProgress from 'cli-progress';

export interface StageCounter {
  name: string;
  /** Items (samples) through this stage so far in this checkpoint. */
  done: number;
  total: number;
  /** Current depth of the queue in front of the stage, in items. */
  queue: () => number;
}

export type ProgressMode = 'bars' | 'lines' | 'json' | 'silent';

export function defaultProgressMode(json: boolean): ProgressMode {
  if (json) return 'json';
  return process.stderr.isTTY ? 'bars' : 'lines';
}

/**
 * Per-stage progress: items/s (over a sliding window), queue depth and ETA. Bars on a TTY,
 * periodic plain lines otherwise (CI logs), NDJSON events on stderr with --json so stdout
 * keeps only the final machine-readable summary.
 */
export class Progress {
  private stages: StageCounter[] = [];
  private history = new Map<string, { t: number; done: number }[]>();
  private timer: NodeJS.Timeout | null = null;
  private multibar: cliProgress.MultiBar | null = null;
  private bars = new Map<string, cliProgress.SingleBar>();
  private title = '';
  private startedAt = 0;

  constructor(
    private readonly mode: ProgressMode,
    private readonly intervalMs = mode === 'lines' ? 10_000 : mode === 'json' ? 2_000 : 250,
  ) {}

  start(title: string, stages: StageCounter[]): void {
    this.stop();
    this.title = title;
    this.stages = stages;
    this.startedAt = performance.now();
    this.history.clear();
    if (this.mode === 'silent') return;
    if (this.mode === 'bars') {
      this.multibar = new cliProgress.MultiBar(
        {
          format: '{stage} |{bar}| {value}/{total} {rate}/s queue {queue} ETA {eta_h}',
          hideCursor: true,
          clearOnComplete: false,
          stream: process.stderr,
        },
        cliProgress.Presets.shades_classic,
      );
      process.stderr.write(`${title}\n`);
      for (const s of stages) {
        this.bars.set(s.name, this.multibar.create(s.total, 0, { stage: s.name.padEnd(7), rate: '0', queue: 0, eta_h: '?' }));
      }
    } else if (this.mode === 'lines') {
      process.stderr.write(`${title}\n`);
    }
    this.timer = setInterval(() => this.render(), this.intervalMs);
    this.timer.unref();
  }

  /** items/s over the last ~10 s for a stage. */
  rate(s: StageCounter): number {
    const now = performance.now();
    const h = this.history.get(s.name) ?? [];
    h.push({ t: now, done: s.done });
    while (h.length > 2 && now - h[0].t > 10_000) h.shift();
    this.history.set(s.name, h);
    const first = h[0];
    const dt = (now - first.t) / 1000;
    return dt > 0 ? (s.done - first.done) / dt : 0;
  }

  render(final = false): void {
    const parts: string[] = [];
    for (const s of this.stages) {
      // The final line reports the average over the whole stage, not the last window.
      const rate = final ? s.done / Math.max((performance.now() - this.startedAt) / 1000, 1e-9) : this.rate(s);
      const eta = rate > 0 ? Math.max(0, (s.total - s.done) / rate) : null;
      if (this.mode === 'bars') {
        this.bars.get(s.name)?.update(s.done, {
          rate: rate.toFixed(1),
          queue: s.queue(),
          eta_h: eta === null ? '?' : formatSeconds(eta),
        });
      } else if (this.mode === 'json') {
        process.stderr.write(
          JSON.stringify({ event: 'progress', run: this.title, stage: s.name, done: s.done, total: s.total, rate: round(rate), queue: s.queue(), eta_s: eta === null ? null : round(eta), final }) + '\n',
        );
      } else if (this.mode === 'lines') {
        parts.push(`${s.name} ${s.done}/${s.total} ${rate.toFixed(1)}/s q=${s.queue()} eta=${eta === null ? '?' : formatSeconds(eta)}`);
      }
    }
    if (this.mode === 'lines' && parts.length) process.stderr.write(`  ${parts.join(' | ')}\n`);
  }

  stop(): void {
    if (this.timer) {
      clearInterval(this.timer);
      this.timer = null;
      this.render(true);
    }
    this.multibar?.stop();
    this.multibar = null;
    this.bars.clear();
  }
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  const sec = Math.round(s % 60);
  return m > 0 ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}
