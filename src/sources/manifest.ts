/**
 * A manifest table listing the samples: CSV/TSV or Parquet with columns
 *   uri    (required) image path, relative to `root` (default: the manifest's directory), or file:// URL
 *   label  (optional) integer class index (-1 or empty = unknown) or class name
 *   split  (optional) 'train' | 'test' | ...
 * sample_id = row order. Class names map to their index in the spec's `classes` when given, else
 * in the sorted distinct names. A label column is either all integers or all names: a mix is an
 * error, since "3" could mean class 3 or a class named "3".
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NeurolensError } from '../errors.js';
import type { ManifestSourceSpec } from './spec.js';
import type { DecodeTask, SampleRef, Source } from './types.js';
import { checkRange, classIndex, statInput, type OpenOptions } from './common.js';
import { readManifestTable, type Cell, type ManifestTable } from './manifest-read.js';

const INT = /^-?\d+$/;

function cellText(c: Cell): string {
  return typeof c === 'string' ? c : String(c);
}

function bad(t: ManifestTable, row: number, column: string, reason: string): NeurolensError {
  return new NeurolensError('BAD_INPUT', `manifest ${t.file}: ${t.where(row)}, column '${column}': ${reason}`);
}

function resolveUri(t: ManifestTable, row: number, cell: Cell, root: string): string {
  if (cell === null) throw bad(t, row, 'uri', 'empty uri');
  const uri = cellText(cell);
  if (uri.startsWith('file://')) return fileURLToPath(uri);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) {
    throw bad(t, row, 'uri', `'${uri}': only local paths and file:// URLs are supported`);
  }
  return path.resolve(root, uri);
}

/** Labels as class indices (-1 = unknown), plus the class names when the column holds names. */
function parseLabels(t: ManifestTable, cells: Cell[], given: string[] | undefined): { labels: Int32Array; classes: string[] | null } {
  const labels = new Int32Array(cells.length).fill(-1);
  let firstInt = 0;
  let firstName = 0;
  cells.forEach((c, i) => {
    if (c === null) return;
    const isInt = typeof c === 'number' || typeof c === 'bigint' || (typeof c === 'string' && INT.test(c));
    if (isInt && !firstInt) firstInt = i + 1;
    if (!isInt && !firstName) firstName = i + 1;
  });
  if (firstInt && firstName) {
    throw bad(
      t,
      Math.max(firstInt, firstName),
      'label',
      `the column mixes integer labels (${t.where(firstInt)}: '${cellText(cells[firstInt - 1])}') and class names (${t.where(firstName)}: '${cellText(cells[firstName - 1])}')`,
    );
  }
  if (firstName) {
    const names = cells.filter((c): c is string | boolean => c !== null).map(cellText);
    const rowOf = new Map<string, number>();
    cells.forEach((c, i) => c !== null && !rowOf.has(cellText(c)) && rowOf.set(cellText(c), i + 1));
    const { classes, index } = classIndex(names, given, (n) => `manifest ${t.file}: ${t.where(rowOf.get(n)!)}, column 'label'`);
    cells.forEach((c, i) => {
      if (c !== null) labels[i] = index.get(cellText(c))!;
    });
    return { labels, classes };
  }
  const limit = given?.length ?? 2 ** 31 - 1;
  cells.forEach((c, i) => {
    if (c === null) return;
    const v = Number(c);
    if (!Number.isInteger(v) || v < -1 || v >= limit) {
      const why = !Number.isInteger(v) ? 'not an integer' : v < -1 ? 'must be >= 0 (or -1 for unknown)' : `spec dataset.classes has only ${limit} classes`;
      throw bad(t, i + 1, 'label', `bad label '${cellText(c)}': ${why}`);
    }
    labels[i] = v;
  });
  return { labels, classes: given ? [...given] : null };
}

export class ManifestSource implements Source {
  readonly kind = 'manifest' as const;
  readonly size: number;

  private constructor(
    readonly file: string,
    private readonly uris: string[],
    private readonly labels: Int32Array,
    private readonly splits: string[] | null,
    readonly classes: string[] | null,
  ) {
    this.size = uris.length;
  }

  static async create(spec: ManifestSourceSpec, baseDir: string, opts: OpenOptions = {}): Promise<ManifestSource> {
    const file = path.resolve(baseDir, spec.path);
    await statInput(file, 'manifest', 'file');
    const root = spec.root === undefined ? path.dirname(file) : path.resolve(baseDir, spec.root);
    if (spec.root !== undefined) await statInput(root, 'manifest root', 'directory');
    const t = await readManifestTable(file, ['uri', 'label', 'split']);
    const uriCells = t.cells.get('uri');
    if (!uriCells) {
      throw new NeurolensError(
        'BAD_INPUT',
        `manifest ${file}: missing column 'uri' (the image path of each row); columns found: ${t.columns.join(', ') || '(none)'}`,
      );
    }
    if (t.rows === 0) throw new NeurolensError('BAD_INPUT', `manifest ${file}: the dataset is empty (no rows)`);
    const uris = uriCells.map((c, i) => resolveUri(t, i + 1, c, root));
    const labelCells = t.cells.get('label');
    const { labels, classes } = labelCells
      ? parseLabels(t, labelCells, opts.classes)
      : { labels: new Int32Array(t.rows).fill(-1), classes: opts.classes ? [...opts.classes] : null };
    const splitCells = t.cells.get('split');
    const splits = splitCells ? splitCells.map((c) => (c === null ? '' : cellText(c))) : null;
    return new ManifestSource(file, uris, labels, splits, classes);
  }

  refs(start: number, end: number): SampleRef[] {
    checkRange(this.file, this.size, start, end);
    const out: SampleRef[] = [];
    for (let i = start; i < end; i++) {
      out.push({ sampleId: i, uri: this.uris[i], label: this.labels[i], split: this.splits?.[i] ?? '' });
    }
    return out;
  }

  decodeTask(start: number, end: number): DecodeTask {
    checkRange(this.file, this.size, start, end);
    const sampleIds = new Int32Array(end - start);
    for (let i = start; i < end; i++) sampleIds[i - start] = i;
    return { kind: 'files', sampleIds, uris: this.uris.slice(start, end) };
  }
}
