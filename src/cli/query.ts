/**
 * `neurolens query NAME`, `neurolens queries` and `neurolens sql`: the questions of queries/*.sql
 * and ad-hoc SQL over a store, printed as a table or written as CSV, JSON, NDJSON, Arrow or Parquet.
 */
import { readFile } from 'node:fs/promises';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { NeurolensError, errorMessage } from '../errors.js';
import { FORMATS, formatResult, getQuery, loadQueries, runQuery, runSql, type OutputFormat, type QueryDef } from '../queries/index.js';
import type { ColumnarResult } from '../storage/store.js';
import { Store } from '../storage/store.js';
import { writeOutput, type OutputSink } from './write-output.js';

/** Accumulates `--param k=v` (a fresh object each time: commander reuses the default). */
function collectParam(v: string, prev: Record<string, string>): Record<string, string> {
  const eq = v.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`expected NAME=VALUE (e.g. --param layer=conv1), got '${v}'`);
  const key = v.slice(0, eq).trim();
  if (Object.prototype.hasOwnProperty.call(prev, key)) throw new InvalidArgumentError(`parameter ${key} is given twice`);
  return { ...prev, [key]: v.slice(eq + 1) };
}

interface OutputOptions {
  store: string;
  format: OutputFormat;
  out?: string;
}

function outputOptions(cmd: Command): Command {
  return cmd
    .option('--store <dir>', 'store directory', 'store')
    .addOption(new Option('--format <format>', 'output format').choices(FORMATS as unknown as string[]).default('table'))
    .option('--out <file>', 'write to this file instead of stdout (needed for arrow/parquet on a terminal)');
}

async function withStore(dir: string, fn: (s: Store) => Promise<ColumnarResult>): Promise<ColumnarResult> {
  const store = await Store.open(dir, { readOnly: true });
  try {
    return await fn(store);
  } finally {
    store.dispose();
  }
}

function paramText(p: QueryDef['params'][number]): string {
  const dflt = p.required ? 'required' : `default ${p.default === null || p.default === undefined ? 'NULL' : typeof p.default === 'string' ? `'${p.default}'` : String(p.default)}`;
  return `${p.name} ${p.type} (${dflt})${p.description ? `: ${p.description}` : ''}`;
}

/** First sentence of a description, for one-line listings. */
function summary(text: string): string {
  const m = /^(.+?[.!?])(\s|$)/.exec(text);
  return m ? m[1]! : text;
}

export function registerQuery(program: Command, sink: OutputSink = process.stdout): void {
  outputOptions(
    program
      .command('query')
      .description('answer a named question about the store (see `neurolens queries`)')
      .argument('<name>', 'query name, e.g. top_k_activators')
      .option('-p, --param <name=value>', 'query parameter (repeatable), e.g. --param layer=conv1 --param k=16', collectParam, {}),
  ).action(async (name: string, o: OutputOptions & { param: Record<string, string> }) => {
    const def = await getQuery(name);
    const result = await withStore(o.store, (s) => runQuery(s, def, o.param));
    await writeOutput(formatResult(result, o.format), { out: o.out, what: `--format ${o.format}` }, sink);
  });

  program
    .command('queries')
    .description('list the named questions (queries/*.sql) with their parameters and columns')
    .option('--json', 'machine-readable output')
    .action(async (o: { json?: boolean }) => {
      const defs = await loadQueries();
      if (o.json) {
        sink.write(`${JSON.stringify(defs.map(({ sql: _sql, ...d }) => d), null, 2)}\n`);
        return;
      }
      const lines: string[] = [];
      for (const d of defs) {
        lines.push(`${d.name}: ${summary(d.description)}`);
        for (const p of d.params) lines.push(`    --param ${paramText(p)}`);
        lines.push(`    columns: ${d.columns.map((c) => c.name).join(', ')}`);
      }
      lines.push('', 'run one with: neurolens query NAME --param name=value [--format table|csv|json|ndjson|arrow|parquet]');
      sink.write(`${lines.join('\n')}\n`);
    });

  outputOptions(
    program
      .command('sql')
      .description('run SQL over the store views (samples, activations, codes, neuron_stats, topk, predictions, embeddings, errors, runs)')
      .argument('[sql]', 'SQL text; several statements run in order and the last one is printed')
      .option('-f, --file <file>', "read the SQL from a file ('-' = stdin)"),
  ).action(async (text: string | undefined, o: OutputOptions & { file?: string }) => {
    if ((text === undefined) === (o.file === undefined)) {
      throw new NeurolensError('BAD_SPEC', 'give the SQL either as an argument or with -f FILE (not both)');
    }
    let sql = text ?? '';
    if (o.file !== undefined) {
      try {
        sql = o.file === '-' ? await readStdin() : await readFile(o.file, 'utf8');
      } catch (e) {
        throw new NeurolensError('BAD_SPEC', `cannot read SQL file ${o.file}: ${errorMessage(e)}`, { cause: e });
      }
    }
    const result = await withStore(o.store, (s) => runSql(s, sql));
    await writeOutput(formatResult(result, o.format), { out: o.out, what: `--format ${o.format}` }, sink);
  });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
