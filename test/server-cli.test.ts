/**
 * `neurolens serve` as a real child process: binds loopback on the port asked (0 = any), takes
 * the token from NEUROLENS_TOKEN, serves an empty store (typed empty views), and exits 0 on
 * SIGTERM.
 */
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { NEUROLENS_BIN } from './helpers/cli.js';

describe('neurolens serve (CLI)', () => {
  it('serves until SIGTERM, with the token from the environment', async () => {
    const store = await fs.mkdtemp(path.join(os.tmpdir(), 'nl-serve-cli-'));
    const child = spawn(process.execPath, [NEUROLENS_BIN, 'serve', '--store', store, '--port', '0'], {
      env: { ...process.env, NEUROLENS_TOKEN: 'env-token' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const line = await new Promise<string>((resolve, reject) => {
        const rl = createInterface({ input: child.stderr! });
        rl.on('line', (l) => {
          if (l.includes('serving')) resolve(l);
        });
        child.once('exit', (code) => reject(new Error(`serve exited early with ${code}`)));
      });
      expect(line).toMatch(/bearer token required/);
      const url = /at (http:\/\/127\.0\.0\.1:\d+)/.exec(line)?.[1];
      expect(url).toBeDefined();
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      expect((await fetch(`${url}/api/queries`)).status).toBe(401);
      const r = await fetch(`${url}/api/sql`, { method: 'POST', body: 'SELECT count(*) AS n FROM activations', headers: { Authorization: 'Bearer env-token' } });
      expect(r.status).toBe(200);
      expect(await r.json()).toEqual([{ n: 0 }]);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    await fs.rm(store, { recursive: true, force: true });
  });

  it('exits with the NOT_FOUND code for a missing store', async () => {
    const child = spawn(process.execPath, [NEUROLENS_BIN, 'serve', '--store', path.join(os.tmpdir(), 'nl-no-such-store-x9'), '--port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(6);
    expect(err).toMatch(/does not exist/);
  });
});
