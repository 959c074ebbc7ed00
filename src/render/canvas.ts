/** An 8-bit RGB pixel buffer to compose figures in (rectangles, images, pixel-font text), then PNG. */
import sharp from 'sharp';
import { rasterizeText } from './bitmap-font.js';

export type Rgb = readonly [number, number, number];

/** Decoded pixels, 1 (grey) or 3 (RGB) interleaved 8-bit channels. */
export interface Image8 {
  width: number;
  height: number;
  channels: 1 | 3;
  data: Uint8Array;
}

export class RgbCanvas {
  readonly data: Uint8Array;

  constructor(
    readonly width: number,
    readonly height: number,
    background: Rgb = [255, 255, 255],
  ) {
    this.data = new Uint8Array(width * height * 3);
    this.fillRect(0, 0, width, height, background);
  }

  setPixel(x: number, y: number, c: Rgb): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const o = (y * this.width + x) * 3;
    this.data[o] = c[0];
    this.data[o + 1] = c[1];
    this.data[o + 2] = c[2];
  }

  getPixel(x: number, y: number): [number, number, number] {
    const o = (y * this.width + x) * 3;
    return [this.data[o]!, this.data[o + 1]!, this.data[o + 2]!];
  }

  fillRect(x: number, y: number, w: number, h: number, c: Rgb): void {
    for (let yy = Math.max(0, y); yy < Math.min(this.height, y + h); yy++) {
      for (let xx = Math.max(0, x); xx < Math.min(this.width, x + w); xx++) this.setPixel(xx, yy, c);
    }
  }

  /** Outline of the rectangle [x0, x1] x [y0, y1] (inclusive), `thickness` pixels inwards. */
  strokeRect(x0: number, y0: number, x1: number, y1: number, c: Rgb, thickness = 1): void {
    for (let t = 0; t < thickness; t++) {
      for (let x = x0 + t; x <= x1 - t; x++) {
        this.setPixel(x, y0 + t, c);
        this.setPixel(x, y1 - t, c);
      }
      for (let y = y0 + t; y <= y1 - t; y++) {
        this.setPixel(x0 + t, y, c);
        this.setPixel(x1 - t, y, c);
      }
    }
  }

  /** Copies an image with its top-left corner at (x, y); grey is replicated to RGB. */
  drawImage(img: Image8, x: number, y: number): void {
    for (let r = 0; r < img.height; r++) {
      for (let c = 0; c < img.width; c++) {
        const i = (r * img.width + c) * img.channels;
        const v = img.data[i]!;
        this.setPixel(x + c, y + r, img.channels === 1 ? [v, v, v] : [v, img.data[i + 1]!, img.data[i + 2]!]);
      }
    }
  }

  /** Pixel-font text (bitmap-font.ts) with its top-left corner at (x, y). */
  drawText(text: string, x: number, y: number, c: Rgb, scale = 1): void {
    rasterizeText(text, x, y, scale, (px, py) => this.setPixel(px, py, c));
  }

  toPng(): Promise<Buffer> {
    return sharp(this.data, { raw: { width: this.width, height: this.height, channels: 3 } }).png().toBuffer();
  }
}

/**
 * Resizes an image to fit in `box` x `box` keeping its aspect ratio: nearest neighbour when
 * enlarging (small images such as MNIST stay crisp blocks), Lanczos when shrinking.
 */
export async function fitImage(img: Image8, box: number): Promise<Image8> {
  const s = Math.min(box / img.width, box / img.height);
  const width = Math.max(1, Math.round(img.width * s));
  const height = Math.max(1, Math.round(img.height * s));
  if (width === img.width && height === img.height) return img;
  const { data, info } = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels } })
    .resize(width, height, { fit: 'fill', kernel: s >= 1 ? 'nearest' : 'lanczos3' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const channels = info.channels === 1 ? 1 : 3;
  if (info.channels !== channels) throw new Error(`resize returned ${info.channels} channels, expected ${img.channels}`);
  return { width: info.width, height: info.height, channels, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}
