/**
 * The SQL console with large results, in a real browser (Debian's Chromium via playwright-core)
 * against real `neurolens serve` instances (in-process startServer) over a store made by a real
 * pipeline run. A 200 000-row answer is shown by the virtual table: the count equals the rows the
 * server returned, the DOM holds a window of rows, and whatever is scrolled to (the end by the
 * keyboard, the middle by an offset, a sort by a header click) shows the values SQL on the store
 * gives for those positions. A server with a small row limit says its answer was cut; downloads
 * carry every row up to the (larger) download row limit. Waits are on selectors and attributes, never on time.
 */
import fs from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseCsv } from 'csv-parse/sync';
import type { Page } from 'playwright-core';
import { ranPipelineFixture, type PipelineFixture } from './fixtures/pipeline.js';
import { close, launchChromium, openPage, ready, screenshot, screenshotsDir, type Browser } from './fixtures/browser.js';
import { setupBackend } from '../src/model/backend.js';
import { Store } from '../src/storage/index.js';
import { startServer, type RunningServer } from '../src/server/index.js';

const TOKEN = 'sql-large-4f1a';
const ROWS = 200_000;
const SMALL_LIMIT = 500;
const DOWNLOAD_LIMIT = 1500;
const COLUMNS = ['i', 'half', 'mod7', 'score', 'label', 'note'];
/** Computed columns: a number with NULLs every 11th row (sort: nulls last), text, one long cell. */
const BIG = `SELECT i, i / 2 AS half, i % 7 AS mod7,
  CASE WHEN i % 11 = 0 THEN NULL ELSE ((i * 7919) % 1000)::DOUBLE / 8 END AS score,
  'row ' || i AS label, CASE WHEN i = 3 THEN repeat('long text ', 60) ELSE 'short' END AS note
FROM range(${ROWS}) t(i) ORDER BY i`;

let fx: PipelineFixture;
let server: RunningServer;
let small: RunningServer;
let direct: Store;
let browser: Browser;
let shots: string;

type Row = Record<string, unknown>;

/** Rows of BIG in a given order, from the store's DuckDB directly. */
async function want(order: string, limit: number, offset = 0): Promise<Row[]> {
  return direct.query<Row>(`SELECT * FROM (${BIG}) ORDER BY ${order} LIMIT ${limit} OFFSET ${offset}`);
}

/** data-row and data-value of each row of the result table that is at least partly in view below the header. */
async function visibleRows(page: Page, scope: string): Promise<{ pos: number; values: string[] }[]> {
  return page.$eval(`[data-testid=${scope}] [data-testid=result-table]`, (t) => {
    const box = t.closest('.vt-scroll')!.getBoundingClientRect();
    const top = box.top + t.querySelector('thead')!.getBoundingClientRect().height;
    return [...t.querySelectorAll<HTMLElement>('tbody tr[data-row]')]
      .filter((tr) => {
        const r = tr.getBoundingClientRect();
        return r.bottom > top + 1 && r.top < box.bottom - 1;
      })
      .map((tr) => ({ pos: Number(tr.dataset.row), values: [...tr.children].map((td) => (td as HTMLElement).dataset.value ?? '') }));
  });
}

/** Shown cells equal SQL rows: numbers to 6 places, NULL as an empty cell, text exactly. */
function sameRows(got: { values: string[] }[], rows: Row[]): void {
  expect(got.length).toBe(rows.length);
  for (const [c, name] of COLUMNS.entries()) {
    const g = got.map((r) => r.values[c]!);
    const w = rows.map((r) => (typeof r[name] === 'bigint' ? Number(r[name]) : r[name]));
    if (name === 'label' || name === 'note') expect(g).toEqual(w);
    else close(g, w);
  }
}

async function runFree(page: Page, sql: string): Promise<void> {
  await page.fill('#free-sql', sql);
  await page.locator('#free-sql').press('Control+Enter');
  await page.waitForSelector('[data-testid=free-result] [data-testid=result-table]');
}

