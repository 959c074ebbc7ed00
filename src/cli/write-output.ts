/** Where command output goes: stdout (text, or bytes when piped) or a file written atomically. */
import path from 'node:path';
import { NeurolensError } from '../errors.js';
import { writeFileAtomic } from '../storage/atomic.js';

/** The part of process.stdout the commands use (tests pass their own sink). */
export interface OutputSink {
  write(chunk: string | Uint8Array): unknown;
  isTTY?: boolean;
}

/**
 * Writes `content` to `out` (atomically) or to the sink. Bytes (Arrow, Parquet, PNG) are refused
 * on a terminal: they would garble it and be lost.
 */
export async function writeOutput(content: string | Uint8Array, o: { out?: string; what: string }, sink: OutputSink): Promise<void> {
  if (o.out) {
    await writeFileAtomic(path.resolve(o.out), content);
    return;
  }
  if (typeof content !== 'string' && sink.isTTY) {
    throw new NeurolensError('BAD_SPEC', `${o.what} is binary: give --out FILE or redirect stdout to a file or pipe`);
  }
  sink.write(content);
}
