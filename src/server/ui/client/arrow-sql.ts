/**
 * Read-only SQL (POST /api/sql?format=arrow) answered as Arrow IPC, for answers too large for
 * JSON rows: 70k embedding points are 1.1 MB as Arrow against 5.4 MB as JSON, and their numeric
 * columns arrive as typed arrays (no per-row objects to build or collect).
 */
import { tableFromIPC, type Table } from 'apache-arrow';
import { call } from './api.js';

export interface ArrowAnswer {
  table: Table;
  sql: string;
  truncated: boolean;
}

export async function sqlArrow(text: string): Promise<ArrowAnswer> {
  const r = await call('api/sql?format=arrow', {
    method: 'POST',
    body: JSON.stringify({ sql: text }),
    headers: { 'Content-Type': 'application/json', Accept: 'application/vnd.apache.arrow.stream' },
  });
  return { table: tableFromIPC(new Uint8Array(await r.arrayBuffer())), sql: text, truncated: r.headers.get('X-Neurolens-Truncated') === 'true' };
}

/** Column `name` as numbers, nulls as `missing` (Arrow's value buffer holds junk where a value is null). */
export function numbers<T extends Float32Array | Int32Array>(table: Table, name: string, make: (n: number) => T, missing: number): T {
  const col = table.getChild(name);
  if (!col) throw new Error(`the answer has no column ${name} (columns: ${table.schema.fields.map((f) => f.name).join(', ')})`);
  const out = make(table.numRows);
  // Without nulls the value buffers are the answer (one copy); otherwise value by value.
  if (col.nullCount === 0) {
    out.set(col.toArray() as ArrayLike<number>);
    return out;
  }
  let i = 0;
  for (const v of col) out[i++] = v === null || v === undefined ? missing : Number(v);
  return out;
}
