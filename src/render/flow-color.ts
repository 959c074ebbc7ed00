/**
 * Optical flow as colour: the Middlebury flow colour coding of Baker, Scharstein, Lewis, Roth,
 * Black & Szeliski, "A Database and Evaluation Methodology for Optical Flow" (IJCV 2011), as in
 * their reference `computeColor.m` / `flowToColor.m` (and the common Python port `flow_vis`).
 *
 * - Hue is the flow direction on a wheel of 55 colours: red -> yellow (RY 15), yellow -> green
 *   (YG 6), green -> cyan (GC 4), cyan -> blue (CB 11), blue -> magenta (BM 13), magenta -> red
 *   (MR 6); the wheel gives more colours to the hues the eye tells apart best.
 * - The angle is atan2(-v, -u) in image coordinates (u right, v down, as in clip-layout.ts), so
 *   rightward flow is red, downward yellow-orange, leftward cyan-blue, upward blue-violet.
 * - Saturation is the magnitude divided by a normaliser (the largest magnitude by default, as in
 *   flowToColor.m): zero flow is white, the normaliser is the full wheel colour; magnitudes
 *   beyond it (possible only with a given normaliser) keep the wheel colour darkened by 0.75.
 * - Unknown flow (NaN, infinite, or |u| or |v| above 1e9, the reference's UNKNOWN_FLOW_THRESH) is black.
 */
import type { Image8 } from './canvas.js';

const SEGMENTS = { RY: 15, YG: 6, GC: 4, CB: 11, BM: 13, MR: 6 } as const;
/** The reference's threshold above which a flow value means "unknown". */
export const UNKNOWN_FLOW_THRESH = 1e9;

/** The 55 x 3 colour wheel (0..255), built exactly as `makeColorwheel` in computeColor.m. */
function makeColorWheel(): Uint8Array {
  const { RY, YG, GC, CB, BM, MR } = SEGMENTS;
  const n = RY + YG + GC + CB + BM + MR;
  const w = new Uint8Array(n * 3);
  let col = 0;
  const ramp = (i: number, len: number) => Math.floor((255 * i) / len);
  const put = (len: number, f: (i: number) => [number, number, number]) => {
    for (let i = 0; i < len; i++, col++) w.set(f(i), col * 3);
  };
  put(RY, (i) => [255, ramp(i, RY), 0]);
  put(YG, (i) => [255 - ramp(i, YG), 255, 0]);
  put(GC, (i) => [0, 255, ramp(i, GC)]);
  put(CB, (i) => [0, 255 - ramp(i, CB), 255]);
  put(BM, (i) => [ramp(i, BM), 0, 255]);
  put(MR, (i) => [255, 0, 255 - ramp(i, MR)]);
  return w;
}

/** The Middlebury colour wheel, 55 entries of RGB (shared; do not modify). */
export const FLOW_COLOR_WHEEL: Uint8Array = makeColorWheel();
export const FLOW_WHEEL_SIZE = FLOW_COLOR_WHEEL.length / 3;

function isUnknown(u: number, v: number): boolean {
  return !Number.isFinite(u) || !Number.isFinite(v) || Math.abs(u) > UNKNOWN_FLOW_THRESH || Math.abs(v) > UNKNOWN_FLOW_THRESH;
}

/**
 * Colour of one flow vector already divided by the normaliser (radius 1 = full colour), written
 * to `out` at `o`. Follows computeColor.m, computed on the 0..255 scale so exact wheel entries
 * come out exact (255 * (c / 255) can fall just below an integer before the floor).
 */
function colorInto(un: number, vn: number, out: Uint8Array, o: number): void {
  const rad = Math.hypot(un, vn);
  const n = FLOW_WHEEL_SIZE;
  const a = Math.atan2(-vn, -un) / Math.PI; // -1..1
  let fk = ((a + 1) / 2) * (n - 1);
  // a = 1 and a = -1 are the same direction (leftward-pointing -u axis, i.e. rightward flow);
  // atan2 returns either depending on the sign of a zero v. The reference's wheel maps them to
  // entries 54 and 0; take entry 0 (pure red) for both so rightward flow has one colour.
  if (fk >= n - 1) fk = 0;
  const k0 = Math.floor(fk);
  const k1 = k0 + 1 === n ? 0 : k0 + 1;
  const f = fk - k0;
  for (let c = 0; c < 3; c++) {
    let col = (1 - f) * FLOW_COLOR_WHEEL[k0 * 3 + c]! + f * FLOW_COLOR_WHEEL[k1 * 3 + c]!;
    // Saturation grows with the radius; out of range is darkened (reference behaviour).
    col = rad <= 1 ? 255 - rad * (255 - col) : col * 0.75;
    out[o + c] = Math.floor(col + 1e-9);
  }
}

