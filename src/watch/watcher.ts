/**
 * `neurolens watch`: polls a checkpoint glob on a schedule and analyses each new complete
 * checkpoint once, through runPipeline restricted to that one directory (so shards, commits,
 * resume, finalize, the spec's embeddings and the run record are exactly those of `run`).
 *
 * - Complete means: complete.ts (manifest byte counts + unchanged across two observations, or a
 *   `.complete` marker). Incomplete directories are reported as `pending`; one that stays
 *   incomplete and unchanged for the grace period, or a stable directory that is not a model,
 *   is an `error` event naming it, and the watch goes on (it is looked at again if it changes).
 * - The loop awaits each run: ticks that fall inside a run are skipped and counted, never queued,
 *   so runs never overlap. One watch per store and spec (lock.ts).
 * - The spec file is hashed at start; a change stops the watch (BAD_SPEC, exit 2) asking for a
 *   restart, so one watch never mixes two specs in one store.
 * - Errors of the run other than a bad model (I/O such as a full disk, bad data, error budget,
 *   backend) stop the watch with their code; committed shards stay valid (atomic commits) and a
 *   restart resumes.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { isDynamicPattern } from 'tinyglobby';
import { NeurolensError, errorMessage, isNeurolensError } from '../errors.js';
import { listCheckpoints } from '../model/checkpoints.js';
import { runPipeline, type RunOptions } from '../pipeline/runner.js';
import { runOnQueue, type RunOutcome } from './queue-run.js';
import { loadSpec, type LoadedSpec } from '../pipeline/spec.js';
import { checkModelFiles, dirSignature, hasCompleteMarker } from './complete.js';
import { candidateDirs, isSingleDir } from './discover.js';
import type { Reporter } from './events.js';
import { WatchLock, lockPath } from './lock.js';
import { cronSchedule, everySchedule, type Schedule } from './schedule.js';
import { WatchState } from './state.js';
import { formatDuration } from './duration.js';

export interface WatchOptions {
  specFile: string;
  /** Overrides the spec's checkpoint glob (relative to the spec's directory, as in `run`). */
  checkpoints?: string;
  everyMs?: number;
  cron?: string;
  once?: boolean;
  timeoutMs?: number;
  /** Two observations of an unchanged directory must be at least this far apart (default: min(period, 5 s)). */
  settleMs?: number;
  /** Passed to every run. */
  run: Pick<RunOptions, 'limit' | 'workers' | 'decodeWorkers' | 'backend' | 'store' | 'maxErrorRate' | 'progress'>;
  /** redis://...: each checkpoint's shards go to BullMQ workers (src/queue/) instead of running here. */
  queue?: string;
  reporter: Reporter;
  /** Aborting it stops the watch between runs (a run in progress is the CLI's business). */
  signal?: AbortSignal;
}

export type StopReason = 'once' | 'timeout' | 'signal';

export interface WatchResult {
  reason: StopReason;
  analysed: number;
  errors: number;
  ticks: number;
  ticksSkipped: number;
}

interface Observation {
  sig: string;
  /** When this signature was first seen. */
  since: number;
  seen: number;
  /** Last pending state reported, so a pending line is printed once per state. */
  reported?: string;
}

interface Ready {
  dir: string;
  sig: string;
  files: Record<string, number>;
}

const ERRNO_IO = new Set(['ENOSPC', 'EDQUOT', 'EIO', 'EROFS', 'EMFILE', 'ENFILE']);

export function specHash(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted || ms <= 0) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

export class Watcher {
  /** The checkpoint being analysed right now (for an interrupted stop). */
  busy: { step: number; dir: string } | null = null;
  private readonly obs = new Map<string, Observation>();
  /** Directory -> signature that was reported as an error (looked at again when it changes). */
  private readonly failed = new Map<string, string>();
  private analysed = 0;
  private errors = 0;
  private ticks = 0;
  private ticksSkipped = 0;
  private readonly schedule: Schedule;
  private readonly settleMs: number;
  private readonly graceMs: number;
  private readonly pattern: string;

