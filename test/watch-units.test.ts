/**
 * The pieces of `neurolens watch` in-process: durations, schedules (ticks skipped inside a long
 * run), the completeness rule for model directories, and the lock's stale/live decision.
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { WatchLock, checkModelFiles, cronSchedule, everySchedule, parseDuration, whyStale } from '../src/watch/index.js';

describe('watch units', () => {
  it('parses durations strictly', () => {
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('2')).toBe(2000);
    for (const bad of ['30x', '', 's', '0s', '1h 30m', '-1s']) expect(() => parseDuration(bad, '--every')).toThrow(/--every/);
  });

  it('counts the ticks a long run swallowed and finds the next one', () => {
    const s = everySchedule(1000, 10_000);
    expect(s.nextAtOrAfter(10_000)).toBe(10_000);
    expect(s.nextAtOrAfter(10_001)).toBe(11_000);
    // A run from the tick at 10 s to 13.5 s: ticks 11, 12, 13 fell inside.
    expect(s.countBetween(10_000, 13_500)).toBe(3);
    expect(s.countBetween(10_000, 10_999)).toBe(0);
    expect(s.countBetween(10_000, 11_000)).toBe(0); // 11 s is the next tick itself, not skipped
    const c = cronSchedule('*/10 * * * *');
    const t0 = new Date(2024, 0, 1, 0, 0, 0).getTime();
    expect(c.periodMs).toBe(600_000);
    expect(c.nextAtOrAfter(t0)).toBe(t0);
    expect(c.nextAtOrAfter(t0 + 1)).toBe(t0 + 600_000);
    expect(c.countBetween(t0, t0 + 35 * 60_000)).toBe(3);
    expect(() => cronSchedule('*/10 * *')).toThrow(/--cron.*five fields/);
    expect(() => cronSchedule('61 * * * *')).toThrow(/--cron/);
  });

  it('a model dir is complete only when every manifest group holds exactly its bytes', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nl-watch-units-'));
    expect((await checkModelFiles(dir)).state).toBe('incomplete'); // no model.json yet
    const json = { modelTopology: { class_name: 'Sequential' }, format: 'layers-model', weightsManifest: [{ paths: ['w.bin'], weights: [{ name: 'k', shape: [3, 4], dtype: 'float32' }, { name: 'q', shape: [2], dtype: 'float32', quantization: { dtype: 'uint8' } }] }] };
    const text = JSON.stringify(json);
    await fs.writeFile(path.join(dir, 'model.json'), text.slice(0, 40));
    expect(await checkModelFiles(dir)).toMatchObject({ state: 'incomplete', reason: /does not parse/ });
    await fs.writeFile(path.join(dir, 'model.json'), text);
    expect(await checkModelFiles(dir)).toMatchObject({ state: 'incomplete', reason: /w\.bin .*does not exist/ });
    await fs.writeFile(path.join(dir, 'w.bin'), new Uint8Array(49));
    expect(await checkModelFiles(dir)).toMatchObject({ state: 'incomplete', reason: /49 of the 50 bytes/ });
    await fs.writeFile(path.join(dir, 'w.bin'), new Uint8Array(50)); // 12 x 4 + 2 x 1
    expect(await checkModelFiles(dir)).toEqual({ state: 'ok', files: { 'model.json': text.length, 'w.bin': 50 } });
    await fs.writeFile(path.join(dir, 'w.bin'), new Uint8Array(51));
    expect(await checkModelFiles(dir)).toMatchObject({ state: 'bad', reason: /more than the 50/ });
    await fs.writeFile(path.join(dir, 'model.json'), '{"hello": 1}');
    expect(await checkModelFiles(dir)).toMatchObject({ state: 'bad', reason: /modelTopology/ });
  });

  it('a lock whose holder is alive refuses; a dead holder is taken over', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'nl-watch-lock-'));
    const file = path.join(dir, 'x.lock');
    const info = { spec: '/s.yaml', spec_hash: 'h', store: dir };
    const a = await WatchLock.acquire(file, info);
    expect(a.takeover).toBeNull();
    await expect(WatchLock.acquire(file, info)).rejects.toThrow(/another neurolens watch already watches this store and spec: pid \d+/);
    await a.release();
    await expect(fs.stat(file)).rejects.toThrow();

    // A holder that has exited: the pid no longer exists.
    const child = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => child.on('exit', r));
    const dead = { pid: child.pid!, host: os.hostname(), started_at: '2024-01-01T00:00:00Z', ...info };
    expect(whyStale(dead)).toMatch(/not running/);
    await fs.writeFile(file, JSON.stringify(dead));
    const b = await WatchLock.acquire(file, info);
    expect(b.takeover).toMatchObject({ previous: { pid: child.pid }, reason: /not running/ });
    expect(JSON.parse(await fs.readFile(file, 'utf8')).pid).toBe(process.pid);
    await b.release();

    // A live pid that started at another time than recorded is a reused pid: stale.
    expect(whyStale({ ...dead, pid: process.pid, proc_start: '1' })).toMatch(/reused/);
    // Another host cannot be checked: live.
    expect(whyStale({ ...dead, host: 'elsewhere.example' })).toBeNull();
  });
});