const headerWidths = (page: Page) => page.$$eval('[data-testid=free-result] [data-testid=result-table] thead th', (ths) => ths.map((th) => (th as HTMLElement).offsetWidth));
const headerInView = (page: Page) =>
  page.$eval('[data-testid=free-result] [data-testid=result-table]', (t) => {
    const box = t.closest('.vt-scroll')!.getBoundingClientRect();
    const th = t.querySelector('thead th')!.getBoundingClientRect();
    return th.top >= box.top - 1 && th.bottom <= box.bottom;
  });

beforeAll(async () => {
  await setupBackend('wasm');
  fx = await ranPipelineFixture('dash-sql', 96);
  direct = await Store.open(fx.store, { readOnly: true });
  // A limit above the big answer (the default, 100 000, would cut it), and a generous time limit
  // on a shared machine.
  server = await startServer({ store: fx.store, port: 0, token: TOKEN, rowLimit: ROWS + 1000, timeoutMs: 120_000 });
  small = await startServer({ store: fx.store, port: 0, rowLimit: SMALL_LIMIT, downloadRowLimit: DOWNLOAD_LIMIT });
  shots = await screenshotsDir(fx.dir);
  browser = await launchChromium();
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await small?.close();
  direct?.dispose();
  if (fx) await fs.rm(fx.dir, { recursive: true, force: true });
});

