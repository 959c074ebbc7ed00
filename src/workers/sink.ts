/**
 * Sink worker (piscina): encodes and writes one shard's Parquet parts off the main thread
 * (src/stages/sink.ts writeShardParts). The main thread writes the shard's commit afterwards.
 */
import { writeShardParts } from '../stages/sink.js';
import { movable } from './transfer.js';
import { workerEntry } from './pool.js';

export default workerEntry(async (req: Parameters<typeof writeShardParts>[0]) => movable(await writeShardParts(req)));