  private constructor(
    private readonly o: WatchOptions,
    private readonly loaded: LoadedSpec,
    private readonly hash: string,
    readonly store: string,
    readonly lock: WatchLock,
    private readonly state: WatchState,
    readonly startedAt: number,
  ) {
    this.schedule = o.cron ? cronSchedule(o.cron) : everySchedule(o.everyMs ?? 30_000, startedAt);
    this.settleMs = o.settleMs ?? Math.min(this.schedule.periodMs, 5000);
    // A directory that stays incomplete and unchanged this long is not being written: report it.
    this.graceMs = Math.max(10_000, 3 * this.settleMs);
    this.pattern = o.checkpoints ?? loaded.spec.model.checkpoints;
  }

  /** Loads the spec, takes the lock (or throws BAD_SPEC naming the live holder), reads the state. */
  static async open(o: WatchOptions): Promise<Watcher> {
    if (o.cron) cronSchedule(o.cron); // a bad expression fails before the lock is taken
    const file = path.resolve(o.specFile);
    const text = await readFile(file).catch((e: unknown) => {
      throw new NeurolensError('BAD_SPEC', `${o.specFile}: cannot read pipeline spec (${errorMessage(e)})`, { cause: e });
    });
    const hash = specHash(text);
    const loaded = await loadSpec(file);
    const { spec } = loaded;
    const store = path.resolve(o.run.store ?? path.resolve(loaded.baseDir, spec.store));
    const lock = await WatchLock.acquire(lockPath(store, spec.model.name, spec.dataset.name), { spec: file, spec_hash: hash, store });
    try {
      const state = await WatchState.load(lock.file.replace(/\.lock$/, '.state.json'));
      return new Watcher(o, loaded, hash, store, lock, state, Date.now());
    } catch (e) {
      await lock.release();
      throw e;
    }
  }

  async run(): Promise<WatchResult> {
    const { reporter } = this.o;
    const t = this.lock.takeover;
    if (t) {
      await reporter.emit({ event: 'lock_takeover', lock: t.lock, previous_pid: t.previous?.pid ?? null, previous_host: t.previous?.host ?? null, previous_started_at: t.previous?.started_at ?? null, reason: t.reason });
    }
    await reporter.emit({
      event: 'start',
      spec: this.loaded.file,
      spec_hash: this.hash,
      store: this.store,
      checkpoints: this.pattern,
      schedule: this.o.once ? 'once' : this.schedule.description,
      pid: process.pid,
      analysed_before: this.state.size,
    });
    const deadline = this.o.timeoutMs ? this.startedAt + this.o.timeoutMs : Infinity;
    let tickAt = this.startedAt;
    let reason: StopReason;
    for (;;) {
      if (this.o.signal?.aborted) {
        reason = 'signal';
        break;
      }
      await this.tick(deadline);
      this.ticks++;
      if (this.o.once) {
        reason = 'once';
        break;
      }
      const now = Date.now();
      if (this.o.signal?.aborted) {
        reason = 'signal';
        break;
      }
      if (now >= deadline) {
        reason = 'timeout';
        break;
      }
      // Ticks that came due while this one ran are dropped, not queued: runs never overlap.
      const skipped = this.schedule.countBetween(tickAt, now);
      if (skipped > 0) {
        this.ticksSkipped += skipped;
        await reporter.emit({ event: 'ticks_skipped', count: skipped, total: this.ticksSkipped });
      }
      const next = Math.max(this.schedule.nextAtOrAfter(now), tickAt + 1);
      await sleep(Math.min(next, deadline) - now, this.o.signal);
      if (this.o.signal?.aborted) {
        reason = 'signal';
        break;
      }
      if (Date.now() >= deadline) {
        reason = 'timeout';
        break;
      }
      tickAt = next;
    }
    return { reason, analysed: this.analysed, errors: this.errors, ticks: this.ticks, ticksSkipped: this.ticksSkipped };
  }

