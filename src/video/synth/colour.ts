/**
 * Colour helpers for the synthetic action videos: HSV sampling (the violin/cello pair is defined
 * by a hue band) and RGB distances, used to keep the object clearly off its background.
 */
export type Rgb = [number, number, number];

/** HSV (h in degrees, s and v in 0..1) to RGB on 0..255 (the hexcone model, Smith 1978). */
export function hsvToRgb(h: number, s: number, v: number): Rgb {
  const hh = (((h % 360) + 360) % 360) / 60;
  const i = Math.floor(hh);
  const f = hh - i;
  const p = v * (1 - s);
  const q = v * (1 - s * f);
  const t = v * (1 - s * (1 - f));
  const rgb: [number, number, number][] = [
    [v, t, p],
    [q, v, p],
    [p, v, t],
    [p, q, v],
    [t, p, v],
    [v, p, q],
  ];
  const [r, g, b] = rgb[i % 6];
  return [Math.round(r * 255), Math.round(g * 255), Math.round(b * 255)];
}

/** RGB (0..255) to hue in degrees (0..360), saturation and value (0..1). */
export function rgbToHsv(r: number, g: number, b: number): { h: number; s: number; v: number } {
  const max = Math.max(r, g, b);
  const min = Math.min(r, g, b);
  const d = max - min;
  let h = 0;
  if (d > 0) {
    if (max === r) h = 60 * (((g - b) / d) % 6);
    else if (max === g) h = 60 * ((b - r) / d + 2);
    else h = 60 * ((r - g) / d + 4);
  }
  return { h: (h + 360) % 360, s: max === 0 ? 0 : d / max, v: max / 255 };
}

export function rgbDistance(a: Rgb, b: Rgb): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
}

/**
 * Distance from colour `p` to the RGB segment [a, b]. Every background texture mixes its two
 * colours linearly, so this bounds how close any background pixel can come to `p`.
 */
export function segmentDistance(p: Rgb, a: Rgb, b: Rgb): number {
  const d = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
  const len2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
  let t = len2 === 0 ? 0 : ((p[0] - a[0]) * d[0] + (p[1] - a[1]) * d[1] + (p[2] - a[2]) * d[2]) / len2;
  t = Math.min(1, Math.max(0, t));
  return rgbDistance(p, [a[0] + t * d[0], a[1] + t * d[1], a[2] + t * d[2]]);
}

/** BT.601 luma (what an RGB->yuv420p conversion keeps at full resolution), 0..255. */
export function luma(c: Rgb): number {
  return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];
}
