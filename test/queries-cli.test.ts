/**
 * `neurolens query`, `queries` and `sql` through a commander program built with registerQuery
 * (and one real child process of bin/neurolens.js), on the known-answer store.
 * Outputs are read back with independent readers: csv-parse, JSON.parse, DuckDB, apache-arrow.
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { Command, CommanderError } from 'commander';
import { parse as parseCsv } from 'csv-parse/sync';
import * as arrow from 'apache-arrow';
import { makePipelineFixture, type PipelineFixture } from './fixtures/pipeline.js';
import { cli as childCli } from './helpers/cli.js';
import { setupBackend } from '../src/model/backend.js';
import { loadSpec } from '../src/pipeline/spec.js';
import { runPipeline } from '../src/pipeline/runner.js';
import { Store } from '../src/storage/index.js';
import { registerQuery } from '../src/cli/query.js';
import { NeurolensError } from '../src/errors.js';

let fx: PipelineFixture;
let store: Store;
let tmp: string;

beforeAll(async () => {
  await setupBackend('wasm');
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'nl-qcli-'));
  fx = await makePipelineFixture(tmp, 40);
  expect((await runPipeline(await loadSpec(fx.specFile), { workers: 1, backend: 'wasm' })).status).toBe('succeeded');
  store = await Store.open(fx.store, { readOnly: true });
}, 180_000);
afterAll(async () => {
  store?.dispose();
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

/** Runs the command in-process; returns what it wrote to its stdout sink. */
async function cli(args: string[], opts: { tty?: boolean } = {}): Promise<{ text: string; bytes: Uint8Array[] }> {
  const chunks: (string | Uint8Array)[] = [];
  const program = new Command().exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  registerQuery(program, { write: (c) => chunks.push(c), isTTY: opts.tty ?? false });
  await program.parseAsync(['node', 'neurolens', ...args]);
  return { text: chunks.filter((c) => typeof c === 'string').join(''), bytes: chunks.filter((c): c is Uint8Array => typeof c !== 'string') };
}

const TOPK_SQL = "SELECT channel, rank, value, sample_id FROM topk WHERE layer = 'conv1' AND step = 100 AND rank < 2 ORDER BY channel, rank";

describe('neurolens query', () => {
  it('writes CSV, JSON and NDJSON that independent parsers read back as the topk rows', async () => {
    const expected = await store.query<{ channel: number; rank: number; value: number; sample_id: number }>(TOPK_SQL);
    const args = ['query', 'top_k_activators', '--store', fx.store, '-p', 'layer=conv1', '--param', 'k=2'];
    const csv = parseCsv((await cli([...args, '--format', 'csv'])).text, { columns: true }) as Record<string, string>[];
    expect(csv.map((r) => [Number(r.channel), Number(r.rank), Number(r.value), Number(r.sample_id)])).toEqual(expected.map((r) => [r.channel, r.rank, r.value, r.sample_id]));
    expect(csv.every((r) => r.step === '100' && r.uri.endsWith(`#${r.sample_id}`))).toBe(true);
    const json = JSON.parse((await cli([...args, '--format', 'json'])).text) as Record<string, unknown>[];
    expect(json.map((r) => [r.channel, r.rank, r.value, r.sample_id, r.step])).toEqual(expected.map((r) => [r.channel, r.rank, r.value, r.sample_id, 100]));
    const nd = (await cli([...args, '--format', 'ndjson'])).text.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(nd).toEqual(json);
    const table = (await cli(args)).text;
    expect(table.split('\n')[0]).toMatch(/^step\s+layer\s+channel\s+rank\s+value/);
    expect(table.trimEnd().split('\n').length).toBe(2 + expected.length);
  });

  it('writes Parquet to --out (read back by DuckDB) and Arrow to a pipe, but refuses bytes on a terminal', async () => {
    const out = path.join(tmp, 'top.parquet');
    const r = await cli(['query', 'top_k_activators', '--store', fx.store, '-p', 'layer=conv1', '-p', 'k=2', '--format', 'parquet', '--out', out], { tty: true });
    expect(r.text).toBe('');
    const back = await store.query(`SELECT channel, rank, value, sample_id FROM read_parquet('${out}') ORDER BY channel, rank`);
    expect(back).toEqual(await store.query(TOPK_SQL));
    const piped = await cli(['query', 'layer_summary', '--store', fx.store, '--format', 'arrow']);
    const t = arrow.tableFromIPC(piped.bytes[0]!);
    expect(t.numRows).toBe(3);
    expect([...t.getChild('layer')!]).toEqual(['conv1', 'fc', 'gap']);
    await expect(cli(['query', 'layer_summary', '--store', fx.store, '--format', 'parquet'], { tty: true })).rejects.toThrow(/binary: give --out FILE/);
  });

  it('reports bad parameters, unknown queries and a missing store as NeurolensErrors', async () => {
    const bad = await cli(['query', 'top_k_activators', '--store', fx.store, '-p', 'k=many']).catch((e) => e);
    expect(bad).toBeInstanceOf(NeurolensError);
    expect(bad.code).toBe('BAD_QUERY');
    expect(bad.message).toMatch(/missing required parameter layer.*parameter k must be an INTEGER/);
    await expect(cli(['query', 'top_k', '--store', fx.store])).rejects.toThrow(/unknown query 'top_k': did you mean top_k_videos, top_k_activators/);
    await expect(cli(['query', 'layer_summary', '--store', path.join(tmp, 'nope')])).rejects.toThrow(/does not exist/);
    await expect(cli(['query', 'layer_summary', '-p', 'step'])).rejects.toBeInstanceOf(CommanderError);
    await expect(cli(['query', 'layer_summary', '-p', 'step=1', '-p', 'step=2'])).rejects.toThrow(/given twice/);
  });
});