/** Colour of flow (u, v) for normaliser `maxMagnitude` (> 0): the single-vector form of `flowToRgb`. */
export function flowColor(u: number, v: number, maxMagnitude = 1): [number, number, number] {
  const out = new Uint8Array(3);
  if (!isUnknown(u, v)) colorInto(u / maxMagnitude, v / maxMagnitude, out, 0);
  return [out[0]!, out[1]!, out[2]!];
}

/** Largest |(u, v)| over known vectors (0 when there are none). */
export function maxFlowMagnitude(u: Float32Array, v: Float32Array): number {
  let m = 0;
  for (let i = 0; i < u.length; i++) {
    if (isUnknown(u[i]!, v[i]!)) continue;
    const r = Math.hypot(u[i]!, v[i]!);
    if (r > m) m = r;
  }
  return m;
}

export interface FlowColorOptions {
  /** Magnitude drawn at full colour (default: the largest magnitude of this field). */
  maxMagnitude?: number;
}

/**
 * A flow field (u, v row-major, height x width, pixels per frame) as an RGB image; `maxMagnitude`
 * is the normaliser used (share it between frames so colours compare over time).
 */
export function flowToRgbWithMax(u: Float32Array, v: Float32Array, width: number, height: number, o: FlowColorOptions = {}): { image: Image8; maxMagnitude: number } {
  const n = width * height;
  if (u.length !== n || v.length !== n) throw new Error(`flow: ${u.length} u and ${v.length} v values for a ${width}x${height} field`);
  const given = o.maxMagnitude;
  if (given !== undefined && !(given > 0 && Number.isFinite(given))) throw new Error(`flow max magnitude must be a positive number, got ${given}`);
  const maxMagnitude = given ?? maxFlowMagnitude(u, v);
  // flowToColor.m divides by (maxrad + eps): an all-zero field is all white, never NaN.
  const norm = maxMagnitude + Number.EPSILON;
  const data = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    if (isUnknown(u[i]!, v[i]!)) continue; // stays black
    colorInto(u[i]! / norm, v[i]! / norm, data, i * 3);
  }
  return { image: { width, height, channels: 3, data }, maxMagnitude };
}

/** A flow field as an RGB image (see `flowToRgbWithMax`). */
export function flowToRgb(u: Float32Array, v: Float32Array, width: number, height: number, o: FlowColorOptions = {}): Image8 {
  return flowToRgbWithMax(u, v, width, height, o).image;
}

export interface FlowLegendOptions {
  /** Colour outside the wheel (default white). */
  background?: readonly [number, number, number];
  /** Colour of the circle around the wheel (default grey), so the white centre reads as a disc. */
  ring?: readonly [number, number, number];
}

/**
 * The colour key: a size x size disc whose pixel at offset (dx, dy) from the centre has the
 * colour of flow (dx, dy) / radius, like the key image of the Middlebury benchmark pages.
 */
export function flowLegend(size = 64, o: FlowLegendOptions = {}): Image8 {
  if (!Number.isInteger(size) || size < 8) throw new Error(`flow legend size must be an integer >= 8, got ${size}`);
  const bg = o.background ?? [255, 255, 255];
  const ring = o.ring ?? [128, 128, 128];
  const data = new Uint8Array(size * size * 3);
  const c = (size - 1) / 2;
  const r = size / 2 - 1;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const o3 = (y * size + x) * 3;
      const d = Math.hypot(x - c, y - c);
      if (d <= r) colorInto((x - c) / r, (y - c) / r, data, o3);
      else data.set(d <= r + 1 ? ring : bg, o3);
    }
  }
  return { width: size, height: size, channels: 3, data };
}
