/**
 * Ad-hoc SQL over a store (`neurolens sql`): every statement of a script runs, in order, on one
 * connection (so SET and temporary views carry over), and the last statement's rows come back.
 */
import { NeurolensError, errorMessage } from '../errors.js';
import type { ColumnarResult, Store } from '../storage/store.js';

export async function runSql(store: Store, sql: string): Promise<ColumnarResult> {
  return store.withConnection(async (c) => {
    try {
      const stmts = await c.extractStatements(sql);
      if (stmts.count === 0) throw new NeurolensError('BAD_QUERY', 'no SQL statement given');
      for (let i = 0; i < stmts.count - 1; i++) {
        const p = await stmts.prepare(i);
        try {
          await p.run();
        } finally {
          p.destroySync();
        }
      }
      const last = await stmts.prepare(stmts.count - 1);
      try {
        const r = await last.runAndReadAll();
        const names = r.columnNames();
        const types = r.columnTypes();
        return {
          columns: names.map((name, i) => ({ name, type: types[i]!.toString() })),
          data: r.getColumnsObjectJS() as Record<string, unknown[]>,
          rowCount: r.currentRowCount,
        };
      } finally {
        last.destroySync();
      }
    } catch (e) {
      if (e instanceof NeurolensError) throw e;
      throw new NeurolensError('BAD_QUERY', `query failed: ${errorMessage(e)}`, { cause: e });
    }
  });
}