  /** Counters so far (for a stop in the middle of a run). */
  counters(): Omit<WatchResult, 'reason'> {
    return { analysed: this.analysed, errors: this.errors, ticks: this.ticks, ticksSkipped: this.ticksSkipped };
  }

  /** Refuses to go on when the spec file changed since the watch started. */
  private async checkSpec(): Promise<void> {
    const file = this.loaded.file;
    const text = await readFile(file).catch((e: unknown) => {
      throw new NeurolensError('BAD_SPEC', `${file}: the pipeline spec of this watch cannot be read any more (${errorMessage(e)}); restart the watch once it is back`, { cause: e });
    });
    const now = specHash(text);
    if (now !== this.hash) {
      throw new NeurolensError(
        'BAD_SPEC',
        `${file} changed while the watch was running (sha256 ${this.hash.slice(0, 12)} -> ${now.slice(0, 12)}); the watch stopped so one watch never mixes two specs: restart the watch to use the new spec (checkpoints already analysed are kept and not re-run)`,
      );
    }
  }

  /** One tick: scan, analyse the ready directories in step order, re-check settling ones when the next tick is far. */
  private async tick(deadline: number): Promise<void> {
    for (let pass = 0; ; pass++) {
      await this.checkSpec();
      const { ready, settling } = await this.scan();
      for (const r of await this.withSteps(ready)) {
        if (this.o.signal?.aborted || Date.now() >= deadline) return;
        await this.checkSpec();
        await this.analyse(r);
      }
      if (settling === 0 || pass >= 3 || this.o.signal?.aborted) return;
      // A directory seen once needs a second look `settle` later; with ticks minutes apart
      // (cron, --once) take it within this tick instead of a whole period later.
      const nextTick = this.o.once ? Infinity : this.schedule.nextAtOrAfter(Date.now() + 1);
      if (nextTick - Date.now() < 2 * this.settleMs || Date.now() + this.settleMs >= deadline) return;
      await sleep(this.settleMs, this.o.signal);
    }
  }

  private async scan(): Promise<{ ready: Ready[]; settling: number }> {
    const dirs = await candidateDirs(this.pattern, this.loaded.baseDir);
    const ready: Ready[] = [];
    let settling = 0;
    for (const dir of dirs) {
      if (this.state.get(dir)) continue;
      const sig = await dirSignature(dir);
      if (sig === null) continue;
      const now = Date.now();
      let o = this.obs.get(dir);
      if (!o || o.sig !== sig) {
        o = { sig, since: now, seen: 1, reported: o?.reported };
        this.obs.set(dir, o);
      } else o.seen++;
      if (this.failed.get(dir) === sig) continue;
      const check = await checkModelFiles(dir);
      const unchangedFor = o.seen >= 2 ? now - o.since : 0;
      const stable = (await hasCompleteMarker(dir)) || unchangedFor >= this.settleMs;
      if (check.state === 'ok' && stable) ready.push({ dir, sig, files: check.files });
      else if (check.state === 'ok') {
        settling++;
        await this.pending(o, dir, 'settling', `complete by its manifest; waiting until it is unchanged for ${formatDuration(this.settleMs)}`);
      } else if (check.state === 'bad' && stable) await this.fail(dir, sig, 'BAD_MODEL', `not a TF.js model: ${check.reason}`);
      else if (check.state === 'bad') {
        settling++;
        await this.pending(o, dir, 'settling', check.reason);
      } else if (unchangedFor >= this.graceMs) {
        await this.fail(dir, sig, 'BAD_MODEL', `not a complete TF.js model after ${formatDuration(unchangedFor)} without changes: ${check.reason}`);
      } else await this.pending(o, dir, 'incomplete', check.reason);
    }
    return { ready, settling };
  }

