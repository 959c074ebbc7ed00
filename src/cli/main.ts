/**
 * The `neurolens` command line. Parsing and exit codes live only in src/cli/: everything below
 * throws NeurolensError, and this file turns it into a message on stderr and an exit code.
 */
import { Command, CommanderError } from 'commander';
import { EXIT_CODES, isNeurolensError } from '../errors.js';
import { registerDoctor } from './doctor.js';
import { registerRun } from './run.js';
import { registerFinalize } from './finalize.js';
import { registerWorker } from './worker.js';
import { registerQueue } from './queue.js';
import { registerLayers } from './layers.js';
import { registerTrainDemo } from './train-demo.js';
import { registerTrainVideoDemo } from './train-video-demo.js';
import { registerDemo } from './demo.js';
import { registerQuery } from './query.js';
import { registerMosaic } from './mosaic.js';
import { registerServe } from './serve.js';
import { registerRender } from './render.js';
import { registerEmbed } from './embed.js';
import { registerOcclusionMap } from './occlusion-map.js';
import { registerMakeActions } from './make-actions.js';
import { registerWatch } from './watch.js';

const program = new Command();
program
  .name('neurolens')
  .description('What has this CNN learned? Dataset-scale neuron statistics, SQL and pictures for TF.js CNNs.')
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride();

registerDemo(program);
registerTrainDemo(program);
registerTrainVideoDemo(program);
registerRun(program);
registerWatch(program);
registerFinalize(program);
registerWorker(program);
registerQueue(program);
registerLayers(program);
registerQuery(program);
registerMosaic(program);
registerServe(program);
registerEmbed(program);
registerOcclusionMap(program);
registerMakeActions(program);
registerRender(program);
registerDoctor(program);

/** process.exit does not wait for a piped stdout/stderr: flush them first (else output is cut). */
async function exit(code: number): Promise<never> {
  await Promise.all([process.stdout, process.stderr].map((s) => new Promise<void>((r) => s.write('', () => r()))));
  process.exit(code);
}

try {
  await program.parseAsync(process.argv);
  // Worker pools and tfjs timers must not keep a finished command alive.
  await exit(Number(process.exitCode ?? 0));
} catch (e) {
  if (e instanceof CommanderError) {
    await exit(e.exitCode === 0 ? 0 : 2);
  }
  if (isNeurolensError(e)) {
    process.stderr.write(`neurolens: ${e.message}\n`);
    if (process.env.NEUROLENS_DEBUG && e.cause) process.stderr.write(`cause: ${String((e.cause as Error).stack ?? e.cause)}\n`);
    await exit(EXIT_CODES[e.code]);
  }
  process.stderr.write(`neurolens: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  await exit(EXIT_CODES.INTERNAL);
}