describe('SQL console: a large result', () => {
  it('shows 200 000 rows through a window of the DOM; the end, the middle and sorted rows equal SQL; the CSV has every row', async () => {
    const { page, errors } = await openPage(browser);
    await page.goto(`${server.url}/?token=${TOKEN}#/sql`);
    await ready(page, 'sql');
    await runFree(page, BIG);
    const scope = '[data-testid=free-result]';
    const [{ n }] = await direct.query<{ n: bigint }>(`SELECT count(*) AS n FROM (${BIG})`);
    expect(Number(await page.getAttribute(`${scope} [data-testid=result-count]`, 'data-value'))).toBe(Number(n));
    expect(await page.textContent(`${scope} [data-testid=result-count]`)).toContain(`${ROWS} rows`);
    expect(await page.locator(`${scope} [data-testid=result-truncated]`).count()).toBe(0);
    const heads = await page.$$eval(`${scope} [data-testid=result-table] thead th`, (ths) => ths.map((th) => th.textContent!.replace(/[▲▼]/g, '').trim()));
    expect(heads).toEqual(COLUMNS);
    // A window of rows, not 200 000.
    expect(await page.locator(`${scope} [data-testid=result-table] tbody tr`).count()).toBeLessThan(300);
    const first = await visibleRows(page, 'free-result');
    expect(first[0]!.pos).toBe(0);
    sameRows(first, await want('i', first.length));
    const widths = await headerWidths(page);

    // A long text cell is clipped, its whole text in the tooltip.
    const long = await page.$eval(`${scope} tr[data-row="3"] td:last-child`, (td) => ({ title: (td as HTMLElement).title, value: (td as HTMLElement).dataset.value, clipped: td.scrollWidth > td.clientWidth }));
    expect(long.title).toBe('long text '.repeat(60));
    expect(long.value).toBe('long text '.repeat(60));
    expect(long.clipped).toBe(true);

    // End on the focused body: the last row, with the right values, header in view, same widths.
    const body = page.locator(`${scope} [data-testid=result-table] tbody`);
    await body.focus();
    await body.press('End');
    await page.waitForSelector(`${scope} tr[data-row="${ROWS - 1}"].vt-active`);
    const end = await visibleRows(page, 'free-result');
    expect(end.at(-1)!.pos).toBe(ROWS - 1);
    sameRows(end, await want('i', end.length, ROWS - end.length));
    expect(await headerInView(page)).toBe(true);
    expect(await headerWidths(page)).toEqual(widths);
    expect(await page.locator(`${scope} [data-testid=result-table] tbody tr`).count()).toBeLessThan(300);

    // Home, then arrows and Page Down move the highlighted row and keep it in view.
    await body.press('Home');
    await page.waitForSelector(`${scope} tr[data-row="0"].vt-active`);
    for (let k = 0; k < 3; k++) await body.press('ArrowDown');
    await page.waitForSelector(`${scope} tr[data-row="3"].vt-active`);
    await body.press('PageDown');
    const paged = Number(await page.getAttribute(`${scope} [data-testid=result-table-status]`, 'data-active'));
    expect(paged).toBeGreaterThan(10);
    expect((await visibleRows(page, 'free-result')).map((r) => r.pos)).toContain(paged);
    await body.press('ArrowUp');
    await page.waitForSelector(`${scope} tr[data-row="${paged - 1}"].vt-active`);

    // The middle, scrolled to by an offset.
    const mid = 123_457;
    await page.$eval(`${scope} .vt-scroll`, (box, mid) => {
      const rowPx = box.querySelector('tbody tr[data-row]')!.getBoundingClientRect().height;
      box.scrollTop = mid * rowPx;
    }, mid);
    await page.waitForSelector(`${scope} tr[data-row="${mid}"]`);
    const middle = await visibleRows(page, 'free-result');
    expect(middle.map((r) => r.pos)).toContain(mid);
    sameRows(middle, await want('i', middle.length, middle[0]!.pos));
    expect(await headerInView(page)).toBe(true);
    expect(await headerWidths(page)).toEqual(widths);

    // Sort by a header click: numbers ascending with NULLs last, then descending (NULLs still last).
    await page.click(`${scope} th button[data-sort=score]`);
    await page.waitForSelector(`${scope} th[aria-sort=ascending] button[data-sort=score]`);
    let top = await visibleRows(page, 'free-result');
    expect(top[0]!.pos).toBe(0);
    sameRows(top, await want('score NULLS LAST, i', top.length));
    expect(new URLSearchParams(new URL(page.url()).hash.split('?')[1]).get('sort')).toBe('score');
    await page.click(`${scope} th button[data-sort=score]`);
    await page.waitForSelector(`${scope} th[aria-sort=descending] button[data-sort=score]`);
    top = await visibleRows(page, 'free-result');
    sameRows(top, await want('score DESC NULLS LAST, i', top.length));
    await body.press('End');
    await page.waitForSelector(`${scope} tr[data-row="${ROWS - 1}"].vt-active`);
    const tail = await visibleRows(page, 'free-result');
    sameRows(tail, await want('score DESC NULLS LAST, i', tail.length, ROWS - tail.length));
    expect(tail.at(-1)!.values[3]).toBe(''); // NULL last

    // The sort is in the address: a reload runs the SQL again, sorted the same way.
    const hash = new URLSearchParams(new URL(page.url()).hash.split('?')[1]);
    expect([hash.get('sort'), hash.get('desc')]).toEqual(['score', '1']);
    await page.reload();
    await ready(page, 'sql');
    await page.waitForSelector(`${scope} th[aria-sort=descending] button[data-sort=score]`);
    top = await visibleRows(page, 'free-result');
    sameRows(top, await want('score DESC NULLS LAST, i', top.length));

    // Text sorts as DuckDB orders it ('row 10' before 'row 2').
    await page.click(`${scope} th button[data-sort=label]`);
    await page.waitForSelector(`${scope} th[aria-sort=ascending] button[data-sort=label]`);
    top = await visibleRows(page, 'free-result');
    sameRows(top, await want('label, i', top.length));
    await screenshot(page, shots, 'sql-large');

    // The CSV download holds every row (the server's limit is above them).
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click(`${scope} [data-format=csv]`)]);
    const csv = parseCsv(await fs.readFile((await dl.path())!, 'utf8'), { columns: true }) as Row[];
    expect(csv.length).toBe(ROWS);
    for (const at of [0, mid, ROWS - 1]) {
      const [w] = await want('i', 1, at);
      expect(Number(csv[at]!.i)).toBe(Number(w!.i));
      expect(csv[at]!.label).toBe(w!.label);
      expect(csv[at]!.score === '' ? null : Number(csv[at]!.score)).toBe(w!.score);
    }
    expect(errors).toEqual([]);
    await page.close();
  });

  it('a store table over the window size: count, a sort by a float column and its end equal SQL on the store', async () => {
    const { page, errors } = await openPage(browser);
    await page.goto(`${server.url}/?token=${TOKEN}#/sql`);
    await ready(page, 'sql');
    const q = 'SELECT layer, step, sample_id, channel, max, zero_frac FROM activations ORDER BY layer, step, sample_id, channel';
    await runFree(page, q);
    const all = await direct.query<Row>(q);
    expect(all.length).toBeGreaterThan(1000); // windowed
    const scope = '[data-testid=free-result]';
    expect(Number(await page.getAttribute(`${scope} [data-testid=result-count]`, 'data-value'))).toBe(all.length);
    expect(await page.getAttribute(`${scope} [data-testid=result-table]`, 'data-windowed')).toBe('true');
    await page.click(`${scope} th button[data-sort=max]`);
    await page.click(`${scope} th button[data-sort=max]`);
    await page.waitForSelector(`${scope} th[aria-sort=descending] button[data-sort=max]`);
    const sorted = await direct.query<Row>(`SELECT * FROM (${q}) ORDER BY max DESC NULLS LAST, layer, step, sample_id, channel`);
    const top = await visibleRows(page, 'free-result');
    close(top.map((r) => r.values[4]!), sorted.slice(0, top.length).map((r) => r.max));
    close(top.map((r) => r.values[2]!), sorted.slice(0, top.length).map((r) => r.sample_id));
    const body = page.locator(`${scope} [data-testid=result-table] tbody`);
    await body.focus();
    await body.press('End');
    await page.waitForSelector(`${scope} tr[data-row="${all.length - 1}"].vt-active`);
    const end = await visibleRows(page, 'free-result');
    const tail = sorted.slice(sorted.length - end.length);
    close(end.map((r) => r.values[4]!), tail.map((r) => r.max));
    close(end.map((r) => r.values[2]!), tail.map((r) => r.sample_id));
    expect(errors).toEqual([]);
    await page.close();
  });
});

