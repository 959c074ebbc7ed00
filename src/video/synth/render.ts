/**
 * Frames of one synthetic video as RGB24 buffers, produced lazily so a writer can encode frame
 * t while frame t + 1 is drawn, and memory stays at one frame per video in flight.
 */
import { renderBackground } from './background.js';
import { drawShape } from './raster.js';
import { SHAPES } from './shapes.js';
import { poseAt, type VideoSpec } from './video-spec.js';

export function* renderFrames(v: VideoSpec): Generator<Uint8Array> {
  const bg = renderBackground(v.background, v.size, v.size);
  const shape = SHAPES[v.shape];
  for (let t = 0; t < v.frames; t++) {
    // A fresh buffer per frame: the writer may still hold the previous one in a pipe.
    const frame = bg.slice();
    drawShape(frame, v.size, v.size, shape, poseAt(v, t), v.colour);
    yield frame;
  }
}
