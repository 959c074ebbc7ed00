/**
 * The store's generation: a fingerprint of the store's directories (path, entry count,
 * modification time in ns). Commits, finalized parts and run records are written by rename into
 * their directory (atomic.ts), which changes that directory's mtime and usually its entry count,
 * so any new commit changes the generation. The trees of per-shard tables are skipped: their
 * rows become visible only through a commit file (catalog.ts), and they hold most of the files.
 *
 * Checked in the background every `intervalMs` (requests never wait for the walk, and the
 * generation a request sees is never older than one interval plus one walk); with intervalMs 0,
 * on every call instead.
 *
 * A directory modified less than `settleMs` ago makes the generation unsettled: mtimes have
 * coarse clock granularity, so a second change within the same tick could leave the fingerprint
 * equal. Cached answers are only kept for settled generations (cache.ts).
 *
 * When the generation changes and the store's inventory differs (a table got its first files, a
 * new code width, a shard was committed or uncommitted), the views are recreated with
 * Store.refresh(): the in-process views list the committed parts (catalog.ts).
 */
import { TABLES, inspectStore, isTableName, treeFingerprint, type Store } from '../storage/index.js';
import { log } from '../log.js';

export interface Generation {
  id: string;
  /** No directory changed within the settle time: answers may be cached under this id. */
  settled: boolean;
}

export interface StoreWatchOptions {
  /** Minimum time between two fingerprints (default 1000 ms; 0 = every call). */
  intervalMs?: number;
  /** Default 2000 ms. */
  settleMs?: number;
}

/** The store minus the trees of per-shard tables (their rows show only through commits). */
const fingerprint = (root: string) => treeFingerprint(root, (name, depth) => depth === 0 && isTableName(name) && TABLES[name].perShard);

export class StoreWatch {
  private current: Generation = { id: '', settled: false };
  private pending: Promise<Generation> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly intervalMs: number;
  private readonly settleMs: number;

  private constructor(
    private readonly store: Store,
    opts: StoreWatchOptions,
  ) {
    this.intervalMs = opts.intervalMs ?? 1000;
    this.settleMs = opts.settleMs ?? 2000;
  }

  /** Takes the first fingerprint, then keeps checking in the background. */
  static async create(store: Store, opts: StoreWatchOptions = {}): Promise<StoreWatch> {
    const w = new StoreWatch(store, opts);
    await w.checkOnce();
    w.schedule();
    return w;
  }

  private schedule(): void {
    if (this.closed || this.intervalMs === 0) return;
    this.timer = setTimeout(() => {
      this.checkOnce()
        .catch((e: unknown) => log.error({ err: e, store: this.store.dir }, 'cannot check the store for changes'))
        .finally(() => this.schedule());
    }, this.intervalMs);
    // A server keeps the process alive by itself; the watch must not keep a closed one alive.
    this.timer.unref();
  }

  /** The current generation (with intervalMs 0: checked now). */
  generation(): Promise<Generation> {
    if (this.intervalMs === 0) return this.checkOnce();
    return Promise.resolve(this.current);
  }

  private checkOnce(): Promise<Generation> {
    // One check at a time; concurrent callers share it.
    this.pending ??= this.check().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  /** Stops checking; resolves when a check under way has ended (the store may then be disposed). */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.pending?.catch(() => undefined);
  }

  private async check(): Promise<Generation> {
    const fp = await fingerprint(this.store.dir);
    const settled = Date.now() - fp.newestMs >= this.settleMs;
    if (fp.id !== this.current.id) await this.refreshIfNeeded();
    this.current = { id: fp.id, settled };
    return this.current;
  }

  private async refreshIfNeeded(): Promise<void> {
    const inv = await inspectStore(this.store.dir);
    if (JSON.stringify(inv) === JSON.stringify(this.store.info)) return;
    log.debug({ store: this.store.dir, tables: inv.tablesWithFiles, codeDims: inv.codeDims }, 'store inventory changed: recreating views');
    await this.store.refresh();
  }
}
