/**
 * Atomic file replacement: write `<dir>/.<name>.tmp-<pid>-<rand>`, fsync it, rename it over
 * the final name, fsync the directory. A crash at any point leaves either the old file or the
 * new one under the final name, never a partial one; leftovers are hidden temporary names that
 * no store glob matches (they do not end in .parquet / .json / .sql).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { NeurolensError, errorMessage } from '../errors.js';

/** Temporary sibling name of `file` (a dot-file whose suffix never matches a store glob). */
export function tempNameFor(file: string): string {
  const dir = path.dirname(file);
  return path.join(dir, `.${path.basename(file)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** True for names made by tempNameFor. */
export function isTempName(name: string): boolean {
  return /^\..+\.tmp-\d+-[0-9a-f]+$/.test(path.basename(name));
}

/** fsync a directory so a rename inside it is durable (POSIX; not supported on Windows). */
export async function fsyncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes `data` to `file` (mode `flag`) and fsyncs it before returning. */
export async function writeFileSynced(file: string, data: Uint8Array | string, flag = 'w'): Promise<void> {
  const fh = await open(file, flag);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes `data` to `file` atomically (see module comment). Returns the byte count. */
export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<number> {
  const dir = path.dirname(file);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const tmp = tempNameFor(file);
  try {
    await mkdir(dir, { recursive: true });
    await writeFileSynced(tmp, bytes, 'wx');
    await rename(tmp, file);
    await fsyncDir(dir);
  } catch (e) {
    // The original error is what the caller needs; a failed cleanup of a hidden temp name is
    // harmless (no glob matches it), so it is not reported over the original.
    await unlink(tmp).catch(() => undefined);
    throw new NeurolensError('IO', `cannot write ${file}: ${errorMessage(e)}`, { cause: e });
  }
  return bytes.byteLength;
}
