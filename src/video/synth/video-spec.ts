/**
 * One synthetic video, fully described by plain numbers drawn from its own seed: the object,
 * its colour, the background and the motion parameters. `poseAt` gives the object's pose in any
 * frame, so rendering, tests and the videos.jsonl record all read the same description.
 */
import { NeurolensError } from '../../errors.js';
import { ACTION_CLASSES, INSTRUMENT } from './classes.js';
import { hsvToRgb, luma, rgbDistance, segmentDistance, type Rgb } from './colour.js';
import { backgroundParams, TEXTURES, type BackgroundSpec } from './background.js';
import { Rand } from './seed.js';
import { extents, GENERIC_SHAPES, SHAPES, type GenericShape } from './shapes.js';
import type { Pose } from './raster.js';

export type Motion =
  | { kind: 'slide'; x0: number; x1: number; y: number; angle: number; scale: number }
  | { kind: 'spin'; x: number; y: number; angle0: number; omega: number; scale: number }
  | { kind: 'zoom'; x: number; y: number; angle: number; scale0: number; scale1: number }
  | { kind: 'oscillate'; cx: number; y: number; amplitude: number; period: number; phase: number; angle: number; scale: number };

export interface VideoSpec {
  label: number;
  className: string;
  seed: number;
  size: number;
  frames: number;
  shape: GenericShape | 'instrument';
  colour: Rgb;
  background: BackgroundSpec;
  motion: Motion;
}

const DEG = Math.PI / 180;
/** Background colours keep this RGB distance from the violin/cello bands (see pickBackground). */
const BAND_CLEARANCE = 90;
/** Generic object colours keep this RGB distance from every background pixel... */
const OBJECT_CLEARANCE = 100;
/**
 * ...and this luma distance: H.264 keeps chroma at half resolution, and grey appearance or
 * frame-difference motion channels (src/video/clip-layout.ts) see luma only.
 */
const OBJECT_LUMA_CLEARANCE = 35;
/** Backgrounds vary at most this much in luma, which leaves room for a contrasting object. */
const BACKGROUND_LUMA_SPREAD = 80;

/** Corners of the violin/cello colour bands: backgrounds avoid all of them. */
const BAND_POINTS: Rgb[] = (() => {
  const pts: Rgb[] = [];
  for (const c of ['violin', 'cello'] as const)
    for (const h of [INSTRUMENT[c].hue[0], (INSTRUMENT[c].hue[0] + INSTRUMENT[c].hue[1]) / 2, INSTRUMENT[c].hue[1]])
      for (const s of INSTRUMENT.saturation) for (const v of INSTRUMENT.value) pts.push(hsvToRgb(h, s, v));
  return pts;
})();

/**
 * Background colours are drawn without looking at the class (so the background says nothing
 * about it), away from the violin/cello hue bands so those objects always stand out. Rejection
 * sampling is deterministic per seed; the best candidate is kept if none passes.
 */
function pickBackground(r: Rand): [Rgb, Rgb] {
  let best: [Rgb, Rgb] | null = null;
  let bestScore = -Infinity;
  for (let k = 0; k < 200; k++) {
    const a = hsvToRgb(r.uniform(0, 360), r.uniform(0, 0.6), r.uniform(0.15, 0.95));
    const b = hsvToRgb(r.uniform(0, 360), r.uniform(0, 0.6), r.uniform(0.15, 0.95));
    // Texture must be visible (contrast 50), leave luma room for the object, and stay clear of the bands.
    const score = Math.min(rgbDistance(a, b) - 50, BACKGROUND_LUMA_SPREAD - Math.abs(luma(a) - luma(b)), ...BAND_POINTS.map((p) => segmentDistance(p, a, b) - BAND_CLEARANCE));
    if (score >= 0) return [a, b];
    if (score > bestScore) [best, bestScore] = [[a, b], score];
  }
  return best!;
}

function pickObjectColour(r: Rand, bg: [Rgb, Rgb], className: string): Rgb {
  if (className === 'violin' || className === 'cello') {
    const band = INSTRUMENT[className];
    return hsvToRgb(r.uniform(band.hue[0], band.hue[1]), r.uniform(...INSTRUMENT.saturation), r.uniform(...INSTRUMENT.value));
  }
  const lo = Math.min(luma(bg[0]), luma(bg[1]));
  const hi = Math.max(luma(bg[0]), luma(bg[1]));
  let best: Rgb = [255, 255, 255];
  let bestScore = -Infinity;
  for (let k = 0; k < 400; k++) {
    const c = hsvToRgb(r.uniform(0, 360), r.uniform(0.5, 1), r.uniform(0.5, 1));
    const y = luma(c);
    const lumaGap = y < lo ? lo - y : y > hi ? y - hi : 0;
    const score = Math.min(segmentDistance(c, bg[0], bg[1]) - OBJECT_CLEARANCE, lumaGap - OBJECT_LUMA_CLEARANCE);
    if (score >= 0) return c;
    if (score > bestScore) [best, bestScore] = [c, score];
  }
  return best;
}

