/**
 * One watch per store and spec: a lock file `<store>/_watch/<model>@<dataset>.lock` (the store
 * paths a run writes are keyed by model and dataset, so two specs naming the same pair would
 * write the same shards). It holds pid, host, start time and spec hash, and survives kill -9:
 * nobody removes it then, so a later watch decides whether its holder still runs:
 * - another host: it cannot tell, so the lock counts as live (the message says how to clear it);
 * - this host: dead when the boot id changed (a reboot), the pid does not exist, or the pid now
 *   belongs to a process that started at another time (/proc/<pid>/stat field 22: the pid was
 *   reused). A dead holder's lock is taken over with a message.
 * The file appears atomically (written to a temp name, then link(2), which fails if it exists),
 * so a reader never sees a half-written lock. A takeover renames the stale file aside and checks
 * it is still the one it judged stale, so two watches starting at once cannot both win.
 */
import { readFileSync, unlinkSync } from 'node:fs';
import { link, mkdir, readFile, rename, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { NeurolensError, errorMessage } from '../errors.js';
import { encodeSegment } from '../storage/index.js';
import { tempNameFor, writeFileSynced, fsyncDir } from '../storage/atomic.js';

export interface LockInfo {
  pid: number;
  host: string;
  started_at: string;
  spec: string;
  spec_hash: string;
  store: string;
  /** Linux: /proc/sys/kernel/random/boot_id and the process start time in clock ticks since boot. */
  boot_id?: string;
  proc_start?: string;
}

export interface Takeover {
  lock: string;
  previous: LockInfo | null;
  reason: string;
}

export const WATCH_DIR = '_watch';

export function lockPath(store: string, model: string, dataset: string): string {
  return path.join(store, WATCH_DIR, `${encodeSegment(model, 'model name')}@${encodeSegment(dataset, 'dataset name')}.lock`);
}

function bootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Start time of a process (field 22 of /proc/<pid>/stat), or undefined off Linux / when gone. */
function procStart(pid: number): string | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: split after the last ')'.
    return s.slice(s.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Null when the holder is alive (as far as this host can tell), else why it is not. */
export function whyStale(h: LockInfo): string | null {
  if (h.host !== os.hostname()) return null;
  const boot = bootId();
  if (h.boot_id && boot && h.boot_id !== boot) return `pid ${h.pid} ran before the last reboot of ${h.host}`;
  if (!pidExists(h.pid)) return `pid ${h.pid} is not running on ${h.host}`;
  const start = procStart(h.pid);
  if (h.proc_start && start && h.proc_start !== start) return `pid ${h.pid} on ${h.host} is now another process (the pid was reused)`;
  return null;
}

async function readLock(file: string): Promise<LockInfo | null | 'missing'> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw new NeurolensError('IO', `cannot read the watch lock ${file}: ${errorMessage(e)}`, { cause: e });
  }
  try {
    const j = JSON.parse(text) as LockInfo;
    return typeof j?.pid === 'number' && typeof j.host === 'string' ? j : null;
  } catch {
    return null;
  }
}

const same = (a: LockInfo | null, b: LockInfo | null) => JSON.stringify(a) === JSON.stringify(b);

export class WatchLock {
  private constructor(
    readonly file: string,
    readonly info: LockInfo,
    /** Set when a stale lock was taken over to get this one. */
    readonly takeover: Takeover | null,
  ) {}

  /** Takes the lock or throws BAD_SPEC (exit 2) naming the live holder. */
  static async acquire(file: string, info: Omit<LockInfo, 'pid' | 'host' | 'started_at' | 'boot_id' | 'proc_start'>): Promise<WatchLock> {
    const mine: LockInfo = {
      pid: process.pid,
      host: os.hostname(),
      started_at: new Date().toISOString(),
      ...info,
      boot_id: bootId(),
      proc_start: procStart(process.pid),
    };
    const dir = path.dirname(file);
    let takeover: Takeover | null = null;
    try {
      await mkdir(dir, { recursive: true });
    } catch (e) {
      throw new NeurolensError('IO', `cannot create ${dir} for the watch lock: ${errorMessage(e)}`, { cause: e });
    }
    for (let attempt = 0; attempt < 5; attempt++) {
      const tmp = tempNameFor(file);
      try {
        await writeFileSynced(tmp, JSON.stringify(mine, null, 2) + '\n', 'wx');
        await link(tmp, file);
        await fsyncDir(dir);
        return new WatchLock(file, mine, takeover);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new NeurolensError('IO', `cannot create the watch lock ${file}: ${errorMessage(e)}`, { cause: e });
      } finally {
        await unlink(tmp).catch(() => undefined);
      }
      const holder = await readLock(file);
      if (holder === 'missing') continue; // released meanwhile: try again
      const stale = holder === null ? 'the lock file is unreadable (not a watch lock JSON)' : whyStale(holder);
      if (stale === null) {
        const h = holder as LockInfo;
        throw new NeurolensError(
          'BAD_SPEC',
          `another neurolens watch already watches this store and spec: pid ${h.pid} on ${h.host}, started ${h.started_at}, spec ${h.spec} (lock ${file}). ` +
            `One watch per store and spec: stop that one first${h.host !== os.hostname() ? `; if it no longer runs on ${h.host}, delete the lock file` : ''}.`,
        );
      }
      // Stale: move it aside, and make sure what moved is the file judged stale (not a new live
      // lock another starting watch created in between); if it is not, put it back and retry.
      const aside = `${file}.stale-${process.pid}`;
      try {
        await rename(file, aside);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw new NeurolensError('IO', `cannot take over the stale watch lock ${file}: ${errorMessage(e)}`, { cause: e });
      }
      const moved = await readLock(aside);
      if (moved !== 'missing' && !same(moved, holder)) {
        await link(aside, file).catch(() => undefined);
        await unlink(aside).catch(() => undefined);
        continue;
      }
      await unlink(aside).catch(() => undefined);
      takeover = { lock: file, previous: holder, reason: stale };
    }
    throw new NeurolensError('IO', `cannot take the watch lock ${file}: it kept changing (several watches starting at once?)`);
  }

  /** Removes the lock if it is still ours. */
  async release(): Promise<void> {
    const cur = await readLock(this.file).catch(() => null);
    if (cur !== 'missing' && cur !== null && cur.pid === this.info.pid && cur.started_at === this.info.started_at) {
      await unlink(this.file).catch(() => undefined);
    }
  }

  /** Synchronous release for process-exit paths. */
  releaseSync(): void {
    try {
      const cur = JSON.parse(readFileSync(this.file, 'utf8')) as LockInfo;
      if (cur.pid === this.info.pid && cur.started_at === this.info.started_at) {
        unlinkSync(this.file);
      }
    } catch {
      // gone or unreadable: nothing of ours to remove
    }
  }
}
