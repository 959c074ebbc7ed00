/**
 * `neurolens render <picture>`: the CNN-visualization pictures, one subcommand per picture, each
 * registered by its own file (src/cli/render-*.ts) and writing a PNG (and `--json` metadata); the
 * clip pictures (clips, clip-attribution) also write GIF/MP4 animations by the extension.
 */
import type { Command } from 'commander';
import { registerActmax } from './render-actmax.js';
import { registerActmaxClip } from './render-actmax-clip.js';
import { registerActivations } from './render-activations.js';
import { registerClipAttribution } from './render-clip-attribution.js';
import { registerRenderClips } from './render-clips.js';
import { registerExplain } from './render-explain.js';
import { registerFilters } from './render-filters.js';
import { registerRenderMosaic } from './render-mosaic.js';
import { registerScatter, registerTsneGrid } from './render-tsne-grid.js';

export function registerRender(program: Command): Command {
  const render = program.command('render').description('draw CNN-visualization pictures as PNG files');
  registerFilters(render);
  registerActivations(render);
  registerRenderMosaic(render);
  registerExplain(render);
  registerActmax(render);
  registerTsneGrid(render);
  registerScatter(render);
  registerRenderClips(render);
  registerActmaxClip(render);
  registerClipAttribution(render);
  return render;
}