  private async pending(o: Observation, dir: string, state: 'incomplete' | 'settling', reason: string): Promise<void> {
    if (o.reported === state) return;
    o.reported = state;
    await this.o.reporter.emit({ event: 'pending', dir, state, reason });
  }

  private async fail(dir: string, sig: string, code: string, reason: string): Promise<void> {
    this.failed.set(dir, sig);
    this.errors++;
    await this.o.reporter.emit({ event: 'error', dir, code, reason });
  }

  /** Steps of the ready directories (as `run` reads them), sorted; bad ones become error events. */
  private async withSteps(ready: Ready[]): Promise<(Ready & { step: number })[]> {
    const out: (Ready & { step: number })[] = [];
    for (const r of ready) {
      if (isDynamicPattern(r.dir)) {
        await this.fail(r.dir, r.sig, 'BAD_SPEC', 'the directory path contains glob characters (*?[]{}()!), which the run would read as a pattern: rename it');
        continue;
      }
      try {
        const [ck] = await listCheckpoints(r.dir);
        if (ck.stepFrom === 'default' && !isSingleDir(this.pattern)) {
          throw new NeurolensError('BAD_MODEL', 'no training step: set userDefinedMetadata.neurolens.step in model.json or end the directory name with it (ckpt-000300)');
        }
        const prior = this.state.byStep(ck.step) ?? out.find((x) => x.step === ck.step);
        if (prior) throw new NeurolensError('BAD_MODEL', `step ${ck.step} was already taken by ${prior.dir}`);
        out.push({ ...r, step: ck.step });
      } catch (e) {
        if (!isNeurolensError(e)) throw e;
        await this.fail(r.dir, r.sig, e.code, e.message);
      }
    }
    return out.sort((a, b) => a.step - b.step);
  }

  private async analyse(r: Ready & { step: number }): Promise<void> {
    const { reporter } = this.o;
    // Last look before reading: the directory must be exactly what was judged complete.
    if ((await dirSignature(r.dir)) !== r.sig) return;
    await reporter.emit({ event: 'analyse', step: r.step, dir: r.dir, files: r.files });
    this.busy = { step: r.step, dir: r.dir };
    let summary: RunOutcome;
    try {
      summary = this.o.queue
        ? await runOnQueue(this.loaded, this.o.queue, { ...this.o.run, checkpoints: r.dir, resume: true })
        : await runPipeline(this.loaded, { ...this.o.run, checkpoints: r.dir, resume: true });
    } catch (e) {
      this.busy = null;
      // A checkpoint that is not a usable model (or vanished) is this checkpoint's problem;
      // anything else (I/O, data, error budget, backend) stops the watch.
      if (isNeurolensError(e) && (e.code === 'BAD_MODEL' || e.code === 'NOT_FOUND')) {
        await this.fail(r.dir, r.sig, e.code, e.message);
        return;
      }
      const errno = (e as NodeJS.ErrnoException)?.code;
      if (!isNeurolensError(e) && typeof errno === 'string' && ERRNO_IO.has(errno)) {
        throw new NeurolensError('IO', `step ${r.step} (${r.dir}): ${errorMessage(e)}`, { cause: e });
      }
      throw e;
    }
    this.busy = null;
    await this.state.add({ step: r.step, dir: r.dir, run_id: summary.run_id, at: new Date().toISOString() });
    this.analysed++;
    const sum = (f: (c: RunOutcome['checkpoints'][number]) => number) => summary.checkpoints.reduce((n, c) => n + f(c), 0);
    await reporter.emit({
      event: 'checkpoint',
      step: r.step,
      dir: r.dir,
      run_id: summary.run_id,
      samples: summary.samples,
      errors: summary.errors,
      seconds: summary.seconds,
      shards: sum((c) => c.shards),
      skipped_shards: sum((c) => c.skipped),
      embeddings: summary.embeddings.length,
    });
  }
}
