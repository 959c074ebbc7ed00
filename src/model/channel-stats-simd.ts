/**
 * The inner loop of the NeurolensChannelStats kernel (channel-stats-kernel.ts) as a tiny
 * WebAssembly SIMD function, assembled here from opcodes (no toolchain, ~600 bytes), because a
 * JavaScript loop cannot vectorise. Measured on MobileNetV2-sized activations: plain JS 3-6 ns
 * per value, this loop 0.35-0.69 ns (0.49-1.10 before the float32 runs below; bench/channel-stats.ts),
 * the eight tensor ops it replaces ~7 ns; with all 52 conv layers of MobileNetV2 tapped, the infer stage went from 0.52x to 0.99x
 * the images/s of a bare model.predict (bench/pipeline.ts --ops).
 *
 *   stats(x, P, blocks, rowBytes, acc)
 *
 * reduces one sample: `x` is the byte address of a [P, C] float32 row-major array (P positions,
 * channels innermost, rows `rowBytes` = 4*C apart), `blocks` = floor(C / 4) groups of 4 channels
 * (the caller does the last C mod 4 channels), and `acc` receives per block 160 bytes:
 *   +0 max f32x4, +16 min f32x4, +32 argmax i32x4 (first position of the max), +48 zero count i32x4,
 *   +64 sum f64x2 (channels 0,1), +80 sum f64x2 (2,3), +96 sum of squares f64x2 (0,1), +112 (2,3),
 *   +128 and +144: the float32 sum and sum of squares of the current run (scratch, left at 0).
 * Positions are processed in tiles of TILE rows: a tile's accumulators stay in registers and are
 * loaded and stored once per tile and block.
 * Comparisons are false for NaN, so NaN never becomes the max, min or argmax here; it does make
 * the sums NaN, which is how the caller detects it (see the kernel's NaN rule).
 *
 * The module imports its memory: the wasm backend's own heap, so activations are read where the
 * backend wrote them (no copy), or a private memory for other backends.
 * Encoding: WebAssembly core spec 2.0, section 5 (binary format) and the fixed-width SIMD opcodes.
 */

/**
 * Positions per tile. Small tiles keep the access pattern close to row-major streaming (a tile
 * of T rows is T concurrent streams for the prefetcher); measured on [16, P, C] = [12544, 96],
 * [3136, 144], [784, 192], [196, 576] and [49, 960] with float32 runs (bench 2026-11-28 third
 * session): T = 2 0.36-0.69 ns per value, T = 1 0.47-0.80, T = 4 0.39-1.05, T = 8 up to 1.57.
 */
const TILE = 2;
/** Bytes of accumulators per block of 4 channels. */
export const ACC_BYTES_PER_BLOCK = 160;
/**
 * Positions per float32 run: sums and sums of squares are accumulated in float32 over runs of RUN
 * positions (a multiple of TILE), then added into float64. Summing in float64 per value cost half
 * the loop's instructions (two promotions and four f64x2 ops per four values); a run of 64 float32
 * additions adds a relative error of at most ~64 * 2^-24 before the float64 total.
 */
export const RUN = 64;

const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};
const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40)) return [...out, b];
    out.push(b | 0x80);
  }
};
const name = (s: string) => [...uleb(s.length), ...Buffer.from(s, 'utf8')];
const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];

