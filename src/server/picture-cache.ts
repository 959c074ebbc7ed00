/**
 * Rendered pictures by cache key: a memory LRU bounded in bytes in front of a directory on disk
 * (`serve --picture-cache DIR`), shared by server instances and kept across restarts.
 *
 * Never inside the store: the server opens the store read-only and store-watch.ts turns any
 * change under it into a new generation that refreshes every open dashboard.
 *
 * On disk an entry is `<dir>/<key[0..2]>/<key>.png` and `<key>.json` side by side, each written
 * atomically (temp file + rename, storage/atomic.ts). The .json is written last and commits the
 * entry: it holds the PNG's byte count and sha256, the response headers and the picture's JSON.
 * A reader trusts a pair only when the JSON parses and the PNG matches its recorded hash, so a
 * torn pair (a crash between the two renames, or two servers writing one key) or a corrupt file
 * is logged and treated as a miss: the picture is rendered again and the pair rewritten.
 *
 * An unwritable or uncreatable directory is not fatal: a warning is logged once and the cache
 * stays memory-only for the life of the process (pictures are re-rendered after a restart).
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { errorMessage } from '../errors.js';
import { log } from '../log.js';
import { writeFileAtomic } from '../storage/atomic.js';
import { ByteLru } from './cache.js';

export interface PictureEntry {
  png: Buffer;
  /** The picture's JSON answer (sidecar / summary). */
  info: Record<string, unknown>;
  /** Extra response headers (e.g. X-Neurolens-Target). */
  headers: Record<string, string>;
}

export type CacheSource = 'memory' | 'disk';

interface DiskEnvelope {
  version: 1;
  png: { bytes: number; sha256: string };
  headers: Record<string, string>;
  info: Record<string, unknown>;
}

export const DEFAULT_PICTURE_MEMORY_BYTES = 64 * 1024 * 1024;

/** `$XDG_CACHE_HOME/neurolens/pictures`, else `~/.cache/neurolens/pictures`. */
export function defaultPictureCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : path.join(os.homedir(), '.cache');
  return path.join(base, 'neurolens', 'pictures');
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function sizeOf(e: PictureEntry): number {
  // The JSON is counted as its UTF-16 text would be, a fair bound on the object's footprint.
  return e.png.byteLength + JSON.stringify(e.info).length * 2 + 256;
}

export class PictureCache {
  /** Least recently used first out; entries over a quarter of the budget are not kept. */
  private readonly memory: ByteLru<PictureEntry>;
  /** null: memory-only (no directory, or it could not be written). */
  private dir: string | null;
  private ready: Promise<void> | undefined;

  constructor(dir: string | null, memoryBytes = DEFAULT_PICTURE_MEMORY_BYTES) {
    this.memory = new ByteLru(memoryBytes, sizeOf);
    this.dir = dir === null ? null : path.resolve(dir);
  }

  /** The directory in use (null once it proved unwritable). */
  get directory(): string | null {
    return this.dir;
  }

  private files(key: string): { png: string; json: string } {
    const sub = path.join(this.dir!, key.slice(0, 2));
    return { png: path.join(sub, `${key}.png`), json: path.join(sub, `${key}.json`) };
  }

  private disable(reason: string): void {
    if (this.dir === null) return;
    log.warn({ dir: this.dir }, `picture cache: ${reason}; pictures are kept in memory only until the server restarts (serve --picture-cache DIR)`);
    this.dir = null;
  }

  /** Creates the directory and checks it is writable, once. */
  private ensureDir(): Promise<void> {
    return (this.ready ??= (async () => {
      if (this.dir === null) return;
      try {
        await mkdir(this.dir, { recursive: true });
        await access(this.dir, constants.W_OK);
      } catch (e) {
        this.disable(`cannot use ${this.dir}: ${errorMessage(e)}`);
      }
    })());
  }

  /** The entry if it is in memory (no disk read). */
  memoryOnly(key: string): PictureEntry | undefined {
    return this.memory.get(key);
  }

  async get(key: string): Promise<{ entry: PictureEntry; from: CacheSource } | undefined> {
    const hit = this.memory.get(key);
    if (hit) return { entry: hit, from: 'memory' };
    await this.ensureDir();
    if (this.dir === null) return undefined;
    const entry = await this.readDisk(key);
    if (!entry) return undefined;
    this.memory.set(key, entry);
    return { entry, from: 'disk' };
  }

  private async readDisk(key: string): Promise<PictureEntry | undefined> {
    const f = this.files(key);
    let text: string;
    try {
      text = await readFile(f.json, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      log.warn({ file: f.json, err: errorMessage(e) }, 'picture cache: cannot read an entry; rendering again');
      return undefined;
    }
    try {
      const env = JSON.parse(text) as DiskEnvelope;
      if (env?.version !== 1 || typeof env.png?.sha256 !== 'string' || typeof env.info !== 'object' || env.info === null) throw new Error('not a picture cache entry');
      const png = await readFile(f.png);
      if (png.byteLength !== env.png.bytes) throw new Error(`${path.basename(f.png)} has ${png.byteLength} bytes; its .json records ${env.png.bytes}`);
      if (sha256(png) !== env.png.sha256) throw new Error(`${path.basename(f.png)} does not match the sha256 its .json records`);
      return { png, info: env.info, headers: env.headers ?? {} };
    } catch (e) {
      log.warn({ file: f.json, err: errorMessage(e) }, 'picture cache: corrupt or partial entry; rendering again');
      return undefined;
    }
  }

  /** Keeps an entry in memory and writes it to disk; a failed write disables the disk cache. */
  async set(key: string, entry: PictureEntry): Promise<void> {
    this.memory.set(key, entry);
    await this.ensureDir();
    if (this.dir === null) return;
    const f = this.files(key);
    const env: DiskEnvelope = { version: 1, png: { bytes: entry.png.byteLength, sha256: sha256(entry.png) }, headers: entry.headers, info: entry.info };
    try {
      await writeFileAtomic(f.png, entry.png);
      await writeFileAtomic(f.json, `${JSON.stringify(env)}\n`);
    } catch (e) {
      this.disable(`cannot write ${f.png}: ${errorMessage(e)}`);
    }
  }
}
