/**
 * `neurolens watch SPEC`: scheduled runs over a training job's checkpoints (src/watch/). Exit
 * codes: 0 when it stops by --once, --timeout or SIGTERM/SIGINT (a run in progress is
 * interrupted and resumes on restart); 2 for bad options, another live watch on the same store
 * and spec, or a spec file that changed under the watch; otherwise the code of the error that
 * stopped it (9 I/O such as a full disk, 3 bad data, 7 error budget, 8 backend).
 */
import type { Command } from 'commander';
import { NeurolensError, errorMessage, isNeurolensError } from '../errors.js';
import type { BackendChoice } from '../model/backend.js';
import { defaultProgressMode } from '../pipeline/progress.js';
import { Reporter, Watcher, parseDuration } from '../watch/index.js';
import { addRunOptions } from './options.js';

interface WatchCliOptions {
  queue?: string;
  every?: string;
  cron?: string;
  once?: boolean;
  timeout?: string;
  settle?: string;
  checkpoints?: string;
  webhook?: string;
  json?: boolean;
  store?: string;
  limit?: number;
  workers?: number;
  decodeWorkers?: number;
  backend: BackendChoice;
  maxErrorRate?: number;
}

function webhookUrl(v: string): string {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new NeurolensError('BAD_SPEC', `--webhook: '${v}' is not a URL (expected http://host[:port]/path or https://...)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new NeurolensError('BAD_SPEC', `--webhook: only http and https URLs are POSTed to, got '${v}'`);
  return u.toString();
}

/** Resolves once stdout and stderr have flushed (process.exit does not wait for pipes). */
const flush = () => Promise.all([process.stdout, process.stderr].map((s) => new Promise<void>((r) => s.write('', () => r()))));

export function registerWatch(program: Command): void {
  const cmd = program
    .command('watch')
    .description("analyse each new complete checkpoint of a training run once, on a schedule (runs never overlap; one watch per store and spec)")
    .argument('<pipeline>', 'pipeline spec (YAML)')
    .option('--every <duration>', 'poll period: 500ms, 30s, 10m, 1h (default 30s)')
    .option('--cron <expr>', 'poll on a cron schedule instead, e.g. "*/10 * * * *" (local time)')
    .option('--once', 'one pass: analyse the complete checkpoints not analysed yet, then exit (for cron)')
    .option('--timeout <duration>', 'stop after this long (a run in progress finishes first)')
    .option('--settle <duration>', 'a directory must be unchanged this long to count as written (default: min(period, 5s))')
    .option('--checkpoints <glob>', "override the spec's checkpoint glob (relative to the spec's directory, as in run)")
    .option('--webhook <url>', 'POST each checkpoint and error event (JSON) to this URL; failures are logged, never fatal')
    .option('--json', 'NDJSON events on stdout');
  // --store, --limit, --workers, --decode-workers, --backend, --max-error-rate: shared with `run`.
  addRunOptions(cmd, { perRun: true })
    .option('--queue <url>', 'redis://host:port[/db]: send each checkpoint to BullMQ workers (neurolens worker) instead of running it here')
    .action(async (file: string, o: WatchCliOptions) => {
      if (o.every !== undefined && o.cron !== undefined) throw new NeurolensError('BAD_SPEC', '--every and --cron: give one schedule, not both');
      const everyMs = o.cron === undefined ? parseDuration(o.every ?? '30s', '--every') : undefined;
      const timeoutMs = o.timeout !== undefined ? parseDuration(o.timeout, '--timeout') : undefined;
      const settleMs = o.settle !== undefined ? parseDuration(o.settle, '--settle') : undefined;
      const reporter = new Reporter({ json: !!o.json, webhook: o.webhook !== undefined ? webhookUrl(o.webhook) : undefined });
      const ac = new AbortController();
      const watcher = await Watcher.open({
        specFile: file,
        checkpoints: o.checkpoints,
        everyMs,
        cron: o.cron,
        once: o.once,
        timeoutMs,
        settleMs,
        queue: o.queue,
        run: {
          limit: o.limit,
          workers: o.workers,
          decodeWorkers: o.decodeWorkers,
          backend: o.backend,
          store: o.store,
          maxErrorRate: o.maxErrorRate,
          progress: o.json ? 'silent' : defaultProgressMode(false),
        },
        reporter,
        signal: ac.signal,
      });
      // SIGTERM (systemd stop) / SIGINT: between runs the loop ends at once; during a run the
      // process exits now: committed shards stay, the checkpoint resumes on restart. A second
      // signal exits at once.
      const onSignal = (sig: NodeJS.Signals) => {
        if (ac.signal.aborted) {
          watcher.lock.releaseSync();
          process.exit(sig === 'SIGINT' ? 130 : 143);
        }
        ac.abort();
        const busy = watcher.busy;
        if (!busy) return;
        void (async () => {
          await reporter.emit({ event: 'stopped', reason: 'signal', ...snake(watcher.counters()), interrupted: busy, message: `${sig} during step ${busy.step}` });
          watcher.lock.releaseSync();
          await flush();
          process.exit(0);
        })();
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      try {
        const r = await watcher.run();
        await reporter.emit({ event: 'stopped', reason: r.reason, ...snake(r) });
      } catch (e) {
        await reporter.emit({ event: 'stopped', reason: 'error', ...snake(watcher.counters()), ...(watcher.busy ? { interrupted: watcher.busy } : {}), message: isNeurolensError(e) ? e.message : errorMessage(e) });
        throw e;
      } finally {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
        await watcher.lock.release();
      }
    });
}

function snake(c: { analysed: number; errors: number; ticks: number; ticksSkipped: number }) {
  return { analysed: c.analysed, errors: c.errors, ticks: c.ticks, ticks_skipped: c.ticksSkipped };
}
