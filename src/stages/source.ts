/**
 * Source stage: enumerates the shards of a dataset (contiguous sample-id ranges, the unit of
 * work, retry and commit) and the fixed-size batches inside each shard.
 */
export interface ShardPlan {
  index: number;
  start: number;
  /** Exclusive. */
  end: number;
  batches: { start: number; end: number }[];
}

export function planShards(size: number, shardSize: number, batchSize: number): ShardPlan[] {
  const shards: ShardPlan[] = [];
  for (let index = 0, start = 0; start < size; index++, start += shardSize) {
    const end = Math.min(size, start + shardSize);
    const batches: { start: number; end: number }[] = [];
    for (let b = start; b < end; b += batchSize) batches.push({ start: b, end: Math.min(end, b + batchSize) });
    shards.push({ index, start, end, batches });
  }
  return shards;
}

/** Static sharding (`--shard i/N`, Kubernetes indexed jobs, Slurm arrays): shard s goes to s mod N. */
export function selectShards(shards: ShardPlan[], part?: { index: number; count: number }): ShardPlan[] {
  if (!part) return shards;
  return shards.filter((s) => s.index % part.count === part.index);
}
