import { NeurolensError } from '../errors.js';

/**
 * A FIFO bounded by the bytes it holds. `push` waits while the queue is full, which pauses the
 * stage that feeds it (backpressure), so memory stays flat however large the dataset is.
 * One item larger than the capacity is still admitted when the queue is empty (else it would
 * deadlock); capacity is a soft bound of "capacity + one item".
 */
export class BoundedQueue<T> {
  private items: { item: T; bytes: number }[] = [];
  private held = 0;
  private closed = false;
  private failure: unknown = null;
  private readers: (() => void)[] = [];
  private writers: (() => void)[] = [];
  /** Totals for progress: items that went through, and the peak of bytes held. */
  pushed = 0;
  peakBytes = 0;

  constructor(
    readonly name: string,
    readonly capacityBytes: number,
  ) {
    if (!(capacityBytes > 0)) throw new NeurolensError('INTERNAL', `queue ${name}: capacity must be > 0`);
  }

  get depth(): number {
    return this.items.length;
  }

  get bytes(): number {
    return this.held;
  }

  async push(item: T, bytes: number): Promise<void> {
    while (!this.closed && this.items.length > 0 && this.held + bytes > this.capacityBytes) {
      await new Promise<void>((r) => this.writers.push(r));
    }
    if (this.failure) throw this.failure;
    if (this.closed) throw new NeurolensError('INTERNAL', `queue ${this.name}: push after close`);
    this.items.push({ item, bytes });
    this.held += bytes;
    this.pushed++;
    if (this.held > this.peakBytes) this.peakBytes = this.held;
    this.readers.shift()?.();
  }

  /** Next item, or undefined once the queue is closed and drained. Rethrows a failure. */
  async shift(): Promise<T | undefined> {
    while (this.items.length === 0) {
      if (this.failure) throw this.failure;
      if (this.closed) return undefined;
      await new Promise<void>((r) => this.readers.push(r));
    }
    const { item, bytes } = this.items.shift()!;
    this.held -= bytes;
    this.writers.shift()?.();
    return item;
  }

  /** No more pushes: readers drain what is left, then get undefined. */
  close(): void {
    this.closed = true;
    this.wakeAll();
  }

  /** Abort: every waiting reader and writer gets `err`. */
  fail(err: unknown): void {
    this.failure ??= err;
    this.closed = true;
    this.items = [];
    this.held = 0;
    this.wakeAll();
  }

  private wakeAll(): void {
    for (const r of this.readers.splice(0)) r();
    for (const w of this.writers.splice(0)) w();
  }
}
