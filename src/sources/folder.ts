/**
 * A directory of image files in the ImageFolder layout (torchvision `datasets.ImageFolder`):
 * `root/<class>/.../<file>`. Each top-level sub-directory is a class; class index = position in
 * the sorted directory names (or in the spec's `classes`). Files directly in `root` get label -1.
 * sample_id = position in the code-unit-sorted list of relative paths, so it is stable across
 * machines, locales and file-system enumeration orders.
 */
import path from 'node:path';
import { readdir, stat } from 'node:fs/promises';
import type { Dirent } from 'node:fs';
import { NeurolensError, errorMessage } from '../errors.js';
import type { FolderSourceSpec } from './spec.js';
import type { DecodeTask, SampleRef, Source } from './types.js';
import { checkRange, classIndex, compareCodeUnits, statInput, type OpenOptions } from './common.js';

/** Formats sharp (libvips) decodes; BMP and others are left out because sharp cannot read them. */
export const DEFAULT_IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif'];

function normaliseExtensions(exts: string[] | undefined): Set<string> {
  return new Set((exts ?? DEFAULT_IMAGE_EXTENSIONS).map((e) => (e.startsWith('.') ? e : `.${e}`).toLowerCase()));
}

/** Relative posix paths of the files under `dir` with a wanted extension; follows symlinks, skips dot-files. */
async function walk(root: string, rel: string, exts: Set<string>, out: string[]): Promise<void> {
  const dir = path.join(root, rel);
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (e) {
    throw new NeurolensError('BAD_INPUT', `folder dataset: cannot list directory ${dir} (${errorMessage(e)})`, { cause: e });
  }
  for (const ent of entries) {
    if (ent.name.startsWith('.')) continue;
    const childRel = rel ? `${rel}/${ent.name}` : ent.name;
    let isDir = ent.isDirectory();
    let isFile = ent.isFile();
    if (ent.isSymbolicLink()) {
      // A dangling link is a sample that will fail to decode (recorded as a sample error), not a crash.
      const st = await stat(path.join(root, childRel)).catch(() => null);
      isDir = st?.isDirectory() ?? false;
      isFile = st ? st.isFile() : true;
    }
    if (isDir) await walk(root, childRel, exts, out);
    else if (isFile && exts.has(path.extname(ent.name).toLowerCase())) out.push(childRel);
  }
}

export class FolderSource implements Source {
  readonly kind = 'folder' as const;
  readonly size: number;

  private constructor(
    readonly root: string,
    /** Relative posix paths in sample-id order. */
    private readonly files: string[],
    private readonly labels: Int32Array,
    private readonly split: string,
    readonly classes: string[] | null,
  ) {
    this.size = files.length;
  }

  static async create(spec: FolderSourceSpec, baseDir: string, opts: OpenOptions = {}): Promise<FolderSource> {
    const root = path.resolve(baseDir, spec.root);
    await statInput(root, 'folder dataset root', 'directory');
    const exts = normaliseExtensions(spec.extensions);
    const files: string[] = [];
    await walk(root, '', exts, files);
    if (files.length === 0) {
      throw new NeurolensError('BAD_INPUT', `folder dataset ${root} is empty: no files with extensions ${[...exts].join(', ')}`);
    }
    files.sort(compareCodeUnits);

    // Classes are the top-level directories (even ones without images, as ImageFolder does), so
    // adding images to one class never renumbers the others.
    const top = (await readdir(root, { withFileTypes: true }))
      .filter((e) => !e.name.startsWith('.'))
      .map((e) => e.name);
    const dirs: string[] = [];
    for (const name of top) {
      const st = await stat(path.join(root, name)).catch(() => null);
      if (st?.isDirectory()) dirs.push(name);
    }
    const { classes, index } = classIndex(dirs, opts.classes, (n) => `folder dataset ${root}: sub-directory '${n}'`);
    const labels = new Int32Array(files.length);
    files.forEach((f, i) => {
      const slash = f.indexOf('/');
      labels[i] = slash < 0 ? -1 : index.get(f.slice(0, slash))!;
    });
    return new FolderSource(root, files, labels, spec.split ?? '', dirs.length > 0 || opts.classes ? classes : null);
  }

  private uri(i: number): string {
    return path.join(this.root, this.files[i]);
  }

  refs(start: number, end: number): SampleRef[] {
    checkRange(this.root, this.size, start, end);
    const out: SampleRef[] = [];
    for (let i = start; i < end; i++) out.push({ sampleId: i, uri: this.uri(i), label: this.labels[i], split: this.split });
    return out;
  }

  decodeTask(start: number, end: number): DecodeTask {
    checkRange(this.root, this.size, start, end);
    const sampleIds = new Int32Array(end - start);
    const uris: string[] = [];
    for (let i = start; i < end; i++) {
      sampleIds[i - start] = i;
      uris.push(this.uri(i));
    }
    return { kind: 'files', sampleIds, uris };
  }
}
