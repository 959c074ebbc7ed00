;; neurolens' hand-written WebAssembly SIMD loops for the wasm backend's gradient kernels.
;;
;; The module IMPORTS tfjs-backend-wasm's own linear memory, so it works on tensor buffers in
;; place: every pointer below is a byte offset into that heap (BackendWasm.getMemoryOffset).
;; It has no memory, globals or allocator of its own; callers allocate outputs and scratch with
;; backend.makeOutput. Compiled by `npx tsx scripts/build-simd-kernels.ts` into
;; ../simd_binary.ts (test/kernels-simd.test.ts checks that the two are in sync).
;; Why not JS: V8 runs these loops 5-10x slower (scalar, branchy), see ../simd.ts.
(module
  (import "env" "memory" (memory 0))

  ;; MaxPoolGrad for windows that do not overlap (fh <= sh and fw <= sw), NHWC, C % 4 == 0.
  ;; dx (all B*H*W*C floats) = 0, then for every window and every channel the gradient dy goes
  ;; to the FIRST position holding the window's maximum, scanning the window's in-image pixels
  ;; row-major with `v > best` from best = -Infinity: the tfjs cpu backend's rule
  ;; (pool_utils.ts maxPoolPositions), so NaN pixels are never chosen and a window of only
  ;; NaN / -Infinity pixels routes nothing. Four channels per step: `best` and `k` (the element
  ;; index of lane 0 where each lane's maximum was found) are per lane; the second pass stores
  ;; dy on the lane whose k equals the position and 0 elsewhere.
  (func (export "maxPoolGradDisjoint")
    (param $x i32) (param $dy i32) (param $dx i32)
    (param $nb i32) (param $h i32) (param $w i32) (param $c i32)
    (param $oh i32) (param $ow i32) (param $sh i32) (param $sw i32)
    (param $fh i32) (param $fw i32) (param $top i32) (param $left i32)
    (local $b i32) (local $i i32) (local $j i32) (local $d i32) (local $r i32) (local $q i32)
    (local $r0 i32) (local $rLo i32) (local $rHi i32) (local $q0 i32) (local $qLo i32) (local $qHi i32)
    (local $g i32) (local $pos i32)
    (local $best v128) (local $k v128) (local $v v128) (local $m v128) (local $t v128)
    (memory.fill (local.get $dx) (i32.const 0)
      (i32.shl (i32.mul (i32.mul (i32.mul (local.get $nb) (local.get $h)) (local.get $w)) (local.get $c)) (i32.const 2)))
    (local.set $g (local.get $dy))
    (local.set $b (i32.const 0))
    (block $b_done (loop $b_loop
      (br_if $b_done (i32.ge_s (local.get $b) (local.get $nb)))
      (local.set $i (i32.const 0))
      (block $i_done (loop $i_loop
        (br_if $i_done (i32.ge_s (local.get $i) (local.get $oh)))
        ;; rows [rLo, rHi) of the window, clipped to the image (padding is skipped)
        (local.set $r0 (i32.sub (i32.mul (local.get $i) (local.get $sh)) (local.get $top)))
        (local.set $rLo (select (local.get $r0) (i32.const 0) (i32.gt_s (local.get $r0) (i32.const 0))))
        (local.set $rHi (i32.add (local.get $r0) (local.get $fh)))
        (local.set $rHi (select (local.get $h) (local.get $rHi) (i32.lt_s (local.get $h) (local.get $rHi))))
        (local.set $j (i32.const 0))
        (block $j_done (loop $j_loop
          (br_if $j_done (i32.ge_s (local.get $j) (local.get $ow)))
          (local.set $q0 (i32.sub (i32.mul (local.get $j) (local.get $sw)) (local.get $left)))
          (local.set $qLo (select (local.get $q0) (i32.const 0) (i32.gt_s (local.get $q0) (i32.const 0))))
          (local.set $qHi (i32.add (local.get $q0) (local.get $fw)))
          (local.set $qHi (select (local.get $w) (local.get $qHi) (i32.lt_s (local.get $w) (local.get $qHi))))
          (local.set $d (i32.const 0))
          (block $d_done (loop $d_loop
            (br_if $d_done (i32.ge_s (local.get $d) (local.get $c)))
            ;; pass 1: per-lane first maximum
            (local.set $best (f32x4.splat (f32.const -inf)))
            (local.set $k (i32x4.splat (i32.const -1)))
            (local.set $r (local.get $rLo))
            (block $r1_done (loop $r1_loop
              (br_if $r1_done (i32.ge_s (local.get $r) (local.get $rHi)))
              (local.set $q (local.get $qLo))
              (block $q1_done (loop $q1_loop
                (br_if $q1_done (i32.ge_s (local.get $q) (local.get $qHi)))
                (local.set $pos (i32.add (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (local.get $h)) (local.get $r)) (local.get $w)) (local.get $q)) (local.get $c)) (local.get $d)))
                (local.set $v (v128.load (i32.add (local.get $x) (i32.shl (local.get $pos) (i32.const 2)))))
                (local.set $m (f32x4.gt (local.get $v) (local.get $best)))
                (local.set $best (v128.bitselect (local.get $v) (local.get $best) (local.get $m)))
                (local.set $k (v128.bitselect (i32x4.splat (local.get $pos)) (local.get $k) (local.get $m)))
                (local.set $q (i32.add (local.get $q) (i32.const 1)))
                (br $q1_loop)))
              (local.set $r (i32.add (local.get $r) (i32.const 1)))
              (br $r1_loop)))
            ;; pass 2: dy on the chosen lane of each position, 0 on the others
            (local.set $t (v128.load (i32.add (local.get $g) (i32.shl (local.get $d) (i32.const 2)))))
            (local.set $r (local.get $rLo))
            (block $r2_done (loop $r2_loop
              (br_if $r2_done (i32.ge_s (local.get $r) (local.get $rHi)))
              (local.set $q (local.get $qLo))
              (block $q2_done (loop $q2_loop
                (br_if $q2_done (i32.ge_s (local.get $q) (local.get $qHi)))
                (local.set $pos (i32.add (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (local.get $h)) (local.get $r)) (local.get $w)) (local.get $q)) (local.get $c)) (local.get $d)))
                (v128.store (i32.add (local.get $dx) (i32.shl (local.get $pos) (i32.const 2)))
                  (v128.and (local.get $t) (i32x4.eq (local.get $k) (i32x4.splat (local.get $pos)))))
                (local.set $q (i32.add (local.get $q) (i32.const 1)))
                (br $q2_loop)))
              (local.set $r (i32.add (local.get $r) (i32.const 1)))
              (br $r2_loop)))
            (local.set $d (i32.add (local.get $d) (i32.const 4)))
            (br $d_loop)))
          (local.set $g (i32.add (local.get $g) (i32.shl (local.get $c) (i32.const 2))))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br $j_loop)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $i_loop)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $b_loop)))
  )

  ;; The common 2x2 / stride 2 pool with every window inside the image (no padding read),
  ;; NHWC, C % 4 == 0: maxPoolGradDisjoint's rule with the window unrolled, the choice kept as
  ;; four one-hot lane masks (s0..s3). Each dx element in a window is written once (dy or 0);
  ;; rows/columns past the last window (odd H or W) are zeroed first.
  (func (export "maxPoolGrad2x2")
    (param $x i32) (param $dy i32) (param $dx i32)
    (param $nb i32) (param $h i32) (param $w i32) (param $c i32) (param $oh i32) (param $ow i32)
    (local $b i32) (local $i i32) (local $j i32) (local $p i32) (local $pEnd i32) (local $g i32)
    (local $cb i32) (local $rb i32) (local $o i32)
    (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128) (local $best v128) (local $m v128)
    (local $s0 v128) (local $s1 v128) (local $s2 v128) (local $s3 v128) (local $t v128)
    (if (i32.or (i32.lt_s (i32.shl (local.get $oh) (i32.const 1)) (local.get $h)) (i32.lt_s (i32.shl (local.get $ow) (i32.const 1)) (local.get $w)))
      (then (memory.fill (local.get $dx) (i32.const 0)
        (i32.shl (i32.mul (i32.mul (i32.mul (local.get $nb) (local.get $h)) (local.get $w)) (local.get $c)) (i32.const 2)))))
    (local.set $cb (i32.shl (local.get $c) (i32.const 2))) ;; bytes per pixel
    (local.set $rb (i32.mul (local.get $w) (local.get $cb))) ;; bytes per image row
    (local.set $g (local.get $dy))
    (local.set $b (i32.const 0))
    (block $b_done (loop $b_loop
      (br_if $b_done (i32.ge_s (local.get $b) (local.get $nb)))
      (local.set $i (i32.const 0))
      (block $i_done (loop $i_loop
        (br_if $i_done (i32.ge_s (local.get $i) (local.get $oh)))
        ;; byte offset of pixel (b, 2i, 0)
        (local.set $o (i32.mul (i32.add (i32.mul (local.get $b) (local.get $h)) (i32.shl (local.get $i) (i32.const 1))) (local.get $rb)))
        (local.set $j (i32.const 0))
        (block $j_done (loop $j_loop
          (br_if $j_done (i32.ge_s (local.get $j) (local.get $ow)))
          (local.set $p (i32.add (local.get $o) (i32.mul (local.get $j) (i32.shl (local.get $cb) (i32.const 1)))))
          (local.set $pEnd (i32.add (local.get $p) (local.get $cb)))
          (block $d_done (loop $d_loop
            (br_if $d_done (i32.ge_u (local.get $p) (local.get $pEnd)))
            (local.set $v0 (v128.load (i32.add (local.get $x) (local.get $p))))
            (local.set $v1 (v128.load (i32.add (local.get $x) (i32.add (local.get $p) (local.get $cb)))))
            (local.set $v2 (v128.load (i32.add (local.get $x) (i32.add (local.get $p) (local.get $rb)))))
            (local.set $v3 (v128.load (i32.add (local.get $x) (i32.add (i32.add (local.get $p) (local.get $rb)) (local.get $cb)))))
            ;; v0 > -inf: chosen so far; each later strictly greater value takes over
            (local.set $s0 (f32x4.gt (local.get $v0) (f32x4.splat (f32.const -inf))))
            (local.set $best (v128.bitselect (local.get $v0) (f32x4.splat (f32.const -inf)) (local.get $s0)))
            (local.set $s1 (f32x4.gt (local.get $v1) (local.get $best)))
            (local.set $best (v128.bitselect (local.get $v1) (local.get $best) (local.get $s1)))
            (local.set $s0 (v128.andnot (local.get $s0) (local.get $s1)))
            (local.set $m (f32x4.gt (local.get $v2) (local.get $best)))
            (local.set $best (v128.bitselect (local.get $v2) (local.get $best) (local.get $m)))
            (local.set $s0 (v128.andnot (local.get $s0) (local.get $m)))
            (local.set $s1 (v128.andnot (local.get $s1) (local.get $m)))
            (local.set $s2 (local.get $m))
            (local.set $s3 (f32x4.gt (local.get $v3) (local.get $best)))
            (local.set $s0 (v128.andnot (local.get $s0) (local.get $s3)))
            (local.set $s1 (v128.andnot (local.get $s1) (local.get $s3)))
            (local.set $s2 (v128.andnot (local.get $s2) (local.get $s3)))
            (local.set $t (v128.load (local.get $g)))
            (v128.store (i32.add (local.get $dx) (local.get $p)) (v128.and (local.get $t) (local.get $s0)))
            (v128.store (i32.add (local.get $dx) (i32.add (local.get $p) (local.get $cb))) (v128.and (local.get $t) (local.get $s1)))
            (v128.store (i32.add (local.get $dx) (i32.add (local.get $p) (local.get $rb))) (v128.and (local.get $t) (local.get $s2)))
            (v128.store (i32.add (local.get $dx) (i32.add (i32.add (local.get $p) (local.get $rb)) (local.get $cb))) (v128.and (local.get $t) (local.get $s3)))
            (local.set $g (i32.add (local.get $g) (i32.const 16)))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (br $d_loop)))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br $j_loop)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $i_loop)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $b_loop)))
  )

  ;; out[c] = sum_r x[r * inner + c] for float32 x [rows, inner], inner % 4 == 0, accumulated in
  ;; float64 in row order (the cpu backend's order and precision) in `scratch` (inner float64s,
  ;; 8-byte aligned), then rounded to float32 once.
  (func (export "sumRowsF64")
    (param $x i32) (param $out i32) (param $scratch i32) (param $rows i32) (param $inner i32)
    (local $r i32) (local $p i32) (local $s i32) (local $end i32) (local $v v128)
    (memory.fill (local.get $scratch) (i32.const 0) (i32.shl (local.get $inner) (i32.const 3)))
    (local.set $end (i32.add (local.get $scratch) (i32.shl (local.get $inner) (i32.const 3))))
    (local.set $p (local.get $x))
    (local.set $r (i32.const 0))
    (block $r_done (loop $r_loop
      (br_if $r_done (i32.ge_s (local.get $r) (local.get $rows)))
      (local.set $s (local.get $scratch))
      (block $c_done (loop $c_loop
        (br_if $c_done (i32.ge_u (local.get $s) (local.get $end)))
        (local.set $v (v128.load (local.get $p)))
        (v128.store (local.get $s)
          (f64x2.add (v128.load (local.get $s)) (f64x2.promote_low_f32x4 (local.get $v))))
        (v128.store offset=16 (local.get $s)
          (f64x2.add (v128.load offset=16 (local.get $s))
            (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v)))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (local.set $s (i32.add (local.get $s) (i32.const 32)))
        (br $c_loop)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $r_loop)))
    ;; out = float32(scratch), four at a time
    (local.set $s (local.get $scratch))
    (local.set $p (local.get $out))
    (block $o_done (loop $o_loop
      (br_if $o_done (i32.ge_u (local.get $s) (local.get $end)))
      (v128.store (local.get $p)
        (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
          (f32x4.demote_f64x2_zero (v128.load (local.get $s)))
          (f32x4.demote_f64x2_zero (v128.load offset=16 (local.get $s)))))
      (local.set $s (i32.add (local.get $s) (i32.const 32)))
      (local.set $p (i32.add (local.get $p) (i32.const 16)))
      (br $o_loop)))
  )
  ;; out[r, c] = x[r, c] + bias[c] for float32 x [rows, C], C % 4 == 0 (a bias add; one
  ;; correctly rounded float32 addition per element, as every backend).
  (func (export "addChannelBias") (param $x i32) (param $bias i32) (param $out i32) (param $rows i32) (param $c i32)
    (local $r i32) (local $d i32) (local $cb i32)
    (local.set $cb (i32.shl (local.get $c) (i32.const 2)))
    (local.set $r (i32.const 0))
    (block $r_done (loop $r_loop
      (br_if $r_done (i32.ge_s (local.get $r) (local.get $rows)))
      (local.set $d (i32.const 0))
      (block $d_done (loop $d_loop
        (br_if $d_done (i32.ge_u (local.get $d) (local.get $cb)))
        (v128.store (i32.add (local.get $out) (local.get $d))
          (f32x4.add (v128.load (i32.add (local.get $x) (local.get $d))) (v128.load (i32.add (local.get $bias) (local.get $d)))))
        (local.set $d (i32.add (local.get $d) (i32.const 16)))
        (br $d_loop)))
      (local.set $x (i32.add (local.get $x) (local.get $cb)))
      (local.set $out (i32.add (local.get $out) (local.get $cb)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $r_loop)))
  )

  ;; C[M, N] = A[M, K] . B[K, N], all row-major float32, N % 8 == 0, any M and K; neither operand
  ;; is packed or copied. Register tile: 4 rows x 8 columns of C (8 accumulators), A entries
  ;; broadcast, B rows read as two vectors; the k loop is cut into blocks of 64 so that the B rows
  ;; of a block stay in cache while every tile of C goes over them. Sums run over k in order,
  ;; in float32 (as XNNPACK's). Rows past the last multiple of 4 use a 1 x 8 tile.
  ;; The filter-gradient product dW = P^T . dy (conv2d_backprop_filter.ts): XNNPACK would pack dy
  ;; afresh on every call (~3.5 ns per element) and runs this large-K shape no faster.
  (func (export "gemm") (param $a i32) (param $b i32) (param $c i32) (param $M i32) (param $K i32) (param $N i32)
    (local $k0 i32) (local $kEnd i32) (local $m i32) (local $n i32) (local $k i32)
    (local $pa i32) (local $pb i32) (local $pc i32) (local $lda i32) (local $ldb i32) (local $ldc i32)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128) (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $b0 v128) (local $b1 v128) (local $s v128) (local $kb i32) (local $M4 i32)
    (local.set $lda (i32.shl (local.get $K) (i32.const 2)))
    (local.set $ldb (i32.shl (local.get $N) (i32.const 2)))
    (local.set $ldc (i32.shl (local.get $N) (i32.const 2)))
    (local.set $kb (i32.const 64))
    (local.set $M4 (i32.and (local.get $M) (i32.const -4)))
    (memory.fill (local.get $c) (i32.const 0) (i32.mul (local.get $M) (local.get $ldc)))
    (local.set $k0 (i32.const 0))
    (block $k0d (loop $k0l
      (br_if $k0d (i32.ge_s (local.get $k0) (local.get $K)))
      (local.set $kEnd (i32.add (local.get $k0) (local.get $kb)))
      (local.set $kEnd (select (local.get $K) (local.get $kEnd) (i32.lt_s (local.get $K) (local.get $kEnd))))
      (local.set $m (i32.const 0))
      (block $md (loop $ml
        (br_if $md (i32.ge_s (local.get $m) (local.get $M4)))
        (local.set $n (i32.const 0))
        (block $nd (loop $nl
          (br_if $nd (i32.ge_s (local.get $n) (local.get $N)))
          (local.set $pc (i32.add (local.get $c) (i32.add (i32.mul (local.get $m) (local.get $ldc)) (i32.shl (local.get $n) (i32.const 2)))))
          (local.set $c00 (v128.load (local.get $pc)))
          (local.set $c01 (v128.load offset=16 (local.get $pc)))
          (local.set $c10 (v128.load (i32.add (local.get $pc) (local.get $ldc))))
          (local.set $c11 (v128.load offset=16 (i32.add (local.get $pc) (local.get $ldc))))
          (local.set $c20 (v128.load (i32.add (local.get $pc) (i32.shl (local.get $ldc) (i32.const 1)))))
          (local.set $c21 (v128.load offset=16 (i32.add (local.get $pc) (i32.shl (local.get $ldc) (i32.const 1)))))
          (local.set $c30 (v128.load (i32.add (local.get $pc) (i32.mul (local.get $ldc) (i32.const 3)))))
          (local.set $c31 (v128.load offset=16 (i32.add (local.get $pc) (i32.mul (local.get $ldc) (i32.const 3)))))
          (local.set $pa (i32.add (local.get $a) (i32.add (i32.mul (local.get $m) (local.get $lda)) (i32.shl (local.get $k0) (i32.const 2)))))
          (local.set $pb (i32.add (local.get $b) (i32.add (i32.mul (local.get $k0) (local.get $ldb)) (i32.shl (local.get $n) (i32.const 2)))))
          (local.set $k (local.get $k0))
          (block $kd (loop $kl
            (br_if $kd (i32.ge_s (local.get $k) (local.get $kEnd)))
            (local.set $b0 (v128.load (local.get $pb)))
            (local.set $b1 (v128.load offset=16 (local.get $pb)))
            (local.set $s (v128.load32_splat (local.get $pa)))
            (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $s) (local.get $b0))))
            (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $s) (local.get $b1))))
            (local.set $s (v128.load32_splat (i32.add (local.get $pa) (local.get $lda))))
            (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $s) (local.get $b0))))
            (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $s) (local.get $b1))))
            (local.set $s (v128.load32_splat (i32.add (local.get $pa) (i32.shl (local.get $lda) (i32.const 1)))))
            (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $s) (local.get $b0))))
            (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $s) (local.get $b1))))
            (local.set $s (v128.load32_splat (i32.add (local.get $pa) (i32.mul (local.get $lda) (i32.const 3)))))
            (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $s) (local.get $b0))))
            (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $s) (local.get $b1))))
            (local.set $pa (i32.add (local.get $pa) (i32.const 4)))
            (local.set $pb (i32.add (local.get $pb) (local.get $ldb)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $kl)))
          (v128.store (local.get $pc) (local.get $c00))
          (v128.store offset=16 (local.get $pc) (local.get $c01))
          (v128.store (i32.add (local.get $pc) (local.get $ldc)) (local.get $c10))
          (v128.store offset=16 (i32.add (local.get $pc) (local.get $ldc)) (local.get $c11))
          (v128.store (i32.add (local.get $pc) (i32.shl (local.get $ldc) (i32.const 1))) (local.get $c20))
          (v128.store offset=16 (i32.add (local.get $pc) (i32.shl (local.get $ldc) (i32.const 1))) (local.get $c21))
          (v128.store (i32.add (local.get $pc) (i32.mul (local.get $ldc) (i32.const 3))) (local.get $c30))
          (v128.store offset=16 (i32.add (local.get $pc) (i32.mul (local.get $ldc) (i32.const 3))) (local.get $c31))
          (local.set $n (i32.add (local.get $n) (i32.const 8)))
          (br $nl)))
        (local.set $m (i32.add (local.get $m) (i32.const 4)))
        (br $ml)))
      ;; remaining rows, one at a time
      (block $rd (loop $rl
        (br_if $rd (i32.ge_s (local.get $m) (local.get $M)))
        (local.set $n (i32.const 0))
        (block $rnd (loop $rnl
          (br_if $rnd (i32.ge_s (local.get $n) (local.get $N)))
          (local.set $pc (i32.add (local.get $c) (i32.add (i32.mul (local.get $m) (local.get $ldc)) (i32.shl (local.get $n) (i32.const 2)))))
          (local.set $c00 (v128.load (local.get $pc)))
          (local.set $c01 (v128.load offset=16 (local.get $pc)))
          (local.set $pa (i32.add (local.get $a) (i32.add (i32.mul (local.get $m) (local.get $lda)) (i32.shl (local.get $k0) (i32.const 2)))))
          (local.set $pb (i32.add (local.get $b) (i32.add (i32.mul (local.get $k0) (local.get $ldb)) (i32.shl (local.get $n) (i32.const 2)))))
          (local.set $k (local.get $k0))
          (block $rkd (loop $rkl
            (br_if $rkd (i32.ge_s (local.get $k) (local.get $kEnd)))
            (local.set $s (v128.load32_splat (local.get $pa)))
            (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $s) (v128.load (local.get $pb)))))
            (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $s) (v128.load offset=16 (local.get $pb)))))
            (local.set $pa (i32.add (local.get $pa) (i32.const 4)))
            (local.set $pb (i32.add (local.get $pb) (local.get $ldb)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $rkl)))
          (v128.store (local.get $pc) (local.get $c00))
          (v128.store offset=16 (local.get $pc) (local.get $c01))
          (local.set $n (i32.add (local.get $n) (i32.const 8)))
          (br $rnl)))
        (local.set $m (i32.add (local.get $m) (i32.const 1)))
        (br $rl)))
      (local.set $k0 (local.get $kEnd))
      (br $k0l)))
  )

  ;; dst [cols, rows] = transpose of src [rows, cols] (float32, row-major). 4x4 blocks through
  ;; shuffles when rows and cols are multiples of 4, else a scalar loop.
  (func (export "transpose2d") (param $src i32) (param $dst i32) (param $rows i32) (param $cols i32)
    (local $r i32) (local $c i32) (local $s i32) (local $rowBytes i32) (local $colBytes i32) (local $o i32) (local $r0 i32) (local $rEnd i32)
    (local $a v128) (local $b v128) (local $e v128) (local $f v128) (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $rowBytes (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $colBytes (i32.shl (local.get $rows) (i32.const 2)))
    (if (i32.or (i32.and (local.get $rows) (i32.const 3)) (i32.and (local.get $cols) (i32.const 3)))
      (then
        (local.set $r (i32.const 0))
        (block $sr_done (loop $sr_loop
          (br_if $sr_done (i32.ge_s (local.get $r) (local.get $rows)))
          (local.set $c (i32.const 0))
          (block $sc_done (loop $sc_loop
            (br_if $sc_done (i32.ge_s (local.get $c) (local.get $cols)))
            (f32.store
              (i32.add (local.get $dst) (i32.shl (i32.add (i32.mul (local.get $c) (local.get $rows)) (local.get $r)) (i32.const 2)))
              (f32.load (i32.add (local.get $src) (i32.shl (i32.add (i32.mul (local.get $r) (local.get $cols)) (local.get $c)) (i32.const 2)))))
            (local.set $c (i32.add (local.get $c) (i32.const 1)))
            (br $sc_loop)))
          (local.set $r (i32.add (local.get $r) (i32.const 1)))
          (br $sr_loop)))
        (return)))
    ;; Tiles of 64 source rows: the tile stays in L1 while each group of 4 destination rows gets
    ;; 64 consecutive floats (whole cache lines). Row-by-row order instead writes 4 floats to
    ;; every destination row in turn, and when rows * 4 bytes is a multiple of 4096 (50176 rows)
    ;; all those rows fall into one L1 set and evict each other: 4-5x slower.
    (local.set $r0 (i32.const 0))
    (block $t_done (loop $t_loop
      (br_if $t_done (i32.ge_s (local.get $r0) (local.get $rows)))
      (local.set $rEnd (i32.add (local.get $r0) (i32.const 64)))
      (local.set $rEnd (select (local.get $rows) (local.get $rEnd) (i32.lt_s (local.get $rows) (local.get $rEnd))))
      (local.set $c (i32.const 0))
      (block $c_done (loop $c_loop
        (br_if $c_done (i32.ge_s (local.get $c) (local.get $cols)))
        (local.set $r (local.get $r0))
        (block $r_done (loop $r_loop
          (br_if $r_done (i32.ge_s (local.get $r) (local.get $rEnd)))
          ;; rows r..r+3 at columns c..c+3: a, b, e, f
          (local.set $s (i32.add (local.get $src) (i32.shl (i32.add (i32.mul (local.get $r) (local.get $cols)) (local.get $c)) (i32.const 2))))
          (local.set $a (v128.load (local.get $s)))
          (local.set $b (v128.load (i32.add (local.get $s) (local.get $rowBytes))))
          (local.set $e (v128.load (i32.add (local.get $s) (i32.shl (local.get $rowBytes) (i32.const 1)))))
          (local.set $f (v128.load (i32.add (local.get $s) (i32.mul (local.get $rowBytes) (i32.const 3)))))
          (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a) (local.get $b)))
          (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a) (local.get $b)))
          (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $e) (local.get $f)))
          (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $e) (local.get $f)))
          (local.set $o (i32.add (local.get $dst) (i32.shl (i32.add (i32.mul (local.get $c) (local.get $rows)) (local.get $r)) (i32.const 2))))
          (v128.store (local.get $o) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
          (v128.store (i32.add (local.get $o) (local.get $colBytes)) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
          (v128.store (i32.add (local.get $o) (i32.shl (local.get $colBytes) (i32.const 1))) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
          (v128.store (i32.add (local.get $o) (i32.mul (local.get $colBytes) (i32.const 3))) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
          (local.set $r (i32.add (local.get $r) (i32.const 4)))
          (br $r_loop)))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br $c_loop)))
      (local.set $r0 (local.get $rEnd))
      (br $t_loop)))
  )

  ;; The transposed patch matrix P^T [fh*fw*C, B*OH*OW] of a convolution, from channel-major
  ;; planes xc [C, B, H, W]: row (kh, kw, c), column (b, i, j) = xc[c, b, i*sh + kh - top,
  ;; j*sw + kw - left], 0 where that is padding. Columns j in [jLo, jHi) read inside the image
  ;; (found per kw by counting); in-image runs are copied 4 floats at a time when sw = 1.
  (func (export "patchesTransposed")
    (param $xc i32) (param $out i32)
    (param $nb i32) (param $h i32) (param $w i32) (param $c i32) (param $oh i32) (param $ow i32)
    (param $fh i32) (param $fw i32) (param $sh i32) (param $sw i32) (param $top i32) (param $left i32)
    (local $kh i32) (local $kw i32) (local $ch i32) (local $b i32) (local $i i32) (local $r i32)
    (local $jLo i32) (local $jHi i32) (local $o i32) (local $s i32) (local $n i32) (local $step i32)
    (local.set $o (local.get $out))
    (local.set $step (i32.shl (local.get $sw) (i32.const 2)))
    (local.set $kh (i32.const 0))
    (block $kh_done (loop $kh_loop
      (br_if $kh_done (i32.ge_s (local.get $kh) (local.get $fh)))
      (local.set $kw (i32.const 0))
      (block $kw_done (loop $kw_loop
        (br_if $kw_done (i32.ge_s (local.get $kw) (local.get $fw)))
        ;; jLo = first j with j*sw + kw - left >= 0; jHi = first j >= jLo with j*sw + kw - left >= w
        (local.set $jLo (i32.const 0))
        (block $lo_done (loop $lo_loop
          (br_if $lo_done (i32.ge_s (local.get $jLo) (local.get $ow)))
          (br_if $lo_done (i32.ge_s (i32.sub (i32.add (i32.mul (local.get $jLo) (local.get $sw)) (local.get $kw)) (local.get $left)) (i32.const 0)))
          (local.set $jLo (i32.add (local.get $jLo) (i32.const 1)))
          (br $lo_loop)))
        (local.set $jHi (local.get $jLo))
        (block $hi_done (loop $hi_loop
          (br_if $hi_done (i32.ge_s (local.get $jHi) (local.get $ow)))
          (br_if $hi_done (i32.ge_s (i32.sub (i32.add (i32.mul (local.get $jHi) (local.get $sw)) (local.get $kw)) (local.get $left)) (local.get $w)))
          (local.set $jHi (i32.add (local.get $jHi) (i32.const 1)))
          (br $hi_loop)))
        (local.set $ch (i32.const 0))
        (block $ch_done (loop $ch_loop
          (br_if $ch_done (i32.ge_s (local.get $ch) (local.get $c)))
          (local.set $b (i32.const 0))
          (block $b_done (loop $b_loop
            (br_if $b_done (i32.ge_s (local.get $b) (local.get $nb)))
            (local.set $i (i32.const 0))
            (block $i_done (loop $i_loop
              (br_if $i_done (i32.ge_s (local.get $i) (local.get $oh)))
              (local.set $r (i32.add (i32.sub (i32.mul (local.get $i) (local.get $sh)) (local.get $top)) (local.get $kh)))
              (if (i32.or (i32.lt_s (local.get $r) (i32.const 0)) (i32.ge_s (local.get $r) (local.get $h)))
                (then
                  ;; the whole output row reads padding
                  (memory.fill (local.get $o) (i32.const 0) (i32.shl (local.get $ow) (i32.const 2)))
                  (local.set $o (i32.add (local.get $o) (i32.shl (local.get $ow) (i32.const 2)))))
                (else
                  ;; [0, jLo): padding
                  (local.set $n (local.get $jLo))
                  (block $z1_done (loop $z1_loop
                    (br_if $z1_done (i32.eqz (local.get $n)))
                    (f32.store (local.get $o) (f32.const 0))
                    (local.set $o (i32.add (local.get $o) (i32.const 4)))
                    (local.set $n (i32.sub (local.get $n) (i32.const 1)))
                    (br $z1_loop)))
                  ;; [jLo, jHi): xc[ch, b, r, jLo*sw + kw - left + ...]
                  (local.set $s (i32.add (local.get $xc)
                    (i32.shl
                      (i32.add
                        (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $ch) (local.get $nb)) (local.get $b)) (local.get $h)) (local.get $r)) (local.get $w))
                        (i32.sub (i32.add (i32.mul (local.get $jLo) (local.get $sw)) (local.get $kw)) (local.get $left)))
                      (i32.const 2))))
                  (local.set $n (i32.sub (local.get $jHi) (local.get $jLo)))
                  (if (i32.eq (local.get $sw) (i32.const 1))
                    (then
                      (block $v_done (loop $v_loop
                        (br_if $v_done (i32.lt_s (local.get $n) (i32.const 4)))
                        (v128.store (local.get $o) (v128.load (local.get $s)))
                        (local.set $o (i32.add (local.get $o) (i32.const 16)))
                        (local.set $s (i32.add (local.get $s) (i32.const 16)))
                        (local.set $n (i32.sub (local.get $n) (i32.const 4)))
                        (br $v_loop)))))
                  (block $c1_done (loop $c1_loop
                    (br_if $c1_done (i32.le_s (local.get $n) (i32.const 0)))
                    (f32.store (local.get $o) (f32.load (local.get $s)))
                    (local.set $o (i32.add (local.get $o) (i32.const 4)))
                    (local.set $s (i32.add (local.get $s) (local.get $step)))
                    (local.set $n (i32.sub (local.get $n) (i32.const 1)))
                    (br $c1_loop)))
                  ;; [jHi, ow): padding
                  (local.set $n (i32.sub (local.get $ow) (local.get $jHi)))
                  (block $z2_done (loop $z2_loop
                    (br_if $z2_done (i32.le_s (local.get $n) (i32.const 0)))
                    (f32.store (local.get $o) (f32.const 0))
                    (local.set $o (i32.add (local.get $o) (i32.const 4)))
                    (local.set $n (i32.sub (local.get $n) (i32.const 1)))
                    (br $z2_loop)))))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br $i_loop)))
            (local.set $b (i32.add (local.get $b) (i32.const 1)))
            (br $b_loop)))
          (local.set $ch (i32.add (local.get $ch) (i32.const 1)))
          (br $ch_loop)))
        (local.set $kw (i32.add (local.get $kw) (i32.const 1)))
        (br $kw_loop)))
      (local.set $kh (i32.add (local.get $kh) (i32.const 1)))
      (br $kh_loop)))
  )
)
