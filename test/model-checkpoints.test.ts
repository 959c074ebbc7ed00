import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listCheckpoints, stepFromDirName } from '../src/model/checkpoints.js';
import { saveModelDir } from '../src/model/io.js';
import { setupBackend } from '../src/model/backend.js';
import { isNeurolensError, type ErrorCode } from '../src/errors.js';
import * as F from './fixtures/models.js';

let root: string;

/** A model directory whose model.json carries only what listCheckpoints reads. */
async function modelDir(rel: string, userDefinedMetadata?: object): Promise<string> {
  const dir = join(root, rel);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'model.json'), JSON.stringify({ format: 'layers-model', modelTopology: {}, weightsManifest: [], userDefinedMetadata }));
  return dir;
}

async function rejection(p: Promise<unknown>): Promise<{ code: ErrorCode; message: string }> {
  try {
    await p;
  } catch (e) {
    if (isNeurolensError(e)) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('expected a NeurolensError');
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'nl-ckpt-'));
  await modelDir('run1/ckpt-000300');
  await modelDir('run1/ckpt-000100');
  await modelDir('run1/ckpt-1000');
  await mkdir(join(root, 'run1/logs')); // not a model directory: ignored by the glob
  await modelDir('run2/final', { neurolens: { step: 5000 } });
  await modelDir('run2/step_7', { step: 20 }); // metadata wins over the name
  await modelDir('run2/ckpt-9');
  await modelDir('dup/step_300');
  await modelDir('dup/ckpt-300');
  await modelDir('nostep/ckpt-1');
  await modelDir('nostep/best');
  await modelDir('bad/ckpt-1', { neurolens: { step: -3 } });
  await modelDir('single');
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('listCheckpoints', () => {
  it('steps from directory names, sorted by step; non-model directories ignored', async () => {
    const c = await listCheckpoints('run1/*', root);
    expect(c.map((x) => [x.name, x.step, x.stepFrom])).toEqual([
      ['ckpt-000100', 100, 'dirname'],
      ['ckpt-000300', 300, 'dirname'],
      ['ckpt-1000', 1000, 'dirname'],
    ]);
    expect(c[0].dir).toBe(join(root, 'run1/ckpt-000100'));
  });

  it('steps from model.json metadata (neurolens.step, then step) before the name', async () => {
    const c = await listCheckpoints('run2/*', root);
    expect(c.map((x) => [x.name, x.step, x.stepFrom])).toEqual([
      ['ckpt-9', 9, 'dirname'],
      ['step_7', 20, 'metadata'],
      ['final', 5000, 'metadata'],
    ]);
  });

  it('a pattern may name the model.json files; absolute patterns work', async () => {
    expect((await listCheckpoints('run1/ckpt-0*/model.json', root)).map((x) => x.step)).toEqual([100, 300]);
    expect((await listCheckpoints(join(root, 'run1/ckpt-0*'), '/')).map((x) => x.step)).toEqual([100, 300]);
  });

  it('reads the step saveModelDir writes', async () => {
    await setupBackend('cpu');
    const m = F.edgeNet();
    await saveModelDir(m, join(root, 'saved/latest'), { step: 42 });
    m.dispose();
    expect((await listCheckpoints('saved/*', root)).map((x) => [x.name, x.step, x.stepFrom])).toEqual([['latest', 42, 'metadata']]);
  });

  it('a single directory is a series of one (step 0 when it has none)', async () => {
    expect(await listCheckpoints('single', root)).toEqual([{ dir: join(root, 'single'), step: 0, name: 'single', stepFrom: 'default' }]);
    expect((await listCheckpoints('run1/ckpt-000300/', root)).map((x) => x.step)).toEqual([300]);
  });

  it('no match is NOT_FOUND naming the glob', async () => {
    const e = await rejection(listCheckpoints('nowhere/ckpt-*', root));
    expect(e.code).toBe('NOT_FOUND');
    expect(e.message).toContain("no model directories match 'nowhere/ckpt-*'");
    const s = await rejection(listCheckpoints('missing-dir', root));
    expect(s.code).toBe('NOT_FOUND');
    expect(s.message).toContain(join(root, 'missing-dir'));
  });

  it('a directory of a series without any step is an error naming it', async () => {
    const e = await rejection(listCheckpoints('nostep/*', root));
    expect(e.code).toBe('BAD_MODEL');
    expect(e.message).toContain(join(root, 'nostep/best'));
    expect(e.message).toContain('no training step');
  });

  it('duplicate steps are an error naming both directories', async () => {
    const e = await rejection(listCheckpoints('dup/*', root));
    expect(e.message).toMatch(/ckpt-300 and .*step_300 both have step 300/);
  });

  it('an invalid metadata step is an error naming the field', async () => {
    const e = await rejection(listCheckpoints('bad/*', root));
    expect(e.code).toBe('BAD_MODEL');
    expect(e.message).toContain('userDefinedMetadata.neurolens.step must be a non-negative integer, got -3');
  });
});

describe('stepFromDirName', () => {
  it.each([
    ['ckpt-000300', 300],
    ['step_300', 300],
    ['300', 300],
    ['model_v2_12', 12],
    ['best', null],
    ['resnet50', null],
  ])('%s -> %s', (name, step) => {
    expect(stepFromDirName(`/x/${name}`)).toBe(step);
  });
});
