import { Piscina } from 'piscina';

/**
 * Collects the ArrayBuffers under typed arrays in a message (one level of objects and arrays
 * deep is enough for our protocol) so they cross threads by transfer, never by copy.
 */
export function transferList(value: unknown, out: ArrayBuffer[] = [], depth = 0): ArrayBuffer[] {
  if (ArrayBuffer.isView(value)) {
    const buf = value.buffer as ArrayBuffer;
    // A view over part of a larger buffer would transfer (and detach) the whole buffer: only
    // transfer buffers the view covers completely.
    if (buf.byteLength === value.byteLength && !out.includes(buf)) out.push(buf);
  } else if (value && typeof value === 'object' && depth < 4) {
    for (const v of Array.isArray(value) ? value : Object.values(value)) transferList(v, out, depth + 1);
  }
  return out;
}

/** Wraps a worker's result so piscina moves its typed arrays to the caller instead of copying. */
export function movable<T extends object>(value: T): T {
  const buffers = transferList(value);
  const wrapper = {
    get [Piscina.transferableSymbol]() {
      return buffers;
    },
    get [Piscina.valueSymbol]() {
      return value;
    },
  };
  return Piscina.move(wrapper as never) as unknown as T;
}
