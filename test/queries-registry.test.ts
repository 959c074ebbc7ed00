/**
 * The query registry without a pipeline run: header parsing and its checks, parameter binding,
 * every shipped query against an empty store (its documented columns are its real columns), and
 * the output formats read back by independent readers (DuckDB for Parquet, apache-arrow for IPC).
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import * as arrow from 'apache-arrow';
import { Store } from '../src/storage/index.js';
import { NeurolensError } from '../src/errors.js';
import { bindParams, formatResult, getQuery, loadQueries, parseQueryFile, runQuery, sqlPlaceholders, type QueryDef } from '../src/queries/index.js';

let dir: string;
let store: Store;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nl-qreg-'));
  await fs.mkdir(path.join(dir, 'store'));
  store = await Store.open(path.join(dir, 'store'), { readOnly: true });
});
afterAll(async () => {
  store?.dispose();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

const GOOD = `-- Answers a question.
-- Over two lines.
-- @param layer VARCHAR required  the layer
-- @param k INTEGER default 9  how many
-- @param name VARCHAR default 'it''s'  a quoted default
-- @param eps DOUBLE default NULL
-- @param on BOOLEAN default true  a flag
-- @column x  the x
SELECT $layer AS x, $k, $name, $eps, $on, '$notaparam' -- $nor_this
/* $nor_that */`;

describe('query files', () => {
  it('parses description, parameters with defaults, columns and the placeholders outside comments and strings', () => {
    const def = parseQueryFile('q', '/x/q.sql', GOOD);
    expect(def.description).toBe('Answers a question. Over two lines.');
    expect(def.params).toEqual([
      { name: 'layer', type: 'VARCHAR', required: true, description: 'the layer' },
      { name: 'k', type: 'INTEGER', required: false, default: 9, description: 'how many' },
      { name: 'name', type: 'VARCHAR', required: false, default: "it's", description: 'a quoted default' },
      { name: 'eps', type: 'DOUBLE', required: false, default: null, description: '' },
      { name: 'on', type: 'BOOLEAN', required: false, default: true, description: 'a flag' },
    ]);
    expect(def.columns).toEqual([{ name: 'x', description: 'the x' }]);
    expect([...sqlPlaceholders(GOOD)].sort()).toEqual(['eps', 'k', 'layer', 'name', 'on']);
  });

  it('ends the header at the first blank line: later comments belong to the SQL', () => {
    const def = parseQueryFile('q', 'q.sql', '\n-- What it answers.\n-- @column one  1\n\n-- how the SQL works\nSELECT 1 AS one -- @param not_a_tag');
    expect(def.description).toBe('What it answers.');
    expect(def.params).toEqual([]);
  });

  it('reports every header problem with its line, and declared/used parameter mismatches', () => {
    const bad = `-- @param a INTEGR required
