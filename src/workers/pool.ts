/**
 * The one recipe for worker pools (piscina). Workers are TypeScript run through tsx: each worker
 * thread gets `--import <tsx loader>` in its execArgv, with the loader resolved to an absolute
 * file URL here, so it works whatever the current directory and however the main thread loaded
 * tsx (bin's `register()`, `node --import tsx`, or vitest, whose module hooks workers never see).
 *
 * Typed arrays cross by transfer both ways: `run()` transfers the request's buffers, and worker
 * entries return `movable(result)` (transfer.ts).
 *
 * Errors: structured clone keeps an Error's message but drops its class and custom fields, so a
 * NeurolensError thrown in a worker would arrive as a plain Error without its code. Worker entries
 * wrapped with `workerEntry()` encode the code into the message and `run()` restores it.
 */
import os from 'node:os';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type { ResourceLimits } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { NeurolensError, isNeurolensError, type ErrorCode } from '../errors.js';
import { transferList } from './transfer.js';

/** execArgv that lets a worker thread import .ts modules. */
export function tsxExecArgv(): string[] {
  const loader = createRequire(import.meta.url).resolve('tsx');
  return ['--import', pathToFileURL(loader).href];
}

const CODED = /^\[neurolens:([A-Z_]+)\] /;

/** Wraps a worker's default export so NeurolensError codes survive the thread boundary. */
export function workerEntry<Req, Res>(fn: (req: Req) => Promise<Res>): (req: Req) => Promise<Res> {
  return async (req: Req) => {
    try {
      return await fn(req);
    } catch (e) {
      if (isNeurolensError(e)) throw new Error(`[neurolens:${e.code}] ${e.message}`, { cause: e.cause });
      throw e;
    }
  };
}

function restoreError(e: unknown, file: string): unknown {
  if (!(e instanceof Error) || e.name === 'AbortError') return e;
  const m = CODED.exec(e.message);
  if (m) return new NeurolensError(m[1] as ErrorCode, e.message.slice(m[0].length), { cause: e.cause ?? e });
  return new NeurolensError('INTERNAL', `worker ${file} failed: ${e.message}`, { cause: e });
}

export interface PoolOptions {
  /** Worker threads (min = max, started up front). Default: available cores. */
  threads?: number;
  /** Tasks one worker runs at once (async work such as libvips decodes overlaps). Default 1. */
  concurrentTasksPerWorker?: number;
  resourceLimits?: ResourceLimits;
}

export class WorkerPool<Req extends object, Res> {
  private constructor(
    private readonly piscina: Piscina,
    readonly file: string,
  ) {}

  /** `workerFile`: a file URL (`new URL('./decode.ts', import.meta.url)`) or an absolute path. */
  static create<Req extends object, Res>(workerFile: string | URL, opts: PoolOptions = {}): WorkerPool<Req, Res> {
    const href =
      workerFile instanceof URL ? workerFile.href : workerFile.startsWith('file:') ? workerFile : pathToFileURL(workerFile).href;
    const threads = Math.max(1, opts.threads ?? os.availableParallelism());
    const piscina = new Piscina({
      filename: href,
      execArgv: tsxExecArgv(),
      minThreads: threads,
      maxThreads: threads,
      concurrentTasksPerWorker: opts.concurrentTasksPerWorker ?? 1,
      resourceLimits: opts.resourceLimits,
    });
    return new WorkerPool<Req, Res>(piscina, href);
  }

  get threads(): number {
    return this.piscina.threads.length;
  }

  /** Tasks waiting for a free worker. */
  get queued(): number {
    return this.piscina.queueSize;
  }

  /**
   * Runs one task. The request's typed-array buffers are transferred, so they are detached
   * (length 0) in the caller afterwards; pass `{ transfer: false }` to copy instead.
   */
  async run(req: Req, opts: { signal?: AbortSignal; transfer?: boolean } = {}): Promise<Res> {
    const list = opts.transfer === false ? undefined : transferList(req);
    try {
      return (await this.piscina.run(req, { transferList: list, signal: opts.signal })) as Res;
    } catch (e) {
      throw restoreError(e, this.file);
    }
  }

  async dispose(): Promise<void> {
    await this.piscina.destroy();
  }
}

export function createPool<Req extends object, Res>(workerFile: string | URL, opts: PoolOptions = {}): WorkerPool<Req, Res> {
  return WorkerPool.create<Req, Res>(workerFile, opts);
}
