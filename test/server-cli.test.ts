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
import { ranPipelineFixture } from './fixtures/pipeline.js';

/** Starts `neurolens serve ARGS` and resolves with its URL from the "serving" line on stderr. */
async function serveProcess(args: string[], env: Record<string, string> = {}): Promise<{ url: string; line: string; stop(): Promise<number | null> }> {
  const child = spawn(process.execPath, [NEUROLENS_BIN, 'serve', ...args, '--port', '0'], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async () => {
    child.kill('SIGTERM');
    return exited;
  };
  try {
    const line = await new Promise<string>((resolve, reject) => {
      const rl = createInterface({ input: child.stderr! });
      rl.on('line', (l) => {
        if (l.includes('serving')) resolve(l);
      });
      child.once('exit', (code) => reject(new Error(`serve exited early with ${code}`)));
    });
    const url = /at (http:\/\/127\.0\.0\.1:\d+)/.exec(line)?.[1];
    if (!url) throw new Error(`no URL in: ${line}`);
    return { url, line, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

describe('neurolens serve (CLI)', () => {
  it('serves until SIGTERM, with the token from the environment', async () => {
    const store = await fs.mkdtemp(path.join(os.tmpdir(), 'nl-serve-cli-'));
    const server = await serveProcess(['--store', store], { NEUROLENS_TOKEN: 'env-token' });
    let code: number | null = null;
    try {
      expect(server.line).toMatch(/bearer token required/);
      const url = server.url;
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      expect((await fetch(`${url}/api/queries`)).status).toBe(401);
      const r = await fetch(`${url}/api/sql`, { method: 'POST', body: 'SELECT count(*) AS n FROM activations', headers: { Authorization: 'Bearer env-token' } });
      expect(r.status).toBe(200);
      expect(await r.json()).toEqual([{ n: 0 }]);
    } finally {
      code = await server.stop();
    }
    expect(code).toBe(0);
    await fs.rm(store, { recursive: true, force: true });
  });

  // The server process sets a tfjs backend up itself when a picture needs a model (tests that
  // start the server in-process have one already, so only a real process shows this).
  it('draws pictures that load the model (layer tiles, actmax in its worker) as a process of its own', async () => {
    const fx = await ranPipelineFixture('serve-cli-pictures', 8);
    const server = await serveProcess(['--store', fx.store, '--picture-cache', path.join(fx.dir, 'pictures')]);
    try {
      const tiles = await fetch(`${server.url}/api/layers/conv1/tiles.png`);
      expect(tiles.status, await tiles.clone().text()).toBe(200);
      expect(tiles.headers.get('content-type')).toBe('image/png');
      const mosaic = await fetch(`${server.url}/api/neurons/conv1/1/mosaic.png?k=4`);
      expect(mosaic.status).toBe(200);
      const actmax = await fetch(`${server.url}/api/pictures/actmax/conv1/1.json?steps=8`);
      expect(actmax.status, await actmax.clone().text()).toBe(200);
      expect(((await actmax.json()) as { layer: string }).layer).toBe('conv1');
    } finally {
      expect(await server.stop()).toBe(0);
      await fs.rm(fx.dir, { recursive: true, force: true });
    }
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
