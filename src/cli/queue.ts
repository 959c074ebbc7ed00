import type { Command } from 'commander';
import { formatQueueStatus, queueStatus } from '../queue/status.js';

/** `neurolens queue status URL [--run KEY] [--json]`. */
export function registerQueue(program: Command): void {
  const queue = program.command('queue').description('inspect the BullMQ scale-out queue');
  queue
    .command('status')
    .description('per run: waiting / active / completed / failed shards, throughput, ETA, which worker holds what')
    .argument('<url>', 'redis://host:port[/db]')
    .option('--run <key>', 'only this run key (dataset|model|store hash)')
    .option('--json', 'machine-readable output')
    .action(async (url: string, o: { run?: string; json?: boolean }) => {
      const s = await queueStatus(url, o.run);
      process.stdout.write((o.json ? JSON.stringify(s) : formatQueueStatus(s)) + '\n');
    });
}
