/** PNG encoding / decoding of Image8 buffers (sharp). */
import sharp from 'sharp';
import type { Image8 } from './canvas.js';

export function encodePng(img: Image8): Promise<Buffer> {
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels } }).png().toBuffer();
}

/** Decodes any image sharp reads to 8-bit grey or RGB (alpha dropped). */
export async function decodeImage8(input: Buffer | string): Promise<Image8> {
  const { data, info } = await sharp(input).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 1 && info.channels !== 3) throw new Error(`decoded image has ${info.channels} channels`);
  return { width: info.width, height: info.height, channels: info.channels, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}
