import os from 'node:os';
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import type { Command } from 'commander';
import { BACKEND_CHOICES, setupBackend, type BackendChoice } from '../model/backend.js';
import { tfc } from '../model/tf.js';

const require = createRequire(import.meta.url);

function version(pkg: string): string | null {
  try {
    return (require(`${pkg}/package.json`) as { version: string }).version;
  } catch {
    return null;
  }
}

function tool(cmd: string, args: string[]): string | null {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error || r.status !== 0) return null;
  return (r.stdout || r.stderr).split('\n')[0].trim();
}

/** `neurolens doctor`: which backend is active and why, versions, cores, missing optional pieces. */
export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('report the active tfjs backend and why, versions, cores, and optional pieces that are missing')
    .option('--backend <name>', `backend to try: ${BACKEND_CHOICES.join('|')}`, 'auto')
    .option('--json', 'machine-readable output')
    .action(async (opts: { backend: BackendChoice; json?: boolean }) => {
      const info = await setupBackend(opts.backend);
      const wasmKernels = new Set(tfc.getKernelsForBackend('wasm').map((k) => k.kernelName));
      const packages = Object.fromEntries(
        [
          '@tensorflow/tfjs-core',
          '@tensorflow/tfjs-backend-wasm',
          '@tensorflow/tfjs-backend-cpu',
          '@tensorflow/tfjs-node',
          '@tensorflow/tfjs-node-gpu',
          '@duckdb/node-api',
          'apache-arrow',
          'parquet-wasm',
          'piscina',
          'sharp',
          'bullmq',
        ].map((p) => [p, version(p)]),
      );
      const tools = {
        ffmpeg: tool('ffmpeg', ['-version']),
        'redis-server': tool('redis-server', ['--version']),
      };
      const missing: string[] = [];
      if (!packages['@tensorflow/tfjs-node'] && !packages['@tensorflow/tfjs-node-gpu']) {
        missing.push('native TensorFlow backend: `npm i @tensorflow/tfjs-node` (CPU) or `@tensorflow/tfjs-node-gpu` (CUDA); needs to download libtensorflow at install');
      }
      if (!tools.ffmpeg) missing.push('ffmpeg (video clips): `apt-get install -y ffmpeg`');
      if (!tools['redis-server']) missing.push('redis-server (scale-out with BullMQ): `apt-get install -y redis-server`');
      const report = {
        backend: info,
        node: process.version,
        platform: `${process.platform}-${process.arch}`,
        cores: os.availableParallelism(),
        memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
        wasmGradientKernels: ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter', 'FFT', 'IFFT'].filter((k) => wasmKernels.has(k)),
        packages,
        tools,
        missing,
      };
      if (opts.json) {
        process.stdout.write(JSON.stringify(report, null, 2) + '\n');
        return;
      }
      const lines = [
        `backend: ${info.name} (${info.package} ${info.version})${info.simd !== undefined ? ` simd=${info.simd} threads=${info.threads}` : ''}`,
        ...info.reasons.map((r) => `  - ${r}`),
        `node ${report.node} on ${report.platform}, ${report.cores} cores, ${report.memoryGiB} GiB`,
        `wasm gradient kernels registered: ${report.wasmGradientKernels.join(', ') || 'none'}`,
        'packages:',
        ...Object.entries(packages).map(([k, v]) => `  ${k}: ${v ?? 'not installed'}`),
        'tools:',
        ...Object.entries(tools).map(([k, v]) => `  ${k}: ${v ?? 'not found'}`),
        missing.length ? 'missing (optional):' : 'nothing optional is missing',
        ...missing.map((m) => `  - ${m}`),
      ];
      process.stdout.write(lines.join('\n') + '\n');
    });
}
