/**
 * `neurolens render clips --layer L --channel C --out F.png|F.gif|F.mp4`: a video unit's top-k
 * clips (src/render/clip-topk.ts). PNG: one frame strip per clip, the argmax frame outlined, the
 * receptive-field box of the argmax position on it (thin boxes on the other frames it sees),
 * `--motion` adds a row with the clip's motion channels (flow in the Middlebury colours). GIF /
 * MP4 (by the extension, written by ffmpeg): the clips playing side by side (`--motion`: their
 * motion channels instead of the frames).
 */
import path from 'node:path';
import type { Command } from 'commander';
import { BACKEND_CHOICES, setupBackend, type BackendChoice } from '../model/backend.js';
import { animateClips, animationFormat } from '../render/animation.js';
import { clipTopk, clipTopkStripPng } from '../render/clip-topk.js';
import { Store } from '../storage/store.js';
import { MODEL_NAME_HELP, intOption, modelNameOption } from './options.js';
import { writeOutput, type OutputSink } from './write-output.js';

interface RenderClipsCliOptions {
  layer: string;
  channel: number;
  out: string;
  step?: number;
  store: string;
  k: number;
  dataset?: string;
  model?: string;
  modelDir?: string;
  motion?: boolean;
  cell?: number;
  columns?: number;
  fps: number;
  backend: BackendChoice;
  json?: boolean;
}

/** 'png' | 'gif' | 'mp4' by the extension of --out. */
export function pictureKind(out: string): 'png' | 'gif' | 'mp4' {
  const ext = path.extname(out).toLowerCase();
  return ext === '.gif' ? 'gif' : ext === '.mp4' ? 'mp4' : 'png';
}

export function registerRenderClips(render: Command, sink: OutputSink = process.stdout): void {
  render
    .command('clips')
    .description("draw a video unit's top-k clips: frame strips with the argmax frame and receptive field marked (PNG), or an animated grid (GIF/MP4 by the extension)")
    .requiredOption('--layer <name>', 'layer name')
    .requiredOption('--channel <n>', 'neuron (channel) index', intOption('--channel', 0))
    .requiredOption('--out <file>', 'F.png (frame strips), F.gif or F.mp4 (animation)')
    .option('--step <n>', 'checkpoint step (default: the latest)', intOption('--step', 0))
    .option('--store <dir>', 'store directory', 'store')
    .option('--k <n>', 'clips to show', intOption('--k'), 8)
    .option('--dataset <name>', 'dataset (when the store holds several)')
    .option('--model <name>', MODEL_NAME_HELP, modelNameOption)
    .option('--model-dir <dir>', "model directory for the receptive field (default: the run's checkpoint at the step)")
    .option('--motion', 'PNG: add a row with each clip\'s motion channels (flow colours); GIF/MP4: play the motion instead of the frames')
    .option('--cell <px>', 'longest side of a frame cell (default 64 in strips, 128 in animations)', intOption('--cell', 8))
    .option('--columns <n>', 'animations: clips per row (default: square grid)', intOption('--columns'))
    .option('--fps <n>', 'animations: frames per second', intOption('--fps'), 4)
    .option('--backend <name>', `tfjs backend (to load the model): ${BACKEND_CHOICES.join('|')}`, 'auto')
    .option('--json', 'print what was drawn as JSON')
    .action(async (o: RenderClipsCliOptions) => {
      const kind = pictureKind(o.out);
      await setupBackend(o.backend);
      const store = await Store.open(o.store, { readOnly: true });
      let info: Record<string, unknown>;
      try {
        const t = await clipTopk(store, { layer: o.layer, channel: o.channel, step: o.step, k: o.k, dataset: o.dataset, model: o.model, modelDir: o.modelDir, motion: o.motion });
        const hasMotion = t.items.some((c) => c.motion);
        // Short: strips fit the title to their width (four 64 px cells hold ~60 characters).
        const title = `${o.layer} ch ${o.channel} step ${t.step}: top ${t.rows.length}, RF ${t.field.size.join('x')} px${t.time ? ` x ${t.time.size} fr` : ''}`;
        let size: { width: number; height: number };
        let frames: number | null = null;
        if (kind === 'png') {
          const { png, layout } = await clipTopkStripPng(t, { cellSize: o.cell, title });
          await writeOutput(png, { out: o.out, what: 'PNG' }, sink);
          size = { width: layout.width, height: layout.height };
        } else {
          const layout = await animateClips(o.out, t.items, { cellSize: o.cell, columns: o.columns, fps: o.fps, format: animationFormat(o.out), title, content: o.motion && hasMotion ? 'motion' : 'frames' });
          size = { width: layout.width, height: layout.height };
          frames = layout.frames;
        }
        const f = t.field;
        info = {
          out: o.out,
          format: kind,
          dataset: t.dataset,
          model: t.model,
          step: t.step,
          layer: o.layer,
          channel: o.channel,
          modelDir: t.modelDir,
          receptiveField: { size: f.size, jump: f.jump, start: f.start, global: f.global ?? false, time: t.time },
          input: t.input,
          motion: hasMotion,
          ...size,
          ...(frames === null ? {} : { frames, fps: o.fps }),
          clips: t.rows.map((r) => ({ rank: r.rank, sampleId: r.sampleId, value: r.value, label: r.label, uri: r.uri, start: r.start, stride: r.stride, argmax: r.argmax, argmaxFrame: r.argmaxFrame, frames: r.frames?.clipped ?? null, box: r.box ? { top: r.box.top, left: r.box.left, bottom: r.box.bottom, right: r.box.right } : null })),
        };
      } finally {
        store.dispose();
      }
      if (o.json) sink.write(`${JSON.stringify(info)}\n`);
      else sink.write(`${o.out}: top ${(info.clips as unknown[]).length} clips of ${o.layer} channel ${o.channel} at step ${String(info.step)} (${kind.toUpperCase()}, ${String(info.width)}x${String(info.height)} px${info.frames ? `, ${String(info.frames)} frames` : ''})\n`);
    });
}
