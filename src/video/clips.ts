/**
 * Where the clips of a video start. A clip reads `frames + extra` frames, every `stride`-th one
 * (extra = frames needed after the clip, e.g. 1 for the motion of its last frame), so it spans
 * (frames + extra - 1) * stride + 1 frames. `count` clips are spread uniformly over the video
 * (the "uniform over its length" sampling of TSN, Wang et al. 2016, at test time): clip j starts
 * at round(j * (N - span) / (count - 1)); one clip is centred. A video shorter than one span has
 * no clip, and the reason says by how much.
 */
export interface ClipPlan {
  frames: number;
  stride: number;
  extra: number;
  count: number;
}

/** Frames one clip spans in the sampled stream. */
export function clipSpan(p: Pick<ClipPlan, 'frames' | 'stride' | 'extra'>): number {
  return (p.frames + p.extra - 1) * p.stride + 1;
}

export function clipStarts(videoFrames: number, p: ClipPlan): { starts: number[] } | { reason: string } {
  const span = clipSpan(p);
  if (videoFrames < span) {
    const extra = p.extra ? ` (+${p.extra} after it for motion)` : '';
    return { reason: `video too short: it has ${videoFrames} frames, a clip of ${p.frames} frames${extra} every ${p.stride} frame(s) needs ${span}` };
  }
  const room = videoFrames - span;
  if (p.count === 1) return { starts: [Math.floor(room / 2)] };
  return { starts: Array.from({ length: p.count }, (_, j) => Math.round((j * room) / (p.count - 1))) };
}

/** Sorted distinct frame indices the given clips read, and for each clip the positions of its frames in that list. */
export function framesToRead(starts: number[], p: Pick<ClipPlan, 'frames' | 'stride' | 'extra'>): { frames: number[]; index: number[][] } {
  const n = p.frames + p.extra;
  const all = new Set<number>();
  for (const s of starts) for (let i = 0; i < n; i++) all.add(s + i * p.stride);
  const frames = [...all].sort((a, b) => a - b);
  const pos = new Map(frames.map((f, k) => [f, k] as const));
  return { frames, index: starts.map((s) => Array.from({ length: n }, (_, i) => pos.get(s + i * p.stride)!)) };
}