-- @param b INTEGER default x
-- @param c VARCHAR default plain
-- @colour red
SELECT $a, $b, $undeclared`;
    const err = (() => {
      try {
        parseQueryFile('bad', '/q/bad.sql', bad);
      } catch (e) {
        return e as NeurolensError;
      }
    })();
    expect(err?.code).toBe('BAD_QUERY');
    for (const m of [/\/q\/bad\.sql/, /line 1: parameter a: type 'INTEGR'/, /line 2: parameter b: default 'x' is not a INTEGER/, /line 3: parameter c: VARCHAR default 'plain' must be quoted/, /line 4: unknown tag @colour/, /\$undeclared is used in the SQL but not declared/, /does not say what the query answers/]) {
      expect(err!.message).toMatch(m);
    }
    expect(() => parseQueryFile('u', 'u.sql', '-- About.\n-- @param k INTEGER default 1\nSELECT 1')).toThrow(/parameter k is declared but \$k does not appear/);
  });

  it('loadQueries rejects a malformed file or file name, naming it', async () => {
    const qdir = path.join(dir, 'q1');
    await fs.mkdir(qdir);
    await fs.writeFile(path.join(qdir, 'ok.sql'), '-- Fine.\nSELECT 1 AS one');
    expect((await loadQueries(qdir)).map((d) => d.name)).toEqual(['ok']);
    await fs.writeFile(path.join(qdir, 'Bad-Name.sql'), '-- Fine.\nSELECT 1');
    await expect(loadQueries(qdir)).rejects.toThrow(/Bad-Name\.sql: name must be lower-case/);
    await fs.rm(path.join(qdir, 'Bad-Name.sql'));
    await fs.writeFile(path.join(qdir, 'oops.sql'), 'SELECT $x');
    await expect(loadQueries(qdir)).rejects.toThrow(/oops\.sql/);
  });
});

describe('shipped queries', () => {
  const NAMES = ['accuracy_over_training', 'class_selectivity', 'confusion_neurons', 'confusions', 'dead_filters', 'dead_over_training', 'embedding_neighbors', 'embedding_points', 'layer_summary', 'neuron_profile', 'neuron_quantiles', 'sparsity_over_training', 'stream_drivers', 'top_k_activators', 'top_k_videos'];

  it('all load, are documented, and return exactly their documented columns (run on an empty store)', async () => {
    const defs = await loadQueries();
    expect(defs.map((d) => d.name)).toEqual(NAMES);
    for (const d of defs) {
      expect(d.description.length).toBeGreaterThan(40);
      const raw: Record<string, string | number> = {};
      for (const p of d.params) if (p.required) raw[p.name] = p.type === 'VARCHAR' ? 'x' : 1;
      const r = await runQuery(store, d, raw);
      expect(r.rowCount).toBe(0);
      expect(r.columns.map((c) => c.name), d.name).toEqual(d.columns.map((c) => c.name));
    }
  });

  it('getQuery suggests close names, or lists all when nothing is close', async () => {
    await expect(getQuery('dead_filter')).rejects.toThrow(/did you mean dead_filters\?/);
    const err = await getQuery('zzzzzzzzzzzzzz').catch((e) => e);
    expect(err.code).toBe('BAD_QUERY');
    expect(err.message).toMatch(/known queries: accuracy_over_training, class_selectivity, .*top_k_videos/);
  });
});

describe('bindParams', () => {
  let def: QueryDef;
  beforeAll(() => {
    def = parseQueryFile('t', 't.sql', '-- Types.\n-- @param s VARCHAR required\n-- @param i INTEGER default 9\n-- @param b BIGINT default NULL\n-- @param d DOUBLE default 0.5\n-- @param f BOOLEAN default false\nSELECT $s, $i, $b, $d, $f');
  });

  it('converts strings to the declared types and fills defaults', () => {
    expect(bindParams(def, { s: 'conv1' })).toEqual({ s: 'conv1', i: 9, b: null, d: 0.5, f: false });
    expect(bindParams(def, { s: 'a', i: ' -12 ', b: '9007199254740993', d: '1e-3', f: 'true' })).toEqual({ s: 'a', i: -12, b: 9007199254740993n, d: 0.001, f: true });
    expect(bindParams(def, { s: 'a', b: '42', f: '0', i: 'NULL' })).toEqual({ s: 'a', i: null, b: 42, d: 0.5, f: false });
    const once = bindParams(def, { s: 'a', i: '3', b: '9007199254740993' });
    expect(bindParams(def, once)).toEqual(once);
  });

  it('rejects out-of-range and malformed values, unknown and missing parameters, all at once', () => {
    const err = (() => {
      try {
        bindParams(def, { i: '2147483648', b: 'x', d: 'NaN', f: 'maybe', z: 1 });
      } catch (e) {
        return e as NeurolensError;
      }
    })()!;
    expect(err.code).toBe('BAD_QUERY');
    for (const m of [/unknown parameter z/, /missing required parameter s/, /parameter i must be an INTEGER.*'2147483648'/, /parameter b must be a BIGINT/, /parameter d must be a DOUBLE/, /parameter f must be a BOOLEAN/]) {
      expect(err.message).toMatch(m);
    }
    expect(() => bindParams(def, { s: null })).toThrow(/missing required parameter s/);
  });
});

describe('formats', () => {
  const SQL = `SELECT * FROM (VALUES
    (1, 9007199254740993::BIGINT, 'plain', [1.5, 2]::FLOAT[2], [1, 2, 3]::DOUBLE[], true, 0.25::FLOAT),
    (2, 5::BIGINT, 'a, "quoted"\nline', NULL, []::DOUBLE[], NULL, NULL)
  ) t(id, big, s, fixed, list, flag, f)`;

  it('csv is RFC 4180 and json/ndjson keep exact integers', async () => {
    const r = await store.queryColumns(SQL);
    expect(formatResult(r, 'csv')).toBe('id,big,s,fixed,list,flag,f\r\n1,9007199254740993,plain,"[1.5,2]","[1,2,3]",true,0.25\r\n2,5,"a, ""quoted""\nline",,[],,\r\n');
    const json = JSON.parse(formatResult(r, 'json') as string);
    expect(json).toEqual([
      { id: 1, big: '9007199254740993', s: 'plain', fixed: [1.5, 2], list: [1, 2, 3], flag: true, f: 0.25 },
      { id: 2, big: 5, s: 'a, "quoted"\nline', fixed: null, list: [], flag: null, f: null },
    ]);
    const nd = (formatResult(r, 'ndjson') as string).trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(nd).toEqual(json);
    const table = formatResult(r, 'table') as string;
    expect(table.split('\n')[0]).toMatch(/^id\s+big\s+s\s+fixed/);
    expect(formatResult({ columns: [{ name: 'a', type: 'INTEGER' }], data: { a: [] }, rowCount: 0 }, 'table')).toMatch(/no rows; columns: a/);
  });

  it('arrow IPC carries the DuckDB types; parquet reads back in DuckDB with the same values', async () => {
    const r = await store.queryColumns(SQL);
    const t = arrow.tableFromIPC(formatResult(r, 'arrow') as Uint8Array);
    expect(t.schema.fields.map((f) => String(f.type))).toEqual(['Int32', 'Int64', 'Utf8', 'FixedSizeList[2]<Float32>', 'List<Float64>', 'Bool', 'Float32']);
    expect(t.getChild('big')!.toArray()).toEqual(new BigInt64Array([9007199254740993n, 5n]));
    expect(t.getChild('s')!.get(1)).toBe('a, "quoted"\nline');
    expect(t.getChild('fixed')!.get(1)).toBeNull();
    expect(Array.from(t.getChild('fixed')!.get(0)!)).toEqual([1.5, 2]);
    expect(t.getChild('flag')!.get(1)).toBeNull();

    const file = path.join(dir, 'out.parquet');
    await fs.writeFile(file, formatResult(r, 'parquet') as Uint8Array);
    const back = await store.queryColumns(`SELECT * FROM read_parquet('${file}')`);
    // Parquet has no fixed-size list: FLOAT[2] comes back as FLOAT[] (the store's views cast it).
    expect(back.columns.map((c) => c.type)).toEqual(['INTEGER', 'BIGINT', 'VARCHAR', 'FLOAT[]', 'DOUBLE[]', 'BOOLEAN', 'FLOAT']);
    expect(back.data).toEqual(r.data);
  });
});
