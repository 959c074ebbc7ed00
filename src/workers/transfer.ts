import { Piscina } from 'piscina';

/**
 * Collects the ArrayBuffers under typed arrays in a message (up to six levels of objects and
 * arrays deep, enough for our protocol) so they cross threads by transfer, never by copy.
 */
export function transferList(value: unknown): ArrayBuffer[] {
  const found = new Set<ArrayBuffer>();
  collect(value, found, 0);
  return [...found];
}

function collect(value: unknown, out: Set<ArrayBuffer>, depth: number): void {
  if (ArrayBuffer.isView(value)) {
    const buf = value.buffer as ArrayBuffer;
    // A view over part of a larger buffer would transfer (and detach) the whole buffer: only
    // transfer buffers the view covers completely.
    if (buf.byteLength === value.byteLength) out.add(buf);
  } else if (value && typeof value === 'object' && depth < 6) {
    // Six levels: a sink request holds results[] -> layers[] -> typed arrays.
    for (const v of Array.isArray(value) ? value : Object.values(value)) collect(v, out, depth + 1);
  }
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
