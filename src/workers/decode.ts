/**
 * Decode worker (piscina): reads, decodes and preprocesses one task's samples. The request's
 * pixel buffer arrives by transfer and the float32 batch goes back by transfer (movable).
 */
import { decodeBatch } from '../stages/decode.js';
import type { DecodeRequest, DecodeResponse } from './protocol.js';
import { workerEntry } from './pool.js';
import { movable } from './transfer.js';

export default workerEntry<DecodeRequest, DecodeResponse>(async (msg) => movable(await decodeBatch(msg.task, msg.pre)));