describe('SQL console: the server row limit', () => {
  it('says the answer was cut at the limit and shows those rows whole; the CSV holds every row up to the download limit', async () => {
    const { page, errors } = await openPage(browser);
    await page.goto(`${small.url}/#/sql`);
    await ready(page, 'sql');
    await runFree(page, 'SELECT i, i * i AS sq FROM range(1000) t(i) ORDER BY i');
    const scope = '[data-testid=free-result]';
    const cut = page.locator(`${scope} [data-testid=result-truncated]`);
    await cut.waitFor();
    expect(await cut.getAttribute('data-limit')).toBe(String(SMALL_LIMIT));
    expect(await cut.textContent()).toMatch(new RegExp(`first ${SMALL_LIMIT} rows.*row limit.*downloads below hold more.*--download-row-limit`, 's'));
    expect(Number(await page.getAttribute(`${scope} [data-testid=result-count]`, 'data-value'))).toBe(SMALL_LIMIT);
    // Small enough to be whole in the DOM, in the server's order.
    const want = await direct.query<Row>(`SELECT i, i * i AS sq FROM range(1000) t(i) ORDER BY i LIMIT ${SMALL_LIMIT}`);
    const shown = await page.$$eval(`${scope} [data-testid=result-table] tbody tr`, (trs) => trs.map((tr) => [...tr.children].map((td) => (td as HTMLElement).dataset.value)));
    expect(shown).toEqual(want.map((r) => [String(r.i), String(r.sq)]));
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click(`${scope} [data-format=csv]`)]);
    const csv = parseCsv(await fs.readFile((await dl.path())!, 'utf8'), { columns: true }) as Row[];
    // The download is not cut at the table's limit: all 1000 rows.
    expect(csv.length).toBe(1000);
    expect(csv.at(-1)).toEqual({ i: '999', sq: String(999 ** 2) });
    // ... but at the download limit, and says so in its header.
    const big = await fetch(`${small.url}/api/sql?format=csv`, { method: 'POST', body: 'SELECT i FROM range(2000) t(i) ORDER BY i' });
    expect(big.headers.get('X-Neurolens-Truncated')).toBe('true');
    expect(Number(big.headers.get('X-Neurolens-Rows'))).toBe(DOWNLOAD_LIMIT);
    expect(parseCsv(await big.text(), { columns: true }).length).toBe(DOWNLOAD_LIMIT);
    await screenshot(page, shots, 'sql-truncated');

    // An answer under the limit says nothing of the kind.
    await runFree(page, 'SELECT 1 AS one');
    await page.waitForSelector(`${scope} [data-testid=result-count][data-value="1"]`);
    expect(await page.locator(`${scope} [data-testid=result-truncated]`).count()).toBe(0);
    expect(errors).toEqual([]);
    await page.close();
  });
});
