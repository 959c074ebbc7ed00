/**
 * What the infer stage hands to statistics for one batch and one tapped layer. All arrays are
 * row-major [B, C] (sample-major) unless noted; they were reduced on the tfjs backend over the
 * pooled axes (time, height, width), so only these small arrays left the backend.
 */
export interface LayerBatchStats {
  layer: string;
  /** Number of samples in the batch (B). */
  batch: number;
  /** Number of channels = neurons (C). */
  channels: number;
  /** Pooled extent [T, H, W]; a dense layer is [1, 1, 1], an image conv [1, H, W]. */
  extent: [number, number, number];
  /** Stable sample ids, length B. */
  sampleIds: Int32Array;
  /** Max over positions, [B, C]. */
  max: Float32Array;
  /** Min over positions, [B, C]. */
  min: Float32Array;
  /** Mean over positions, [B, C]. */
  mean: Float32Array;
  /** Mean of squares over positions, [B, C] (for the dataset variance). */
  sqMean: Float32Array;
  /** Fraction of positions exactly 0 (TensorBoard's zero_fraction), [B, C]. */
  zeroFrac: Float32Array;
  /** Flat index t*H*W + y*W + x of the (first) max position, [B, C]. */
  argmax: Int32Array;
}

/** Positions per sample of a layer (T*H*W). */
export function positionsOf(extent: [number, number, number]): number {
  return extent[0] * extent[1] * extent[2];
}

/** Decodes a flat argmax index into (t, y, x). */
export function unflattenArgmax(idx: number, extent: [number, number, number]): [number, number, number] {
  const hw = extent[1] * extent[2];
  const t = Math.floor(idx / hw);
  const r = idx - t * hw;
  const y = Math.floor(r / extent[2]);
  return [t, y, r - y * extent[2]];
}
