import os from 'node:os';
import { createRequire } from 'node:module';
import { tfc } from './tf.js';
import { NeurolensError, errorMessage } from '../errors.js';
import { registerWasmGradientKernels } from './kernels/index.js';

export type BackendChoice = 'auto' | 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_CHOICES: BackendChoice[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

export interface BackendInfo {
  /** tfjs backend name now active: 'tensorflow' | 'wasm' | 'cpu'. */
  name: string;
  requested: BackendChoice;
  /** Why this backend was chosen, and why the ones before it were not. */
  reasons: string[];
  /** Package that provides it ('@tensorflow/tfjs-node-gpu', ...). */
  package: string;
  version: string;
  simd?: boolean;
  threads?: boolean;
}

const require = createRequire(import.meta.url);

function pkgVersion(name: string): string {
  try {
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/**
 * tfjs-node(-gpu) are optional peer dependencies: their install script downloads libtensorflow,
 * so they are only present where the user installed them. Importing one registers the
 * 'tensorflow' backend.
 */
async function tryNative(pkg: string, reasons: string[]): Promise<boolean> {
  try {
    await import(pkg);
    await tfc.setBackend('tensorflow');
    await tfc.ready();
    return true;
  } catch (e) {
    reasons.push(`${pkg}: not usable (${errorMessage(e).split('\n')[0]}); install it with \`npm i ${pkg}\``);
    return false;
  }
}

let active: BackendInfo | null = null;

/** Selects and initialises the tfjs backend; registers neurolens' extra kernels. Idempotent. */
export async function setupBackend(requested: BackendChoice = 'auto'): Promise<BackendInfo> {
  if (active && (active.requested === requested || requested === 'auto' || active.name === requested)) return active;
  if (!BACKEND_CHOICES.includes(requested)) {
    throw new NeurolensError('BAD_SPEC', `--backend: unknown backend '${requested}' (use ${BACKEND_CHOICES.join('|')})`);
  }
  const reasons: string[] = [];
  let info: BackendInfo | null = null;
  if (requested === 'auto' || requested === 'tensorflow') {
    for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
      if (await tryNative(pkg, reasons)) {
        reasons.push(`${pkg}: loaded`);
        info = { name: 'tensorflow', requested, reasons, package: pkg, version: pkgVersion(pkg) };
        break;
      }
    }
    if (!info && requested === 'tensorflow') {
      throw new NeurolensError('BACKEND', `--backend tensorflow: neither tfjs-node-gpu nor tfjs-node is installed.\n${reasons.join('\n')}`);
    }
  }
  if (!info && (requested === 'auto' || requested === 'wasm')) {
    try {
      registerWasmGradientKernels();
      await tfc.setBackend('wasm');
      await tfc.ready();
      reasons.push('wasm: embedded default (@tensorflow/tfjs-backend-wasm, shipped in npm), with neurolens gradient kernels');
      info = {
        name: 'wasm',
        requested,
        reasons,
        package: '@tensorflow/tfjs-backend-wasm',
        version: pkgVersion('@tensorflow/tfjs-backend-wasm'),
        simd: tfc.env().getBool('WASM_HAS_SIMD_SUPPORT'),
        threads: tfc.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT'),
      };
    } catch (e) {
      if (requested === 'wasm') throw new NeurolensError('BACKEND', `wasm backend failed to start: ${errorMessage(e)}`, { cause: e });
      reasons.push(`wasm: failed to start (${errorMessage(e)})`);
    }
  }
  if (!info) {
    await tfc.setBackend('cpu');
    await tfc.ready();
    reasons.push(requested === 'cpu' ? 'cpu: requested' : 'cpu: last resort (pure JavaScript, ~20x slower than wasm)');
    info = { name: 'cpu', requested, reasons, package: '@tensorflow/tfjs-backend-cpu', version: pkgVersion('@tensorflow/tfjs-backend-cpu') };
  }
  active = info;
  return info;
}

/** Default number of inference workers: one per core on wasm/cpu (single-threaded each). */
export function defaultInferWorkers(): number {
  return Math.max(1, os.availableParallelism());
}

let ensured: Promise<BackendInfo> | undefined;

/**
 * For code that loads a model now and then (receptive fields in rf-mosaic and clip-topk, used by
 * the CLI and the server; the picture worker): a backend already set up, whatever was requested,
 * is kept (setupBackend('auto') returns the active one); otherwise 'auto' is set up once, at the
 * first need. A failure is retried the next time instead of being remembered.
 */
export function ensureBackend(): Promise<BackendInfo> {
  ensured ??= setupBackend('auto').catch((e: unknown) => {
    ensured = undefined;
    throw e;
  });
  return ensured;
}
