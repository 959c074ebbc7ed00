/**
 * The SQL endpoint under attack, over real HTTP against a real store: every attempt to read or
 * write outside the store, change settings, run extra statements or install extensions is
 * refused with a clear 400, oversized answers are cut by the row limit, endless queries by the
 * time limit, oversized bodies get 413, and the server keeps serving after each.
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePipelineFixture, type PipelineFixture } from './fixtures/pipeline.js';
import { setupBackend } from '../src/model/backend.js';
import { loadSpec } from '../src/pipeline/spec.js';
import { runPipeline } from '../src/pipeline/runner.js';
import { startServer, type RunningServer } from '../src/server/index.js';

const ROW_LIMIT = 1000;
const TIMEOUT_MS = 3000;
const MAX_BODY = 4096;
let fx: PipelineFixture;
let server: RunningServer;
let outside: string;

async function sql(q: string, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown; headers: Headers }> {
  const r = await fetch(`${server.url}/api/sql`, { method: 'POST', body: JSON.stringify({ sql: q }), headers: { 'Content-Type': 'application/json', ...headers } });
  const text = await r.text();
  return { status: r.status, body: text.startsWith('[') || text.startsWith('{') ? JSON.parse(text) : text, headers: r.headers };
}

async function healthy(): Promise<void> {
  const r = await fetch(`${server.url}/healthz`);
  expect(r.status).toBe(200);
  const n = await sql('SELECT count(*) AS n FROM activations');
  expect(n.status).toBe(200);
  expect(Number((n.body as { n: number }[])[0]!.n)).toBeGreaterThan(0);
}

beforeAll(async () => {
  await setupBackend('wasm');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nl-server-sec-'));
  outside = await fs.mkdtemp(path.join(os.tmpdir(), 'nl-outside-'));
  await fs.writeFile(path.join(outside, 'secret.csv'), 'secret\nhunter2\n');
  fx = await makePipelineFixture(dir, 24);
  expect((await runPipeline(await loadSpec(fx.specFile), { workers: 1, backend: 'wasm' })).status).toBe('succeeded');
  server = await startServer({ store: fx.store, port: 0, rowLimit: ROW_LIMIT, timeoutMs: TIMEOUT_MS, maxBodyBytes: MAX_BODY, memoryLimitBytes: 192 * 2 ** 20 });
}, 180_000);

afterAll(async () => {
  await server?.close();
  if (fx) await fs.rm(fx.dir, { recursive: true, force: true });
  if (outside) await fs.rm(outside, { recursive: true, force: true });
});

describe('server: SQL endpoint security', () => {
  it('still answers legitimate read-only queries (positive controls)', async () => {
    for (const q of [
      'DESCRIBE activations',
      'SUMMARIZE SELECT max FROM activations',
      'EXPLAIN SELECT count(*) FROM activations',
      'FROM neuron_stats LIMIT 2',
      'WITH t AS (SELECT 1 AS x) SELECT * FROM t',
      `SELECT count(*) AS n FROM read_parquet('${fx.store}/activations/*/*/*/*/*.parquet')`,
      `SELECT count(*) AS n FROM glob('${fx.store}/_commits/*/*/*/*.json')`,
    ]) {
      const r = await sql(q);
      expect(r.status, `${q}: ${JSON.stringify(r.body)}`).toBe(200);
    }
  });

  const attacks: [string, string, RegExp][] = [
    ['read_csv /etc/passwd', "SELECT * FROM read_csv('/etc/passwd', sep = ':')", /disabled by configuration|Permission/],
    ['read_text /etc/passwd', "SELECT * FROM read_text('/etc/passwd')", /disabled by configuration|Permission/],
    ['read_blob /etc/passwd', "SELECT * FROM read_blob('/etc/passwd')", /disabled by configuration|Permission/],
    ['glob /etc', "SELECT * FROM glob('/etc/*')", /disabled by configuration|Permission/],
    ['read_parquet /etc', "SELECT * FROM read_parquet('/etc/../etc/x.parquet')", /disabled by configuration|Permission/],
    ['replacement scan', "SELECT * FROM '/etc/passwd'", /does not exist|disabled|Permission/],
    ['environment', "SELECT * FROM read_text('/proc/self/environ')", /disabled by configuration|Permission/],
    ['COPY to /tmp', "COPY (SELECT 1) TO '__OUT__/x.csv'", /COPY statement is refused/],
    ['EXPLAIN ANALYZE COPY', "EXPLAIN ANALYZE COPY (SELECT 1) TO '__OUT__/y.csv'", /refused/],
    ['ATTACH', "ATTACH '__OUT__/x.db'", /ATTACH statement is refused/],
    ['INSTALL', 'INSTALL httpfs', /INSTALL statement is refused/],
    ['LOAD', 'LOAD httpfs', /LOAD statement is refused/],
    ['SET', 'SET enable_external_access = true', /SET statement is refused/],
    ['RESET', 'RESET lock_configuration', /statement is refused/],
    ['PRAGMA', 'PRAGMA enable_profiling', /PRAGMA statement is refused/],
    ['PRAGMA import', "PRAGMA import_database('__OUT__')", /PRAGMA statement is refused/],
    ['second statement', 'SELECT 1; DROP VIEW activations', /second statement|exactly one/],
    ['two selects', 'SELECT 1; SELECT 2', /exactly one statement/],
    ['CREATE TABLE', 'CREATE TABLE t AS SELECT 1 AS x', /CREATE statement is refused/],
    ['replace view', 'CREATE OR REPLACE VIEW activations AS SELECT 1 AS x', /CREATE statement is refused/],
    ['DROP', 'DROP VIEW activations', /DROP statement is refused/],
    ['hidden SQL', "SELECT * FROM query('DROP VIEW activations')", /query\(\) is not allowed/],
    ['file logging', "SELECT * FROM enable_logging(storage = 'file', storage_path = '__STORE__/logs')", /enable_logging\(\) is not allowed/],
    ['CALL', 'CALL enable_logging()', /CALL statement is refused/],
    ['checkpoint', 'SELECT * FROM force_checkpoint()', /not allowed/],
    ['pointer scan', 'SELECT * FROM arrow_scan(0, 0, 0)', /not allowed/],
    ['outside file', "SELECT * FROM read_csv('__OUT__/secret.csv')", /disabled by configuration|Permission/],
    ['dot-dot escape', "SELECT * FROM read_csv('__STORE__/../../../../../../etc/passwd')", /disabled by configuration|Permission/],
    // Refused by the memory limit, or by the time limit first on a slow or loaded machine.
    ['memory hog', 'SELECT list(range) FROM range(200000000)', /Out of Memory|ran past the time/],
    ['parse error', 'SELEC 1', /cannot parse/],
    ['empty', '   ', /empty query/],
  ];

  for (const [name, q, why] of attacks) {
    it(`refuses: ${name}`, async () => {
      const text = q.replaceAll('__OUT__', outside).replaceAll('__STORE__', fx.store);
      const r = await sql(text);
      expect(r.status, JSON.stringify(r.body)).toBe(400);
      const body = r.body as { error: string; code: string };
      expect(body.code).toBe('BAD_QUERY');
      expect(body.error).toMatch(why);
      await healthy();
    });
  }

  it('wrote nothing anywhere', async () => {
    const secret = (p: string) => path.join(outside, p);
    expect(existsSync(secret('x.csv'))).toBe(false);
    expect(existsSync(secret('y.csv'))).toBe(false);
    expect(existsSync(secret('x.db'))).toBe(false);
    expect(existsSync(path.join(fx.store, 'logs'))).toBe(false);
    // The configuration is still locked down.
    const r = await sql("SELECT value FROM duckdb_settings() WHERE name IN ('enable_external_access', 'lock_configuration') ORDER BY name");
    expect((r.body as { value: string }[]).map((x) => x.value)).toEqual(['false', 'true']);
  });

  it('cuts huge answers at the row limit and says so', async () => {
    const r = await sql('SELECT * FROM range(1000000000)');
    expect(r.status).toBe(200);
    expect(r.headers.get('x-neurolens-truncated')).toBe('true');
    expect(r.headers.get('x-neurolens-rows')).toBe(String(ROW_LIMIT));
    expect((r.body as unknown[]).length).toBe(ROW_LIMIT);
    const small = await sql(`SELECT * FROM range(${ROW_LIMIT})`);
    expect(small.headers.get('x-neurolens-truncated')).toBeNull();
    expect((small.body as unknown[]).length).toBe(ROW_LIMIT);
    await healthy();
  });

  it('cancels an endless query at the time limit while other requests are answered', async () => {
    const endless = sql('WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t) SELECT count(*) FROM t');
    // While it runs: /healthz and a quick query on the other connection slot.
    let answered = 0;
    let settled = false;
    void endless.finally(() => (settled = true));
    while (!settled && answered < 5) {
      const h = await fetch(`${server.url}/healthz`);
      const q = await sql('SELECT 42 AS x');
      expect(h.status).toBe(200);
      expect(q.body).toEqual([{ x: 42 }]);
      if (!settled) answered++;
    }
    const r = await endless;
    expect(r.status).toBe(400);
    expect((r.body as { error: string }).error).toMatch(/time limit of 3000 ms/);
    expect(answered).toBeGreaterThan(0);
    await healthy();
  });

  it('refuses a body over the size limit with 413', async () => {
    const big = `SELECT '${'x'.repeat(MAX_BODY + 10)}'`;
    const r = await fetch(`${server.url}/api/sql`, { method: 'POST', body: big, headers: { 'Content-Type': 'text/plain' } });
    expect(r.status).toBe(413);
    expect(await r.json()).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
    await healthy();
  });
});
