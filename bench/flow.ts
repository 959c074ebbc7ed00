/**
 * Cost of optical flow (src/video/flow.ts) per frame pair at the motion stream's resolutions, on
 * one thread, as the decode workers run it: one OpticalFlow per size, reused across pairs.
 * Frames are a smooth random texture moved by about 1.5 px per frame. Prints the median ms per
 * pair (process CPU time, which other processes disturb less than wall time), the frame pairs
 * per second per thread, and the default's cost relative to a bilinear warp and to one warp per
 * level. Run: npx tsx bench/flow.ts
 */
import { OpticalFlow, type OpticalFlowOptions } from '../src/video/flow.js';

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

function texture(size: number, seed: number): (x: number, y: number) => number {
  let s = seed;
  const r = () => ((s = (s * 1103515245 + 12345) >>> 0) / 4294967296);
  const waves = Array.from({ length: 6 }, () => {
    const th = r() * Math.PI;
    const k = (2 * Math.PI) / (size * (0.15 + 0.3 * r()));
    return { kx: k * Math.cos(th), ky: k * Math.sin(th), ph: 6.28 * r(), a: 0.04 + 0.04 * r() };
  });
  return (x, y) => 0.5 + waves.reduce((acc, w) => acc + w.a * Math.sin(w.kx * x + w.ky * y + w.ph), 0);
}

function frames(size: number, count: number): Float32Array[] {
  const tex = texture(size, size);
  return Array.from({ length: count }, (_, t) => {
    const a = new Float32Array(size * size);
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) a[y * size + x] = tex(x - 1.2 * t, y - 0.9 * t);
    return a;
  });
}

/** Median CPU ms per pair over `rounds` rounds of `pairs` pairs (after one warm-up round). */
function msPerPair(size: number, opts: OpticalFlowOptions, pairs: number, rounds = 7): number {
  const of = new OpticalFlow(size, size, opts);
  const f = frames(size, pairs + 1);
  const times: number[] = [];
  for (let k = 0; k <= rounds; k++) {
    const t0 = cpuMs();
    for (let t = 0; t < pairs; t++) of.compute(f[t], f[t + 1]);
    if (k > 0) times.push((cpuMs() - t0) / pairs);
  }
  return times.sort((a, b) => a - b)[rounds >> 1];
}

console.log('optical flow per frame pair, one thread (median of 7 rounds, CPU time)');
console.log('size      levels  ms/pair  pairs/s   bilinear/default  1-warp/default');
for (const size of [32, 64, 112]) {
  const pairs = Math.max(4, Math.round(200 * (32 / size) ** 2));
  const def = msPerPair(size, {}, pairs);
  const bil = msPerPair(size, { warp: 'bilinear' }, pairs);
  const one = msPerPair(size, { warps: 1 }, pairs);
  const levels = new OpticalFlow(size, size).levels.length;
  console.log(
    `${`${size}x${size}`.padEnd(10)}${String(levels).padEnd(8)}${def.toFixed(3).padStart(7)}  ${Math.round(1000 / def).toString().padStart(7)}   ${(bil / def).toFixed(2).padStart(16)}  ${(one / def).toFixed(2).padStart(14)}`,
  );
}
