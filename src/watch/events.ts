/**
 * What a watch reports. With --json every event is one JSON line on stdout (NDJSON); otherwise a
 * short human line. `checkpoint` and `error` events are also POSTed to --webhook as the same
 * JSON; a webhook that fails is logged on stderr with the reason and never stops the watch.
 */
import { errorMessage } from '../errors.js';

export type WatchEvent =
  | { event: 'start'; spec: string; spec_hash: string; store: string; checkpoints: string; schedule: string; pid: number; analysed_before: number }
  | { event: 'lock_takeover'; lock: string; previous_pid: number | null; previous_host: string | null; previous_started_at: string | null; reason: string }
  | { event: 'pending'; dir: string; state: 'incomplete' | 'settling'; reason: string }
  | { event: 'analyse'; step: number; dir: string; files: Record<string, number> }
  | { event: 'checkpoint'; step: number; dir: string; run_id: string; samples: number; errors: number; seconds: number; shards: number; skipped_shards: number; embeddings: number }
  | { event: 'error'; dir: string; code: string; reason: string }
  | { event: 'ticks_skipped'; count: number; total: number }
  | { event: 'stopped'; reason: 'once' | 'timeout' | 'signal' | 'error'; analysed: number; errors: number; ticks: number; ticks_skipped: number; interrupted?: { step: number; dir: string }; message?: string };

export interface ReporterOptions {
  json: boolean;
  webhook?: string;
  /** Per POST (default 10 s). */
  webhookTimeoutMs?: number;
  out?: NodeJS.WritableStream;
  err?: NodeJS.WritableStream;
}

export class Reporter {
  private readonly out: NodeJS.WritableStream;
  private readonly err: NodeJS.WritableStream;
  constructor(private readonly o: ReporterOptions) {
    this.out = o.out ?? process.stdout;
    this.err = o.err ?? process.stderr;
  }

  async emit(e: WatchEvent): Promise<void> {
    // The webhook first: whoever sees the line on stdout (and may stop the watch) knows the POST
    // has been answered (or has failed and been logged).
    if (this.o.webhook && (e.event === 'checkpoint' || e.event === 'error')) await this.post(e);
    if (this.o.json) this.out.write(JSON.stringify(e) + '\n');
    else {
      const line = humanLine(e);
      if (line) (e.event === 'error' || e.event === 'lock_takeover' ? this.err : this.out).write(line + '\n');
    }
    // Takeovers are worth a line on stderr in both modes: a previous watch died.
    if (this.o.json && e.event === 'lock_takeover') this.err.write(humanLine(e) + '\n');
  }

  /** Message on stderr (both modes). */
  warn(text: string): void {
    this.err.write(`neurolens watch: ${text}\n`);
  }

  private async post(e: WatchEvent): Promise<void> {
    const url = this.o.webhook!;
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(e),
        signal: AbortSignal.timeout(this.o.webhookTimeoutMs ?? 10_000),
      });
      // Drain the body so the connection is released.
      await res.arrayBuffer().catch(() => undefined);
      if (!res.ok) this.warn(`webhook ${url} answered HTTP ${res.status} ${res.statusText} for the ${e.event} event; the watch goes on`);
    } catch (err) {
      const cause = (err as { cause?: unknown }).cause;
      this.warn(`webhook ${url} failed for the ${e.event} event: ${errorMessage(err)}${cause ? ` (${errorMessage(cause)})` : ''}; the watch goes on`);
    }
  }
}

function humanLine(e: WatchEvent): string | null {
  switch (e.event) {
    case 'start':
      return `watching ${e.checkpoints} (${e.schedule}) for ${e.spec} into ${e.store}${e.analysed_before ? `; ${e.analysed_before} checkpoint(s) analysed before` : ''}`;
    case 'lock_takeover':
      return `neurolens watch: took over the stale lock ${e.lock}: ${e.reason}${e.previous_started_at ? ` (that watch started ${e.previous_started_at})` : ''}`;
    case 'pending':
      return `waiting for ${e.dir}: ${e.reason}`;
    case 'analyse':
      return `step ${e.step}: analysing ${e.dir}`;
    case 'checkpoint':
      return `step ${e.step}: ${e.dir} analysed by run ${e.run_id} in ${e.seconds}s (${e.samples} samples, ${e.errors} errors, ${e.shards} shard(s) run, ${e.skipped_shards} already committed)`;
    case 'error':
      return `neurolens watch: ${e.dir}: ${e.reason} [${e.code}]; watching the others`;
    case 'ticks_skipped':
      return `${e.count} tick(s) fell inside the run and were skipped (${e.total} so far)`;
    case 'stopped':
      return `watch stopped (${e.reason}${e.message ? `: ${e.message}` : ''}): ${e.analysed} checkpoint(s) analysed, ${e.errors} error(s), ${e.ticks} tick(s), ${e.ticks_skipped} skipped${e.interrupted ? `; step ${e.interrupted.step} (${e.interrupted.dir}) was interrupted and resumes on restart` : ''}`;
  }
}
