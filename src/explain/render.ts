/**
 * An attribution map drawn over its input as a PNG figure (src/render/heatmap.ts: bilinear
 * upsampling, colormap, alpha blend, colour bar with the value range, title).
 * Magnitude maps (|gradient|, Grad-CAM) use inferno from 0 to their max; signed maps
 * (occlusion drop, integrated gradients) use Moreland's coolwarm, symmetric about 0: red
 * supports the target, blue opposes it.
 */
import type { Image8 } from '../render/canvas.js';
import type { ColormapName, ValueRange } from '../render/colormap.js';
import { heatmapFigure } from '../render/heatmap.js';
import { encodePng } from '../render/png.js';

export type MapKind = 'magnitude' | 'signed';

export interface RenderOptions {
  /** Fit the input into a size x size box first (default 224; small inputs are enlarged). */
  size?: number;
  colormap?: ColormapName;
  /** Heat colour weight over the image (default 0.5). */
  alpha?: number;
  title?: string;
  colorBar?: boolean;
}

export interface RenderedAttribution {
  png: Buffer;
  width: number;
  height: number;
  range: ValueRange;
  /** Where the blended image is in the figure (pixels). */
  overlay: { x: number; y: number; width: number; height: number };
  colormap: ColormapName;
}

export async function renderAttribution(
  image: Image8,
  map: Float32Array,
  hw: { height: number; width: number },
  kind: MapKind,
  o: RenderOptions = {},
): Promise<RenderedAttribution> {
  const colormap = o.colormap ?? (kind === 'signed' ? 'coolwarm' : 'inferno');
  const range = kind === 'signed' ? { symmetric: true } : { min: 0 };
  const fig = await heatmapFigure(image, map, hw, { size: o.size ?? 224, colormap, alpha: o.alpha, title: o.title, colorBar: o.colorBar, ...range });
  return { png: await encodePng(fig.image), width: fig.image.width, height: fig.image.height, range: fig.range, overlay: fig.overlay, colormap };
}
