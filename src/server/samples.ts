/**
 * A dataset sample's original pixels as PNG. The dataset is found through the newest run record
 * of the store that processed it (`runs/<run_id>.json`: `spec.dataset.source`, with relative
 * paths resolved against the directory of `spec.file`), opened once per store generation and
 * read with the decode stage's `loadSampleImage` (no resize, no normalization); the run record is
 * found as for mosaics (render/neuron-mosaic.ts `openRunSource`).
 * Files are read by Node, not by DuckDB: only paths named in the store's run records are opened.
 */
import sharp from 'sharp';
import { NeurolensError } from '../errors.js';
import { openRunSource } from '../render/neuron-mosaic.js';
import type { Source } from '../sources/types.js';
import { loadSampleImage } from '../stages/decode.js';

interface Opened {
  generation: string;
  source: Promise<Source>;
}

export class SampleImages {
  private readonly opened = new Map<string, Opened>();

  constructor(private readonly storeDir: string) {}

  private source(dataset: string, generation: string): Promise<Source> {
    const hit = this.opened.get(dataset);
    if (hit && hit.generation === generation) return hit.source;
    const source = openRunSource(this.storeDir, dataset).then((r) => r.source);
    // A failed open is not remembered: the next request tries again.
    source.catch(() => {
      if (this.opened.get(dataset)?.source === source) this.opened.delete(dataset);
    });
    this.opened.set(dataset, { generation, source });
    return source;
  }

  async png(dataset: string, sampleId: number, generation: string): Promise<Buffer> {
    const source = await this.source(dataset, generation);
    if (!Number.isSafeInteger(sampleId) || sampleId < 0 || sampleId >= source.size) {
      throw new NeurolensError('NOT_FOUND', `dataset ${dataset} has samples 0..${source.size - 1}, not ${sampleId}`);
    }
    const img = await loadSampleImage(source, sampleId);
    const raw = sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels } });
    // libvips writes sRGB unless told otherwise: a grey sample stays a 1-channel PNG.
    return (img.channels === 1 ? raw.toColourspace('b-w') : raw).png().toBuffer();
  }
}
