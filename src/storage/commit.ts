/**
 * Shard commit protocol. A shard is done only when `_commits/<model>/<step>/<dataset>/
 * shard-NNNNN.json` exists. It is written last and atomically and lists the shard's part files;
 * the views of per-shard tables show only listed parts (catalog.ts). A re-run of a shard first
 * removes the commit (readers stop seeing the shard), rewrites the parts under the same names,
 * then commits again: a re-run replaces, never duplicates, and a reader never sees a mix.
 */
import { readFile, readdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { NeurolensError, errorMessage } from '../errors.js';
import { fsyncDir, writeFileAtomic } from './atomic.js';
import { COMMITS_DIR, commitPath, decodeSegment, parsePartPath, shardFileName, type ShardKey } from './layout.js';
import type { PartRecord } from './parts.js';
import { TABLES, TABLE_NAMES } from './schemas.js';

const PartSchema = z.object({
  table: z.enum(TABLE_NAMES),
  path: z.string().min(1),
  rows: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  dim: z.number().int().positive().optional(),
});

const CommitSchema = z.object({
  version: z.literal(1),
  run_id: z.string(),
  time: z.string(),
  dataset: z.string(),
  model: z.string(),
  step: z.number().int().nonnegative(),
  shard: z.number().int().nonnegative(),
  parts: z.array(PartSchema),
});

export type CommitRecord = z.infer<typeof CommitSchema>;

function isMissing(e: unknown): boolean {
  return (e as NodeJS.ErrnoException)?.code === 'ENOENT';
}

/** Checks that a part belongs to the shard's partition and is on disk with the listed size. */
async function checkPart(store: string, key: ShardKey, part: PartRecord): Promise<void> {
  const parsed = parsePartPath(part.path);
  const p = parsed.partition;
  if (parsed.table !== part.table || p.dataset !== key.dataset || (p.model !== undefined && p.model !== key.model) || (p.step !== undefined && p.step !== key.step)) {
    throw new NeurolensError('INTERNAL', `part ${part.path} does not belong to ${part.table} of shard ${JSON.stringify(key)}`);
  }
  // Views derive a per-shard row's shard from its file name, so it must be the committed shard.
  if (TABLES[part.table].perShard && parsed.file !== shardFileName(key.shard)) {
    throw new NeurolensError('INTERNAL', `part ${part.path} is not a file of shard ${key.shard} (expected ${shardFileName(key.shard)})`);
  }
  let size: number;
  try {
    size = (await stat(path.join(store, ...part.path.split('/')))).size;
  } catch (e) {
    throw new NeurolensError('IO', `cannot commit shard ${key.shard}: part ${part.path} is missing (${errorMessage(e)})`, { cause: e });
  }
  if (size !== part.bytes) {
    throw new NeurolensError('IO', `cannot commit shard ${key.shard}: part ${part.path} has ${size} bytes, expected ${part.bytes}`);
  }
}

/** Writes the shard's commit file (last step of a shard). Parts must already be on disk. */
export async function commitShard(store: string, key: ShardKey, parts: PartRecord[], runId: string): Promise<CommitRecord> {
  const root = path.resolve(store);
  for (const part of parts) await checkPart(root, key, part);
  const record: CommitRecord = {
    version: 1,
    run_id: runId,
    time: new Date().toISOString(),
    dataset: key.dataset,
    model: key.model,
    step: key.step,
    shard: key.shard,
    parts: parts.map((p) => ({ table: p.table, path: p.path, rows: p.rows, bytes: p.bytes, ...(p.dim !== undefined ? { dim: p.dim } : {}) })),
  };
  await writeFileAtomic(commitPath(root, key), `${JSON.stringify(record, null, 1)}\n`);
  return record;
}

/** Removes a shard's commit (before re-running it). Returns whether one existed. */
export async function uncommitShard(store: string, key: ShardKey): Promise<boolean> {
  const file = commitPath(store, key);
  try {
    await unlink(file);
  } catch (e) {
    if (isMissing(e)) return false;
    throw new NeurolensError('IO', `cannot remove commit ${file}: ${errorMessage(e)}`, { cause: e });
  }
  await fsyncDir(path.dirname(file));
  return true;
}

async function parseCommitFile(file: string): Promise<CommitRecord | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if (isMissing(e)) return undefined;
    throw new NeurolensError('IO', `cannot read commit ${file}: ${errorMessage(e)}`, { cause: e });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new NeurolensError('IO', `commit ${file} is not valid JSON: ${errorMessage(e)}`, { cause: e });
  }
  const parsed = CommitSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new NeurolensError('IO', `commit ${file}: field ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

export function readCommit(store: string, key: ShardKey): Promise<CommitRecord | undefined> {
  return parseCommitFile(commitPath(store, key));
}

export async function isShardCommitted(store: string, key: ShardKey): Promise<boolean> {
  try {
    await stat(commitPath(store, key));
    return true;
  } catch (e) {
    if (isMissing(e)) return false;
    throw new NeurolensError('IO', `cannot check commit of shard ${key.shard}: ${errorMessage(e)}`, { cause: e });
  }
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((n) => !n.startsWith('.'));
  } catch (e) {
    if (isMissing(e)) return [];
    throw new NeurolensError('IO', `cannot list ${dir}: ${errorMessage(e)}`, { cause: e });
  }
}

const COMMIT_FILE = /^shard-(\d+)\.json$/;

/** Shard numbers committed for (dataset, model, step), sorted (what `--resume` skips). */
export async function committedShards(store: string, key: Omit<ShardKey, 'shard'>): Promise<number[]> {
  const dir = path.dirname(commitPath(store, { ...key, shard: 0 }));
  const shards = (await listDir(dir)).map((n) => COMMIT_FILE.exec(n)?.[1]).filter((s): s is string => s !== undefined);
  return shards.map(Number).sort((a, b) => a - b);
}

/** All commits of the store (optionally of one model), parsed and validated. */
export async function listCommits(store: string, filter: { model?: string } = {}): Promise<CommitRecord[]> {
  const base = path.join(path.resolve(store), COMMITS_DIR);
  const out: CommitRecord[] = [];
  for (const m of await listDir(base)) {
    if (filter.model !== undefined && decodeSegment(m) !== filter.model) continue;
    for (const s of await listDir(path.join(base, m))) {
      for (const d of await listDir(path.join(base, m, s))) {
        for (const f of await listDir(path.join(base, m, s, d))) {
          if (!COMMIT_FILE.test(f)) continue;
          const rec = await parseCommitFile(path.join(base, m, s, d, f));
          if (rec) out.push(rec);
        }
      }
    }
  }
  return out;
}
