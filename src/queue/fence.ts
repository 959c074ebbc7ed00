/**
 * Fencing: a shard attempt may write its parts and its commit only while it still holds the
 * BullMQ lock of its job. BullMQ hands a stalled job (lock expired: worker dead or frozen) to
 * another worker, so an old attempt can wake up and finish late; without a fence both attempts
 * would write the same shard. `holdLock` checks the lock's token and extends it in one atomic
 * Lua script: when it succeeds, no other attempt can start for `ms` milliseconds, which is the
 * window in which the caller writes (the sink write of one shard, then its commit file).
 */
import type { Redis } from 'ioredis';
import { QUEUE_NAME, QUEUE_PREFIX } from './connection.js';

const HOLD = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;

export function lockKey(jobId: string, prefix = QUEUE_PREFIX, queue = QUEUE_NAME): string {
  return `${prefix}:${queue}:${jobId}:lock`;
}

/** True when `token` still holds the lock of `jobId`; the lock then lasts `ms` from now. */
export async function holdLock(redis: Redis, jobId: string, token: string, ms: number): Promise<boolean> {
  const r = await redis.eval(HOLD, 1, lockKey(jobId), token, String(Math.max(1, Math.round(ms))));
  return Number(r) === 1;
}
