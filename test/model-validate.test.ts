import { describe, expect, it, beforeAll } from 'vitest';
import { tf } from '../src/model/tf.js';
import { setupBackend } from '../src/model/backend.js';
import { validateModelInput } from '../src/model/validate.js';
import { isNeurolensError } from '../src/errors.js';
import * as F from './fixtures/models.js';

const pre = (height: number, width: number, channels: 1 | 3) => ({ height, width, channels });

function message(f: () => void): string {
  try {
    f();
  } catch (e) {
    if (isNeurolensError(e) && e.code === 'BAD_MODEL') return e.message;
    throw e;
  }
  throw new Error('expected a BAD_MODEL error');
}

beforeAll(async () => {
  await setupBackend('cpu');
});

describe('validateModelInput', () => {
  it('accepts the size the model declares', () => {
    expect(() => validateModelInput({ kind: 'layers', model: F.edgeNet() }, pre(8, 8, 1))).not.toThrow();
  });

  it('names the model shape and the spec size when they differ', () => {
    const m = { kind: 'layers' as const, model: F.edgeNet() };
    expect(message(() => validateModelInput(m, pre(28, 28, 1)))).toBe('model expects [null,8,8,1], the spec gives 28x28x1 (preprocess height x width x channels)');
    expect(message(() => validateModelInput(m, pre(8, 8, 3)))).toContain('the spec gives 8x8x3');
  });

  it('graph inputs: -1 dims shown as null; mismatch caught', async () => {
    const g = { kind: 'graph' as const, model: await F.edgeGraph() };
    expect(() => validateModelInput(g, pre(8, 8, 1))).not.toThrow();
    expect(message(() => validateModelInput(g, pre(224, 224, 3)))).toContain('model expects [null,8,8,1], the spec gives 224x224x3');
  });

  it('unknown dims accept any size; clip models check frames and the last three dims', () => {
    const input = tf.input({ shape: [null, null, 3] });
    const open = tf.model({ inputs: input, outputs: tf.layers.conv2d({ filters: 2, kernelSize: 1 }).apply(input) as ReturnType<typeof tf.input> });
    expect(() => validateModelInput({ kind: 'layers', model: open }, pre(224, 320, 3))).not.toThrow();
    expect(message(() => validateModelInput({ kind: 'layers', model: open }, pre(224, 320, 1)))).toContain('[null,null,null,3]');
    const clip = { kind: 'layers' as const, model: F.clipNet() };
    expect(() => validateModelInput(clip, [2, 2, 2, 1])).not.toThrow();
    expect(message(() => validateModelInput(clip, [2, 4, 4, 1]))).toContain('model expects [null,2,2,2,1], the spec gives 2x4x4x1 (video source frames');
    expect(message(() => validateModelInput(clip, [3, 2, 2, 1]))).toContain('the spec gives 3x2x2x1');
    // Images fed to a clip model: the ranks differ.
    expect(message(() => validateModelInput(clip, pre(2, 2, 1)))).toContain('the input must be [B,H,W,C] for images');
  });

  it('refuses models with several inputs or a non-image input', () => {
    const a = tf.input({ shape: [8, 8, 1], name: 'a' });
    const b = tf.input({ shape: [8, 8, 1], name: 'b' });
    const two = tf.model({ inputs: [a, b], outputs: tf.layers.add().apply([a, b]) as ReturnType<typeof tf.input> });
    expect(message(() => validateModelInput({ kind: 'layers', model: two }, pre(8, 8, 1)))).toMatch(/2 inputs \(a, b\)/);
    const flat = tf.sequential({ layers: [tf.layers.dense({ inputShape: [64], units: 2 })] });
    expect(message(() => validateModelInput({ kind: 'layers', model: flat }, pre(8, 8, 1)))).toMatch(/model expects \[null,64\].*must be \[B,H,W,C\]/);
  });
});
