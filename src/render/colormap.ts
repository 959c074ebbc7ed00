/**
 * Colormaps for heat maps and feature maps: value -> 8-bit RGB.
 *
 * - viridis, inferno: matplotlib's perceptually uniform sequential maps (colormap-tables.ts);
 *   lightness rises monotonically, so brighter always means larger, also in grey print.
 * - gray: black -> white.
 * - coolwarm: Moreland's diverging map for signed values (K. Moreland, "Diverging Color Maps for
 *   Scientific Visualization", ISVC 2009): blue (59,76,192) -> grey (221,221,221) -> red
 *   (180,4,38), interpolated in his Msh space (polar CIELAB) through an unsaturated white point
 *   of magnitude 88, so both halves have the same lightness profile and 0 sits at the middle.
 */
import type { Image8 } from './canvas.js';
import { INFERNO_HEX, VIRIDIS_HEX, decodeHexTable } from './colormap-tables.js';

export const COLORMAP_NAMES = ['viridis', 'inferno', 'gray', 'coolwarm'] as const;
export type ColormapName = (typeof COLORMAP_NAMES)[number];

/** Colour of NaN / infinite values (none of the maps reaches this exact grey by accident of design). */
export const BAD_VALUE_COLOR: readonly [number, number, number] = [128, 128, 128];

type Vec3 = [number, number, number];

// --- Moreland's Msh interpolation (sRGB D65 -> CIELAB -> Msh) -----------------------------------
const WHITE: Vec3 = [0.9505, 1.0, 1.089];
const toLinear = (c: number) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
const fromLinear = (c: number) => (c <= 0.0031308 ? 12.92 * c : 1.055 * c ** (1 / 2.4) - 0.055);
const labF = (t: number) => (t > 0.008856 ? Math.cbrt(t) : 7.787 * t + 16 / 116);
const labFInv = (t: number) => (t > 0.20689 ? t ** 3 : (t - 16 / 116) / 7.787);

function rgbToMsh(rgb: Vec3): Vec3 {
  const [r, g, b] = rgb.map(toLinear) as Vec3;
  const x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / WHITE[0];
  const y = (0.2126 * r + 0.7152 * g + 0.0722 * b) / WHITE[1];
  const z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / WHITE[2];
  const L = 116 * labF(y) - 16;
  const A = 500 * (labF(x) - labF(y));
  const B = 200 * (labF(y) - labF(z));
  const m = Math.hypot(L, A, B);
  return [m, Math.acos(L / m), Math.atan2(B, A)];
}

function mshToRgb([m, s, h]: Vec3): Vec3 {
  const L = m * Math.cos(s);
  const A = m * Math.sin(s) * Math.cos(h);
  const B = m * Math.sin(s) * Math.sin(h);
  const fy = (L + 16) / 116;
  const x = labFInv(fy + A / 500) * WHITE[0];
  const y = labFInv(fy) * WHITE[1];
  const z = labFInv(fy - B / 200) * WHITE[2];
  const r = 3.2406 * x - 1.5372 * y - 0.4986 * z;
  const g = -0.9689 * x + 1.8758 * y + 0.0415 * z;
  const b = 0.0557 * x - 0.204 * y + 1.057 * z;
  return [r, g, b].map((c) => Math.min(1, Math.max(0, fromLinear(c)))) as Vec3;
}

/** Moreland's hue spin: an unsaturated end takes the hue of the saturated one, slightly turned. */
function adjustHue([m, s, h]: Vec3, unsatM: number): number {
  if (m >= unsatM) return h;
  const spin = (s * Math.sqrt(unsatM * unsatM - m * m)) / (m * Math.sin(s));
  return h > -Math.PI / 3 ? h + spin : h - spin;
}

function divergingAt(rgb1: Vec3, rgb2: Vec3, t: number): Vec3 {
  let a = rgbToMsh(rgb1);
  let b = rgbToMsh(rgb2);
  let hueDiff = Math.abs(a[2] - b[2]);
  if (hueDiff > Math.PI) hueDiff = 2 * Math.PI - hueDiff;
  if (a[1] > 0.05 && b[1] > 0.05 && hueDiff > Math.PI / 3) {
    const mid = Math.max(a[0], b[0], 88);
    if (t < 0.5) {
      b = [mid, 0, 0];
      t = 2 * t;
    } else {
      a = [mid, 0, 0];
      t = 2 * t - 1;
    }
  }
  if (a[1] < 0.05 && b[1] > 0.05) a = [a[0], a[1], adjustHue(b, a[0])];
  else if (b[1] < 0.05 && a[1] > 0.05) b = [b[0], b[1], adjustHue(a, b[0])];
  return mshToRgb([0, 1, 2].map((i) => (1 - t) * a[i]! + t * b[i]!) as Vec3);
}