/** A uniform draw in [lo, hi]; an empty range is a bug in the geometry below, not a user error. */
function within(r: Rand, lo: number, hi: number, what: string): number {
  if (hi < lo - 1e-9) throw new NeurolensError('INTERNAL', `make-actions: no room for ${what} (${lo.toFixed(2)} > ${hi.toFixed(2)})`);
  return r.uniform(lo, Math.max(lo, hi));
}

/** Draws the motion of class `label` so the object stays inside the frame (margin m) in every frame. */
function sampleMotion(r: Rand, label: number, shapeName: GenericShape | 'instrument', size: number, frames: number): Motion {
  const u = size / 64;
  const m = Math.max(1, u);
  const shape = SHAPES[shapeName];
  const cls = ACTION_CLASSES[label];
  if (cls.motion === 'oscillate') {
    const band = INSTRUMENT[cls.name as 'violin' | 'cello'];
    const scale = (band.length * size * r.uniform(...INSTRUMENT.lengthJitter)) / shape.height;
    const angle = r.uniform(-8, 8) * DEG;
    const amplitude = 10 * u * r.uniform(0.85, 1.15);
    const e = extents(shape, angle, scale);
    return {
      kind: 'oscillate', angle, scale, amplitude,
      period: 16 * r.uniform(0.9, 1.1),
      phase: r.uniform(0, 2 * Math.PI),
      cx: within(r, m + amplitude + e.left, size - m - amplitude - e.right, 'the oscillation'),
      y: within(r, m + e.top, size - m - e.bottom, 'the instrument'),
    };
  }
  const scale = 0.15 * size * r.uniform(0.85, 1.15);
  const angle = r.uniform(0, 2 * Math.PI);
  if (cls.motion === 'slide') {
    const e = extents(shape, angle, scale);
    // 1.5 px/frame at 64 px would carry the object out of the frame within 48 frames: cap the
    // speed by the room there is, so every frame of the clip shows the whole object.
    const room = size - 2 * m - e.left - e.right;
    const speed = Math.min(1.5 * u, room / (frames - 1)) * r.uniform(0.85, 1);
    const travel = speed * (frames - 1);
    const start = within(r, m + e.left, size - m - e.right - travel, 'the slide');
    const y = within(r, m + e.top, size - m - e.bottom, 'the slide');
    // slide-left is the time reversal of slide-right: same draws, swapped ends.
    return cls.name === 'slide-right'
      ? { kind: 'slide', x0: start, x1: start + travel, y, angle, scale }
      : { kind: 'slide', x0: start + travel, x1: start, y, angle, scale };
  }
  if (cls.motion === 'spin') {
    const omega = 6 * DEG * r.uniform(0.85, 1.15);
    // Any angle occurs while spinning: keep the circumscribed circle (radius = scale) inside.
    const x = within(r, m + scale, size - m - scale, 'the spin');
    const y = within(r, m + scale, size - m - scale, 'the spin');
    // Positive angles turn clockwise on screen (y grows downwards).
    return { kind: 'spin', x, y, angle0: angle, omega: cls.name === 'spin-cw' ? omega : -omega, scale };
  }
  const ratio = r.uniform(2.5, 3.2);
  const big = scale * 1.5;
  const e = extents(shape, angle, big);
  const x = within(r, m + e.left, size - m - e.right, 'the zoom');
  const y = within(r, m + e.top, size - m - e.bottom, 'the zoom');
  return cls.name === 'zoom-in'
    ? { kind: 'zoom', x, y, angle, scale0: big / ratio, scale1: big }
    : { kind: 'zoom', x, y, angle, scale0: big, scale1: big / ratio };
}

export function sampleVideo(label: number, seed: number, size: number, frames: number): VideoSpec {
  const cls = ACTION_CLASSES[label];
  const r = new Rand(seed);
  // Draw order is fixed: appearance first, then motion, so pairs share the appearance law.
  const texture = r.pick(TEXTURES);
  const colours = pickBackground(r);
  const background: BackgroundSpec = { texture, colours, params: backgroundParams(texture, size, r) };
  const shape = cls.motion === 'oscillate' ? 'instrument' : r.pick(GENERIC_SHAPES);
  const colour = pickObjectColour(r, colours, cls.name);
  const motion = sampleMotion(r, label, shape, size, frames);
  return { label, className: cls.name, seed, size, frames, shape, colour, background, motion };
}

/** The object's pose in frame t (0-based). */
export function poseAt(v: VideoSpec, t: number): Pose {
  const m = v.motion;
  const f = v.frames > 1 ? t / (v.frames - 1) : 0;
  switch (m.kind) {
    case 'slide':
      return { x: m.x0 + (m.x1 - m.x0) * f, y: m.y, angle: m.angle, scale: m.scale };
    case 'spin':
      return { x: m.x, y: m.y, angle: m.angle0 + m.omega * t, scale: m.scale };
    case 'zoom':
      // Geometric growth: the apparent expansion rate (looming) is constant over the clip.
      return { x: m.x, y: m.y, angle: m.angle, scale: m.scale0 * Math.pow(m.scale1 / m.scale0, f) };
    case 'oscillate':
      return { x: m.cx + m.amplitude * Math.sin((2 * Math.PI * t) / m.period + m.phase), y: m.y, angle: m.angle, scale: m.scale };
  }
}
