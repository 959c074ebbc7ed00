/**
 * `neurolens occlusion-map PIPELINE_OR_STORE --class C[,C...]`: coarse occlusion maps of every
 * sample for chosen classes, per checkpoint, into the store's `occlusion` table
 * (src/explain/occlusion-map.ts). Resumable: parts already written are skipped.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { BACKEND_CHOICES, setupBackend, type BackendChoice } from '../model/backend.js';
import { occlusionMap } from '../explain/occlusion-map.js';
import { OCCLUSION_DEFAULTS } from '../explain/occlusion.js';
import { intOption } from './options.js';
import type { OutputSink } from './write-output.js';

function classList(v: string): number[] {
  const parts = v.split(',').map((s) => s.trim());
  if (parts.some((p) => !/^\d+$/.test(p))) throw new InvalidArgumentError(`--class: expected class indices like 3 or 0,3,7, got '${v}'`);
  return parts.map(Number);
}

function numberOption(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${name}: expected a number, got '${v}'`);
    return n;
  };
}

interface OcclusionMapCliOptions {
  class: number[];
  patch: number;
  stride: number;
  fill: number;
  limit?: number;
  step?: number;
  batch?: number;
  resume: boolean;
  backend: BackendChoice;
  json?: boolean;
}

export function registerOcclusionMap(program: Command, sink: OutputSink = process.stdout): void {
  program
    .command('occlusion-map')
    .description('store a coarse occlusion map (drop in class probability per patch) of every sample, per checkpoint, in the `occlusion` table')
    .argument('<pipeline-or-store>', 'pipeline spec file, or a store directory (its newest run names the spec)')
    .requiredOption('--class <c,...>', 'class index (or a comma-separated list; all from the same forward passes)', classList)
    .option('--patch <px>', 'patch side', intOption('--patch'), OCCLUSION_DEFAULTS.patch)
    .option('--stride <px>', 'step between patches', intOption('--stride'), OCCLUSION_DEFAULTS.stride)
    .option('--fill <v>', 'value of hidden pixels, in model-input units', numberOption('--fill'), OCCLUSION_DEFAULTS.fill)
    .option('--limit <n>', 'only the first N samples', intOption('--limit'))
    .option('--step <n>', 'only this checkpoint step (default: every checkpoint)', intOption('--step', 0))
    .option('--batch <n>', 'occluded copies per forward pass (default: by input size)', intOption('--batch'))
    .option('--no-resume', 'recompute parts that already exist')
    .option('--backend <name>', `tfjs backend: ${BACKEND_CHOICES.join('|')}`, 'auto')
    .option('--json', 'print the summary as JSON')
    .action(async (from: string, o: OcclusionMapCliOptions) => {
      await setupBackend(o.backend);
      const s = await occlusionMap({ from, classes: o.class, patch: o.patch, stride: o.stride, fill: o.fill, limit: o.limit, step: o.step, batch: o.batch, resume: o.resume });
      if (o.json) {
        sink.write(`${JSON.stringify(s)}\n`);
        return;
      }
      for (const st of s.steps) {
        sink.write(`step ${st.step}: ${st.samples} samples in ${st.shards} shards (${st.skipped} done before), ${st.seconds.toFixed(1)} s${st.decodeErrors ? `, ${st.decodeErrors} not decodable` : ''}\n`);
      }
      sink.write(`${s.store}: occlusion maps ${s.grid[0]}x${s.grid[1]} (patch ${s.patch}, stride ${s.stride}) of classes ${s.classes.join(', ')} for ${s.dataset} / ${s.model}\n`);
    });
}
