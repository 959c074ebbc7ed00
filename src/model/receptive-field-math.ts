/**
 * The receptive-field recurrence (Araujo, Norris & Sim, "Computing Receptive Fields of
 * Convolutional Neural Networks", Distill 2019), per spatial axis. For a layer with kernel k,
 * stride s, dilation d and padding p before the first position (top / left), on an input whose
 * units see r input pixels, spaced j apart, the first one starting at input coordinate u:
 *
 *   k' = d (k - 1) + 1          effective kernel
 *   r_out = r + (k' - 1) j      size
 *   j_out = j s                 jump (effective stride)
 *   u_out = u - p j             start: input coordinate of the first pixel seen by output 0
 *
 * Output position y then sees input pixels [u + y j, u + y j + r) (possibly outside the image:
 * that part is padding). Where paths merge (Add, Concatenate) the union is taken: the smallest
 * start and the largest end over the inputs.
 */

export type Pair = [number, number];

export interface ReceptiveField {
  /** Input pixels seen along [height, width]. */
  size: Pair;
  /** Distance in input pixels between neighbouring output positions (effective stride). */
  jump: Pair;
  /** Input coordinate of the first pixel seen by output position (0, 0); negative = padding. */
  start: Pair;
  /** The layer's output grid [height, width] (null: unknown). */
  output: Pair | null;
  /**
   * One fixed box for every position (jump 0): layers without positions (dense, global pooling)
   * see everything their input grid saw, and so do maps scaled by such a layer (squeeze-excitation).
   */
  global?: boolean;
}

/** Padding before the first position: 'same'/'valid' (TensorFlow's rule) or explicit [top, left]. */
export type Padding = 'same' | 'valid' | Pair;

export interface WindowOp {
  kernel: Pair;
  stride: Pair;
  dilation: Pair;
  padding: Padding;
}

/** The receptive field of the network input itself: one pixel per position. */
export function inputField(output: Pair | null): ReceptiveField {
  return { size: [1, 1], jump: [1, 1], start: [0, 0], output };
}

/**
 * Padding before the first window under TensorFlow's SAME rule (tfjs conv_util.computePadding):
 * total = max((ceil(n / s) - 1) s + k' - n, 0), the smaller half before. With the input size n
 * unknown, n is assumed divisible by s.
 */
export function samePadBefore(n: number | null, kEff: number, s: number): number {
  const total = n === null ? Math.max(kEff - s, 0) : Math.max((Math.ceil(n / s) - 1) * s + kEff - n, 0);
  return Math.floor(total / 2);
}

/** The field after a sliding-window layer (conv, depthwise, separable, pooling, padding). */
export function applyWindow(rf: ReceptiveField, op: WindowOp, inputHW: Pair | null, output: Pair | null): ReceptiveField {
  const size: Pair = [0, 0];
  const jump: Pair = [0, 0];
  const start: Pair = [0, 0];
  for (const a of [0, 1] as const) {
    const kEff = op.dilation[a] * (op.kernel[a] - 1) + 1;
    const pad = op.padding === 'valid' ? 0 : op.padding === 'same' ? samePadBefore(inputHW ? inputHW[a] : null, kEff, op.stride[a]) : op.padding[a];
    size[a] = rf.size[a] + (kEff - 1) * rf.jump[a];
    jump[a] = rf.jump[a] * op.stride[a];
    start[a] = rf.start[a] - pad * rf.jump[a];
  }
  return { size, jump, start, output };
}

/** A zero-padding (pad > 0) or cropping (pad < 0) layer: only the start moves. */
export function applyShift(rf: ReceptiveField, before: Pair, output: Pair | null): ReceptiveField {
  return { size: [...rf.size], jump: [...rf.jump], start: [rf.start[0] - before[0] * rf.jump[0], rf.start[1] - before[1] * rf.jump[1]], output };
}

/** A layer without positions after a grid of `grid` positions: the union of all their fields. */
export function globalField(rf: ReceptiveField, grid: Pair | null, output: Pair | null = null): ReceptiveField {
  if (rf.global) return { ...rf, output };
  if (!grid) throw new Error('the input grid of a global layer is unknown');
  return {
    size: [rf.size[0] + (grid[0] - 1) * rf.jump[0], rf.size[1] + (grid[1] - 1) * rf.jump[1]],
    jump: [0, 0],
    start: [...rf.start],
    output,
    global: true,
  };
}

/**
 * Merge of paths (Add, Concatenate, Multiply): the union of the inputs' fields. The inputs must
 * step through the image alike (same jump), otherwise one output position has no single box.
 */
export function mergeFields(rfs: ReceptiveField[], output: Pair | null): ReceptiveField {
  if (rfs.length === 1) return { ...rfs[0]!, output };
  if (rfs.some((r) => r.global)) {
    // A global input (e.g. a squeeze-excitation scale) is broadcast over the positions: every
    // position then sees everything any input saw, one fixed box (jump 0).
    const all = rfs.map((r) => (r.global ? r : globalField(r, r.output)));
    return { ...mergeFields(all, output), global: true };
  }
  const spatial = rfs;
  const j = spatial[0]!.jump;
  if (spatial.some((r) => r.jump[0] !== j[0] || r.jump[1] !== j[1])) {
    throw new Error(`merged inputs step through the image differently (jumps ${spatial.map((r) => r.jump.join('x')).join(', ')})`);
  }
  const start: Pair = [Math.min(...spatial.map((r) => r.start[0])), Math.min(...spatial.map((r) => r.start[1]))];
  const end: Pair = [Math.max(...spatial.map((r) => r.start[0] + r.size[0])), Math.max(...spatial.map((r) => r.start[1] + r.size[1]))];
  return { size: [end[0] - start[0], end[1] - start[1]], jump: [...j], start, output };
}

export interface RfBox {
  /** Half-open box [top, bottom) x [left, right) in input pixels; may reach outside the image. */
  top: number;
  left: number;
  bottom: number;
  right: number;
  /** The box clipped to the image [0, H) x [0, W). */
  clipped: { top: number; left: number; bottom: number; right: number };
  /** Rows / columns of the box outside the image on each side (padding the layer saw as zeros). */
  pad: { top: number; left: number; bottom: number; right: number };
}

/** The input region output position (y, x) of a layer sees, and how much of it is padding. */
export function rfBox(rf: ReceptiveField, y: number, x: number, input: { height: number; width: number }): RfBox {
  const top = rf.start[0] + y * rf.jump[0];
  const left = rf.start[1] + x * rf.jump[1];
  const bottom = top + rf.size[0];
  const right = left + rf.size[1];
  const clip = (v: number, n: number) => Math.min(n, Math.max(0, v));
  const clipped = { top: clip(top, input.height), left: clip(left, input.width), bottom: clip(bottom, input.height), right: clip(right, input.width) };
  if (clipped.bottom <= clipped.top || clipped.right <= clipped.left) {
    throw new Error(`position (${y}, ${x}) sees only padding: box rows [${top}, ${bottom}) cols [${left}, ${right}) lie outside the ${input.height}x${input.width} image`);
  }
  return {
    top,
    left,
    bottom,
    right,
    clipped,
    pad: { top: Math.max(0, -top), left: Math.max(0, -left), bottom: Math.max(0, bottom - input.height), right: Math.max(0, right - input.width) },
  };
}
