/**
 * The temporal extent of receptive fields in video networks (NTHWC, rank-5 maps): the same
 * Distill 2019 recurrence as receptive-field-math.ts, on the time axis alone, so a picture can
 * say which input frames one output position (t, y, x) sees. Spatial fields keep their [h, w]
 * pairs; a rank-5 layer's field carries `time` as an extra property (ClipField), which 2-D
 * models never get, so image results are unchanged.
 *
 * Conv3D / MaxPooling3D / AveragePooling3D take the first entry of kernel / pool / strides /
 * dilation ([t, h, w]); 'same' padding follows TensorFlow's rule as in 2-D (samePadBefore).
 */
import { samePadBefore, type ReceptiveField } from './receptive-field-math.js';

export interface TimeField {
  /** Input frames seen by one output position. */
  size: number;
  /** Input frames between neighbouring output positions in time (0: one fixed range). */
  jump: number;
  /** First input frame seen by output position t = 0 (negative: temporal padding). */
  start: number;
  /** Output positions in time (null: unknown). */
  output: number | null;
  global?: boolean;
}

export type ClipField = ReceptiveField & { time?: TimeField };

export interface TimeWindow {
  kernel: number;
  stride: number;
  dilation: number;
  padding: 'same' | 'valid';
}

/** The time field of a clip field, or null (image layers, unknown temporal geometry). */
export function timeOf(f: ReceptiveField): TimeField | null {
  return (f as ClipField).time ?? null;
}

/** `f` with this time field (or none: a copied stale one is dropped). */
export function withTime(f: ReceptiveField, time: TimeField | null): ClipField {
  const { time: _stale, ...spatial } = f as ClipField;
  return time ? { ...spatial, time } : spatial;
}

/** The network input: one frame per position. */
export function inputTime(frames: number | null): TimeField {
  return { size: 1, jump: 1, start: 0, output: frames };
}

export function applyTimeWindow(t: TimeField, op: TimeWindow, inFrames: number | null, outFrames: number | null): TimeField {
  if (t.global) return { ...t, output: outFrames };
  const kEff = op.dilation * (op.kernel - 1) + 1;
  const pad = op.padding === 'valid' ? 0 : samePadBefore(inFrames, kEff, op.stride);
  return { size: t.size + (kEff - 1) * t.jump, jump: t.jump * op.stride, start: t.start - pad * t.jump, output: outFrames };
}

/** Every position of a grid of `frames` positions at once (flatten, dense, global pooling). */
export function globalTime(t: TimeField, frames: number | null, output: number | null = null): TimeField {
  if (t.global) return { ...t, output };
  if (frames === null) throw new Error('the time axis of a global layer is unknown');
  return { size: t.size + (frames - 1) * t.jump, jump: 0, start: t.start, output, global: true };
}

/** Union of merged paths (Concatenate, Add); they must step through time alike. */
export function mergeTimes(ts: TimeField[], output: number | null): TimeField {
  if (ts.length === 1) return { ...ts[0]!, output };
  if (ts.some((t) => t.global)) {
    const all = ts.map((t) => (t.global ? t : globalTime(t, t.output)));
    const start = Math.min(...all.map((t) => t.start));
    return { size: Math.max(...all.map((t) => t.start + t.size)) - start, jump: 0, start, output, global: true };
  }
  const j = ts[0]!.jump;
  if (ts.some((t) => t.jump !== j)) throw new Error(`merged inputs step through time differently (jumps ${ts.map((t) => t.jump).join(', ')})`);
  const start = Math.min(...ts.map((t) => t.start));
  const end = Math.max(...ts.map((t) => t.start + t.size));
  return { size: end - start, jump: j, start, output };
}

export interface FrameRange {
  /** Half-open [first, end) in input frames; may reach outside the clip. */
  first: number;
  end: number;
  /** The range clipped to the clip's frames [0, T). */
  clipped: { first: number; end: number };
  /** The frame at the centre of the clipped range (where a strip marks the argmax). */
  centre: number;
}

/** The input frames output position `t` sees in a clip of `frames` frames. */
export function rfFrames(time: TimeField, t: number, frames: number): FrameRange {
  const first = time.start + t * time.jump;
  const end = first + time.size;
  const clipped = { first: Math.max(0, first), end: Math.min(frames, end) };
  if (clipped.end <= clipped.first) throw new Error(`time position ${t} sees only padding: frames [${first}, ${end}) lie outside the ${frames}-frame clip`);
  return { first, end, clipped, centre: Math.floor((clipped.first + clipped.end - 1) / 2) };
}
