import { describe, expect, it, beforeAll } from 'vitest';
import { tf } from '../src/model/tf.js';
import { setupBackend } from '../src/model/backend.js';
import { listLayers, resolveLayers, closeMatches } from '../src/model/layers.js';
import { isNeurolensError, type ErrorCode } from '../src/errors.js';
import * as F from './fixtures/models.js';

function thrown(f: () => unknown): { code: ErrorCode; message: string } {
  try {
    f();
  } catch (e) {
    if (isNeurolensError(e)) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('expected a NeurolensError');
}

/** A model with a rank-3 output ([B, 2, 4]): no channel axis to pool over as images or clips. */
function seqNet() {
  const m = tf.sequential();
  m.add(tf.layers.dense({ name: 'proj', inputShape: [4], units: 8 }));
  m.add(tf.layers.reshape({ name: 'as_seq', targetShape: [2, 4] }));
  m.add(tf.layers.flatten({ name: 'flat' }));
  return m;
}

beforeAll(async () => {
  await setupBackend('cpu');
});

describe('listLayers', () => {
  it('LayersModel: name, class name, output shape', () => {
    const m = F.edgeNet();
    expect(listLayers(m).map((l) => [l.name, l.kind, l.outputShape, l.tappable])).toEqual([
      ['conv1', 'Conv2D', [null, 6, 6, 3], true],
      ['gap', 'GlobalAveragePooling2D', [null, 3], true],
      ['fc', 'Dense', [null, 2], true],
      ['probs', 'Activation', [null, 2], true],
    ]);
  });

  it('nested models are flattened as outer/inner', () => {
    const names = listLayers(F.nestedEdgeNet()).map((l) => `${l.name}:${l.kind}`);
    expect(names).toEqual(['features:Sequential', 'features/conv1:Conv2D', 'gap:GlobalAveragePooling2D', 'fc:Dense']);
  });

  it('GraphModel: nodes with ops and shapes from one zero pass; weights (Const) left out; no tensor leak', async () => {
    const g = await F.edgeGraph();
    const base = tf.memory().numTensors;
    const layers = listLayers(g);
    expect(tf.memory().numTensors).toBe(base);
    expect(layers.map((l) => [l.name, l.kind, l.outputShape])).toEqual([
      ['x', 'Placeholder', [null, 8, 8, 1]],
      ['conv1/Conv2D', 'Conv2D', [null, 6, 6, 3]],
      ['conv1/BiasAdd', 'BiasAdd', [null, 6, 6, 3]],
      ['conv1/Relu', 'Relu', [null, 6, 6, 3]],
      ['gap/Mean', 'Mean', [null, 3]],
      ['fc/MatMul', 'MatMul', [null, 2]],
      ['fc/BiasAdd', 'BiasAdd', [null, 2]],
      ['probs', 'Softmax', [null, 2]],
    ]);
  });

  it('marks rank-3 outputs as not tappable and says why', () => {
    const seq = listLayers(seqNet()).find((l) => l.name === 'as_seq');
    expect(seq).toMatchObject({ tappable: false, outputShape: [null, 2, 4] });
    expect(seq?.why).toMatch(/rank 3/);
  });
});

describe('resolveLayers', () => {
  it('exact names and globs, in model order, deduplicated', () => {
    const m = F.edgeNet();
    expect(resolveLayers(m, ['fc', 'conv*', 'conv1']).map((l) => l.name)).toEqual(['conv1', 'fc']);
    expect(resolveLayers(m, ['*']).map((l) => l.name)).toEqual(['conv1', 'gap', 'fc', 'probs']);
  });

  it('graph globs: `*` stops at `/`, inputs are not picked by globs, `:0` suffix accepted', async () => {
    const g = await F.edgeGraph();
    expect(resolveLayers(g, ['conv1/*']).map((l) => l.name)).toEqual(['conv1/Conv2D', 'conv1/BiasAdd', 'conv1/Relu']);
    expect(resolveLayers(g, ['*']).map((l) => l.name)).toEqual(['probs']);
    expect(resolveLayers(g, ['*/*Add']).map((l) => l.name)).toEqual(['conv1/BiasAdd', 'fc/BiasAdd']);
    expect(resolveLayers(g, ['conv1/Relu:0']).map((l) => l.name)).toEqual(['conv1/Relu']);
  });

  it('nested layers by their outer/inner name', () => {
    expect(resolveLayers(F.nestedEdgeNet(), ['features/*']).map((l) => l.name)).toEqual(['features/conv1']);
  });

  it('an unknown name is NOT_FOUND and suggests the close names', () => {
    const m = F.edgeNet();
    const e = thrown(() => resolveLayers(m, ['conv2']));
    expect(e.code).toBe('NOT_FOUND');
    expect(e.message).toMatch(/layer 'conv2' is not in the model; did you mean: conv1/);
    expect(thrown(() => resolveLayers(m, ['fcc'])).message).toMatch(/did you mean: fc,/);
  });

  it('a glob that matches nothing is NOT_FOUND naming the pattern', () => {
    const e = thrown(() => resolveLayers(F.edgeNet(), ['block_*']));
    expect(e.code).toBe('NOT_FOUND');
    expect(e.message).toMatch(/pattern 'block_\*' matches no tappable layer/);
  });

  it('an untappable layer named exactly is an error; a glob skips it', () => {
    const m = seqNet();
    const e = thrown(() => resolveLayers(m, ['as_seq']));
    expect(e.code).toBe('BAD_SPEC');
    expect(e.message).toMatch(/layer 'as_seq' \(Reshape, output \[null,2,4\]\) cannot be tapped: output has rank 3/);
    expect(resolveLayers(m, ['*']).map((l) => l.name)).toEqual(['proj', 'flat']);
  });

  it('closeMatches ranks by edit distance, at most five', () => {
    const names = ['block_1_expand', 'block_2_expand', 'block_1_project', 'Conv1', 'Conv_1', 'a', 'b'];
    const m = closeMatches('block_1_expnd', names);
    expect(m).toHaveLength(5);
    expect(m.slice(0, 2)).toEqual(['block_1_expand', 'block_2_expand']);
  });
});