const I32 = 0x7f;
const V128 = 0x7b;
const [BLOCK, LOOP, END, BR, BR_IF, SELECT] = [0x02, 0x03, 0x0b, 0x0c, 0x0d, 0x1b];
const VOID = 0x40; // block type: no result
const [EQZ, EQ, LT_U, GT_U, GE_U, ADD, MUL, AND, OR] = [0x45, 0x46, 0x49, 0x4b, 0x4f, 0x6a, 0x6c, 0x71, 0x72];
const get = (i: number) => [0x20, ...uleb(i)];
const set = (i: number) => [0x21, ...uleb(i)];
const i32 = (n: number) => [0x41, ...sleb(n)];
const simd = (op: number) => [0xfd, ...uleb(op)];
/** memarg: alignment 2^2 (the data is only known to be 4-byte aligned), offset. */
const load = (offset: number) => [...simd(0x00), 2, ...uleb(offset)];
const store = (offset: number) => [...simd(0x0b), 2, ...uleb(offset)];
const splatBits = (bits: number) => {
  const b = Buffer.alloc(16);
  for (let i = 0; i < 4; i++) b.writeUInt32LE(bits, 4 * i);
  return [...simd(0x0c), ...b];
};
const [NEG_INF, POS_INF] = [0xff800000, 0x7f800000];
const S = {
  eq: 0x41, // f32x4.eq
  lt: 0x43, // f32x4.lt
  bitselect: 0x52, // v128.bitselect(a, b, mask) = a where mask, else b
  promoteLow: 0x5f, // f64x2.promote_low_f32x4
  splatI32: 0x11, // i32x4.splat
  subI32: 0xb1, // i32x4.sub
  addF32: 0xe4, // f32x4.add
  mulF32: 0xe6, // f32x4.mul
  pmin: 0xea, // f32x4.pmin(a, b) = b < a ? b : a
  addF64: 0xf0, // f64x2.add
  mulF64: 0xf2, // f64x2.mul
  shuffle: 0x0d, // i8x16.shuffle + 16 lane indices
};

