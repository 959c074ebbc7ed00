import type { Command } from 'commander';
import { startQueueWorker, type WorkerEvent } from '../queue/worker.js';
import { intOption } from './options.js';

/**
 * `neurolens worker --queue URL`: processes shard, finalize and run jobs until SIGTERM / SIGINT
 * (then finishes the running jobs and exits 0). The store path in each job must be the same
 * directory on every worker machine (a shared filesystem: NFS, a Kubernetes RWX volume, ...).
 */
export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('process queued shard jobs (scale-out on BullMQ; see `run --queue`)')
    .requiredOption('--queue <url>', 'redis://host:port[/db]')
    .option('--concurrency <n>', 'jobs at once, each in its own processor thread', intOption('--concurrency'), 1)
    .option('--workers <n>', 'infer worker threads per job (default: cores / concurrency)', intOption('--workers'))
    .option('--lock-duration <ms>', 'job lock duration: a dead worker\'s jobs are re-run after about this long (default 30000)', intOption('--lock-duration'))
    .option('--stalled-interval <ms>', 'how often to look for stalled jobs (default: lock duration)', intOption('--stalled-interval'))
    .option('--json', 'NDJSON events on stdout')
    .action(async (o: { queue: string; concurrency: number; workers?: number; lockDuration?: number; stalledInterval?: number; json?: boolean }) => {
      const print = (e: WorkerEvent) => {
        if (o.json) process.stdout.write(JSON.stringify({ time: new Date().toISOString(), ...e }) + '\n');
        else {
          const what = 'job' in e ? `${e.job}` : '';
          const extra = e.event === 'failed' ? ` (attempt ${e.attempts}): ${e.reason}` : e.event === 'error' ? `: ${e.reason}` : e.event === 'ready' ? ` concurrency ${e.concurrency}, ${e.infer_workers} infer worker(s) per job` : '';
          process.stderr.write(`${new Date().toISOString()} ${e.worker} ${e.event} ${what}${extra}\n`);
        }
      };
      const worker = await startQueueWorker({
        queue: o.queue,
        concurrency: o.concurrency,
        inferWorkers: o.workers,
        lockDuration: o.lockDuration,
        stalledInterval: o.stalledInterval,
        onEvent: print,
      });
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGTERM', stop);
          process.off('SIGINT', stop);
          // Graceful: running jobs finish (or, on a second signal, the process just dies and the
          // jobs stall and are re-run elsewhere; the commit protocol keeps that safe).
          process.once('SIGTERM', () => process.exit(143));
          process.once('SIGINT', () => process.exit(130));
          void worker.close().then(resolve, resolve);
        };
        process.on('SIGTERM', stop);
        process.on('SIGINT', stop);
      });
    });
}
