/**
 * The layout of one clip sample, shared by decode, training, pictures and attribution.
 *
 * A clip is float32 [T, H, W, A + M] (a batch is NTHWC). Channels: first the A appearance
 * channels (RGB 3 or grey 1) normalised like images, (v * scale - mean[c]) / std[c] with v on
 * 0..255; then the M motion channels:
 * - `flow` (M = 2): optical flow (u, v) from frame t to frame t + 1 in pixels per frame at the
 *   model's resolution (u to the right, v downwards), times `motion_scale`;
 * - `diff` (M = 1): luma(t + 1) - luma(t) on the 0..1 scale, times `motion_scale`;
 * - `none` (M = 0): appearance only.
 * With motion, a clip of T input frames is decoded as T + 1 frames: the motion of input frame t
 * uses frame t + 1, as in two-stream networks (Simonyan & Zisserman 2014).
 */
export type MotionKind = 'none' | 'flow' | 'diff';

export interface ClipLayout {
  frames: number;
  height: number;
  width: number;
  appearance: 1 | 3;
  motion: MotionKind;
  motionScale: number;
}

export function motionChannels(kind: MotionKind): 0 | 1 | 2 {
  return kind === 'flow' ? 2 : kind === 'diff' ? 1 : 0;
}

export function clipChannels(l: ClipLayout): number {
  return l.appearance + motionChannels(l.motion);
}

/** Frames decoded per clip: one more than the input when motion needs the next frame. */
export function decodedFrames(l: Pick<ClipLayout, 'frames' | 'motion'>): number {
  return l.motion === 'none' ? l.frames : l.frames + 1;
}

/** Floats in one clip sample. */
export function clipSize(l: ClipLayout): number {
  return l.frames * l.height * l.width * clipChannels(l);
}