describe('neurolens queries', () => {
  it('lists every query with its parameters, as text and JSON', async () => {
    const text = (await cli(['queries'])).text;
    expect(text).toMatch(/^class_selectivity: /m);
    expect(text).toMatch(/^top_k_activators: The samples that excite a neuron most:/m);
    expect(text).toMatch(/--param layer VARCHAR \(required\): layer name, as in the pipeline spec/);
    expect(text).toMatch(/--param k INTEGER \(default 9\)/);
    const json = JSON.parse((await cli(['queries', '--json'])).text) as { name: string; params: { name: string }[]; sql?: string }[];
    expect(json.length).toBe(15);
    expect(json.find((q) => q.name === 'neuron_profile')!.params.map((p) => p.name)).toEqual(['layer', 'channel', 'k', 'dataset', 'model']);
    expect(json.every((q) => q.sql === undefined)).toBe(true);
  });
});

describe('neurolens sql', () => {
  it('runs SQL text, or a file whose statements share one connection, and prints the last result', async () => {
    const r = JSON.parse((await cli(['sql', "SELECT count(*) AS n FROM activations WHERE layer = 'conv1'", '--store', fx.store, '--format', 'json'])).text);
    expect(r).toEqual([{ n: 2 * 40 * 3 }]);
    const file = path.join(tmp, 'q.sql');
    await fs.writeFile(file, "CREATE TEMP VIEW d AS SELECT layer, channel FROM neuron_stats WHERE dead AND step = 0;\nSELECT * FROM d ORDER BY layer, channel;\n");
    const csv = (await cli(['sql', '-f', file, '--store', fx.store, '--format', 'csv'])).text;
    expect(csv).toBe('layer,channel\r\nconv1,2\r\nfc,0\r\ngap,2\r\n');
    await expect(cli(['sql', 'SELECT 1', '-f', file, '--store', fx.store])).rejects.toThrow(/either as an argument or with -f/);
    await expect(cli(['sql', 'SELECT nope FROM samples', '--store', fx.store])).rejects.toThrow(/query failed: .*nope/);
  });
});

describe('the installed command (child process)', () => {
  it('exits 0 with the answer, and 5 (BAD_QUERY) on a bad parameter', async () => {
    const ok = await childCli(['query', 'dead_filters', '--store', fx.store, '--format', 'json']);
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout).map((r: { layer: string; channel: number }) => [r.layer, r.channel])).toEqual([['conv1', 2], ['fc', 0], ['gap', 2]]);
    const bad = await childCli(['query', 'dead_filters', '--store', fx.store, '-p', 'eps=high']);
    expect(bad.status).toBe(5);
    expect(bad.stderr).toMatch(/parameter eps must be a DOUBLE/);
  }, 60_000);
});
