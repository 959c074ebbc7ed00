/**
 * Fingerprint of a directory tree: every directory's path, entry count and modification time
 * (ns). Files are written by rename into their directory and removed by unlink (atomic.ts,
 * commit.ts), which changes that directory's mtime and usually its entry count, so any new or
 * removed commit, part or record changes the fingerprint. Used by the Store to follow commits
 * (store.ts) and by the server's store-watch for its cache generations.
 */
import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { NeurolensError, errorMessage } from '../errors.js';

export interface TreeFingerprint {
  id: string;
  /** Newest directory modification time seen, in ms. */
  newestMs: number;
}

/** `skip(name, depth)`: do not descend into that sub-directory (depth of its parent, root = 0). */
export async function treeFingerprint(root: string, skip: (name: string, depth: number) => boolean = () => false): Promise<TreeFingerprint> {
  const hash = createHash('sha256');
  let newestMs = 0;
  const walk = async (dir: string, depth: number): Promise<void> => {
    let entries;
    let st;
    try {
      st = await stat(dir, { bigint: true });
      entries = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      // A directory removed while walking (or not created yet) is a state like any other.
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        hash.update(`${dir}\0gone\n`);
        return;
      }
      throw new NeurolensError('IO', `cannot read store directory ${dir}: ${errorMessage(e)}`, { cause: e });
    }
    newestMs = Math.max(newestMs, Number(st.mtimeNs / 1_000_000n));
    hash.update(`${dir}\0${entries.length}\0${st.mtimeNs}\n`);
    const subdirs = entries
      .filter((e) => e.isDirectory() && !skip(e.name, depth))
      .map((e) => e.name)
      .sort();
    for (const name of subdirs) await walk(path.join(dir, name), depth + 1);
  };
  await walk(root, 0);
  return { id: hash.digest('hex').slice(0, 16), newestMs };
}
