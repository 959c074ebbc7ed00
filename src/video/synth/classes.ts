/**
 * The eight classes of the synthetic action dataset. A class is defined by its motion; the
 * appearance (shape, colours, background, position) is a nuisance drawn per video independently
 * of the class, except for the violin/cello pair, which shares one motion and differs only in a
 * small appearance cue. The three motion pairs are time reversals of each other, so a network
 * that only looks at single frames (an appearance stream) cannot separate them, while the
 * violin/cello pair is the reverse case: only appearance separates it. This mirrors the
 * two-stream analysis and the PlayingViolin/PlayingCello confusion of Feichtenhofer et al.,
 * CVPR 2018 ("What have we learned from deep representations for action recognition?").
 */
export type MotionKind = 'slide' | 'spin' | 'zoom' | 'oscillate';

export interface ActionClass {
  label: number;
  name: string;
  motion: MotionKind;
  /** Human-readable motion rule (also written to classes.json). */
  motionRule: string;
  /** Human-readable appearance rule. */
  appearance: string;
  /** The confusion pair this class belongs to, and what separates the two. */
  pair: { name: string; with: string; differsIn: 'motion' | 'appearance'; note: string };
}

/** Hue bands (degrees) and shared saturation / value ranges of the violin/cello pair. */
export const INSTRUMENT = {
  violin: { hue: [8, 18] as const, length: 0.36 },
  cello: { hue: [24, 34] as const, length: 0.42 },
  saturation: [0.7, 0.9] as const,
  value: [0.62, 0.85] as const,
  /** Per-video multiplicative jitter on the length (kept small so the two bands do not overlap). */
  lengthJitter: [0.96, 1.04] as const,
} as const;

const GENERIC = 'nuisance: shape in {bar, triangle, cross, l-shape, square}, random orientation, radius 0.15 x frame size x U(0.85, 1.15) (zoom: up to 1.5 times that), random colour at RGB distance >= 100 and luma distance >= 35 from every background pixel; static background texture (noise, stripes or gradient) between two random colours; random start position';
const INSTR = (c: 'violin' | 'cello') => {
  const b = INSTRUMENT[c];
  return `instrument shape (elongated body with a small head, upright with a tilt in +-8 deg), length ${b.length} x frame size x U(${INSTRUMENT.lengthJitter.join(', ')}), colour HSV hue in [${b.hue.join(', ')}] deg, saturation in [${INSTRUMENT.saturation.join(', ')}], value in [${INSTRUMENT.value.join(', ')}]; background and position as for the other classes`;
};

const timeReversal = (a: string, b: string) => `same appearance distribution; each clip of ${a} is the time reversal of a clip of ${b}`;
const instrumentNote =
  'same motion; differ only in appearance: violin is shorter (length 0.36 vs 0.42 of the frame) and its hue band is orange-red (8-18 deg) where cello is brown-orange (24-34 deg); saturation, value, shape, tilt, background and motion are drawn from the same distributions';

export const ACTION_CLASSES: readonly ActionClass[] = [
  {
    label: 0, name: 'slide-left', motion: 'slide',
    motionRule: 'constant-speed translation to the left: speed = min(1.5 px/frame at 64 px, room / (frames - 1)) x U(0.85, 1), room = frame width - object width - 2 px margin, so the whole object is visible in every frame (at 64 px and 48 frames: 0.74-1.22 px/frame, median 0.92)',
    appearance: GENERIC, pair: { name: 'slide', with: 'slide-right', differsIn: 'motion', note: timeReversal('slide-left', 'slide-right') },
  },
  {
    label: 1, name: 'slide-right', motion: 'slide',
    motionRule: 'constant-speed translation to the right (as slide-left, mirrored in time)',
    appearance: GENERIC, pair: { name: 'slide', with: 'slide-left', differsIn: 'motion', note: timeReversal('slide-right', 'slide-left') },
  },
  {
    label: 2, name: 'spin-cw', motion: 'spin',
    motionRule: 'rotation in place about the object centroid, clockwise on screen, 6 deg/frame x U(0.85, 1.15)',
    appearance: GENERIC, pair: { name: 'spin', with: 'spin-ccw', differsIn: 'motion', note: timeReversal('spin-cw', 'spin-ccw') },
  },
  {
    label: 3, name: 'spin-ccw', motion: 'spin',
    motionRule: 'rotation in place about the object centroid, counter-clockwise on screen, 6 deg/frame x U(0.85, 1.15)',
    appearance: GENERIC, pair: { name: 'spin', with: 'spin-cw', differsIn: 'motion', note: timeReversal('spin-ccw', 'spin-cw') },
  },
  {
    label: 4, name: 'zoom-in', motion: 'zoom',
    motionRule: 'scale grows geometrically over the clip by a factor U(2.5, 3.2), centre fixed',
    appearance: GENERIC, pair: { name: 'zoom', with: 'zoom-out', differsIn: 'motion', note: timeReversal('zoom-in', 'zoom-out') },
  },
  {
    label: 5, name: 'zoom-out', motion: 'zoom',
    motionRule: 'scale shrinks geometrically over the clip by a factor U(2.5, 3.2), centre fixed',
    appearance: GENERIC, pair: { name: 'zoom', with: 'zoom-in', differsIn: 'motion', note: timeReversal('zoom-out', 'zoom-in') },
  },
  {
    label: 6, name: 'violin', motion: 'oscillate',
    motionRule: 'horizontal sinusoidal oscillation about a fixed centre, period 16 frames x U(0.9, 1.1), amplitude 10 px at 64 px x U(0.85, 1.15), random phase',
    appearance: INSTR('violin'), pair: { name: 'instrument', with: 'cello', differsIn: 'appearance', note: instrumentNote },
  },
  {
    label: 7, name: 'cello', motion: 'oscillate',
    motionRule: 'as violin',
    appearance: INSTR('cello'), pair: { name: 'instrument', with: 'violin', differsIn: 'appearance', note: instrumentNote },
  },
];