function coolwarmTable(): Uint8Array {
  const out = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const c = divergingAt([0.23, 0.299, 0.754], [0.706, 0.016, 0.15], i / 255);
    for (let k = 0; k < 3; k++) out[i * 3 + k] = Math.round(c[k]! * 255);
  }
  return out;
}

function grayTable(): Uint8Array {
  const out = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) out.fill(i, i * 3, i * 3 + 3);
  return out;
}

const TABLES: Record<ColormapName, Uint8Array> = {
  viridis: decodeHexTable(VIRIDIS_HEX),
  inferno: decodeHexTable(INFERNO_HEX),
  gray: grayTable(),
  coolwarm: coolwarmTable(),
};

export function isColormapName(name: string): name is ColormapName {
  return (COLORMAP_NAMES as readonly string[]).includes(name);
}

/** The 256 x 3 lookup table of a colormap (shared; do not modify). */
export function colormapTable(name: ColormapName): Uint8Array {
  const t = TABLES[name];
  if (!t) throw new Error(`unknown colormap '${String(name)}' (known: ${COLORMAP_NAMES.join(', ')})`);
  return t;
}

/** Colour at t in [0, 1] (clamped; NaN gives BAD_VALUE_COLOR), nearest of 256 entries. */
export function colormap(name: ColormapName, t: number): [number, number, number] {
  if (Number.isNaN(t)) return [...BAD_VALUE_COLOR];
  const table = colormapTable(name);
  const i = Math.round(Math.min(1, Math.max(0, t)) * 255) * 3;
  return [table[i]!, table[i + 1]!, table[i + 2]!];
}

export interface ValueRange {
  min: number;
  max: number;
}

export interface RangeOptions {
  min?: number;
  max?: number;
  /** Range [-m, m] with m the largest |value| (or |min|, |max| given), so 0 maps to the middle. */
  symmetric?: boolean;
}

/** The value range a map is drawn with: given bounds, else the finite data's min / max. */
export function resolveRange(values: ArrayLike<number>, o: RangeOptions = {}): ValueRange {
  let lo = Infinity;
  let hi = -Infinity;
  if (o.min === undefined || o.max === undefined || o.symmetric) {
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (!Number.isFinite(v)) continue;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  if (lo > hi) lo = hi = 0; // no finite value
  const min = o.min ?? lo;
  const max = o.max ?? hi;
  if (min > max) throw new Error(`colour range min ${min} > max ${max}`);
  if (!o.symmetric) return { min, max };
  const m = Math.max(Math.abs(min), Math.abs(max));
  return { min: -m, max: m };
}

/** Position of v in the range, in [0, 1] (a constant map is drawn at 0, or 0.5 when symmetric). */
export function normalizeValue(v: number, r: ValueRange, symmetric = false): number {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? NaN : v > 0 ? 1 : 0;
  if (r.max <= r.min) return symmetric ? 0.5 : 0;
  return Math.min(1, Math.max(0, (v - r.min) / (r.max - r.min)));
}

export interface ApplyColormapOptions extends RangeOptions {
  name: ColormapName;
}

/** A w x h map of values (row-major) as an RGB image; `range` is the value range used. */
export function applyColormapWithRange(values: Float32Array, width: number, height: number, o: ApplyColormapOptions): { image: Image8; range: ValueRange } {
  if (values.length !== width * height) throw new Error(`colormap: ${values.length} values for a ${width}x${height} map`);
  const range = resolveRange(values, o);
  const table = colormapTable(o.name);
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < values.length; i++) {
    const t = normalizeValue(values[i]!, range, o.symmetric);
    if (Number.isNaN(t)) {
      data.set(BAD_VALUE_COLOR, i * 3);
      continue;
    }
    const j = Math.round(t * 255) * 3;
    data[i * 3] = table[j]!;
    data[i * 3 + 1] = table[j + 1]!;
    data[i * 3 + 2] = table[j + 2]!;
  }
  return { image: { width, height, channels: 3, data }, range };
}

/** A w x h map of values (row-major) as an RGB image. */
export function applyColormap(values: Float32Array, width: number, height: number, o: ApplyColormapOptions): Image8 {
  return applyColormapWithRange(values, width, height, o).image;
}
