/**
 * `neurolens render <picture>`: the CNN-visualization pictures, one subcommand per picture, each
 * registered by its own file (src/cli/render-*.ts) and writing a PNG (and `--json` metadata).
 */
import type { Command } from 'commander';
import { registerActmax } from './render-actmax.js';

export function registerRender(program: Command): Command {
  const render = program.command('render').description('draw CNN-visualization pictures as PNG files');
  registerActmax(render);
  return render;
}