/** The module's bytes. */
export function channelStatsWasm(tile = TILE): Uint8Array<ArrayBuffer> {
  // Parameters 0-4, then i32 locals, then v128 locals.
  const [X, P, NBLK, ROW, ACC] = [0, 1, 2, 3, 4];
  const [P0, PEND, BLK, PTR, POS, A] = [5, 6, 7, 8, 9, 10];
  const [MX, MN, IDX, ZC, S32, Q32, V, M, LO, HI, ZERO] = [11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21];
  /** Per-tile accumulators and their offsets in a block. */
  const accs: [number, number][] = [[MX, 0], [MN, 16], [IDX, 32], [ZC, 48], [S32, 128], [Q32, 144]];
  const nextBlock = [...get(A), ...i32(ACC_BYTES_PER_BLOCK), ADD, ...set(A), ...get(BLK), ...i32(1), ADD, ...set(BLK), BR, 0];
  const forEachBlock = (inner: number[]) => [
    ...get(ACC), ...set(A), ...i32(0), ...set(BLK),
    BLOCK, VOID, LOOP, VOID,
      ...get(BLK), ...get(NBLK), GE_U, BR_IF, 1,
      ...inner,
      ...nextBlock,
    END, END,
  ];
  /** f64 sums at +sum (lanes 0,1) and +sum+16 (lanes 2,3) += the float32 run sum at +run, which is reset. */
  const flush = (run: number, sum: number) => [
    ...get(A), ...load(run), ...set(V),
    ...get(V), ...simd(S.promoteLow), ...set(LO),
    ...get(V), ...get(V), ...simd(S.shuffle), 8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15, ...simd(S.promoteLow), ...set(HI),
    ...get(A), ...get(A), ...load(sum), ...get(LO), ...simd(S.addF64), ...store(sum),
    ...get(A), ...get(A), ...load(sum + 16), ...get(HI), ...simd(S.addF64), ...store(sum + 16),
    ...get(A), ...get(ZERO), ...store(run),
  ];
  const body = [
    ...splatBits(0), ...set(ZERO),
    // Initialise every block: max -Inf, min +Inf, the rest 0.
    ...forEachBlock([
      ...get(A), ...splatBits(NEG_INF), ...store(0),
      ...get(A), ...splatBits(POS_INF), ...store(16),
      ...[32, 48, 64, 80, 96, 112, 128, 144].flatMap((o) => [...get(A), ...get(ZERO), ...store(o)]),
    ]),
    // for (p0 = 0; p0 < P; p0 = pend) { pend = min(p0 + TILE, P); for each block { ... } }
    ...i32(0), ...set(P0),
    BLOCK, VOID, LOOP, VOID,
      ...get(P0), ...get(P), GE_U, BR_IF, 1,
      ...get(P0), ...i32(tile), ADD, ...set(PEND),
      ...get(P), ...get(PEND), ...get(PEND), ...get(P), GT_U, SELECT, ...set(PEND), // select(P, pend, pend > P)
      ...forEachBlock([
        ...accs.flatMap(([v, o]) => [...get(A), ...load(o), ...set(v)]),
        // ptr = x + p0 * rowBytes + 16 * blk
        ...get(X), ...get(P0), ...get(ROW), MUL, ADD, ...get(BLK), ...i32(16), MUL, ADD, ...set(PTR),
        ...get(P0), ...set(POS),
        LOOP, VOID,
          ...get(PTR), ...load(0), ...set(V),
          // m = max < v (false for NaN): strict, so the FIRST position of the max is kept.
          ...get(MX), ...get(V), ...simd(S.lt), ...set(M),
          ...get(V), ...get(MX), ...get(M), ...simd(S.bitselect), ...set(MX),
          ...get(POS), ...simd(S.splatI32), ...get(IDX), ...get(M), ...simd(S.bitselect), ...set(IDX),
          ...get(MN), ...get(V), ...simd(S.pmin), ...set(MN),
          // Sums of a run of RUN positions in float32 (flushed into float64 below).
          ...get(S32), ...get(V), ...simd(S.addF32), ...set(S32),
          ...get(Q32), ...get(V), ...get(V), ...simd(S.mulF32), ...simd(S.addF32), ...set(Q32),
          // eq gives -1 per lane that is +0 or -0: subtracting it counts zeros.
          ...get(ZC), ...get(V), ...get(ZERO), ...simd(S.eq), ...simd(S.subI32), ...set(ZC),
          ...get(PTR), ...get(ROW), ADD, ...set(PTR),
          ...get(POS), ...i32(1), ADD, ...set(POS),
          ...get(POS), ...get(PEND), LT_U, BR_IF, 0,
        END,
        ...accs.flatMap(([v, o]) => [...get(A), ...get(v), ...store(o)]),
      ]),
      // At the end of a run (pend a multiple of RUN) or of the sample: float32 runs -> float64.
      BLOCK, VOID,
        ...get(PEND), ...i32(RUN - 1), AND, EQZ, ...get(PEND), ...get(P), EQ, OR, EQZ, BR_IF, 0,
        ...forEachBlock([...flush(128, 64), ...flush(144, 96)]),
      END,
      ...get(PEND), ...set(P0),
      BR, 0,
    END, END,
    END,
  ];
  const func = [...vec([[6, I32], [11, V128]]), ...body];
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec([[0x60, ...vec([[I32], [I32], [I32], [I32], [I32]]), 0]])), // (i32 x5) -> ()
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, 0x00]])), // memory, min 0 pages
    ...section(3, vec([[0]])),
    ...section(7, vec([[...name('stats'), 0x00, 0]])),
    ...section(10, vec([[...uleb(func.length), ...func]])),
  ]);
}

export type StatsFn = (x: number, positions: number, blocks: number, rowBytes: number, acc: number) => void;

let compiled: WebAssembly.Module | null | undefined;
const instances = new WeakMap<WebAssembly.Memory, StatsFn>();

/**
 * The `stats` function over `memory`, or null where it cannot run (no WebAssembly SIMD, or a
 * shared memory, which the non-shared import does not accept). Instances are cached per memory.
 */
export function statsOver(memory: WebAssembly.Memory): StatsFn | null {
  if (compiled === undefined) {
    const bytes = channelStatsWasm();
    compiled = WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
  }
  if (!compiled) return null;
  // A shared memory (threaded wasm builds) does not match the import: callers use a private one.
  if (typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer) return null;
  let fn = instances.get(memory);
  if (!fn) {
    fn = new WebAssembly.Instance(compiled, { env: { memory } }).exports.stats as StatsFn;
    instances.set(memory, fn);
  }
  return fn;
}
