import { describe, expect, it, beforeAll, afterAll, vi } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { registerLayers } from '../src/cli/layers.js';
import { saveModelDir } from '../src/model/io.js';
import { setupBackend } from '../src/model/backend.js';
import * as F from './fixtures/models.js';

let root: string;
beforeAll(async () => {
  await setupBackend('cpu');
  root = await mkdtemp(join(tmpdir(), 'nl-layers-cli-'));
  const m = F.nestedEdgeNet();
  await saveModelDir(m, join(root, 'ckpt-12'));
  m.dispose();
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Runs `neurolens layers ...args` and returns what it printed. */
async function run(...args: string[]): Promise<string> {
  const program = new Command().exitOverride();
  registerLayers(program);
  const out: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  });
  try {
    await program.parseAsync(['node', 'neurolens', 'layers', ...args, '--backend', 'cpu']);
  } finally {
    spy.mockRestore();
  }
  return out.join('');
}

describe('neurolens layers', () => {
  it('--json: kind, step and every layer (nested flattened) with its output shape', async () => {
    const r = JSON.parse(await run(join(root, 'ckpt-12'), '--json'));
    expect(r.kind).toBe('layers');
    expect(r.step).toBe(12);
    expect(r.layers.map((l: { name: string; outputShape: unknown }) => [l.name, l.outputShape])).toEqual([
      ['features', [null, 6, 6, 3]],
      ['features/conv1', [null, 6, 6, 3]],
      ['gap', [null, 3]],
      ['fc', [null, 2]],
    ]);
  });

  it('table: a header line and one aligned row per layer', async () => {
    const lines = (await run(join(root, 'ckpt-12'))).trimEnd().split('\n');
    expect(lines[0]).toMatch(/LayersModel, 4 layers, 4 tappable$/);
    expect(lines[1]).toMatch(/^name\s+kind\s+output\s+tap$/);
    expect(lines[3]).toMatch(/^features\/conv1\s+Conv2D\s+\[null,6,6,3\]\s+yes$/);
    // Columns are aligned: every row's kind and output start where the header's do.
    for (const col of ['kind', 'output']) {
      const at = lines[1].indexOf(col);
      for (const row of lines.slice(2)) expect(row.slice(at - 2, at + 1)).toMatch(/^  \S$/);
    }
  });

  it('a missing directory is a BAD_MODEL error naming it', async () => {
    await expect(run(join(root, 'nope'))).rejects.toMatchObject({ code: 'BAD_MODEL', message: expect.stringContaining(join(root, 'nope')) });
  });
});
