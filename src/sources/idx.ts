/**
 * IDX reader (the MNIST file family: MNIST, Fashion-MNIST, KMNIST, EMNIST).
 *
 * Format (LeCun et al., http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT"):
 *   bytes 0-1  zero
 *   byte  2    type code: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
 *   byte  3    number of dimensions n
 *   n x int32  dimension sizes, big-endian
 *   data       prod(dims) values of the type, big-endian, row-major (C order)
 * Files are often gzip-compressed; that is detected by the gzip magic 1f 8b, not by the name.
 */
import { readFile, stat } from 'node:fs/promises';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import { NeurolensError, errorMessage } from '../errors.js';

const gunzipAsync = promisify(gunzip);

export type IdxDtype = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxArray {
  path: string;
  dtype: IdxDtype;
  dims: number[];
  data: IdxData;
}

const TYPES: Record<number, { dtype: IdxDtype; bytes: number }> = {
  0x08: { dtype: 'uint8', bytes: 1 },
  0x09: { dtype: 'int8', bytes: 1 },
  0x0b: { dtype: 'int16', bytes: 2 },
  0x0c: { dtype: 'int32', bytes: 4 },
  0x0d: { dtype: 'float32', bytes: 4 },
  0x0e: { dtype: 'float64', bytes: 8 },
};

function bad(path: string, what: string, cause?: unknown): NeurolensError {
  return new NeurolensError('BAD_INPUT', `${path}: not a valid IDX file: ${what}`, cause ? { cause } : undefined);
}

/** Converts big-endian values to a native typed array (one pass with DataView; no alignment needed). */
function decodeValues(buf: Buffer, offset: number, count: number, dtype: IdxDtype): IdxData {
  if (dtype === 'uint8') return new Uint8Array(buf.buffer.slice(buf.byteOffset + offset, buf.byteOffset + offset + count));
  if (dtype === 'int8') return new Int8Array(buf.buffer.slice(buf.byteOffset + offset, buf.byteOffset + offset + count));
  const view = new DataView(buf.buffer, buf.byteOffset + offset);
  switch (dtype) {
    case 'int16': {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(i * 2, false);
      return out;
    }
    case 'int32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(i * 4, false);
      return out;
    }
    case 'float32': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, false);
      return out;
    }
    case 'float64': {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, false);
      return out;
    }
  }
}

/** Parses an (already decompressed) IDX buffer. Exported for tests and in-memory sources. */
export function parseIdx(path: string, buf: Buffer): IdxArray {
  if (buf.length < 4) throw bad(path, `header truncated (${buf.length} bytes, need at least 4)`);
  if (buf[0] !== 0 || buf[1] !== 0) {
    throw bad(path, `bad magic number 0x${buf.subarray(0, 4).toString('hex')} (first two bytes must be 0)`);
  }
  const type = TYPES[buf[2]];
  if (!type) throw bad(path, `unknown type code 0x${buf[2].toString(16).padStart(2, '0')} (expected 08, 09, 0b, 0c, 0d or 0e)`);
  const ndim = buf[3];
  if (ndim === 0) throw bad(path, 'number of dimensions is 0');
  const headerBytes = 4 + 4 * ndim;
  if (buf.length < headerBytes) {
    throw bad(path, `header truncated: ${ndim} dimensions need ${headerBytes} header bytes, file has ${buf.length}`);
  }
  const dims: number[] = [];
  for (let i = 0; i < ndim; i++) {
    const d = buf.readInt32BE(4 + 4 * i);
    if (d < 0) throw bad(path, `dimension ${i} is negative (${d})`);
    dims.push(d);
  }
  const count = dims.reduce((a, b) => a * b, 1);
  const dataBytes = count * type.bytes;
  const have = buf.length - headerBytes;
  if (have < dataBytes) {
    throw bad(path, `truncated: dims [${dims.join(', ')}] of ${type.dtype} need ${dataBytes} data bytes, file has ${have}`);
  }
  if (have > dataBytes) {
    throw bad(path, `${have - dataBytes} bytes of trailing garbage after the ${dataBytes} data bytes that dims [${dims.join(', ')}] of ${type.dtype} describe`);
  }
  return { path, dtype: type.dtype, dims, data: decodeValues(buf, headerBytes, count, type.dtype) };
}

/** Reads an IDX file, gzip-compressed or raw. Errors are NeurolensError('BAD_INPUT') naming the file. */
export async function readIdx(path: string): Promise<IdxArray> {
  let raw: Buffer;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new NeurolensError('BAD_INPUT', `${path}: not a regular file`);
    raw = await readFile(path);
  } catch (e) {
    if (e instanceof NeurolensError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file does not exist' : errorMessage(e);
    throw new NeurolensError('BAD_INPUT', `${path}: cannot read IDX file: ${why}`, { cause: e });
  }
  if (raw.length === 0) throw bad(path, 'file is empty (0 bytes)');
  let buf = raw;
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      buf = await gunzipAsync(raw);
    } catch (e) {
      throw bad(path, `corrupt or truncated gzip stream (${errorMessage(e)})`, e);
    }
  }
  return parseIdx(path, buf);
}

/** Reads an images file and its labels file, checking that both describe the same number of samples. */
export async function readIdxPair(imagesPath: string, labelsPath: string): Promise<{ images: IdxArray; labels: IdxArray }> {
  const [images, labels] = await Promise.all([readIdx(imagesPath), readIdx(labelsPath)]);
  if (labels.dims.length !== 1) {
    throw new NeurolensError('BAD_INPUT', `${labelsPath}: labels file must be 1-dimensional, has dims [${labels.dims.join(', ')}]`);
  }
  if (images.dims[0] !== labels.dims[0]) {
    throw new NeurolensError(
      'BAD_INPUT',
      `count mismatch: ${imagesPath} has ${images.dims[0]} images but ${labelsPath} has ${labels.dims[0]} labels`,
    );
  }
  return { images, labels };
}
